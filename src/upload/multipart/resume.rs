//! `--resume` and `--abort`: the pending upload found (journal, `--upload-id` or
//! ListMultipartUploads), and the parts the store holds intact.

use super::super::call;
use super::super::exchange::{self, Body, FileSpan};
use super::super::journal::{self, FileIdentity};
use super::super::single::tls_for;
use super::super::Outcome;
use super::failure::{announce, shell_word};
use super::{abort, etag_md5, hex, Layout, PartDone, Session};
use crate::checksum::Algorithm;
use crate::config::{MAX_PARTS, MIN_PART};
use crate::error::Error;
use crate::s3;
use crate::upload::wire::Wire;
use std::fs::File;
use std::path::Path;
use std::time::Instant;

/// The pending upload to resume: from the journal (the file must be as it was), from
/// `--upload-id`, or from ListMultipartUploads; then the parts the store holds intact.
pub(super) fn find_pending(
    wire: &Wire,
    file: &File,
    size: u64,
    identity: &FileIdentity,
    journal_path: &Path,
) -> Result<(Session, Layout, Vec<Option<PartDone>>), Error> {
    let path = &wire.source;
    let entry = journal::load(journal_path)?;
    let (upload_id, part_size) = match (&wire.multipart.upload_id, &entry) {
        (Some(id), entry) => {
            let part = entry
                .as_ref()
                .filter(|e| &e.upload_id == id)
                .map(|e| e.part_size)
                .or(wire.multipart.part_size);
            (id.clone(), part)
        }
        (None, Some(entry)) => {
            if !entry.matches_file(identity) {
                return Err(Error::LocalFile(format!(
                    "{} changed since upload {} was interrupted (its size or modification time differs), so it cannot \
                     be resumed: discard that upload with `s3push --abort --upload-id {} {}` and upload again",
                    path.display(),
                    entry.upload_id,
                    shell_word(&entry.upload_id),
                    wire.url()
                )));
            }
            (entry.upload_id.clone(), Some(entry.part_size))
        }
        (None, None) => (list_pending(wire)?, wire.multipart.part_size),
    };
    let mut session = Session {
        wire: wire.clone(),
        tls: tls_for(wire)?,
        upload_id: upload_id.clone(),
    };
    announce(&session);
    let (listed, listed_algorithm) = list_parts(&session).map_err(|e| match &e {
        Error::Refused(r) if r.code.as_deref() == Some("NoSuchUpload") => {
            let _ = journal::remove(journal_path);
            Error::LocalFile(format!(
                "upload {upload_id} of {} no longer exists (completed or aborted): upload again without --resume",
                wire.url()
            ))
        }
        _ => e,
    })?;
    // The parts go on with the checksum the upload was created with (a store refuses
    // another one at Complete): the journal's, else the one ListParts names or its parts
    // carry, else none where parts were listed without one.
    let journaled = entry
        .as_ref()
        .filter(|e| e.upload_id == upload_id)
        .and_then(|e| e.checksum.as_deref())
        .map(Algorithm::parse);
    let listed_sum = listed_algorithm
        .as_deref()
        .and_then(Algorithm::parse)
        .or_else(|| {
            listed.iter().find_map(|p| {
                let (name, _) = p.checksums.first()?;
                Algorithm::ALL.into_iter().find(|a| a.xml_element() == name)
            })
        })
        .map(Some)
        .or_else(|| (!listed.is_empty()).then_some(None));
    if let Some(algorithm) = journaled.or(listed_sum) {
        if !wire.checksum_named && algorithm != session.wire.checksum {
            session.wire.checksum = algorithm;
            session.wire.verify_etag |= algorithm.is_none();
        }
    }
    // Without a journal, the parts show the size they were cut to.
    let part_size = part_size.or_else(|| {
        listed
            .iter()
            .find(|p| p.number == 1)
            .map(|p| p.size)
            .filter(|&s| s >= MIN_PART)
    });
    let layout = Layout::for_size(size, part_size)?;
    let mut done = vec![None; layout.parts as usize];
    // What the store confirmed for each part: the ETag it lists now, else the MD5 it
    // confirmed when the part was stored (recorded in the journal of this upload).
    let confirmed = |number: u32, etag: &str| {
        etag_md5(etag).or_else(|| {
            entry
                .as_ref()
                .filter(|e| e.upload_id == upload_id)
                .and_then(|e| e.confirmed_md5(number))
        })
    };
    for part in listed {
        if part.number == 0 || part.number > layout.parts {
            continue;
        }
        let (offset, len) = layout.span(part.number);
        let (Some(theirs), true) = (confirmed(part.number, &part.etag), part.size == len) else {
            continue;
        };
        let body = Body::File(FileSpan {
            file,
            offset,
            len,
            path,
            stamp: None,
        });
        let local = exchange::prepass(body, false, session.wire.checksum, true)?;
        let ours = local.md5.unwrap_or_default();
        if ours == theirs {
            let etag = if part.etag.is_empty() {
                format!("\"{}\"", hex(&ours))
            } else {
                part.etag
            };
            done[part.number as usize - 1] = Some(PartDone {
                etag,
                md5: Some(ours),
                checksum: local.checksum.map(|d| d.to_base64()),
                len,
            });
        }
    }
    Ok((session, layout, done))
}

/// Every part the store lists for the upload (ListParts, page after page), and the
/// upload's checksum algorithm where the store names it.
fn list_parts(session: &Session) -> Result<(Vec<s3::PartInfo>, Option<String>), Error> {
    let mut parts = Vec::new();
    let mut algorithm = None;
    let mut marker: Option<u32> = None;
    // 10,000 parts at 1,000 a page: a store that pages forever is cut short.
    for _ in 0..=MAX_PARTS / 1000 + 1 {
        let request = s3::ListParts {
            upload_id: &session.upload_id,
            marker,
        }
        .request();
        let answer = call::send(&session.wire, session.tls.as_ref(), request)?;
        let page = s3::ListParts::page(&answer.response.head, &answer.response.body)?;
        parts.extend(page.parts);
        algorithm = algorithm.or(page.algorithm);
        match (page.truncated, page.next_marker) {
            (true, Some(next)) if Some(next) != marker => marker = Some(next),
            _ => return Ok((parts, algorithm)),
        }
    }
    Ok((parts, algorithm))
}

/// The one pending upload of the plan's key (ListMultipartUploads), for a resume with
/// neither journal nor `--upload-id`.
fn list_pending(plan: &Wire) -> Result<String, Error> {
    let tls = tls_for(plan)?;
    let cannot_list = |why: String| {
        Error::Usage(format!(
            "no journal of an upload of {} to {} on this host, and {why}: pass --upload-id ID",
            plan.source.display(),
            plan.url()
        ))
    };
    let request = s3::ListMultipartUploads { prefix: &plan.key }.request();
    let answer = call::send(plan, tls.as_ref(), request)
        .map_err(|e| cannot_list(format!("the store did not list its pending uploads ({e})")))?;
    let page = s3::ListMultipartUploads::page(&answer.response.head, &answer.response.body)
        .map_err(|_| cannot_list("the store's list of pending uploads was unreadable".into()))?;
    let mut ids: Vec<String> = page
        .uploads
        .into_iter()
        .filter(|u| u.key == plan.key)
        .map(|u| u.upload_id)
        .collect();
    match ids.len() {
        0 => Err(Error::Usage(format!(
            "no pending multipart upload of {} to resume: upload it without --resume",
            plan.url()
        ))),
        1 => Ok(ids.remove(0)),
        n => Err(Error::Usage(format!(
            "{n} pending uploads of {}: choose one with --upload-id ({})",
            plan.url(),
            ids.join(", ")
        ))),
    }
}

/// `s3push --abort`: the upload named by --upload-id, or by the journal of FILE.
pub fn abort_command(wire: &Wire) -> Result<Outcome, Error> {
    let started = Instant::now();
    let journal_path = if wire.source.as_os_str().is_empty() {
        None
    } else {
        Some(journal::path_for(
            &wire.multipart.state_env,
            &wire.endpoint.url(),
            &wire.bucket,
            &wire.key,
            &wire.source,
        )?)
    };
    let from_journal = match &journal_path {
        Some(p) => journal::load(p)?.map(|e| e.upload_id),
        None => None,
    };
    let upload_id = wire
        .multipart
        .upload_id
        .clone()
        .or(from_journal)
        .ok_or_else(|| {
            Error::Usage(format!(
                "which upload of {} to abort? pass --upload-id ID (no journal of one on this host)",
                wire.url()
            ))
        })?;
    let session = Session {
        wire: wire.clone(),
        tls: tls_for(wire)?,
        upload_id: upload_id.clone(),
    };
    abort(&session)?;
    if let Some(p) = &journal_path {
        let _ = journal::remove(p);
    }
    Ok(Outcome {
        aborted: Some(upload_id),
        ..Outcome::of(wire, 0, started.elapsed())
    })
}
