//! A loopback server that plays a script per connection, for faults a real store will
//! not produce on demand: resets mid-body, 5xx, redirects, refused expectations, stalls,
//! malformed or truncated answers. Connection N plays script N; later ones replay the
//! last script. It records every request head and how much body arrived.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Reads block at most this long, so every connection thread ends by itself.
const READ_LIMIT: Duration = Duration::from_secs(10);
const HEAD_LIMIT: usize = 64 * 1024;

/// One thing the server does on a connection.
#[derive(Debug, Clone)]
pub enum Step {
    /// Read a request head (up to the blank line) and record it.
    ReadHead,
    /// Read the body announced by the last head's Content-Length.
    ReadBody,
    /// Read at most this many body bytes.
    ReadBodyPart(u64),
    /// Send these bytes as they are.
    Reply(Vec<u8>),
    /// Do nothing for this long (bounded), then go on.
    Stall(Duration),
    /// Shut the connection both ways.
    Close,
}

/// What one request looked like from the server.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub head: String,
    pub body_len: u64,
    pub content_length: u64,
}

impl Seen {
    /// The value of a header of the recorded head (name compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
}

pub struct ScriptedServer {
    port: u16,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Seen>>>,
    connections: Arc<AtomicUsize>,
    acceptor: Option<JoinHandle<()>>,
}

impl ScriptedServer {
    pub fn start(scripts: Vec<Vec<Step>>) -> ScriptedServer {
        assert!(!scripts.is_empty(), "a scripted server needs a script");
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let acceptor = {
            let (stop, seen, connections) = (stop.clone(), seen.clone(), connections.clone());
            thread::spawn(move || {
                let mut threads = Vec::new();
                for client in listener.incoming().take(200) {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(client) = client else { continue };
                    let n = connections.fetch_add(1, Ordering::SeqCst);
                    let script = scripts[n.min(scripts.len() - 1)].clone();
                    let (seen, stop) = (seen.clone(), stop.clone());
                    threads.push(thread::spawn(move || {
                        let _ = play(client, &script, &seen, &stop);
                    }));
                }
                for t in threads {
                    let _ = t.join();
                }
            })
        };
        ScriptedServer {
            port,
            stop,
            seen,
            connections,
            acceptor: Some(acceptor),
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port));
        if let Some(a) = self.acceptor.take() {
            let _ = a.join();
        }
    }
}

/// A response with Content-Length set.
pub fn answer(status_line: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut out = format!("{status_line}\r\n");
    for (n, v) in headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    out.into_bytes()
}

/// An S3 error document with `code` and any extra elements.
pub fn s3_error(status_line: &str, code: &str, extra_xml: &str) -> Vec<u8> {
    s3_error_with(status_line, &[], code, extra_xml)
}

pub fn s3_error_with(
    status_line: &str,
    headers: &[(&str, &str)],
    code: &str,
    extra_xml: &str,
) -> Vec<u8> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>scripted {code}</Message>{extra_xml}<RequestId>SCRIPTED</RequestId></Error>"
    );
    let mut h = vec![("Content-Type", "application/xml")];
    h.extend_from_slice(headers);
    answer(status_line, &h, &body)
}

/// What a store answers to a stored PUT.
pub fn ok_put() -> Vec<u8> {
    answer("HTTP/1.1 200 OK", &[("ETag", "\"abc\"")], "")
}

fn play(
    mut sock: TcpStream,
    script: &[Step],
    seen: &Mutex<Vec<Seen>>,
    stop: &AtomicBool,
) -> io::Result<()> {
    sock.set_read_timeout(Some(READ_LIMIT))?;
    let mut pending: Vec<u8> = Vec::new();
    let mut current: Option<usize> = None;
    for step in script {
        match step {
            Step::ReadHead => {
                let end = loop {
                    if let Some(pos) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                        break pos + 4;
                    }
                    if pending.len() > HEAD_LIMIT || !read_some(&mut sock, &mut pending)? {
                        return Ok(());
                    }
                };
                let head = String::from_utf8_lossy(&pending[..end]).into_owned();
                pending.drain(..end);
                let mut record = Seen {
                    head,
                    ..Seen::default()
                };
                record.content_length = record
                    .header("content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let mut all = seen.lock().map_err(|_| io::Error::other("poisoned"))?;
                all.push(record);
                current = Some(all.len() - 1);
            }
            Step::ReadBody | Step::ReadBodyPart(_) => {
                let Some(index) = current else { continue };
                let (mut got, wanted) = {
                    let all = seen.lock().map_err(|_| io::Error::other("poisoned"))?;
                    (all[index].body_len, all[index].content_length)
                };
                let limit = match step {
                    Step::ReadBodyPart(n) => (got + n).min(wanted),
                    _ => wanted,
                };
                while got < limit {
                    if pending.is_empty() && !read_some(&mut sock, &mut pending)? {
                        break;
                    }
                    let take = (limit - got).min(pending.len() as u64) as usize;
                    pending.drain(..take);
                    got += take as u64;
                }
                if let Ok(mut all) = seen.lock() {
                    all[index].body_len = got;
                }
            }
            Step::Reply(bytes) => sock.write_all(bytes)?,
            Step::Stall(how_long) => {
                let until = Instant::now() + (*how_long).min(Duration::from_secs(30));
                while Instant::now() < until && !stop.load(Ordering::SeqCst) {
                    thread::sleep(Duration::from_millis(20));
                }
            }
            Step::Close => {
                let _ = sock.shutdown(Shutdown::Both);
                return Ok(());
            }
        }
    }
    let _ = sock.shutdown(Shutdown::Write);
    // Let the client read the answer before the socket goes; drop what it still sends.
    let mut sink = [0u8; 8192];
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until && !stop.load(Ordering::SeqCst) {
        match sock.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    Ok(())
}

/// Reads once more into `pending`; false at end of stream.
fn read_some(sock: &mut TcpStream, pending: &mut Vec<u8>) -> io::Result<bool> {
    let mut buf = [0u8; 16 * 1024];
    let n = sock.read(&mut buf)?;
    pending.extend_from_slice(&buf[..n]);
    Ok(n > 0)
}
