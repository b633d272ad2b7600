//! How long the network may keep s3push waiting (issue 15). A socket timeout bounds one
//! call: a peer that trickles (a header line a second) answers every read in time, and a
//! peer that stopped reading lets the kernel take a few bytes now and then (as it grows
//! its buffers), so neither ever trips it. [`Timed`] checks a [`Limit`] around every
//! socket call instead:
//! - a response head, a TLS handshake, a proxy's CONNECT answer must be complete by a
//!   deadline ([`Limit::within`]);
//! - a body must move [`MIN_PROGRESS`] bytes (or end) in every window of `--timeout`
//!   spent waiting on the socket ([`Limit::pace`]). Time spent elsewhere (reading the
//!   file, hashing, signing) does not count: a slow disk is not a stalled network.

use std::fmt;
use std::io::{self, IoSlice, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// What a body must move in each window of `--timeout`: a floor of 1 KiB/s at the default
/// 60 s, 21 KiB/s at `--timeout 3`.
pub const MIN_PROGRESS: u64 = 64 * 1024;

/// The longest one blocked write waits before the room in the socket is looked at again.
/// Linux wakes a blocked writer only once a third of its send buffer has drained (over
/// 1 MiB of an autotuned 4 MiB), which a slow but moving link may take longer than
/// `--timeout` to do; a fresh write takes whatever room there is.
const WRITE_TICK: Duration = Duration::from_millis(250);

/// A socket timeout must not be zero (std refuses it).
const SHORTEST_WAIT: Duration = Duration::from_millis(1);

/// The write timeout to give a socket whose writes go through [`Timed`]: [`WRITE_TICK`],
/// shorter for a short `--timeout`, so a stall is seen within a quarter of it.
pub fn write_tick(timeout: Duration) -> Duration {
    WRITE_TICK.min(timeout / 4).max(SHORTEST_WAIT)
}

/// The bound on a wait for the network.
#[derive(Debug, Clone, Copy)]
pub enum Limit {
    /// All of it by `deadline` (`allowed` after it was set).
    By {
        deadline: Instant,
        allowed: Duration,
    },
    /// Each `window` of waiting must move MIN_PROGRESS bytes: `waited` and `moved` count
    /// since the last time it did.
    Pace {
        window: Duration,
        waited: Duration,
        moved: u64,
    },
}

impl Limit {
    /// Everything within `allowed` from now.
    pub fn within(allowed: Duration) -> Limit {
        Limit::since(Instant::now(), allowed)
    }

    /// Everything within `allowed` from `start`.
    pub fn since(start: Instant, allowed: Duration) -> Limit {
        Limit::By {
            deadline: start + allowed,
            allowed,
        }
    }

    /// MIN_PROGRESS bytes in every `window` of waiting.
    pub fn pace(window: Duration) -> Limit {
        Limit::Pace {
            window,
            waited: Duration::ZERO,
            moved: 0,
        }
    }

    /// The time left to wait; None once it is over.
    fn left(&self) -> Option<Duration> {
        let left = match *self {
            Limit::By { deadline, .. } => deadline.checked_duration_since(Instant::now()),
            Limit::Pace { window, waited, .. } => window.checked_sub(waited),
        };
        left.filter(|d| !d.is_zero())
    }

    /// One socket call waited `took` and moved `n` bytes.
    fn record(&mut self, n: usize, took: Duration) {
        if let Limit::Pace { waited, moved, .. } = self {
            *moved += n as u64;
            *waited += took;
            if *moved >= MIN_PROGRESS {
                (*waited, *moved) = (Duration::ZERO, 0);
            }
        }
    }

    /// The error of a wait that went over this limit (kind TimedOut).
    fn expired(&self) -> io::Error {
        let why = match *self {
            Limit::By { allowed, .. } => Expired::Late(allowed),
            Limit::Pace { window, .. } => Expired::Stalled(window),
        };
        io::Error::new(io::ErrorKind::TimedOut, why)
    }
}

/// Why a bounded wait ended: carried in the io::Error, for the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    /// Not complete within this long.
    Late(Duration),
    /// Under MIN_PROGRESS bytes in a window this long.
    Stalled(Duration),
}

impl fmt::Display for Expired {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expired::Late(d) => write!(f, "not complete within {} s", d.as_secs_f64()),
            Expired::Stalled(d) => write!(
                f,
                "under {} KiB moved in {} s",
                MIN_PROGRESS / 1024,
                d.as_secs_f64()
            ),
        }
    }
}

impl std::error::Error for Expired {}

/// The Expired inside an io::Error, if that is what it is.
pub fn expired(e: &io::Error) -> Option<Expired> {
    e.get_ref()?.downcast_ref::<Expired>().copied()
}

/// A socket seen through a limit: every read and write waits at most what the limit has
/// left, and fails with [`Expired`] (kind TimedOut) once it has none. Reads set the
/// socket's read timeout each time; writes rely on the socket's write timeout being
/// [`write_tick`] (set once), and try again until the limit is over.
pub struct Timed<'a> {
    sock: &'a TcpStream,
    limit: &'a mut Limit,
}

impl<'a> Timed<'a> {
    pub fn new(sock: &'a TcpStream, limit: &'a mut Limit) -> Timed<'a> {
        Timed { sock, limit }
    }

    /// Runs one socket call; Ok(None) when it timed out (or was interrupted) with time
    /// left on the limit.
    fn call(
        &mut self,
        f: impl FnOnce(&TcpStream) -> io::Result<usize>,
    ) -> io::Result<Option<usize>> {
        let started = Instant::now();
        let result = f(self.sock);
        let took = started.elapsed();
        match result {
            Ok(n) => {
                self.limit.record(n, took);
                Ok(Some(n))
            }
            Err(e) if is_wait(&e) => {
                self.limit.record(0, took);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn left(&self) -> io::Result<Duration> {
        self.limit.left().ok_or_else(|| self.limit.expired())
    }
}

impl Read for Timed<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let left = self.left()?;
            self.sock.set_read_timeout(Some(left.max(SHORTEST_WAIT)))?;
            if let Some(n) = self.call(|mut s| s.read(buf))? {
                return Ok(n);
            }
        }
    }
}

impl Write for Timed<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            self.left()?;
            if let Some(n) = self.call(|mut s| s.write(buf))? {
                return Ok(n);
            }
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        loop {
            self.left()?;
            if let Some(n) = self.call(|mut s| s.write_vectored(bufs))? {
                return Ok(n);
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Timed<'_> {
    /// Sends up to `count` bytes of `file` from `*offset` with sendfile(2), straight from
    /// the page cache (the file's own position is not used or moved); `*offset` advances
    /// by what went. Ok(0) when the file ends at `*offset`.
    pub fn send_file(
        &mut self,
        file: &std::fs::File,
        offset: &mut u64,
        count: usize,
    ) -> io::Result<usize> {
        loop {
            self.left()?;
            if let Some(n) = self.call(|s| sendfile(s, file, offset, count))? {
                return Ok(n);
            }
        }
    }
}

#[cfg(target_os = "linux")]
fn sendfile(
    sock: &TcpStream,
    file: &std::fs::File,
    offset: &mut u64,
    count: usize,
) -> io::Result<usize> {
    use rustix::io::Errno;
    rustix::fs::sendfile(sock, file, Some(offset), count).map_err(|e| match e {
        // A wait (the write tick, a signal), or the link's own failure: as a write's.
        Errno::AGAIN
        | Errno::INTR
        | Errno::PIPE
        | Errno::CONNRESET
        | Errno::CONNABORTED
        | Errno::NOTCONN
        | Errno::TIMEDOUT
        | Errno::HOSTUNREACH
        | Errno::NETUNREACH
        | Errno::NETDOWN => e.into(),
        // Anything else may be the file's (a filesystem without splice support, EIO,
        // ESTALE, ...): the caller copies the piece through its buffer instead, where a
        // read error is the file's and a send error the link's, with no guessing.
        _ => io::Error::other(FileFault::Unsupported),
    })
}

/// Elsewhere the kernel call is not used: the caller copies through its buffer.
#[cfg(not(target_os = "linux"))]
fn sendfile(_: &TcpStream, _: &std::fs::File, _: &mut u64, _: usize) -> io::Result<usize> {
    Err(io::Error::other(FileFault::Unsupported))
}

/// A failed sendfile(2) that may be the file's doing, not the socket's: the caller
/// copies instead.
#[derive(Debug)]
pub enum FileFault {
    Unsupported,
}

impl fmt::Display for FileFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sendfile cannot send from this file")
    }
}

impl std::error::Error for FileFault {}

/// A socket call that ended for its timeout or a signal, not for an error of the link.
fn is_wait(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::thread;

    #[test]
    fn a_pace_resets_on_each_min_progress_and_ends_after_a_window_without() {
        let window = Duration::from_secs(3);
        let mut pace = Limit::pace(window);
        // 2.5 s of waiting, then 64 KiB: a fresh window.
        pace.record(1000, Duration::from_millis(2500));
        pace.record(MIN_PROGRESS as usize, Duration::ZERO);
        assert_eq!(pace.left(), Some(window));
        // A trickle: bytes, but under 64 KiB in the window.
        for _ in 0..3 {
            pace.record(8 * 1024, Duration::from_secs(1));
        }
        assert_eq!(pace.left(), None);
        assert_eq!(
            expired(&pace.expired()),
            Some(Expired::Stalled(window)),
            "the error says which limit"
        );
    }

    #[test]
    fn a_deadline_ends_whatever_moved() {
        let mut by = Limit::within(Duration::from_millis(20));
        by.record(1 << 20, Duration::ZERO);
        assert!(by.left().is_some());
        thread::sleep(Duration::from_millis(30));
        assert_eq!(by.left(), None);
        assert_eq!(
            expired(&by.expired()),
            Some(Expired::Late(Duration::from_millis(20)))
        );
    }

    #[test]
    fn write_ticks_are_short_for_short_timeouts() {
        assert_eq!(write_tick(Duration::from_secs(60)), WRITE_TICK);
        assert_eq!(
            write_tick(Duration::from_millis(400)),
            Duration::from_millis(100)
        );
        assert_eq!(write_tick(Duration::ZERO), SHORTEST_WAIT);
    }

    /// A peer that sends a byte every 50 ms never trips a 200 ms read timeout; the
    /// deadline ends the wait all the same.
    #[test]
    fn a_trickle_ends_at_the_deadline() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let peer = thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            for _ in 0..40 {
                if s.write_all(b"x").is_err() {
                    break;
                }
                thread::sleep(Duration::from_millis(50));
            }
        });
        let sock = TcpStream::connect(addr).unwrap();
        let mut limit = Limit::within(Duration::from_millis(400));
        let started = Instant::now();
        let mut got = 0;
        let mut buf = [0u8; 16];
        let e = loop {
            match Timed::new(&sock, &mut limit).read(&mut buf) {
                Ok(0) => panic!("the peer closed first"),
                Ok(n) => got += n,
                Err(e) => break e,
            }
        };
        let took = started.elapsed();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(got > 2, "bytes arrived before the end: {got}");
        assert!(took < Duration::from_millis(700), "took {took:?}");
        drop(sock);
        peer.join().unwrap();
    }
}
