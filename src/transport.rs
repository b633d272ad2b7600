//! The one module that touches sockets and rustls: connect (every resolved address, with
//! a timeout), TLS, writing bytes and file ranges, and reading a response through the
//! sans-IO parsers of [`crate::http`].

use crate::http::body::{BodyFraming, ChunkedDecoder};
use crate::http::response::{ResponseHead, Status};
use crate::interrupt::Stopped;
use crate::report::trace;
use crate::Error;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The fixed size of every body copy buffer.
pub const COPY_BUFFER: usize = 8 * 1024;
/// Bound on rustls' buffered plaintext and TLS records, so memory does not follow the body.
const TLS_BUFFER_LIMIT: usize = 32 * 1024;
/// Response bodies (S3 XML) are kept up to this size; the rest is read and dropped.
const MAX_KEPT_BODY: usize = 64 * 1024;
/// A response body longer than this is refused rather than drained.
const MAX_DRAINED_BODY: u64 = 16 * 1024 * 1024;

/// TLS settings for a run: webpki-roots, plus the CAs of `--ca-bundle`.
pub fn tls_config(ca_bundle: Option<&Path>) -> Result<Arc<ClientConfig>, Error> {
    let mut roots = RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_bundle {
        let bad = |why: String| {
            Error::Usage(format!(
                "--ca-bundle {}: {why}; give a PEM file with -----BEGIN CERTIFICATE----- blocks",
                path.display()
            ))
        };
        let mut added = 0;
        for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad(e.to_string()))? {
            let cert = cert.map_err(|e| bad(e.to_string()))?;
            roots.add(cert).map_err(|e| bad(e.to_string()))?;
            added += 1;
        }
        if added == 0 {
            return Err(bad("no certificate in it".into()));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(format!("TLS setup failed: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// `host:port`, `[v6]:port`.
fn peer_name(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// An open connection to the store, plain or TLS.
pub struct Connection {
    stream: Stream,
    /// `host:port`, for messages.
    peer: String,
    io_timeout: Duration,
    /// Bytes read but not yet parsed (bounded by the head limit plus one read).
    pending: Vec<u8>,
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

/// What a server said to `Expect: 100-continue`.
#[derive(Debug)]
pub enum Continue {
    /// Send the body (100 Continue, or no answer within the wait).
    Proceed,
    /// A final answer before the body: it must not be sent.
    Final(Response),
}

/// A response with its body (kept up to a bound; S3 bodies here are small XML).
#[derive(Debug)]
pub struct Response {
    pub head: ResponseHead,
    pub body: Vec<u8>,
}

impl Connection {
    /// Resolves `host`, connects to each address in turn within `connect_timeout`, and
    /// completes the TLS handshake when `tls` is given.
    pub fn open(
        host: &str,
        port: u16,
        tls: Option<&Arc<ClientConfig>>,
        connect_timeout: Duration,
        io_timeout: Duration,
    ) -> Result<Connection, Error> {
        let peer = peer_name(host, port);
        let addrs: Vec<_> = (host, port)
            .to_socket_addrs()
            .map_err(|e| {
                Error::Network(format!(
                    "cannot resolve '{host}' ({e}): check the host in --endpoint, the bucket name, or DNS"
                ))
            })?
            .collect();
        let mut last_error = None;
        let mut tcp = None;
        for addr in &addrs {
            let started = Instant::now();
            match TcpStream::connect_timeout(addr, connect_timeout) {
                Ok(s) => {
                    if trace::level() >= 2 {
                        let at = addr.to_string();
                        let via = if at == peer {
                            String::new()
                        } else {
                            format!(" ({at})")
                        };
                        trace::event(format_args!(
                            "connected to {peer}{via} in {:.3} s",
                            started.elapsed().as_secs_f64()
                        ));
                    }
                    tcp = Some(s);
                    break;
                }
                Err(e) => {
                    trace::event(format_args!("connecting to {peer} ({addr}) failed: {e}"));
                    last_error = Some(e);
                }
            }
        }
        let tcp = tcp.ok_or_else(|| match last_error {
            Some(e) if e.kind() == io::ErrorKind::ConnectionRefused => Error::Network(format!(
                "connection refused by {peer}: is the store running there, and is --endpoint right?"
            )),
            Some(e) if matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock) => {
                Error::Network(format!(
                    "no answer from {peer} within {} s: check the network or raise --connect-timeout",
                    connect_timeout.as_secs_f64()
                ))
            }
            Some(e) => Error::Network(format!("cannot connect to {peer}: {e}")),
            None => Error::Network(format!("'{host}' resolved to no address: check DNS")),
        })?;
        let set = |r: io::Result<()>| r.map_err(|e| Error::Network(format!("socket setup: {e}")));
        set(tcp.set_read_timeout(Some(io_timeout)))?;
        set(tcp.set_write_timeout(Some(io_timeout)))?;
        set(tcp.set_nodelay(true))?;
        let stream = match tls {
            None => Stream::Plain(tcp),
            Some(config) => {
                let started = Instant::now();
                let tls = handshake(config, host, tcp, &peer, io_timeout)?;
                if trace::level() >= 2 {
                    let version = tls.conn.protocol_version();
                    let suite = tls.conn.negotiated_cipher_suite().map(|c| c.suite());
                    trace::event(format_args!(
                        "TLS handshake with {peer} done in {:.3} s: {}, {}",
                        started.elapsed().as_secs_f64(),
                        version.map_or("?".into(), |v| format!("{v:?}")),
                        suite.map_or("?".into(), |s| format!("{s:?}")),
                    ));
                }
                Stream::Tls(Box::new(tls))
            }
        };
        Ok(Connection {
            stream,
            peer,
            io_timeout,
            pending: Vec::new(),
        })
    }

    /// Whether this connection goes to `host` at `port` (a kept-alive connection is
    /// reused only for requests to the same place).
    pub fn is_to(&self, host: &str, port: u16) -> bool {
        self.peer == peer_name(host, port)
    }

    /// Writes all of `bytes` (a request head, or a small body).
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let result = match &mut self.stream {
            Stream::Plain(s) => s.write_all(bytes).and_then(|()| s.flush()),
            Stream::Tls(s) => s.write_all(bytes).and_then(|()| s.flush()),
        };
        result.map_err(|e| self.io_error(e, "sending"))
    }

    /// Sends the next `len` bytes of `file` from its current position (see `send_reader`).
    pub fn send_file(&mut self, file: &File, len: u64, path: &Path) -> Result<(), Error> {
        self.send_reader(&mut file.take(len), len, path)
    }

    /// Sends exactly `len` bytes read from `source`. Plain HTTP goes through
    /// `std::io::copy`; TLS through one fixed 8 KiB buffer into rustls. A source that ends
    /// early is a file that changed; a source that reports `interrupt::Stopped` was asked
    /// to stop (a signal, or a failed sibling part).
    pub fn send_reader(
        &mut self,
        source: &mut impl Read,
        len: u64,
        path: &Path,
    ) -> Result<(), Error> {
        let sent = match &mut self.stream {
            Stream::Plain(s) => io::copy(source, s),
            Stream::Tls(s) => copy_into_tls(source, &mut s.conn, &mut s.sock),
        };
        let sent = sent.map_err(|e| match classify(&e) {
            Side::Network => self.io_error(e, "sending the body"),
            Side::Stopped => stopped(),
            Side::Local => Error::LocalFile(format!(
                "reading {}: {e}; check the disk and retry",
                path.display()
            )),
        })?;
        if sent < len {
            return Err(changed_during_upload(path));
        }
        let flushed = match &mut self.stream {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        };
        flushed.map_err(|e| self.io_error(e, "sending the body"))
    }

    /// Whether this connection may carry another request after `response` (HTTP/1.1
    /// keep-alive, nothing left unread).
    pub fn reusable_after(&self, response: &Response) -> bool {
        let head = &response.head;
        let close = head
            .headers_named("connection")
            .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")));
        head.minor_version == 1
            && !close
            && self.pending.is_empty()
            && (head.header("content-length").is_some()
                || head.header("transfer-encoding").is_some()
                || matches!(head.status, 204 | 304))
    }

    /// Reads one final response (skipping 1xx interim ones) for a request of `method`.
    pub fn read_response(&mut self, method: &str) -> Result<Response, Error> {
        let head = loop {
            let head = self.read_head()?;
            // 100 Continue and other interim answers precede the final one (RFC 9110 15.2).
            if !(100..200).contains(&head.status) || head.status == 101 {
                break head;
            }
        };
        let framing = self.framing(method, &head)?;
        let body = self.read_body(framing, &head)?;
        Ok(Response { head, body })
    }

    /// After a failed send, a server that refused early may have answered; wait briefly.
    pub fn early_response(&mut self, method: &str) -> Option<Response> {
        self.set_read_timeout(Duration::from_secs(2));
        self.read_response(method).ok()
    }

    /// After a head sent with `Expect: 100-continue`: waits up to `wait` for `100
    /// Continue` (send the body) or a final answer (do not send it). Silence means send:
    /// stores that ignore the expectation wait for the body (RFC 9110 section 10.1.1).
    pub fn await_continue(&mut self, wait: Duration, method: &str) -> Result<Continue, Error> {
        self.set_read_timeout(wait);
        let head = self.next_head(true);
        self.set_read_timeout(self.io_timeout);
        match head? {
            None => Ok(Continue::Proceed),
            Some(head) if head.status == 100 => Ok(Continue::Proceed),
            Some(head) if (100..200).contains(&head.status) && head.status != 101 => {
                // Another interim answer: the final one follows; it decides.
                self.read_response(method).map(Continue::Final)
            }
            Some(head) => {
                let framing = self.framing(method, &head)?;
                let body = self.read_body(framing, &head)?;
                Ok(Continue::Final(Response { head, body }))
            }
        }
    }

    fn read_head(&mut self) -> Result<ResponseHead, Error> {
        self.next_head(false)?
            .ok_or_else(|| Error::Network(format!("{} sent no answer in time", self.peer)))
    }

    /// The next response head; None when `silence_ok` and a read timed out first.
    fn next_head(&mut self, silence_ok: bool) -> Result<Option<ResponseHead>, Error> {
        loop {
            match ResponseHead::parse(&self.pending) {
                Ok(Status::Complete(used, head)) => {
                    trace::response_head(&self.pending[..used]);
                    self.pending.drain(..used);
                    return Ok(Some(head));
                }
                Ok(Status::Partial) => {}
                Err(e) => {
                    return Err(Error::Protocol(format!(
                        "{} sent a malformed response ({e}), starting {:?}",
                        self.peer,
                        first_line(&self.pending)
                    )))
                }
            }
            let n = match self.raw_fill() {
                Err(e) if silence_ok && is_timeout(&e) => return Ok(None),
                other => other.map_err(|e| self.io_error(e, "reading the response"))?,
            };
            if n == 0 {
                // No byte of an answer: the connection dropped, as a reset does (retryable).
                // Part of a head: the store said something broken.
                return Err(if self.pending.is_empty() {
                    Error::Network(format!(
                        "{} closed the connection without answering: check that --endpoint is an S3 store and its scheme (http/https) is right",
                        self.peer
                    ))
                } else {
                    Error::Protocol(format!(
                        "{} closed the connection in the middle of a response head, starting {:?}",
                        self.peer,
                        first_line(&self.pending)
                    ))
                });
            }
        }
    }

    fn framing(&self, method: &str, head: &ResponseHead) -> Result<BodyFraming, Error> {
        BodyFraming::for_response(method, head).map_err(|e| {
            Error::Protocol(format!(
                "{} sent a response whose body length cannot be known ({e}) after {}",
                self.peer,
                head.status_line()
            ))
        })
    }

    fn set_read_timeout(&self, timeout: Duration) {
        // Failing to set a timeout leaves the previous one, which is also bounded.
        let _ = match &self.stream {
            Stream::Plain(s) => s.set_read_timeout(Some(timeout)),
            Stream::Tls(s) => s.sock.set_read_timeout(Some(timeout)),
        };
    }

    fn read_body(&mut self, framing: BodyFraming, head: &ResponseHead) -> Result<Vec<u8>, Error> {
        let mut body = Vec::new();
        let mut total: u64 = 0;
        let truncated = |this: &Self, got: u64| {
            Error::Protocol(format!(
                "{} closed the connection after {got} bytes of the body of {}: the response is truncated",
                this.peer,
                head.status_line()
            ))
        };
        let keep = |body: &mut Vec<u8>, total: &mut u64, data: &[u8]| -> Result<(), Error> {
            let room = MAX_KEPT_BODY.saturating_sub(body.len());
            body.extend_from_slice(&data[..data.len().min(room)]);
            *total += data.len() as u64;
            if *total > MAX_DRAINED_BODY {
                return Err(Error::Protocol(format!(
                    "the response body of {} is over {MAX_DRAINED_BODY} bytes; an S3 PUT answer never is",
                    head.status_line()
                )));
            }
            Ok(())
        };
        match framing {
            BodyFraming::Empty => {}
            BodyFraming::Length(len) => {
                while total < len {
                    if self.pending.is_empty() && self.fill()? == 0 {
                        return Err(truncated(self, total));
                    }
                    let take = (len - total).min(self.pending.len() as u64) as usize;
                    keep(&mut body, &mut total, &self.pending[..take])?;
                    self.pending.drain(..take);
                }
            }
            BodyFraming::Chunked => {
                let mut decoder = ChunkedDecoder::new();
                while !decoder.is_done() {
                    let step = decoder.decode(&self.pending).map_err(|e| {
                        Error::Protocol(format!(
                            "{} sent a malformed chunked body ({e})",
                            self.peer
                        ))
                    })?;
                    keep(
                        &mut body,
                        &mut total,
                        self.pending.get(step.data).unwrap_or_default(),
                    )?;
                    self.pending.drain(..step.consumed.min(self.pending.len()));
                    if step.consumed == 0 && !decoder.is_done() && self.fill()? == 0 {
                        return Err(truncated(self, total));
                    }
                }
            }
            BodyFraming::UntilClose => loop {
                keep(&mut body, &mut total, &self.pending)?;
                self.pending.clear();
                if self.fill()? == 0 {
                    break;
                }
            },
        }
        Ok(body)
    }

    /// Reads once into `pending`; Ok(0) at end of stream.
    fn fill(&mut self) -> Result<usize, Error> {
        self.raw_fill()
            .map_err(|e| self.io_error(e, "reading the response"))
    }

    fn raw_fill(&mut self) -> io::Result<usize> {
        let mut buf = [0u8; COPY_BUFFER];
        let n = match &mut self.stream {
            Stream::Plain(s) => s.read(&mut buf)?,
            Stream::Tls(s) => match s.read(&mut buf) {
                // A peer that closes without close_notify: treat as end of stream; the
                // framing decides whether that truncated anything.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => 0,
                other => other?,
            },
        };
        self.pending.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn io_error(&self, e: io::Error, doing: &str) -> Error {
        if let Some(tls) = e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return tls_error(tls, &self.peer);
        }
        let peer = &self.peer;
        Error::Network(match e.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => format!(
                "{peer} made no progress for {} s while {doing}: check the network, or raise --timeout",
                self.io_timeout.as_secs_f64()
            ),
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::UnexpectedEof => {
                format!("{peer} closed the connection while {doing} ({e}); retry, and check the server's logs")
            }
            _ => format!("{doing} to/from {peer} failed: {e}"),
        })
    }
}

/// The error for a copy stopped by a signal or by a failed sibling part.
pub fn stopped() -> Error {
    Error::Interrupted(match crate::interrupt::requested() {
        Some(signal) => format!("stopped by {signal}"),
        None => "stopped because another part failed".to_string(),
    })
}

/// The error for a file whose length or content changed while it was being sent.
pub fn changed_during_upload(path: &Path) -> Error {
    Error::LocalFile(format!(
        "{} changed while it was being uploaded, so the upload was stopped and nothing was stored; \
         upload a copy or a snapshot that does not change",
        path.display()
    ))
}

fn handshake(
    config: &Arc<ClientConfig>,
    host: &str,
    mut tcp: TcpStream,
    peer: &str,
    io_timeout: Duration,
) -> Result<StreamOwned<ClientConnection, TcpStream>, Error> {
    let name = ServerName::try_from(host.to_string()).map_err(|_| {
        Error::Usage(format!(
            "'{host}' is not a valid TLS server name: check --endpoint"
        ))
    })?;
    let mut conn = ClientConnection::new(Arc::clone(config), name)
        .map_err(|e| Error::Tls(format!("TLS setup for {peer} failed: {e}")))?;
    conn.set_buffer_limit(Some(TLS_BUFFER_LIMIT));
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut tcp) {
            if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                return Err(tls_error(tls, peer));
            }
            return Err(Error::Network(match e.kind() {
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => format!(
                    "TLS handshake with {peer} made no progress for {} s: is it a TLS port? try http:// or raise --timeout",
                    io_timeout.as_secs_f64()
                ),
                io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset => format!(
                    "{peer} closed the connection during the TLS handshake: is it a TLS port? try http:// in --endpoint"
                ),
                _ => format!("TLS handshake with {peer} failed: {e}"),
            }));
        }
    }
    Ok(StreamOwned::new(conn, tcp))
}

/// A one-line message with the fix for a TLS failure.
fn tls_error(e: &rustls::Error, peer: &str) -> Error {
    use rustls::CertificateError as C;
    let text = match e {
        rustls::Error::InvalidCertificate(C::UnknownIssuer) => format!(
            "the certificate of {peer} is signed by a CA this host does not trust: \
             pass --ca-bundle FILE.pem with the CA that signed it"
        ),
        rustls::Error::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => format!(
            "the certificate of {peer} is not valid for that name: use the host name the certificate was issued for \
             in --endpoint (or --path-style if the bucket name is in the way)"
        ),
        rustls::Error::InvalidCertificate(
            C::Expired | C::ExpiredContext { .. } | C::NotValidYet | C::NotValidYetContext { .. },
        ) => format!(
            "the certificate of {peer} is expired or not yet valid: check this host's clock, or renew the certificate"
        ),
        rustls::Error::InvalidCertificate(C::Other(other)) if format!("{other:?}").contains("CaUsedAsEndEntity") => {
            format!(
                "{peer} presents a CA certificate as its own (a self-signed certificate made as a CA), which TLS \
                 verification refuses: make a CA, sign a server certificate with it, and pass the CA with --ca-bundle"
            )
        }
        other => format!("TLS with {peer} failed: {other}"),
    };
    Error::Tls(text)
}

/// Copies through one fixed 8 KiB buffer into rustls, which seals it into records; the
/// records go to the socket when rustls' bounded buffer (TLS_BUFFER_LIMIT) is full: one
/// writev per ~32 KiB instead of one per 8 KiB record, for the same memory.
fn copy_into_tls(
    source: &mut impl Read,
    conn: &mut ClientConnection,
    sock: &mut TcpStream,
) -> io::Result<u64> {
    let mut buf = [0u8; COPY_BUFFER];
    let mut sent = 0u64;
    loop {
        let n = match source.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io::Error::other(LocalRead(e))),
        };
        let mut rest = &buf[..n];
        while !rest.is_empty() {
            let taken = conn.writer().write(rest)?;
            rest = &rest[taken..];
            if taken == 0 {
                flush_tls(conn, sock)?;
            }
        }
        sent += n as u64;
    }
    flush_tls(conn, sock)?;
    Ok(sent)
}

fn flush_tls(conn: &mut ClientConnection, sock: &mut TcpStream) -> io::Result<()> {
    while conn.wants_write() {
        conn.write_tls(sock)?;
    }
    Ok(())
}

/// Marks an error that came from reading the local file in the TLS copy loop.
#[derive(Debug)]
struct LocalRead(io::Error);

impl std::fmt::Display for LocalRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for LocalRead {}

enum Side {
    Local,
    Network,
    Stopped,
}

/// Which end failed in a copy: std::io::copy cannot say, so the kind decides
/// (socket kinds are network; the TLS loop marks its read errors).
fn classify(e: &io::Error) -> Side {
    let inner = e.get_ref();
    let local = inner.and_then(|i| i.downcast_ref::<LocalRead>());
    if inner.is_some_and(|i| i.is::<Stopped>())
        || local.is_some_and(|l| l.0.get_ref().is_some_and(|i| i.is::<Stopped>()))
    {
        return Side::Stopped;
    }
    if local.is_some() {
        return Side::Local;
    }
    match e.kind() {
        io::ErrorKind::BrokenPipe
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::NotConnected
        | io::ErrorKind::TimedOut
        | io::ErrorKind::WouldBlock
        | io::ErrorKind::WriteZero
        | io::ErrorKind::InvalidData => Side::Network,
        _ => Side::Local,
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

fn first_line(bytes: &[u8]) -> String {
    let line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    String::from_utf8_lossy(&line[..line.len().min(80)])
        .trim_end()
        .to_string()
}
