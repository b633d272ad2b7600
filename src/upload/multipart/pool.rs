//! Parts sent over several connections at once, each part read by position.

use super::super::exchange::{Body, Slot};
use super::super::journal;
use super::{etag_md5, lock, send_part, PartDone, Session};
use crate::interrupt;
use crate::Error;
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
    let cancel = AtomicBool::new(false);
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    let workers = (session.plan.multipart.jobs as usize).min(todo.len());
    let kept = Mutex::new(kept);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                let mut slot: Slot = lock(&kept).take();
                while !interrupt::should_stop(Some(&cancel)) {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(&number) = todo.get(i) else { break };
                    match send_part(session, number, body_of(number), &cancel, &mut slot) {
                        Ok(done) => part_stored(table, journal_path, number, done),
                        Err(e) => {
                            let mut first = lock(&first_error);
                            // A sibling stopped by this failure does not hide its cause.
                            if first.is_none()
                                && !(cancel.load(Ordering::SeqCst)
                                    && matches!(e, Error::Interrupted(_)))
                            {
                                *first = Some(e);
                            }
                            cancel.store(true, Ordering::SeqCst);
                            break;
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = lock(&first_error).take() {
        return Err(e);
    }
    if interrupt::requested().is_some() {
        return Err(crate::transport::stopped());
    }
    Ok(())
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
