//! SIGINT and SIGTERM: the first one asks the upload to stop where it stands (the copy
//! loops check between 8 KiB blocks), so the multipart policy can run; a second one ends
//! the process with 130, but only after it has said which upload it leaves on the store
//! and how to resume or discard it. Signals are taken on a thread of their own (nothing
//! can be written from inside a handler in safe Rust): GNU `timeout` signals the child,
//! then its group, and the second signal must not lose the upload id.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, Once};

/// The number of the signal that asked to stop; 0 while none has.
static SIGNAL: AtomicUsize = AtomicUsize::new(0);
/// Set while cleaning up after a stop (aborting a multipart upload): that work must not
/// be stopped by the signal that caused it.
static CLEANING: AtomicBool = AtomicBool::new(false);
/// What a second signal says before it ends the process: the multipart upload on the
/// store, and the commands that resume or discard it.
static PENDING: Mutex<Option<String>> = Mutex::new(None);

/// Starts the thread that takes the signals. Where it cannot start (no socket pair, no
/// thread), the signals are handled as before it: the first asks to stop, the second
/// ends the process at once, without a word.
pub fn install() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        use signal_hook::consts::{SIGINT, SIGTERM};
        if !take_on_a_thread() {
            static ARMED: AtomicBool = AtomicBool::new(false);
            for signal in [SIGINT, SIGTERM] {
                let _ = signal_hook::flag::register_conditional_shutdown(signal, 130, &ARMED);
                let _ = signal_hook::flag::register(signal, &ARMED);
            }
        }
        // The stop is marked inside the handler itself, before any system call it cut
        // short (EINTR) is looked at.
        for signal in [SIGINT, SIGTERM] {
            let number = usize::try_from(signal).unwrap_or(2);
            let _ = signal_hook::flag::register_usize(signal, &SIGNAL, number);
        }
    });
}

/// Each signal writes one byte into a socket pair (no two are merged), read by a thread
/// of its own: the second byte is the second signal. False when that cannot be set up.
fn take_on_a_thread() -> bool {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use std::os::fd::AsFd;
    let Ok((mut taken, given)) = std::os::unix::net::UnixStream::pair() else {
        return false;
    };
    // Its own descriptor of stderr: no lock another thread may hold while it blocks.
    let Ok(err) = std::io::stderr().as_fd().try_clone_to_owned() else {
        return false;
    };
    let mut err = std::fs::File::from(err);
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            use std::io::Read;
            let mut seen = 0usize;
            let mut byte = [0u8; 1];
            loop {
                match taken.read(&mut byte) {
                    Ok(0) => return,
                    Ok(_) => seen += 1,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => return,
                }
                if seen >= 2 {
                    second_signal(&mut err);
                }
            }
        });
    if spawned.is_err() {
        return false;
    }
    for signal in [SIGINT, SIGTERM] {
        let Ok(end) = given.try_clone() else {
            return false;
        };
        if signal_hook::low_level::pipe::register(signal, end).is_err() {
            return false;
        }
    }
    true
}

/// The second signal: say what is left on the store, then end the process.
fn second_signal(err: &mut std::fs::File) -> ! {
    let pending = PENDING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    if let Some(note) = pending {
        let line = format!("s3push: interrupted: {note}\n");
        let _ = err.write_all(crate::report::progress::clear_prefix());
        let _ = err.write_all(line.as_bytes());
    }
    std::process::exit(130);
}

/// While a multipart upload is on the store: what a second signal says of it (its id, and
/// how to resume or discard it); None once it is completed or aborted.
pub fn pending_upload(note: Option<String>) {
    *PENDING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = note;
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
