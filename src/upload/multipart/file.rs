//! A file uploaded in parts: a new upload journaled for `--resume`, or a pending one
//! resumed; the first part alone, the others over several connections, then Complete.

use super::super::condition::condition_holds_now;
use super::super::exchange::{self, Body, FileSpan, FileStamp, Slot};
use super::super::journal::{self, Entry, FileIdentity};
use super::super::Outcome;
use super::pool::{part_stored, send_parts};
use super::resume::find_pending;
use super::{
    complete, create, fail, lock, outcome, send_first_part, verify_object, Layout, PartDone,
    Session,
};
use crate::error::Error;
use crate::report;
use crate::upload::wire::Wire;
use std::fs::File;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Uploads a file in parts, or resumes its pending upload with `--resume`.
pub fn upload_file(
    plan: &Wire,
    file: &File,
    size: u64,
    stamp: FileStamp,
) -> Result<Outcome, Error> {
    let started = Instant::now();
    let path = plan.source.as_path();
    let journal_path = journal::path_for(
        &plan.multipart.state_env,
        &plan.endpoint.url(),
        &plan.bucket,
        &plan.key,
        path,
    )?;
    // Held to the end: a second run on the same journal refuses to start.
    let _lock = journal::lock(
        &journal_path,
        &format!("{} to {}", path.display(), plan.url()),
    )?;
    let identity = FileIdentity::of(
        &file
            .metadata()
            .map_err(|e| Error::LocalFile(format!("cannot stat {}: {e}", path.display())))?,
    );
    let fresh = !plan.multipart.resume;
    let (mut session, layout, done) = if plan.multipart.resume {
        let (session, layout, done) = find_pending(plan, file, size, &identity, &journal_path)?;
        let stored = done.iter().filter(|d| d.is_some()).count();
        report::note(
            plan.quiet,
            &format!(
                "resuming upload {} of {}: {stored} of {} parts already stored, sending {}",
                session.upload_id,
                plan.url(),
                layout.parts,
                layout.parts as usize - stored
            ),
        );
        (session, layout, done)
    } else {
        let layout = Layout::for_size(size, plan.multipart.part_size)?;
        condition_holds_now(plan)?;
        let session = create(plan)?;
        save_journal(&journal_path, &session, &identity, layout);
        (session, layout, vec![None; layout.parts as usize])
    };
    let meter = crate::upload::meter();
    meter.set_total(size);
    meter.set_parts(layout.parts);
    let (held, held_bytes) = done
        .iter()
        .flatten()
        .fold((0u32, 0u64), |(n, bytes), d| (n + 1, bytes + d.len));
    meter.already_stored(held, held_bytes);
    let table = Mutex::new(done);
    let todo: Vec<u32> = lock(&table)
        .iter()
        .enumerate()
        .filter(|(_, d)| d.is_none())
        .map(|(i, _)| u32::try_from(i + 1).unwrap_or(u32::MAX))
        .collect();
    let body_of = |number| {
        let (offset, len) = layout.span(number);
        Body::File(FileSpan {
            file,
            offset,
            len,
            path,
            stamp: Some(stamp),
        })
    };
    let mut slot: Slot = None;
    let first = match todo.split_first() {
        Some((&number, _)) => {
            let id = session.upload_id.clone();
            let first = send_first_part(&mut session, number, body_of(number), fresh, &mut slot);
            if session.upload_id != id {
                // Created again in another mode: the journal names the new upload.
                save_journal(&journal_path, &session, &identity, layout);
            }
            first.map(|done| part_stored(&table, Some(&journal_path), number, done))
        }
        None => Ok(()),
    };
    let sent = first
        .and_then(|()| {
            send_parts(
                &session,
                todo.get(1..).unwrap_or_default(),
                &table,
                Some(&journal_path),
                body_of,
                slot,
            )
        })
        .and_then(|()| {
            // The last look before the object is made whole.
            if exchange::stamp_of(file, path)? != stamp {
                return Err(crate::upload::exchange::changed_during_upload(path));
            }
            let parts: Vec<PartDone> = lock(&table).iter().flatten().cloned().collect();
            complete(&session, &parts).map(|completed| (completed, parts))
        });
    match sent {
        Ok(((response, confirmed), parts)) => {
            // A journal left behind would only point at a finished upload.
            let _ = journal::remove(&journal_path);
            if !confirmed {
                verify_object(&session, &parts, &response, Some(&body_of))?;
            }
            Ok(outcome(plan, &response, size, &parts, started))
        }
        Err(e) => {
            let stored = lock(&table).iter().flatten().count();
            Err(fail(
                &session,
                e,
                Some(&journal_path),
                size,
                stored,
                layout.parts,
            ))
        }
    }
}

/// Writes the journal of a new upload, so that an interrupted one can be resumed.
fn save_journal(journal_path: &Path, session: &Session, identity: &FileIdentity, layout: Layout) {
    let plan = &session.wire;
    let entry = Entry {
        endpoint: plan.endpoint.url(),
        bucket: plan.bucket.clone(),
        key: plan.key.clone(),
        file: *identity,
        path: plan.source.display().to_string(),
        upload_id: session.upload_id.clone(),
        part_size: layout.part_size,
        parts: layout.parts,
        // "none" too: a resume must not add a checksum the upload was created without.
        checksum: Some(
            plan.checksum
                .map_or("none", crate::checksum::Algorithm::api_name)
                .to_string(),
        ),
        created_unix: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        done: Vec::new(),
    };
    if let Err(e) = journal::save(journal_path, &entry) {
        // Without a journal the upload can still be resumed by --upload-id.
        report::warning(&format!(
            "{e}; --resume will need --upload-id {}",
            session.upload_id
        ));
    }
}
