//! Networks as real hosts have them, end to end with the real s3push binary and the real
//! s3s-fs: uploads through a forward proxy (CONNECT for TLS, absolute form for plain
//! HTTP), NO_PROXY, proxy credentials and 407; CAs from the environment; a self-signed
//! server certificate pinned by --ca-bundle; IPv6 loopback; endpoints from the profile.
//! Every object is read back byte for byte.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine;
use common::stage::{assert_failure, run, Stage, BUCKET};
use common::{ProxyMode, SocksProxy, SocksTarget, TestProxy, TlsFront};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SIZE: u64 = (1 << 20) + 7;

/// s3push for `stage`'s server behind `front` (or plain), with no --ca-bundle.
fn bare(stage: &Stage, endpoint: &str) -> Command {
    let mut cmd = common::s3push(stage.home.path());
    cmd.args(["--endpoint", endpoint]);
    cmd
}

fn push(mut cmd: Command, source: &Path, dest: &str) -> Output {
    cmd.arg(source).arg(dest);
    run(cmd)
}

/// Every head the proxy saw is a CONNECT to the store's front.
fn assert_all_connect_to(heads: &[String], front_port: u16) {
    assert!(!heads.is_empty(), "the proxy saw nothing");
    for head in heads {
        assert!(
            head.starts_with(&format!("CONNECT localhost:{front_port} HTTP/1.1\r\n")),
            "not a CONNECT to the store: {head}"
        );
    }
}

fn basic(user: &str, password: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

fn assert_absent(out: &Output, needles: &[&str]) {
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in needles {
        assert!(!all.contains(needle), "{needle:?} was printed: {all}");
    }
}

// ---- proxies ------------------------------------------------------------------------

#[test]
fn tls_upload_through_a_connect_proxy() {
    let stage = Stage::tls();
    let proxy = TestProxy::start(ProxyMode::Open);
    let front_port = stage.front.as_ref().unwrap().port();
    let source = stage.file("tunnel.bin", SIZE);
    let mut cmd = stage.command(&[]);
    cmd.env("HTTPS_PROXY", proxy.url());
    cmd.arg(&source).arg(format!("s3://{BUCKET}/tunnel.bin"));
    let out = run(cmd);
    stage.assert_stored(&out, "tunnel.bin", &source);
    let heads = proxy.heads();
    assert_all_connect_to(&heads, front_port);

    // Multipart: parts on parallel connections, every one through its own tunnel.
    let big = stage.file("tunnel-parts.bin", (12 << 20) + 3);
    let mut cmd = stage.command(&[
        "--multipart-threshold",
        "5M",
        "--part-size",
        "5M",
        "--jobs",
        "2",
    ]);
    cmd.env("https_proxy", proxy.url());
    cmd.arg(&big).arg(format!("s3://{BUCKET}/tunnel-parts.bin"));
    let out = run(cmd);
    stage.assert_stored(&out, "tunnel-parts.bin", &big);
    // Two jobs: at least two more tunnels (kept-alive ones carry several requests each).
    assert!(
        proxy.heads().len() >= heads.len() + 2,
        "{:?}",
        proxy.heads()
    );
}

/// The tunnel adds no buffer that follows the object: peak RSS of a 256 MiB upload
/// through the proxy stays within 512 KiB of a 16 MiB one.
#[test]
fn peak_memory_through_the_proxy_does_not_grow_with_the_object() {
    let stage = Stage::tls();
    let proxy = TestProxy::start(ProxyMode::Open);
    let mut peaks = Vec::new();
    for (name, len) in [("rss-16m.bin", 16u64 << 20), ("rss-256m.bin", 256 << 20)] {
        let path = stage.files.path().join(name);
        std::fs::File::create(&path).unwrap().set_len(len).unwrap();
        let mut cmd = stage.command(&["--multipart-threshold", "1G"]);
        cmd.env("HTTPS_PROXY", proxy.url());
        cmd.arg(&path).arg(format!("s3://{BUCKET}/{name}"));
        let (out, peak) = common::peak_rss_kib(cmd);
        assert!(out.status.success(), "{}", stage.describe(&out));
        println!("peak RSS, {len} bytes over TLS through the CONNECT proxy: {peak} KiB");
        peaks.push(peak);
        let _ = std::fs::remove_file(stage.server.object_path(BUCKET, name));
    }
    assert!(proxy.heads().len() >= 2);
    assert!(
        peaks[1] < peaks[0] + 512,
        "peak RSS grew with the object: {} KiB for 16 MiB, {} KiB for 256 MiB",
        peaks[0],
        peaks[1]
    );
}

#[test]
fn plain_http_through_a_proxy_uses_the_absolute_form() {
    let stage = Stage::http();
    let proxy = TestProxy::start(ProxyMode::Open);
    let port = stage.server.port();
    for (i, payload) in ["signed", "streaming"].iter().enumerate() {
        let key = format!("forwarded-{i}.bin");
        let source = stage.file(&key, SIZE);
        let mut cmd = stage.command(&["--payload", payload]);
        cmd.env("HTTP_PROXY", proxy.url());
        cmd.arg(&source).arg(format!("s3://{BUCKET}/{key}"));
        let out = run(cmd);
        // s3s-fs verified the signature: it covers the real host and path.
        stage.assert_stored(&out, &key, &source);
    }
    let heads = proxy.heads();
    assert!(heads.len() >= 2, "{heads:?}");
    for head in &heads {
        assert!(
            head.starts_with(&format!("PUT http://127.0.0.1:{port}/{BUCKET}/forwarded-")),
            "not an absolute-form PUT: {head}"
        );
        assert!(!head.to_ascii_lowercase().contains("proxy-authorization"));
    }
}

#[test]
fn no_proxy_goes_direct() {
    let tls = Stage::tls();
    let proxy = TestProxy::start(ProxyMode::Open);
    let source = tls.file("direct.bin", SIZE);
    for (name, no_proxy) in [
        ("NO_PROXY", "localhost"),
        ("no_proxy", "example.com, .localhost"),
    ] {
        let mut cmd = tls.command(&[]);
        cmd.env("HTTPS_PROXY", proxy.url()).env(name, no_proxy);
        cmd.arg(&source).arg(format!("s3://{BUCKET}/direct.bin"));
        let out = run(cmd);
        tls.assert_stored(&out, "direct.bin", &source);
    }
    let http = Stage::http();
    let source = http.file("direct-http.bin", SIZE);
    for no_proxy in [
        "127.0.0.0/8",
        "*",
        format!("127.0.0.1:{}", http.server.port()).as_str(),
    ] {
        let mut cmd = http.command(&[]);
        cmd.env("http_proxy", proxy.url()).env("NO_PROXY", no_proxy);
        cmd.arg(&source)
            .arg(format!("s3://{BUCKET}/direct-http.bin"));
        let out = run(cmd);
        http.assert_stored(&out, "direct-http.bin", &source);
    }
    assert_eq!(
        proxy.connections(),
        0,
        "the proxy was used: {:?}",
        proxy.heads()
    );
}

#[test]
fn proxy_option_overrides_the_environment() {
    let stage = Stage::tls();
    let proxy = TestProxy::start(ProxyMode::Open);
    let dead = format!("http://127.0.0.1:{}", common::closed_port());
    let source = stage.file("flag.bin", SIZE);

    let mut cmd = stage.command(&["--proxy", "none"]);
    cmd.env("HTTPS_PROXY", &dead);
    let out = push(cmd, &source, &format!("s3://{BUCKET}/flag.bin"));
    stage.assert_stored(&out, "flag.bin", &source);
    assert_eq!(proxy.connections(), 0);

    let mut cmd = stage.command(&["--proxy", &proxy.url()]);
    cmd.env("HTTPS_PROXY", &dead);
    let out = push(cmd, &source, &format!("s3://{BUCKET}/flag.bin"));
    stage.assert_stored(&out, "flag.bin", &source);
    assert!(
        proxy.heads()[0].starts_with("CONNECT "),
        "{:?}",
        proxy.heads()
    );

    // The proxy from the environment, refusing connections: a network error naming it.
    let mut cmd = stage.command(&["--retries", "0"]);
    cmd.env("HTTPS_PROXY", &dead);
    let out = push(cmd, &source, &format!("s3://{BUCKET}/flag.bin"));
    assert_failure(&out, 5, &["proxy", "HTTPS_PROXY"]);
}

#[test]
fn proxy_asking_for_credentials_is_a_clear_error() {
    let proxy = TestProxy::start(ProxyMode::RequireAuth(basic("alice", "s3cr3t")));
    let tls = Stage::tls();
    let source = tls.file("denied.bin", SIZE);
    let mut cmd = tls.command(&[]);
    cmd.env("HTTPS_PROXY", proxy.url());
    let out = push(cmd, &source, &format!("s3://{BUCKET}/denied.bin"));
    assert_failure(
        &out,
        4,
        &["407", "HTTPS_PROXY", "http://USER:PASSWORD@127.0.0.1:"],
    );
    assert!(!tls.server.has_exact_key(BUCKET, "denied.bin"));

    let http = Stage::http();
    let mut cmd = http.command(&[]);
    cmd.env("http_proxy", proxy.url());
    let out = push(cmd, &source, &format!("s3://{BUCKET}/denied.bin"));
    assert_failure(&out, 4, &["407", "http_proxy", "USER:PASSWORD@"]);

    // Wrong credentials: said so, and never shown.
    let mut cmd = tls.command(&[]);
    cmd.env("HTTPS_PROXY", proxy.url_with("alice:wrong-Pa55"));
    let out = push(cmd, &source, &format!("s3://{BUCKET}/denied.bin"));
    assert_failure(&out, 4, &["407", "refused the user name and password"]);
    assert_absent(
        &out,
        &["wrong-Pa55", "alice", &basic("alice", "wrong-Pa55")],
    );
    // Not retried: a 407 does not change by itself.
    assert_eq!(proxy.connections(), 3);

    // Issue 15.9: a proxy from --proxy asking for credentials points to HTTPS_PROXY, not
    // to putting a password on the command line, which --proxy refuses.
    let out = push(
        tls.command(&["--proxy", &proxy.url()]),
        &source,
        &format!("s3://{BUCKET}/denied.bin"),
    );
    assert_failure(&out, 4, &["407", "give the proxy in HTTPS_PROXY"]);
}

// ---- SOCKS5 and https:// proxies (issue 18.5) ------------------------------------------

/// socks5h:// from --proxy: the proxy is given the store's name to resolve, and TLS runs
/// end to end inside the tunnel, for the single PUT and for parallel parts.
#[test]
fn tls_upload_through_socks5h_from_the_proxy_option() {
    let stage = Stage::tls();
    let socks = SocksProxy::start(None);
    let front_port = stage.front.as_ref().unwrap().port();
    let url = format!("socks5h://127.0.0.1:{}", socks.port());
    let source = stage.file("socks.bin", SIZE);
    let out = push(
        stage.command(&["--proxy", &url]),
        &source,
        &format!("s3://{BUCKET}/socks.bin"),
    );
    stage.assert_stored(&out, "socks.bin", &source);
    let big = stage.file("socks-parts.bin", (10 << 20) + 3);
    let flags = [
        "--proxy",
        &url,
        "--multipart-threshold",
        "5M",
        "--part-size",
        "5M",
        "--jobs",
        "2",
    ];
    let out = push(
        stage.command(&flags),
        &big,
        &format!("s3://{BUCKET}/socks-parts.bin"),
    );
    stage.assert_stored(&out, "socks-parts.bin", &big);
    let asked = socks.asked();
    assert!(asked.len() >= 3, "{asked:?}");
    for target in &asked {
        assert_eq!(target, &SocksTarget::Name("localhost".into(), front_port));
    }
}

/// socks5:// from ALL_PROXY, with a user name and password (RFC 1929): the name is
/// resolved here and the proxy given the address; plain HTTP goes through the tunnel in
/// origin form. A wrong password is a credentials error that never shows it; NO_PROXY
/// still goes direct.
#[test]
fn plain_upload_through_socks5_with_a_login_from_all_proxy() {
    let stage = Stage::http();
    let socks = SocksProxy::start(Some(("alice", "s3cr3t")));
    let port = stage.server.port();
    let endpoint = format!("http://localhost:{port}");
    let source = stage.file("socks-login.bin", SIZE);
    let mut cmd = bare(&stage, &endpoint);
    cmd.env(
        "ALL_PROXY",
        format!("socks5://alice:s3cr3t@127.0.0.1:{}", socks.port()),
    );
    let out = push(cmd, &source, &format!("s3://{BUCKET}/socks-login.bin"));
    stage.assert_stored(&out, "socks-login.bin", &source);
    let asked = socks.asked();
    assert!(!asked.is_empty());
    for target in &asked {
        assert_eq!(
            target,
            &SocksTarget::Address("127.0.0.1".parse().unwrap(), port)
        );
    }

    let mut cmd = bare(&stage, &endpoint);
    cmd.env(
        "all_proxy",
        format!("socks5://alice:wrong-Pa55@127.0.0.1:{}", socks.port()),
    );
    let out = push(cmd, &source, &format!("s3://{BUCKET}/refused.bin"));
    assert_failure(
        &out,
        4,
        &["SOCKS5", "refused the user name and password", "all_proxy"],
    );
    assert_absent(&out, &["wrong-Pa55", "alice"]);
    assert_eq!(socks.refused(), 1, "not retried");
    assert!(!stage.server.has_exact_key(BUCKET, "refused.bin"));

    let mut cmd = bare(&stage, &endpoint);
    cmd.env(
        "ALL_PROXY",
        format!("socks5://alice:s3cr3t@127.0.0.1:{}", socks.port()),
    )
    .env("NO_PROXY", "localhost");
    let before = socks.asked().len();
    let out = push(cmd, &source, &format!("s3://{BUCKET}/direct.bin"));
    stage.assert_stored(&out, "direct.bin", &source);
    assert_eq!(
        socks.asked().len(),
        before,
        "NO_PROXY went through the proxy"
    );
}

/// An https:// proxy: TLS to the proxy (its CA from SSL_CERT_FILE), CONNECT inside it,
/// then TLS to the store inside that.
#[test]
fn tls_upload_through_an_https_proxy() {
    let stage = Stage::tls();
    let proxy = TestProxy::start(ProxyMode::Open);
    let proxy_front = TlsFront::start(proxy.port());
    let front_port = stage.front.as_ref().unwrap().port();
    let source = stage.file("https-proxy.bin", SIZE);
    let mut cmd = stage.command(&["-vv"]);
    cmd.env(
        "HTTPS_PROXY",
        format!("https://localhost:{}", proxy_front.port()),
    )
    .env("SSL_CERT_FILE", proxy_front.ca_pem_path());
    let out = push(cmd, &source, &format!("s3://{BUCKET}/https-proxy.bin"));
    stage.assert_stored(&out, "https-proxy.bin", &source);
    let heads = proxy.heads();
    assert_all_connect_to(&heads, front_port);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "TLS handshake with the proxy at localhost:{}",
            proxy_front.port()
        )),
        "{stderr}"
    );

    // Not trusting the proxy's CA: a TLS error naming the proxy.
    let mut cmd = stage.command(&[]);
    cmd.env(
        "HTTPS_PROXY",
        format!("https://localhost:{}", proxy_front.port()),
    );
    let out = push(cmd, &source, &format!("s3://{BUCKET}/untrusted.bin"));
    assert_failure(&out, 6, &["the proxy at localhost:"]);
}

/// An https:// proxy in front of a plain-http store trusts what the store would:
/// `--ca-bundle` and AWS_CA_BUNDLE too (was: only the built-in roots and the system's
/// bundle, whatever the user gave).
#[test]
fn https_proxy_before_a_plain_http_store_trusts_the_ca_bundle() {
    let stage = Stage::http();
    let proxy = TestProxy::start(ProxyMode::Open);
    let proxy_front = TlsFront::start(proxy.port());
    let port = stage.server.port();
    let url = format!("https://localhost:{}", proxy_front.port());
    let source = stage.file("https-proxy-plain.bin", SIZE);
    let mut cmd = stage.command(&["-vv", "--ca-bundle"]);
    cmd.arg(proxy_front.ca_pem_path()).env("HTTP_PROXY", &url);
    let out = push(
        cmd,
        &source,
        &format!("s3://{BUCKET}/https-proxy-plain.bin"),
    );
    stage.assert_stored(&out, "https-proxy-plain.bin", &source);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "TLS handshake with the proxy at localhost:{}",
            proxy_front.port()
        )),
        "{stderr}"
    );
    let mut cmd = stage.command(&[]);
    cmd.env("HTTP_PROXY", &url)
        .env("AWS_CA_BUNDLE", proxy_front.ca_pem_path());
    let out = push(cmd, &source, &format!("s3://{BUCKET}/https-proxy-env.bin"));
    stage.assert_stored(&out, "https-proxy-env.bin", &source);
    let heads = proxy.heads();
    assert!(heads.len() >= 2, "{heads:?}");
    for head in &heads {
        assert!(
            head.starts_with(&format!(
                "PUT http://127.0.0.1:{port}/{BUCKET}/https-proxy-"
            )),
            "not an absolute-form PUT: {head}"
        );
    }
}

/// Issue 15.9: `https://` to a port that speaks plain HTTP says so and names `http://`
/// (was: "received corrupt message of type InvalidContentType").
#[test]
fn https_to_a_plain_http_port_says_so() {
    let stage = Stage::http();
    let source = stage.file("plain.bin", SIZE);
    let endpoint = stage.server.endpoint().replace("http://", "https://");
    let mut cmd = common::s3push(stage.home.path());
    cmd.args(["--endpoint", &endpoint, "--retries", "0"]);
    let out = push(cmd, &source, &format!("s3://{BUCKET}/plain.bin"));
    assert_failure(&out, 6, &["this port speaks plain HTTP", "http://"]);
}

#[test]
fn proxy_credentials_reach_the_proxy_and_nothing_else() {
    let password = "p@ss:w0rd/%";
    let encoded = "p%40ss%3Aw0rd%2F%25";
    let expected = basic("alice", password);
    let proxy = TestProxy::start(ProxyMode::RequireAuth(expected.clone()));
    let url = proxy.url_with(&format!("alice:{encoded}"));
    let secrets = [password, encoded, expected.as_str(), &expected[6..]];

    let tls = Stage::tls();
    let source = tls.file("authed.bin", SIZE);
    let mut cmd = tls.command(&[]);
    cmd.env("HTTPS_PROXY", &url);
    let out = push(cmd, &source, &format!("s3://{BUCKET}/authed.bin"));
    tls.assert_stored(&out, "authed.bin", &source);
    assert_absent(&out, &secrets);

    let http = Stage::http();
    let mut cmd = http.command(&[]);
    cmd.env("HTTP_PROXY", &url);
    let out = push(cmd, &source, &format!("s3://{BUCKET}/authed.bin"));
    http.assert_stored(&out, "authed.bin", &source);
    assert_absent(&out, &secrets);
    // On the command line a password would show in `ps`: refused, pointing to the variable.
    let cmd = http.command(&["--proxy", &url]);
    let out = push(cmd, &source, &format!("s3://{BUCKET}/authed.bin"));
    assert_failure(&out, 2, &["HTTPS_PROXY"]);
    assert_absent(&out, &secrets);

    let heads = proxy.heads();
    assert!(heads.len() >= 2);
    for head in &heads {
        assert!(
            head.contains(&format!("\r\nProxy-Authorization: {expected}"))
                || head.contains(&format!("\r\nproxy-authorization: {expected}")),
            "{head}"
        );
    }
    // A failure after the proxy (the store refuses the signature) does not show them either.
    let mut cmd = http.command(&[]);
    cmd.env("HTTP_PROXY", &url);
    cmd.env("AWS_SECRET_ACCESS_KEY", "not-the-key");
    let out = push(cmd, &source, &format!("s3://{BUCKET}/refused.bin"));
    assert_failure(&out, 7, &["403"]);
    assert_absent(&out, &secrets);
    // A broken proxy URL names its variable, not its text.
    let mut cmd = http.command(&[]);
    cmd.env(
        "HTTP_PROXY",
        format!("socks4://alice:{encoded}@127.0.0.1:1"),
    );
    let out = push(cmd, &source, &format!("s3://{BUCKET}/authed.bin"));
    assert_failure(&out, 2, &["HTTP_PROXY", "socks5h://"]);
    assert_absent(&out, &secrets);
}

// ---- trust --------------------------------------------------------------------------

/// A self-signed certificate that is its own CA (`openssl req -x509` does this), for
/// `names`; valid now, or expired since 2021.
fn self_signed_ca(
    names: &[&str],
    expired: bool,
) -> (String, CertificateDer<'static>, PrivateKeyDer<'static>) {
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, names[0]);
    if expired {
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    (
        cert.pem(),
        cert.der().clone(),
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    )
}

fn write(stage: &Stage, name: &str, text: &str) -> PathBuf {
    let path = stage.files.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn self_signed_server_certificate_in_the_bundle_is_accepted() {
    let stage = Stage::http();
    let (pem, der, key) = self_signed_ca(&["localhost"], false);
    let front = TlsFront::start_with_cert(stage.server.port(), der, key);
    let own = write(&stage, "own.pem", &pem);
    let (other_pem, _, _) = self_signed_ca(&["localhost"], false);
    let other = write(&stage, "other.pem", &other_pem);
    // The pinned certificate among others in the bundle still counts.
    let both = write(&stage, "both.pem", &format!("{other_pem}{pem}"));
    let source = stage.file("pinned.bin", SIZE);
    let dest = format!("s3://{BUCKET}/pinned.bin");

    for bundle in [&own, &both] {
        let mut cmd = bare(&stage, &front.endpoint());
        cmd.arg("--ca-bundle").arg(bundle);
        let out = push(cmd, &source, &dest);
        stage.assert_stored(&out, "pinned.bin", &source);
    }
    // SSL_CERT_FILE is the user's too.
    let mut cmd = bare(&stage, &front.endpoint());
    cmd.env("SSL_CERT_FILE", &both);
    let out = push(cmd, &source, &dest);
    stage.assert_stored(&out, "pinned.bin", &source);

    // Another self-signed certificate, or none: refused, saying what to do.
    let mut cmd = bare(&stage, &front.endpoint());
    cmd.arg("--ca-bundle").arg(&other);
    let out = push(cmd, &source, &dest);
    assert_failure(
        &out,
        6,
        &["self-signed", "not in --ca-bundle", "--ca-bundle FILE.pem"],
    );
    let out = push(bare(&stage, &front.endpoint()), &source, &dest);
    assert_failure(&out, 6, &["self-signed", "--ca-bundle"]);

    // Pinned, but the name is still checked: the certificate names localhost only.
    let mut cmd = bare(&stage, &format!("https://127.0.0.1:{}", front.port()));
    cmd.arg("--ca-bundle").arg(&own);
    let out = push(cmd, &source, &dest);
    assert_failure(&out, 6, &["not valid for that name"]);
}

#[test]
fn pinned_self_signed_certificate_must_be_in_its_validity_period() {
    let stage = Stage::http();
    let (pem, der, key) = self_signed_ca(&["localhost"], true);
    let front = TlsFront::start_with_cert(stage.server.port(), der, key);
    let own = write(&stage, "expired.pem", &pem);
    let source = stage.file("expired.bin", 10);
    let mut cmd = bare(&stage, &front.endpoint());
    cmd.arg("--ca-bundle").arg(&own);
    let out = push(cmd, &source, &format!("s3://{BUCKET}/expired.bin"));
    assert_failure(&out, 6, &["expired"]);
}

#[test]
fn cas_from_the_environment() {
    let stage = Stage::tls();
    let front = stage.front.as_ref().unwrap();
    let ca = front.ca_pem_path();
    let source = stage.file("env-ca.bin", SIZE);
    let dest = format!("s3://{BUCKET}/env-ca.bin");

    let dir = tempfile::TempDir::new().unwrap();
    std::fs::copy(ca, dir.path().join("private-ca.pem")).unwrap();
    std::fs::write(dir.path().join("README"), "not a certificate\n").unwrap();
    std::fs::copy(front.other_ca_pem_path(), dir.path().join("other.crt")).unwrap();
    let dirs = format!("/nonexistent-s3push:{}", dir.path().display());

    for (name, value) in [
        ("AWS_CA_BUNDLE", ca.display().to_string()),
        ("SSL_CERT_FILE", ca.display().to_string()),
        ("SSL_CERT_DIR", dirs),
    ] {
        let mut cmd = bare(&stage, &front.endpoint());
        cmd.env(name, &value);
        let out = push(cmd, &source, &dest);
        stage.assert_stored(&out, "env-ca.bin", &source);
    }

    // Without them the CA is unknown; a missing AWS_CA_BUNDLE is named.
    let out = push(bare(&stage, &front.endpoint()), &source, &dest);
    assert_failure(&out, 6, &["--ca-bundle"]);
    let mut cmd = bare(&stage, &front.endpoint());
    cmd.env("AWS_CA_BUNDLE", "/nonexistent/ca.pem");
    let out = push(cmd, &source, &dest);
    assert_failure(&out, 2, &["AWS_CA_BUNDLE", "/nonexistent/ca.pem"]);
    // --ca-bundle wins over AWS_CA_BUNDLE.
    let mut cmd = stage.command(&[]);
    cmd.env("AWS_CA_BUNDLE", "/nonexistent/ca.pem");
    let out = push(cmd, &source, &dest);
    stage.assert_stored(&out, "env-ca.bin", &source);
}

// ---- addressing ---------------------------------------------------------------------

#[test]
fn ipv6_loopback_literal() {
    let stage = Stage::tls();
    let relay = match TestProxy::relay_from_ipv6(stage.server.port()) {
        Ok(r) => r,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let source = stage.file("v6.bin", SIZE);
    let out = push(
        bare(&stage, &format!("http://[::1]:{}", relay.port())),
        &source,
        &format!("s3://{BUCKET}/v6.bin"),
    );
    stage.assert_stored(&out, "v6.bin", &source);

    // TLS to an IPv6 literal: the certificate's ::1 address is checked.
    let front_port = stage.front.as_ref().unwrap().port();
    let tls_relay = TestProxy::relay_from_ipv6(front_port).unwrap();
    let mut cmd = bare(&stage, &format!("https://[::1]:{}", tls_relay.port()));
    cmd.arg("--ca-bundle")
        .arg(stage.front.as_ref().unwrap().ca_pem_path());
    let out = push(cmd, &source, &format!("s3://{BUCKET}/v6-tls.bin"));
    stage.assert_stored(&out, "v6-tls.bin", &source);
}

#[test]
fn endpoint_and_addressing_from_the_profile() {
    let stage = Stage::http();
    let aws = stage.home.path().join(".aws");
    std::fs::create_dir_all(&aws).unwrap();
    let config = format!(
        "[default]\nservices = local\ns3 =\n  addressing_style = path\n\n[services local]\ns3 =\n  endpoint_url = {}\n\n\
         [profile plain]\nendpoint_url = {}\n\n[profile virtual]\nendpoint_url = {}\ns3 =\n  addressing_style = virtual\n",
        stage.server.endpoint(),
        stage.server.endpoint(),
        stage.server.endpoint()
    );
    std::fs::write(aws.join("config"), config).unwrap();
    let source = stage.file("profile.bin", SIZE);
    for profile in ["default", "plain"] {
        let mut cmd = common::s3push(stage.home.path());
        cmd.env("AWS_PROFILE", profile);
        let out = push(cmd, &source, &format!("s3://{BUCKET}/profile.bin"));
        stage.assert_stored(&out, "profile.bin", &source);
    }
    // Virtual-hosted addressing cannot put a bucket in front of an IP address.
    let mut cmd = common::s3push(stage.home.path());
    cmd.env("AWS_PROFILE", "virtual");
    let out = push(cmd, &source, &format!("s3://{BUCKET}/profile.bin"));
    assert_failure(&out, 2, &["addressing_style = virtual", "path"]);
}

#[test]
fn aws_endpoint_choices_are_checked_before_any_connection() {
    let home = tempfile::TempDir::new().unwrap();
    let source = common::random_file(home.path(), "f.bin", 10);
    let cases: &[(&[&str], &str, &[&str])] = &[
        (
            &["--dualstack", "--endpoint", "http://127.0.0.1:1"],
            "s3://b/k",
            &["--dualstack", "custom endpoint"],
        ),
        (
            &["--fips", "--endpoint", "http://127.0.0.1:1"],
            "s3://b/k",
            &["--fips"],
        ),
        (&["--accelerate", "--fips"], "s3://bucket/k", &["FIPS"]),
        (
            &["--accelerate", "--path-style"],
            "s3://bucket/k",
            &["virtual-hosted"],
        ),
        (
            &["--accelerate"],
            "s3://my.dotted.bucket/k",
            &["Transfer Acceleration"],
        ),
        (
            &["--proxy", "socks4://proxy:3128"],
            "s3://bucket/k",
            &["--proxy", "SOCKS4 is not supported", "socks5h://"],
        ),
    ];
    for (flags, dest, needles) in cases {
        let mut cmd = common::s3push(home.path());
        cmd.args(*flags).arg(&source).arg(dest);
        let out = run(cmd);
        assert_failure(&out, 2, needles);
    }
}
