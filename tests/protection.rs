//! Protections (doc/protection.md): server-side encryption, SSE-C, tags, Object Lock,
//! bucket owner and requester-pays headers, checked on what reached scripted stores.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{answer, ScriptedServer, Seen, Step, TlsFront};
use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;
use tempfile::TempDir;
use Step::{ContinueIfExpected, ReadBody, ReadHead, Reply, Stored};

const LIMIT: Duration = Duration::from_secs(20);
const DEST: &str = "s3://bucket/key.bin";
const KIB: u64 = 1024;

struct Source {
    dir: TempDir,
    file: PathBuf,
}

fn source(len: u64) -> Source {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = common::random_file(dir.path(), "body.bin", len);
    Source { dir, file }
}

fn push(endpoint: &str, src: &Source, extra: &[&str]) -> Output {
    let mut cmd = common::s3push(src.dir.path());
    cmd.args(["--endpoint", endpoint, "--retry-max-wait", "0.05"]);
    cmd.args(extra);
    cmd.arg(&src.file).arg(DEST);
    common::run_bounded(cmd, LIMIT)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout ---\n{}--- stderr ---\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    )
}

/// A 32-byte key file and the base64 of the key and of its MD5.
fn key_file(dir: &std::path::Path) -> (PathBuf, String, String) {
    use base64::Engine;
    use md5::{Digest, Md5};
    let key: Vec<u8> = (0u8..32)
        .map(|i| i.wrapping_mul(7).wrapping_add(3))
        .collect();
    let path = dir.join("sse-c.key");
    std::fs::write(&path, &key).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    (path, b64.encode(&key), b64.encode(Md5::digest(&key)))
}

fn put_stored() -> Vec<Step> {
    vec![ReadHead, ContinueIfExpected, ReadBody, Stored]
}

fn header(seen: &Seen, name: &str) -> Option<String> {
    seen.header(name)
}

#[test]
fn sse_kms_headers_reach_the_put() {
    let src = source(4 * KIB);
    let server = ScriptedServer::start(vec![put_stored()]);
    let out = push(
        &server.endpoint(),
        &src,
        &[
            "--sse",
            "aws:kms",
            "--sse-kms-key-id",
            "alias/backups",
            "--sse-kms-context",
            "{\"project\":\"backups\"}",
            "--bucket-key-enabled",
            "--expected-bucket-owner",
            "123456789012",
            "--request-payer",
            "requester",
        ],
    );
    let seen = server.seen();
    assert!(!seen.is_empty(), "{}", describe(&out));
    let put = &seen[0];
    assert_eq!(
        header(put, "x-amz-server-side-encryption").as_deref(),
        Some("aws:kms")
    );
    assert_eq!(
        header(put, "x-amz-server-side-encryption-aws-kms-key-id").as_deref(),
        Some("alias/backups")
    );
    assert_eq!(
        header(put, "x-amz-server-side-encryption-context").as_deref(),
        Some("eyJwcm9qZWN0IjoiYmFja3VwcyJ9")
    );
    assert_eq!(
        header(put, "x-amz-server-side-encryption-bucket-key-enabled").as_deref(),
        Some("true")
    );
    assert_eq!(
        header(put, "x-amz-expected-bucket-owner").as_deref(),
        Some("123456789012")
    );
    assert_eq!(
        header(put, "x-amz-request-payer").as_deref(),
        Some("requester")
    );
}

#[test]
fn tags_and_retention_reach_the_put_with_content_md5_when_no_checksum() {
    let src = source(4 * KIB);
    let server = ScriptedServer::start(vec![put_stored()]);
    let out = push(
        &server.endpoint(),
        &src,
        &[
            "--checksum",
            "none",
            "--tagging",
            "team=ops&note=a b",
            "--object-lock-mode",
            "GOVERNANCE",
            "--object-lock-retain-until-date",
            "2099-01-31T02:00:00+02:00",
            "--object-lock-legal-hold-status",
            "ON",
        ],
    );
    let seen = server.seen();
    assert!(!seen.is_empty(), "{}", describe(&out));
    let put = &seen[0];
    assert_eq!(
        header(put, "x-amz-tagging").as_deref(),
        Some("team=ops&note=a%20b")
    );
    assert_eq!(
        header(put, "x-amz-object-lock-mode").as_deref(),
        Some("GOVERNANCE")
    );
    assert_eq!(
        header(put, "x-amz-object-lock-retain-until-date").as_deref(),
        Some("2099-01-31T00:00:00Z")
    );
    assert_eq!(
        header(put, "x-amz-object-lock-legal-hold").as_deref(),
        Some("ON")
    );
    assert!(header(put, "content-md5").is_some(), "{}", put.head);
}

#[test]
fn bad_protection_values_are_usage_errors_before_anything_is_sent() {
    let src = source(KIB);
    let (key, _, _) = key_file(src.dir.path());
    let short = src.dir.path().join("short.key");
    std::fs::write(&short, [1u8; 16]).unwrap();
    let key = key.to_string_lossy().into_owned();
    let short = short.to_string_lossy().into_owned();
    let server = ScriptedServer::start(vec![put_stored()]);
    for bad in [
        &["--sse", "AES128"][..],
        &["--sse-kms-key-id", "k"],
        &["--sse", "aws:kms", "--sse-kms-context", "not json"],
        &["--sse-c-key-file", &key], // plain http
        &["--sse-c-key-file", &short],
        &["--tagging", "a=1&a=2"],
        &["--object-lock-mode", "GOVERNANCE"],
        &[
            "--object-lock-mode",
            "FOREVER",
            "--object-lock-retain-until-date",
            "2099-01-01T00:00:00Z",
        ],
        &[
            "--object-lock-mode",
            "COMPLIANCE",
            "--object-lock-retain-until-date",
            "2099-13-01",
        ],
        &["--object-lock-legal-hold-status", "MAYBE"],
        &["--expected-bucket-owner", "12345"],
        &["--request-payer", "me"],
    ] {
        let out = push(&server.endpoint(), &src, bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", describe(&out));
    }
    assert_eq!(server.connections(), 0);
}

/// SSE-C: the key's three headers on the PUT and on the HEAD s3push makes, over TLS; the
/// key itself never in the -v trace.
#[test]
fn sse_c_goes_with_every_request_to_the_object_and_is_masked() {
    let src = source(4 * KIB);
    let (key, key_b64, md5_b64) = key_file(src.dir.path());
    // The PUT answer confirms nothing (no echo, no MD5 ETag for SSE-C): a HEAD follows.
    let len = 4 * KIB;
    let server = ScriptedServer::start(vec![
        vec![
            ReadHead,
            ContinueIfExpected,
            ReadBody,
            Reply(answer(
                "HTTP/1.1 200 OK",
                &[
                    ("ETag", "\"0123456789abcdef0123456789abcdef\""),
                    ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
                    ("x-amz-server-side-encryption-customer-key-MD5", &md5_b64),
                ],
                "",
            )),
            ReadHead,
            Reply(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nETag: \"0123456789abcdef0123456789abcdef\"\r\n\
                     x-amz-server-side-encryption-customer-algorithm: AES256\r\n\r\n"
                )
                .into_bytes(),
            ),
        ],
    ]);
    let front = TlsFront::start(server.port());
    let ca = front.ca_pem_path().to_string_lossy().into_owned();
    let out = push(
        &front.endpoint(),
        &src,
        &[
            "--ca-bundle",
            &ca,
            "--sse-c-key-file",
            &key.to_string_lossy(),
            "-v",
            "--checksum",
            "none",
            "--content-md5",
        ],
    );
    let seen = server.seen();
    assert!(!seen.is_empty(), "{}", describe(&out));
    for s in &seen {
        assert_eq!(
            header(s, "x-amz-server-side-encryption-customer-algorithm").as_deref(),
            Some("AES256"),
            "{}",
            s.head
        );
        assert_eq!(
            header(s, "x-amz-server-side-encryption-customer-key").as_deref(),
            Some(key_b64.as_str())
        );
        assert_eq!(
            header(s, "x-amz-server-side-encryption-customer-key-md5").as_deref(),
            Some(md5_b64.as_str())
        );
    }
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!all.contains(&key_b64), "the key leaked: {all}");
    assert!(
        all.contains("x-amz-server-side-encryption-customer-key: ****"),
        "{all}"
    );
}

#[test]
fn sse_c_is_masked_in_dry_run() {
    let src = source(4 * KIB);
    let (key, key_b64, md5_b64) = key_file(src.dir.path());
    let out = push(
        "https://127.0.0.1:9",
        &src,
        &["--dry-run", "--sse-c-key-file", &key.to_string_lossy()],
    );
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(!all.contains(&key_b64), "the key leaked: {all}");
    assert!(all.contains(&md5_b64), "{all}");
    assert!(
        all.contains("x-amz-server-side-encryption-customer-key: ****"),
        "{all}"
    );
}

fn head_with(len: u64, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n");
    for (n, v) in extra {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// A store that takes the PUT and shows neither encryption nor tags: a warning, exit 0;
/// with --require-protection exit 9, saying the object is stored but not protected.
#[test]
fn protection_not_shown_is_a_warning_or_with_require_a_failure() {
    for (extra, code) in [(&[][..], 0), (&["--require-protection"][..], 9)] {
        let src = source(4 * KIB);
        let server = ScriptedServer::start(vec![
            put_stored(),
            vec![ReadHead, Reply(head_with(4 * KIB, &[]))],
        ]);
        let mut args = vec!["--sse", "AES256", "--tagging", "a=1"];
        args.extend_from_slice(extra);
        let out = push(&server.endpoint(), &src, &args);
        assert_eq!(out.status.code(), Some(code), "{}", describe(&out));
        let err = text(&out.stderr);
        assert!(err.contains("stored, but not protected as asked"), "{err}");
        assert!(
            err.contains("--sse AES256") && err.contains("--tagging"),
            "{err}"
        );
        let seen = server.seen();
        assert!(
            seen[1].head.starts_with("HEAD /bucket/key.bin "),
            "{}",
            seen[1].head
        );
    }
}

/// Retention, legal hold and tags shown by the HEAD, encryption by the PUT's echo: quiet.
#[test]
fn protection_shown_says_nothing() {
    let src = source(4 * KIB);
    let server = ScriptedServer::start(vec![
        put_stored(),
        vec![
            ReadHead,
            Reply(head_with(
                4 * KIB,
                &[
                    ("x-amz-server-side-encryption", "AES256"),
                    ("x-amz-tagging-count", "2"),
                    ("x-amz-object-lock-mode", "COMPLIANCE"),
                    (
                        "x-amz-object-lock-retain-until-date",
                        "2099-01-31T00:00:00.000Z",
                    ),
                    ("x-amz-object-lock-legal-hold", "ON"),
                ],
            )),
        ],
    ]);
    let out = push(
        &server.endpoint(),
        &src,
        &[
            "--require-protection",
            "--sse",
            "AES256",
            "--tagging",
            "a=1&b=2",
            "--object-lock-mode",
            "COMPLIANCE",
            "--object-lock-retain-until-date",
            "2099-01-31T00:00:00Z",
            "--object-lock-legal-hold-status",
            "ON",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        !text(&out.stderr).contains("not protected"),
        "{}",
        describe(&out)
    );
}

fn crc32_b64(path: &std::path::Path) -> String {
    use base64::Engine;
    let data = std::fs::read(path).unwrap();
    base64::engine::general_purpose::STANDARD.encode(crc32fast::hash(&data).to_be_bytes())
}

#[test]
fn skip_identical_sends_nothing_when_the_stored_object_is_the_same() {
    let src = source(4 * KIB);
    let crc = crc32_b64(&src.file);
    let server = ScriptedServer::start(vec![vec![
        ReadHead,
        Reply(head_with(
            4 * KIB,
            &[("x-amz-checksum-crc32", &crc), ("ETag", "\"x-2\"")],
        )),
    ]]);
    let out = push(&server.endpoint(), &src, &["--skip-identical"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        text(&out.stdout).starts_with("skipped s3://bucket/key.bin identical"),
        "{}",
        describe(&out)
    );
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].header("x-amz-checksum-mode").as_deref(),
        Some("ENABLED")
    );
    // --json says so too.
    let server = ScriptedServer::start(vec![vec![
        ReadHead,
        Reply(head_with(4 * KIB, &[("x-amz-checksum-crc32", &crc)])),
    ]]);
    let out = push(&server.endpoint(), &src, &["--skip-identical", "--json"]);
    assert!(
        text(&out.stdout).contains("\"skipped\":true"),
        "{}",
        describe(&out)
    );
}

#[test]
fn skip_identical_sends_a_changed_or_missing_object() {
    let src = source(4 * KIB);
    for head in [
        head_with(4 * KIB, &[("x-amz-checksum-crc32", "AAAAAA==")]),
        head_with(4 * KIB - 1, &[]),
        common::s3_error("404 Not Found", "NoSuchKey", ""),
    ] {
        let server = ScriptedServer::start(vec![vec![ReadHead, Reply(head)], put_stored()]);
        let out = push(&server.endpoint(), &src, &["--skip-identical"]);
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
        assert!(
            text(&out.stdout).starts_with("uploaded "),
            "{}",
            describe(&out)
        );
        let seen = server.seen();
        assert!(
            seen[1].head.starts_with("PUT /bucket/key.bin "),
            "{}",
            seen[1].head
        );
    }
}

/// The real s3s-fs 0.14.1 takes x-amz-tagging, x-amz-server-side-encryption and the SSE-C
/// headers, stores the bytes, and keeps none of them (no x-amz-tagging-count, no
/// encryption shown): s3push warns, and with --require-protection exits 9, the object
/// stored intact.
#[test]
fn s3s_fs_keeps_neither_tags_nor_encryption_and_is_told() {
    use common::stage::{Stage, BUCKET};
    let stage = Stage::http();
    let source = stage.file("source.bin", 100);
    let out = stage.push(
        &["--tagging", "team=ops&note=a b", "--sse", "AES256"],
        &source,
        &format!("s3://{BUCKET}/tagged"),
    );
    stage.assert_stored(&out, "tagged", &source);
    let err = text(&out.stderr);
    assert!(err.contains("x-amz-tagging-count absent"), "{err}");
    assert!(
        err.contains("--sse AES256 (no x-amz-server-side-encryption)"),
        "{err}"
    );
    let out = stage.push(
        &["--tagging", "team=ops", "--require-protection"],
        &source,
        &format!("s3://{BUCKET}/required"),
    );
    assert_eq!(out.status.code(), Some(9), "{}", describe(&out));
    assert!(text(&out.stderr).contains("stored, but not protected as asked"));
    assert_eq!(
        stage.server.object_bytes(BUCKET, "required"),
        Some(std::fs::read(&source).unwrap())
    );

    // SSE-C over TLS: taken, the bytes stored; the key is sent with the PUT and HEADs.
    let stage = Stage::tls();
    let source = stage.file("source.bin", 100);
    let (key, key_b64, _) = key_file(source.parent().unwrap());
    let out = stage.push(
        &[
            "--sse-c-key-file",
            &key.to_string_lossy(),
            "--no-clobber",
            "-v",
        ],
        &source,
        &format!("s3://{BUCKET}/sse-c"),
    );
    stage.assert_stored(&out, "sse-c", &source);
    assert!(!text(&out.stderr).contains(&key_b64));
    // In parts: the key with CreateMultipartUpload, every UploadPart and Complete.
    let big = stage.file("big.bin", 11 * 1024 * 1024);
    let out = stage.push(
        &[
            "--sse-c-key-file",
            &key.to_string_lossy(),
            "--multipart-threshold",
            "5M",
            "--part-size",
            "5M",
        ],
        &big,
        &format!("s3://{BUCKET}/sse-c-parts"),
    );
    stage.assert_stored(&out, "sse-c-parts", &big);
}

/// SSE-C with --no-clobber: the look before sending (HEAD), the PUT and the HEAD that
/// checks the protection all carry the key.
#[test]
fn sse_c_goes_with_the_no_clobber_look_and_the_protection_head() {
    let src = source(4 * KIB);
    let (key, key_b64, md5_b64) = key_file(src.dir.path());
    let server = ScriptedServer::start(vec![
        vec![
            ReadHead,
            Reply(common::s3_error("404 Not Found", "NoSuchKey", "")),
        ],
        put_stored(),
        vec![
            ReadHead,
            Reply(head_with(
                4 * KIB,
                &[
                    ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
                    ("x-amz-server-side-encryption-customer-key-MD5", &md5_b64),
                ],
            )),
        ],
    ]);
    let front = TlsFront::start(server.port());
    let ca = front.ca_pem_path().to_string_lossy().into_owned();
    let out = push(
        &front.endpoint(),
        &src,
        &[
            "--ca-bundle",
            &ca,
            "--no-clobber",
            "--require-protection",
            "--sse-c-key-file",
            &key.to_string_lossy(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let seen = server.seen();
    let lines: Vec<&str> = seen
        .iter()
        .map(|s| s.head.lines().next().unwrap_or(""))
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines[0].starts_with("HEAD ")
            && lines[1].starts_with("PUT ")
            && lines[2].starts_with("HEAD "),
        "{lines:?}"
    );
    for s in &seen {
        assert_eq!(
            s.header("x-amz-server-side-encryption-customer-key")
                .as_deref(),
            Some(key_b64.as_str()),
            "{}",
            s.head
        );
    }
}

/// A nightly batch against the real s3s-fs: the rerun sends only the new and the
/// changed file; the others are skipped and counted.
#[test]
fn s3s_fs_batch_rerun_sends_only_what_is_new_or_changed() {
    use common::stage::{Stage, BUCKET};
    let stage = Stage::http();
    let a = stage.file("a.bin", 3000);
    let b = stage.file("b.bin", 4000);
    let dest = format!("s3://{BUCKET}/nightly/");
    let mut cmd = stage.command(&["--skip-identical"]);
    cmd.arg(&a).arg(&b).arg(&dest);
    let out = common::run_bounded(cmd, LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        text(&out.stderr).contains("2 uploaded, 0 failed"),
        "{}",
        describe(&out)
    );
    // b changes (same size), c is new.
    std::fs::write(&b, vec![7u8; 4000]).unwrap();
    let c = stage.file("c.bin", 10);
    let mut cmd = stage.command(&["--skip-identical", "--json"]);
    cmd.arg(&a).arg(&b).arg(&c).arg(&dest);
    let out = common::run_bounded(cmd, LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let stdout = text(&out.stdout);
    assert_eq!(
        stdout.matches("\"skipped\":true").count(),
        1,
        "{}",
        describe(&out)
    );
    assert!(
        text(&out.stderr).contains("2 uploaded, 1 skipped (identical), 0 failed"),
        "{}",
        describe(&out)
    );
    assert_eq!(
        stage.server.object_bytes(BUCKET, "nightly/b.bin"),
        Some(std::fs::read(&b).unwrap())
    );
}

fn refused_after_body(code: &str, message: &str) -> Vec<Step> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    vec![
        ReadHead,
        ContinueIfExpected,
        ReadBody,
        Reply(answer(
            "HTTP/1.1 400 Bad Request",
            &[("Content-Type", "application/xml")],
            &body,
        )),
    ]
}

/// A 400 to a request with a checksum trailer that is about something else (here a
/// storage class the store does not have) is reported as itself: the request is sent
/// once without the trailer, gets the same answer, and no mode change is said or kept.
/// Before: "the store refused a checksum trailer" and the header mode for the run.
#[test]
fn an_unrelated_400_after_a_trailer_is_reported_as_itself() {
    let src = source(4 * KIB);
    let server = ScriptedServer::start(vec![refused_after_body(
        "InvalidArgument",
        "Invalid storage class",
    )]);
    let out = push(
        &server.endpoint(),
        &src,
        &["--payload", "unsigned", "--storage-class", "GLACIER_XYZ"],
    );
    assert_eq!(out.status.code(), Some(7), "{}", describe(&out));
    let err = text(&out.stderr);
    assert!(!err.contains("refused a checksum trailer"), "{err}");
    assert!(!err.contains("warning"), "{err}");
    assert!(err.contains("InvalidArgument"), "{err}");
    assert!(err.contains("Invalid storage class"), "{err}");
    let seen = server.seen();
    assert_eq!(seen.len(), 2, "one probe without the trailer");
    assert_eq!(
        header(&seen[0], "x-amz-content-sha256").as_deref(),
        Some("STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    );
    assert_eq!(
        header(&seen[1], "x-amz-content-sha256").as_deref(),
        Some("UNSIGNED-PAYLOAD")
    );
}

/// The same general 400, but the request without the trailer is taken: the trailer was
/// what the store refused, and that is said (once) and kept for the run.
#[test]
fn a_general_400_that_goes_away_without_the_trailer_is_a_trailer_refusal() {
    let src = source(4 * KIB);
    let server = ScriptedServer::start(vec![
        refused_after_body("InvalidRequest", "Bad request"),
        put_stored(),
    ]);
    let out = push(&server.endpoint(), &src, &["--payload", "unsigned"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let err = text(&out.stderr);
    assert_eq!(
        err.matches("refused a checksum trailer (400 InvalidRequest)")
            .count(),
        1,
        "{err}"
    );
}

/// Answers that name the trailer (Garage's "Invalid payload signature", Ceph's
/// XAmzContentSHA256Mismatch) change the mode at once.
#[test]
fn a_refusal_naming_the_trailer_changes_the_mode_at_once() {
    for (code, message) in [
        ("InvalidRequest", "Invalid payload signature"),
        ("XAmzContentSHA256Mismatch", ""),
    ] {
        let src = source(4 * KIB);
        let server = ScriptedServer::start(vec![refused_after_body(code, message), put_stored()]);
        let out = push(&server.endpoint(), &src, &["--payload", "unsigned"]);
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
        assert!(
            text(&out.stderr).contains(&format!("refused a checksum trailer (400 {code})")),
            "{}",
            describe(&out)
        );
    }
}

/// With --json the protections not shown are in the object too (`protection_warnings`),
/// not only in the warning on stderr; an empty list when all were shown.
#[test]
fn protection_warnings_are_in_the_json_object() {
    let src = source(4 * KIB);
    let server = ScriptedServer::start(vec![
        put_stored(),
        vec![ReadHead, Reply(head_with(4 * KIB, &[]))],
    ]);
    let out = push(
        &server.endpoint(),
        &src,
        &["--json", "--sse", "AES256", "--tagging", "a=1&b=2"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let v: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    let warnings = v["protection_warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 2, "{v}");
    assert!(
        warnings[0].as_str().unwrap().starts_with("--sse AES256"),
        "{v}"
    );
    assert_eq!(
        warnings[1],
        "--tagging (2 tags asked, x-amz-tagging-count absent)"
    );
    assert!(text(&out.stderr).contains("not protected as asked"));

    let server = ScriptedServer::start(vec![put_stored()]);
    let out = push(&server.endpoint(), &src, &["--json"]);
    let v: serde_json::Value = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(v["protection_warnings"], serde_json::json!([]), "{v}");
}

/// The store's answer to a PUT with SSE-KMS: its encryption, its key's ARN.
fn kms_stored(src: &Source, key_arn: &str) -> Vec<Step> {
    let crc = crc32_b64(&src.file);
    vec![
        ReadHead,
        ContinueIfExpected,
        ReadBody,
        Reply(answer(
            "HTTP/1.1 200 OK",
            &[
                ("ETag", "\"0123456789abcdef0123456789abcdef\""),
                ("x-amz-checksum-crc32", &crc),
                ("x-amz-server-side-encryption", "aws:kms"),
                ("x-amz-server-side-encryption-aws-kms-key-id", key_arn),
            ],
            "",
        )),
    ]
}

/// --sse-kms-key-id is compared with the key the store names: the ARN ending with the
/// id is the same key (quiet); another key is not protected as asked (exit 9 with
/// --require-protection); an alias cannot be compared, and a note says so.
#[test]
fn the_kms_key_the_store_used_is_compared_with_the_one_asked() {
    const ID: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";
    let arn = format!("arn:aws:kms:us-east-1:111122223333:key/{ID}");
    let other = "arn:aws:kms:us-east-1:111122223333:key/0000aaaa-12ab-34cd-56ef-1234567890ab";
    let src = source(4 * KIB);
    let run = |theirs: &str, asked: &str| {
        let server = ScriptedServer::start(vec![kms_stored(&src, theirs)]);
        let out = push(
            &server.endpoint(),
            &src,
            &[
                "--require-protection",
                "--sse",
                "aws:kms",
                "--sse-kms-key-id",
                asked,
            ],
        );
        assert_eq!(server.seen().len(), 1, "{}", describe(&out));
        out
    };
    let same = run(&arn, ID);
    assert_eq!(same.status.code(), Some(0), "{}", describe(&same));
    assert!(text(&same.stderr).is_empty(), "{}", describe(&same));

    let wrong = run(other, ID);
    assert_eq!(wrong.status.code(), Some(9), "{}", describe(&wrong));
    let err = text(&wrong.stderr);
    assert!(
        err.contains(&format!(
            "--sse-kms-key-id {ID} (the store used the key {other})"
        )),
        "{err}"
    );

    let alias = run(&arn, "alias/backups");
    assert_eq!(alias.status.code(), Some(0), "{}", describe(&alias));
    let err = text(&alias.stderr);
    assert!(
        err.contains("alias") && err.contains("cannot be compared"),
        "{err}"
    );
    assert!(!err.contains("warning"), "{err}");
}
