//! Presigned URLs end to end: `s3push presign` makes a URL, curl and `s3push FILE URL`
//! upload through it to the real s3s-fs (which verifies SigV4 and SigV2 presigned
//! queries), over HTTP and TLS, and every object is read back byte for byte. An expired
//! URL is refused by the store; a URL destination goes out byte for byte and unsigned,
//! and `--no-sign-request` sends no Authorization (scripted server).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::stage::{self, assert_failure, describe, Stage, BUCKET};
use common::{ScriptedServer, Step};
use s3push::sign::presign::{self, Signer, V4Presign};
use s3push::sign::time::Timestamp;
use s3push::sign::uri::encode_path;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

/// `s3push presign FLAGS s3://test-bucket/KEY` aimed at the stage; returns the URL and
/// stderr.
fn presign(stage: &Stage, flags: &[&str], key: &str) -> (String, String) {
    let mut cmd = common::s3push(stage.home.path());
    cmd.arg("presign");
    match &stage.front {
        Some(front) => cmd.args(["--endpoint", &front.endpoint()]),
        None => cmd.args(["--endpoint", &stage.server.endpoint()]),
    };
    cmd.args(flags).arg(format!("s3://{BUCKET}/{key}"));
    let out = common::run_bounded(cmd, LIMIT);
    assert_eq!(out.status.code(), Some(0), "presign: {}", describe(&out));
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(stdout.lines().count(), 1, "one line: {stdout:?}");
    assert!(!stdout.contains(common::SECRET_KEY), "the secret leaked");
    (
        stdout.trim_end().to_string(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `s3push FLAGS FILE URL` with no credentials at all in its environment.
fn push_to_url(home: &Path, flags: &[&str], file: &Path, url: &str) -> Output {
    let mut cmd = common::s3push(home);
    cmd.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY");
    cmd.args(flags).arg(file).arg(url);
    common::run_bounded(cmd, LIMIT)
}

/// `curl -T FILE URL` (with `headers`): the HTTP status, or None (with the reason
/// printed) when curl is not installed.
fn curl_put(file: &Path, url: &str, headers: &[&str], ca: Option<&Path>) -> Option<u16> {
    if Command::new("curl").arg("--version").output().is_err() {
        eprintln!("skipped: curl is not installed, so the URL is not tried with curl");
        return None;
    }
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T"])
        .arg(file);
    for h in headers {
        cmd.args(["-H", h]);
    }
    if let Some(ca) = ca {
        cmd.arg("--cacert").arg(ca);
    }
    cmd.arg(url);
    let out = common::run_bounded(cmd, LIMIT);
    let code = String::from_utf8_lossy(&out.stdout).trim().parse().ok();
    assert!(code.is_some(), "curl: {}", describe(&out));
    code
}

fn assert_stored_at(stage: &Stage, out: &Output, key: &str, file: &Path) {
    assert_eq!(out.status.code(), Some(0), "{}", stage.describe(out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("uploaded http"), "{stdout}");
    assert!(
        !stdout.contains("Signature"),
        "the URL's signature is shown: {stdout}"
    );
    assert_same(stage, key, file);
}

fn assert_same(stage: &Stage, key: &str, file: &Path) {
    assert!(
        stage.server.has_exact_key(BUCKET, key),
        "no object {key:?}: {}",
        stage.server.log()
    );
    assert!(
        common::same_file_contents(file, &stage.server.object_path(BUCKET, key)),
        "stored bytes of {key:?} differ"
    );
}

#[test]
fn v4_url_takes_curl_and_s3push_over_http() {
    let stage = Stage::http();
    let file = stage.file("report.bin", 3 * 1024 * 1024 + 17);
    let (url, _) = presign(&stage, &["--expires", "15m"], "dir/a b+c.bin");
    assert!(url.contains("/test-bucket/dir/a%20b%2Bc.bin?X-Amz-Algorithm=AWS4-HMAC-SHA256&"));
    assert!(url.contains("&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature="));
    if curl_put(&file, &url, &[], None).is_some_and(|code| code != 200) {
        panic!("curl was refused: {}", stage.server.log());
    }
    assert_same(&stage, "dir/a b+c.bin", &file);

    let other = stage.file("other.bin", 100_000);
    let (url, _) = presign(&stage, &[], "second.bin");
    let out = push_to_url(stage.home.path(), &[], &other, &url);
    assert_stored_at(&stage, &out, "second.bin", &other);
}

/// S3 refuses x-amz-* headers a presigned URL did not sign: s3push does not send them.
/// An ACL given to presign rides in the signed query, so the upload needs no header.
#[test]
fn unsigned_amz_headers_are_not_sent_to_a_presigned_url() {
    let stage = Stage::http();
    let file = stage.file("acl.bin", 20_000);
    let (url, notes) = presign(&stage, &["--acl", "public-read"], "acl.bin");
    assert!(
        url.contains("&x-amz-acl=public-read&X-Amz-Signature="),
        "{url}"
    );
    assert!(notes.is_empty(), "no header to send: {notes}");
    for (flags, needle) in [
        (&["--acl", "public-read"][..], "x-amz-acl"),
        (&["--checksum", "crc32"], "x-amz-checksum-crc32"),
        (&["--meta", "owner=alice"], "x-amz-meta-owner"),
    ] {
        let out = push_to_url(stage.home.path(), flags, &file, &url);
        assert_failure(&out, 2, &[needle, "not presigned with"]);
    }
    let out = push_to_url(stage.home.path(), &["--content-md5"], &file, &url);
    assert_stored_at(&stage, &out, "acl.bin", &file);
}

#[test]
fn a_signed_content_type_must_be_sent_as_signed() {
    let stage = Stage::http();
    let file = stage.file("a.csv", 5000);
    let (url, notes) = presign(&stage, &["--content-type", "text/csv"], "a.csv");
    assert!(
        url.contains("X-Amz-SignedHeaders=content-type%3Bhost"),
        "{url}"
    );
    assert!(notes.contains("content-type: text/csv"), "{notes}");
    // Not given: refused before connecting, naming the flag.
    let out = push_to_url(stage.home.path(), &[], &file, &url);
    assert_failure(&out, 2, &["--content-type"]);
    // Given another value: the store refuses the signature.
    let out = push_to_url(
        stage.home.path(),
        &["--content-type", "text/plain"],
        &file,
        &url,
    );
    assert_failure(&out, 7, &["SignatureDoesNotMatch", "presigned with"]);
    assert!(!stage.server.has_exact_key(BUCKET, "a.csv"));
    let out = push_to_url(
        stage.home.path(),
        &["--content-type", "text/csv"],
        &file,
        &url,
    );
    assert_stored_at(&stage, &out, "a.csv", &file);
    if let Some(code) = curl_put(&file, &url, &["Content-Type: text/csv"], None) {
        assert_eq!(code, 200, "{}", stage.server.log());
    }
}

#[test]
fn v4_url_over_tls() {
    let stage = Stage::tls();
    let front = stage.front.as_ref().unwrap();
    let file = stage.file("tls.bin", 2 * 1024 * 1024);
    let (url, _) = presign(&stage, &[], "tls.bin");
    assert!(url.starts_with(&format!("{}/test-bucket/tls.bin?", front.endpoint())));
    let ca = front.ca_pem_path().to_str().unwrap().to_string();
    let out = push_to_url(stage.home.path(), &["--ca-bundle", &ca], &file, &url);
    assert_stored_at(&stage, &out, "tls.bin", &file);
    let again = stage.file("tls2.bin", 70_000);
    let (url, _) = presign(&stage, &[], "tls2.bin");
    if let Some(code) = curl_put(&again, &url, &[], Some(front.ca_pem_path())) {
        assert_eq!(code, 200, "{}", stage.server.log());
        assert_same(&stage, "tls2.bin", &again);
    }
}

/// s3s-fs verifies SigV2 presigned queries too (Expires on the Date line, Content-Type
/// signed as a header).
#[test]
fn v2_url_takes_curl_and_s3push() {
    let stage = Stage::http();
    let file = stage.file("v2.bin", 300_000);
    let (url, _) = presign(&stage, &["--signature", "v2"], "old/v2 file.bin");
    assert!(
        url.contains(
            "/test-bucket/old/v2%20file.bin?AWSAccessKeyId=s3push-test-access-key&Expires="
        ),
        "{url}"
    );
    let out = push_to_url(stage.home.path(), &[], &file, &url);
    assert_stored_at(&stage, &out, "old/v2 file.bin", &file);

    let typed = stage.file("v2.txt", 1000);
    let (url, notes) = presign(
        &stage,
        &["--signature", "v2", "--content-type", "text/plain"],
        "v2.txt",
    );
    assert!(notes.contains("content-type: text/plain"), "{notes}");
    if let Some(code) = curl_put(&typed, &url, &["Content-Type: text/plain"], None) {
        assert_eq!(code, 200, "{}", stage.server.log());
        assert_same(&stage, "v2.txt", &typed);
    }
    // Without the signed Content-Type, s3s-fs computes another signature.
    let out = push_to_url(stage.home.path(), &[], &typed, &url);
    assert_failure(&out, 7, &["SignatureDoesNotMatch"]);

    // SigV2 signs x-amz-acl as a header: the upload sends it, as the note says.
    let (url, notes) = presign(
        &stage,
        &["--signature", "v2", "--acl", "public-read"],
        "v2-acl.bin",
    );
    assert!(notes.contains("x-amz-acl: public-read"), "{notes}");
    let out = push_to_url(stage.home.path(), &[], &file, &url);
    assert_failure(&out, 7, &["SignatureDoesNotMatch"]);
    let out = push_to_url(stage.home.path(), &["--acl", "public-read"], &file, &url);
    assert_stored_at(&stage, &out, "v2-acl.bin", &file);
}

/// A URL made an hour ago, valid 60 s (by the library's own signer): the store refuses
/// it, and s3push says it expired.
#[test]
fn an_expired_url_is_refused_by_the_store() {
    let stage = Stage::http();
    let file = stage.file("late.bin", 1000);
    let host = format!("127.0.0.1:{}", stage.server.port());
    let path = encode_path(&format!("/{BUCKET}/late.bin"));
    let req = V4Presign {
        method: "PUT",
        canonical_uri: &path,
        host: &host,
        headers: &[],
        query: &[],
        expires: 60,
    };
    let signer = Signer {
        access_key_id: common::ACCESS_KEY,
        secret: common::SECRET_KEY,
        session_token: None,
    };
    let an_hour_ago = Timestamp::from_unix(Timestamp::now().unix() - 3600);
    let signed = presign::v4(&req, signer, "us-east-1", an_hour_ago);
    let url = format!("http://{host}{path}?{}", signed.query);
    let out = push_to_url(stage.home.path(), &[], &file, &url);
    assert_failure(
        &out,
        7,
        &["AccessDenied", "Request has expired", "presign a new one"],
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains(&signed.signature));
    assert!(!stage.server.has_exact_key(BUCKET, "late.bin"));
    if let Some(code) = curl_put(&file, &url, &[], None) {
        assert_eq!(code, 403);
    }
    // The same URL made now is taken: the refusal was the expiry.
    let fresh = presign::v4(&req, signer, "us-east-1", Timestamp::now());
    let url = format!("http://{host}{path}?{}", fresh.query);
    let out = push_to_url(stage.home.path(), &[], &file, &url);
    assert_stored_at(&stage, &out, "late.bin", &file);
}

/// The target goes on the request line exactly as given; nothing is signed, no
/// Content-Type is guessed, no checksum header is added.
#[test]
fn a_url_destination_is_sent_as_it_is_and_unsigned() {
    let server = ScriptedServer::start(vec![vec![
        Step::ReadHead,
        Step::ContinueIfExpected,
        Step::ReadBody,
        Step::Stored,
    ]]);
    let dir = tempfile::tempdir().unwrap();
    let file = common::random_file(dir.path(), "photo.jpg", 5000);
    let target = "/b/k%2Bey/x.jpg?X-Amz-Signature=AB%2fc&z=1&a=%7e&empty=&X-Amz-SignedHeaders=host";
    let url = format!("{}{target}", server.endpoint());
    let out = push_to_url(dir.path(), &[], &file, &url);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    let request_line = seen[0].head.lines().next().unwrap();
    assert_eq!(request_line, format!("PUT {target} HTTP/1.1"));
    for absent in [
        "authorization",
        "x-amz-date",
        "x-amz-content-sha256",
        "content-type",
        "x-amz-checksum-crc32",
        "x-amz-security-token",
    ] {
        assert_eq!(
            seen[0].header(absent),
            None,
            "{absent} sent: {}",
            seen[0].head
        );
    }
    assert_eq!(seen[0].header("content-length").as_deref(), Some("5000"));
    assert!(seen[0].body_complete);
}

#[test]
fn no_sign_request_sends_no_authorization() {
    let server = ScriptedServer::start(vec![vec![
        Step::ReadHead,
        Step::ContinueIfExpected,
        Step::ReadBody,
        Step::Stored,
    ]]);
    let dir = tempfile::tempdir().unwrap();
    let file = common::random_file(dir.path(), "pub.bin", 3000);
    let mut cmd = common::s3push(dir.path());
    cmd.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY");
    cmd.args(["--endpoint", &server.endpoint(), "--no-sign-request"])
        .arg(&file)
        .arg("s3://public/dir/pub.bin");
    let out = common::run_bounded(cmd, LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].head.lines().next(),
        Some("PUT /public/dir/pub.bin HTTP/1.1")
    );
    for absent in [
        "authorization",
        "x-amz-date",
        "x-amz-content-sha256",
        "x-amz-checksum-crc32",
        "x-amz-trailer",
    ] {
        assert_eq!(
            seen[0].header(absent),
            None,
            "{absent} sent: {}",
            seen[0].head
        );
    }
    assert!(seen[0].body_complete);

    // s3s-fs takes no anonymous writes: the refusal names the way back.
    let stage = Stage::http();
    let out = stage.push(
        &["--no-sign-request"],
        &file,
        &format!("s3://{BUCKET}/pub.bin"),
    );
    stage.assert_failure(&out, 7, &["AccessDenied", "leave out --no-sign-request"]);
    // A streaming payload needs a signature.
    let out = stage.push(
        &["--no-sign-request", "--payload", "streaming"],
        &file,
        &format!("s3://{BUCKET}/pub.bin"),
    );
    stage.assert_failure(&out, 2, &["--payload streaming", "--no-sign-request"]);
}

#[test]
fn what_a_url_cannot_take_is_refused_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "http://127.0.0.1:{}/b/k?X-Amz-Signature=abc",
        common::closed_port()
    );
    // Over 5 GiB (sparse): one PUT cannot carry it.
    let big = dir.path().join("big.img");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(5 * 1024 * 1024 * 1024 + 1)
        .unwrap();
    let out = push_to_url(dir.path(), &[], &big, &url);
    assert_failure(&out, 3, &["5 GiB", "presigned URL"]);
    let small = common::random_file(dir.path(), "s.bin", 10);
    for (flags, needle) in [
        (&["--signature", "v2"][..], "--signature"),
        (&["--payload", "signed"], "--payload signed"),
        (&["--resume"], "--resume"),
        (&["--endpoint", "http://127.0.0.1:1"], "--endpoint"),
    ] {
        let out = push_to_url(dir.path(), flags, &small, &url);
        assert_failure(&out, 2, &[needle]);
    }
    let unsigned = format!("http://127.0.0.1:{}/b/k", common::closed_port());
    let out = push_to_url(dir.path(), &[], &small, &unsigned);
    assert_failure(&out, 2, &["--no-sign-request"]);
    let mut cmd = common::s3push(dir.path());
    cmd.arg("-").arg(&url);
    let out = stage::run(cmd);
    assert_failure(&out, 2, &["standard input"]);
}

#[test]
fn presign_refuses_too_long_and_has_its_own_help() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = common::s3push(dir.path());
    cmd.args(["presign", "--expires", "8d", "s3://b/k"]);
    let out = stage::run(cmd);
    assert_failure(&out, 2, &["7 days"]);
    let mut cmd = common::s3push(dir.path());
    cmd.args(["presign", "--help"]);
    let out = stage::run(cmd);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("--expires DURATION") && help.contains("curl -T"),
        "{help}"
    );
    // No credentials: nothing to sign with.
    let mut cmd = common::s3push(dir.path());
    cmd.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .args(["presign", "s3://b/k"]);
    assert_failure(&stage::run(cmd), 4, &["no credentials"]);
}

/// `--json` for a URL destination: no bucket or key of its own (null), the URL without
/// its query (the signature is a credential), on success and on failure.
#[test]
fn json_for_a_url_destination_shows_the_url_without_its_query() {
    let stage = Stage::http();
    let (url, _) = presign(&stage, &[], "json.bin");
    let file = stage.file("json.bin", 1000);
    let out = push_to_url(stage.files.path(), &["--json"], &file, &url);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_same(&stage, "json.bin", &file);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let bare = url.split('?').next().unwrap();
    assert_eq!(v["url"], bare, "{v}");
    assert!(v["bucket"].is_null() && v["key"].is_null(), "{v}");
    // The same URL on a port nothing listens on: a network failure, as JSON.
    let port = url.split(':').nth(2).unwrap().split('/').next().unwrap();
    let dead = url.replace(
        &format!(":{port}/"),
        &format!(":{}/", common::closed_port()),
    );
    let out = push_to_url(
        stage.files.path(),
        &["--json", "--retries", "0"],
        &file,
        &dead,
    );
    assert_eq!(out.status.code(), Some(5), "{}", describe(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["bucket"].is_null() && v["key"].is_null(), "{v}");
    assert_eq!(v["error"]["exit_code"], 5, "{v}");
    let shown = v["url"].as_str().unwrap();
    assert!(!shown.contains('?') && !shown.contains("Signature"), "{v}");
}

/// `presign --sse AES256 --tagging ... --expected-bucket-owner ...`: the headers are
/// signed (X-Amz-SignedHeaders) and listed on stderr with their values; s3s-fs takes
/// curl's PUT that sends them, and refuses one that leaves a signed header out.
#[test]
fn protection_flags_are_signed_headers_the_put_must_send() {
    let stage = Stage::http();
    let file = stage.file("kept.bin", 5000);
    let (url, notes) = presign(
        &stage,
        &[
            "--sse",
            "AES256",
            "--tagging",
            "team=ops&note=a b",
            "--expected-bucket-owner",
            "111122223333",
        ],
        "kept.bin",
    );
    assert!(
        url.contains(
            "X-Amz-SignedHeaders=host%3Bx-amz-expected-bucket-owner%3Bx-amz-server-side-encryption%3Bx-amz-tagging"
        ),
        "{url}"
    );
    for h in [
        "x-amz-server-side-encryption: AES256",
        "x-amz-tagging: team=ops&note=a%20b",
        "x-amz-expected-bucket-owner: 111122223333",
    ] {
        assert!(notes.contains(h), "{h}: {notes}");
    }
    let sent = [
        "x-amz-server-side-encryption: AES256",
        "x-amz-tagging: team=ops&note=a%20b",
        "x-amz-expected-bucket-owner: 111122223333",
    ];
    if let Some(code) = curl_put(&file, &url, &sent[..2], None) {
        assert_eq!(
            code,
            403,
            "a signed header left out: {}",
            stage.server.log()
        );
        assert!(!stage.server.has_exact_key(BUCKET, "kept.bin"));
    }
    if let Some(code) = curl_put(&file, &url, &sent, None) {
        assert_eq!(code, 200, "{}", stage.server.log());
        assert_same(&stage, "kept.bin", &file);
    }
}
