//! Parts sent over several connections at once, each part read by position.

use super::super::exchange::{Body, Slot};
use super::super::journal;
use super::{etag_md5, lock, send_part, PartDone, Session};
use crate::error::Error;
use crate::interrupt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Sends the parts numbered in `todo` over up to `jobs` connections (the first one the
/// connection kept in `kept`, if any); the first failure stops the others. Results go
/// into `table` (index = part number - 1).
pub fn send_parts<'a>(
    session: &Session,
    todo: &[u32],
    table: &Mutex<Vec<Option<PartDone>>>,
    journal_path: Option<&Path>,
    body_of: impl Fn(u32) -> Body<'a> + Sync,
    kept: Slot,
) -> Result<(), Error> {
    let next = AtomicUsize::new(0);
    let failure = FirstFailure::default();
    let workers = (session.wire.multipart.jobs as usize).min(todo.len());
    let kept = Mutex::new(kept);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                let mut slot: Slot = lock(&kept).take();
                while !interrupt::should_stop(Some(&failure.cancel)) {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(&number) = todo.get(i) else { break };
                    let sent =
                        send_part(session, number, body_of(number), &failure.cancel, &mut slot);
                    match sent {
                        Ok(done) => part_stored(table, journal_path, number, done),
                        Err(e) => {
                            failure.record(e);
                            break;
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = failure.take() {
        return Err(e);
    }
    if interrupt::requested().is_some() {
        return Err(crate::upload::exchange::stopped());
    }
    Ok(())
}

/// The first failure among parts sent at once: it stops the others (`cancel`), and a
/// sibling stopped by it does not hide its cause.
#[derive(Default)]
pub struct FirstFailure {
    pub cancel: AtomicBool,
    error: Mutex<Option<Error>>,
}

impl FirstFailure {
    pub fn record(&self, e: Error) {
        let mut first = lock(&self.error);
        let stopped_by_sibling =
            self.cancel.load(Ordering::SeqCst) && matches!(e, Error::Interrupted(_));
        if first.is_none() && !stopped_by_sibling {
            *first = Some(e);
        }
        self.cancel.store(true, Ordering::SeqCst);
    }

    pub fn take(&self) -> Option<Error> {
        lock(&self.error).take()
    }
}

/// Records a part the store confirmed: in the table, the journal and the meter.
pub(super) fn part_stored(
    table: &Mutex<Vec<Option<PartDone>>>,
    journal_path: Option<&Path>,
    number: u32,
    done: PartDone,
) {
    if let (Some(j), Some(md5)) = (journal_path, etag_md5(&done.etag)) {
        // Without the record, a resume re-checks this part by its ETag where the store
        // lists one (it re-sends it where not).
        let _ = journal::record_part(j, number, &md5);
    }
    if let Some(entry) = lock(table).get_mut(number as usize - 1) {
        *entry = Some(done);
    }
    crate::upload::meter().part_done();
}
