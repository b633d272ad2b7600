//! A loopback HTTP server that gives every request the same fixed answer, for what s3s-fs
//! will not say (it creates a missing bucket on PUT instead of answering NoSuchBucket).
//!
//! Per connection: read the request head, record it, send the answer and half-close, then
//! read and drop whatever the client still sends (its body) until it closes, so the client
//! sees the answer rather than a reset.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// A connection is dropped after this long, whatever the client does.
const CONNECTION_LIMIT: Duration = Duration::from_secs(30);
/// A request head larger than this is not waited for.
const HEAD_LIMIT: usize = 64 * 1024;

pub struct CannedServer {
    port: u16,
    stop: Arc<AtomicBool>,
    heads: Arc<Mutex<Vec<String>>>,
    acceptor: Option<JoinHandle<()>>,
}

impl CannedServer {
    /// Answers every request on 127.0.0.1 (a free port) with `response`, sent verbatim.
    pub fn start(response: impl Into<Vec<u8>>) -> CannedServer {
        let response: Arc<[u8]> = response.into().into();
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let acceptor = {
            let (stop, heads) = (stop.clone(), heads.clone());
            thread::spawn(move || {
                let mut connections: Vec<JoinHandle<()>> = Vec::new();
                for client in listener.incoming().take(1000) {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(client) = client else { continue };
                    let (response, heads, stop) = (response.clone(), heads.clone(), stop.clone());
                    connections.retain(|c| !c.is_finished());
                    connections.push(thread::spawn(move || {
                        let _ = answer(client, &response, &heads, &stop);
                    }));
                }
                for c in connections {
                    let _ = c.join();
                }
            })
        };
        CannedServer {
            port,
            stop,
            heads,
            acceptor: Some(acceptor),
        }
    }

    /// An S3 error answer: `status` (e.g. "404 Not Found") with the XML error body S3
    /// sends for `code`.
    pub fn s3_error(status: &str, code: &str, message: &str) -> CannedServer {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
             <Message>{message}</Message><RequestId>S3PUSHTEST0001</RequestId></Error>"
        );
        CannedServer::start(format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\
             x-amz-request-id: S3PUSHTEST0001\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The request heads received so far (request line and headers), in order.
    pub fn request_heads(&self) -> Vec<String> {
        self.heads.lock().map(|h| h.clone()).unwrap_or_default()
    }
}

impl Drop for CannedServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(
            &SocketAddr::from((Ipv4Addr::LOCALHOST, self.port)),
            Duration::from_secs(1),
        );
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn answer(
    mut client: TcpStream,
    response: &[u8],
    heads: &Mutex<Vec<String>>,
    stop: &AtomicBool,
) -> io::Result<()> {
    let deadline = Instant::now() + CONNECTION_LIMIT;
    let go_on = || Instant::now() < deadline && !stop.load(Ordering::SeqCst);
    client.set_read_timeout(Some(Duration::from_millis(250)))?;
    client.set_write_timeout(Some(CONNECTION_LIMIT))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 8192];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() > HEAD_LIMIT || !go_on() {
            return Ok(());
        }
        match client.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) if is_timeout(&e) => {}
            Err(e) => return Err(e),
        }
    }
    let end = head.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0);
    if let Ok(mut heads) = heads.lock() {
        heads.push(String::from_utf8_lossy(&head[..end]).into_owned());
    }
    client.write_all(response)?;
    client.shutdown(Shutdown::Write)?;
    while go_on() {
        match client.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if is_timeout(&e) => {}
            Err(_) => break,
        }
    }
    Ok(())
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}
