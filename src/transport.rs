//! The one module that touches sockets and rustls: connect (every resolved address, with
//! a timeout), proxies (CONNECT tunnels, absolute-form requests), TLS and its trust,
//! writing bytes and file ranges, and reading a response through the sans-IO parsers of
//! [`crate::http`]. Every wait on the socket goes through [`deadline::Timed`]: a response
//! head, a handshake or a CONNECT answer has a deadline, a body a minimum progress.

use crate::error::Refusal;
use crate::http::body::{BodyFraming, ChunkedDecoder};
use crate::http::request::{write_request_head, HeaderError};
use crate::http::response::{ResponseHead, Status};
use crate::interrupt::Stopped;
use crate::report::trace;
use crate::Error;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, StreamOwned};
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod deadline;
mod der;
mod provider;
mod settings;

pub use settings::{Proxy, Trust};

use deadline::{Expired, Limit, Timed};

/// The fixed size of every body copy buffer.
pub const COPY_BUFFER: usize = 8 * 1024;
/// Bound on rustls' buffered plaintext and TLS records, so memory does not follow the body.
const TLS_BUFFER_LIMIT: usize = 64 * 1024;
/// Response bodies (S3 XML) are kept up to this size; the rest is read and dropped.
const MAX_KEPT_BODY: usize = 64 * 1024;
/// A response body longer than this is refused rather than drained.
const MAX_DRAINED_BODY: u64 = 16 * 1024 * 1024;

/// How long a store that failed under the body's send (a reset) has to show its answer.
const EARLY_ANSWER_WAIT: Duration = Duration::from_secs(2);
/// The same after a stalled send: an answer sent during the stall is already here, and
/// waiting longer would add to the stall's `--timeout`.
const STALLED_ANSWER_WAIT: Duration = Duration::from_millis(100);

/// A PEM file in SSL_CERT_DIR larger than this is not a certificate file: skipped.
const MAX_CERT_FILE: u64 = 4 * 1024 * 1024;

/// TLS settings for a run: webpki-roots, plus the CAs of `--ca-bundle`.
pub fn tls_config(ca_bundle: Option<&Path>) -> Result<Arc<ClientConfig>, Error> {
    let trust = Trust {
        ca_bundle_from: "--ca-bundle",
        ..Trust::default()
    };
    tls_config_with(ca_bundle, &trust)
}

/// TLS settings for a run: webpki-roots, plus the user's bundle (`--ca-bundle`,
/// AWS_CA_BUNDLE or the profile's `ca_bundle`), SSL_CERT_FILE and the PEM files of
/// SSL_CERT_DIR. A server that presents exactly one of those certificates as its own (a
/// self-signed CA, the usual MinIO or NAS setup) is accepted too: see [`PinnedOrWebPki`].
pub fn tls_config_with(
    ca_bundle: Option<&Path>,
    trust: &Trust,
) -> Result<Arc<ClientConfig>, Error> {
    let mut roots = RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let mut pinned = Vec::new();
    if let Some(path) = ca_bundle {
        let from = trust.ca_bundle_from;
        let bad = |why: String| {
            Error::Usage(format!(
                "{from} {}: {why}; give a PEM file with -----BEGIN CERTIFICATE----- blocks",
                path.display()
            ))
        };
        let mut added = 0;
        for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad(e.to_string()))? {
            let cert = cert.map_err(|e| bad(e.to_string()))?;
            roots.add(cert.clone()).map_err(|e| bad(e.to_string()))?;
            pinned.push(cert);
            added += 1;
        }
        if added == 0 {
            return Err(bad("no certificate in it".into()));
        }
    }
    // OpenSSL's variables: a file or directory may hold anything (hash links, a README,
    // certificates webpki cannot use as anchors), so what does not parse is skipped.
    let mut system = |path: &Path| {
        if let Ok(certs) = CertificateDer::pem_file_iter(path) {
            for cert in certs.flatten() {
                if roots.add(cert.clone()).is_ok() {
                    pinned.push(cert);
                }
            }
        }
    };
    if let Some(file) = &trust.cert_file {
        system(file);
    }
    for dir in &trust.cert_dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            // Follows symlinks: OpenSSL's hash links point at the PEM files.
            let is_small_file =
                std::fs::metadata(&path).is_ok_and(|m| m.is_file() && m.len() <= MAX_CERT_FILE);
            if is_small_file {
                system(&path);
            }
        }
    }
    let provider = Arc::new(provider::ring_without_keys());
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| Error::Tls(format!("TLS setup failed: {e}")))?;
    let verifier = Arc::new(PinnedOrWebPki { webpki, pinned });
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(format!("TLS setup failed: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The certificate verifier: webpki first, always. Only when webpki refuses a
/// self-signed certificate (a CA used as the server's own, `openssl req -x509`), and the
/// server presented exactly (byte for byte) a certificate the user trusts, is it accepted,
/// with its validity period and host name checked here. Anything else is webpki's answer.
#[derive(Debug)]
struct PinnedOrWebPki {
    webpki: Arc<WebPkiServerVerifier>,
    /// The certificates of the user's bundles (never webpki-roots).
    pinned: Vec<CertificateDer<'static>>,
}

/// Marks a self-signed server certificate that is not in the user's bundles.
#[derive(Debug)]
struct SelfSignedNotTrusted;

impl std::fmt::Display for SelfSignedNotTrusted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("self-signed certificate not in the CA bundle")
    }
}

impl std::error::Error for SelfSignedNotTrusted {}

impl ServerCertVerifier for PinnedOrWebPki {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let refused = match self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Ok(verified) => return Ok(verified),
            Err(e) => e,
        };
        let Some(self_signed) = refused_self_signed(&refused, end_entity) else {
            return Err(refused);
        };
        if !self
            .pinned
            .iter()
            .any(|p| p.as_ref() == end_entity.as_ref())
        {
            return Err(if self_signed {
                rustls::Error::InvalidCertificate(rustls::CertificateError::Other(
                    rustls::OtherError(Arc::new(SelfSignedNotTrusted)),
                ))
            } else {
                refused
            });
        }
        let (not_before, not_after) = der::validity(end_entity.as_ref()).ok_or(
            rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding),
        )?;
        let now_secs = now.as_secs();
        if now_secs < not_before {
            return Err(rustls::CertificateError::NotValidYet.into());
        }
        if now_secs > not_after {
            return Err(rustls::CertificateError::Expired.into());
        }
        let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_name(&parsed, server_name)?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// When webpki's refusal is one a pin may overrule: Some(true) for a self-signed
/// certificate (CaUsedAsEndEntity, or UnknownIssuer with issuer = subject), Some(false)
/// for another UnknownIssuer, None otherwise.
fn refused_self_signed(e: &rustls::Error, cert: &CertificateDer<'_>) -> Option<bool> {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(C::Other(other))
            if format!("{other:?}").contains("CaUsedAsEndEntity") =>
        {
            Some(true)
        }
        rustls::Error::InvalidCertificate(C::UnknownIssuer) => {
            Some(der::issuer_is_subject(cert.as_ref()).unwrap_or(false))
        }
        _ => None,
    }
}

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
}

/// A plain-HTTP proxy carrying this connection's requests (RFC 9112 3.2.2).
struct Forward {
    proxy: String,
    source: &'static str,
    authorization: Option<crate::secret::Secret>,
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
        Connection::open_via(host, port, tls, None, connect_timeout, io_timeout)
    }

    /// As `open`, through `proxy` when given: TLS goes through a CONNECT tunnel (the
    /// proxy resolves `host`, and TLS runs end to end inside), plain HTTP as absolute-form
    /// requests to the proxy (see `write_head`). The proxy's CONNECT answer is awaited
    /// within `connect_timeout`.
    pub fn open_via(
        host: &str,
        port: u16,
        tls: Option<&Arc<ClientConfig>>,
        proxy: Option<&Proxy>,
        connect_timeout: Duration,
        io_timeout: Duration,
    ) -> Result<Connection, Error> {
        let target = authority(host, port);
        let (tcp, peer) = match proxy {
            None => (connect(host, port, connect_timeout, None)?, target.clone()),
            Some(p) => (
                connect(&p.host, p.port, connect_timeout, Some(p))?,
                format!("{target} (through the proxy at {})", p.shown()),
            ),
        };
        let set = |r: io::Result<()>| r.map_err(|e| Error::Network(format!("socket setup: {e}")));
        // Writes go through `Timed`, which looks at its limit after each tick.
        set(tcp.set_write_timeout(Some(deadline::write_tick(io_timeout))))?;
        set(tcp.set_nodelay(true))?;
        let mut forward = None;
        if let Some(p) = proxy {
            if tls.is_some() {
                tunnel(&tcp, p, &target, connect_timeout)?;
            } else {
                forward = Some(Forward {
                    proxy: p.shown(),
                    source: p.source,
                    authorization: p.authorization.clone(),
                });
            }
        }
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
            to: target,
            io_timeout,
            sending: Limit::pace(io_timeout),
            send_stalled: false,
            pending: Vec::new(),
            forward,
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
        let sending = &mut self.sending;
        let result = match &mut self.stream {
            Stream::Plain(s) => Timed::new(s, sending).write_all(bytes),
            Stream::Tls(s) => {
                let mut sock = Timed::new(&s.sock, sending);
                write_into_tls(bytes, &mut s.conn, &mut sock)
                    .and_then(|()| flush_tls(&mut s.conn, &mut sock))
            }
        };
        result.map_err(|e| self.send_error(e, "sending"))
    }

    /// Writes `bytes`, a piece of a body that more will follow (the last piece goes with
    /// `send`, which flushes): over TLS they are sealed into records that leave as
    /// rustls' bounded buffer (TLS_BUFFER_LIMIT) fills, as in `send_reader`.
    pub fn send_body(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let sending = &mut self.sending;
        let result = match &mut self.stream {
            Stream::Plain(s) => Timed::new(s, sending).write_all(bytes),
            Stream::Tls(s) => write_into_tls(bytes, &mut s.conn, &mut Timed::new(&s.sock, sending)),
        };
        result.map_err(|e| self.send_error(e, "sending the body"))
    }

    /// Sends the next `len` bytes of `file` from its current position (see `send_reader`).
    pub fn send_file(&mut self, file: &File, len: u64, path: &Path) -> Result<(), Error> {
        self.send_reader(&mut file.take(len), len, path)
    }

    /// Sends exactly `len` bytes read from `source`. Plain HTTP goes through
    /// `std::io::copy`; TLS through one fixed 8 KiB buffer into rustls; both into the
    /// socket through `Timed`, which ends a stall (see `deadline`). A source that ends
    /// early is a file that changed; a source that reports `interrupt::Stopped` was asked
    /// to stop (a signal, or a failed sibling part).
    pub fn send_reader(
        &mut self,
        source: &mut impl Read,
        len: u64,
        path: &Path,
    ) -> Result<(), Error> {
        let sending = &mut self.sending;
        let sent = match &mut self.stream {
            Stream::Plain(s) => io::copy(source, &mut Timed::new(s, sending)),
            Stream::Tls(s) => copy_into_tls(source, &mut s.conn, &mut Timed::new(&s.sock, sending)),
        };
        let sent = sent.map_err(|e| match classify(&e) {
            Side::Network => self.send_error(e, "sending the body"),
            Side::Stopped => stopped(),
            Side::Local => Error::LocalFile(format!(
                "reading {}: {e}; check the disk and retry",
                path.display()
            )),
        })?;
        if sent < len {
            return Err(changed_during_upload(path));
        }
        // Plain TCP has nothing buffered; copy_into_tls flushed rustls' records.
        Ok(())
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
        let n = match &mut self.stream {
            Stream::Plain(s) => Timed::new(s, limit).read(&mut buf)?,
            Stream::Tls(s) => {
                read_from_tls(&mut s.conn, &mut Timed::new(&s.sock, limit), &mut buf)?
            }
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
            return tls_error(tls, &self.peer);
        }
        let peer = &self.peer;
        Error::Network(match (deadline::expired(&e), e.kind()) {
            // Only a response head has a deadline here (the handshake and CONNECT say
            // their own).
            (Some(Expired::Late(d)), _) => format!(
                "{peer} did not send a whole response head within {} s of the request: check the network, or raise --timeout",
                d.as_secs_f64()
            ),
            (Some(Expired::Stalled(d)), _) => format!(
                "{peer} moved under {} KiB in {} s while {doing}, a stall: check the network, or raise --timeout",
                deadline::MIN_PROGRESS / 1024,
                d.as_secs_f64()
            ),
            (None, io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock) => format!(
                "{peer} made no progress for {} s while {doing}: check the network, or raise --timeout",
                self.io_timeout.as_secs_f64()
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

/// `host:port`, with brackets around an IPv6 literal.
pub fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Resolves `host` and connects to each address in turn (IPv6 and IPv4, in the resolver's
/// order) within `timeout` each. `proxy` is set when `host` is that proxy, for messages.
fn connect(
    host: &str,
    port: u16,
    timeout: Duration,
    proxy: Option<&Proxy>,
) -> Result<TcpStream, Error> {
    let peer = authority(host, port);
    let (what, who, check) = match proxy {
        None => (peer.clone(), "the store", "--endpoint"),
        Some(p) => (format!("the proxy at {peer}"), "the proxy", p.source),
    };
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .map_err(|e| {
            Error::Network(match proxy {
                None => format!(
                    "cannot resolve '{host}' ({e}): check the host in --endpoint, the bucket name, or DNS"
                ),
                Some(p) => format!("cannot resolve the proxy '{host}' ({e}): check {}", p.source),
            })
        })?
        .collect();
    let mut last_error = None;
    for addr in &addrs {
        let started = Instant::now();
        match TcpStream::connect_timeout(addr, timeout) {
            Ok(s) => {
                if trace::level() >= 2 {
                    let at = addr.to_string();
                    let via = if at == peer {
                        String::new()
                    } else {
                        format!(" ({at})")
                    };
                    trace::event(format_args!(
                        "connected to {what}{via} in {:.3} s",
                        started.elapsed().as_secs_f64()
                    ));
                }
                return Ok(s);
            }
            Err(e) => {
                trace::event(format_args!("connecting to {what} ({addr}) failed: {e}"));
                last_error = Some(e);
            }
        }
    }
    Err(match last_error {
        Some(e) if e.kind() == io::ErrorKind::ConnectionRefused => Error::Network(format!(
            "connection refused by {what}: is {who} running there, and is {check} right?"
        )),
        Some(e)
            if matches!(
                e.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ) =>
        {
            Error::Network(format!(
                "no answer from {what} within {} s: check the network or raise --connect-timeout",
                timeout.as_secs_f64()
            ))
        }
        Some(e) => Error::Network(format!("cannot connect to {what}: {e}")),
        None => Error::Network(format!("'{host}' resolved to no address: check DNS")),
    })
}

/// Asks the proxy on `tcp` for a tunnel to `target` (RFC 9110 9.3.6) and reads its answer,
/// the whole exchange within `wait`.
fn tunnel(tcp: &TcpStream, proxy: &Proxy, target: &str, wait: Duration) -> Result<(), Error> {
    let shown = proxy.shown();
    let mut head = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some(auth) = &proxy.authorization {
        head.push_str("Proxy-Authorization: ");
        head.push_str(auth.expose());
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let mut limit = Limit::within(wait);
    let sent = Timed::new(tcp, &mut limit).write_all(head.as_bytes());
    drop(crate::secret::Secret::new(head));
    let late = || {
        Error::Network(format!(
            "the proxy at {shown} did not answer CONNECT within {} s: check {} or raise --connect-timeout",
            wait.as_secs_f64(),
            proxy.source
        ))
    };
    sent.map_err(|e| match is_timeout(&e) {
        true => late(),
        false => Error::Network(format!("sending CONNECT to the proxy at {shown}: {e}")),
    })?;
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let answer = loop {
        match ResponseHead::parse(&got) {
            Ok(Status::Complete(used, head)) => break (head, got.len() > used),
            Ok(Status::Partial) => {}
            Err(e) => {
                return Err(Error::Protocol(format!(
                    "the proxy at {shown} answered CONNECT with something that is not HTTP ({e}), starting {:?}: check {}",
                    first_line(&got),
                    proxy.source
                )))
            }
        }
        // Reads only what one head can be: a tunnel's first bytes belong to TLS.
        let n = match Timed::new(tcp, &mut limit).read(&mut buf) {
            Ok(n) => n,
            Err(e) if is_timeout(&e) => return Err(late()),
            Err(e) => {
                return Err(Error::Network(format!(
                    "reading the CONNECT answer of the proxy at {shown}: {e}"
                )))
            }
        };
        if n == 0 {
            return Err(Error::Network(format!(
                "the proxy at {shown} closed the connection instead of answering CONNECT: check {}",
                proxy.source
            )));
        }
        got.extend_from_slice(&buf[..n]);
    };
    let (head, extra) = answer;
    match head.status {
        200..=299 if !extra => Ok(()),
        200..=299 => Err(Error::Protocol(format!(
            "the proxy at {shown} sent bytes after its CONNECT answer, before TLS started"
        ))),
        407 => Err(proxy_auth_error(
            &shown,
            proxy.source,
            proxy.authorization.is_some(),
        )),
        status => Err(Error::Refused(Box::new(Refusal {
            status_line: head.status_line(),
            status,
            code: None,
            message: None,
            request_id: None,
            hint: Some(format!(
                "the proxy at {shown} (from {}) would not open a tunnel to {target}: ask its administrator to allow it, or list the host in NO_PROXY",
                proxy.source
            )),
            server_date: None,
            region: None,
        }))),
    }
}

/// A proxy's 407: its credentials are missing or wrong (never shown).
fn proxy_auth_error(shown: &str, source: &str, had_credentials: bool) -> Error {
    Error::Credentials(if had_credentials {
        format!(
            "the proxy at {shown} refused the user name and password of the proxy URL in {source} \
             (407 Proxy Authentication Required): check them; @ : / % in them must be written %40 %3A %2F %25"
        )
    } else {
        if source.starts_with("--") {
            // --proxy refuses a password: the command line is visible to every user (ps).
            format!(
                "the proxy at {shown} asks for a user name and password (407 Proxy Authentication Required): \
                 give the proxy in HTTPS_PROXY (HTTP_PROXY for http://) as http://USER:PASSWORD@{shown} \
                 instead of {source}, which keeps passwords off the command line"
            )
        } else {
            format!(
                "the proxy at {shown} asks for a user name and password (407 Proxy Authentication Required): \
                 put them in the proxy URL in {source}, as http://USER:PASSWORD@{shown}"
            )
        }
    })
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
    tcp: TcpStream,
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
    // The whole handshake within --timeout, however its bytes trickle in.
    let mut limit = Limit::within(io_timeout);
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut Timed::new(&tcp, &mut limit)) {
            if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                return Err(tls_error(tls, peer));
            }
            return Err(Error::Network(match e.kind() {
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => format!(
                    "TLS handshake with {peer} did not complete within {} s: is it a TLS port? try http:// or raise --timeout",
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
        rustls::Error::InvalidCertificate(C::Other(other))
            if other.0.is::<SelfSignedNotTrusted>() || format!("{other:?}").contains("CaUsedAsEndEntity") =>
        {
            // `peer` may go on with " (through the proxy ...)": the command wants host:port.
            let server = peer.split(' ').next().unwrap_or(peer);
            format!(
                "the certificate of {peer} is self-signed and not in --ca-bundle: add that very certificate \
                 (the server's cert.pem, or from `openssl s_client -showcerts -connect {server}`) with --ca-bundle FILE.pem"
            )
        }
        // The first bytes back were no TLS record: an HTTP answer to the ClientHello.
        rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType) => format!(
            "{peer} answered in plain HTTP, not TLS: this port speaks plain HTTP; use http:// in --endpoint"
        ),
        other => format!("TLS with {peer} failed: {other}"),
    };
    Error::Tls(text)
}

/// Copies through one fixed 8 KiB buffer into rustls, which seals it into records; the
/// records go to the socket when rustls' bounded buffer (TLS_BUFFER_LIMIT) is full: one
/// writev per ~64 KiB (as curl writes) instead of one per 8 KiB record.
fn copy_into_tls(
    source: &mut impl Read,
    conn: &mut ClientConnection,
    sock: &mut impl Write,
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
        write_into_tls(&buf[..n], conn, sock)?;
        sent += n as u64;
    }
    flush_tls(conn, sock)?;
    Ok(sent)
}

/// Seals `bytes` into records in rustls' bounded buffer, sending the buffer whenever it
/// is full (and only then).
fn write_into_tls(
    mut bytes: &[u8],
    conn: &mut ClientConnection,
    sock: &mut impl Write,
) -> io::Result<()> {
    while !bytes.is_empty() {
        let taken = conn.writer().write(bytes)?;
        bytes = &bytes[taken..];
        if taken == 0 {
            flush_tls(conn, sock)?;
        }
    }
    Ok(())
}

/// Reads plaintext, reading TLS records from the socket as needed, and never writes:
/// `StreamOwned::read` first sends whatever records are still buffered, which after a
/// failed send (a store that answered early and closed) fails again and hides the answer
/// waiting in the socket. A peer that closes without close_notify reads as end of stream;
/// the framing decides whether that truncated anything.
fn read_from_tls(
    conn: &mut ClientConnection,
    sock: &mut impl Read,
    buf: &mut [u8],
) -> io::Result<usize> {
    loop {
        match conn.reader().read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        conn.read_tls(sock)?;
        conn.process_new_packets()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    }
}

fn flush_tls(conn: &mut ClientConnection, sock: &mut impl Write) -> io::Result<()> {
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
