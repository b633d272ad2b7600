//! A forward proxy on loopback, as a corporate one behaves: CONNECT tunnels (RFC 9110
//! 9.3.6) and absolute-form plain-HTTP requests (RFC 9112 3.2.2), optionally demanding
//! Basic credentials (407). It records every request head it receives.
//!
//! A thread per connection (at most `MAX_CONNECTIONS` at once; more get 503), reads wake
//! every `TICK` to notice the proxy being dropped or an idle link; dropping the proxy
//! shuts every socket and joins every thread.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

const TICK: Duration = Duration::from_millis(250);
const IDLE: Duration = Duration::from_secs(60);
const MAX_CONNECTIONS: usize = 32;
const MAX_HEAD: usize = 64 * 1024;

/// What the proxy does with a request.
#[derive(Clone, Debug)]
pub enum ProxyMode {
    /// Forwards everything.
    Open,
    /// Forwards requests whose Proxy-Authorization is exactly this value; 407 otherwise.
    RequireAuth(String),
    /// Not a proxy: relays every connection's bytes to this address as they are.
    Relay(SocketAddr),
}

pub struct TestProxy {
    port: u16,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

struct Shared {
    mode: ProxyMode,
    stop: AtomicBool,
    /// Every request head received, as text.
    heads: Mutex<Vec<String>>,
    accepted: AtomicUsize,
    open: AtomicUsize,
    sockets: Mutex<Vec<TcpStream>>,
}

impl TestProxy {
    pub fn start(mode: ProxyMode) -> TestProxy {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
        TestProxy::serve_on(listener, mode)
    }

    /// A relay listening on [::1] to 127.0.0.1:`port`; Err(why) when this host has no
    /// IPv6 loopback.
    pub fn relay_from_ipv6(port: u16) -> Result<TestProxy, String> {
        let listener = TcpListener::bind((std::net::Ipv6Addr::LOCALHOST, 0))
            .map_err(|e| format!("cannot listen on [::1]: {e}"))?;
        let to = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        Ok(TestProxy::serve_on(listener, ProxyMode::Relay(to)))
    }

    fn serve_on(listener: TcpListener, mode: ProxyMode) -> TestProxy {
        let port = listener.local_addr().expect("local addr").port();
        let shared = Arc::new(Shared {
            mode,
            stop: AtomicBool::new(false),
            heads: Mutex::new(Vec::new()),
            accepted: AtomicUsize::new(0),
            open: AtomicUsize::new(0),
            sockets: Mutex::new(Vec::new()),
        });
        let acceptor = {
            let shared = shared.clone();
            thread::spawn(move || accept_loop(listener, shared))
        };
        TestProxy {
            port,
            shared,
            acceptor: Some(acceptor),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `http://USER:PASSWORD@127.0.0.1:PORT` (user info written as given).
    pub fn url_with(&self, userinfo: &str) -> String {
        format!("http://{userinfo}@127.0.0.1:{}", self.port)
    }

    /// The request heads received so far, in order.
    pub fn heads(&self) -> Vec<String> {
        self.shared.heads.lock().unwrap().clone()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for TestProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let ip = match self.shared.mode {
            ProxyMode::Relay(_) => std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
            _ => std::net::IpAddr::from(Ipv4Addr::LOCALHOST),
        };
        let _ =
            TcpStream::connect_timeout(&SocketAddr::from((ip, self.port)), Duration::from_secs(1));
        if let Ok(sockets) = self.shared.sockets.lock() {
            for s in sockets.iter() {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    let mut errors = 0;
    while !shared.stop.load(Ordering::SeqCst) && errors < 100 {
        let Ok((mut client, _)) = listener.accept() else {
            errors += 1;
            continue;
        };
        errors = 0;
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        threads.retain(|t| !t.is_finished());
        if shared.open.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
            let _ = client
                .write_all(b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            continue;
        }
        shared.open.fetch_add(1, Ordering::SeqCst);
        register(&shared, &client);
        let shared = shared.clone();
        threads.push(thread::spawn(move || {
            let _ = serve(client, &shared);
            shared.open.fetch_sub(1, Ordering::SeqCst);
        }));
    }
    for t in threads {
        let _ = t.join();
    }
}

fn register(shared: &Shared, socket: &TcpStream) {
    if let (Ok(mut list), Ok(clone)) = (shared.sockets.lock(), socket.try_clone()) {
        list.push(clone);
    }
}

/// One client connection: one request head, then a tunnel or one forwarded request.
fn serve(mut client: TcpStream, shared: &Shared) -> io::Result<()> {
    if let ProxyMode::Relay(to) = shared.mode {
        let backend = TcpStream::connect_timeout(&to, Duration::from_secs(5))?;
        register(shared, &backend);
        return pipe(client, backend, &[], shared);
    }
    client.set_read_timeout(Some(TICK))?;
    let Some((head, rest)) = read_head(&mut client, shared)? else {
        return Ok(());
    };
    shared.heads.lock().unwrap().push(head.clone());
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    if let ProxyMode::RequireAuth(expected) = &shared.mode {
        let given = headers
            .iter()
            .find(|(n, _)| n == "proxy-authorization")
            .map(|(_, v)| v.as_str());
        if given != Some(expected.as_str()) {
            client.write_all(
                b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"test\"\r\n\
                  Content-Length: 0\r\nConnection: close\r\n\r\n",
            )?;
            return Ok(());
        }
    }
    let mut parts = request_line.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if method == "CONNECT" {
        let Some(backend) = dial(target) else {
            client.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")?;
            return Ok(());
        };
        register(shared, &backend);
        client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
        return pipe(client, backend, &rest, shared);
    }
    // Absolute form: http://AUTHORITY/PATH -> origin form to AUTHORITY, one request.
    let Some(after) = target.strip_prefix("http://") else {
        client.write_all(b"HTTP/1.1 400 Not A Proxy Request\r\nContent-Length: 0\r\n\r\n")?;
        return Ok(());
    };
    let (authority, path) = match after.find('/') {
        Some(i) => (&after[..i], &after[i..]),
        None => (after, "/"),
    };
    let Some(backend) = dial(authority) else {
        client.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")?;
        return Ok(());
    };
    register(shared, &backend);
    let mut forwarded = format!("{method} {path} HTTP/1.1\r\n");
    for (name, value) in &headers {
        if name != "proxy-authorization" && name != "connection" {
            forwarded.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    // One request per connection: the origin closes after answering.
    forwarded.push_str("connection: close\r\n\r\n");
    (&backend).write_all(forwarded.as_bytes())?;
    pipe(client, backend, &rest, shared)
}

/// Reads up to the end of a request head; None if the client went away or idled.
fn read_head(client: &mut TcpStream, shared: &Shared) -> io::Result<Option<(String, Vec<u8>)>> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let started = Instant::now();
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).into_owned();
            return Ok(Some((head, got[end + 4..].to_vec())));
        }
        if got.len() > MAX_HEAD || shared.stop.load(Ordering::SeqCst) || started.elapsed() > IDLE {
            return Ok(None);
        }
        match client.read(&mut buf) {
            Ok(0) => return Ok(None),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e),
        }
    }
}

fn dial(authority: &str) -> Option<TcpStream> {
    let addrs = authority.to_socket_addrs().ok()?;
    addrs
        .into_iter()
        .find_map(|a| TcpStream::connect_timeout(&a, Duration::from_secs(5)).ok())
}

/// Copies both ways until both directions end; `first` goes to the backend first.
fn pipe(client: TcpStream, backend: TcpStream, first: &[u8], shared: &Shared) -> io::Result<()> {
    (&backend).write_all(first)?;
    client.set_read_timeout(Some(TICK))?;
    backend.set_read_timeout(Some(TICK))?;
    let (c2, b2) = (client.try_clone()?, backend.try_clone()?);
    let up = thread::scope(|scope| {
        let up = scope.spawn(|| copy(&c2, &b2, shared));
        let down = copy(&backend, &client, shared);
        let up = up.join().unwrap_or(Ok(()));
        down.and(up)
    });
    let _ = client.shutdown(Shutdown::Both);
    let _ = backend.shutdown(Shutdown::Both);
    up
}

/// Copies `from` to `to` until end of stream (then half-closes `to`), the proxy's stop,
/// or an idle link.
fn copy(mut from: &TcpStream, mut to: &TcpStream, shared: &Shared) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut last = Instant::now();
    loop {
        if shared.stop.load(Ordering::SeqCst) || last.elapsed() > IDLE {
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
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => {
                let _ = to.shutdown(Shutdown::Both);
                return Err(e);
            }
        }
    }
}
