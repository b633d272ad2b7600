//! The skeleton every loopback test server stands on: a listener on 127.0.0.1 (or one the
//! caller bound), an accept loop on a thread of its own, a thread per connection running
//! the server's handler, and a [`Listening`] handle whose Drop stops it all.
//!
//! - The listener is bound before `start` returns: a client may connect at once, there is
//!   nothing to wait for.
//! - Each accepted socket is registered (with any socket the handler adds by
//!   [`Connection::watch`] or [`Connection::dial`]) until its handler returns. Dropping the
//!   handle sets the stop flag, shuts every registered socket both ways (which wakes every
//!   blocked read and write), wakes the acceptor with a connection of its own, and joins the
//!   acceptor, which joins every connection thread.
//! - Handlers read through [`Connection::read_more`] (or set `TICK` read timeouts and look
//!   at [`Connection::go_on`]), so none outlives the handle by more than a tick, and none
//!   serves past its deadline (`CONNECTION_LIMIT` unless the handler sets another).
//!
//! A new server is its handler and a handle, e.g. one that answers every request head
//! with `reply` and forwards nothing:
//!
//! ```ignore
//! pub struct Teapot(Listening);
//!
//! impl Teapot {
//!     pub fn start(reply: &'static [u8]) -> Teapot {
//!         Teapot(Listening::start(move |mut sock, conn| {
//!             let mut pending = Vec::new();
//!             while conn.read_head(&sock, &mut pending, 64 * 1024).is_some() {
//!                 if sock.write_all(reply).is_err() {
//!                     return;
//!                 }
//!             }
//!         }))
//!     }
//!
//!     pub fn endpoint(&self) -> String {
//!         self.0.endpoint()
//!     }
//! }
//! ```
//!
//! A relay (a proxy, a SOCKS server) reads its greeting the same way, then
//! `conn.dial(target)` and `conn.pipe(&sock, &backend, &pending)`.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How often a blocked read wakes up to look at the stop flag and the deadline.
pub const TICK: Duration = Duration::from_millis(50);
/// A connection is closed after this long, unless its handler sets another deadline.
pub const CONNECTION_LIMIT: Duration = Duration::from_secs(30);
/// A tunnel with no bytes either way for this long is closed ([`Connection::pipe`]).
/// Longer than s3s-fs may take to assemble a 2 GiB object on a loaded machine: at 60 s
/// the TLS front cut CompleteMultipartUpload of tests/multipart.rs's 2 GiB upload while
/// s3s-fs was still writing it (load average over 20).
pub const IDLE: Duration = Duration::from_secs(300);
/// Connections accepted before the server stops accepting.
const MAX_CONNECTIONS: usize = 1000;
/// Consecutive accept errors after which the server gives up (e.g. out of descriptors).
const ACCEPT_ERRORS: usize = 100;
/// How long [`Connection::dial`] and the wake-up connection of Drop may take to connect.
const CONNECT_LIMIT: Duration = Duration::from_secs(5);

/// A running server: its address, its counters, and the threads that Drop stops.
pub struct Listening {
    addr: SocketAddr,
    control: Arc<Control>,
    acceptor: Option<JoinHandle<()>>,
}

/// What one connection's handler gets besides its socket: its number, its deadline, the
/// stop flag, and the registry that lets Drop wake it.
#[derive(Clone)]
pub struct Connection {
    number: usize,
    deadline: Instant,
    control: Arc<Control>,
}

/// What the handle, the acceptor and the connection threads share.
struct Control {
    stop: AtomicBool,
    /// Connections accepted (Drop's wake-up connection excluded).
    accepted: AtomicUsize,
    /// Connections whose handler has not returned yet.
    active: AtomicUsize,
    /// A clone of every registered socket, by connection number.
    sockets: Mutex<Vec<(usize, TcpStream)>>,
}

impl Listening {
    /// Listens on 127.0.0.1 (a free port) and runs `handler` on a thread of its own for
    /// each connection.
    pub fn start<H>(handler: H) -> Listening
    where
        H: Fn(TcpStream, Connection) + Send + Sync + 'static,
    {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
        Listening::on(listener, handler)
    }

    /// As `start`, on a listener the caller bound (e.g. on [::1]).
    pub fn on<H>(listener: TcpListener, handler: H) -> Listening
    where
        H: Fn(TcpStream, Connection) + Send + Sync + 'static,
    {
        let addr = listener.local_addr().expect("local addr");
        let control = Arc::new(Control {
            stop: AtomicBool::new(false),
            accepted: AtomicUsize::new(0),
            active: AtomicUsize::new(0),
            sockets: Mutex::new(Vec::new()),
        });
        let acceptor = {
            let control = control.clone();
            thread::spawn(move || accept(listener, handler, control))
        };
        Listening {
            addr,
            control,
            acceptor: Some(acceptor),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT` (`http://[::1]:PORT` on the IPv6 loopback).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.control.accepted.load(Ordering::SeqCst)
    }

    /// Connections whose handler still runs.
    pub fn active(&self) -> usize {
        self.control.active.load(Ordering::SeqCst)
    }

    /// Waits (at most `limit`) until no connection is being served, so that once the
    /// client has exited everything it sent has been handled.
    pub fn settle(&self, limit: Duration) {
        let until = Instant::now() + limit;
        while self.active() > 0 && Instant::now() < until {
            // Polling the connection threads for their end (not a readiness wait).
            thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.control.stop.store(true, Ordering::SeqCst);
        for (_, sock) in lock(&self.control.sockets).iter() {
            let _ = sock.shutdown(Shutdown::Both);
        }
        // Wakes the acceptor from accept(); it sees the stop flag and ends.
        let _ = TcpStream::connect_timeout(&self.addr, CONNECT_LIMIT);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn accept<H>(listener: TcpListener, handler: H, control: Arc<Control>)
where
    H: Fn(TcpStream, Connection) + Send + Sync + 'static,
{
    let handler = Arc::new(handler);
    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    let mut errors = 0;
    while errors < ACCEPT_ERRORS && control.accepted.load(Ordering::SeqCst) < MAX_CONNECTIONS {
        let sock = match listener.accept() {
            Ok((sock, _)) => sock,
            Err(_) => {
                errors += 1;
                continue;
            }
        };
        errors = 0;
        if control.stop.load(Ordering::SeqCst) {
            break;
        }
        let conn = Connection {
            number: control.accepted.fetch_add(1, Ordering::SeqCst),
            deadline: Instant::now() + CONNECTION_LIMIT,
            control: control.clone(),
        };
        control.active.fetch_add(1, Ordering::SeqCst);
        conn.watch(&sock);
        let handler = handler.clone();
        threads.retain(|t| !t.is_finished());
        threads.push(thread::spawn(move || {
            // Unregisters and counts the connection done even when the handler panics.
            let _done = Done(conn.clone());
            handler(sock, conn);
        }));
    }
    for t in threads {
        let _ = t.join();
    }
}

/// Ends a connection's registration when its thread ends.
struct Done(Connection);

impl Drop for Done {
    fn drop(&mut self) {
        let control = &self.0.control;
        // Dropping the clones closes the sockets whose handler dropped its own copy.
        lock(&control.sockets).retain(|(n, _)| *n != self.0.number);
        control.active.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Connection {
    /// The connection's number, from 0 in the order of acceptance.
    pub fn number(&self) -> usize {
        self.number
    }

    /// True once the server's handle is dropped.
    pub fn stopping(&self) -> bool {
        self.control.stop.load(Ordering::SeqCst)
    }

    /// Connections of this server whose handler still runs, this one included.
    pub fn open(&self) -> usize {
        self.control.active.load(Ordering::SeqCst)
    }

    /// Neither stopping nor past the deadline.
    pub fn go_on(&self) -> bool {
        Instant::now() < self.deadline && !self.stopping()
    }

    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    pub fn set_deadline(&mut self, deadline: Instant) {
        self.deadline = deadline;
    }

    /// Registers another socket of this connection (e.g. its backend), so that dropping
    /// the server shuts it too.
    pub fn watch(&self, sock: &TcpStream) {
        if let Ok(clone) = sock.try_clone() {
            lock(&self.control.sockets).push((self.number, clone));
        }
    }

    /// Connects to `addr` (one address after another) and registers the socket.
    pub fn dial(&self, addr: impl ToSocketAddrs) -> Option<TcpStream> {
        let sock = addr
            .to_socket_addrs()
            .ok()?
            .find_map(|a| TcpStream::connect_timeout(&a, CONNECT_LIMIT).ok())?;
        self.watch(&sock);
        Some(sock)
    }

    /// Reads once more into `pending`, waking every TICK; false when nothing more comes
    /// (the peer closed, the read failed, the deadline passed or the server stops).
    pub fn read_more(&self, mut sock: &TcpStream, pending: &mut Vec<u8>) -> bool {
        let mut buf = [0u8; 16 * 1024];
        while self.go_on() {
            if sock.set_read_timeout(Some(TICK)).is_err() {
                return false;
            }
            match sock.read(&mut buf) {
                Ok(0) => return false,
                Ok(n) => {
                    pending.extend_from_slice(&buf[..n]);
                    return true;
                }
                Err(e) if is_timeout(&e) => {}
                Err(_) => return false,
            }
        }
        false
    }

    /// Reads up to the blank line that ends a request head; returns the head without it
    /// and leaves what followed in `pending`. None when the peer closed first, the head
    /// grew past `limit` bytes, or [`Connection::read_more`] gave up.
    pub fn read_head(
        &self,
        sock: &TcpStream,
        pending: &mut Vec<u8>,
        limit: usize,
    ) -> Option<String> {
        loop {
            if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&pending[..end]).into_owned();
                pending.drain(..end + 4);
                return Some(head);
            }
            if pending.len() > limit || !self.read_more(sock, pending) {
                return None;
            }
        }
    }

    /// Copies both ways between `client` and `backend` until both directions end, the
    /// server stops or the link idles for `IDLE`; `first` goes to the backend first.
    /// Both sockets are shut when it returns.
    pub fn pipe(&self, client: &TcpStream, backend: &TcpStream, first: &[u8]) -> io::Result<()> {
        let result = (|| {
            let mut to_backend = backend;
            to_backend.write_all(first)?;
            client.set_read_timeout(Some(TICK))?;
            backend.set_read_timeout(Some(TICK))?;
            thread::scope(|scope| {
                let up = scope.spawn(|| self.copy(client, backend));
                let down = self.copy(backend, client);
                let up = up.join().unwrap_or(Ok(()));
                down.and(up)
            })
        })();
        let _ = client.shutdown(Shutdown::Both);
        let _ = backend.shutdown(Shutdown::Both);
        result
    }

    /// Copies `from` to `to` until end of stream (then half-closes `to`), the server's
    /// stop, or an idle link.
    fn copy(&self, mut from: &TcpStream, mut to: &TcpStream) -> io::Result<()> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut last = Instant::now();
        loop {
            if self.stopping() || last.elapsed() > IDLE {
                let _ = to.shutdown(Shutdown::Both);
                return Ok(());
            }
            match from.read(&mut buf) {
                Ok(0) => {
                    let _ = to.shutdown(Shutdown::Write);
                    return Ok(());
                }
                Ok(n) => {
                    to.write_all(&buf[..n])?;
                    last = Instant::now();
                }
                Err(e) if is_timeout(&e) => {}
                Err(e) => {
                    let _ = to.shutdown(Shutdown::Both);
                    return Err(e);
                }
            }
        }
    }
}

/// A read that timed out (or was interrupted): look at the flags and read again.
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// The guarded value, also after a handler panicked while holding the lock.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
