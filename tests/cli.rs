//! What the command line shows: the short help fits a screen, the long one names every
//! option the parser takes, the version names the TLS stack, and the man page and shell
//! completions made from it work.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

fn s3push(args: &[&str]) -> (String, i32) {
    let home = tempfile::tempdir().unwrap();
    let out = common::s3push(home.path()).args(args).output().unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        out.status.code().unwrap_or(-1),
    )
}

#[test]
fn help_fits_a_screen_with_examples() {
    let (help, code) = s3push(&["--help"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = help.lines().collect();
    assert!(lines.len() <= 40, "{} lines", lines.len());
    let wide: Vec<&&str> = lines.iter().filter(|l| l.chars().count() > 80).collect();
    assert!(wide.is_empty(), "over 80 columns: {wide:?}");
    assert!(help.contains("EXAMPLES:") && help.contains("--help-all"));
    assert_eq!(s3push(&["-h"]).0, help);
}

/// Every `--flag` the parser looks for (its string literals in src/cli/, but for the
/// refused secret flags and the test's own) is explained by `--help-all`.
#[test]
fn help_all_names_every_option() {
    let (all, code) = s3push(&["--help-all"]);
    assert_eq!(code, 0);
    // The parser's files (help.rs holds the texts themselves).
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cli");
    let mut code_part = String::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|n| n != "help.rs") {
            let source = std::fs::read_to_string(&path).unwrap();
            code_part.push_str(source.split("#[cfg(test)]").next().unwrap());
        }
    }
    let mut missing = Vec::new();
    let mut checked = 0;
    for piece in code_part.split('"').skip(1).step_by(2) {
        let is_flag = piece.starts_with("--")
            && piece.len() > 2
            && piece[2..]
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if is_flag && !piece.starts_with("--secret") {
            checked += 1;
            if !all.contains(piece) {
                missing.push(piece.to_string());
            }
        }
    }
    assert!(checked >= 40, "only {checked} flags found in src/cli/");
    assert!(missing.is_empty(), "not in --help-all: {missing:?}");
}

#[test]
fn version_names_the_tls_stack() {
    let (v, code) = s3push(&["--version"]);
    assert_eq!(code, 0);
    assert!(
        v.starts_with(&format!("s3push {}\n", env!("CARGO_PKG_VERSION"))),
        "{v}"
    );
    assert!(
        v.contains("rustls") && v.contains("ring") && v.contains("crc64nvme"),
        "{v}"
    );
}

#[test]
fn man_page_renders_and_completions_complete() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if Command::new("groff").arg("--version").output().is_ok() {
        let out = Command::new("groff")
            .args(["-man", "-Tutf8", "-ww", "-z"])
            .arg(root.join("doc/s3push.1"))
            .output()
            .unwrap();
        assert!(out.status.success() && out.stderr.is_empty(), "{out:?}");
    } else {
        println!("groff absent: the man page is only checked by scripts/gen-docs --check");
    }
    let script = format!(
        "source '{}'; COMP_WORDS=(s3push --payload ''); COMP_CWORD=2; _s3push; echo \"${{COMPREPLY[*]}}\"; \
         COMP_WORDS=(s3push --no-c); COMP_CWORD=1; _s3push; echo \"${{COMPREPLY[*]}}\"",
        root.join("completions/s3push.bash").display()
    );
    let out = Command::new("bash").args(["-c", &script]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.first(), Some(&"unsigned signed streaming"), "{text}");
    assert_eq!(lines.get(1), Some(&"--no-clobber"), "{text}");
}

/// `--dry-run` prints the request it would send, with the signature, the session token
/// and the proxy's password masked, and sends nothing: the endpoint is a closed port and
/// the proxy one too, so any connection would end in exit 5.
#[test]
fn dry_run_shows_the_first_request_masked_and_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let small = common::random_file(dir.path(), "small.bin", 1000);
    let large = dir.path().join("large.bin");
    std::fs::File::create(&large)
        .unwrap()
        .set_len(70 << 20)
        .unwrap();
    let endpoint = format!("http://127.0.0.1:{}", common::closed_port());
    let token = "SESSION-TOKEN-dry-run-0123456789";
    let proxy_password = "proxy-pass-dry-run-9876";
    for (source, first_line) in [
        (&small, "PUT /bucket/dir/small.bin HTTP/1.1"),
        (&large, "POST /bucket/dir/large.bin?uploads= HTTP/1.1"),
    ] {
        let out = common::s3push(dir.path())
            .env("AWS_SESSION_TOKEN", token)
            .env(
                "HTTP_PROXY",
                format!(
                    "http://user:{proxy_password}@127.0.0.1:{}",
                    common::closed_port()
                ),
            )
            .args(["--dry-run", "--endpoint", &endpoint, "--meta", "a=b"])
            .arg(source)
            .arg("s3://bucket/dir/")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.first(), Some(&first_line), "{stdout}");
        assert!(stdout.contains("x-amz-meta-a: b"), "{stdout}");
        assert!(stdout.contains("x-amz-date: "), "{stdout}");
        let auth = lines
            .iter()
            .find(|l| l.to_ascii_lowercase().starts_with("authorization: "))
            .unwrap_or_else(|| panic!("{stdout}"));
        assert!(
            auth.contains("AWS4-HMAC-SHA256") && auth.contains("Signature="),
            "{auth}"
        );
        assert!(stderr.contains("dry run: nothing was sent"), "{stderr}");
        for secret in [
            common::SECRET_KEY,
            token,
            proxy_password,
            common::ACCESS_KEY,
        ] {
            assert!(
                !stdout.contains(secret) && !stderr.contains(secret),
                "{secret} shown: {stdout}{stderr}"
            );
        }
        // The signature itself is masked: 64 hex digits appear nowhere after Signature=.
        let sig = auth.split("Signature=").nth(1).unwrap_or_default();
        assert!(
            !sig.bytes().all(|b| b.is_ascii_hexdigit()) || sig.len() < 64,
            "{auth}"
        );
    }
}

/// A secret key from the shared credentials file and a proxy password from the
/// environment: shown nowhere by `--dry-run`, nor on the error paths that follow a
/// profile (a usage error after resolving, an unreachable store through no proxy).
#[test]
fn secrets_from_the_files_stay_out_of_dry_run_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "FILE-SECRET-never-shown-0123456789";
    let aws = dir.path().join(".aws");
    std::fs::create_dir_all(&aws).unwrap();
    std::fs::write(
        aws.join("credentials"),
        format!("[work]\naws_access_key_id = AKIDFILEEXAMPLE\naws_secret_access_key = {secret}\n"),
    )
    .unwrap();
    let source = common::random_file(dir.path(), "f.bin", 100);
    let endpoint = format!("http://127.0.0.1:{}", common::closed_port());
    let password = "proxy-secret-pass-4242";
    let runs: [&[&str]; 3] = [
        &["--dry-run"],
        &["--no-clobber", "--if-match", "abc"],
        &["--retries", "0", "--proxy", "none"],
    ];
    for extra in runs {
        let out = common::s3push(dir.path())
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env(
                "HTTP_PROXY",
                format!("http://u:{password}@127.0.0.1:{}", common::closed_port()),
            )
            .args(["--profile", "work", "--endpoint", &endpoint])
            .args(extra)
            .arg(&source)
            .arg("s3://bucket/k")
            .output()
            .unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !all.contains(secret) && !all.contains(password),
            "{extra:?}: {all}"
        );
        let expected = match extra[0] {
            "--dry-run" => 0,
            "--no-clobber" => 2,
            _ => 5,
        };
        assert_eq!(out.status.code(), Some(expected), "{extra:?}: {all}");
    }
}

/// Issue 15.7: a standard input that is /dev/null, or closed (`<&-`, which Rust's runtime
/// reopens on /dev/null), is refused (exit 2) before anything is sent; an empty pipe
/// still stores an empty object. Before: an empty object and exit 0.
#[test]
fn a_null_or_closed_standard_input_is_refused() {
    let server = common::ScriptedServer::start(vec![vec![
        common::Step::ReadHead,
        common::Step::ReadBody,
        common::Step::Stored,
    ]]);
    let home = tempfile::tempdir().unwrap();
    let endpoint = server.endpoint();
    // Standard input /dev/null (the test harness's default).
    let mut cmd = common::s3push(home.path());
    cmd.args(["--endpoint", &endpoint, "-", "s3://bucket/k"]);
    let out = common::run_bounded(cmd, common::RUN_LIMIT);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("standard input is /dev/null or closed"),
        "{err}"
    );
    // Closed.
    let mut cmd = Command::new("/bin/sh");
    cmd.args(["-c", r#"exec "$0" "$@" <&-"#, env!("CARGO_BIN_EXE_s3push")])
        .args(["--endpoint", &endpoint, "-", "s3://bucket/k"])
        .env_clear()
        .env("HOME", home.path())
        .env("AWS_ACCESS_KEY_ID", common::ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", common::SECRET_KEY);
    let out = common::run_bounded(cmd, common::RUN_LIMIT);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(server.connections(), 0, "nothing was sent");
    // An empty pipe: an empty object, on purpose.
    let mut cmd = common::s3push(home.path());
    cmd.args(["--endpoint", &endpoint, "-", "s3://bucket/k"]);
    let feed: common::Feed = Box::new(drop);
    let out = common::run_bounded_fed(cmd, common::RUN_LIMIT, Some(feed));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(server.seen()[0].content_length, Some(0));
}

/// Issue 15.9: a password in `--endpoint` is never repeated back; a FIFO given as FILE
/// names standard input.
#[test]
fn messages_keep_secrets_and_name_the_fix() {
    let home = tempfile::tempdir().unwrap();
    let file = common::random_file(home.path(), "f.bin", 10);
    let mut cmd = common::s3push(home.path());
    cmd.args(["--endpoint", "http://user:Pa55-w0rd@127.0.0.1:9"])
        .arg(&file)
        .arg("s3://bucket/k");
    let out = common::run_bounded(cmd, common::RUN_LIMIT);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        !err.contains("Pa55-w0rd") && !err.contains("user:"),
        "{err}"
    );
    // A password with a `/` in it, unencoded: still never shown.
    let mut cmd = common::s3push(home.path());
    cmd.args(["--endpoint", "https://user:pa/ss@127.0.0.1:9"])
        .arg(&file)
        .arg("s3://bucket/k");
    let out = common::run_bounded(cmd, common::RUN_LIMIT);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(!err.contains("pa/ss") && !err.contains("user:"), "{err}");

    let fifo = home.path().join("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let mut cmd = common::s3push(home.path());
    cmd.args(["--endpoint", "http://127.0.0.1:9"])
        .arg(&fifo)
        .arg("s3://bucket/k");
    let out = common::run_bounded(cmd, common::RUN_LIMIT);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("s3push - s3://BUCKET/KEY <"), "{err}");
}
