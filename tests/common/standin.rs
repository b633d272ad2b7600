//! A loopback HTTP server that answers each request through a handler: the stand-in for
//! the services credentials come from (EC2 instance metadata, the ECS/EKS container
//! endpoint, STS). It records every request it read, so tests can count hits and look at
//! headers and bodies.
//!
//! Bounded like the scripted server: reads wake every `TICK` to look at the stop flag,
//! each connection lives at most `CONNECTION_LIMIT`, heads and bodies are capped, and
//! dropping the server shuts every socket and joins every thread.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

const CONNECTION_LIMIT: Duration = Duration::from_secs(30);
const TICK: Duration = Duration::from_millis(50);
const MAX_REQUEST: usize = 1024 * 1024;
const MAX_CONNECTIONS: usize = 500;

/// One request as the stand-in read it.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub method: String,
    /// The request target: path and query.
    pub target: String,
    /// Header names lowercased, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A value of an `application/x-www-form-urlencoded` body, decoded.
    pub fn form(&self, name: &str) -> Option<String> {
        self.body_text().split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (percent_decode(k) == name).then(|| percent_decode(v))
        })
    }
}

/// What the handler gets: the request, and how many requests came before it.
pub type Handler = dyn Fn(&Request, usize) -> Vec<u8> + Send + Sync;

struct Shared {
    stop: AtomicBool,
    requests: Mutex<Vec<Request>>,
    sockets: Mutex<Vec<TcpStream>>,
}

pub struct StandIn {
    port: u16,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl StandIn {
    /// Listens on 127.0.0.1 (bound before this returns); answers every request with what
    /// `handler` returns (a whole HTTP response; see `super::answer`).
    pub fn start(handler: impl Fn(&Request, usize) -> Vec<u8> + Send + Sync + 'static) -> StandIn {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            requests: Mutex::new(Vec::new()),
            sockets: Mutex::new(Vec::new()),
        });
        let handler: Arc<Handler> = Arc::new(handler);
        let acceptor = {
            let shared = shared.clone();
            thread::spawn(move || accept(listener, handler, shared))
        };
        StandIn {
            port,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request read so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        lock(&self.shared.requests).clone()
    }

    /// How many requests had this method and path.
    pub fn hits(&self, method: &str, path: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.method == method && r.path() == path)
            .count()
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for sock in lock(&self.shared.sockets).iter() {
            let _ = sock.shutdown(Shutdown::Both);
        }
        let _ = TcpStream::connect_timeout(
            &SocketAddr::from((Ipv4Addr::LOCALHOST, self.port)),
            Duration::from_secs(1),
        );
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn accept(listener: TcpListener, handler: Arc<Handler>, shared: Arc<Shared>) {
    let mut threads = Vec::new();
    for client in listener.incoming().take(MAX_CONNECTIONS) {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(sock) = client else { continue };
        if let Ok(clone) = sock.try_clone() {
            lock(&shared.sockets).push(clone);
        }
        let (handler, shared) = (handler.clone(), shared.clone());
        threads.retain(|t: &JoinHandle<()>| !t.is_finished());
        threads.push(thread::spawn(move || serve(sock, &*handler, &shared)));
    }
    for t in threads {
        let _ = t.join();
    }
}

/// Serves requests on one connection until the client closes (keep-alive allowed).
fn serve(mut sock: TcpStream, handler: &Handler, shared: &Shared) {
    let deadline = Instant::now() + CONNECTION_LIMIT;
    let mut pending = Vec::new();
    let _ = sock.set_write_timeout(Some(Duration::from_secs(10)));
    loop {
        let Some(request) = read_request(&mut sock, &mut pending, deadline, shared) else {
            return;
        };
        let before = {
            let mut requests = lock(&shared.requests);
            requests.push(request.clone());
            requests.len() - 1
        };
        let response = handler(&request, before);
        if sock.write_all(&response).is_err() {
            return;
        }
    }
}

fn read_request(
    sock: &mut TcpStream,
    pending: &mut Vec<u8>,
    deadline: Instant,
    shared: &Shared,
) -> Option<Request> {
    let head_end = loop {
        if let Some(pos) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        if pending.len() > MAX_REQUEST || !read_more(sock, pending, deadline, shared) {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&pending[..head_end]).into_owned();
    pending.drain(..head_end + 4);
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, target) = (first.next()?.to_string(), first.next()?.to_string());
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            Some((n.trim().to_ascii_lowercase(), v.trim().to_string()))
        })
        .collect();
    let len: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    if len > MAX_REQUEST {
        return None;
    }
    while pending.len() < len {
        if !read_more(sock, pending, deadline, shared) {
            return None;
        }
    }
    let body = pending.drain(..len).collect();
    Some(Request {
        method,
        target,
        headers,
        body,
    })
}

fn read_more(
    sock: &mut TcpStream,
    pending: &mut Vec<u8>,
    deadline: Instant,
    shared: &Shared,
) -> bool {
    let mut buf = [0u8; 16 * 1024];
    while Instant::now() < deadline && !shared.stop.load(Ordering::SeqCst) {
        if sock.set_read_timeout(Some(TICK)).is_err() {
            return false;
        }
        match sock.read(&mut buf) {
            Ok(0) => return false,
            Ok(n) => {
                pending.extend_from_slice(&buf[..n]);
                return true;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return false,
        }
    }
    false
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
