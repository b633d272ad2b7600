//! Multipart uploads end to end: the real binary against s3s-fs on loopback (and through
//! the TLS front), files in parts, standard input through a pipe, interruption, resume and
//! abort, every object read back from the server and compared.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::stage::{describe, run, Stage, BUCKET};
use common::{signal, Feed, RandomStream};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

const MIB: u64 = 1024 * 1024;
/// The smallest part S3 takes: parts of this size make multipart tests small.
const SMALL_PARTS: &[&str] = &["--part-size", "5M", "--multipart-threshold", "5M"];

fn dest(key: &str) -> String {
    format!("s3://{BUCKET}/{key}")
}

/// The number of parts the success line reports.
fn parts_reported(out: &Output) -> u32 {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let words: Vec<&str> = stdout.split_whitespace().collect();
    words
        .windows(2)
        .find(|w| w[1] == "parts")
        .and_then(|w| w[0].parse().ok())
        .unwrap_or(0)
}

/// Files s3s-fs keeps for pending multipart uploads (`.upload_id-*` parts, `.upload-*`).
fn pending_upload_files(stage: &Stage) -> Vec<String> {
    fs::read_dir(stage.server.root())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with(".upload"))
        .collect()
}

fn stored_parts(stage: &Stage) -> usize {
    pending_upload_files(stage)
        .iter()
        .filter(|n| n.contains(".part-"))
        .count()
}

/// The files in s3push's state folder: journals, and the lock file of each (left by a
/// run that was killed, taken over by the next).
fn state_files(stage: &Stage) -> Vec<PathBuf> {
    let dir = stage.home.path().join(".local/state/s3push");
    match fs::read_dir(dir) {
        Ok(entries) => entries.filter_map(|e| Some(e.ok()?.path())).collect(),
        Err(_) => Vec::new(),
    }
}

fn journal_files(stage: &Stage) -> Vec<PathBuf> {
    let mut journals = state_files(stage);
    journals.retain(|p| p.extension().is_some_and(|e| e == "journal"));
    journals
}

#[test]
fn three_parts_and_one_byte_with_one_and_four_jobs() {
    for (stage, label) in [(Stage::http(), "http"), (Stage::tls(), "tls")] {
        let source = stage.file("3p1.bin", 3 * 5 * MIB + 1);
        for jobs in ["1", "4"] {
            let key = format!("parts/{label}-{jobs}.bin");
            let mut flags = SMALL_PARTS.to_vec();
            flags.extend(["--jobs", jobs]);
            let out = stage.push(&flags, &source, &dest(&key));
            stage.assert_stored(&out, &key, &source);
            assert_eq!(parts_reported(&out), 4, "{}", describe(&out));
            // s3s-fs's own ETag for the object: MD5 of the part MD5s, "-4".
            let info = stage.server.internal_info(BUCKET, &key).unwrap();
            assert!(info.to_string().contains("-4"), "{info}");
        }
        assert!(pending_upload_files(&stage).is_empty());
        assert!(state_files(&stage).is_empty(), "a journal was left behind");
    }
}

#[test]
fn every_signing_mode_sends_parts() {
    let stage = Stage::http();
    let source = stage.file("modes.bin", 2 * 5 * MIB + 12_345);
    for (mode, key) in [
        (&["--payload", "unsigned"][..], "modes/unsigned.bin"),
        (&["--payload", "signed"], "modes/signed.bin"),
        (&["--payload", "streaming"], "modes/streaming.bin"),
        (&["--signature", "v2"], "modes/v2.bin"),
    ] {
        let mut flags = SMALL_PARTS.to_vec();
        flags.extend(mode);
        let out = stage.push(&flags, &source, &dest(key));
        stage.assert_stored(&out, key, &source);
        assert_eq!(parts_reported(&out), 3, "{key}: {}", describe(&out));
    }
}

#[test]
fn object_headers_go_on_the_create_call() {
    let stage = Stage::http();
    let source = stage.file("headers.bin", 6 * MIB);
    let mut flags = SMALL_PARTS.to_vec();
    flags.extend([
        "--content-type",
        "application/x-test",
        "--meta",
        "owner=alice",
        "--cache-control",
        "max-age=60",
    ]);
    let out = stage.push(&flags, &source, &dest("headers.bin"));
    stage.assert_stored(&out, "headers.bin", &source);
    let meta = stage.metadata("headers.bin").to_string();
    for needle in ["application/x-test", "alice", "max-age=60"] {
        assert!(meta.contains(needle), "{needle} not in {meta}");
    }
}

/// A 6 GiB sparse file (no disk for the source) in parts over four connections, read
/// back by size and by sampled ranges, marked so that a misplaced part shows.
#[test]
fn six_gib_sparse_file_in_parts() {
    let stage = Stage::http();
    let path = stage.files.path().join("sparse-6g.bin");
    let size = 6 * 1024 * MIB;
    let file = File::create(&path).unwrap();
    file.set_len(size).unwrap();
    let marks: Vec<u64> = vec![0, 5 * MIB - 3, 8 * MIB, 3 * 1024 * MIB + 17, size - 4096];
    for (i, &at) in marks.iter().enumerate() {
        file.write_all_at(format!("mark {i} at {at}").as_bytes(), at)
            .unwrap();
    }
    drop(file);
    let out = stage.push(&["--jobs", "4"], &path, &dest("sparse-6g.bin"));
    assert!(out.status.success(), "{}", stage.describe(&out));
    assert_eq!(parts_reported(&out), 768, "{}", describe(&out));
    let stored = stage.server.object_path(BUCKET, "sparse-6g.bin");
    assert_eq!(fs::metadata(&stored).unwrap().len(), size);
    let (mut a, mut b) = (File::open(&path).unwrap(), File::open(&stored).unwrap());
    let mut samples = marks.clone();
    samples.extend([MIB, 2 * 1024 * MIB, 5 * 1024 * MIB + 1]);
    for at in samples {
        let len = (64 * 1024).min(size - at) as usize;
        let (mut x, mut y) = (vec![0u8; len], vec![0u8; len]);
        a.seek(SeekFrom::Start(at)).unwrap();
        b.seek(SeekFrom::Start(at)).unwrap();
        a.read_exact(&mut x).unwrap();
        b.read_exact(&mut y).unwrap();
        assert!(x == y, "the stored object differs at {at}");
    }
    fs::remove_file(&stored).unwrap();
}

// ---- standard input --------------------------------------------------------------------

fn feed_random(len: u64) -> Feed {
    Box::new(move |mut stdin| {
        let mut random = RandomStream::new(len);
        let mut block = vec![0u8; 64 * 1024];
        let mut left = len;
        while left > 0 {
            let n = left.min(block.len() as u64) as usize;
            random.fill(&mut block[..n]);
            if stdin.write_all(&block[..n]).is_err() {
                return;
            }
            left -= n as u64;
        }
    })
}

fn push_stdin(stage: &Stage, flags: &[&str], key: &str, len: u64) -> Output {
    let mut cmd = stage.command(flags);
    cmd.arg("-").arg(dest(key));
    common::run_bounded_fed(cmd, common::RUN_LIMIT, Some(feed_random(len)))
}

#[test]
fn standard_input_of_every_size_class() {
    let stage = Stage::http();
    for (len, parts) in [
        (0, 0),
        (5 * MIB - 1, 0),
        (5 * MIB, 0),
        (5 * MIB + 1, 2),
        (17 * MIB + 3, 4),
    ] {
        let key = format!("stdin/{len}.bin");
        let out = push_stdin(&stage, SMALL_PARTS, &key, len);
        // The same bytes, as a file, to compare with.
        let source = stage.file(&format!("stdin-{len}.bin"), len);
        stage.assert_stored(&out, &key, &source);
        assert_eq!(
            parts_reported(&out),
            parts,
            "{len} bytes: {}",
            describe(&out)
        );
    }
}

#[test]
fn standard_input_of_200_mib_through_a_pipe_with_one_and_four_jobs() {
    let stage = Stage::tls();
    let len = 200 * MIB;
    let source = stage.file("stdin-200m.bin", len);
    for jobs in ["1", "4"] {
        let key = format!("stdin/200m-{jobs}.bin");
        let out = push_stdin(&stage, &["--jobs", jobs], &key, len);
        stage.assert_stored(&out, &key, &source);
        assert_eq!(parts_reported(&out), 25, "{}", describe(&out));
    }
    // Spooled to disk instead of memory: the same object, and no spool file left.
    let spool = tempfile::tempdir().unwrap();
    let spool_arg = spool.path().to_str().unwrap();
    let out = push_stdin(
        &stage,
        &["--spool-dir", spool_arg],
        "stdin/spooled.bin",
        len,
    );
    stage.assert_stored(&out, "stdin/spooled.bin", &source);
    assert_eq!(fs::read_dir(spool.path()).unwrap().count(), 0);
}

#[test]
fn standard_input_needs_a_key_and_cannot_resume() {
    let stage = Stage::http();
    let out = push_stdin(&stage, &[], "dir/", 10);
    common::stage::assert_failure(&out, 2, &["standard input", "full key"]);
    let out = push_stdin(&stage, &["--resume"], "k", 10);
    common::stage::assert_failure(&out, 2, &["cannot be resumed"]);
}

// ---- interruption, resume, abort --------------------------------------------------------

/// Starts s3push uploading `source` in 5 MiB parts, one at a time.
fn start(stage: &Stage, flags: &[&str], source: &Path, key: &str) -> Child {
    let mut cmd = stage.command(flags);
    cmd.args(["--part-size", "5M", "--jobs", "1"])
        .arg(source)
        .arg(dest(key))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.spawn().unwrap()
}

/// Polls the server's root until it holds `parts` parts of a pending upload.
fn wait_for_parts(stage: &Stage, child: &mut Child, parts: usize) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while stored_parts(stage) < parts {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("s3push ended ({status}) before {parts} parts were stored");
        }
        assert!(
            Instant::now() < deadline,
            "{parts} parts not stored in time"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn finish(child: Child) -> Output {
    // Bounded: the signal has been sent, and the abort or keep path has its own timeouts.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut child = child;
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("s3push did not stop after the signal");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn killed_upload_resumes_sending_only_the_missing_parts() {
    let stage = Stage::http();
    let source = stage.file("resume.bin", 40 * 5 * MIB + 77);
    let mut child = start(&stage, &[], &source, "resume.bin");
    wait_for_parts(&stage, &mut child, 6);
    child.kill().unwrap(); // SIGKILL: no chance to clean up, as a crash or power cut
    child.wait().unwrap();
    assert!(!stage.server.has_exact_key(BUCKET, "resume.bin"));
    assert_eq!(journal_files(&stage).len(), 1, "no journal kept");
    // s3s-fs lists parts without ETags, so a part counts as stored when the store holds
    // it and the journal recorded the ETag the store confirmed. A part the kill caught
    // between the store's write and its answer is on the server but unconfirmed: it is
    // sent again (at most one, with one job).
    let on_server = stored_parts(&stage);
    let journal = fs::read_to_string(&journal_files(&stage)[0]).unwrap();
    let confirmed = journal.lines().filter(|l| l.starts_with("part=")).count();
    assert!(
        confirmed <= on_server && confirmed + 1 >= on_server && confirmed >= 5,
        "{confirmed} parts confirmed, {on_server} on the server"
    );

    let mut cmd = stage.command(&["--resume"]);
    cmd.arg(&source).arg(dest("resume.bin"));
    let out = run(cmd);
    stage.assert_stored(&out, "resume.bin", &source);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = format!(
        "{confirmed} of 41 parts already stored, sending {}",
        41 - confirmed
    );
    assert!(stderr.contains(&expected), "want {expected:?}: {stderr}");
    assert!(pending_upload_files(&stage).is_empty());
    assert!(
        state_files(&stage).is_empty(),
        "the journal outlived the upload"
    );
}

#[test]
fn sigint_with_on_failure_abort_leaves_nothing_on_the_server() {
    let stage = Stage::http();
    let source = stage.file("abort.bin", 40 * 5 * MIB);
    let mut child = start(&stage, &["--on-failure", "abort"], &source, "abort.bin");
    wait_for_parts(&stage, &mut child, 3);
    signal(&child, "INT");
    let out = finish(child);
    common::stage::assert_failure(&out, 130, &["stopped by SIGINT", "aborted"]);
    assert!(
        pending_upload_files(&stage).is_empty(),
        "{:?}",
        pending_upload_files(&stage)
    );
    assert!(!stage.server.has_exact_key(BUCKET, "abort.bin"));
    assert!(state_files(&stage).is_empty());
}

#[test]
fn sigterm_with_on_failure_keep_prints_the_resume_command_that_works() {
    let stage = Stage::http();
    let source = stage.file("keep.bin", 40 * 5 * MIB + 1);
    let mut child = start(&stage, &["--on-failure", "keep"], &source, "keep.bin");
    wait_for_parts(&stage, &mut child, 3);
    signal(&child, "TERM");
    let out = finish(child);
    common::stage::assert_failure(
        &out,
        10,
        &["stopped by SIGTERM", "is kept", "s3push --resume"],
    );
    assert!(stored_parts(&stage) >= 3);
    // The printed command, as printed (the test adds only the credentials' environment).
    let stderr = String::from_utf8_lossy(&out.stderr);
    let command = stderr
        .split('`')
        .nth(1)
        .expect("a command in backquotes")
        .to_string();
    let words: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(words[..2], ["s3push", "--resume"]);
    let mut cmd = common::s3push(stage.home.path());
    cmd.args(&words[1..]);
    let out = run(cmd);
    stage.assert_stored(&out, "keep.bin", &source);

    // And the other command it offers discards an upload: start one, keep it, abort it.
    let mut child = start(&stage, &["--on-failure", "keep"], &source, "discard.bin");
    wait_for_parts(&stage, &mut child, 2);
    signal(&child, "INT");
    let out = finish(child);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let discard = stderr
        .split('`')
        .nth(3)
        .expect("the discard command")
        .to_string();
    let words: Vec<&str> = discard.split_whitespace().collect();
    assert_eq!(words[..2], ["s3push", "--abort"]);
    let cmd = stage.command(&words[1..]);
    let out = run(cmd);
    assert!(out.status.success(), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("aborted upload"));
    assert!(pending_upload_files(&stage).is_empty());
}

#[test]
fn a_file_changed_since_the_interruption_is_not_resumed() {
    let stage = Stage::http();
    let source = stage.file("changed.bin", 20 * 5 * MIB);
    let mut child = start(&stage, &[], &source, "changed.bin");
    wait_for_parts(&stage, &mut child, 2);
    child.kill().unwrap();
    child.wait().unwrap();
    OpenOptions::new()
        .append(true)
        .open(&source)
        .unwrap()
        .write_all(b"more")
        .unwrap();
    let mut cmd = stage.command(&["--resume"]);
    cmd.arg(&source).arg(dest("changed.bin"));
    let out = run(cmd);
    common::stage::assert_failure(&out, 3, &["changed since upload", "--abort --upload-id"]);
}

#[test]
fn resume_without_a_journal_or_listing_asks_for_the_upload_id() {
    let stage = Stage::http();
    let source = stage.file("nojournal.bin", 6 * MIB);
    let mut cmd = stage.command(&["--resume"]);
    cmd.arg(&source).arg(dest("nojournal.bin"));
    let out = run(cmd);
    common::stage::assert_failure(&out, 2, &["--upload-id"]);
}

#[test]
fn bad_part_sizes_are_refused_before_any_connection() {
    let stage = Stage::http();
    let source = stage.file("p.bin", 10);
    for (flags, needle) in [
        (&["--part-size", "4M"][..], "5 MiB to 5 GiB"),
        (&["--part-size", "6G"], "5 MiB to 5 GiB"),
        (&["--part-size", "lots"], "give a size"),
        (&["--jobs", "0"], "1 to 64"),
        (&["--on-failure", "maybe"], "abort or keep"),
    ] {
        let out = stage.push(flags, &source, &dest("p.bin"));
        common::stage::assert_failure(&out, 2, &[needle]);
    }
}

// ---- memory ------------------------------------------------------------------------------

/// Peak RSS of a 2 GiB file upload with --jobs 4 stays within 512 KiB of the same
/// upload of 64 MiB (plus a byte, so that both go in parts).
#[test]
fn peak_memory_of_a_file_upload_does_not_grow_with_the_object() {
    let stage = Stage::tls();
    let mut peaks = Vec::new();
    for (name, len) in [("rss-64m.bin", 64 * MIB + 1), ("rss-2g.bin", 2048 * MIB)] {
        let path = stage.files.path().join(name);
        File::create(&path).unwrap().set_len(len).unwrap();
        let mut cmd = stage.command(&["--jobs", "4"]);
        cmd.arg(&path).arg(dest(name));
        let (out, peak) = common::peak_rss_kib(cmd);
        assert!(out.status.success(), "{}", describe(&out));
        println!("peak RSS, {len} bytes in parts over TLS, 4 jobs: {peak} KiB");
        peaks.push(peak);
        let _ = fs::remove_file(stage.server.object_path(BUCKET, name));
    }
    assert!(
        peaks[1] < peaks[0] + 512,
        "peak RSS grew with the object: {} KiB for 64 MiB, {} KiB for 2 GiB",
        peaks[0],
        peaks[1]
    );
}

/// Standard input holds (jobs + 1) parts: 3 x 8 MiB by default, and little else.
#[test]
fn peak_memory_of_standard_input_stays_within_its_bound() {
    let stage = Stage::http();
    let len = 200 * MIB;
    let mut cmd = stage.command(&[]);
    cmd.arg("-").arg(dest("stdin-rss.bin"));
    let (out, peak) = common::peak_rss_kib_fed(cmd, Some(feed_random(len)));
    assert!(out.status.success(), "{}", describe(&out));
    println!("peak RSS, 200 MiB from standard input, 2 jobs: {peak} KiB");
    let bound_kib = 3 * 8 * 1024 + 6 * 1024;
    assert!(
        peak < bound_kib,
        "{peak} KiB over the bound of {bound_kib} KiB"
    );
    let source = stage.file("stdin-rss.bin", len);
    stage.assert_stored(&out, "stdin-rss.bin", &source);
}

/// Issue 15.8: a stream cut short (a producer killed) is not stored with `--size N`: in
/// parts or as one PUT, exit 3, nothing under the key; a stream of exactly N is stored.
/// Far short of `--expected-size`, the object is stored with a warning.
#[test]
fn a_stream_short_of_its_size_is_not_stored() {
    let stage = Stage::http();
    for (len, size, key) in [
        (12 * MIB, "20M", "short-parts.bin"),
        (MIB, "2M", "short-one.bin"),
        (21 * MIB, "20M", "long-parts.bin"),
    ] {
        let mut flags = SMALL_PARTS.to_vec();
        flags.extend(["--size", size]);
        let out = push_stdin(&stage, &flags, key, len);
        assert_eq!(out.status.code(), Some(3), "{len}: {}", describe(&out));
        assert!(
            !stage.server.has_exact_key(BUCKET, key),
            "{key} was stored: {}",
            describe(&out)
        );
    }
    let mut flags = SMALL_PARTS.to_vec();
    flags.extend(["--size", "12M"]);
    let out = push_stdin(&stage, &flags, "exact.bin", 12 * MIB);
    let source = stage.file("exact-src.bin", 12 * MIB);
    stage.assert_stored(&out, "exact.bin", &source);

    let mut flags = SMALL_PARTS.to_vec();
    flags.extend(["--expected-size", "100M"]);
    let out = push_stdin(&stage, &flags, "under.bin", 7 * MIB);
    let source = stage.file("under-src.bin", 7 * MIB);
    stage.assert_stored(&out, "under.bin", &source);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("under half the"),
        "{}",
        describe(&out)
    );
}

// ---- a memory cap (issue 16.4) -------------------------------------------------------------

/// Standard input under `--max-memory`, measured: peak RSS of the whole process.
fn push_stdin_measured(
    stage: &Stage,
    flags: &[&str],
    tmpdir: &Path,
    key: &str,
    len: u64,
) -> (Output, u64) {
    let mut cmd = stage.command(flags);
    cmd.env("TMPDIR", tmpdir).arg("-").arg(dest(key));
    common::peak_rss_kib_fed(cmd, Some(feed_random(len)))
}

/// 200 MiB under a 12 MiB cap: two parts of 5 MiB and s3push itself do not fit, so the
/// parts wait on disk in TMPDIR (unlinked: nothing is left there); under 16 MiB they fit
/// in memory (1 job, parts of 5 MiB) and TMPDIR is not touched. Either way the peak RSS
/// stays under the cap and the object is the stream, byte for byte.
#[test]
fn standard_input_stays_under_a_memory_cap() {
    let stage = Stage::http();
    let len = 200 * MIB;
    let source = stage.file("capped-src.bin", len);
    let tmp = tempfile::tempdir().unwrap();

    // What s3push needs for itself (the share the cap leaves it): a small stream, held on
    // disk.
    let spooled = ["--spool-dir", tmp.path().to_str().unwrap()];
    let (out, peak) = push_stdin_measured(&stage, &spooled, tmp.path(), "small.bin", 64 * 1024);
    assert!(out.status.success(), "{}", describe(&out));
    println!("peak RSS, 64 KiB from standard input over HTTP: {peak} KiB");
    let tls = Stage::tls();
    let (out, peak) = push_stdin_measured(&tls, &spooled, tmp.path(), "small.bin", 64 * 1024);
    assert!(out.status.success(), "{}", describe(&out));
    println!("peak RSS, 64 KiB from standard input over TLS: {peak} KiB");

    let (out, peak) = push_stdin_measured(
        &stage,
        &["--max-memory", "12MiB"],
        tmp.path(),
        "capped-12.bin",
        len,
    );
    println!("peak RSS, 200 MiB from standard input, --max-memory 12MiB (spooled): {peak} KiB");
    stage.assert_stored(&out, "capped-12.bin", &source);
    assert!(peak < 12 * 1024, "{peak} KiB over the 12 MiB cap");
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0);

    let nowhere = stage.files.path().join("no-such-dir");
    let (out, peak) = push_stdin_measured(
        &stage,
        &["--max-memory", "16M"],
        &nowhere,
        "capped-16.bin",
        len,
    );
    println!("peak RSS, 200 MiB from standard input, --max-memory 16M (in memory): {peak} KiB");
    stage.assert_stored(&out, "capped-16.bin", &source);
    assert_eq!(parts_reported(&out), 40, "{}", describe(&out)); // 200 MiB in parts of 5 MiB
    assert!(peak < 16 * 1024, "{peak} KiB over the 16 MiB cap");
}

/// A cap too small to hold two parts of 5 MiB, with nowhere to spool them, is a usage
/// error that says the smallest cap that works; so are --jobs or --part-size over the cap.
#[test]
fn a_memory_cap_too_small_is_a_usage_error() {
    let stage = Stage::http();
    let nowhere = stage.files.path().join("no-such-dir");
    for (flags, env, needles) in [
        (
            &["--max-memory", "6MiB"][..],
            None,
            &[
                "6 MiB (--max-memory)",
                "smallest cap that works is 16 MiB",
                "--spool-dir",
            ][..],
        ),
        (
            &[][..],
            Some("8M"),
            &["8 MiB (S3PUSH_MAX_MEMORY)", "16 MiB"][..],
        ),
        (
            &["--max-memory", "16M", "--jobs", "4"][..],
            None,
            &["--jobs 4", "16 MiB (--max-memory)"][..],
        ),
        (
            &["--max-memory", "16M", "--part-size", "8M"][..],
            None,
            &["--part-size 8 MiB", "16 MiB (--max-memory)"][..],
        ),
        (&[][..], Some("lots"), &["S3PUSH_MAX_MEMORY=lots"][..]),
    ] {
        let mut cmd = stage.command(flags);
        cmd.env("TMPDIR", &nowhere).arg("-").arg(dest("never.bin"));
        if let Some(v) = env {
            cmd.env("S3PUSH_MAX_MEMORY", v);
        }
        let out = common::run_bounded_fed(cmd, common::RUN_LIMIT, Some(feed_random(MIB)));
        common::stage::assert_failure(&out, 2, needles);
    }
    assert!(!stage.server.has_exact_key(BUCKET, "never.bin"));
}
