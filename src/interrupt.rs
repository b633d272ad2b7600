//! SIGINT and SIGTERM: the first one asks the upload to stop where it stands (the copy
//! loops check between 8 KiB blocks), so the multipart policy can run; a second one ends
//! the process at once with 130.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The number of the signal that asked to stop; 0 while none has.
static SIGNAL: AtomicUsize = AtomicUsize::new(0);
/// Armed by the first signal: the second one exits without waiting.
static ARMED: AtomicBool = AtomicBool::new(false);
/// Set while cleaning up after a stop (aborting a multipart upload): that work must not
/// be stopped by the signal that caused it.
static CLEANING: AtomicBool = AtomicBool::new(false);

/// Installs the handlers. A failure leaves the default action (the process dies), which
/// loses no data either: a kept multipart upload can still be resumed.
pub fn install() {
    use signal_hook::consts::{SIGINT, SIGTERM};
    for signal in [SIGINT, SIGTERM] {
        // The shutdown goes first: on the second signal ARMED is already set.
        let _ = signal_hook::flag::register_conditional_shutdown(signal, 130, &ARMED);
        let _ = signal_hook::flag::register_usize(signal, &SIGNAL, signal as usize);
        let _ = signal_hook::flag::register(signal, &ARMED);
    }
}

/// The signal's name when one asked to stop.
pub fn requested() -> Option<&'static str> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        15 => Some("SIGTERM"),
        _ => Some("SIGINT"),
    }
}

/// Marks an I/O error raised because a stop was asked for (a signal, or a failed part
/// that stops its siblings), so the copy loops can tell it from a disk or network error.
#[derive(Debug)]
pub struct Stopped;

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("stopped")
    }
}

impl std::error::Error for Stopped {}

/// From now on a signal no longer stops the work (a second one still ends the process).
pub fn begin_cleanup() {
    CLEANING.store(true, Ordering::SeqCst);
}

/// Whether a signal asks the work in hand to stop (not while cleaning up).
pub fn stop_requested() -> bool {
    requested().is_some() && !CLEANING.load(Ordering::SeqCst)
}

/// Whether this upload should stop: a signal, or `cancel` set by a failed sibling.
pub fn should_stop(cancel: Option<&AtomicBool>) -> bool {
    stop_requested() || cancel.is_some_and(|c| c.load(Ordering::Relaxed))
}

/// The error a stopped copy returns.
pub fn stopped_error() -> std::io::Error {
    std::io::Error::other(Stopped)
}
