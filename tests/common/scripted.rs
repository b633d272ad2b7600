//! A loopback server that plays a script per connection, for faults a real store will
//! not produce on demand: resets mid-body, 5xx, redirects, refused expectations, stalls,
//! malformed, oversized or truncated answers.
//!
//! - Connection N (counted from 1) plays script N; connections past the list replay the
//!   last script, so `vec![script]` answers every attempt the same way.
//! - Every request head read by [`Step::ReadHead`] is recorded as a [`Seen`], with the
//!   body bytes that arrived for it: those read by `ReadBody`/`ReadBodyPart`, and those
//!   read while the connection is drained after its last step (up to the head's
//!   Content-Length), so a body sent after a final answer is counted too.
//! - After the last step the server half-closes and reads what the client still sends
//!   until it closes (at most `DRAIN_LIMIT`), so the client reads the answer rather than a
//!   reset.
//! - Bounded everywhere (tests/common/listen.rs): reads wake every `TICK` to look at the
//!   stop flag and the connection's deadline, writes time out. Dropping the server shuts
//!   every open socket and joins every thread.

use super::listen::{is_timeout, lock, Connection, Listening, TICK};
use md5::{Digest, Md5};
use std::io::{self, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Body bytes kept for [`Step::Stored`] to hash (the bodies of these tests are smaller).
const BODY_KEPT: usize = 64 * 1024 * 1024;
/// The longest a write may block (a client that stopped reading).
const WRITE_LIMIT: Duration = Duration::from_secs(10);
/// The longest [`Step::Stall`].
const STALL_LIMIT: Duration = Duration::from_secs(30);
/// How long the client may keep sending after the last step.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);
/// How long [`Step::Reset`] waits for unread bytes, which turn the close into a reset.
const RESET_WAIT: Duration = Duration::from_secs(1);
/// How long [`ScriptedServer::seen`] waits for the connections still being served.
const SETTLE_LIMIT: Duration = Duration::from_secs(5);
/// A request head larger than this ends the script.
const HEAD_LIMIT: usize = 64 * 1024;

/// What the server sends when the client asked for `Expect: 100-continue`.
pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// One thing the server does on a connection.
#[derive(Debug, Clone)]
pub enum Step {
    /// Read a request head (up to the blank line) and record it as a new [`Seen`]. When
    /// the client closes first (or the head exceeds 64 KiB), the script ends.
    ReadHead,
    /// Read the rest of the body announced by the last head's Content-Length; stops early
    /// when the client closes.
    ReadBody,
    /// Read at most this many more body bytes of the last head.
    ReadBodyPart(u64),
    /// Read at most `len` more body bytes of the last head, `piece` at a time, waiting
    /// `every` after each piece: a slow link that keeps moving.
    ReadBodySlowly {
        len: u64,
        piece: u64,
        every: Duration,
    },
    /// Send these bytes verbatim (any status, malformed or truncated answers, 100s).
    Reply(Vec<u8>),
    /// Answer as a store that stored the body read for the last head: `200`, `ETag` the
    /// quoted MD5 of those bytes, and the head's `x-amz-checksum-*` header echoed (as a
    /// store that verified it would).
    Stored,
    /// [`Step::Stored`] with `Connection: close`.
    StoredClose,
    /// Send `HTTP/1.1 100 Continue` if the last head carried `Expect: 100-continue`, as a
    /// real store does; nothing otherwise.
    ContinueIfExpected,
    /// Close abruptly: wait (at most 1 s) until unread bytes sit in the socket's receive
    /// queue, then close it without a FIN first. Linux answers a close with unread data
    /// with a RST (RFC 2525 2.17), which stands in for SO_LINGER 0 (`set_linger` is
    /// nightly-only in std): a client still sending (mid-body) sees ECONNRESET or EPIPE.
    /// A client that sends nothing more within the second sees a plain close (EOF).
    /// Ends the script.
    Reset,
    /// Do nothing for this long (at most 30 s; ends early when the client closes or the
    /// server is dropped), then go on with the script.
    Stall(Duration),
    /// Shut the connection both ways and close it. Ends the script.
    Close,
    /// Send these bytes `piece` at a time, waiting `every` after each piece: a server
    /// that trickles its answer (ends early when the client closes or the server is
    /// dropped, or at the connection's 30 s limit).
    Trickle {
        bytes: Vec<u8>,
        piece: usize,
        every: Duration,
    },
}

/// What one request looked like from the server.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// The request line and headers, without the blank line that ends them.
    pub head: String,
    /// Body bytes received for this request.
    pub body_len: u64,
    /// The head's Content-Length, when it had one.
    pub content_length: Option<u64>,
    /// The head announced a Content-Length and that many body bytes arrived.
    pub body_complete: bool,
    /// The head carried `Expect: 100-continue`.
    pub expect_100: bool,
}

impl Seen {
    /// The value of a header of the recorded head (name compared case-insensitively,
    /// value trimmed); the first one when repeated.
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }

    fn new(head: String) -> Seen {
        let mut seen = Seen {
            head,
            ..Seen::default()
        };
        seen.content_length = seen.header("content-length").and_then(|v| v.parse().ok());
        seen.expect_100 = seen
            .header("expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
        seen.body_complete = seen.content_length == Some(0);
        seen
    }

    fn add_body(&mut self, n: u64) {
        self.body_len += n;
        self.body_complete = self.content_length == Some(self.body_len);
    }

    /// Body bytes still expected for this request.
    fn body_left(&self) -> u64 {
        self.content_length
            .unwrap_or(0)
            .saturating_sub(self.body_len)
    }
}

pub struct ScriptedServer {
    listening: Listening,
    /// Every request head read, in order, with its body count.
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl ScriptedServer {
    /// Listens on 127.0.0.1 (a free port, bound before this returns) and plays
    /// `scripts[n]` on connection n+1, the last script on every later connection.
    pub fn start(scripts: Vec<Vec<Step>>) -> ScriptedServer {
        assert!(!scripts.is_empty(), "a scripted server needs a script");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let listening = {
            let seen = seen.clone();
            Listening::start(move |sock, conn| {
                let script = &scripts[conn.number().min(scripts.len() - 1)];
                let mut conn = Conn {
                    sock: Some(sock),
                    pending: Vec::new(),
                    current: None,
                    body: Vec::new(),
                    conn,
                    seen: &seen,
                };
                let _ = conn.play(script);
            })
        };
        ScriptedServer { listening, seen }
    }

    pub fn port(&self) -> u16 {
        self.listening.port()
    }

    /// `http://127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        self.listening.endpoint()
    }

    /// Every request head read so far, in order, with its body count. Waits first (at
    /// most 5 s) until no connection is being served, so that once the client has exited
    /// everything it sent is counted.
    pub fn seen(&self) -> Vec<Seen> {
        self.listening.settle(SETTLE_LIMIT);
        lock(&self.seen).clone()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.listening.connections()
    }
}

/// A store that takes the request (answering Expect as S3 does) and stores it.
pub fn good() -> Vec<Step> {
    vec![
        Step::ReadHead,
        Step::ContinueIfExpected,
        Step::ReadBody,
        Step::Stored,
    ]
}

/// Takes the request (answering Expect as S3 does), then answers `reply`.
pub fn after_body(reply: Vec<u8>) -> Vec<Step> {
    vec![
        Step::ReadHead,
        Step::ContinueIfExpected,
        Step::ReadBody,
        Step::Reply(reply),
    ]
}

/// What S3 answers to CreateMultipartUpload of `s3://bucket/key.bin`: this upload id.
pub fn initiated(upload_id: &str) -> Vec<u8> {
    answer(
        "HTTP/1.1 200 OK",
        &[("Content-Type", "application/xml")],
        &format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<InitiateMultipartUploadResult>\
             <Bucket>bucket</Bucket><Key>key.bin</Key><UploadId>{upload_id}</UploadId>\
             </InitiateMultipartUploadResult>"
        ),
    )
}

/// The hex MD5 of `bytes`.
pub fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The quoted MD5 of `bytes`: the ETag S3 gives them (an object stored by one PUT, a part).
pub fn etag(bytes: &[u8]) -> String {
    format!("\"{}\"", md5_hex(bytes))
}

/// The ETag S3 gives an object of these parts: the MD5 of their MD5s, then `-N`.
pub fn multipart_etag(parts: &[&[u8]]) -> String {
    let mut all = Vec::new();
    for p in parts {
        all.extend_from_slice(&Md5::digest(p));
    }
    format!("\"{}-{}\"", md5_hex(&all), parts.len())
}

/// The request line of each recorded request, in order.
pub fn request_lines(seen: &[Seen]) -> Vec<String> {
    seen.iter()
        .map(|s| s.head.lines().next().unwrap_or("").to_string())
        .collect()
}

/// A response: the status line, the headers, Content-Length (the body's), the body.
pub fn answer(status_line: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut out = format!("{}\r\n", status(status_line));
    for (n, v) in headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    out.into_bytes()
}

/// An S3 error answer: `status` ("503 Slow Down" or a whole status line) and an XML error
/// document with `code`, a message, `extra_xml` (e.g. `<Region>eu-west-1</Region>`) and a
/// request id.
pub fn s3_error(status: &str, code: &str, extra_xml: &str) -> Vec<u8> {
    s3_error_with(status, &[], code, extra_xml)
}

/// [`s3_error`] with more headers (e.g. `Date`, `x-amz-bucket-region`).
pub fn s3_error_with(
    status: &str,
    headers: &[(&str, &str)],
    code: &str,
    extra_xml: &str,
) -> Vec<u8> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
         <Message>scripted {code}</Message>{extra_xml}<RequestId>SCRIPTED0001</RequestId></Error>"
    );
    let mut h = vec![
        ("Content-Type", "application/xml"),
        ("x-amz-request-id", "SCRIPTED0001"),
    ];
    h.extend_from_slice(headers);
    answer(status, &h, &body)
}

/// What [`Step::Stored`] answers to `head` and the `body` bytes that came with it: the
/// ETag the MD5 of the data (an aws-chunked body decoded), and every `x-amz-checksum-*`
/// the client sent, in the head or in the trailer, echoed.
fn stored_reply(head: &str, body: &[u8], close: bool) -> Vec<u8> {
    let checksum_header = |line: &str| {
        let (n, v) = line.split_once(':')?;
        let n = n.trim().to_ascii_lowercase();
        (n.starts_with("x-amz-checksum-") && n != "x-amz-checksum-type")
            .then(|| (n, v.trim().to_string()))
    };
    let mut echoed: Vec<(String, String)> =
        head.lines().skip(1).filter_map(checksum_header).collect();
    let chunked = head.lines().skip(1).any(|l| {
        l.split_once(':').is_some_and(|(n, v)| {
            n.trim().eq_ignore_ascii_case("content-encoding") && v.contains("aws-chunked")
        })
    });
    let tag = if chunked {
        let (data, trailer) = decode_aws_chunked(body);
        echoed.extend(trailer.lines().filter_map(checksum_header));
        etag(&data)
    } else {
        etag(body)
    };
    let mut headers = vec![("ETag".to_string(), tag)];
    if close {
        headers.push(("Connection".into(), "close".into()));
    }
    headers.extend(echoed);
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    answer("HTTP/1.1 200 OK", &headers, "")
}

/// The data and the trailer text of an aws-chunked body (`hex[;ext]\r\nDATA\r\n`...,
/// `0\r\n`, trailer lines, `\r\n`); what does not parse ends it.
fn decode_aws_chunked(mut raw: &[u8]) -> (Vec<u8>, String) {
    let mut data = Vec::new();
    loop {
        let Some(end) = raw.windows(2).position(|w| w == b"\r\n") else {
            return (data, String::new());
        };
        let line = String::from_utf8_lossy(&raw[..end]).into_owned();
        raw = &raw[end + 2..];
        let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16);
        match size {
            Ok(0) => return (data, String::from_utf8_lossy(raw).into_owned()),
            Ok(n) if n + 2 <= raw.len() => {
                data.extend_from_slice(&raw[..n]);
                raw = &raw[n + 2..];
            }
            _ => return (data, String::new()),
        }
    }
}

/// "503 Slow Down" -> "HTTP/1.1 503 Slow Down"; a whole status line is kept.
fn status(s: &str) -> String {
    if s.starts_with("HTTP/") {
        s.to_string()
    } else {
        format!("HTTP/1.1 {s}")
    }
}

/// One connection being served.
struct Conn<'a> {
    /// None once closed.
    sock: Option<TcpStream>,
    /// Bytes read from the client and not yet consumed by a step.
    pending: Vec<u8>,
    /// The index in `seen` of the request head read last.
    current: Option<usize>,
    /// The body bytes read for it (the first BODY_KEPT of them).
    body: Vec<u8>,
    conn: Connection,
    seen: &'a Mutex<Vec<Seen>>,
}

enum Read1 {
    Data,
    /// The client closed, the connection failed, the deadline passed or the server stops.
    End,
}

impl Conn<'_> {
    fn go_on(&self) -> bool {
        self.conn.go_on()
    }

    fn sock(&mut self) -> io::Result<&mut TcpStream> {
        self.sock
            .as_mut()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))
    }

    /// Reads once more into `pending`; End when nothing more comes.
    fn read_more(&mut self) -> io::Result<Read1> {
        let sock = self
            .sock
            .as_ref()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))?;
        Ok(match self.conn.read_more(sock, &mut self.pending) {
            true => Read1::Data,
            false => Read1::End,
        })
    }

    /// Consumes up to `limit` body bytes of the current request from what arrives.
    /// Returns false when the client stopped sending before that.
    fn take_body(&mut self, limit: u64) -> io::Result<bool> {
        let Some(index) = self.current else {
            return Ok(true);
        };
        let mut left = limit;
        while left > 0 {
            if self.pending.is_empty() {
                if let Read1::End = self.read_more()? {
                    return Ok(false);
                }
            }
            let n = left.min(self.pending.len() as u64) as usize;
            let keep = n.min(BODY_KEPT.saturating_sub(self.body.len()));
            self.body.extend_from_slice(&self.pending[..keep]);
            self.pending.drain(..n);
            left -= n as u64;
            lock(self.seen)[index].add_body(n as u64);
        }
        Ok(true)
    }

    fn body_left(&self) -> u64 {
        self.current
            .map(|i| lock(self.seen)[i].body_left())
            .unwrap_or(0)
    }

    fn play(&mut self, script: &[Step]) -> io::Result<()> {
        self.sock()?.set_write_timeout(Some(WRITE_LIMIT))?;
        for step in script {
            if !self.go_on() {
                return Ok(());
            }
            match step {
                Step::ReadHead => {
                    let sock = self
                        .sock
                        .as_ref()
                        .ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))?;
                    let Some(head) = self.conn.read_head(sock, &mut self.pending, HEAD_LIMIT)
                    else {
                        return Ok(());
                    };
                    let mut seen = lock(self.seen);
                    seen.push(Seen::new(head));
                    self.current = Some(seen.len() - 1);
                    self.body.clear();
                }
                Step::ReadBody => {
                    let left = self.body_left();
                    if !self.take_body(left)? {
                        return Ok(());
                    }
                }
                Step::ReadBodyPart(n) => {
                    let left = self.body_left().min(*n);
                    if !self.take_body(left)? {
                        return Ok(());
                    }
                }
                Step::ReadBodySlowly { len, piece, every } => {
                    let mut left = self.body_left().min(*len);
                    while left > 0 {
                        let n = left.min((*piece).max(1));
                        if !self.go_on() || !self.take_body(n)? {
                            return Ok(());
                        }
                        left -= n;
                        // Pacing the reads (not a readiness wait).
                        thread::sleep(*every);
                    }
                }
                Step::Reply(bytes) => self.sock()?.write_all(bytes)?,
                Step::Stored | Step::StoredClose => {
                    let head = self
                        .current
                        .map(|i| lock(self.seen)[i].head.clone())
                        .unwrap_or_default();
                    let reply = stored_reply(&head, &self.body, matches!(step, Step::StoredClose));
                    self.sock()?.write_all(&reply)?;
                }
                Step::ContinueIfExpected => {
                    let expected = self.current.is_some_and(|i| lock(self.seen)[i].expect_100);
                    if expected {
                        self.sock()?.write_all(CONTINUE)?;
                    }
                }
                Step::Reset => {
                    self.reset();
                    return Ok(());
                }
                Step::Stall(how_long) => self.stall(*how_long)?,
                Step::Trickle {
                    bytes,
                    piece,
                    every,
                } => {
                    for piece in bytes.chunks((*piece).max(1)) {
                        if !self.go_on() {
                            return Ok(());
                        }
                        if self.sock()?.write_all(piece).is_err() {
                            return Ok(());
                        }
                        self.stall(*every)?;
                    }
                }
                Step::Close => {
                    if let Some(sock) = self.sock.take() {
                        let _ = sock.shutdown(Shutdown::Both);
                    }
                    return Ok(());
                }
            }
        }
        self.drain()
    }

    /// Closes with unread data in the receive queue, so that the kernel sends a RST.
    fn reset(&mut self) {
        let Some(sock) = self.sock.take() else { return };
        let until = Instant::now() + RESET_WAIT;
        let mut probe = [0u8; 1];
        while Instant::now() < until && !self.conn.stopping() {
            if sock.set_read_timeout(Some(TICK)).is_err() {
                break;
            }
            match sock.peek(&mut probe) {
                Err(e) if is_timeout(&e) => {}
                // Unread bytes (the close below is a reset), the client closed, or failed.
                _ => break,
            }
        }
        // No shutdown (it would send a FIN): the socket closes when the skeleton drops its
        // registered clone, as the script ends here, and that last close finds the unread
        // bytes.
        drop(sock);
    }

    /// Waits `how_long` (capped), ending early when the client closes or the server stops.
    fn stall(&mut self, how_long: Duration) -> io::Result<()> {
        let until = Instant::now() + how_long.min(STALL_LIMIT);
        let mut probe = [0u8; 1];
        while Instant::now() < until && self.go_on() {
            let sock = self.sock()?;
            sock.set_read_timeout(Some(TICK))?;
            match sock.peek(&mut probe) {
                Ok(0) => return Ok(()),
                // Bytes wait unread (the client still sends): look again a tick later.
                Ok(_) => thread::sleep(TICK),
                Err(e) if is_timeout(&e) => {}
                Err(_) => return Ok(()),
            }
        }
        Ok(())
    }

    /// After the last step: half-close, then read (and count as the current body, up to
    /// its Content-Length) what the client still sends until it closes.
    fn drain(&mut self) -> io::Result<()> {
        if let Some(sock) = &self.sock {
            let _ = sock.shutdown(Shutdown::Write);
        }
        let deadline = self.conn.deadline().min(Instant::now() + DRAIN_LIMIT);
        self.conn.set_deadline(deadline);
        loop {
            let left = self.body_left();
            let n = left.min(self.pending.len() as u64) as usize;
            if n > 0 {
                if let Some(i) = self.current {
                    lock(self.seen)[i].add_body(n as u64);
                }
            }
            self.pending.clear();
            if let Read1::End = self.read_more()? {
                return Ok(());
            }
        }
    }
}
