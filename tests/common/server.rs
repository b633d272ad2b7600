//! A real, signature-checking S3 server for the tests: s3s-fs 0.14.1 on 127.0.0.1.
//!
//! Buckets are directories under its root; the object `B/K` is the file `ROOT/B/K` (path
//! normalized), and each stored object leaves `ROOT/.bucket-{B}.object-{K}.internal.json`
//! and `.metadata.json` beside it, B and K in URL-safe base64 without padding, K exactly as
//! the server received it (s3s-fs 0.14.1 src/fs.rs).

use super::{free_port, ACCESS_KEY, SECRET_KEY};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use std::fs::{self, OpenOptions};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// How long the server may take to listen, per attempt.
const READY_LIMIT: Duration = Duration::from_secs(30);
/// New ports to try when the child exits early (another process took the port).
const ATTEMPTS: usize = 5;

pub struct S3Server {
    child: Child,
    port: u16,
    root: PathBuf,
    log_path: PathBuf,
    // Dropped after the child is stopped (see Drop).
    _dir: TempDir,
}

impl S3Server {
    /// Starts s3s-fs on a free loopback port with a fresh root; returns once this very
    /// process listens there.
    pub fn start() -> S3Server {
        let bin = s3s_fs_binary();
        let dir = tempfile::Builder::new()
            .prefix("s3push-s3s-fs-")
            .tempdir()
            .expect("temp dir");
        let root = dir.path().join("root");
        fs::create_dir(&root).expect("create server root");
        let log_path = dir.path().join("s3s-fs.log");
        for _ in 0..ATTEMPTS {
            let port = free_port();
            let mut child = spawn(bin, port, &root, &log_path);
            match wait_until_listening(&mut child, port, &log_path) {
                Readiness::Listening => {
                    return S3Server {
                        child,
                        port,
                        root,
                        log_path,
                        _dir: dir,
                    }
                }
                Readiness::Exited => continue,
                Readiness::TimedOut => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "s3s-fs did not listen on 127.0.0.1:{port} within {READY_LIMIT:?}; its log:\n{}",
                        read_log(&log_path)
                    );
                }
            }
        }
        panic!(
            "s3s-fs exited early {ATTEMPTS} times; its log:\n{}",
            read_log(&log_path)
        );
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The server's data directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Creates a bucket the way s3s-fs keeps one: a directory under the root.
    pub fn create_bucket(&self, name: &str) {
        fs::create_dir(self.root.join(name))
            .unwrap_or_else(|e| panic!("create bucket {name}: {e}"));
    }

    /// Where the object's bytes are stored (the key path-normalized by the file system).
    pub fn object_path(&self, bucket: &str, key: &str) -> PathBuf {
        self.root.join(bucket).join(key)
    }

    /// The stored bytes of the object, if it is there.
    pub fn object_bytes(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        fs::read(self.object_path(bucket, key)).ok()
    }

    /// True when the server stored an object under exactly this key (byte for byte, before
    /// any path normalization).
    pub fn has_exact_key(&self, bucket: &str, key: &str) -> bool {
        self.sidecar(bucket, key, "internal").is_file()
    }

    /// What s3s-fs recorded about the object's headers (s3s-fs 0.14.1 `ObjectAttributes`):
    /// `user_metadata` (x-amz-meta-*, names lowercased), `content_type`, `content_encoding`,
    /// `content_disposition`, `content_language`, `cache_control`, `expires`,
    /// `website_redirect_location`; absent fields are left out. It keeps no ACL and no
    /// storage class.
    pub fn metadata(&self, bucket: &str, key: &str) -> Option<serde_json::Value> {
        read_json(&self.sidecar(bucket, key, "metadata"))
    }

    /// The server's own record of the object: `e_tag` (hex MD5 of the stored bytes) and
    /// `checksum_*` for each checksum the request carried.
    pub fn internal_info(&self, bucket: &str, key: &str) -> Option<serde_json::Value> {
        read_json(&self.sidecar(bucket, key, "internal"))
    }

    /// Everything the server printed so far.
    pub fn log(&self) -> String {
        read_log(&self.log_path)
    }

    fn sidecar(&self, bucket: &str, key: &str, kind: &str) -> PathBuf {
        self.root.join(format!(
            ".bucket-{}.object-{}.{kind}.json",
            URL_SAFE_NO_PAD.encode(bucket),
            URL_SAFE_NO_PAD.encode(key)
        ))
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The s3s-fs binary: $S3S_FS_BIN, else what scripts/install-s3s-fs prints (it installs
/// once into ~/.cache/s3push and reuses that build).
fn s3s_fs_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("S3S_FS_BIN").filter(|b| !b.is_empty()) {
            return PathBuf::from(bin);
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install-s3s-fs");
        let out = Command::new(&script)
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let bin = stdout.lines().rev().find(|l| !l.trim().is_empty());
        match (out.status.success(), bin) {
            (true, Some(bin)) => PathBuf::from(bin.trim()),
            _ => panic!(
                "{} failed ({}): set S3S_FS_BIN to an s3s-fs 0.14.1 binary",
                script.display(),
                out.status
            ),
        }
    })
}

fn spawn(bin: &Path, port: u16, root: &Path, log_path: &Path) -> Child {
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .expect("open server log");
    let log2 = log.try_clone().expect("clone log handle");
    Command::new(bin)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
        .arg(root)
        // info: the "server is running at" line tells this child from another process on
        // the port; debug: why a request was refused, for a failing test's message.
        .env(
            "RUST_LOG",
            std::env::var("S3S_FS_LOG").unwrap_or_else(|_| "s3s_fs=debug,s3s=debug".into()),
        )
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()))
}

enum Readiness {
    Listening,
    Exited,
    TimedOut,
}

/// Polls the port with short connect attempts until the child both accepts and has logged
/// that it runs on that port; notices when the child dies first.
fn wait_until_listening(child: &mut Child, port: u16, log_path: &Path) -> Readiness {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let running = format!("server is running at http://127.0.0.1:{port}");
    let deadline = Instant::now() + READY_LIMIT;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return Readiness::Exited;
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
            && read_log(log_path).contains(&running)
        {
            return Readiness::Listening;
        }
        // A brief pause between polls; readiness itself is decided by the checks above.
        thread::sleep(Duration::from_millis(5));
    }
    Readiness::TimedOut
}

fn read_log(path: &Path) -> String {
    fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

fn read_json(path: &Path) -> Option<serde_json::Value> {
    let bytes = fs::read(path).ok()?;
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    Some(value)
}
