//! Tests of the test harness itself: they need nothing from s3push but that it builds.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{s3_error, S3Server, ScriptedServer, Step, TlsFront};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn server_starts_listens_and_stops() {
    let server = S3Server::start();
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, server.port()));
    assert_eq!(
        server.endpoint(),
        format!("http://127.0.0.1:{}", server.port())
    );
    TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("server listens");
    let root = server.root().to_path_buf();
    assert!(root.is_dir());
    drop(server);
    assert!(
        TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err(),
        "port still open after drop"
    );
    assert!(!root.exists(), "server root not removed");
}

#[test]
fn create_bucket_makes_the_directory() {
    let server = S3Server::start();
    server.create_bucket("smoke-bucket");
    assert!(server.root().join("smoke-bucket").is_dir());
    assert_eq!(server.object_bytes("smoke-bucket", "nothing"), None);
    assert!(!server.has_exact_key("smoke-bucket", "nothing"));
    assert_eq!(server.metadata("smoke-bucket", "nothing"), None);
}

#[test]
fn unsigned_request_is_answered_through_the_tls_front() {
    let server = S3Server::start();
    let front = TlsFront::start(server.port());
    assert_eq!(
        front.endpoint(),
        format!("https://localhost:{}", front.port())
    );
    let reply = String::from_utf8_lossy(&tls_get(&front, front.ca_pem_path()).expect("TLS GET"))
        .into_owned();
    assert!(
        reply.starts_with("HTTP/1.1 "),
        "reply: {reply:?}\nserver log:\n{}",
        server.log()
    );
}

#[test]
fn several_connections_in_a_row_and_at_once() {
    let server = S3Server::start();
    let front = TlsFront::start(server.port());
    for _ in 0..3 {
        tls_get(&front, front.ca_pem_path()).expect("sequential TLS GET");
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| tls_get(&front, front.ca_pem_path())))
            .collect();
        for h in handles {
            let reply = h.join().expect("thread").expect("parallel TLS GET");
            assert!(reply.starts_with(b"HTTP/1.1 "));
        }
    });
}

#[test]
fn client_trusting_another_ca_is_refused() {
    let server = S3Server::start();
    let front = TlsFront::start(server.port());
    let err = tls_get(&front, front.other_ca_pem_path()).expect_err("handshake must fail");
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
    // The front survives a failed handshake.
    tls_get(&front, front.ca_pem_path()).expect("TLS GET after a refused one");
}

#[test]
fn tls_front_stops_listening_when_dropped() {
    let server = S3Server::start();
    let front = TlsFront::start(server.port());
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, front.port()));
    let ca = front.ca_pem_path().to_path_buf();
    // An open, idle connection must not keep the front alive.
    let _idle = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    drop(front);
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
    assert!(!ca.exists(), "CA file not removed");
}

#[test]
fn tls_front_moves_128_mib_byte_exact_and_answers_back() {
    const LEN: u64 = 128 << 20;
    const SEED: u64 = 42;
    // The backend: checks every byte against the expected stream, then answers and closes.
    let sink = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let sink_port = sink.local_addr().unwrap().port();
    let checker = std::thread::spawn(move || -> String {
        let (mut s, _) = sink.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut expected = common::RandomStream::new(SEED);
        let (mut got, mut want) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
        let mut total = 0u64;
        while total < LEN {
            let n = s.read(&mut got).unwrap();
            assert!(n > 0, "EOF after {total} bytes");
            expected.fill(&mut want[..n]);
            assert!(got[..n] == want[..n], "bytes differ near offset {total}");
            total += n as u64;
        }
        s.write_all(format!("got {total}\n").as_bytes()).unwrap();
        format!("got {total}\n")
    });
    let front = TlsFront::start(sink_port);
    let mut tls = tls_stream(&front, front.ca_pem_path()).unwrap();
    let mut source = common::RandomStream::new(SEED);
    let mut block = vec![0u8; 1 << 16];
    let mut sent = 0u64;
    while sent < LEN {
        // Uneven writes: the relay must not depend on record boundaries.
        let n = (1 << 16) - (sent % 977) as usize;
        let n = n.min((LEN - sent) as usize);
        source.fill(&mut block[..n]);
        tls.write_all(&block[..n]).unwrap();
        sent += n as u64;
    }
    tls.flush().unwrap();
    let expected = checker.join().expect("backend checked every byte");
    let mut reply = String::new();
    tls.read_to_string(&mut reply).unwrap();
    assert_eq!(reply, expected);
}

#[test]
fn random_stream_does_not_depend_on_how_it_is_read() {
    let mut whole = vec![0u8; 1000];
    common::RandomStream::new(7).fill(&mut whole);
    let mut pieces = vec![0u8; 1000];
    let mut r = common::RandomStream::new(7);
    let mut at = 0;
    for step in [1, 3, 8, 13, 0, 64, 5].iter().cycle() {
        let end = (at + step).min(1000);
        r.fill(&mut pieces[at..end]);
        at = end;
        if at == 1000 {
            break;
        }
    }
    assert_eq!(whole, pieces);
}

#[test]
fn random_file_is_deterministic_and_sized() {
    let dir = tempfile::tempdir().unwrap();
    for len in [0u64, 1, 7, 8, 65_535, 65_536, 65_537, 1_000_003] {
        let a = common::random_file(dir.path(), &format!("a{len}"), len);
        let b = common::random_file(dir.path(), &format!("b{len}"), len);
        assert_eq!(std::fs::metadata(&a).unwrap().len(), len);
        assert!(common::same_file_contents(&a, &b), "len {len}");
    }
    let short = common::random_file(dir.path(), "short", 1000);
    let long = common::random_file(dir.path(), "long", 1001);
    assert!(!common::same_file_contents(&short, &long));
    let bytes = std::fs::read(&long).unwrap();
    assert!(bytes.iter().any(|&b| b != bytes[0]), "not random-looking");
    // Same length, one byte changed.
    let copy = dir.path().join("copy");
    let mut changed = bytes.clone();
    changed[1000] ^= 1;
    std::fs::write(&copy, &changed).unwrap();
    assert!(!common::same_file_contents(&long, &copy));
    assert!(!common::same_file_contents(
        &long,
        &dir.path().join("missing")
    ));
}

#[test]
fn peak_rss_sees_a_64_mib_allocation() {
    let measure = |mib: u32| {
        let mut cmd = Command::new("python3");
        cmd.env_clear();
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        if let Some(home) = std::env::var_os("HOME") {
            cmd.env("HOME", home); // pyenv shims find their python through it
        }
        cmd.args([
            "-c",
            &format!("import sys; b = bytearray({mib} << 20); b[::4096] = b'x' * len(b[::4096]); sys.exit(3)"),
        ]);
        let (output, peak) = common::peak_rss_kib(cmd);
        assert_eq!(output.status.code(), Some(3), "{output:?}");
        peak
    };
    let (small, big) = (measure(0), measure(64));
    println!("python peak RSS: {small} KiB idle, {big} KiB with 64 MiB");
    let grown = big.saturating_sub(small);
    assert!(
        (60 * 1024..72 * 1024).contains(&grown),
        "grew by {grown} KiB"
    );
}

#[test]
fn scripted_server_answers_and_records_the_head() {
    let server = ScriptedServer::start(vec![vec![
        Step::ReadHead,
        Step::Reply(s3_error("404 Not Found", "NoSuchBucket", "")),
    ]]);
    let mut s = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"PUT /b/k HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 404 Not Found\r\n"), "{reply}");
    assert!(reply.contains("<Code>NoSuchBucket</Code>"));
    drop(s);
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert!(
        seen[0].head.starts_with("PUT /b/k HTTP/1.1\r\n"),
        "{seen:?}"
    );
    assert_eq!(
        seen[0].body_len, 3,
        "the body sent after the answer is counted"
    );
}

#[test]
fn a_dropped_server_ends_its_connections_and_stops_listening() {
    let server = ScriptedServer::start(vec![vec![
        Step::ReadHead,
        Step::Stall(Duration::from_secs(30)),
    ]]);
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, server.port()));
    let mut client = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.connections() < 1 {
        assert!(Instant::now() < deadline, "the server never accepted");
        // Polling the server's counter (not a readiness wait: it listens already).
        std::thread::sleep(Duration::from_millis(5));
    }
    let dropped = Instant::now();
    drop(server);
    assert!(
        dropped.elapsed() < Duration::from_secs(5),
        "the drop waited for the stall: {:?}",
        dropped.elapsed()
    );
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    match client.read(&mut [0u8; 64]) {
        Ok(0) => {}
        Err(e) if !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        other => panic!("the connection outlived the server: {other:?}"),
    }
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
}

/// A raw `GET /` through the front with rustls, trusting only `ca`; the whole reply.
fn tls_get(front: &TlsFront, ca: &Path) -> std::io::Result<Vec<u8>> {
    let mut tls = tls_stream(front, ca)?;
    tls.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    tls.flush()?;
    let mut reply = Vec::new();
    tls.read_to_end(&mut reply)?;
    Ok(reply)
}

/// A rustls client connection to the front for the name localhost, trusting only `ca`.
fn tls_stream(
    front: &TlsFront,
    ca: &Path,
) -> std::io::Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).expect("read CA PEM") {
        roots
            .add(cert.expect("CA PEM parses"))
            .expect("CA accepted");
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = ServerName::try_from("localhost").expect("server name");
    let conn = rustls::ClientConnection::new(Arc::new(config), name).expect("client connection");
    let sock = TcpStream::connect(("127.0.0.1", front.port()))?;
    sock.set_read_timeout(Some(Duration::from_secs(20)))?;
    sock.set_write_timeout(Some(Duration::from_secs(20)))?;
    Ok(rustls::StreamOwned::new(conn, sock))
}
