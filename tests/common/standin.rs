//! A loopback HTTP server that answers each request through a handler: the stand-in for
//! the services credentials come from (EC2 instance metadata, the ECS/EKS container
//! endpoint, STS). It records every request it read, so tests can count hits and look at
//! headers and bodies.
//!
//! Bounded like every server on tests/common/listen.rs: reads wake every `TICK` to look at
//! the stop flag, each connection lives at most `CONNECTION_LIMIT`, heads and bodies are
//! capped, and dropping the server shuts every socket and joins every thread.

use super::listen::{lock, Connection, Listening};
use std::io::Write;
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const MAX_REQUEST: usize = 1024 * 1024;

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

pub struct StandIn {
    listening: Listening,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl StandIn {
    /// Listens on 127.0.0.1 (bound before this returns); answers every request with what
    /// `handler` returns (a whole HTTP response; see `super::answer`).
    pub fn start(handler: impl Fn(&Request, usize) -> Vec<u8> + Send + Sync + 'static) -> StandIn {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let listening = {
            let requests = requests.clone();
            Listening::start(move |sock, conn| serve(sock, &conn, &handler, &requests))
        };
        StandIn {
            listening,
            requests,
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        self.listening.endpoint()
    }

    /// Every request read so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        lock(&self.requests).clone()
    }

    /// How many requests had this method and path.
    pub fn hits(&self, method: &str, path: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.method == method && r.path() == path)
            .count()
    }
}

/// Serves requests on one connection until the client closes (keep-alive allowed).
fn serve(
    mut sock: TcpStream,
    conn: &Connection,
    handler: &Handler,
    requests: &Mutex<Vec<Request>>,
) {
    let mut pending = Vec::new();
    let _ = sock.set_write_timeout(Some(Duration::from_secs(10)));
    while let Some(request) = read_request(&sock, &mut pending, conn) {
        let before = {
            let mut requests = lock(requests);
            requests.push(request.clone());
            requests.len() - 1
        };
        let response = handler(&request, before);
        if sock.write_all(&response).is_err() {
            return;
        }
    }
}

fn read_request(sock: &TcpStream, pending: &mut Vec<u8>, conn: &Connection) -> Option<Request> {
    let head = conn.read_head(sock, pending, MAX_REQUEST)?;
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
        if !conn.read_more(sock, pending) {
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
