//! An open connection, plain or TLS, direct or through a proxy: request heads and body
//! bytes out, one response in through the sans-IO parsers.

use super::deadline::{self, Expired, FileFault, Limit};
use super::dial::{authority, connect};
use super::proxy::{proxy_auth_error, tunnel};
use super::settings::{Names, Proxy, ProxyKind};
use super::socks;
use super::tls::{flush_tls, handshake, read_from_tls, tls_error, write_into_tls, Wire};
use super::trust::tls_config_with;
use super::{first_line, is_timeout, COPY_BUFFER, EARLY_ANSWER_WAIT, MAX_DRAINED_BODY};
use super::{MAX_KEPT_BODY, STALLED_ANSWER_WAIT};
use crate::error::Error;
use crate::http::body::{BodyFraming, ChunkedDecoder};
use crate::http::request::{write_request_head, HeaderError};
use crate::http::response::{ResponseHead, Status};
use crate::report::trace;
use rustls::{ClientConfig, ClientConnection};
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// An open connection to the store, plain or TLS.
pub struct Connection {
    stream: Stream,
    /// `host:port` (and the proxy), for messages.
    peer: String,
    /// `host:port` of the store this connection reaches (through a proxy or not).
    to: String,
    io_timeout: Duration,
    /// The progress of what is being sent: one body's writes share it, so pieces that
    /// each move a little do not each get a fresh `--timeout`. Reset when reading starts.
    sending: Limit,
    /// The last send ended because `sending` ran out (a stall), not for an error.
    send_stalled: bool,
    /// Bytes read but not yet parsed (bounded by the head limit plus one read).
    pending: Vec<u8>,
    /// Plain HTTP through a proxy: requests go in absolute form, with its credentials.
    forward: Option<Forward>,
    /// The settings its messages point to.
    names: Names,
}

/// The most one sendfile(2) is asked for. The kernel sends in pieces of this size, each
/// waiting up to a write tick for room, so a larger call on a slow link could keep a stop
/// (a sibling part's cancel, which no signal interrupts) waiting for seconds; 64 KiB is
/// also what curl writes at a time.
const SEND_FILE_MAX: usize = 64 * 1024;

/// What one [`Connection::send_file`] did.
#[derive(Debug)]
pub enum FileSent {
    /// These many bytes went (at least one, unless none were asked for).
    Sent(u64),
    /// The file ended where the send was to start: it shrank.
    Ended,
    /// sendfile failed for what may be the file's reason (a filesystem without splice
    /// support, a read error); nothing went: the caller copies it through its buffer,
    /// which tells a read error from a send error.
    Unsupported,
}

/// A plain-HTTP proxy carrying this connection's requests (RFC 9112 3.2.2).
struct Forward {
    proxy: String,
    source: &'static str,
    login_elsewhere: Option<&'static str>,
    authorization: Option<crate::secret::Secret>,
}

/// The socket and the TLS sessions over it.
struct Stream {
    tcp: TcpStream,
    /// TLS to an https:// proxy, under everything else.
    proxy_tls: Option<Box<ClientConnection>>,
    /// TLS to the store (end to end, inside any tunnel).
    tls: Option<Box<ClientConnection>>,
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

/// At `-vv`: the protocol and suite a handshake agreed on (and how long it took).
fn trace_handshake(conn: &ClientConnection, peer: &str, started: Option<Instant>) {
    if trace::level() >= 2 {
        let version = conn.protocol_version();
        let suite = conn.negotiated_cipher_suite().map(|c| c.suite());
        let took = started.map_or(String::new(), |s| {
            format!(" in {:.3} s", s.elapsed().as_secs_f64())
        });
        trace::event(format_args!(
            "TLS handshake with {peer} done{took}: {}, {}",
            version.map_or("?".into(), |v| format!("{v:?}")),
            suite.map_or("?".into(), |s| format!("{s:?}")),
        ));
    }
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
        names: &Names,
    ) -> Result<Connection, Error> {
        Connection::open_via(host, port, tls, None, connect_timeout, io_timeout, names)
    }

    /// As `open`, through `proxy` when given. An http:// or https:// proxy (TLS to the
    /// proxy first, checked as the store's would be): TLS goes through a CONNECT tunnel
    /// (the proxy resolves `host`, and TLS runs end to end inside), plain HTTP as
    /// absolute-form requests to the proxy (see `write_head`). A SOCKS5 proxy: a tunnel
    /// for both. The proxy's answer is awaited within `connect_timeout`.
    pub fn open_via(
        host: &str,
        port: u16,
        tls: Option<&Arc<ClientConfig>>,
        proxy: Option<&Proxy>,
        connect_timeout: Duration,
        io_timeout: Duration,
        names: &Names,
    ) -> Result<Connection, Error> {
        let target = authority(host, port);
        let (tcp, peer) = match proxy {
            None => (
                connect(host, port, connect_timeout, None, names)?,
                target.clone(),
            ),
            Some(p) => (
                connect(&p.host, p.port, connect_timeout, Some(p), names)?,
                format!("{target} (through the proxy at {})", p.shown()),
            ),
        };
        let set = |r: io::Result<()>| r.map_err(|e| Error::Network(format!("socket setup: {e}")));
        // Writes go through `Timed`, which looks at its limit after each tick.
        set(tcp.set_write_timeout(Some(deadline::write_tick(io_timeout))))?;
        set(tcp.set_nodelay(true))?;
        let mut forward = None;
        let mut proxy_tls = None;
        if let Some(p) = proxy {
            if p.kind == ProxyKind::Https {
                // For an http:// store, what the store's TLS would trust (--ca-bundle too).
                let config = match tls {
                    Some(config) => Arc::clone(config),
                    None => tls_config_with(p.ca_bundle.as_deref(), &p.trust)?,
                };
                let shown = format!("the proxy at {}", p.shown());
                let conn = handshake(&config, &p.host, &tcp, None, &shown, io_timeout, names)?;
                trace_handshake(&conn, &shown, None);
                proxy_tls = Some(Box::new(conn));
            }
            match (p.kind, tls) {
                (ProxyKind::Socks5 { .. }, _) => {
                    socks::connect(&tcp, p, host, port, connect_timeout, names)?
                }
                (_, Some(_)) => tunnel(
                    &tcp,
                    proxy_tls.as_deref_mut(),
                    p,
                    &target,
                    connect_timeout,
                    names,
                )?,
                (_, None) => {
                    forward = Some(Forward {
                        proxy: p.shown(),
                        source: p.source,
                        login_elsewhere: p.login_elsewhere,
                        authorization: p.authorization.clone(),
                    })
                }
            }
        }
        let tls = match tls {
            None => None,
            Some(config) => {
                let started = Instant::now();
                let conn = handshake(
                    config,
                    host,
                    &tcp,
                    proxy_tls.as_deref_mut(),
                    &peer,
                    io_timeout,
                    names,
                )?;
                trace_handshake(&conn, &peer, Some(started));
                Some(Box::new(conn))
            }
        };
        Ok(Connection {
            stream: Stream {
                tcp,
                proxy_tls,
                tls,
            },
            peer,
            to: target,
            io_timeout,
            sending: Limit::pace(io_timeout),
            send_stalled: false,
            pending: Vec::new(),
            forward,
            names: *names,
        })
    }

    /// Whether this connection goes to `host` at `port` (a kept-alive connection is
    /// reused only for requests to the same place).
    pub fn is_to(&self, host: &str, port: u16) -> bool {
        self.to == authority(host, port)
    }

    /// Writes a request head for this connection into `out`: `target` is origin-form
    /// (`/KEY?query`); through a plain-HTTP proxy it becomes absolute-form
    /// (`http://HOST/KEY?query`, HOST from the Host header) and the proxy's credentials
    /// go along. The signature is unchanged: it covers the Host header and the path.
    pub fn write_head(
        &self,
        method: &str,
        target: &str,
        headers: &[(String, String)],
        out: &mut Vec<u8>,
    ) -> Result<(), HeaderError> {
        let Some(forward) = &self.forward else {
            return write_request_head(method, target, headers, out);
        };
        let host = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("host"))
            .map(|(_, v)| v.as_str())
            .ok_or(HeaderError::EmptyName)?;
        let absolute = format!("http://{host}{target}");
        let mut all = headers.to_vec();
        if let Some(auth) = &forward.authorization {
            all.push(("proxy-authorization".into(), auth.expose().to_string()));
        }
        let written = write_request_head(method, &absolute, &all, out);
        if let Some((_, copy)) = all.pop().filter(|_| forward.authorization.is_some()) {
            drop(crate::secret::Secret::new(copy)); // zeroed
        }
        written
    }

    /// Writes all of `bytes` (a request head, or a small body).
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let result = self.sending_with(|wire, tls| match tls {
            None => wire.write_all(bytes),
            Some(conn) => write_into_tls(bytes, conn, wire).and_then(|()| flush_tls(conn, wire)),
        });
        result.map_err(|e| self.send_error(e, "sending"))
    }

    /// Writes `bytes`, a piece of a body that more will follow (the last piece goes with
    /// `send`, which flushes): over TLS they are sealed into records that leave as
    /// rustls' bounded buffer (TLS_BUFFER_LIMIT) fills; `flush` sends the rest.
    pub fn send_body(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let result = self.sending_with(|wire, tls| match tls {
            None => wire.write_all(bytes),
            Some(conn) => write_into_tls(bytes, conn, wire),
        });
        result.map_err(|e| self.send_error(e, "sending the body"))
    }

    /// Sends what `send_body` left in rustls' buffer (nothing over plain TCP).
    pub fn flush(&mut self) -> Result<(), Error> {
        let result = self.sending_with(|wire, tls| match tls {
            None => Ok(()),
            Some(conn) => flush_tls(conn, wire),
        });
        result.map_err(|e| self.send_error(e, "sending the body"))
    }

    /// Whether [`Connection::send_file`] can carry a file's bytes: plain TCP all the way
    /// (nothing to seal them on the way, no TLS to the store or to a proxy), on Linux.
    pub fn sends_files(&self) -> bool {
        cfg!(target_os = "linux") && self.stream.tls.is_none() && self.stream.proxy_tls.is_none()
    }

    /// Sends some of the `len` bytes of `file` from `offset` (at most SEND_FILE_MAX), a
    /// piece of a body that more will follow, with one sendfile(2) (as `Write::write`
    /// sends some of a buffer): from the page cache to the socket, no copy through this
    /// process. It returns once bytes moved, so the caller looks for a stop between calls,
    /// and waits as `send_body` does, bounded by `--timeout`'s pace. Only where
    /// [`Connection::sends_files`].
    pub fn send_file(&mut self, file: &File, offset: u64, len: u64) -> Result<FileSent, Error> {
        let mut at = offset;
        let count = usize::try_from(len)
            .unwrap_or(SEND_FILE_MAX)
            .min(SEND_FILE_MAX);
        let result = self.sending_with(|wire, tls| match (wire, tls) {
            (Wire::Tcp(sock), None) => sock.send_file(file, &mut at, count),
            _ => Err(io::Error::other(FileFault::Unsupported)),
        });
        match result {
            Ok(0) if len > 0 => Ok(FileSent::Ended),
            Ok(n) => Ok(FileSent::Sent(n as u64)),
            Err(e) if e.get_ref().is_some_and(|i| i.is::<FileFault>()) => {
                trace::event(format_args!(
                    "sendfile failed ({e}): copying the rest through the buffer"
                ));
                Ok(FileSent::Unsupported)
            }
            Err(e) => Err(self.send_error(e, "sending the body")),
        }
    }

    /// Runs `f` with the pipe under the store's TLS (its writes bounded by `sending`)
    /// and that TLS session, if any.
    fn sending_with<T>(
        &mut self,
        f: impl FnOnce(&mut Wire<'_>, Option<&mut ClientConnection>) -> io::Result<T>,
    ) -> io::Result<T> {
        let Stream {
            tcp,
            proxy_tls,
            tls,
        } = &mut self.stream;
        let mut wire = Wire::new(tcp, proxy_tls.as_deref_mut(), &mut self.sending);
        f(&mut wire, tls.as_deref_mut())
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

    /// Reads one final response (skipping 1xx interim ones) for a request of `method`:
    /// its head (interim ones too) within `--timeout` from now, the end of the request;
    /// its body at the minimum pace (see `deadline`).
    pub fn read_response(&mut self, method: &str) -> Result<Response, Error> {
        self.read_response_within(method, self.io_timeout)
    }

    fn read_response_within(&mut self, method: &str, wait: Duration) -> Result<Response, Error> {
        self.sending = Limit::pace(self.io_timeout);
        let mut limit = Limit::within(wait);
        let head = loop {
            let head = self.read_head(&mut limit)?;
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
        let wait = match self.send_stalled {
            true => STALLED_ANSWER_WAIT,
            false => EARLY_ANSWER_WAIT,
        };
        self.read_response_within(method, wait).ok()
    }

    /// After a head sent with `Expect: 100-continue`: waits up to `wait` for `100
    /// Continue` (send the body) or a final answer (do not send it). Silence means send:
    /// stores that ignore the expectation wait for the body (RFC 9110 section 10.1.1).
    /// An answer that has begun by then gets what any answer gets: `--timeout` from the
    /// end of the request head.
    pub fn await_continue(&mut self, wait: Duration, method: &str) -> Result<Continue, Error> {
        let asked = Instant::now();
        self.sending = Limit::pace(self.io_timeout);
        let mut head = self.next_head(&mut Limit::since(asked, wait), true)?;
        if head.is_none() && !self.pending.is_empty() {
            head = self.next_head(&mut Limit::since(asked, self.io_timeout), false)?;
        }
        match head {
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

    fn read_head(&mut self, limit: &mut Limit) -> Result<ResponseHead, Error> {
        self.next_head(limit, false)?
            .ok_or_else(|| Error::Network(format!("{} sent no answer in time", self.peer)))
    }

    /// The next response head, complete within `limit`; None when `silence_ok` and the
    /// limit ended first.
    fn next_head(
        &mut self,
        limit: &mut Limit,
        silence_ok: bool,
    ) -> Result<Option<ResponseHead>, Error> {
        loop {
            match ResponseHead::parse(&self.pending) {
                Ok(Status::Complete(used, head)) => {
                    trace::response_head(&self.pending[..used]);
                    self.pending.drain(..used);
                    if let (Some(f), 407) = (&self.forward, head.status) {
                        return Err(proxy_auth_error(
                            &f.proxy,
                            f.source,
                            f.login_elsewhere,
                            f.authorization.is_some(),
                        ));
                    }
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
            let n = match self.raw_fill(limit) {
                Err(e) if silence_ok && is_timeout(&e) => return Ok(None),
                other => other.map_err(|e| self.io_error(e, "reading the response head"))?,
            };
            if n == 0 {
                // No byte of an answer: the connection dropped, as a reset does (retryable).
                // Part of a head: the store said something broken.
                return Err(if self.pending.is_empty() {
                    Error::Network(format!(
                        "{} closed the connection without answering: check that {} is an S3 store and its scheme (http/https) is right",
                        self.peer, self.names.endpoint
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

    fn read_body(&mut self, framing: BodyFraming, head: &ResponseHead) -> Result<Vec<u8>, Error> {
        let mut pace = Limit::pace(self.io_timeout);
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
                    if self.pending.is_empty() && self.fill(&mut pace)? == 0 {
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
                    if step.consumed == 0 && !decoder.is_done() && self.fill(&mut pace)? == 0 {
                        return Err(truncated(self, total));
                    }
                }
            }
            BodyFraming::UntilClose => loop {
                keep(&mut body, &mut total, &self.pending)?;
                self.pending.clear();
                if self.fill(&mut pace)? == 0 {
                    break;
                }
            },
        }
        Ok(body)
    }

    /// Reads once into `pending`, within `limit`; Ok(0) at end of stream.
    fn fill(&mut self, limit: &mut Limit) -> Result<usize, Error> {
        self.raw_fill(limit)
            .map_err(|e| self.io_error(e, "reading the response body"))
    }

    fn raw_fill(&mut self, limit: &mut Limit) -> io::Result<usize> {
        let mut buf = [0u8; COPY_BUFFER];
        let Stream {
            tcp,
            proxy_tls,
            tls,
        } = &mut self.stream;
        let mut wire = Wire::new(tcp, proxy_tls.as_deref_mut(), limit);
        let n = match tls {
            None => wire.read(&mut buf)?,
            Some(conn) => read_from_tls(conn, &mut wire, &mut buf)?,
        };
        self.pending.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    /// The error of a failed send, remembering whether it was a stall.
    fn send_error(&mut self, e: io::Error, doing: &str) -> Error {
        self.send_stalled = deadline::expired(&e).is_some();
        self.io_error(e, doing)
    }

    fn io_error(&self, e: io::Error, doing: &str) -> Error {
        if let Some(tls) = e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return tls_error(tls, &self.peer, &self.names);
        }
        let peer = &self.peer;
        Error::Network(match (deadline::expired(&e), e.kind()) {
            // Only a response head has a deadline here (the handshake and CONNECT say
            // their own).
            (Some(Expired::Late(d)), _) => format!(
                "{peer} did not send a whole response head within {} s of the request: check the network, or raise {}",
                d.as_secs_f64(),
                self.names.timeout
            ),
            (Some(Expired::Stalled(d)), _) => format!(
                "{peer} moved under {} KiB in {} s while {doing}, a stall: check the network, or raise {}",
                deadline::MIN_PROGRESS / 1024,
                d.as_secs_f64(),
                self.names.timeout
            ),
            (None, io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock) => format!(
                "{peer} made no progress for {} s while {doing}: check the network, or raise {}",
                self.io_timeout.as_secs_f64(),
                self.names.timeout
            ),
            (
                None,
                io::ErrorKind::ConnectionReset
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::UnexpectedEof,
            ) => {
                format!("{peer} closed the connection while {doing} ({e}); retry, and check the server's logs")
            }
            _ => format!("{doing} to/from {peer} failed: {e}"),
        })
    }
}
