//! Multipart uploads: CreateMultipartUpload, the parts (several at once, each read by
//! position through its own 8 KiB buffer), CompleteMultipartUpload, and the check that
//! the store holds what was sent. A failure aborts the upload or keeps it, journaled,
//! for `--resume`, which sends only the parts the store does not hold intact.
//!
//! Here: the session's calls (create, send a part, complete, abort). `file` uploads a
//! file in parts, `pool` sends parts over several connections, `resume` finds a pending
//! upload and what it holds, `verify` confirms the completed object, `failure` is the
//! policy that aborts or keeps a failed upload, and the commands it names.

mod failure;
mod file;
mod pool;
mod resume;
mod verify;

pub use failure::fail;
pub use file::upload_file;
pub use pool::{send_parts, FirstFailure};
pub use resume::abort_command;
pub(crate) use verify::unquote;
pub use verify::{etag_md5, hex, multipart_etag, object_checksum, verify_object};

use super::exchange::{self, Body, Slot};
use super::single::tls_for;
use super::{adapt, call, confirm, retry, Outcome};
use crate::config::{Condition, MAX_PART, MAX_PARTS, MIN_PART};
use crate::error::Error;
use crate::interrupt;
use crate::s3;
use crate::transport::Response;
use crate::upload::wire::Wire;
use rustls::ClientConfig;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// The default part size: aws-cli's 8 MiB, grown when an object needs more than 10,000.
pub const DEFAULT_PART: u64 = crate::config::memory::DEFAULT_PART;
/// The least wait for CompleteMultipartUpload's answer.
pub const COMPLETE_WAIT: std::time::Duration = std::time::Duration::from_secs(600);
/// Files from this size keep a failed upload for `--resume` unless told otherwise.
pub const KEEP_FROM: u64 = 1024 * 1024 * 1024;

/// How a file of known size is cut into parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub size: u64,
    pub part_size: u64,
    pub parts: u32,
}

impl Layout {
    /// Parts of `requested` size, or the smallest of 8 MiB and whole MiB that keeps the
    /// object within 10,000 parts. A size S3 would refuse is a usage error.
    pub fn for_size(size: u64, requested: Option<u64>) -> Result<Layout, Error> {
        let part_size = match requested {
            Some(part) => part,
            None => {
                let needed = size.div_ceil(MAX_PARTS).next_multiple_of(1024 * 1024);
                needed.max(DEFAULT_PART)
            }
        };
        if !(MIN_PART..=MAX_PART).contains(&part_size) {
            return Err(Error::Usage(format!(
                "part size {part_size}: S3 takes parts from 5 MiB to 5 GiB"
            )));
        }
        let parts = size.div_ceil(part_size).max(1);
        if parts > MAX_PARTS {
            let least = size.div_ceil(MAX_PARTS).next_multiple_of(1024 * 1024);
            return Err(Error::Usage(format!(
                "--part-size {part_size} cuts {size} bytes into {parts} parts, over S3's 10,000: use --part-size {}M or more",
                least >> 20
            )));
        }
        Ok(Layout {
            size,
            part_size,
            parts: u32::try_from(parts).unwrap_or(u32::MAX),
        })
    }

    /// Offset and length of part `number` (1-based).
    pub fn span(&self, number: u32) -> (u64, u64) {
        let offset = u64::from(number.saturating_sub(1)) * self.part_size;
        (offset, self.part_size.min(self.size.saturating_sub(offset)))
    }
}

/// A part the store holds: its ETag, the MD5 of what was sent when computed, its
/// checksum (base64) when one is on, and its length (to combine CRCs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartDone {
    pub etag: String,
    pub md5: Option<[u8; 16]>,
    pub checksum: Option<String>,
    pub len: u64,
}

/// One multipart upload in progress.
pub struct Session {
    /// The job's wire, with what the create call learnt (region, clock skew).
    pub wire: Wire,
    pub tls: Option<Arc<ClientConfig>>,
    pub upload_id: String,
}

/// Starts a multipart upload with the object's headers; the session's wire keeps the
/// corrections the store asked for.
pub fn create(wire: &Wire) -> Result<Session, Error> {
    let mut wire = adapt::apply_multipart(wire);
    let tls = tls_for(&wire)?;
    let request = s3::CreateMultipartUpload {
        headers: super::request::object_headers(&wire),
        checksum: wire.checksum,
    }
    .request();
    let answer = call::send_adjusting(&mut wire, tls.as_ref(), request)?;
    let (head, body) = (&answer.response.head, &answer.response.body);
    let session = Session {
        upload_id: s3::CreateMultipartUpload::upload_id(head, body)?,
        wire,
        tls,
    };
    failure::announce(&session);
    Ok(session)
}

/// Sends part `number` and confirms it (upload::confirm): the checksum echoed, or the
/// store's ETag against the MD5 of what went out.
pub fn send_part(
    session: &Session,
    number: u32,
    body: Body<'_>,
    cancel: &AtomicBool,
    slot: &mut Slot,
) -> Result<PartDone, Error> {
    let plan = &session.wire;
    let integrity = exchange::prepare(plan, body)?;
    let request = s3::UploadPart {
        upload_id: &session.upload_id,
        number,
        content_md5: integrity.content_md5.clone(),
    }
    .request();
    let meter = super::meter();
    let call = call::payload(plan, request, body, &integrity, &meter, Some(cancel));
    let answer = retry::run(plan, |plan, attempt| {
        exchange::exchange(plan, attempt, &call, session.tls.as_ref(), slot)
    })?;
    let etag = s3::UploadPart::etag(&answer.response.head)?;
    let md5 = confirm::part(plan, number, body, &answer, answer.md5.or(integrity.md5))?;
    Ok(PartDone {
        etag,
        md5,
        checksum: answer.checksum,
        len: body.len(),
    })
}

/// Sends part `number` before any other, so that what it shows of the store (a way of
/// sending refused, no checksum kept) holds for every part after it (upload::adapt).
/// Where the store refused the checksum that CreateMultipartUpload declared, a new upload
/// (`fresh`) is aborted and created again without it, rather than mixing modes; a resumed
/// one keeps its parts, and the refusal stands.
pub fn send_first_part(
    session: &mut Session,
    number: u32,
    body: Body<'_>,
    fresh: bool,
    slot: &mut Slot,
) -> Result<PartDone, Error> {
    let cancel = AtomicBool::new(false);
    loop {
        let trailer = exchange::uses_trailer(&session.wire, body);
        match send_part(session, number, body, &cancel, slot) {
            Err(e) if adapt::learn_from_refusal(&session.wire, &e, trailer) => {
                super::meter().retried();
                let next = adapt::apply(&session.wire);
                if next.checksum == session.wire.checksum {
                    session.wire = next;
                    continue;
                }
                if !fresh {
                    return Err(e);
                }
                abort(session)?;
                match create(&next) {
                    Ok(created) => *session = created,
                    Err(e) => {
                        // Nothing is left: the failure must not name the aborted upload.
                        session.upload_id.clear();
                        return Err(e.with_note(
                            "the first upload was aborted to change its checksum mode: nothing is left on the server",
                        ));
                    }
                }
            }
            Ok(done) => {
                // What this part showed holds for the parts after it (the algorithm
                // declared at Create stays): a part of standard input whose MD5 had to
                // be computed (no checksum echoed) means the ETag check for every part.
                let learned = adapt::apply(&session.wire);
                session.wire.verify_etag =
                    learned.verify_etag || (session.wire.from_stdin() && done.md5.is_some());
                session.wire.checksum_trailer = learned.checksum_trailer;
                return Ok(done);
            }
            Err(e) => return Err(e),
        }
    }
}

/// Completes the upload from its parts (in order). Returns the store's answer, and
/// whether it is already confirmed (a lost answer settled by a HEAD); else it is for
/// `verify_object` to confirm.
pub fn complete(session: &Session, parts: &[PartDone]) -> Result<(Response, bool), Error> {
    let wire = &session.wire;
    let listed: Vec<s3::CompletedPart<'_>> = parts
        .iter()
        .map(|p| s3::CompletedPart {
            etag: &p.etag,
            checksum: p.checksum.as_deref(),
        })
        .collect();
    // S3 takes If-None-Match and If-Match on CompleteMultipartUpload: the object appears
    // (or not) at this call, so the condition is checked here.
    let request = |condition: Option<&Condition>| {
        s3::CompleteMultipartUpload {
            upload_id: &session.upload_id,
            parts: &listed,
            checksum: wire.checksum,
            object_checksum: object_checksum(wire.checksum, parts),
        }
        .request()
        .headers(condition.map(Condition::header))
    };
    let tls = session.tls.as_ref();
    // The store assembles the object before it answers: minutes for a large one (S3 keeps
    // the connection alive with whitespace meanwhile; others are silent). A retry after a
    // timeout would find the upload gone, so the wait is long.
    let mut patient = wire.clone();
    patient.timeouts.io = patient.timeouts.io.max(COMPLETE_WAIT);
    let mut answer = call::send(&patient, tls, request(wire.condition.as_ref()));
    // The look before sending found the ETag named; a 412 may be the quotes (RGW 16.2).
    if let (Err(Error::Refused(r)), Some(bare)) = (&answer, super::bare_if_match(wire)) {
        if r.status == 412 {
            let again = call::send(&patient, tls, request(bare.condition.as_ref()));
            if again.is_ok() {
                adapt::learn_bare_if_match(wire);
                answer = again;
            }
        }
    }
    let completed = match answer {
        Ok(answer) => Ok((answer.response, false)),
        Err(e) => verify::confirm_completed(session, parts, e)
            .map(|head| (head, true))
            .map_err(|e| super::precondition_failed(wire, e, false)),
    };
    if completed.is_ok() {
        interrupt::pending_upload(None);
    }
    completed
}

/// Aborts the upload; one already gone (NoSuchUpload) counts as aborted.
pub fn abort(session: &Session) -> Result<(), Error> {
    let request = s3::AbortMultipartUpload {
        upload_id: &session.upload_id,
    }
    .request();
    let answer = call::send(&session.wire, session.tls.as_ref(), request);
    match answer {
        Ok(_) => {}
        Err(Error::Refused(r)) if r.code.as_deref() == Some("NoSuchUpload") => {}
        Err(e) => return Err(e),
    }
    interrupt::pending_upload(None);
    Ok(())
}

/// The outcome of a completed upload of `done` parts.
pub fn outcome(
    plan: &Wire,
    response: &Response,
    size: u64,
    done: &[PartDone],
    started: Instant,
) -> Outcome {
    let completed = s3::CompleteMultipartUpload::answer(&response.head, &response.body, None);
    Outcome {
        etag: completed.etag,
        version_id: response.head.header("x-amz-version-id").map(str::to_string),
        checksum: plan.checksum.zip(object_checksum(plan.checksum, done)),
        parts: u32::try_from(done.len()).unwrap_or(u32::MAX),
        echo: super::protect::echo(&response.head),
        ..Outcome::of(plan, size, started.elapsed())
    }
}

/// The lock, also after a panicked holder (the data is a plain table).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    #[test]
    fn layouts_fit_s3_limits() {
        let l = Layout::for_size(3 * 5 * MIB + 1, Some(5 * MIB)).unwrap();
        assert_eq!((l.parts, l.span(4)), (4, (15 * MIB, 1)));
        let l = Layout::for_size(100 * MIB, None).unwrap();
        assert_eq!((l.part_size, l.parts), (8 * MIB, 13));
        assert_eq!(l.span(13), (96 * MIB, 4 * MIB));
        // 5 TiB needs parts of at least 525 MiB (rounded up to whole MiB).
        let l = Layout::for_size(5 << 40, None).unwrap();
        assert!(l.parts <= 10_000 && l.part_size == 525 * MIB, "{l:?}");
        assert_eq!(
            l.span(l.parts).1,
            5 * (1 << 40) - 525 * MIB * u64::from(l.parts - 1)
        );
        let err = Layout::for_size(100 * 1024 * MIB, Some(5 * MIB)).unwrap_err();
        assert!(err.to_string().contains("--part-size 11M"), "{err}");
        assert_eq!(Layout::for_size(MIB, Some(MIB)).unwrap_err().exit_code(), 2);
        assert_eq!(Layout::for_size(0, None).unwrap().parts, 1);
    }
}
