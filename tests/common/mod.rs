//! The integration-test harness: a real s3s-fs on loopback, a rustls front for it, the
//! s3push binary run with a clean environment, test files, and exact peak-RSS measurement.
//!
//! Every test file uses `mod common;` and only part of it.
#![allow(dead_code)]
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod listen;
mod proxy;
mod scripted;
mod server;
mod socks;
pub mod stage;
mod standin;
mod tls;

#[allow(unused_imports)]
pub use listen::{Connection, Listening};
#[allow(unused_imports)]
pub use proxy::{ProxyMode, TestProxy};
#[allow(unused_imports)]
pub use scripted::{
    after_body, answer, etag, good, initiated, md5_hex, multipart_etag, request_lines, s3_error,
    s3_error_with, ScriptedServer, Seen, Step, CONTINUE,
};
#[allow(unused_imports)]
pub use server::S3Server;
#[allow(unused_imports)]
pub use socks::{SocksProxy, SocksTarget};
#[allow(unused_imports)]
pub use standin::{Request, StandIn};
#[allow(unused_imports)]
pub use tls::TlsFront;

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// The test server's credentials: test-only values, never real ones.
pub const ACCESS_KEY: &str = "s3push-test-access-key";
pub const SECRET_KEY: &str = "s3push-test-secret-key-0123456789";

/// How long one run of the binary may take before it is killed and the test fails
/// (generous: 300 MiB through TLS in a debug build on a slow machine).
pub const RUN_LIMIT: Duration = Duration::from_secs(300);

/// The s3push binary with a clean environment: only PATH is kept, HOME is `home` (so the
/// machine's ~/.aws is never read), and the test credentials and region are set.
pub fn s3push(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_s3push"));
    cmd.env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    cmd.env("HOME", home)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", "us-east-1")
        // A credential chain must never go looking for an instance-metadata service.
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::null());
    cmd
}

/// Where [`push`] uploads to.
pub const DEST: &str = "s3://bucket/key.bin";

/// How long one [`push`] may take: seconds against a scripted store; a hang fails the
/// test after this.
pub const PUSH_LIMIT: Duration = Duration::from_secs(30);

/// A temporary HOME holding the file to upload.
pub struct Source {
    pub dir: TempDir,
    pub file: PathBuf,
}

/// A temporary HOME with `body.bin`, `len` bytes of [`random_file`] in it.
pub fn source(len: u64) -> Source {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = random_file(dir.path(), "body.bin", len);
    Source { dir, file }
}

/// Runs `s3push --endpoint ENDPOINT --retry-max-wait 0.05 EXTRA FILE s3://bucket/key.bin`
/// with the source's folder as HOME.
pub fn push(endpoint: &str, src: &Source, extra: &[&str]) -> Output {
    let mut cmd = s3push(src.dir.path());
    cmd.args(["--endpoint", endpoint, "--retry-max-wait", "0.05"]);
    cmd.args(extra);
    cmd.arg(&src.file).arg(DEST);
    run_bounded(cmd, PUSH_LIMIT)
}

/// Output bytes as text (invalid UTF-8 replaced).
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Sends `name` (e.g. "INT") to the child with kill(1).
pub fn signal(child: &std::process::Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} {}", child.id());
}

/// Runs `cmd` to its end with captured stdout/stderr; kills it and fails the test when it
/// takes longer than `limit`.
pub fn run_bounded(cmd: Command, limit: Duration) -> Output {
    run_bounded_fed(cmd, limit, None)
}

/// What a test writes into a child's standard input (a pipe), on a thread of its own.
pub type Feed = Box<dyn FnOnce(std::process::ChildStdin) + Send>;

/// As `run_bounded`, with standard input a pipe fed by `feed` (None: /dev/null).
pub fn run_bounded_fed(mut cmd: Command, limit: Duration, feed: Option<Feed>) -> Output {
    cmd.stdin(if feed.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", cmd.get_program()));
    let feeder = match (feed, child.stdin.take()) {
        (Some(feed), Some(stdin)) => Some(thread::spawn(move || feed(stdin))),
        _ => None,
    };
    let stdout = collect(child.stdout.take().expect("piped stdout"));
    let stderr = collect(child.stderr.take().expect("piped stderr"));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for the child") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            let err = stderr.join().unwrap_or_default();
            panic!(
                "{:?} did not finish within {limit:?}; stderr: {}",
                cmd.get_program(),
                String::from_utf8_lossy(&err)
            );
        }
        // Polling a running process for its end (not a readiness wait).
        thread::sleep(Duration::from_millis(5));
    };
    if let Some(feeder) = feeder {
        let _ = feeder.join();
    }
    Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// Reads a child's pipe to its end on a thread of its own, so neither pipe can fill up.
fn collect(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    })
}

/// Writes `len` pseudo-random bytes (`RandomStream` seeded with `len`) to `dir/name`,
/// 64 KiB at a time: the same `len` always gives the same contents.
pub fn random_file(dir: &Path, name: &str, len: u64) -> PathBuf {
    const BLOCK: usize = 64 * 1024;
    let path = dir.join(name);
    let file = File::create(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    let mut out = BufWriter::with_capacity(BLOCK, file);
    let mut random = RandomStream::new(len);
    let mut block = vec![0u8; BLOCK];
    let mut left = len;
    while left > 0 {
        let n = left.min(BLOCK as u64) as usize;
        random.fill(&mut block[..n]);
        out.write_all(&block[..n]).expect("write test file");
        left -= n as u64;
    }
    out.flush().expect("flush test file");
    path
}

/// A reproducible stream of pseudo-random bytes (splitmix64, Steele/Lea/Flood 2014): fast,
/// incompressible enough, and the same bytes however the reads are cut.
pub struct RandomStream {
    state: u64,
    word: [u8; 8],
    used: usize,
}

impl RandomStream {
    pub fn new(seed: u64) -> RandomStream {
        RandomStream {
            state: seed ^ 0x5EED_5EED_5EED_5EED,
            word: [0; 8],
            used: 8,
        }
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        let mut at = 0;
        while at < buf.len() && self.used < 8 {
            buf[at] = self.word[self.used];
            self.used += 1;
            at += 1;
        }
        let mut words = buf[at..].chunks_exact_mut(8);
        for w in &mut words {
            w.copy_from_slice(&self.next_word());
        }
        let tail = words.into_remainder();
        if !tail.is_empty() {
            self.word = self.next_word();
            tail.copy_from_slice(&self.word[..tail.len()]);
            self.used = tail.len();
        }
    }

    fn next_word(&mut self) -> [u8; 8] {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)).to_le_bytes()
    }
}

/// True when both files exist and hold the same bytes; streams, never loads a whole file.
pub fn same_file_contents(a: &Path, b: &Path) -> bool {
    let (Ok(fa), Ok(fb)) = (File::open(a), File::open(b)) else {
        return false;
    };
    match (fa.metadata(), fb.metadata()) {
        (Ok(ma), Ok(mb)) if ma.len() == mb.len() => {}
        _ => return false,
    }
    let (mut ra, mut rb) = (
        io::BufReader::with_capacity(1 << 16, fa),
        io::BufReader::with_capacity(1 << 16, fb),
    );
    let (mut ba, mut bb) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    loop {
        let n = match read_full(&mut ra, &mut ba) {
            Ok(n) => n,
            Err(_) => return false,
        };
        match read_full(&mut rb, &mut bb[..n.max(1)]) {
            Ok(m) if m == n => {}
            _ => return false,
        }
        if n == 0 {
            return true;
        }
        if ba[..n] != bb[..n] {
            return false;
        }
    }
}

/// Fills `buf` unless the reader ends first; returns how much was read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// A loopback port with nothing listening on it (bound, read, released).
pub fn closed_port() -> u16 {
    free_port()
}

/// A port the kernel just handed out on 127.0.0.1, released for the caller to bind.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// Runs `cmd` (built by [`s3push`], so its environment was cleared and every variable
/// it gets is in `get_envs`) and returns its output and its peak resident set in KiB.
///
/// The peak is the kernel's high-water mark of the program's own address space (VmHWM),
/// read when the process exits: a python3 wrapper traces the child with ptrace
/// (PTRACE_O_TRACEEXIT) and reads /proc/PID/status at the exit stop. Not
/// getrusage(RUSAGE_CHILDREN).ru_maxrss: Linux carries the RSS of the process that
/// forked (python, ~14 MiB) into the child's maxrss at exec, which would hide the figure.
pub fn peak_rss_kib(cmd: Command) -> (Output, u64) {
    peak_rss_kib_fed(cmd, None)
}

/// As `peak_rss_kib`, with standard input fed by `feed`.
pub fn peak_rss_kib_fed(cmd: Command, feed: Option<Feed>) -> (Output, u64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let report = dir.path().join("peak-kib");
    let mut wrapper = Command::new("python3");
    wrapper.arg("-c").arg(PEAK_RSS_PY).arg(&report);
    wrapper.arg(
        cmd.get_current_dir()
            .map(Path::as_os_str)
            .unwrap_or_default(),
    );
    let envs: Vec<OsString> = cmd
        .get_envs()
        .filter_map(|(k, v)| {
            v.map(|v| {
                let mut kv = k.to_os_string();
                kv.push("=");
                kv.push(v);
                kv
            })
        })
        .collect();
    wrapper.arg(envs.len().to_string()).args(envs);
    wrapper.arg(cmd.get_program()).args(cmd.get_args());
    let output = run_bounded_fed(wrapper, RUN_LIMIT, feed);
    let peak = std::fs::read_to_string(&report)
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or_else(|| {
            panic!(
                "no peak RSS measured (status {}); stderr: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            )
        });
    (output, peak)
}

/// argv: REPORT CWD N K=V*N PROGRAM ARGS... Runs PROGRAM with exactly those variables,
/// passes its stdout/stderr through, writes its VmHWM (KiB) at exit to REPORT, and exits
/// with its status (128+N for a signal).
const PEAK_RSS_PY: &str = r#"
import ctypes, os, signal, sys
TRACEME, CONT, SETOPTIONS = 0, 7, 0x4200
O_TRACEEXIT, O_EXITKILL, EVENT_EXIT = 0x40, 0x100000, 6
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]

def ptrace(request, pid, data):
    if libc.ptrace(request, pid, None, ctypes.c_void_p(data)) == -1:
        err = ctypes.get_errno()
        raise OSError(err, "ptrace(%d): %s" % (request, os.strerror(err)))

def vm_hwm_kib(pid):
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None

def exit_code(status):
    return os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)

report, cwd, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
env = dict(kv.split("=", 1) for kv in sys.argv[4:4 + n])
argv = sys.argv[4 + n:]
pid = os.fork()
if pid == 0:
    try:
        if cwd:
            os.chdir(cwd)
        if libc.ptrace(TRACEME, 0, None, None) == -1:
            raise OSError(ctypes.get_errno(), "ptrace(TRACEME)")
        os.execvpe(argv[0], argv, env)
    except BaseException as e:
        sys.stderr.write("peak-rss wrapper: cannot run %r: %s\n" % (argv[0], e))
    os._exit(127)
_, status = os.waitpid(pid, 0)
if not os.WIFSTOPPED(status):
    sys.exit(exit_code(status))
ptrace(SETOPTIONS, pid, O_TRACEEXIT | O_EXITKILL)
ptrace(CONT, pid, 0)
peak = None
for _ in range(1000000):
    _, status = os.waitpid(pid, 0)
    if os.WIFEXITED(status) or os.WIFSIGNALED(status):
        break
    deliver = os.WSTOPSIG(status)
    if status >> 16 == EVENT_EXIT:
        peak = vm_hwm_kib(pid)
        deliver = 0
    elif deliver == signal.SIGTRAP:
        deliver = 0
    ptrace(CONT, pid, deliver)
else:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    sys.exit("peak-rss wrapper: too many stops")
if peak is not None:
    with open(report, "w") as f:
        f.write("%d\n" % peak)
sys.exit(exit_code(status))
"#;
