//! A forward proxy on loopback, as a corporate one behaves: CONNECT tunnels (RFC 9110
//! 9.3.6) and absolute-form plain-HTTP requests (RFC 9112 3.2.2), optionally demanding
//! Basic credentials (407). It records every request head it receives.
//!
//! A thread per connection on tests/common/listen.rs (at most `MAX_CONNECTIONS` at once;
//! more get 503); dropping the proxy shuts every socket and joins every thread.

use super::listen::{lock, Connection, Listening};
use std::io::{self, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

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
    listening: Listening,
    /// Every request head received, as text.
    heads: Arc<Mutex<Vec<String>>>,
}

impl TestProxy {
    pub fn start(mode: ProxyMode) -> TestProxy {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
        TestProxy::serve_on(listener, mode)
    }

    /// A relay listening on [::1] to 127.0.0.1:`port`; Err(why) when this host has no
    /// IPv6 loopback.
    pub fn relay_from_ipv6(port: u16) -> Result<TestProxy, String> {
        let listener = TcpListener::bind((Ipv6Addr::LOCALHOST, 0))
            .map_err(|e| format!("cannot listen on [::1]: {e}"))?;
        let to = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        Ok(TestProxy::serve_on(listener, ProxyMode::Relay(to)))
    }

    fn serve_on(listener: TcpListener, mode: ProxyMode) -> TestProxy {
        let heads = Arc::new(Mutex::new(Vec::new()));
        let listening = {
            let heads = heads.clone();
            Listening::on(listener, move |client, conn| {
                let _ = serve(client, &conn, &mode, &heads);
            })
        };
        TestProxy { listening, heads }
    }

    pub fn port(&self) -> u16 {
        self.listening.port()
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port())
    }

    /// `http://USER:PASSWORD@127.0.0.1:PORT` (user info written as given).
    pub fn url_with(&self, userinfo: &str) -> String {
        format!("http://{userinfo}@127.0.0.1:{}", self.port())
    }

    /// The request heads received so far, in order.
    pub fn heads(&self) -> Vec<String> {
        lock(&self.heads).clone()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.listening.connections()
    }
}

/// One client connection: one request head, then a tunnel or one forwarded request.
fn serve(
    mut client: TcpStream,
    conn: &Connection,
    mode: &ProxyMode,
    heads: &Mutex<Vec<String>>,
) -> io::Result<()> {
    // The acceptor counts this connection among the open ones.
    if conn.open() > MAX_CONNECTIONS {
        client.write_all(b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?;
        return Ok(());
    }
    if let ProxyMode::Relay(to) = mode {
        let backend = conn
            .dial(to)
            .ok_or_else(|| io::Error::from(io::ErrorKind::ConnectionRefused))?;
        return conn.pipe(&client, &backend, &[]);
    }
    let mut rest = Vec::new();
    let Some(head) = conn.read_head(&client, &mut rest, MAX_HEAD) else {
        return Ok(());
    };
    lock(heads).push(head.clone());
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    if let ProxyMode::RequireAuth(expected) = mode {
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
        let Some(backend) = conn.dial(target) else {
            client.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")?;
            return Ok(());
        };
        client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
        return conn.pipe(&client, &backend, &rest);
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
    let Some(backend) = conn.dial(authority) else {
        client.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")?;
        return Ok(());
    };
    let mut forwarded = format!("{method} {path} HTTP/1.1\r\n");
    for (name, value) in &headers {
        if name != "proxy-authorization" && name != "connection" {
            forwarded.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    // One request per connection: the origin closes after answering.
    forwarded.push_str("connection: close\r\n\r\n");
    (&backend).write_all(forwarded.as_bytes())?;
    conn.pipe(&client, &backend, &rest)
}
