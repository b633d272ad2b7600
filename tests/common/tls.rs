//! A TLS terminator in front of a plaintext loopback server: a test CA (rcgen), a leaf
//! for localhost / 127.0.0.1 / ::1 signed by it, and a rustls server that pipes the
//! decrypted bytes to the backend and back.
//!
//! Each connection has two threads around one `ServerConnection` behind a mutex:
//! - client -> backend: blocking read of TLS bytes from the client (lock not held), then
//!   under the lock `read_tls` + `process_new_packets`, take the plaintext, write any TLS
//!   output the state machine wants (handshake, alerts); then, unlocked, write the
//!   plaintext to the backend;
//! - backend -> client: blocking read from the backend (lock not held), then under the
//!   lock encrypt it and write the records to the client.
//!
//! The lock is only held for memory work and for writing the few small records the server
//! side sends, so a 300 MiB body flows at full speed while the response still goes back
//! at once. Reads wake every `TICK` to notice the front being dropped or an idle
//! connection (`IDLE`, no bytes either way); a fatal error on either side shuts both
//! sockets, which wakes the other thread. The accept loop, stop and Drop are
//! tests/common/listen.rs.

use super::listen::{Connection, Listening, IDLE, TICK};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// Bytes read from a socket at a time.
const CHUNK: usize = 64 * 1024;

pub struct TlsFront {
    listening: Listening,
    ca_pem: PathBuf,
    other_ca_pem: PathBuf,
    _dir: TempDir,
}

impl TlsFront {
    /// Listens on 127.0.0.1 (a free port) and forwards each TLS connection, decrypted, to
    /// 127.0.0.1:`backend_port`.
    pub fn start(backend_port: u16) -> TlsFront {
        TlsFront::start_serving(None, move |client, conn, config| {
            let _ = relay(client, conn, backend_port, config);
        })
    }

    /// As `start`, presenting `cert` (with its key) instead of the test CA's leaf: e.g. a
    /// self-signed CA certificate used as the server's own.
    pub fn start_with_cert(
        backend_port: u16,
        cert: CertificateDer<'static>,
        key: PrivateKeyDer<'static>,
    ) -> TlsFront {
        TlsFront::start_serving(Some((cert, key)), move |client, conn, config| {
            let _ = relay(client, conn, backend_port, config);
        })
    }

    /// A TLS store that refuses early: on each connection it reads the request head, sends
    /// `answer`, reads 1 MiB more and closes with the rest of the body unread, so the
    /// kernel resets the connection under the client's send, as a store refusing a request
    /// early does.
    pub fn refusing(answer: Vec<u8>) -> TlsFront {
        TlsFront::start_serving(None, move |client, _, config| {
            refuse(client, config, &answer)
        })
    }

    /// Makes the certificates and serves each connection with `handler` and the TLS
    /// settings that present `own` (default: the test CA's leaf).
    fn start_serving<H>(
        own: Option<(CertificateDer<'static>, PrivateKeyDer<'static>)>,
        handler: H,
    ) -> TlsFront
    where
        H: Fn(TcpStream, Connection, Arc<ServerConfig>) + Send + Sync + 'static,
    {
        let dir = tempfile::Builder::new()
            .prefix("s3push-tls-")
            .tempdir()
            .expect("temp dir");
        let pki = TestPki::new();
        let ca_pem = dir.path().join("ca.pem");
        let other_ca_pem = dir.path().join("other-ca.pem");
        std::fs::write(&ca_pem, &pki.ca_pem).expect("write CA PEM");
        std::fs::write(&other_ca_pem, &pki.other_ca_pem).expect("write other CA PEM");

        let (cert, key) = own.unwrap_or((pki.leaf_der, pki.leaf_key));
        let config = server_config(cert, key);

        let listening = Listening::start(move |client, conn| handler(client, conn, config.clone()));
        TlsFront {
            listening,
            ca_pem,
            other_ca_pem,
            _dir: dir,
        }
    }

    pub fn port(&self) -> u16 {
        self.listening.port()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.listening.connections()
    }

    /// `https://localhost:PORT`: a name, so clients verify the host name too.
    pub fn endpoint(&self) -> String {
        format!("https://localhost:{}", self.port())
    }

    /// The PEM of the CA that signed the front's certificate.
    pub fn ca_pem_path(&self) -> &Path {
        &self.ca_pem
    }

    /// The PEM of an unrelated CA: trusting only it must fail verification.
    pub fn other_ca_pem_path(&self) -> &Path {
        &self.other_ca_pem
    }
}

/// The certificates of one front: a CA, a leaf it signed, and an unrelated CA.
/// The servers' TLS settings: ring, the default protocol versions, `cert` and its key.
fn server_config(cert: CertificateDer<'static>, key: PrivateKeyDer<'static>) -> Arc<ServerConfig> {
    let config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .expect("leaf certificate and key match");
    Arc::new(config)
}

/// One connection of [`TlsFront::refusing`]; dropped with the body unread in the socket,
/// so that the kernel sends a reset.
fn refuse(mut sock: TcpStream, config: Arc<ServerConfig>, answer: &[u8]) {
    if sock
        .set_read_timeout(Some(Duration::from_secs(10)))
        .is_err()
    {
        return;
    }
    let Ok(mut tls) = ServerConnection::new(config) else {
        return;
    };
    let mut buf = [0u8; 16 * 1024];
    let mut head = Vec::new();
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let Some(n) = read_plain(&mut tls, &mut sock, &mut buf) else {
            return;
        };
        head.extend_from_slice(&buf[..n]);
    }
    let _ = tls.writer().write_all(answer);
    while tls.wants_write() {
        if tls.write_tls(&mut sock).is_err() {
            return;
        }
    }
    // As a server's lingering close does: reads on a little (1 MiB more, by which time the
    // answer is surely on the wire), then closes with the rest unread.
    let mut more = 0;
    while more < 1024 * 1024 {
        let Some(n) = read_plain(&mut tls, &mut sock, &mut buf) else {
            return;
        };
        more += n;
    }
}

/// The next plaintext from `tls` (completing the handshake, reading records as needed);
/// None at the end of the stream or on an error.
fn read_plain(tls: &mut ServerConnection, sock: &mut TcpStream, buf: &mut [u8]) -> Option<usize> {
    loop {
        if tls.is_handshaking() {
            tls.complete_io(sock).ok()?;
            continue;
        }
        match tls.reader().read(buf) {
            Ok(0) => return None,
            Ok(n) => return Some(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => return None,
        }
        tls.read_tls(sock).ok()?;
        tls.process_new_packets().ok()?;
    }
}

struct TestPki {
    ca_pem: String,
    other_ca_pem: String,
    leaf_der: CertificateDer<'static>,
    leaf_key: PrivateKeyDer<'static>,
}

impl TestPki {
    fn new() -> TestPki {
        let (ca_pem, issuer) = test_ca("s3push test CA");
        let (other_ca_pem, _) = test_ca("s3push unrelated test CA");

        // rustls refuses a self-signed end-entity certificate (CaUsedAsEndEntity): a leaf.
        let mut params = rcgen::CertificateParams::new(vec![
            "localhost".into(),
            "127.0.0.1".into(),
            "::1".into(),
        ])
        .expect("valid subject alt names");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "localhost");
        params.use_authority_key_identifier_extension = true;
        params
            .key_usages
            .push(rcgen::KeyUsagePurpose::DigitalSignature);
        params
            .extended_key_usages
            .push(rcgen::ExtendedKeyUsagePurpose::ServerAuth);
        let key = rcgen::KeyPair::generate().expect("generate leaf key");
        let leaf = params.signed_by(&key, &issuer).expect("sign leaf");
        TestPki {
            ca_pem,
            other_ca_pem,
            leaf_der: leaf.der().clone(),
            leaf_key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        }
    }
}

/// A self-signed CA: its PEM and the issuer that signs leaves with it.
fn test_ca(name: &str) -> (String, rcgen::Issuer<'static, rcgen::KeyPair>) {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("no names");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let key = rcgen::KeyPair::generate().expect("generate CA key");
    let cert = params.self_signed(&key).expect("self-sign CA");
    (cert.pem(), rcgen::Issuer::new(params, key))
}

/// One connection: both sockets, the TLS state, and what both directions share.
struct Link {
    tls: Mutex<ServerConnection>,
    client: TcpStream,
    backend: TcpStream,
    started: Instant,
    /// Milliseconds since `started` at the last byte read from either side.
    last_activity_ms: AtomicU64,
    /// Set on a fatal error: both directions stop.
    failed: AtomicBool,
    conn: Connection,
}

fn relay(
    client: TcpStream,
    conn: Connection,
    backend_port: u16,
    config: Arc<ServerConfig>,
) -> io::Result<()> {
    let backend = conn
        .dial((Ipv4Addr::LOCALHOST, backend_port))
        .ok_or_else(|| io::Error::from(io::ErrorKind::ConnectionRefused))?;
    for s in [&client, &backend] {
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(TICK))?;
        s.set_write_timeout(Some(IDLE))?;
    }
    let mut tls = ServerConnection::new(config).map_err(io::Error::other)?;
    // Responses are small and must never be refused by a full send buffer.
    tls.set_buffer_limit(None);
    let link = Arc::new(Link {
        tls: Mutex::new(tls),
        client,
        backend,
        started: Instant::now(),
        last_activity_ms: AtomicU64::new(0),
        failed: AtomicBool::new(false),
        conn,
    });
    let back = {
        let link = link.clone();
        thread::spawn(move || link.fail_on_error(link.backend_to_client()))
    };
    link.fail_on_error(link.client_to_backend());
    let _ = back.join();
    // Whatever ended the link, both peers see it closed now.
    let _ = link.client.shutdown(Shutdown::Both);
    let _ = link.backend.shutdown(Shutdown::Both);
    Ok(())
}

impl Link {
    /// Decrypts what the client sends and forwards it; ends at the client's close_notify
    /// or EOF by half-closing the backend, so the server still answers.
    fn client_to_backend(&self) -> io::Result<()> {
        let mut buf = vec![0u8; CHUNK];
        let mut plain = Vec::with_capacity(CHUNK);
        // After the backend stops reading (it answered early and closed), the rest of the
        // body is read and dropped, so the client gets the answer rather than a reset.
        let mut backend_open = true;
        while let Some(n) = self.read_some(&self.client, &mut buf)? {
            let peer_closed = n == 0 || self.decrypt(&buf[..n], &mut plain)?;
            if backend_open && !plain.is_empty() && (&self.backend).write_all(&plain).is_err() {
                backend_open = false;
            }
            plain.clear();
            if peer_closed {
                let _ = self.backend.shutdown(Shutdown::Write);
                return Ok(());
            }
        }
        Ok(())
    }

    /// Encrypts what the backend answers; ends at its EOF with close_notify and FIN.
    fn backend_to_client(&self) -> io::Result<()> {
        let mut buf = vec![0u8; CHUNK];
        while let Some(n) = self.read_some(&self.backend, &mut buf)? {
            let mut tls = self.lock()?;
            if n == 0 {
                tls.send_close_notify();
                let _ = write_tls_all(&mut tls, &self.client);
                drop(tls);
                let _ = self.client.shutdown(Shutdown::Write);
                return Ok(());
            }
            tls.writer().write_all(&buf[..n])?;
            write_tls_all(&mut tls, &self.client)?;
        }
        Ok(())
    }

    /// Feeds TLS bytes to the state machine, appends the plaintext to `plain`, and sends
    /// what the server side has to say. True when the client sent close_notify.
    fn decrypt(&self, mut input: &[u8], plain: &mut Vec<u8>) -> io::Result<bool> {
        let mut tls = self.lock()?;
        let mut closed = false;
        let mut chunk = [0u8; 16 * 1024];
        while !input.is_empty() && !closed {
            // 0: close_notify came earlier; what follows it is not data.
            if tls.read_tls(&mut input)? == 0 {
                closed = true;
                break;
            }
            if let Err(e) = tls.process_new_packets() {
                // Send the alert that describes the error, then give up.
                let _ = write_tls_all(&mut tls, &self.client);
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
            loop {
                match tls.reader().read(&mut chunk) {
                    Ok(0) => {
                        closed = true;
                        break;
                    }
                    Ok(k) => plain.extend_from_slice(&chunk[..k]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
        }
        write_tls_all(&mut tls, &self.client)?;
        Ok(closed)
    }

    /// Reads what is there; `Some(0)` at EOF, `None` when the link should end (front
    /// dropped, the other direction failed, or idle too long).
    fn read_some(&self, mut from: &TcpStream, buf: &mut [u8]) -> io::Result<Option<usize>> {
        loop {
            if self.conn.stopping() || self.failed.load(Ordering::SeqCst) {
                return Ok(None);
            }
            match from.read(buf) {
                Ok(n) => {
                    let now = self.started.elapsed().as_millis() as u64;
                    self.last_activity_ms.fetch_max(now, Ordering::SeqCst);
                    return Ok(Some(n));
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    let idle_ms = (self.started.elapsed().as_millis() as u64)
                        .saturating_sub(self.last_activity_ms.load(Ordering::SeqCst));
                    if idle_ms >= IDLE.as_millis() as u64 {
                        return Ok(None);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn lock(&self) -> io::Result<std::sync::MutexGuard<'_, ServerConnection>> {
        self.tls
            .lock()
            .map_err(|_| io::Error::other("TLS state poisoned"))
    }

    /// A failed direction takes the whole link down: shutting both sockets wakes the other.
    fn fail_on_error(&self, result: io::Result<()>) {
        if result.is_err() {
            self.failed.store(true, Ordering::SeqCst);
            let _ = self.client.shutdown(Shutdown::Both);
            let _ = self.backend.shutdown(Shutdown::Both);
        }
    }
}

/// Writes every pending TLS record to the client.
fn write_tls_all(tls: &mut ServerConnection, mut to: &TcpStream) -> io::Result<()> {
    while tls.wants_write() {
        tls.write_tls(&mut to)?;
    }
    Ok(())
}
