//! A stage for end-to-end tests: s3s-fs with the test bucket, optionally behind the TLS
//! front, temp dirs for the client's HOME and the source files, and the assertions that
//! an upload succeeded or failed as promised.

use super::{S3Server, TlsFront};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tempfile::TempDir;

pub const BUCKET: &str = "test-bucket";

/// A server with the test bucket, optionally behind a TLS front, and temp dirs for the
/// client's HOME and the source files.
pub struct Stage {
    // Field order is drop order: the front before the server it forwards to.
    pub front: Option<TlsFront>,
    pub server: S3Server,
    pub home: TempDir,
    pub files: TempDir,
}

impl Stage {
    pub fn http() -> Stage {
        let server = S3Server::start();
        server.create_bucket(BUCKET);
        Stage {
            front: None,
            server,
            home: TempDir::new().unwrap(),
            files: TempDir::new().unwrap(),
        }
    }

    pub fn tls() -> Stage {
        let mut stage = Stage::http();
        stage.front = Some(TlsFront::start(stage.server.port()));
        stage
    }

    /// s3push aimed at this stage (endpoint, and the CA when over TLS), then `flags`.
    pub fn command(&self, flags: &[&str]) -> Command {
        let mut cmd = super::s3push(self.home.path());
        match &self.front {
            Some(front) => {
                cmd.args(["--endpoint", &front.endpoint(), "--ca-bundle"])
                    .arg(front.ca_pem_path());
            }
            None => {
                cmd.args(["--endpoint", &self.server.endpoint()]);
            }
        }
        cmd.args(flags);
        cmd
    }

    pub fn push(&self, flags: &[&str], source: &Path, dest: &str) -> Output {
        let mut cmd = self.command(flags);
        cmd.arg(source).arg(dest);
        run(cmd)
    }

    pub fn file(&self, name: &str, len: u64) -> PathBuf {
        super::random_file(self.files.path(), name, len)
    }

    pub fn metadata(&self, key: &str) -> serde_json::Value {
        self.server
            .metadata(BUCKET, key)
            .unwrap_or_else(|| panic!("no metadata stored for {key}"))
    }

    /// Success as promised: exit 0, one stdout line naming the object and its size, and
    /// the server holds exactly this key with exactly the source's bytes.
    pub fn assert_stored(&self, out: &Output, key: &str, source: &Path) {
        let len = std::fs::metadata(source).unwrap().len();
        let url = format!("s3://{BUCKET}/{key}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let ok = out.status.success()
            && stdout.lines().count() == 1
            && stdout.contains(&url)
            && stdout
                .split(|c: char| !c.is_ascii_digit())
                .any(|n| n == len.to_string());
        assert!(ok, "upload of {url} ({len} bytes): {}", self.describe(out));
        assert!(!stdout.contains(super::SECRET_KEY), "the secret leaked");
        assert!(
            self.server.has_exact_key(BUCKET, key),
            "no object stored under the exact key {key:?}: {}",
            self.describe(out)
        );
        assert!(
            super::same_file_contents(source, &self.server.object_path(BUCKET, key)),
            "stored bytes of {key:?} differ from the source ({len} bytes)"
        );
    }

    pub fn assert_failure(&self, out: &Output, code: i32, needles: &[&str]) {
        if out.status.code() != Some(code) {
            panic!("expected exit {code}: {}", self.describe(out));
        }
        assert_failure(out, code, needles);
    }

    pub fn describe(&self, out: &Output) -> String {
        format!(
            "{}\n--- s3s-fs log ---\n{}",
            describe(out),
            self.server.log()
        )
    }
}

pub fn run(cmd: Command) -> Output {
    super::run_bounded(cmd, super::RUN_LIMIT)
}

/// s3push aimed at a loopback port where nothing listens.
pub fn run_offline(home: &Path, flags: &[&str], source: &Path, dest: &str) -> Output {
    let mut cmd = super::s3push(home);
    cmd.args([
        "--endpoint",
        &format!("http://127.0.0.1:{}", super::closed_port()),
    ])
    .args(["--connect-timeout", "10"])
    .args(flags)
    .arg(source)
    .arg(dest);
    run(cmd)
}

/// Failure as promised: this exit code, nothing on stdout, exactly one stderr line that
/// starts with "s3push: " and contains every needle, and never the secret.
pub fn assert_failure(out: &Output, code: i32, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{}", describe(out));
    assert!(
        out.stdout.is_empty(),
        "stdout on failure: {}",
        describe(out)
    );
    assert!(
        stderr.starts_with("s3push: ") && stderr.ends_with('\n') && stderr.lines().count() == 1,
        "not one 's3push: ' line on stderr: {}",
        describe(out)
    );
    for needle in needles {
        assert!(stderr.contains(needle), "no {needle:?} in: {stderr}");
    }
    assert!(
        !stderr.contains(super::SECRET_KEY),
        "the secret leaked: {stderr}"
    );
}

pub fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout ---\n{}--- stderr ---\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
