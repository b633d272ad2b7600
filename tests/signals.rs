//! Signals against a scripted store (tests/common/scripted.rs): a second signal never
//! ends the process before it has said which upload it leaves on the store and how to
//! discard it; whatever breaks after a signal is the stop (exit 130), not a network error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{initiated, signal, ScriptedServer, Step};
use std::io::Read;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use Step::{ReadBody, ReadHead, Reply, Stall};

const LIMIT: Duration = Duration::from_secs(20);
const MIB: usize = 1024 * 1024;

/// Waits (polling, with a deadline) until the server has accepted `n` connections.
fn wait_for_connections(server: &ScriptedServer, n: usize) {
    let deadline = Instant::now() + LIMIT;
    while server.connections() < n {
        assert!(Instant::now() < deadline, "s3push never reached the store");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for the child with a deadline; returns its exit code and stderr.
fn finish(mut child: Child) -> (Option<i32>, String) {
    let deadline = Instant::now() + LIMIT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (status.code(), err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("s3push did not end after the signals");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Issue 15.2: two SIGTERMs in a row (GNU `timeout` signals the child, then its group)
/// while standard input goes up in parts and the abort itself hangs: exit 130, and the
/// upload id with the command that discards it is on stderr every time (before: exit 130,
/// nothing on stderr, the upload left with no id printed).
#[test]
fn a_second_signal_says_which_upload_it_leaves_before_it_ends_the_process() {
    for round in 0..10 {
        let server = ScriptedServer::start(vec![
            vec![ReadHead, ReadBody, Reply(initiated("UPLOAD-7"))],
            vec![ReadHead, Stall(Duration::from_secs(15))],
            vec![ReadHead, Stall(Duration::from_secs(15))],
        ]);
        let home = tempfile::tempdir().unwrap();
        let mut cmd = common::s3push(home.path());
        cmd.args(["--endpoint", &server.endpoint()])
            .args(["--part-size", "5M", "--multipart-threshold", "5M"])
            .args(["-", "s3://bucket/key.bin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let feeder = std::thread::spawn(move || {
            use std::io::Write;
            let _ = stdin.write_all(&vec![7u8; 11 * MIB]);
        });
        // The upload exists once the first part is on its way; the first signal starts
        // the abort (a third connection, which the store holds); the second one comes
        // while it hangs. (Two signals sent back to back may reach the process as one:
        // the kernel does not queue a second SIGTERM while the first is pending.)
        wait_for_connections(&server, 2);
        signal(&child, "TERM");
        wait_for_connections(&server, 3);
        signal(&child, "TERM");
        let (code, err) = finish(child);
        let _ = feeder.join();
        assert_eq!(code, Some(130), "round {round}: {err}");
        assert!(
            err.contains("s3push --abort --upload-id UPLOAD-7 s3://bucket/key.bin"),
            "round {round}: {err}"
        );
    }
}

/// Issue 15.6: a signal while the last attempt waits for its answer ends with 130
/// "interrupted", not exit 5 "Interrupted system call (os error 4)".
#[test]
fn a_signal_during_the_last_attempt_is_an_interruption() {
    let server = ScriptedServer::start(vec![vec![
        ReadHead,
        ReadBody,
        Stall(Duration::from_secs(10)),
    ]]);
    let home = tempfile::tempdir().unwrap();
    let file = common::random_file(home.path(), "f.bin", 5000);
    let mut cmd = common::s3push(home.path());
    cmd.args(["--endpoint", &server.endpoint(), "--retries", "0"])
        .arg(&file)
        .arg("s3://bucket/key.bin")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    wait_for_connections(&server, 1);
    // Once the whole body is in (seen() returns when the connections settle, at most 5 s),
    // s3push waits for the answer the store holds back.
    assert!(server.seen().first().is_some_and(|s| s.body_complete));
    signal(&child, "INT");
    let (code, err) = finish(child);
    assert_eq!(code, Some(130), "{err}");
    assert!(err.contains("interrupted"), "{err}");
}

/// Whether some thread of process `pid` is in the sendfile system call (its number
/// first in /proc/PID/task/TID/syscall): blocked sending a body, the socket full.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn in_sendfile(pid: u32) -> bool {
    let number = if cfg!(target_arch = "x86_64") {
        "40 "
    } else {
        "71 "
    };
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().any(|t| {
        std::fs::read_to_string(t.path().join("syscall")).is_ok_and(|s| s.starts_with(number))
    })
}

/// A signal while a file goes with sendfile to a slow store (80 KiB/s, so each 1 MiB
/// piece takes 13 s) is looked at between sendfile calls, not only between pieces: exit
/// 130 within 2 s. (Before: the rest of the piece went first, up to 13 s.)
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[test]
fn a_signal_stops_a_sendfile_upload_to_a_slow_store_promptly() {
    let server = ScriptedServer::start(vec![vec![
        ReadHead,
        Step::ContinueIfExpected,
        Step::ReadBodySlowly {
            len: 64 * MIB as u64,
            piece: 8 * 1024,
            every: Duration::from_millis(100),
        },
    ]]);
    let home = tempfile::tempdir().unwrap();
    let file = common::random_file(home.path(), "f.bin", 64 * MIB as u64);
    let mut cmd = common::s3push(home.path());
    cmd.args(["--endpoint", &server.endpoint(), "--retries", "0"])
        .args(["--payload", "unsigned", "--multipart-threshold", "5G"])
        .arg(&file)
        .arg("s3://bucket/key.bin")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    wait_for_connections(&server, 1);
    let deadline = Instant::now() + LIMIT;
    while !in_sendfile(child.id()) {
        assert!(Instant::now() < deadline, "s3push never filled the socket");
        std::thread::sleep(Duration::from_millis(20));
    }
    let signalled = Instant::now();
    signal(&child, "INT");
    let (code, err) = finish(child);
    let took = signalled.elapsed();
    assert_eq!(code, Some(130), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    assert!(
        took < Duration::from_secs(2),
        "{took:?} after the signal: {err}"
    );
}
