//! Batches and conditional writes, end to end: several files to a prefix and lists of
//! them (`--files-from`, `-0`) against s3s-fs, every object read back byte for byte; one
//! kept-alive connection for a whole batch, counted by the scripted server; `--no-clobber`
//! and `--if-match` against s3s-fs (which checks both on PutObject and on
//! CompleteMultipartUpload), and the abort after a refused Complete, seen by the
//! scripted server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::stage::{assert_failure, describe, run, Stage, BUCKET};
use common::{answer, initiated, request_lines, s3_error, text, ScriptedServer, Step};
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use Step::{ContinueIfExpected, ReadBody, ReadHead, Reply, Stall, Stored, StoredClose};

const MIB: u64 = 1024 * 1024;
/// Any run against the scripted server takes a few seconds at most.
const LIMIT: Duration = Duration::from_secs(30);
/// Two 5 MiB parts: the object goes up with Create, two parts and Complete.
const TWO_PARTS: &[&str] = &["--multipart-threshold", "5M", "--part-size", "5M"];

/// The object is stored under exactly this key with exactly the bytes of `source`.
fn assert_object(stage: &Stage, out: &Output, key: &str, source: &Path) {
    assert!(
        stage.server.has_exact_key(BUCKET, key),
        "no object under the exact key {key:?}: {}",
        stage.describe(out)
    );
    assert!(
        common::same_file_contents(source, &stage.server.object_path(BUCKET, key)),
        "stored bytes of {key:?} differ from {}",
        source.display()
    );
    assert!(
        text(&out.stdout).contains(&format!("uploaded s3://{BUCKET}/{key} ")),
        "no result line for {key}: {}",
        describe(out)
    );
}

fn stderr_lines(out: &Output) -> Vec<String> {
    text(&out.stderr).lines().map(str::to_string).collect()
}

// ---- several files to a prefix ---------------------------------------------------------

#[test]
fn several_files_go_under_the_prefix_by_name() {
    let stage = Stage::http();
    let sizes = [0, 8193, MIB + 7];
    let dir = stage.files.path().join("deep/dir");
    fs::create_dir_all(&dir).unwrap();
    let sources: Vec<PathBuf> = sizes
        .iter()
        .map(|&len| common::random_file(&dir, &format!("f-{len}.bin"), len))
        .collect();
    let mut cmd = stage.command(&[]);
    cmd.args(&sources).arg(format!("s3://{BUCKET}/logs/"));
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(0), "{}", stage.describe(&out));
    for (len, source) in sizes.iter().zip(&sources) {
        assert_object(&stage, &out, &format!("logs/f-{len}.bin"), source);
    }
    assert_eq!(text(&out.stdout).lines().count(), 3, "{}", describe(&out));
    assert_eq!(stderr_lines(&out), ["s3push: 3 uploaded, 0 failed"]);

    // --quiet: nothing at all when every file is stored.
    let mut cmd = stage.command(&["--quiet"]);
    cmd.args(&sources).arg(format!("s3://{BUCKET}/again/"));
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        out.stdout.is_empty() && out.stderr.is_empty(),
        "{}",
        describe(&out)
    );
    assert!(stage.server.has_exact_key(BUCKET, "again/f-0.bin"));
}

/// Over TLS, with a file in parts between two single PUTs: the parts go over their own
/// connections, the single PUTs share one, and everything is read back.
#[test]
fn a_batch_over_tls_with_a_file_in_parts_in_the_middle() {
    let stage = Stage::tls();
    let small = stage.file("small.bin", 70_000);
    let big = stage.file("big.bin", 11 * MIB + 5);
    let last = stage.file("last.bin", 1);
    let mut cmd = stage.command(TWO_PARTS);
    cmd.arg(&small)
        .arg(&big)
        .arg(&last)
        .arg(format!("s3://{BUCKET}/mixed/"));
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(0), "{}", stage.describe(&out));
    assert_object(&stage, &out, "mixed/small.bin", &small);
    assert_object(&stage, &out, "mixed/big.bin", &big);
    assert_object(&stage, &out, "mixed/last.bin", &last);
    assert!(text(&out.stdout).contains("3 parts"), "{}", describe(&out));
    assert_eq!(stderr_lines(&out), ["s3push: 3 uploaded, 0 failed"]);
}

#[test]
fn a_missing_file_in_the_middle_fails_alone() {
    let stage = Stage::http();
    let a = stage.file("a.bin", 1000);
    let c = stage.file("c.bin", 3000);
    let missing = stage.files.path().join("missing.bin");
    let mut cmd = stage.command(&[]);
    cmd.arg(&a)
        .arg(&missing)
        .arg(&c)
        .arg(format!("s3://{BUCKET}/p/"));
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(3), "{}", stage.describe(&out));
    assert_object(&stage, &out, "p/a.bin", &a);
    assert_object(&stage, &out, "p/c.bin", &c);
    assert!(!stage.server.has_exact_key(BUCKET, "p/missing.bin"));
    let lines = stderr_lines(&out);
    assert_eq!(lines.len(), 2, "{}", describe(&out));
    assert!(
        lines[0].starts_with("s3push: local file: ") && lines[0].contains("missing.bin"),
        "{lines:?}"
    );
    assert_eq!(lines[1], "s3push: 2 uploaded, 1 failed");
}

#[test]
fn fail_fast_stops_at_the_first_failure() {
    let stage = Stage::http();
    let a = stage.file("a.bin", 1000);
    let b = stage.file("b.bin", 2000);
    let missing = stage.files.path().join("missing.bin");
    let mut cmd = stage.command(&["--fail-fast"]);
    cmd.arg(&a)
        .arg(&missing)
        .arg(&b)
        .arg(format!("s3://{BUCKET}/p/"));
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(3), "{}", stage.describe(&out));
    assert_object(&stage, &out, "p/a.bin", &a);
    assert!(
        !stage.server.has_exact_key(BUCKET, "p/b.bin"),
        "--fail-fast went on after the failure"
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("1 uploaded, 1 failed; stopped by --fail-fast"),
        "{stderr}"
    );
}

#[test]
fn several_files_need_a_prefix_and_no_standard_input() {
    let stage = Stage::http();
    let a = stage.file("a.bin", 10);
    let b = stage.file("b.bin", 10);
    let push = |dest: &str, extra: &[&str]| {
        let mut cmd = stage.command(&[]);
        cmd.arg(&a).args(extra).arg(&b).arg(dest);
        run(cmd)
    };
    let out = push(&format!("s3://{BUCKET}/logs"), &[]);
    assert_failure(
        &out,
        2,
        &["end the destination with '/'", "s3://test-bucket/logs/"],
    );
    let out = push(&format!("s3://{BUCKET}/logs/"), &["-"]);
    assert_failure(&out, 2, &["standard input"]);
    let twin = stage.files.path().join("twin");
    fs::create_dir(&twin).unwrap();
    let a2 = common::random_file(&twin, "a.bin", 5);
    let out = push(&format!("s3://{BUCKET}/logs/"), &[a2.to_str().unwrap()]);
    assert_failure(&out, 2, &["same name"]);
    assert!(fs::read_dir(stage.server.root().join(BUCKET))
        .unwrap()
        .next()
        .is_none());
}

// ---- lists --------------------------------------------------------------------------------

#[test]
fn a_nul_separated_list_on_standard_input_keeps_odd_names_and_relative_paths() {
    let stage = Stage::http();
    let root = stage.files.path();
    fs::create_dir_all(root.join("sub dir/deeper")).unwrap();
    let spaced = common::random_file(root, "with space .txt", 700);
    let nested = common::random_file(&root.join("sub dir/deeper"), "x y.bin", 9000);
    let newline = common::random_file(root, "new\nline.txt", 10);
    let list = b"with space .txt\0./sub dir/deeper/x y.bin\0\0new\nline.txt\0".to_vec();
    let mut cmd = stage.command(&["--files-from", "-", "-0"]);
    cmd.arg(format!("s3://{BUCKET}/tree/")).current_dir(root);
    let feed: common::Feed = Box::new(move |mut stdin| {
        let _ = stdin.write_all(&list);
    });
    let out = common::run_bounded_fed(cmd, common::RUN_LIMIT, Some(feed));
    // The name with a line break cannot be a key (control character): it fails alone.
    assert_eq!(out.status.code(), Some(2), "{}", stage.describe(&out));
    assert_object(&stage, &out, "tree/with space .txt", &spaced);
    assert_object(&stage, &out, "tree/sub dir/deeper/x y.bin", &nested);
    assert!(newline.is_file());
    let lines = stderr_lines(&out);
    assert_eq!(lines.len(), 2, "{}", describe(&out));
    assert!(
        lines[0].starts_with("s3push: usage: new line.txt: ")
            && lines[0].contains("control characters"),
        "{lines:?}"
    );
    assert_eq!(lines[1], "s3push: 2 uploaded, 1 failed");
}

#[test]
fn a_list_file_by_line_skips_blanks_and_refuses_paths_out_of_the_prefix() {
    let stage = Stage::http();
    let root = stage.files.path().join("work");
    fs::create_dir_all(root.join("logs")).unwrap();
    let a = common::random_file(&root.join("logs"), "a.log", 1234);
    let b = common::random_file(&root, "b.log", 0);
    let _outside = stage.file("outside.log", 10);
    let list = stage.files.path().join("list.txt");
    fs::write(
        &list,
        format!(
            "logs/a.log\n\n../outside.log\n{}\nb.log\r\n",
            a.display() // absolute
        ),
    )
    .unwrap();
    let mut cmd = stage.command(&["--files-from"]);
    cmd.arg(&list)
        .arg(format!("s3://{BUCKET}/"))
        .current_dir(&root);
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(2), "{}", stage.describe(&out));
    assert_object(&stage, &out, "logs/a.log", &a);
    assert_object(&stage, &out, "b.log", &b);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("'..'"), "{stderr}");
    assert!(stderr.contains("must be relative"), "{stderr}");
    assert!(
        stderr.ends_with("s3push: 2 uploaded, 2 failed\n"),
        "{stderr}"
    );
    assert!(!stage.server.has_exact_key(BUCKET, "outside.log"));

    // A list that cannot be opened fails the batch before anything is sent.
    let mut cmd = stage.command(&["--files-from", "no-such-list"]);
    cmd.arg(format!("s3://{BUCKET}/x/")).current_dir(&root);
    assert_failure(&run(cmd), 3, &["--files-from no-such-list"]);

    // An empty list: nothing to do, and it says so.
    let empty = stage.files.path().join("empty.txt");
    fs::write(&empty, "\n\n").unwrap();
    let mut cmd = stage.command(&["--files-from"]);
    cmd.arg(&empty).arg(format!("s3://{BUCKET}/x/"));
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(stderr_lines(&out), ["s3push: 0 uploaded, 0 failed"]);
}

/// Memory does not follow the number of files: a list of 300 takes what one file takes
/// (the list is read an entry at a time; each file's plan and buffers go when it is done).
#[test]
fn a_long_list_takes_no_more_memory_than_one_file() {
    let stage = Stage::http();
    let root = stage.files.path().join("many");
    fs::create_dir(&root).unwrap();
    let mut list = Vec::new();
    for i in 0..300 {
        common::random_file(&root, &format!("f{i:03}.bin"), 2000 + i);
        list.extend_from_slice(format!("f{i:03}.bin\n").as_bytes());
    }
    let list_path = stage.files.path().join("list.txt");
    fs::write(&list_path, &list).unwrap();
    let mut one = stage.command(&["--quiet"]);
    one.arg(root.join("f000.bin"))
        .arg(format!("s3://{BUCKET}/one/"))
        .current_dir(&root);
    let (out, single_kib) = common::peak_rss_kib(one);
    assert!(out.status.success(), "{}", describe(&out));
    let mut many = stage.command(&["--quiet", "--files-from"]);
    many.arg(&list_path)
        .arg(format!("s3://{BUCKET}/many/"))
        .current_dir(&root);
    let (out, batch_kib) = common::peak_rss_kib(many);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(stage.server.has_exact_key(BUCKET, "many/f299.bin"));
    assert!(common::same_file_contents(
        &root.join("f150.bin"),
        &stage.server.object_path(BUCKET, "many/f150.bin")
    ));
    assert!(
        batch_kib <= single_kib + 512,
        "300 files took {batch_kib} KiB at peak, one file {single_kib} KiB"
    );
}

// ---- one connection for the batch ---------------------------------------------------------

/// One stored PUT per request on the same connection.
fn stored(n: usize, last: Step) -> Vec<Step> {
    let mut script = Vec::new();
    for i in 0..n {
        let reply = if i + 1 == n { last.clone() } else { Stored };
        script.extend([ReadHead, ContinueIfExpected, ReadBody, reply]);
    }
    script
}

fn files(dir: &Path, n: usize) -> Vec<PathBuf> {
    (0..n)
        .map(|i| common::random_file(dir, &format!("f{i}.bin"), 5000 + i as u64))
        .collect()
}

fn batch_at(endpoint: &str, home: &Path, sources: &[PathBuf], extra: &[&str]) -> Command {
    let mut cmd = common::s3push(home);
    cmd.args(["--endpoint", endpoint, "--retry-max-wait", "0.05"])
        .args(extra)
        .args(sources)
        .arg("s3://bucket/p/");
    cmd
}

#[test]
fn a_batch_of_single_puts_uses_one_kept_alive_connection() {
    let dir = tempfile::tempdir().unwrap();
    let sources = files(dir.path(), 4);
    let server = ScriptedServer::start(vec![stored(4, Stored)]);
    let out = common::run_bounded(
        batch_at(&server.endpoint(), dir.path(), &sources, &[]),
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(text(&out.stdout).lines().count(), 4, "{}", describe(&out));
    let seen = server.seen();
    assert_eq!(
        request_lines(&seen),
        (0..4)
            .map(|i| format!("PUT /bucket/p/f{i}.bin HTTP/1.1"))
            .collect::<Vec<_>>()
    );
    assert!(seen.iter().all(|s| s.body_complete));
    assert_eq!(server.connections(), 1, "the connection was not reused");

    // A store that closes after each answer gets a connection per file.
    let server = ScriptedServer::start(vec![stored(1, StoredClose)]);
    let out = common::run_bounded(
        batch_at(&server.endpoint(), dir.path(), &sources, &[]),
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(server.seen().len(), 4);
    assert_eq!(server.connections(), 4);
}

#[test]
fn a_refused_file_does_not_stop_the_batch_and_the_exit_code_is_the_first_failure() {
    let dir = tempfile::tempdir().unwrap();
    let sources = files(dir.path(), 3);
    // The client drops a connection after a refusal; the next file opens a new one.
    let server = ScriptedServer::start(vec![
        stored(1, Stored),
        vec![
            ReadHead,
            ReadBody,
            Reply(s3_error("403 Forbidden", "AccessDenied", "")),
        ],
        stored(1, Stored),
    ]);
    let out = common::run_bounded(
        batch_at(&server.endpoint(), dir.path(), &sources, &[]),
        LIMIT,
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{}", describe(&out));
    assert_eq!(text(&out.stdout).lines().count(), 2, "{}", describe(&out));
    assert!(stderr.contains("AccessDenied"), "{stderr}");
    // A refusal's line names the file it was about.
    assert!(stderr.contains("s3://bucket/p/f1.bin"), "{stderr}");
    assert!(
        stderr.ends_with("s3push: 2 uploaded, 1 failed\n"),
        "{stderr}"
    );
}

// ---- a signal stops the batch -------------------------------------------------------------

#[test]
fn sigint_stops_the_batch_before_the_next_file() {
    let dir = tempfile::tempdir().unwrap();
    let sources = files(dir.path(), 3);
    // The second answer takes 3 s: the signal arrives while the second file is on its way.
    let mut script = stored(1, Stored);
    script.extend([ReadHead, ReadBody, Stall(Duration::from_secs(3)), Stored]);
    script.extend(stored(1, Stored));
    let server = ScriptedServer::start(vec![script]);
    let mut cmd = batch_at(&server.endpoint(), dir.path(), &sources, &[]);
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(
        first.starts_with("uploaded s3://bucket/p/f0.bin"),
        "{first}"
    );
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let deadline = Instant::now() + LIMIT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("s3push did not stop after SIGINT");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    let all = format!("{first}{}", describe(&out));
    assert_eq!(out.status.code(), Some(130), "{all}");
    assert!(stderr.contains("stopped by SIGINT"), "{all}");
    let lines = request_lines(&server.seen());
    assert!(
        !lines.iter().any(|l| l.contains("f2.bin")),
        "the batch went on after the signal: {lines:?}"
    );
}

// ---- conditional writes on the real server ----------------------------------------------

#[test]
fn no_clobber_writes_a_new_key_and_never_overwrites_one() {
    let stage = Stage::http();
    let first = stage.file("first.bin", 4000);
    let second = stage.file("second.bin", 5000);
    let dest = format!("s3://{BUCKET}/kept.bin");
    let out = stage.push(&["--no-clobber"], &first, &dest);
    stage.assert_stored(&out, "kept.bin", &first);
    let out = stage.push(&["--no-clobber"], &second, &dest);
    stage.assert_failure(
        &out,
        11,
        &["s3://test-bucket/kept.bin exists; --no-clobber did not overwrite it"],
    );
    assert!(common::same_file_contents(
        &first,
        &stage.server.object_path(BUCKET, "kept.bin")
    ));
    // The same over TLS-free v2 signing: the header is not signed there, still honoured.
    let out = stage.push(&["--no-clobber", "--signature", "v2"], &second, &dest);
    stage.assert_failure(&out, 11, &["exists"]);
    // Without the flag it is overwritten, as always.
    let out = stage.push(&[], &second, &dest);
    stage.assert_stored(&out, "kept.bin", &second);
}

/// In parts, the key is looked at (HEAD) before any part goes up: an existing object
/// costs one round trip, not the upload. (The store's own check at Complete, for a writer
/// racing in between, is tested against the scripted server below.)
#[test]
fn no_clobber_in_parts_is_refused_before_sending() {
    let stage = Stage::http();
    let first = stage.file("first.bin", 1000);
    let big = stage.file("big.bin", 10 * MIB + 3);
    let dest = format!("s3://{BUCKET}/big.bin");
    let out = stage.push(&[], &first, &dest);
    stage.assert_stored(&out, "big.bin", &first);
    // --on-failure keep would keep a failed upload: a refused condition is aborted all
    // the same (a resume would be refused again).
    let flags = [TWO_PARTS, &["--no-clobber", "--on-failure", "keep"]].concat();
    let out = stage.push(&flags, &big, &dest);
    stage.assert_failure(
        &out,
        11,
        &[
            "big.bin exists; --no-clobber did not overwrite it",
            "nothing was sent",
        ],
    );
    assert!(common::same_file_contents(
        &first,
        &stage.server.object_path(BUCKET, "big.bin")
    ));
    let pending: Vec<String> = fs::read_dir(stage.server.root())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(".upload"))
        .collect();
    assert!(pending.is_empty(), "parts left on the server: {pending:?}");
    // To a new key the same upload completes.
    let out = stage.push(&flags, &big, &format!("s3://{BUCKET}/new-big.bin"));
    stage.assert_stored(&out, "new-big.bin", &big);
}

/// The ETag s3s-fs recorded for the object (hex MD5).
fn etag_of(stage: &Stage, key: &str) -> String {
    stage.server.internal_info(BUCKET, key).unwrap()["e_tag"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn if_match_overwrites_only_the_object_it_names() {
    let stage = Stage::http();
    let v1 = stage.file("v1.bin", 3000);
    let v2 = stage.file("v2.bin", 3001);
    let v3 = stage.file("v3.bin", 3002);
    let dest = format!("s3://{BUCKET}/cas.bin");
    // No object yet: nothing to match.
    let out = stage.push(
        &["--if-match", "0123456789abcdef0123456789abcdef"],
        &v1,
        &dest,
    );
    stage.assert_failure(&out, 11, &["--if-match did not overwrite it"]);
    let out = stage.push(&[], &v1, &dest);
    stage.assert_stored(&out, "cas.bin", &v1);
    let etag1 = etag_of(&stage, "cas.bin");
    // Quoted or not, as the store printed it.
    let out = stage.push(&["--if-match", &format!("\"{etag1}\"")], &v2, &dest);
    stage.assert_stored(&out, "cas.bin", &v2);
    let out = stage.push(&["--if-match", &etag1], &v3, &dest);
    stage.assert_failure(
        &out,
        11,
        &[
            "s3://test-bucket/cas.bin is not the object with ETag",
            &etag1,
        ],
    );
    assert!(common::same_file_contents(
        &v2,
        &stage.server.object_path(BUCKET, "cas.bin")
    ));
    // In parts: checked at Complete.
    let big = stage.file("big.bin", 10 * MIB + 1);
    let flags = [TWO_PARTS, &["--if-match", &etag1]].concat();
    let out = stage.push(&flags, &big, &dest);
    stage.assert_failure(
        &out,
        11,
        &["--if-match did not overwrite it", "nothing was sent"],
    );
    let etag2 = etag_of(&stage, "cas.bin");
    let flags = [TWO_PARTS, &["--if-match", &etag2]].concat();
    let out = stage.push(&flags, &big, &dest);
    stage.assert_stored(&out, "cas.bin", &big);
}

#[test]
fn no_clobber_in_a_batch_skips_what_exists_and_says_so() {
    let stage = Stage::http();
    let a = stage.file("a.bin", 100);
    let b = stage.file("b.bin", 200);
    let out = stage.push(&[], &a, &format!("s3://{BUCKET}/p/"));
    stage.assert_stored(&out, "p/a.bin", &a);
    let newer_a = stage.files.path().join("newer");
    fs::create_dir(&newer_a).unwrap();
    let newer_a = common::random_file(&newer_a, "a.bin", 300);
    let mut cmd = stage.command(&["--no-clobber"]);
    cmd.arg(&newer_a).arg(&b).arg(format!("s3://{BUCKET}/p/"));
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(11), "{}", stage.describe(&out));
    assert_object(&stage, &out, "p/b.bin", &b);
    assert!(common::same_file_contents(
        &a,
        &stage.server.object_path(BUCKET, "p/a.bin")
    ));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("s3push: not written: s3://test-bucket/p/a.bin exists"),
        "{stderr}"
    );
    assert!(
        stderr.ends_with("s3push: 1 uploaded, 1 failed\n"),
        "{stderr}"
    );
}

// ---- conditional Complete against the scripted server ------------------------------------

#[test]
fn a_412_at_complete_is_not_written_and_the_upload_is_aborted() {
    let dir = tempfile::tempdir().unwrap();
    let source = common::random_file(dir.path(), "key.bin", 5 * MIB + 1);
    let mut parts = Vec::new();
    for _ in 0..2 {
        parts.extend([ReadHead, ContinueIfExpected, ReadBody, Stored]);
    }
    // The look before sending finds no object; another writer stores one meanwhile, and
    // the store refuses Complete.
    let server = ScriptedServer::start(vec![
        vec![ReadHead, Reply(answer("HTTP/1.1 404 Not Found", &[], ""))],
        vec![ReadHead, ReadBody, Reply(initiated("UPLOAD-1"))],
        parts,
        vec![
            ReadHead,
            ReadBody,
            Reply(s3_error(
                "412 Precondition Failed",
                "PreconditionFailed",
                "<Condition>If-None-Match</Condition>",
            )),
        ],
        // Was it our own object, stored by an attempt whose answer was lost? A HEAD shows
        // the other writer's.
        vec![
            ReadHead,
            Reply(answer(
                "HTTP/1.1 200 OK",
                &[("ETag", "\"0123456789abcdef0123456789abcdef-3\"")],
                "",
            )),
        ],
        vec![
            ReadHead,
            ReadBody,
            Reply(answer("HTTP/1.1 204 No Content", &[], "")),
        ],
    ]);
    let mut cmd = common::s3push(dir.path());
    cmd.args(["--endpoint", &server.endpoint(), "--retry-max-wait", "0.05"])
        .args(TWO_PARTS)
        .args(["--jobs", "1", "--no-clobber"])
        .arg(&source)
        .arg("s3://bucket/key.bin");
    let out = common::run_bounded(cmd, LIMIT);
    assert_failure(
        &out,
        11,
        &[
            "s3://bucket/key.bin exists; --no-clobber did not overwrite it",
            "upload UPLOAD-1 was aborted",
        ],
    );
    let seen = server.seen();
    let lines = request_lines(&seen);
    assert_eq!(lines.len(), 7, "{lines:?}");
    assert!(lines[0].starts_with("HEAD /bucket/key.bin "), "{lines:?}");
    assert!(
        lines[1].starts_with("POST /bucket/key.bin?uploads"),
        "{lines:?}"
    );
    assert!(
        lines[4].starts_with("POST /bucket/key.bin?uploadId=UPLOAD-1 "),
        "{lines:?}"
    );
    assert!(lines[5].starts_with("HEAD /bucket/key.bin "), "{lines:?}");
    assert!(
        lines[6].starts_with("DELETE /bucket/key.bin?uploadId=UPLOAD-1 "),
        "{lines:?}"
    );
    // The condition goes on Complete only: not on Create, not on the parts.
    assert_eq!(seen[4].header("if-none-match").as_deref(), Some("*"));
    for s in &seen[1..4] {
        assert_eq!(s.header("if-none-match"), None, "{}", s.head);
    }
}

/// A PUT that broke off mid-body may have been stored by the store all the same: the
/// retry's 412 says so rather than blaming another writer.
#[test]
fn a_412_after_a_broken_attempt_says_the_first_may_have_stored_it() {
    let dir = tempfile::tempdir().unwrap();
    let source = common::random_file(dir.path(), "key.bin", 256 * 1024);
    // The look before writing finds no object.
    let server = ScriptedServer::start(vec![
        vec![ReadHead, Reply(answer("HTTP/1.1 404 Not Found", &[], ""))],
        vec![ReadHead, Step::ReadBodyPart(64 * 1024), Step::Reset],
        vec![
            ReadHead,
            ReadBody,
            Reply(s3_error(
                "412 Precondition Failed",
                "PreconditionFailed",
                "",
            )),
        ],
    ]);
    let mut cmd = common::s3push(dir.path());
    cmd.args(["--endpoint", &server.endpoint(), "--retry-max-wait", "0.05"])
        .args(["--no-clobber"])
        .arg(&source)
        .arg("s3://bucket/key.bin");
    let out = common::run_bounded(cmd, LIMIT);
    assert_failure(
        &out,
        11,
        &[
            "exists; --no-clobber did not overwrite it",
            "may have stored it itself",
        ],
    );
    assert_eq!(server.seen().len(), 3);
}

#[test]
fn if_match_is_sent_quoted_and_signed_on_a_single_put() {
    let dir = tempfile::tempdir().unwrap();
    let source = common::random_file(dir.path(), "key.bin", 100);
    // The look before writing finds the object it names; another writer replaces it
    // before the PUT, and the store refuses it.
    let server = ScriptedServer::start(vec![
        vec![
            ReadHead,
            Reply(answer("HTTP/1.1 200 OK", &[("ETag", "\"abc123\"")], "")),
        ],
        vec![
            ReadHead,
            ReadBody,
            Reply(s3_error(
                "412 Precondition Failed",
                "PreconditionFailed",
                "",
            )),
        ],
    ]);
    let mut cmd = common::s3push(dir.path());
    cmd.args(["--endpoint", &server.endpoint(), "--if-match", "abc123"])
        .arg(&source)
        .arg("s3://bucket/key.bin");
    let out = common::run_bounded(cmd, LIMIT);
    assert_failure(&out, 11, &["is not the object with ETag \"abc123\""]);
    let seen = server.seen();
    // A 412 is sent again once with the ETag bare (Ceph RGW 16.2 takes only that), then
    // it stands.
    assert_eq!(seen.len(), 3, "a 412 is tried bare once, no more");
    assert!(seen[0].head.starts_with("HEAD "), "{:?}", seen[0].head);
    assert_eq!(seen[2].header("if-match").as_deref(), Some("abc123"));
    let seen = &seen[1..];
    assert_eq!(seen[0].header("if-match").as_deref(), Some("\"abc123\""));
    let auth = seen[0].header("authorization").unwrap();
    assert!(auth.contains("if-match"), "If-Match is not signed: {auth}");
}
