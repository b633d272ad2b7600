//! Fault behaviour against a scripted loopback server (tests/common/scripted.rs): what is
//! retried and what is not, Expect: 100-continue, clock-skew and region correction,
//! stalls, malformed answers, a refused connection.
//!
//! Every test runs the real binary with `--endpoint` at the scripted server and checks the
//! exit code, stderr (a failure is exactly one line starting "s3push: "; a success has
//! only "s3push: warning:" lines), that the secret key shows nowhere, and what reached
//! the server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{
    after_body, answer, etag, good, initiated, multipart_etag, push, request_lines, s3_error,
    s3_error_with, source, text, ScriptedServer, Seen, Source, Step, CONTINUE, DEST,
};
use std::process::Output;
use std::time::{Duration, Instant, SystemTime};
use Step::{
    Close, ContinueIfExpected, ReadBody, ReadBodyPart, ReadBodySlowly, ReadHead, Reply, Reset,
    Stall, Stored, Trickle,
};

/// Over the 1 MiB threshold of `Expect: 100-continue`.
const BIG: u64 = 2 * 1024 * 1024;
/// Under it.
const SMALL: u64 = 100;
/// Any run here takes a few seconds at most; a hang fails the test after this.
const LIMIT: Duration = Duration::from_secs(20);
fn no_secret(out: &Output) {
    for (name, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        assert!(
            !text(bytes).contains(common::SECRET_KEY),
            "the secret key is in {name}: {}",
            text(bytes)
        );
    }
}

/// Exit `code`, nothing on stdout, exactly one line on stderr starting "s3push: ";
/// returns that line.
fn assert_failed(out: &Output, code: i32) -> String {
    let err = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(code),
        "exit status; stderr: {err}; stdout: {}",
        text(&out.stdout)
    );
    assert_eq!(err.lines().count(), 1, "one line on stderr: {err:?}");
    assert!(err.starts_with("s3push: "), "{err:?}");
    assert!(out.stdout.is_empty(), "stdout: {}", text(&out.stdout));
    no_secret(out);
    err
}

/// Exit 0, the "uploaded" line on stdout, only warnings on stderr; returns stderr.
fn assert_ok(out: &Output) -> String {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "exit status; stderr: {err}");
    assert!(
        err.lines().all(|l| l.starts_with("s3push: warning:")),
        "only warnings on stderr: {err:?}"
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with(&format!("uploaded {DEST} ")),
        "stdout: {stdout:?}"
    );
    no_secret(out);
    err
}

fn assert_requests(seen: &[Seen], n: usize) {
    let heads: Vec<&str> = seen
        .iter()
        .map(|s| s.head.lines().next().unwrap_or(""))
        .collect();
    assert_eq!(seen.len(), n, "requests seen: {heads:?}");
}

// a.
#[test]
fn slow_down_twice_then_stored() {
    let slow = s3_error("503 Slow Down", "SlowDown", "");
    let server = ScriptedServer::start(vec![after_body(slow.clone()), after_body(slow), good()]);
    let src = source(BIG);
    assert_ok(&push(&server.endpoint(), &src, &[]));
    let seen = server.seen();
    assert_requests(&seen, 3);
    assert_eq!(
        seen[2].body_len, BIG,
        "the last attempt sent the whole body"
    );
    assert!(seen[2].body_complete);
}

// b.
#[test]
fn internal_error_until_retries_run_out() {
    let server = ScriptedServer::start(vec![after_body(s3_error(
        "500 Internal Server Error",
        "InternalError",
        "",
    ))]);
    let src = source(SMALL);
    let err = assert_failed(&push(&server.endpoint(), &src, &["--retries", "2"]), 7);
    assert!(err.contains("InternalError"), "{err}");
    assert!(err.contains("3 attempts"), "{err}");
    assert_requests(&server.seen(), 3);
}

// c.
#[test]
fn reset_mid_body_is_retried_from_the_start_of_the_file() {
    let server =
        ScriptedServer::start(vec![vec![ReadHead, ReadBodyPart(64 * 1024), Reset], good()]);
    let src = source(BIG);
    assert_ok(&push(&server.endpoint(), &src, &["--no-expect"]));
    let seen = server.seen();
    assert_eq!(server.connections(), 2);
    assert_requests(&seen, 2);
    assert_eq!(seen[0].body_len, 64 * 1024);
    assert!(!seen[0].body_complete);
    assert_eq!(
        seen[1].body_len, BIG,
        "the second attempt sent the whole body"
    );
    assert!(seen[1].body_complete);
}

/// A store that closes mid-body without a word (FIN, no reset) is a dropped connection
/// too: retried, never reported as a bad answer.
#[test]
fn a_close_mid_body_without_an_answer_is_retried() {
    for _ in 0..5 {
        let server =
            ScriptedServer::start(vec![vec![ReadHead, ReadBodyPart(64 * 1024), Close], good()]);
        let src = source(BIG);
        assert_ok(&push(&server.endpoint(), &src, &["--no-expect"]));
        let seen = server.seen();
        assert_requests(&seen, 2);
        assert_eq!(seen[1].body_len, BIG);
    }
}

// d.
#[test]
fn access_denied_is_not_retried() {
    let server = ScriptedServer::start(vec![after_body(s3_error(
        "403 Forbidden",
        "AccessDenied",
        "",
    ))]);
    let src = source(SMALL);
    let err = assert_failed(&push(&server.endpoint(), &src, &[]), 7);
    assert!(err.contains("AccessDenied"), "{err}");
    assert_requests(&server.seen(), 1);
}

// e.
#[test]
fn invalid_argument_is_not_retried() {
    let server = ScriptedServer::start(vec![after_body(s3_error(
        "400 Bad Request",
        "InvalidArgument",
        "",
    ))]);
    let src = source(SMALL);
    let err = assert_failed(&push(&server.endpoint(), &src, &[]), 7);
    assert!(err.contains("InvalidArgument"), "{err}");
    assert_requests(&server.seen(), 1);
}

// e.
#[test]
fn request_timeout_is_retried() {
    let server = ScriptedServer::start(vec![
        after_body(s3_error("400 Bad Request", "RequestTimeout", "")),
        good(),
    ]);
    let src = source(SMALL);
    assert_ok(&push(&server.endpoint(), &src, &[]));
    let seen = server.seen();
    assert_requests(&seen, 2);
    assert!(seen[1].body_complete);
}

/// Over TLS, a store that answers a body it will not take and closes (the kernel resets
/// the connection under the send) is heard: its answer, not the broken pipe, is the error,
/// and it is not retried. The records still waiting to go out are not written first.
#[test]
fn an_early_refusal_over_tls_is_reported_not_the_reset() {
    let src = source(16 * 1024 * 1024);
    let answer = s3_error("403 Forbidden", "SignatureDoesNotMatch", "");
    let store = common::TlsFront::refusing(answer);
    let ca = store.ca_pem_path().to_string_lossy().into_owned();
    let out = push(
        &store.endpoint(),
        &src,
        &["--no-expect", "--ca-bundle", &ca],
    );
    let err = assert_failed(&out, 7);
    assert!(err.contains("SignatureDoesNotMatch"), "{err}");
    assert_eq!(store.connections(), 1, "the refusal was retried");
}

// f.
#[test]
fn a_refusal_of_expect_costs_no_body() {
    // Answers the head at once, then waits for the client to close, counting any body.
    let server = ScriptedServer::start(vec![vec![
        ReadHead,
        Reply(s3_error("403 Forbidden", "AccessDenied", "")),
    ]]);
    let src = source(BIG);
    let err = assert_failed(&push(&server.endpoint(), &src, &[]), 7);
    assert!(err.contains("AccessDenied"), "{err}");
    let seen = server.seen();
    assert_requests(&seen, 1);
    assert!(
        seen[0]
            .head
            .to_ascii_lowercase()
            .contains("expect: 100-continue"),
        "{}",
        seen[0].head
    );
    assert_eq!(seen[0].body_len, 0, "body bytes sent after the refusal");
}

// g.
#[test]
fn continue_then_body() {
    let server = ScriptedServer::start(vec![vec![
        ReadHead,
        Reply(CONTINUE.to_vec()),
        ReadBody,
        Stored,
    ]]);
    let src = source(BIG);
    assert_ok(&push(&server.endpoint(), &src, &[]));
    let seen = server.seen();
    assert_requests(&seen, 1);
    assert!(seen[0].expect_100, "{}", seen[0].head);
    assert_eq!(seen[0].body_len, BIG);
    assert!(seen[0].body_complete);
}

// h.
#[test]
fn expectation_failed_turns_expect_off() {
    let server = ScriptedServer::start(vec![
        vec![
            ReadHead,
            Reply(answer("HTTP/1.1 417 Expectation Failed", &[], "")),
        ],
        // A store that ignores Expect: no 100, just the body.
        vec![ReadHead, ReadBody, Stored],
    ]);
    let src = source(BIG);
    assert_ok(&push(&server.endpoint(), &src, &[]));
    let seen = server.seen();
    assert_requests(&seen, 2);
    assert!(seen[0].expect_100, "{}", seen[0].head);
    assert_eq!(seen[0].body_len, 0, "body sent after the 417");
    assert!(!seen[1].expect_100, "{}", seen[1].head);
    assert!(seen[1].header("expect").is_none(), "{}", seen[1].head);
    assert!(seen[1].body_complete);
}

// i.
#[test]
fn a_store_that_ignores_expect_gets_the_body_after_the_wait() {
    let server = ScriptedServer::start(vec![vec![ReadHead, ReadBody, Stored]]);
    let src = source(BIG);
    let started = Instant::now();
    assert_ok(&push(&server.endpoint(), &src, &[]));
    let took = started.elapsed();
    // The wait is 1 s; the rest is a 2 MiB upload on loopback.
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let seen = server.seen();
    assert_requests(&seen, 1);
    assert!(seen[0].expect_100, "{}", seen[0].head);
    assert!(seen[0].body_complete);
}

// j.
#[test]
fn no_expect_when_asked() {
    let server = ScriptedServer::start(vec![vec![ReadHead, ReadBody, Stored]]);
    let src = source(BIG);
    assert_ok(&push(&server.endpoint(), &src, &["--no-expect"]));
    let seen = server.seen();
    assert_requests(&seen, 1);
    assert!(seen[0].header("expect").is_none(), "{}", seen[0].head);
    assert!(seen[0].body_complete);
}

// k.
#[test]
fn no_expect_for_a_small_body() {
    let server = ScriptedServer::start(vec![vec![ReadHead, ReadBody, Stored]]);
    let src = source(SMALL);
    assert_ok(&push(&server.endpoint(), &src, &[]));
    let seen = server.seen();
    assert_requests(&seen, 1);
    assert!(seen[0].header("expect").is_none(), "{}", seen[0].head);
    assert_eq!(seen[0].body_len, SMALL);
}

// l.
#[test]
fn a_stall_ends_at_the_timeout() {
    let server = ScriptedServer::start(vec![vec![
        ReadHead,
        ReadBody,
        Stall(Duration::from_secs(5)),
    ]]);
    let src = source(SMALL);
    let started = Instant::now();
    let out = push(
        &server.endpoint(),
        &src,
        &["--timeout", "0.5", "--retries", "0"],
    );
    let took = started.elapsed();
    let err = assert_failed(&out, 5);
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert!(err.contains("--timeout"), "{err}");
}

// m.
#[test]
fn a_malformed_status_line_is_a_bad_response() {
    let server = ScriptedServer::start(vec![after_body(b"HTTP/1.1 2xx OK\r\n\r\n".to_vec())]);
    let src = source(SMALL);
    let err = assert_failed(&push(&server.endpoint(), &src, &["--retries", "0"]), 8);
    assert!(err.contains("HTTP/1.1 2xx OK"), "the raw line: {err}");
}

// m.
#[test]
fn a_response_head_over_64_kib_is_a_bad_response() {
    let mut huge = b"HTTP/1.1 200 OK\r\nETag: \"abc\"\r\nX-Big: ".to_vec();
    huge.resize(70 * 1024, b'a');
    huge.extend_from_slice(b"\r\nContent-Length: 0\r\n\r\n");
    let server = ScriptedServer::start(vec![after_body(huge)]);
    let src = source(SMALL);
    assert_failed(&push(&server.endpoint(), &src, &["--retries", "0"]), 8);
}

// m.
#[test]
fn a_truncated_response_body_is_a_bad_response() {
    let truncated = b"HTTP/1.1 200 OK\r\nETag: \"abc\"\r\nContent-Length: 100\r\n\r\n0123456789";
    let server = ScriptedServer::start(vec![vec![
        ReadHead,
        ReadBody,
        Reply(truncated.to_vec()),
        Close,
    ]]);
    let src = source(SMALL);
    assert_failed(&push(&server.endpoint(), &src, &["--retries", "0"]), 8);
}

// n.
#[test]
fn an_error_inside_a_200_is_not_success() {
    let server = ScriptedServer::start(vec![after_body(s3_error("200 OK", "InternalError", ""))]);
    let src = source(SMALL);
    let err = assert_failed(&push(&server.endpoint(), &src, &["--retries", "0"]), 7);
    assert!(err.contains("InternalError"), "{err}");
}

// o.
#[test]
fn a_skewed_clock_is_corrected_once() {
    let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(2 * 3600));
    let server = ScriptedServer::start(vec![
        after_body(s3_error_with(
            "403 Forbidden",
            &[("Date", &later)],
            "RequestTimeTooSkewed",
            "<MaxAllowedSkewMilliseconds>900000</MaxAllowedSkewMilliseconds>",
        )),
        good(),
    ]);
    let src = source(SMALL);
    let err = assert_ok(&push(&server.endpoint(), &src, &[]));
    let seen = server.seen();
    assert_requests(&seen, 2);
    let shift = amz_seconds(&seen[1]) - amz_seconds(&seen[0]);
    assert!(
        (2 * 3600 - 300..=2 * 3600 + 300).contains(&shift),
        "the second request is signed {shift} s after the first, not about 2 h"
    );
    let warning = err
        .lines()
        .find(|l| l.contains("clock"))
        .unwrap_or_else(|| panic!("no warning about the clock: {err:?}"));
    assert!(
        warning.starts_with("s3push: warning:") && warning.chars().any(|c| c.is_ascii_digit()),
        "says by how much: {warning}"
    );
}

// p.
#[test]
fn a_301_region_redirect_is_followed_once_and_named() {
    let server = ScriptedServer::start(vec![
        after_body(s3_error_with(
            "301 Moved Permanently",
            &[("x-amz-bucket-region", "eu-west-1")],
            "PermanentRedirect",
            "<Bucket>bucket</Bucket>",
        )),
        good(),
    ]);
    let src = source(SMALL);
    let err = assert_ok(&push(&server.endpoint(), &src, &[]));
    region_retried(&server.seen(), &err);
}

// p.
#[test]
fn a_region_named_by_authorization_header_malformed_is_followed_once() {
    let server = ScriptedServer::start(vec![
        after_body(s3_error(
            "400 Bad Request",
            "AuthorizationHeaderMalformed",
            "<Region>eu-west-1</Region>",
        )),
        good(),
    ]);
    let src = source(SMALL);
    let err = assert_ok(&push(&server.endpoint(), &src, &[]));
    region_retried(&server.seen(), &err);
}

fn region_retried(seen: &[Seen], stderr: &str) {
    assert_requests(seen, 2);
    let auth = |s: &Seen| s.header("authorization").unwrap_or_default();
    assert!(
        auth(&seen[0]).contains("/us-east-1/s3/aws4_request"),
        "{}",
        auth(&seen[0])
    );
    assert!(
        auth(&seen[1]).contains("/eu-west-1/s3/aws4_request"),
        "{}",
        auth(&seen[1])
    );
    assert!(seen[1].body_complete);
    assert!(
        stderr.lines().any(|l| l.contains("--region eu-west-1")),
        "{stderr:?}"
    );
}

// q.
#[test]
fn connection_refused_is_retried_then_reported() {
    let src = source(SMALL);
    let endpoint = format!("http://127.0.0.1:{}", common::closed_port());
    let err = assert_failed(&push(&endpoint, &src, &["--retries", "1"]), 5);
    assert!(err.contains("attempts"), "{err}");
    assert!(err.contains("2 attempts"), "{err}");
}

/// Seconds since the epoch of a request's x-amz-date (YYYYMMDDTHHMMSSZ).
fn amz_seconds(seen: &Seen) -> i64 {
    let d = seen
        .header("x-amz-date")
        .unwrap_or_else(|| panic!("no x-amz-date in {}", seen.head));
    let bytes = d.as_bytes();
    assert!(
        bytes.len() == 16
            && bytes[8] == b'T'
            && bytes[15] == b'Z'
            && d[..8]
                .bytes()
                .chain(d[9..15].bytes())
                .all(|b| b.is_ascii_digit()),
        "x-amz-date {d:?} is not YYYYMMDDTHHMMSSZ"
    );
    let n = |r: std::ops::Range<usize>| d[r].parse::<i64>().expect("digits");
    let (y, m, day) = (n(0..4), n(4..6), n(6..8));
    // Days from the civil date (H. Hinnant's algorithm).
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy;
    days * 86_400 + n(9..11) * 3600 + n(11..13) * 60 + n(13..15)
}

// ---- multipart ---------------------------------------------------------------------------

/// 5 MiB + 1 byte in 5 MiB parts: two parts, one connection (jobs 1).
const TWO_PARTS: u64 = 5 * 1024 * 1024 + 1;
const MULTIPART: &[&str] = &[
    "--multipart-threshold",
    "5M",
    "--part-size",
    "5M",
    "--jobs",
    "1",
    "--retries",
    "0",
];

fn part_stored(etag: &str) -> Vec<u8> {
    answer("HTTP/1.1 200 OK", &[("ETag", etag)], "")
}

/// The quoted hex MD5 of the file's bytes in `range`: the ETag S3 gives that part.
fn md5_etag(src: &Source, range: std::ops::Range<usize>) -> String {
    etag(&std::fs::read(&src.file).unwrap()[range])
}

/// The ETag S3 gives the two-part object: the MD5 of the parts' MD5s, then "-2".
fn object_etag(src: &Source) -> String {
    let bytes = std::fs::read(&src.file).unwrap();
    multipart_etag(&[&bytes[..5 << 20], &bytes[5 << 20..]])
}

/// The CRC32 of the whole file, base64: the FULL_OBJECT checksum S3 gives the object.
fn object_crc32(src: &Source) -> String {
    let crc = crc32fast::hash(&std::fs::read(&src.file).unwrap());
    s3push::checksum::base64(&crc.to_be_bytes())
}

/// What S3 answers to CompleteMultipartUpload of the file: its ETag and its CRC32.
fn completed_answer(src: &Source) -> Vec<u8> {
    answer(
        "HTTP/1.1 200 OK",
        &[],
        &format!(
            "<CompleteMultipartUploadResult><ETag>{}</ETag><ChecksumCRC32>{}</ChecksumCRC32>\
             </CompleteMultipartUploadResult>",
            object_etag(src),
            object_crc32(src)
        ),
    )
}

fn part(etag: &str) -> Vec<Step> {
    vec![
        ReadHead,
        ContinueIfExpected,
        ReadBody,
        Reply(part_stored(etag)),
    ]
}

#[test]
fn an_error_inside_the_200_of_complete_multipart_upload_fails_and_aborts() {
    let src = source(TWO_PARTS);
    let (p1, p2) = (
        md5_etag(&src, 0..5 << 20),
        md5_etag(&src, 5 << 20..TWO_PARTS as usize),
    );
    let mut parts = part(&p1);
    parts.extend(part(&p2));
    let server = ScriptedServer::start(vec![
        vec![ReadHead, ReadBody, Reply(initiated("UPLOAD-1"))],
        parts,
        after_body(s3_error("200 OK", "InternalError", "")),
        vec![
            ReadHead,
            ReadBody,
            Reply(answer("HTTP/1.1 204 No Content", &[], "")),
        ],
    ]);
    let out = push(&server.endpoint(), &src, MULTIPART);
    let err = assert_failed(&out, 7);
    assert!(
        err.contains("InternalError") && err.contains("aborted"),
        "{err}"
    );
    let lines = request_lines(&server.seen());
    assert_eq!(lines.len(), 5, "{lines:?}");
    assert!(
        lines[0].starts_with("POST /bucket/key.bin?uploads"),
        "{lines:?}"
    );
    assert!(lines[1].starts_with("PUT /bucket/key.bin?partNumber=1&uploadId=UPLOAD-1"));
    assert!(lines[2].starts_with("PUT /bucket/key.bin?partNumber=2&uploadId=UPLOAD-1"));
    assert!(lines[3].starts_with("POST /bucket/key.bin?uploadId=UPLOAD-1"));
    assert!(lines[4].starts_with("DELETE /bucket/key.bin?uploadId=UPLOAD-1"));
}

#[test]
fn a_part_whose_etag_is_not_the_md5_sent_is_an_integrity_failure() {
    let src = source(TWO_PARTS);
    // No checksum: the ETag check is on.
    let server = ScriptedServer::start(vec![
        vec![ReadHead, ReadBody, Reply(initiated("UPLOAD-1"))],
        part("\"00000000000000000000000000000000\""),
        vec![
            ReadHead,
            ReadBody,
            Reply(answer("HTTP/1.1 204 No Content", &[], "")),
        ],
    ]);
    let mut flags = MULTIPART.to_vec();
    flags.extend(["--checksum", "none"]);
    let out = push(&server.endpoint(), &src, &flags);
    let err = assert_failed(&out, 9);
    assert!(
        err.contains("part 1 arrived damaged") && err.contains("aborted"),
        "{err}"
    );
    let lines = request_lines(&server.seen());
    assert!(lines.last().unwrap().starts_with("DELETE "), "{lines:?}");
    assert!(
        !lines.iter().any(|l| l.contains("partNumber=2")),
        "{lines:?}"
    );
}

#[test]
fn a_completed_object_whose_etag_disagrees_is_not_trusted() {
    let src = source(TWO_PARTS);
    let (p1, p2) = (
        md5_etag(&src, 0..5 << 20),
        md5_etag(&src, 5 << 20..TWO_PARTS as usize),
    );
    let mut parts = part(&p1);
    parts.extend(part(&p2));
    let completed = answer(
        "HTTP/1.1 200 OK",
        &[],
        "<CompleteMultipartUploadResult><ETag>\"0123456789abcdef0123456789abcdef-2\"</ETag></CompleteMultipartUploadResult>",
    );
    let server = ScriptedServer::start(vec![
        vec![ReadHead, ReadBody, Reply(initiated("UPLOAD-1"))],
        parts,
        after_body(completed),
    ]);
    let mut flags = MULTIPART.to_vec();
    flags.push("--verify-etag");
    let out = push(&server.endpoint(), &src, &flags);
    let err = assert_failed(&out, 9);
    assert!(err.contains("do not trust s3://bucket/key.bin"), "{err}");
    assert_eq!(server.seen().len(), 4, "no abort of a completed upload");
}

/// The store completes the object but the answer is lost (the connection is cut, as a
/// load balancer does to a silent connection); the retry finds the upload gone. A HEAD of
/// the object shows the ETag of the parts sent: that is a success, with a warning.
#[test]
fn a_lost_complete_answer_is_confirmed_by_the_object_etag() {
    let src = source(TWO_PARTS);
    let (p1, p2) = (
        md5_etag(&src, 0..5 << 20),
        md5_etag(&src, 5 << 20..TWO_PARTS as usize),
    );
    let head = |etag: &str| {
        vec![
            ReadHead,
            Reply(answer("HTTP/1.1 200 OK", &[("ETag", etag)], "")),
        ]
    };
    for (stored, ok) in [
        (object_etag(&src), true),
        ("\"0123456789abcdef0123456789abcdef-2\"".to_string(), false),
    ] {
        let server = ScriptedServer::start(vec![
            vec![ReadHead, ReadBody, Reply(initiated("UPLOAD-1"))],
            part(&p1),
            part(&p2),
            vec![ReadHead, ReadBody, Close],
            after_body(s3_error("404 Not Found", "NoSuchUpload", "")),
            head(&stored),
            // With the ETag wrong, the upload is aborted (it is gone: NoSuchUpload).
            after_body(s3_error("404 Not Found", "NoSuchUpload", "")),
        ]);
        let mut flags = MULTIPART.to_vec();
        let last = flags.len() - 1;
        flags[last] = "1"; // --retries 1
        let out = push(&server.endpoint(), &src, &flags);
        let lines = request_lines(&server.seen());
        assert!(
            lines.len() > 5 && lines[5].starts_with("HEAD /bucket/key.bin "),
            "{lines:?} {}",
            text(&out.stderr)
        );
        if ok {
            let err = assert_ok(&out);
            assert!(err.contains("answer was lost"), "{err}");
            assert_eq!(lines.len(), 6, "{lines:?}");
        } else {
            let err = text(&out.stderr);
            assert_ne!(out.status.code(), Some(0), "{err}");
            assert!(err.contains("NoSuchUpload"), "{err}");
            assert!(text(&out.stdout).is_empty());
        }
    }
}

#[test]
fn a_part_refused_with_slow_down_is_retried_alone() {
    let src = source(TWO_PARTS);
    let (p1, p2) = (
        md5_etag(&src, 0..5 << 20),
        md5_etag(&src, 5 << 20..TWO_PARTS as usize),
    );
    let completed = completed_answer(&src);
    let server = ScriptedServer::start(vec![
        vec![ReadHead, ReadBody, Reply(initiated("UPLOAD-1"))],
        part(&p1),
        // The second part: SlowDown once (the connection drops after an error), then stored.
        after_body(s3_error("503 Slow Down", "SlowDown", "")),
        part(&p2),
        after_body(completed),
    ]);
    let mut flags = MULTIPART.to_vec();
    let last = flags.len() - 1;
    flags[last] = "2"; // --retries 2
    let out = push(&server.endpoint(), &src, &flags);
    assert_ok(&out);
    let lines = request_lines(&server.seen());
    let part2 = lines.iter().filter(|l| l.contains("partNumber=2")).count();
    let part1 = lines.iter().filter(|l| l.contains("partNumber=1")).count();
    assert_eq!((part1, part2), (1, 2), "{lines:?}");
}

// ---- checksums -----------------------------------------------------------------------

/// A store that echoes a checksum other than the one sent: the bytes were damaged on the
/// way. The single PUT's object is reported as not to be trusted and left in place...
#[test]
fn a_checksum_echo_that_disagrees_is_an_integrity_failure() {
    let src = source(SMALL);
    let bad = answer(
        "HTTP/1.1 200 OK",
        &[("ETag", "\"abc\""), ("x-amz-checksum-crc32", "AAAAAA==")],
        "",
    );
    let server = ScriptedServer::start(vec![after_body(bad)]);
    let out = push(&server.endpoint(), &src, &["--checksum", "crc32"]);
    let err = assert_failed(&out, 9);
    assert!(
        err.contains("CRC32 AAAAAA==")
            && err.contains("do not trust")
            && err.contains("--delete-on-mismatch"),
        "{err}"
    );
    assert_eq!(
        server.seen().len(),
        1,
        "nothing deleted without being asked"
    );
}

/// ...and deleted with --delete-on-mismatch.
#[test]
fn delete_on_mismatch_deletes_the_damaged_object() {
    let src = source(SMALL);
    let bad = answer(
        "HTTP/1.1 200 OK",
        &[("ETag", "\"0123456789abcdef0123456789abcdef\"")],
        "",
    );
    let server = ScriptedServer::start(vec![
        after_body(bad),
        vec![
            ReadHead,
            ReadBody,
            Reply(answer("HTTP/1.1 204 No Content", &[], "")),
        ],
    ]);
    let out = push(
        &server.endpoint(),
        &src,
        &["--checksum", "none", "--delete-on-mismatch"],
    );
    let err = assert_failed(&out, 9);
    assert!(
        err.contains("not the MD5") && err.contains("was deleted"),
        "{err}"
    );
    let lines = request_lines(&server.seen());
    assert!(lines[1].starts_with("DELETE /bucket/key.bin "), "{lines:?}");
}

/// A part whose checksum the store echoes differently fails the upload (and aborts it).
#[test]
fn a_part_checksum_echo_that_disagrees_fails_the_upload() {
    let src = source(TWO_PARTS);
    let bad_part = answer(
        "HTTP/1.1 200 OK",
        &[("ETag", "\"x\""), ("x-amz-checksum-crc32c", "AAAAAA==")],
        "",
    );
    let server = ScriptedServer::start(vec![
        vec![ReadHead, ReadBody, Reply(initiated("UPLOAD-1"))],
        vec![ReadHead, ContinueIfExpected, ReadBody, Reply(bad_part)],
        vec![
            ReadHead,
            ReadBody,
            Reply(answer("HTTP/1.1 204 No Content", &[], "")),
        ],
    ]);
    let mut flags = MULTIPART.to_vec();
    flags.extend(["--checksum", "crc32c"]);
    let out = push(&server.endpoint(), &src, &flags);
    let err = assert_failed(&out, 9);
    assert!(
        err.contains("damaged on the way") && err.contains("aborted"),
        "{err}"
    );
    let seen = server.seen();
    // The part went with its checksum in a trailer (http default payload is signed, so a
    // header: the value was known from the signing pass).
    assert!(
        seen[1].header("x-amz-checksum-crc32c").is_some(),
        "{}",
        seen[1].head
    );
    assert!(seen[0].header("x-amz-checksum-algorithm").as_deref() == Some("CRC32C"));
}

/// A store that refuses the checksum trailer (as B2 or R2 do) gets the checksum as a
/// header (said in a warning); one that refuses that too, for a reason that is not about
/// checksums, gets the refusal with a message naming the way back.
#[test]
fn a_refused_checksum_trailer_names_the_fallback() {
    let src = source(SMALL);
    let server = ScriptedServer::start(vec![after_body(answer(
        "HTTP/1.1 400 Bad Request",
        &[("Content-Type", "application/xml")],
        "<Error><Code>InvalidArgument</Code><Message>Unsupported header 'x-amz-trailer' received for \
         this API call.</Message></Error>",
    ))]);
    let out = push(&server.endpoint(), &src, &["--payload", "unsigned"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(lines[0].starts_with("s3push: warning: the store refused a checksum trailer"));
    assert!(lines[1].contains("--checksum none"), "{err}");
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        seen[0].header("x-amz-content-sha256").as_deref(),
        Some("STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    );
    assert_eq!(
        seen[0].header("x-amz-trailer").as_deref(),
        Some("x-amz-checksum-crc32")
    );
    assert_eq!(
        seen[1].header("x-amz-content-sha256").as_deref(),
        Some("UNSIGNED-PAYLOAD")
    );
    assert!(seen[1].header("x-amz-checksum-crc32").is_some());
}

/// A store that refuses the trailer, then the checksum header as such, ends at what every
/// store takes: Content-MD5 and the ETag check, each step said once.
#[test]
fn a_store_that_refuses_checksums_gets_content_md5_and_the_etag_check() {
    let src = source(BIG);
    let no_checksums = answer(
        "HTTP/1.1 400 Bad Request",
        &[("Content-Type", "application/xml")],
        "<Error><Code>InvalidArgument</Code><Message>x-amz-checksum-crc32: checksums are not \
         supported</Message></Error>",
    );
    let server = ScriptedServer::start(vec![
        vec![ReadHead, Reply(no_checksums.clone())],
        vec![ReadHead, Reply(no_checksums)],
        vec![ReadHead, ContinueIfExpected, ReadBody, Stored],
    ]);
    let out = push(&server.endpoint(), &src, &["--payload", "unsigned"]);
    let err = assert_ok(&out);
    // The same refusal with and without the trailer: not the trailer, the checksum.
    assert!(!err.contains("refused a checksum trailer"), "{err}");
    assert!(
        err.contains("sending Content-MD5 and checking the ETag"),
        "{err}"
    );
    let seen = server.seen();
    assert_eq!(seen.len(), 3);
    assert!(seen[1].header("x-amz-checksum-crc32").is_some());
    assert!(seen[2].header("content-md5").is_some());
    assert!(
        !seen[2].head.to_ascii_lowercase().contains("x-amz-checksum"),
        "{}",
        seen[2].head
    );
    assert!(seen[2].body_complete);
}

/// --resume with no journal on this host: the pending upload is found by
/// ListMultipartUploads, its parts by ListParts page after page, and only the part the
/// store does not hold is sent.
#[test]
fn resume_finds_the_upload_by_listing_and_sends_only_what_is_missing() {
    let src = source(TWO_PARTS);
    let (p1, p2) = (
        md5_etag(&src, 0..5 << 20),
        md5_etag(&src, 5 << 20..TWO_PARTS as usize),
    );
    let xml = |body: String| {
        answer(
            "HTTP/1.1 200 OK",
            &[("Content-Type", "application/xml")],
            &body,
        )
    };
    let uploads = xml(
        "<ListMultipartUploadsResult><Bucket>bucket</Bucket><IsTruncated>false</IsTruncated>\
         <Upload><Key>key.bin.other</Key><UploadId>OTHER</UploadId></Upload>\
         <Upload><Key>key.bin</Key><UploadId>UPLOAD-9</UploadId></Upload></ListMultipartUploadsResult>"
            .to_string(),
    );
    let page1 = xml(format!(
        "<ListPartsResult><IsTruncated>true</IsTruncated><NextPartNumberMarker>1</NextPartNumberMarker>\
         <Part><PartNumber>1</PartNumber><ETag>{}</ETag><Size>{}</Size></Part></ListPartsResult>",
        p1.replace('"', "&quot;"),
        5 << 20
    ));
    let page2 =
        xml("<ListPartsResult><IsTruncated>false</IsTruncated></ListPartsResult>".to_string());
    let completed = completed_answer(&src);
    let server = ScriptedServer::start(vec![
        vec![ReadHead, Reply(uploads)],
        vec![ReadHead, Reply(page1)],
        vec![ReadHead, Reply(page2)],
        part(&p2),
        after_body(completed),
    ]);
    let mut flags = MULTIPART.to_vec();
    flags.push("--resume");
    let out = push(&server.endpoint(), &src, &flags);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(text(&out.stdout).starts_with(&format!("uploaded {DEST} ")));
    no_secret(&out);
    assert!(
        err.contains("1 of 2 parts already stored, sending 1"),
        "{err}"
    );
    let lines = request_lines(&server.seen());
    assert!(
        lines[0].starts_with("GET /bucket/?prefix=key.bin&uploads="),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with("GET /bucket/key.bin?uploadId=UPLOAD-9 "),
        "{lines:?}"
    );
    assert!(
        lines[2].contains("part-number-marker=1&uploadId=UPLOAD-9"),
        "{lines:?}"
    );
    assert!(
        lines[3].starts_with("PUT /bucket/key.bin?partNumber=2&uploadId=UPLOAD-9"),
        "{lines:?}"
    );
    // The upload was created without a checksum (its parts list none): the part goes on
    // without one (Garage refuses another algorithm at Complete), checked by its ETag.
    let seen = server.seen();
    assert!(
        seen[3].header("x-amz-checksum-crc32").is_none(),
        "{}",
        seen[3].head
    );
    assert!(
        lines[4].starts_with("POST /bucket/key.bin?uploadId=UPLOAD-9"),
        "{lines:?}"
    );
    assert_eq!(lines.len(), 5, "{lines:?}");
}

/// Two runs on one journal at once (a second `--resume` while the first still sends): the
/// second refuses at once, naming what holds it (exit 3), and nothing of the first is
/// touched. Before: both went on, broke the upload, and exited 7.
#[test]
fn a_second_run_on_the_same_journal_refuses_while_the_first_holds_it() {
    let src = source(TWO_PARTS);
    let server = ScriptedServer::start(vec![
        vec![ReadHead, ReadBody, Reply(initiated("UPLOAD-1"))],
        vec![ReadHead, Stall(Duration::from_secs(15))],
    ]);
    let mut first = common::s3push(src.dir.path());
    first.args(["--endpoint", &server.endpoint()]);
    first.args(MULTIPART);
    first.arg(&src.file).arg(DEST);
    let mut first = first
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("s3push starts");
    // The lock is taken before the first request: once the part is on its way, it is held.
    let deadline = Instant::now() + LIMIT;
    while server.connections() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut flags = MULTIPART.to_vec();
    flags.push("--resume");
    let out = push(&server.endpoint(), &src, &flags);
    let _ = first.kill();
    let _ = first.wait();
    let err = assert_failed(&out, 3);
    assert!(err.contains("another s3push is uploading"), "{err}");
    assert_eq!(server.connections(), 2, "the second run sent nothing");
}

/// Issue 15: how long a run against a server that trickles or stalls may take, measured
/// from the start of s3push to its exit; printed for the record (`--nocapture`).
fn timed_push(endpoint: &str, src: &Source, extra: &[&str], limit: Duration) -> (Output, Duration) {
    let mut cmd = common::s3push(src.dir.path());
    cmd.args(["--endpoint", endpoint, "--retry-max-wait", "0.05"]);
    cmd.args(extra);
    cmd.arg(&src.file).arg(DEST);
    let started = Instant::now();
    let out = common::run_bounded(cmd, limit);
    let took = started.elapsed();
    eprintln!(
        "s3push {extra:?} took {took:?}, exit {:?}",
        out.status.code()
    );
    (out, took)
}

/// A response head `lines` header lines long, to be trickled a line at a time.
fn long_head(lines: usize) -> Vec<u8> {
    let mut head = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..lines {
        head.extend_from_slice(format!("X-Slow-{i:04}: a\r\n").as_bytes());
    }
    head.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    head
}

/// Issue 15: a store that sends its answer's head one line every 250 ms keeps every read
/// short of --timeout; the whole head must come within --timeout of the request's end.
/// Before: s3push waited for the server to give up (30 s, then exit 8).
#[test]
fn a_response_head_that_trickles_ends_at_the_timeout() {
    let line = "X-Slow-0000: a\r\n".len();
    let server = ScriptedServer::start(vec![vec![
        ReadHead,
        ContinueIfExpected,
        ReadBody,
        Trickle {
            bytes: long_head(200),
            piece: line,
            every: Duration::from_millis(250),
        },
    ]]);
    let src = source(SMALL);
    let flags = ["--timeout", "1", "--retries", "1"];
    let (out, took) = timed_push(&server.endpoint(), &src, &flags, LIMIT);
    let err = assert_failed(&out, 5);
    assert!(err.contains("--timeout"), "{err}");
    // Two attempts of 1 s each, and the retry's pause.
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert_eq!(server.connections(), 2, "retried once");
}

/// Issue 15: a response body that trickles (400 bytes every 250 ms) is a stall: under
/// 64 KiB in a window of --timeout. Before: each read counted as progress (25 s an
/// attempt).
#[test]
fn a_response_body_that_trickles_ends_at_the_timeout() {
    let len = 40_000;
    let mut reply =
        format!("HTTP/1.1 200 OK\r\nETag: \"x\"\r\nContent-Length: {len}\r\n\r\n").into_bytes();
    reply.resize(reply.len() + len, b' ');
    let server = ScriptedServer::start(vec![vec![
        ReadHead,
        ContinueIfExpected,
        ReadBody,
        Trickle {
            bytes: reply,
            piece: 400,
            every: Duration::from_millis(250),
        },
    ]]);
    let src = source(SMALL);
    let flags = ["--timeout", "1", "--retries", "1"];
    let (out, took) = timed_push(&server.endpoint(), &src, &flags, LIMIT);
    let err = assert_failed(&out, 5);
    assert!(err.contains("--timeout"), "{err}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert_eq!(server.connections(), 2, "retried once");
}

/// Issue 15: the wait for `100 Continue` is bounded too. A store that starts an answer
/// within the 1 s wait and trickles the rest gets what any answer gets: --timeout from the
/// end of the request head. Before: s3push read the trickle until the server gave up
/// (30 s).
#[test]
fn an_answer_to_expect_that_trickles_ends_at_the_timeout() {
    let line = "X-Slow-0000: a\r\n".len();
    let server = ScriptedServer::start(vec![vec![
        ReadHead,
        Trickle {
            bytes: long_head(200),
            piece: line,
            every: Duration::from_millis(250),
        },
    ]]);
    let src = source(BIG);
    let flags = ["--timeout", "1", "--retries", "1"];
    let (out, took) = timed_push(&server.endpoint(), &src, &flags, LIMIT);
    let err = assert_failed(&out, 5);
    assert!(err.contains("--timeout"), "{err}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let seen = server.seen();
    assert_requests(&seen, 2);
    assert!(seen.iter().all(|s| s.expect_100 && s.body_len == 0));
}

/// Issue 15: a TLS handshake that trickles (a record announced 16 KiB long, a byte every
/// 100 ms) ends at --timeout. Before: each byte reset the wait (about 27 minutes).
#[test]
fn a_tls_handshake_that_trickles_ends_at_the_timeout() {
    let mut record = vec![0x16, 0x03, 0x03, 0x40, 0x00];
    record.resize(5 + 0x4000, 0);
    let server = ScriptedServer::start(vec![vec![Trickle {
        bytes: record,
        piece: 1,
        every: Duration::from_millis(100),
    }]]);
    let src = source(SMALL);
    let endpoint = format!("https://127.0.0.1:{}", server.port());
    let flags = ["--timeout", "1", "--retries", "1"];
    let (out, took) = timed_push(&endpoint, &src, &flags, LIMIT);
    let err = assert_failed(&out, 5);
    assert!(
        err.contains("--timeout") && err.contains("TLS handshake"),
        "{err}"
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert_eq!(server.connections(), 2, "retried once");
}

/// The body of the stall tests: larger than what the kernels' socket buffers take in
/// (about 4 MiB each way on loopback), under the multipart threshold.
const STALLED_BODY: u64 = 24 * 1024 * 1024;

/// Issue 15: a store that takes the head and never reads: once the socket buffers are
/// full, the kernel still takes a few bytes now and then (it grows its buffers); that is
/// not progress. Each attempt ends at --timeout after the 1 s wait for 100 Continue.
/// Before: 24 s for `--timeout 3 --retries 1`.
#[test]
fn a_store_that_stops_reading_is_a_stall_within_the_timeout() {
    let server = ScriptedServer::start(vec![vec![ReadHead, Stall(Duration::from_secs(30))]]);
    let src = source(STALLED_BODY);
    let flags = ["--timeout", "3", "--retries", "1"];
    let (out, took) = timed_push(&server.endpoint(), &src, &flags, Duration::from_secs(40));
    let err = assert_failed(&out, 5);
    assert!(err.contains("--timeout"), "{err}");
    // (retries + 1) x (timeout + the 100-continue wait) = 8 s; the kernel takes room
    // for a few hundred KiB more just after the buffers filled, which restarts the
    // window once (about 0.5 s an attempt); and some slack for a loaded machine.
    assert!(took < Duration::from_secs(11), "took {took:?}");
    assert_eq!(server.connections(), 2, "retried once");
}

/// As above, over TLS (the test's TLS front stops reading when the store does).
#[test]
fn a_store_that_stops_reading_over_tls_is_a_stall_within_the_timeout() {
    let server = ScriptedServer::start(vec![vec![ReadHead, Stall(Duration::from_secs(30))]]);
    let front = common::TlsFront::start(server.port());
    let src = source(STALLED_BODY);
    let ca = front.ca_pem_path().to_string_lossy().into_owned();
    let flags = ["--timeout", "3", "--retries", "1", "--ca-bundle", &ca];
    let (out, took) = timed_push(&front.endpoint(), &src, &flags, Duration::from_secs(40));
    let err = assert_failed(&out, 5);
    assert!(err.contains("--timeout"), "{err}");
    assert!(took < Duration::from_secs(11), "took {took:?}");
    assert_eq!(server.connections(), 2, "retried once");
}

/// Issue 15: a slow link that keeps moving is not a stall, even while the kernel's send
/// buffer is full and wakes the writer only after a third of it drained (about 1.3 MiB,
/// over 5 s at this pace): the store reads 3 MiB at 256 KiB/s, then the rest at once.
#[test]
fn a_slow_link_that_keeps_moving_is_not_a_stall() {
    let server = ScriptedServer::start(vec![vec![
        ReadHead,
        ContinueIfExpected,
        ReadBodySlowly {
            len: 3 * 1024 * 1024,
            piece: 16 * 1024,
            every: Duration::from_millis(62),
        },
        ReadBody,
        Stored,
    ]]);
    let src = source(STALLED_BODY);
    let flags = ["--timeout", "2", "--retries", "0"];
    let (out, _) = timed_push(&server.endpoint(), &src, &flags, Duration::from_secs(40));
    assert_ok(&out);
    let seen = server.seen();
    assert_requests(&seen, 1);
    assert!(seen[0].body_complete);
}

/// The system call some thread of process `pid` is blocked in, by its number (the first
/// field of /proc/PID/task/TID/syscall), if any is one of `numbers`.
fn in_syscall(pid: u32, numbers: &[&str]) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().any(|t| {
        std::fs::read_to_string(t.path().join("syscall"))
            .is_ok_and(|s| numbers.contains(&s.split(' ').next().unwrap_or_default()))
    })
}

/// A file written after its bytes went with sendfile but before the store read them (the
/// store holds back its reading): the store gets some of the new bytes. s3push tells from
/// the file's stamp once the answer is in: exit 3, "changed while it was being uploaded"
/// and that the store took the object, although this store echoes the checksum it was
/// sent without checking it (without the check: exit 0, the torn object confirmed).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[test]
fn a_file_written_while_its_sendfile_bytes_wait_for_the_store_is_not_confirmed() {
    // recvfrom, read: waiting for the answer, the body sent.
    let waiting: &[&str] = if cfg!(target_arch = "x86_64") {
        &["45", "0"]
    } else {
        &["207", "63"]
    };
    let server = ScriptedServer::start(vec![vec![
        ReadHead,
        Stall(Duration::from_secs(3)),
        ReadBody,
        Stored,
    ]]);
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("f.bin");
    std::fs::write(&path, vec![b'A'; 32 * 1024]).unwrap();
    let mut cmd = common::s3push(home.path());
    cmd.args(["--endpoint", &server.endpoint(), "--retries", "0"])
        .arg(&path)
        .arg("s3://bucket/key.bin")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    let deadline = Instant::now() + LIMIT;
    while !in_syscall(child.id(), waiting) {
        assert!(
            Instant::now() < deadline,
            "s3push never waited for the answer"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.write_all(&[b'B'; 32 * 1024]).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let err = text(&out.stderr);
    let seen = server.seen();
    assert!(seen[0].body_complete, "{err}");
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("changed while it was being uploaded"), "{err}");
    assert!(err.contains("the store took the object"), "{err}");
}
