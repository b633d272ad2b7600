//! Progress of one object: a [`Meter`] of atomics that the copy loops update (payload
//! bytes, parts, retries), and a [`Progress`] thread that reads it on a timer and draws
//! one line on stderr: redrawn in place on a terminal, or a plain line every few seconds
//! for a log. The drawing formats into a fixed stack buffer: no allocation per update.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often a terminal line is redrawn.
pub const REDRAW: Duration = Duration::from_millis(250);
/// How often a plain line is written when stderr is not a terminal.
pub const LOG_EVERY: Duration = Duration::from_secs(5);
/// The widest line drawn, whatever `COLUMNS` says.
const MAX_WIDTH: usize = 200;
/// `total` when the size is not known (standard input).
const UNKNOWN: u64 = u64::MAX;

/// Set while a redrawn line sits on the terminal: other stderr writers clear it first.
static LIVE_LINE: AtomicBool = AtomicBool::new(false);

/// What is known of one object's transfer, shared by every thread that sends it.
#[derive(Debug)]
pub struct Meter {
    /// Payload bytes counted: confirmed, plus those of attempts still in flight.
    sent: AtomicU64,
    /// Bytes the store already held before this run (`--resume`): not part of the rate.
    resumed: AtomicU64,
    total: AtomicU64,
    parts_done: AtomicU32,
    /// 0 for a single PUT, or while the number of parts is not known.
    parts_total: AtomicU32,
    retries: AtomicU32,
    kept: Mutex<Option<Kept>>,
}

/// A multipart upload left on the server after a failure, and how to go on with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    pub upload_id: String,
    /// The command that resumes it (None for standard input, which cannot be resumed).
    pub resume: Option<String>,
    /// The command that discards it.
    pub discard: String,
}

impl Default for Meter {
    fn default() -> Meter {
        Meter::new()
    }
}

impl Meter {
    pub fn new() -> Meter {
        Meter {
            sent: AtomicU64::new(0),
            resumed: AtomicU64::new(0),
            total: AtomicU64::new(UNKNOWN),
            parts_done: AtomicU32::new(0),
            parts_total: AtomicU32::new(0),
            retries: AtomicU32::new(0),
            kept: Mutex::new(None),
        }
    }

    /// The object's size, once known.
    pub fn set_total(&self, bytes: u64) {
        self.total.store(bytes, Ordering::Relaxed);
    }

    pub fn set_parts(&self, parts: u32) {
        self.parts_total.store(parts, Ordering::Relaxed);
    }

    /// Parts the store already holds (a resume): counted as done, not in the rate.
    pub fn already_stored(&self, parts: u32, bytes: u64) {
        self.parts_done.fetch_add(parts, Ordering::Relaxed);
        self.sent.fetch_add(bytes, Ordering::Relaxed);
        self.resumed.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Starts counting the body of one attempt; what it counted is taken back unless
    /// the attempt is confirmed (a retried part is not counted twice).
    pub fn attempt(&self) -> Sending<'_> {
        Sending {
            meter: self,
            counted: 0,
            confirmed: false,
        }
    }

    pub fn part_done(&self) {
        self.parts_done.fetch_add(1, Ordering::Relaxed);
    }

    /// A request sent again (after a failure, or corrected).
    pub fn retried(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub fn retries(&self) -> u32 {
        self.retries.load(Ordering::Relaxed)
    }

    /// Records the upload a failure left on the server.
    pub fn keep(&self, kept: Kept) {
        if let Ok(mut slot) = self.kept.lock() {
            *slot = Some(kept);
        }
    }

    pub fn kept(&self) -> Option<Kept> {
        self.kept.lock().ok().and_then(|k| k.clone())
    }

    fn sample(&self) -> Sample {
        let total = self.total.load(Ordering::Relaxed);
        let parts_total = self.parts_total.load(Ordering::Relaxed);
        Sample {
            sent: self.sent.load(Ordering::Relaxed),
            resumed: self.resumed.load(Ordering::Relaxed),
            total: (total != UNKNOWN).then_some(total),
            parts_done: self.parts_done.load(Ordering::Relaxed),
            parts_total: (parts_total > 0).then_some(parts_total),
        }
    }
}

/// The bytes of one attempt, taken back from the meter when dropped unconfirmed.
#[derive(Debug)]
pub struct Sending<'a> {
    meter: &'a Meter,
    counted: u64,
    confirmed: bool,
}

impl Sending<'_> {
    /// One relaxed atomic add: the whole cost to the copy loop.
    pub fn add(&mut self, bytes: u64) {
        self.counted += bytes;
        self.meter.sent.fetch_add(bytes, Ordering::Relaxed);
    }

    /// The store took the body: its bytes stay counted.
    pub fn confirm(&mut self) {
        self.confirmed = true;
    }
}

impl Drop for Sending<'_> {
    fn drop(&mut self) {
        if !self.confirmed {
            self.meter.sent.fetch_sub(self.counted, Ordering::Relaxed);
        }
    }
}

/// One reading of a meter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub sent: u64,
    pub resumed: u64,
    pub total: Option<u64>,
    pub parts_done: u32,
    pub parts_total: Option<u32>,
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Off,
    /// One line redrawn in place, cut to this many columns.
    Live {
        width: usize,
    },
    /// A plain line now and then (stderr is a file or a pipe, and `--progress` asked).
    Log,
}

impl Style {
    /// Off with `--quiet` or `--no-progress`; on a terminal unless `-v` writes there
    /// too (then only with `--progress`); elsewhere only with `--progress`.
    pub fn choose(quiet: bool, progress: Option<bool>, verbose: u8) -> Style {
        Style::decide(
            quiet,
            progress,
            verbose,
            std::io::stderr().is_terminal(),
            std::env::var("COLUMNS").ok().as_deref(),
        )
    }

    pub fn decide(
        quiet: bool,
        progress: Option<bool>,
        verbose: u8,
        terminal: bool,
        columns: Option<&str>,
    ) -> Style {
        if quiet || progress == Some(false) {
            return Style::Off;
        }
        if terminal && (progress == Some(true) || verbose == 0) {
            let width = columns
                .and_then(|c| c.trim().parse::<usize>().ok())
                .filter(|&w| w >= 20)
                .unwrap_or(80);
            return Style::Live {
                width: width.min(MAX_WIDTH),
            };
        }
        if progress == Some(true) {
            return Style::Log;
        }
        Style::Off
    }
}

/// The drawing thread of one object; `finish` stops it.
pub struct Progress {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Progress {
    /// Starts drawing `meter` in `style` (a thread only when there is something to draw).
    pub fn start(meter: Arc<Meter>, style: Style) -> Progress {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = match style {
            Style::Off => None,
            _ => {
                let stop = Arc::clone(&stop);
                std::thread::Builder::new()
                    .name("progress".into())
                    .spawn(move || draw_until_stopped(&meter, style, &stop))
                    .ok()
            }
        };
        Progress { stop, thread }
    }

    /// Stops drawing: a terminal line is cleared (the result line follows), a log gets
    /// its last line.
    pub fn finish(mut self) {
        self.stop_thread();
    }

    fn stop_thread(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop_thread();
    }
}

/// Clears a redrawn progress line, if one is showing, before other text goes to stderr.
/// Returns the bytes to write first.
pub fn clear_prefix() -> &'static [u8] {
    if LIVE_LINE.load(Ordering::Relaxed) {
        b"\r\x1b[K"
    } else {
        b""
    }
}

fn draw_until_stopped(meter: &Meter, style: Style, stop: &AtomicBool) {
    let started = Instant::now();
    let every = match style {
        Style::Live { .. } => REDRAW,
        _ => LOG_EVERY,
    };
    let mut rate = Rate::new(started);
    let mut next = started + every;
    let mut line = [0u8; MAX_WIDTH + 16];
    loop {
        let now = Instant::now();
        if now < next {
            std::thread::park_timeout(next - now);
        }
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let now = Instant::now();
        if now < next {
            continue; // woken early
        }
        next = now + every;
        let sample = meter.sample();
        let bps = rate.update(now, sample.sent.saturating_sub(sample.resumed));
        match style {
            Style::Live { width } => {
                let mut w = Cursor::new(&mut line);
                w.put(b"\r");
                render(&mut w, &sample, bps, now - started, width - 1, false);
                w.put(b"\x1b[K");
                LIVE_LINE.store(true, Ordering::Relaxed);
                let _ = std::io::stderr().write_all(w.written());
            }
            Style::Log => {
                let mut w = Cursor::new(&mut line);
                w.put(b"s3push: ");
                render(&mut w, &sample, bps, now - started, MAX_WIDTH, false);
                w.put(b"\n");
                let _ = std::io::stderr().write_all(w.written());
            }
            Style::Off => {}
        }
    }
    match style {
        Style::Live { .. } => {
            if LIVE_LINE.swap(false, Ordering::Relaxed) {
                let _ = std::io::stderr().write_all(b"\r\x1b[K");
            }
        }
        Style::Log => {
            let elapsed = started.elapsed();
            let sample = meter.sample();
            let moved = sample.sent.saturating_sub(sample.resumed);
            let bps = moved as f64 / elapsed.as_secs_f64().max(1e-3);
            let mut w = Cursor::new(&mut line);
            w.put(b"s3push: ");
            render(&mut w, &sample, bps, elapsed, MAX_WIDTH, true);
            w.put(b"\n");
            let _ = std::io::stderr().write_all(w.written());
        }
        Style::Off => {}
    }
}

/// A smoothed transfer rate: the mean over the last few seconds, from a fixed ring of
/// samples.
struct Rate {
    ring: [(Instant, u64); Rate::SLOTS],
    /// Index of the next slot to write; `filled` slots hold samples.
    next: usize,
    filled: usize,
}

impl Rate {
    const WINDOW: Duration = Duration::from_secs(3);
    const SLOTS: usize = 16;

    fn new(start: Instant) -> Rate {
        let mut rate = Rate {
            ring: [(start, 0); Rate::SLOTS],
            next: 0,
            filled: 0,
        };
        rate.push(start, 0);
        rate
    }

    fn push(&mut self, at: Instant, bytes: u64) {
        self.ring[self.next] = (at, bytes);
        self.next = (self.next + 1) % Rate::SLOTS;
        self.filled = (self.filled + 1).min(Rate::SLOTS);
    }

    /// Bytes per second since the oldest sample within the window (or the one before
    /// this, when even that is older).
    fn update(&mut self, now: Instant, bytes: u64) -> f64 {
        let mut from = None;
        for back in 1..=self.filled {
            let (at, b) = self.ring[(self.next + Rate::SLOTS - back) % Rate::SLOTS];
            if from.is_some() && now.duration_since(at) > Rate::WINDOW {
                break;
            }
            from = Some((at, b));
        }
        self.push(now, bytes);
        let Some((at, b)) = from else { return 0.0 };
        let secs = now.duration_since(at).as_secs_f64();
        if secs > 0.0 {
            bytes.saturating_sub(b) as f64 / secs
        } else {
            0.0
        }
    }
}

/// Writes one progress line into `w`, at most `width` bytes (all ASCII):
/// `12.0 MiB / 1.00 GiB  1%  45.2 MiB/s  ETA 0:22  parts 1/128`; `done` puts the time
/// taken where the ETA was.
pub fn render(
    w: &mut Cursor<'_>,
    s: &Sample,
    bps: f64,
    elapsed: Duration,
    width: usize,
    done: bool,
) {
    let limit = w.len() + width;
    w.limit = limit.min(w.buf.len());
    size(w, s.sent);
    if let Some(total) = s.total {
        w.put(b" / ");
        size(w, total);
        let percent = if total == 0 {
            100
        } else {
            (u128::from(s.sent.min(total)) * 100 / u128::from(total)) as u64
        };
        w.put(b"  ");
        w.num(percent);
        w.put(b"%");
    }
    w.put(b"  ");
    size(w, bps.max(0.0) as u64);
    w.put(b"/s");
    if done {
        w.put(b"  in ");
        clock(w, elapsed.as_secs());
    } else if let Some(total) = s.total {
        if bps >= 1.0 && s.sent < total {
            w.put(b"  ETA ");
            clock(w, ((total - s.sent) as f64 / bps).ceil() as u64);
        }
    }
    if s.parts_total.is_some() || s.parts_done > 0 {
        w.put(b"  parts ");
        w.num(u64::from(s.parts_done));
        if let Some(n) = s.parts_total {
            w.put(b"/");
            w.num(u64::from(n));
        }
    }
    w.limit = w.buf.len();
}

/// `812 B`, `45.2 KiB`, `1.00 GiB`: three significant digits.
fn size(w: &mut Cursor<'_>, bytes: u64) {
    const UNITS: [&[u8]; 6] = [b"B", b"KiB", b"MiB", b"GiB", b"TiB", b"PiB"];
    if bytes < 1024 {
        w.num(bytes);
        w.put(b" B");
        return;
    }
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    // Hundredths, rounded: 1.00 .. 9.99, 10.0 .. 99.9, 100 .. 1023.
    let hundredths = (value * 100.0).round() as u64;
    if hundredths < 1000 {
        w.num(hundredths / 100);
        w.put(b".");
        w.put(&[
            b'0' + (hundredths / 10 % 10) as u8,
            b'0' + (hundredths % 10) as u8,
        ]);
    } else if hundredths < 10_000 {
        let tenths = (value * 10.0).round() as u64;
        w.num(tenths / 10);
        w.put(b".");
        w.put(&[b'0' + (tenths % 10) as u8]);
    } else {
        w.num(value.round() as u64);
    }
    w.put(b" ");
    w.put(UNITS[unit]);
}

/// `0:07`, `12:34`, `1:02:03`.
fn clock(w: &mut Cursor<'_>, secs: u64) {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        w.num(h);
        w.put(b":");
        two(w, m);
    } else {
        w.num(m);
    }
    w.put(b":");
    two(w, s);
}

fn two(w: &mut Cursor<'_>, n: u64) {
    w.put(&[b'0' + (n / 10 % 10) as u8, b'0' + (n % 10) as u8]);
}

/// Writes into a fixed buffer, cutting what does not fit: formatting a line allocates
/// nothing.
pub struct Cursor<'a> {
    buf: &'a mut [u8],
    len: usize,
    limit: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a mut [u8]) -> Cursor<'a> {
        let limit = buf.len();
        Cursor { buf, len: 0, limit }
    }

    pub fn put(&mut self, bytes: &[u8]) {
        let room = self.limit.saturating_sub(self.len);
        let n = bytes.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
    }

    /// A whole number in decimal.
    pub fn num(&mut self, mut n: u64) {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        loop {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.put(&digits[at..]);
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn written(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    fn line(s: &Sample, bps: f64, secs: u64, width: usize, done: bool) -> String {
        let mut buf = [0u8; 256];
        let mut w = Cursor::new(&mut buf);
        render(&mut w, s, bps, Duration::from_secs(secs), width, done);
        String::from_utf8(w.written().to_vec()).unwrap()
    }

    fn sample(sent: u64, total: Option<u64>, parts: (u32, Option<u32>)) -> Sample {
        Sample {
            sent,
            resumed: 0,
            total,
            parts_done: parts.0,
            parts_total: parts.1,
        }
    }

    #[test]
    fn a_multipart_line_has_bytes_percent_rate_eta_and_parts() {
        let s = sample(12 * MIB, Some(1024 * MIB), (1, Some(128)));
        assert_eq!(
            line(&s, 4.0 * MIB as f64, 3, 200, false),
            "12.0 MiB / 1.00 GiB  1%  4.00 MiB/s  ETA 4:13  parts 1/128"
        );
        assert_eq!(
            line(&s, 4.0 * MIB as f64, 300, 200, true),
            "12.0 MiB / 1.00 GiB  1%  4.00 MiB/s  in 5:00  parts 1/128"
        );
    }

    #[test]
    fn a_stream_of_unknown_size_has_no_percent_or_eta() {
        let s = sample(3 * MIB + 512, None, (0, None));
        assert_eq!(line(&s, 1000.0, 1, 200, false), "3.00 MiB  1000 B/s");
        let s = sample(700, None, (2, None));
        assert_eq!(line(&s, 0.0, 1, 200, false), "700 B  0 B/s  parts 2");
    }

    #[test]
    fn lines_are_cut_to_the_width() {
        let s = sample(12 * MIB, Some(1024 * MIB), (1, Some(128)));
        assert_eq!(
            line(&s, 4.0 * MIB as f64, 3, 18, false),
            "12.0 MiB / 1.00 Gi"
        );
        let s = sample(0, Some(0), (0, None));
        assert_eq!(line(&s, 0.0, 0, 200, false), "0 B / 0 B  100%  0 B/s");
    }

    #[test]
    fn sizes_keep_three_digits() {
        let text = |b: u64| {
            let mut buf = [0u8; 32];
            let mut w = Cursor::new(&mut buf);
            size(&mut w, b);
            String::from_utf8(w.written().to_vec()).unwrap()
        };
        assert_eq!(text(0), "0 B");
        assert_eq!(text(1023), "1023 B");
        assert_eq!(text(1024), "1.00 KiB");
        assert_eq!(text(1536 * 1024), "1.50 MiB");
        assert_eq!(text(100 * MIB), "100 MiB");
        assert_eq!(text(1023 * MIB), "1023 MiB");
        assert_eq!(text(5 * 1024 * 1024 * MIB), "5.00 TiB");
        assert_eq!(text(u64::MAX), "16384 PiB");
    }

    #[test]
    fn a_retried_attempt_is_taken_back() {
        let meter = Meter::new();
        {
            let mut failed = meter.attempt();
            failed.add(5000);
            assert_eq!(meter.sample().sent, 5000);
        }
        assert_eq!(meter.sample().sent, 0);
        let mut ok = meter.attempt();
        ok.add(4000);
        ok.confirm();
        drop(ok);
        meter.already_stored(2, 1000);
        let s = meter.sample();
        assert_eq!((s.sent, s.resumed, s.parts_done), (5000, 1000, 2));
    }

    #[test]
    fn style_follows_flags_and_terminal() {
        let d = Style::decide;
        assert_eq!(d(false, None, 0, true, None), Style::Live { width: 80 });
        assert_eq!(
            d(false, None, 0, true, Some("132")),
            Style::Live { width: 132 }
        );
        assert_eq!(
            d(false, None, 0, true, Some("junk")),
            Style::Live { width: 80 }
        );
        assert_eq!(d(false, None, 0, false, None), Style::Off);
        assert_eq!(d(false, Some(true), 0, false, None), Style::Log);
        assert_eq!(d(true, Some(true), 0, true, None), Style::Off);
        assert_eq!(d(false, Some(false), 0, true, None), Style::Off);
        assert_eq!(d(false, None, 1, true, None), Style::Off);
        assert_eq!(
            d(false, Some(true), 1, true, None),
            Style::Live { width: 80 }
        );
    }

    #[test]
    fn the_rate_is_a_recent_mean() {
        let t0 = Instant::now();
        let mut r = Rate::new(t0);
        let at = |ms| t0 + Duration::from_millis(ms);
        assert_eq!(r.update(at(1000), MIB), MIB as f64);
        r.update(at(2000), 2 * MIB);
        r.update(at(3000), 3 * MIB);
        r.update(at(4000), 4 * MIB);
        // The window moved past the start: 11 MiB in the last three seconds.
        let bps = r.update(at(5000), 13 * MIB);
        assert!((bps - 11.0 / 3.0 * MIB as f64).abs() < 1.0, "{bps}");
        // Samples further apart than the window: the one before counts.
        let bps = r.update(at(15_000), 23 * MIB);
        assert!((bps - MIB as f64).abs() < 1.0, "{bps}");
    }
}
