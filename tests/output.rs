//! What the user sees: `--json` results parsed with serde_json (a single PUT and a
//! multipart upload against the real s3s-fs, failures, a kept upload, retries counted),
//! progress (a log line off a terminal, a redrawn line on a pseudo-terminal, a retried
//! body not counted twice, nothing with --quiet), and `-v`/`-vv` heads with every secret
//! masked.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::stage::{Stage, BUCKET};
use common::{
    after_body, answer, etag, good, initiated, md5_hex, multipart_etag, push, s3_error, source,
    text, ScriptedServer, Step, DEST,
};
use serde_json::Value;
use std::process::Output;
use std::time::Duration;
use Step::{ContinueIfExpected, ReadBody, ReadHead, Reply, Stall, Stored};

const LIMIT: Duration = Duration::from_secs(30);
const MIB: u64 = 1024 * 1024;
const TOKEN: &str = "s3push-test-session-token-SECRET-0123456789";

/// The one JSON object on stdout (one line, newline-terminated).
fn one_json(out: &Output) -> Value {
    let stdout = text(&out.stdout);
    assert!(
        stdout.ends_with('\n') && stdout.lines().count() == 1,
        "one JSON line on stdout: {}",
        common::stage::describe(out)
    );
    serde_json::from_str(stdout.trim_end()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// S3's CRC32 value: the big-endian CRC, base64.
fn crc32_base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(crc32fast::hash(bytes).to_be_bytes())
}

// ---- --json against the real store ---------------------------------------------------

#[test]
fn json_for_a_single_put() {
    let stage = Stage::http();
    let source = stage.file("one.bin", 3 * MIB + 5);
    let key = "json/one \"quoted\" é.bin";
    let out = stage.push(&["--json"], &source, &format!("s3://{BUCKET}/{key}"));
    assert!(out.status.success(), "{}", stage.describe(&out));
    let v = one_json(&out);
    let bytes = std::fs::read(&source).unwrap();
    assert_eq!(v["bucket"], BUCKET);
    assert_eq!(v["key"], key);
    assert_eq!(v["url"], format!("s3://{BUCKET}/{key}"));
    assert_eq!(v["size"], 3 * MIB + 5);
    assert_eq!(v["etag"], md5_hex(&bytes));
    assert!(v["version_id"].is_null());
    assert_eq!(v["checksum"]["algorithm"], "CRC32");
    assert_eq!(v["checksum"]["type"], "FULL_OBJECT");
    assert_eq!(v["checksum"]["value"], crc32_base64(&bytes));
    assert_eq!(v["parts"], 0);
    assert_eq!(v["retries"], 0);
    assert!(v["seconds"].as_f64().unwrap() >= 0.0);
    assert!(v["bytes_per_second"].as_f64().unwrap() > 0.0);
    assert_eq!(stage.server.object_bytes(BUCKET, key).unwrap(), bytes);
}

#[test]
fn json_for_a_multipart_upload() {
    let stage = Stage::tls();
    let source = stage.file("parts.bin", 12 * MIB + 3);
    let flags = [
        "--json",
        "--multipart-threshold",
        "5M",
        "--part-size",
        "5M",
        "--jobs",
        "2",
    ];
    let out = stage.push(&flags, &source, &format!("s3://{BUCKET}/parts.bin"));
    assert!(out.status.success(), "{}", stage.describe(&out));
    let v = one_json(&out);
    let bytes = std::fs::read(&source).unwrap();
    assert_eq!(v["size"], 12 * MIB + 3);
    assert_eq!(v["parts"], 3);
    assert!(
        v["etag"].as_str().unwrap().ends_with("-3"),
        "a multipart ETag: {v}"
    );
    assert_eq!(v["checksum"]["algorithm"], "CRC32");
    assert_eq!(v["checksum"]["type"], "FULL_OBJECT");
    assert_eq!(v["checksum"]["value"], crc32_base64(&bytes));
    assert_eq!(v["retries"], 0);
    assert_eq!(
        stage.server.object_bytes(BUCKET, "parts.bin").unwrap(),
        bytes
    );
}

#[test]
fn json_for_a_refusal_and_for_a_usage_error() {
    let stage = Stage::http();
    let source = stage.file("f.bin", 10);
    let mut cmd = stage.command(&["--json"]);
    cmd.env("AWS_SECRET_ACCESS_KEY", "not-the-secret-key-9876543210");
    cmd.arg(&source).arg(format!("s3://{BUCKET}/k"));
    let out = common::stage::run(cmd);
    assert_eq!(out.status.code(), Some(7), "{}", stage.describe(&out));
    let v = one_json(&out);
    assert_eq!(v["bucket"], BUCKET);
    assert_eq!(v["key"], "k");
    let e = &v["error"];
    assert_eq!(e["kind"], "refused");
    assert_eq!(e["exit_code"], 7);
    assert_eq!(e["status"], 403);
    assert_eq!(e["s3_code"], "SignatureDoesNotMatch");
    assert!(e.get("request_id").is_some());
    assert!(e["message"].as_str().unwrap().contains("secret key"));
    assert!(e["upload_id"].is_null());
    // The human line is still on stderr.
    assert!(text(&out.stderr).starts_with("s3push: refused: "));

    let mut cmd = stage.command(&["--json", "--bogus"]);
    cmd.arg(&source).arg("s3://b/k");
    let out = common::stage::run(cmd);
    assert_eq!(out.status.code(), Some(2));
    let v = one_json(&out);
    assert!(v["bucket"].is_null());
    assert_eq!(v["error"]["kind"], "usage");
    assert_eq!(v["error"]["exit_code"], 2);
    assert!(v["error"]["message"].as_str().unwrap().contains("--bogus"));
}

// ---- --json, retries and kept uploads against the scripted server ----------------------

#[test]
fn json_counts_retries() {
    let slow = s3_error("503 Slow Down", "SlowDown", "");
    let server = ScriptedServer::start(vec![after_body(slow.clone()), after_body(slow), good()]);
    let src = source(2 * MIB);
    let out = push(&server.endpoint(), &src, &["--json"]);
    assert!(out.status.success(), "{}", common::stage::describe(&out));
    let v = one_json(&out);
    assert_eq!(v["retries"], 2);
    assert_eq!(v["etag"], md5_hex(&std::fs::read(&src.file).unwrap()));
    assert_eq!(server.seen().len(), 3);
}

#[test]
fn json_for_a_kept_upload_names_its_id_and_the_resume_command() {
    let src = source(5 * MIB + 1);
    let server = ScriptedServer::start(vec![
        vec![ReadHead, ReadBody, Reply(initiated("UPLOAD-7"))],
        after_body(s3_error("403 Forbidden", "AccessDenied", "")),
    ]);
    let flags = [
        "--json",
        "--multipart-threshold",
        "5M",
        "--part-size",
        "5M",
        "--jobs",
        "1",
        "--on-failure",
        "keep",
    ];
    let state = src.dir.path().join("state");
    let mut cmd = common::s3push(src.dir.path());
    cmd.env("XDG_STATE_HOME", &state)
        .args(["--endpoint", &server.endpoint()])
        .args(flags)
        .arg(&src.file)
        .arg(DEST);
    let out = common::run_bounded(cmd, LIMIT);
    assert_eq!(
        out.status.code(),
        Some(10),
        "{}",
        common::stage::describe(&out)
    );
    let v = one_json(&out);
    let e = &v["error"];
    assert_eq!(e["kind"], "incomplete");
    assert_eq!(e["exit_code"], 10);
    assert_eq!(e["upload_id"], "UPLOAD-7");
    let resume = e["resume"].as_str().unwrap();
    assert!(
        resume.starts_with("s3push --resume --endpoint "),
        "{resume}"
    );
    assert!(
        resume.ends_with(&format!("{} {DEST}", src.file.display())),
        "{resume}"
    );
    assert_eq!(
        e["discard"],
        format!("s3push --abort --upload-id UPLOAD-7 {DEST}")
    );
}

// ---- progress ----------------------------------------------------------------------------

/// The `s3push: ` progress lines of stderr.
fn progress_lines(out: &Output) -> Vec<String> {
    text(&out.stderr)
        .lines()
        .filter(|l| l.starts_with("s3push: ") && l.contains("/s"))
        .map(str::to_string)
        .collect()
}

#[test]
fn progress_off_a_terminal_only_when_asked() {
    let stage = Stage::http();
    let source = stage.file("p.bin", 12 * MIB);
    let parts = ["--multipart-threshold", "5M", "--part-size", "5M"];
    let dest = format!("s3://{BUCKET}/p.bin");

    let out = stage.push(&parts, &source, &dest);
    assert!(out.status.success(), "{}", stage.describe(&out));
    assert!(
        out.stderr.is_empty(),
        "no progress unasked: {}",
        text(&out.stderr)
    );

    let mut flags = parts.to_vec();
    flags.push("--progress");
    let out = stage.push(&flags, &source, &dest);
    assert!(out.status.success(), "{}", stage.describe(&out));
    let lines = progress_lines(&out);
    let last = lines
        .last()
        .unwrap_or_else(|| panic!("{}", stage.describe(&out)));
    assert!(
        last.starts_with("s3push: 12.0 MiB / 12.0 MiB  100%  ")
            && last.contains(" in 0:")
            && last.ends_with("  parts 3/3"),
        "{last:?}"
    );
    assert!(!text(&out.stderr).contains('\r'), "no redraw in a log");
    assert_eq!(text(&out.stdout).lines().count(), 1);

    flags.push("--quiet");
    let out = stage.push(&flags, &source, &dest);
    assert!(out.status.success(), "{}", stage.describe(&out));
    assert!(
        out.stderr.is_empty() && out.stdout.is_empty(),
        "{}",
        stage.describe(&out)
    );

    let mut cmd = stage.command(&["--progress", "--no-progress"]);
    cmd.arg(&source).arg(&dest);
    assert_eq!(common::stage::run(cmd).status.code(), Some(2));
}

#[test]
fn a_retried_body_is_not_counted_twice() {
    let slow = s3_error("503 Slow Down", "SlowDown", "");
    let server = ScriptedServer::start(vec![after_body(slow), good()]);
    let src = source(2 * MIB);
    let out = push(&server.endpoint(), &src, &["--progress"]);
    assert!(out.status.success(), "{}", common::stage::describe(&out));
    let lines = progress_lines(&out);
    let last = lines
        .last()
        .unwrap_or_else(|| panic!("{}", common::stage::describe(&out)));
    assert!(
        last.starts_with("s3push: 2.00 MiB / 2.00 MiB  100%"),
        "{last:?}"
    );
    assert_eq!(
        server.seen()[0].body_len,
        2 * MIB,
        "the first attempt sent it all"
    );
}

/// A single-quoted shell word.
fn sh(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

#[test]
fn on_a_terminal_the_line_is_redrawn_cut_to_columns_and_cleared() {
    // The store takes its time to answer: the line is redrawn meanwhile.
    let server = ScriptedServer::start(vec![vec![
        ReadHead,
        ContinueIfExpected,
        ReadBody,
        Stall(Duration::from_millis(900)),
        Stored,
    ]]);
    let src = source(2 * MIB);
    // script(1) gives the command a pseudo-terminal for stdout and stderr.
    let inner = format!(
        "{} --endpoint {} {} {}",
        sh(env!("CARGO_BIN_EXE_s3push")),
        sh(&server.endpoint()),
        sh(&src.file.display().to_string()),
        DEST
    );
    let mut cmd = common::s3push(src.dir.path());
    cmd.env("COLUMNS", "30");
    let mut script = std::process::Command::new("script");
    script.args(["-q", "-e", "-c", &inner, "/dev/null"]);
    script.env_clear();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            script.env(k, v);
        }
    }
    let out = common::run_bounded(script, LIMIT);
    let screen = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{screen:?}");
    let draws: Vec<&str> = screen
        .split('\r')
        .filter(|d| d.ends_with("\x1b[K") && d.len() > 3)
        .collect();
    assert!(!draws.is_empty(), "no redrawn line: {screen:?}");
    for d in &draws {
        let line = d.trim_end_matches("\x1b[K");
        assert!(line.len() <= 29, "over COLUMNS - 1: {line:?}");
        assert!(line.starts_with("2.00 MiB / 2.00 MiB  100%"), "{line:?}");
    }
    // Cleared before the result line.
    let clear = screen.rfind("\r\x1b[K").expect("a clear");
    let result = screen
        .find("uploaded s3://bucket/key.bin")
        .expect("the result");
    assert!(clear < result, "{screen:?}");
}

// ---- -v / -vv ------------------------------------------------------------------------------

#[test]
fn verbose_shows_heads_and_masks_every_secret() {
    let slow = s3_error("503 Slow Down", "SlowDown", "");
    let server = ScriptedServer::start(vec![after_body(slow), good()]);
    let src = source(2 * MIB);
    let mut cmd = common::s3push(src.dir.path());
    cmd.env("AWS_SESSION_TOKEN", TOKEN)
        .args(["--endpoint", &server.endpoint(), "--retry-max-wait", "0.05"])
        .args(["-vv", "--payload", "unsigned"])
        .arg(&src.file)
        .arg(DEST);
    let out = common::run_bounded(cmd, LIMIT);
    assert!(out.status.success(), "{}", common::stage::describe(&out));
    let err = text(&out.stderr);
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    for needle in [
        "> PUT /bucket/key.bin HTTP/1.1",
        "> x-amz-security-token: ****",
        "Signature=****",
        "Credential=s3pu****/",
        "< HTTP/1.1 100 Continue",
        "< HTTP/1.1 503 Slow Down",
        "< HTTP/1.1 200 OK",
        "* connected to 127.0.0.1:",
        "* attempt 1 failed (",
        "; retry 1 of 4 in ",
        "* body of 2097152 bytes sent in ",
    ] {
        assert!(err.contains(needle), "no {needle:?} in:\n{err}");
    }
    assert!(seen[0].header("x-amz-security-token").as_deref() == Some(TOKEN));
    let signatures: Vec<String> = seen
        .iter()
        .map(|s| {
            let auth = s.header("authorization").unwrap();
            auth.rsplit("Signature=").next().unwrap().to_string()
        })
        .collect();
    for secret in [TOKEN, common::SECRET_KEY, common::ACCESS_KEY]
        .into_iter()
        .chain(signatures.iter().map(String::as_str))
    {
        assert!(secret.len() >= 20);
        assert!(!err.contains(secret), "{secret} is in:\n{err}");
        assert!(!text(&out.stdout).contains(secret));
    }
    // Every stderr line is a head, an event or a warning.
    for line in err.lines() {
        assert!(
            ["> ", "< ", "* ", "s3push: warning:"]
                .iter()
                .any(|p| line.starts_with(p)),
            "{line:?}"
        );
    }
}

#[test]
fn one_v_shows_heads_without_events() {
    let server = ScriptedServer::start(vec![good()]);
    let src = source(10);
    let out = push(&server.endpoint(), &src, &["-v"]);
    assert!(out.status.success(), "{}", common::stage::describe(&out));
    let err = text(&out.stderr);
    assert!(err.contains("> PUT /bucket/key.bin HTTP/1.1"), "{err}");
    assert!(err.contains("< HTTP/1.1 200 OK"), "{err}");
    assert!(!err.contains("* "), "{err}");
    assert!(text(&out.stdout).starts_with("uploaded "));
}

#[test]
fn vv_over_tls_names_the_handshake_and_the_reused_connection() {
    let stage = Stage::tls();
    let source = stage.file("t.bin", 11 * MIB);
    let flags = [
        "-vv",
        "--multipart-threshold",
        "5M",
        "--part-size",
        "5M",
        "--jobs",
        "1",
    ];
    let out = stage.push(&flags, &source, &format!("s3://{BUCKET}/t.bin"));
    assert!(out.status.success(), "{}", stage.describe(&out));
    let err = text(&out.stderr);
    for needle in [
        "* TLS handshake with localhost:",
        ": TLSv1_3, TLS13_",
        "* reusing the kept-alive connection",
        "> POST /test-bucket/t.bin?uploads= HTTP/1.1",
        "> PUT /test-bucket/t.bin?partNumber=3&uploadId=",
        "< HTTP/1.1 200 OK",
    ] {
        assert!(err.contains(needle), "no {needle:?} in:\n{err}");
    }
    assert!(!err.contains(common::SECRET_KEY));
    assert_eq!(
        stage.server.object_bytes(BUCKET, "t.bin").unwrap(),
        std::fs::read(&source).unwrap()
    );
}

/// Over plain http a file's bytes go with sendfile (its -vv event says so) in each
/// payload mode that sends them as they are, whole or in parts; over TLS, with
/// `--limit-rate` and from standard input they go through the copy loop. Every object
/// reads back equal.
#[test]
fn vv_says_when_a_file_goes_with_sendfile() {
    const SAYS: &str = "* the body goes from the file to the socket with sendfile";
    let http = Stage::http();
    let source = http.file("s.bin", 11 * MIB + 5);
    let parts = ["--multipart-threshold", "5M", "--part-size", "5M"];
    let cases: [(&[&str], bool); 6] = [
        (&["--payload", "unsigned"], true),
        (&["--payload", "unsigned", "--checksum", "none"], true),
        (&["--payload", "signed"], true),
        (&parts, true),
        (&["--payload", "streaming"], false),
        (&["--payload", "unsigned", "--limit-rate", "1G"], false),
    ];
    for (i, (flags, sendfile)) in cases.iter().enumerate() {
        let key = format!("case{i}.bin");
        let mut all = vec!["-vv"];
        all.extend_from_slice(flags);
        let out = http.push(&all, &source, &format!("s3://{BUCKET}/{key}"));
        assert!(out.status.success(), "{flags:?}: {}", http.describe(&out));
        let err = text(&out.stderr);
        assert_eq!(err.contains(SAYS), *sendfile, "{flags:?}:\n{err}");
        assert!(
            http.server.object_bytes(BUCKET, &key).unwrap() == std::fs::read(&source).unwrap(),
            "{flags:?}: the object differs"
        );
    }
    let tls = Stage::tls();
    let source = tls.file("t.bin", 2 * MIB);
    let out = tls.push(&["-vv"], &source, &format!("s3://{BUCKET}/t.bin"));
    assert!(out.status.success(), "{}", tls.describe(&out));
    assert!(!text(&out.stderr).contains(SAYS));
    assert!(tls.server.object_bytes(BUCKET, "t.bin").unwrap() == std::fs::read(&source).unwrap());
}

#[test]
fn progress_counts_payload_bytes_of_streams_and_aws_chunked_bodies() {
    let stage = Stage::http();
    // Standard input: no size, so no percent; parts counted as they are stored.
    let mut cmd = stage.command(&[
        "--progress",
        "--part-size",
        "5M",
        "--multipart-threshold",
        "5M",
    ]);
    cmd.arg("-").arg(format!("s3://{BUCKET}/stream.bin"));
    let data: Vec<u8> = (0..12 * MIB).map(|i| (i % 251) as u8).collect();
    let fed = data.clone();
    let feed: common::Feed = Box::new(move |mut stdin| {
        use std::io::Write;
        let _ = stdin.write_all(&fed);
    });
    let out = common::run_bounded_fed(cmd, LIMIT, Some(feed));
    assert!(out.status.success(), "{}", stage.describe(&out));
    let lines = progress_lines(&out);
    let last = lines
        .last()
        .unwrap_or_else(|| panic!("{}", stage.describe(&out)));
    assert!(
        last.starts_with("s3push: 12.0 MiB  ") && last.ends_with("  parts 3"),
        "{last:?}"
    );
    assert!(!last.contains('%'), "{last:?}");
    assert_eq!(
        stage.server.object_bytes(BUCKET, "stream.bin").unwrap(),
        data
    );

    // aws-chunked: the payload, not the framed length, is what is counted.
    let source = stage.file("chunked.bin", 2 * MIB + 7);
    let out = stage.push(
        &["--progress", "--payload", "streaming"],
        &source,
        &format!("s3://{BUCKET}/chunked.bin"),
    );
    assert!(out.status.success(), "{}", stage.describe(&out));
    let lines = progress_lines(&out);
    let last = lines
        .last()
        .unwrap_or_else(|| panic!("{}", stage.describe(&out)));
    assert!(
        last.starts_with("s3push: 2.00 MiB / 2.00 MiB  100%  "),
        "{last:?}"
    );
    stage.assert_stored(&out, "chunked.bin", &source);
}

#[test]
fn a_resume_counts_the_stored_parts_as_done() {
    let src = source(5 * MIB + 1);
    let bytes = std::fs::read(&src.file).unwrap();
    let split = 5 * MIB as usize;
    let (p1, p2) = (etag(&bytes[..split]), etag(&bytes[split..]));
    let object = multipart_etag(&[&bytes[..split], &bytes[split..]]);
    let xml = |body: String| {
        answer(
            "HTTP/1.1 200 OK",
            &[("Content-Type", "application/xml")],
            &body,
        )
    };
    let listed = xml(format!(
        "<ListPartsResult><IsTruncated>false</IsTruncated>\
         <Part><PartNumber>1</PartNumber><ETag>{}</ETag><Size>{split}</Size></Part></ListPartsResult>",
        p1.replace('"', "&quot;")
    ));
    // The object's CRC32 (FULL_OBJECT): the CRC32 of all its bytes.
    let crc = s3push::checksum::base64(&crc32fast::hash(&bytes).to_be_bytes());
    let completed = xml(format!(
        "<CompleteMultipartUploadResult><ETag>{object}</ETag><ChecksumCRC32>{crc}</ChecksumCRC32>\
         </CompleteMultipartUploadResult>"
    ));
    let server = ScriptedServer::start(vec![
        vec![ReadHead, Reply(listed)],
        after_body(answer("HTTP/1.1 200 OK", &[("ETag", &p2)], "")),
        after_body(completed),
    ]);
    let flags = [
        "--progress",
        "--json",
        "--resume",
        "--upload-id",
        "UPLOAD-9",
        "--part-size",
        "5M",
        "--multipart-threshold",
        "5M",
        "--jobs",
        "1",
    ];
    let out = push(&server.endpoint(), &src, &flags);
    assert!(out.status.success(), "{}", common::stage::describe(&out));
    let lines = progress_lines(&out);
    let last = lines
        .last()
        .unwrap_or_else(|| panic!("{}", common::stage::describe(&out)));
    assert!(
        last.starts_with("s3push: 5.00 MiB / 5.00 MiB  100%  ") && last.ends_with("  parts 2/2"),
        "{last:?}"
    );
    let v = one_json(&out);
    assert_eq!(v["parts"], 2);
    assert_eq!(v["size"], 5 * MIB + 1);
    assert_eq!(v["etag"], object.trim_matches('"'));
    // Only the missing part went out.
    let seen = server.seen();
    assert_eq!(seen.len(), 3);
    assert!(seen[1]
        .head
        .starts_with("PUT /bucket/key.bin?partNumber=2&uploadId=UPLOAD-9"));
}
