//! `--limit-rate`: one cap on the body bytes the whole process sends per second, shared
//! by every part in flight (one schedule, not one per connection). Each block read to be
//! sent (at most the 8 KiB buffer) takes the next slot of the schedule and waits for it,
//! asleep: no CPU while waiting, and no burst beyond one block, since time that passed
//! with nothing to send is not saved up.

use crate::interrupt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Bytes per second; 0 for no cap.
static RATE: AtomicU64 = AtomicU64::new(0);
/// When the next block may go.
static NEXT: Mutex<Option<Instant>> = Mutex::new(None);
/// A sleep wakes this often to look for a stop.
const TICK: Duration = Duration::from_millis(100);

/// Sets the cap for the rest of the run (None: no cap).
pub fn set(bytes_per_second: Option<u64>) {
    RATE.store(bytes_per_second.unwrap_or(0), Ordering::SeqCst);
}

/// Whether a cap is set.
pub fn capped() -> bool {
    RATE.load(Ordering::Relaxed) != 0
}

/// Waits until `n` more bytes may be sent under the cap; an error when a stop is asked
/// for meanwhile (a signal, or `cancel` set by a failed sibling part).
pub fn take(n: usize, cancel: Option<&AtomicBool>) -> std::io::Result<()> {
    let rate = RATE.load(Ordering::Relaxed);
    if rate == 0 || n == 0 {
        return Ok(());
    }
    let now = Instant::now();
    let start = {
        let mut next = NEXT
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let start = next.filter(|&t| t > now).unwrap_or(now);
        let length = Duration::from_secs_f64(n as f64 / rate as f64);
        *next = Some(start + length);
        start
    };
    while let Some(left) = start.checked_duration_since(Instant::now()) {
        if left.is_zero() {
            break;
        }
        if interrupt::should_stop(cancel) {
            return Err(interrupt::stopped_error());
        }
        std::thread::sleep(left.min(TICK));
    }
    Ok(())
}
