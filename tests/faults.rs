//! Fault behaviour against a scripted loopback server: what is retried and what is not,
//! Expect: 100-continue, clock skew and region correction, stalls and malformed answers.
//! Every test checks the exit code, the one-line message, and what reached the server.

mod common;

use common::{answer, ok_put, s3_error, s3_error_with, ScriptedServer, Step};
use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};
use Step::{Close, ReadBody, ReadBodyPart, ReadHead, Reply, Stall};

const BIG: u64 = 2 * 1024 * 1024; // over the 1 MiB Expect threshold
const SMALL: u64 = 100;

struct Run {
    _dir: tempfile::TempDir,
    file: PathBuf,
}

fn file(len: u64) -> Run {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = common::random_file(dir.path(), "body.bin", len);
    Run { _dir: dir, file }
}

fn push(server: &ScriptedServer, run: &Run, extra: &[&str]) -> Output {
    let mut cmd = common::s3push(run._dir.path());
    cmd.args(["--endpoint", &server.endpoint(), "--retry-max-wait", "0.05"]);
    cmd.args(extra);
    cmd.arg(&run.file).arg("s3://bucket/key.bin");
    common::run_bounded(cmd, Duration::from_secs(60))
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A failure is exactly one line on stderr; no secret anywhere.
fn assert_failed(out: &Output, code: i32) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("s3push: "), "{err}");
    assert!(out.stdout.is_empty());
    assert!(!err.contains(common::SECRET_KEY));
    err
}

fn assert_ok(out: &Output) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(0), "stderr: {err}");
    assert!(
        err.lines().all(|l| l.starts_with("s3push: warning: ")),
        "{err}"
    );
    assert!(!err.contains(common::SECRET_KEY));
}

fn good() -> Vec<Step> {
    vec![ReadHead, ReadBody, Reply(ok_put())]
}

#[test]
fn slow_down_twice_then_stored() {
    let slow = s3_error("HTTP/1.1 503 Slow Down", "SlowDown", "");
    let server = ScriptedServer::start(vec![
        vec![ReadHead, ReadBody, Reply(slow.clone())],
        vec![ReadHead, ReadBody, Reply(slow)],
        good(),
    ]);
    let run = file(BIG);
    assert_ok(&push(&server, &run, &[]));
    let seen = server.seen();
    assert_eq!(seen.len(), 3);
    assert_eq!(
        seen[2].body_len, BIG,
        "the last attempt sent the whole body"
    );
}

#[test]
fn internal_error_until_retries_run_out() {
    let server = ScriptedServer::start(vec![vec![
        ReadHead,
        ReadBody,
        Reply(s3_error(
            "HTTP/1.1 500 Internal Server Error",
            "InternalError",
            "",
        )),
    ]]);
    let run = file(SMALL);
    let err = assert_failed(&push(&server, &run, &["--retries", "2"]), 7);
    assert!(
        err.contains("InternalError") && err.contains("3 attempts"),
        "{err}"
    );
    assert_eq!(server.seen().len(), 3);
}

#[test]
fn reset_mid_body_is_retried_from_the_start_of_the_file() {
    let server =
        ScriptedServer::start(vec![vec![ReadHead, ReadBodyPart(64 * 1024), Close], good()]);
    let run = file(BIG);
    assert_ok(&push(&server, &run, &["--no-expect"]));
    let seen = server.seen();
    assert_eq!(server.connections(), 2);
    assert_eq!(seen[1].body_len, BIG);
}

#[test]
fn access_denied_is_not_retried() {
    let server = ScriptedServer::start(vec![vec![
        ReadHead,
        ReadBody,
        Reply(s3_error("HTTP/1.1 403 Forbidden", "AccessDenied", "")),
    ]]);
    let run = file(SMALL);
    let err = assert_failed(&push(&server, &run, &[]), 7);
    assert!(err.contains("AccessDenied"), "{err}");
    assert_eq!(server.seen().len(), 1);
}

#[test]
fn bad_request_is_final_but_request_timeout_is_retried() {
    let server = ScriptedServer::start(vec![vec![
        ReadHead,
        ReadBody,
        Reply(s3_error("HTTP/1.1 400 Bad Request", "InvalidArgument", "")),
    ]]);
    let run = file(SMALL);
    assert_failed(&push(&server, &run, &[]), 7);
    assert_eq!(server.seen().len(), 1);

    let server = ScriptedServer::start(vec![
        vec![
            ReadHead,
            ReadBody,
            Reply(s3_error("HTTP/1.1 400 Bad Request", "RequestTimeout", "")),
        ],
        good(),
    ]);
    assert_ok(&push(&server, &run, &[]));
    assert_eq!(server.seen().len(), 2);
}

#[test]
fn a_refusal_before_the_body_costs_no_upload() {
    let server = ScriptedServer::start(vec![vec![
        ReadHead,
        Reply(s3_error("HTTP/1.1 403 Forbidden", "AccessDenied", "")),
    ]]);
    let run = file(BIG);
    assert_failed(&push(&server, &run, &[]), 7);
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].header("expect").as_deref(), Some("100-continue"));
    assert_eq!(seen[0].body_len, 0);
}

#[test]
fn continue_then_body() {
    let server = ScriptedServer::start(vec![vec![
        ReadHead,
        Reply(b"HTTP/1.1 100 Continue\r\n\r\n".to_vec()),
        ReadBody,
        Reply(ok_put()),
    ]]);
    let run = file(BIG);
    assert_ok(&push(&server, &run, &[]));
    assert_eq!(server.seen()[0].body_len, BIG);
}

#[test]
fn expectation_failed_turns_expect_off() {
    let server = ScriptedServer::start(vec![
        vec![
            ReadHead,
            Reply(answer("HTTP/1.1 417 Expectation Failed", &[], "")),
        ],
        good(),
    ]);
    let run = file(BIG);
    let out = push(&server, &run, &[]);
    assert_ok(&out);
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert!(seen[0].header("expect").is_some());
    assert!(seen[1].header("expect").is_none());
    assert!(stderr(&out).contains("Expect"));
}

#[test]
fn a_store_that_ignores_expect_gets_the_body_after_a_short_wait() {
    let server = ScriptedServer::start(vec![good()]);
    let run = file(BIG);
    let started = Instant::now();
    assert_ok(&push(&server, &run, &[]));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(server.seen()[0].body_len, BIG);
}

#[test]
fn no_expect_for_small_bodies_or_when_asked() {
    let server = ScriptedServer::start(vec![good()]);
    assert_ok(&push(&server, &file(SMALL), &[]));
    assert_ok(&push(&server, &file(BIG), &["--no-expect"]));
    assert!(server.seen().iter().all(|s| s.header("expect").is_none()));
}

#[test]
fn a_stall_ends_at_the_timeout() {
    let server = ScriptedServer::start(vec![vec![
        ReadHead,
        ReadBody,
        Stall(Duration::from_secs(5)),
    ]]);
    let run = file(SMALL);
    let started = Instant::now();
    let err = assert_failed(
        &push(&server, &run, &["--timeout", "0.5", "--retries", "0"]),
        5,
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert!(err.contains("--timeout"), "{err}");
}

#[test]
fn malformed_oversized_and_truncated_answers() {
    let run = file(SMALL);
    let server = ScriptedServer::start(vec![vec![
        ReadHead,
        ReadBody,
        Reply(b"HTTP/1.1 2xx OK\r\n\r\n".to_vec()),
    ]]);
    let err = assert_failed(&push(&server, &run, &["--retries", "0"]), 8);
    assert!(err.contains("HTTP/1.1 2xx OK"), "{err}");

    let mut huge = b"HTTP/1.1 200 OK\r\nX-Big: ".to_vec();
    huge.resize(70 * 1024, b'a');
    let server = ScriptedServer::start(vec![vec![ReadHead, ReadBody, Reply(huge)]]);
    assert_failed(&push(&server, &run, &["--retries", "0"]), 8);

    let truncated = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789".to_vec();
    let server = ScriptedServer::start(vec![vec![ReadHead, ReadBody, Reply(truncated), Close]]);
    let err = assert_failed(&push(&server, &run, &["--retries", "0"]), 8);
    assert!(err.contains("truncated"), "{err}");
}

#[test]
fn an_error_inside_a_200_is_not_success() {
    let body = s3_error("HTTP/1.1 200 OK", "InternalError", "");
    let server = ScriptedServer::start(vec![vec![ReadHead, ReadBody, Reply(body)]]);
    let err = assert_failed(&push(&server, &file(SMALL), &["--retries", "0"]), 7);
    assert!(err.contains("InternalError"), "{err}");
}

#[test]
fn a_skewed_clock_is_corrected_once() {
    let later =
        httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(2 * 3600));
    let server = ScriptedServer::start(vec![
        vec![
            ReadHead,
            ReadBody,
            Reply(s3_error_with(
                "HTTP/1.1 403 Forbidden",
                &[("Date", &later)],
                "RequestTimeTooSkewed",
                "",
            )),
        ],
        good(),
    ]);
    let out = push(&server, &file(SMALL), &[]);
    assert_ok(&out);
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    let shift = amz_seconds(&seen[1]) - amz_seconds(&seen[0]);
    assert!(
        (2 * 3600 - 300..=2 * 3600 + 300).contains(&shift),
        "shift {shift}"
    );
    assert!(stderr(&out).contains("clock"), "{}", stderr(&out));
}

#[test]
fn a_region_redirect_is_followed_once_and_named() {
    let server = ScriptedServer::start(vec![
        vec![
            ReadHead,
            ReadBody,
            Reply(s3_error_with(
                "HTTP/1.1 301 Moved Permanently",
                &[("x-amz-bucket-region", "eu-west-1")],
                "PermanentRedirect",
                "",
            )),
        ],
        good(),
    ]);
    let out = push(&server, &file(SMALL), &[]);
    assert_ok(&out);
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    let auth = seen[1].header("authorization").unwrap_or_default();
    assert!(auth.contains("/eu-west-1/s3/aws4_request"), "{auth}");
    assert!(
        stderr(&out).contains("--region eu-west-1"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn connection_refused_is_retried_then_reported() {
    let dir = tempfile::tempdir().expect("temp dir");
    let source = common::random_file(dir.path(), "f.bin", SMALL);
    let mut cmd = common::s3push(dir.path());
    let endpoint = format!("http://127.0.0.1:{}", common::closed_port());
    cmd.args([
        "--endpoint",
        &endpoint,
        "--retries",
        "1",
        "--retry-max-wait",
        "0.05",
    ]);
    cmd.arg(&source).arg("s3://bucket/key.bin");
    let err = assert_failed(&common::run_bounded(cmd, Duration::from_secs(60)), 5);
    assert!(err.contains("2 attempts"), "{err}");
}

/// Seconds since the epoch of a request's x-amz-date (YYYYMMDDTHHMMSSZ).
fn amz_seconds(seen: &common::Seen) -> i64 {
    let d = seen.header("x-amz-date").unwrap_or_default();
    let n = |r: std::ops::Range<usize>| d.get(r).and_then(|s| s.parse::<i64>().ok()).unwrap_or(0);
    let (y, m, day) = (n(0..4), n(4..6), n(6..8));
    // Days from civil (H. Hinnant), enough to compare two dates.
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy;
    days * 86_400 + n(9..11) * 3600 + n(11..13) * 60 + n(13..15)
}
