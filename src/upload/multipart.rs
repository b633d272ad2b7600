//! Multipart uploads: CreateMultipartUpload, the parts (several at once, each read by
//! position through its own 8 KiB buffer), CompleteMultipartUpload, and the check that
//! the store holds what was sent. A failure aborts the upload or keeps it, journaled,
//! for `--resume`, which sends only the parts the store does not hold intact.

use super::exchange::{self, Body, Call, FileSpan, FileStamp, Slot};
use super::journal::{self, Entry, FileIdentity};
use super::single::tls_for;
use super::{adapt, confirm, retry, Outcome};
use crate::checksum::{self, Algorithm};
use crate::config::{Condition, OnFailure, Plan, MAX_PART, MAX_PARTS, MIN_PART};
use crate::http::xml;
use crate::interrupt;
use crate::report;
use crate::report::progress::Kept;
use crate::transport::Response;
use crate::Error;
use md5::{Digest, Md5};
use rustls::ClientConfig;
use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

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
    /// The plan, with what the create call learnt (region, clock skew).
    pub plan: Plan,
    pub tls: Option<Arc<ClientConfig>>,
    pub upload_id: String,
}

/// Starts a multipart upload with the object's headers; the plan keeps the corrections
/// the store asked for.
pub fn create(plan: &Plan) -> Result<Session, Error> {
    let mut plan = adapt::apply_multipart(plan);
    let tls = tls_for(&plan)?;
    let mut headers = super::request::object_headers(&plan);
    if let Some(a) = plan.checksum {
        // CRCs combine into a checksum of the whole object; SHA digests only into a
        // checksum of the parts' checksums (S3 user guide, "Checking object integrity").
        headers.push(("x-amz-checksum-algorithm".into(), a.api_name().into()));
        let kind = if a.is_crc() {
            "FULL_OBJECT"
        } else {
            "COMPOSITE"
        };
        headers.push(("x-amz-checksum-type".into(), kind.into()));
    }
    let query = vec![("uploads".into(), String::new())];
    let answer =
        exchange::small_call_adjusting(&mut plan, tls.as_ref(), "POST", query, headers, &[])?;
    let initiated = xml::parse_initiate(&answer.response.body)
        .ok_or_else(|| bad_answer(&answer.response, "CreateMultipartUpload", "no UploadId"))?;
    let session = Session {
        plan,
        tls,
        upload_id: initiated.upload_id,
    };
    announce(&session);
    Ok(session)
}

/// From now until it is completed or aborted, a second signal (which ends the process at
/// once) first says which upload is left on the store and how to resume or discard it.
fn announce(session: &Session) {
    let plan = &session.plan;
    let id = &session.upload_id;
    let discard = format!(
        "s3push --abort --upload-id {} {}",
        shell_word(id),
        plan.url()
    );
    interrupt::pending_upload(Some(if plan.from_stdin() {
        format!(
            "upload {id} of {} is left on the store (standard input cannot be resumed): discard it with `{discard}`",
            plan.url()
        )
    } else {
        format!(
            "upload {id} of {} is left on the store: resume it with `{}` or discard it with `{discard}`",
            plan.url(),
            resume_command(plan)
        )
    }));
}

/// With `--no-clobber` or `--if-match`, looks at the key (HEAD) before anything is sent:
/// for a multipart upload the store checks the condition only at Complete, after every
/// byte went up, and some stores (Garage 2.5) ignore the condition on PUT altogether. A
/// refusal here costs one round trip; an answer that does not settle it (403 to a user
/// who may not read, an unreachable store) leaves the decision to the store's check of
/// the condition, still sent, which is what makes it safe against a writer racing in
/// between (where the store honours it), and says so.
pub fn condition_holds_now(plan: &Plan) -> Result<(), Error> {
    let Some(condition) = plan.condition.as_ref().filter(|_| !plan.dry_run) else {
        return Ok(());
    };
    let tls = tls_for(plan)?;
    let found = match exchange::small_call(plan, tls.as_ref(), "HEAD", Vec::new(), Vec::new(), &[])
    {
        Ok(answer) => Some(answer.response.head.header("etag").map(str::to_string)),
        Err(Error::Refused(r)) if r.status == 404 => None,
        Err(e) => {
            report::note(
                plan.quiet,
                &format!(
                    "could not look at {} before writing ({e}): the store's own check of {} is then the only guard, \
                     and some stores (Garage) ignore it",
                    plan.url(),
                    condition.flag()
                ),
            );
            return Ok(());
        }
    };
    let holds = match (condition, &found) {
        (Condition::NoneMatch, found) => found.is_none(),
        (Condition::Match(_), None) => false,
        (Condition::Match(etag), Some(Some(theirs))) => {
            etag == "*" || unquote(etag) == unquote(theirs)
        }
        (Condition::Match(_), Some(None)) => true,
    };
    if holds {
        return Ok(());
    }
    Err(super::not_written(plan, condition).with_note("found before sending: nothing was sent"))
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
    let plan = &session.plan;
    let integrity = exchange::prepare(plan, body)?;
    let mut headers = Vec::new();
    if let Some(md5) = &integrity.content_md5 {
        headers.push(("content-md5".into(), md5.clone()));
    }
    let meter = super::meter();
    let call = Call {
        method: "PUT",
        query: vec![
            ("partNumber".into(), number.to_string()),
            ("uploadId".into(), session.upload_id.clone()),
        ],
        headers,
        body,
        payload_hash: &integrity.payload_hash,
        checksum: plan.checksum,
        checksum_value: integrity.checksum_value.clone(),
        // The MD5 of a pass before sending (Content-MD5) serves the ETag check too.
        md5: plan.verify_etag && integrity.md5.is_none(),
        cancel: Some(cancel),
        meter: Some(&meter),
        on_bucket: false,
    };
    let answer = retry::run(plan, |plan, attempt| {
        exchange::exchange(plan, attempt, &call, session.tls.as_ref(), slot)
    })?;
    let etag = answer
        .response
        .head
        .header("etag")
        .ok_or_else(|| bad_answer(&answer.response, "UploadPart", "no ETag"))?
        .to_string();
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
        let trailer = exchange::uses_trailer(&session.plan, body);
        match send_part(session, number, body, &cancel, slot) {
            Err(e) if adapt::learn_from_refusal(&session.plan, &e, trailer) => {
                super::meter().retried();
                let next = adapt::apply(&session.plan);
                if next.checksum == session.plan.checksum {
                    session.plan = next;
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
                let learned = adapt::apply(&session.plan);
                session.plan.verify_etag =
                    learned.verify_etag || (session.plan.from_stdin() && done.md5.is_some());
                session.plan.checksum_trailer = learned.checksum_trailer;
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
    let plan = &session.plan;
    let mut body = String::with_capacity(64 + parts.len() * 90);
    let element = plan.checksum.map(Algorithm::xml_element);
    let sums: Vec<[(&str, &str); 1]> = parts
        .iter()
        .map(|p| [(element.unwrap_or(""), p.checksum.as_deref().unwrap_or(""))])
        .collect();
    let list: Vec<xml::CompletedPart<'_>> = parts
        .iter()
        .zip(&sums)
        .enumerate()
        .map(|(i, (p, sum))| {
            let listed: &[(&str, &str)] = if p.checksum.is_some() && element.is_some() {
                sum
            } else {
                &[]
            };
            (
                u32::try_from(i + 1).unwrap_or(u32::MAX),
                p.etag.as_str(),
                listed,
            )
        })
        .collect();
    xml::write_complete_body(&list, &mut body);
    let mut headers = vec![("content-type".to_string(), "application/xml".to_string())];
    // S3 takes If-None-Match and If-Match on CompleteMultipartUpload: the object appears
    // (or not) at this call, so the condition is checked here.
    headers.extend(
        plan.condition
            .as_ref()
            .map(crate::config::Condition::header),
    );
    if let Some((a, whole)) = plan.checksum.zip(object_checksum(plan.checksum, parts)) {
        if a.is_crc() {
            headers.push((a.header_name().into(), whole));
            headers.push(("x-amz-checksum-type".into(), "FULL_OBJECT".into()));
        }
    }
    let query = vec![("uploadId".into(), session.upload_id.clone())];
    let tls = session.tls.as_ref();
    // The store assembles the object before it answers: minutes for a large one (S3 keeps
    // the connection alive with whitespace meanwhile; others are silent). A retry after a
    // timeout would find the upload gone, so the wait is long.
    let mut patient = plan.clone();
    patient.timeouts.io = patient.timeouts.io.max(COMPLETE_WAIT);
    let mut answer = exchange::small_call(
        &patient,
        tls,
        "POST",
        query.clone(),
        headers.clone(),
        body.as_bytes(),
    );
    // The look before sending found the ETag named; a 412 may be the quotes (RGW 16.2).
    if let (Err(Error::Refused(r)), Some(bare)) = (&answer, super::bare_if_match(plan)) {
        if r.status == 412 {
            let mut headers = headers;
            headers.retain(|(n, _)| n != "if-match");
            headers.extend(
                bare.condition
                    .as_ref()
                    .map(crate::config::Condition::header),
            );
            let again =
                exchange::small_call(&patient, tls, "POST", query, headers, body.as_bytes());
            if again.is_ok() {
                adapt::learn_bare_if_match(plan);
                answer = again;
            }
        }
    }
    let completed = match answer {
        Ok(answer) => Ok((answer.response, false)),
        Err(e) => confirm_completed(session, parts, e)
            .map(|head| (head, true))
            .map_err(|e| super::precondition_failed(plan, e, false)),
    };
    if completed.is_ok() {
        interrupt::pending_upload(None);
    }
    completed
}

/// When CompleteMultipartUpload says the upload is gone (NoSuchUpload; s3s-fs answers
/// AccessDenied), an earlier attempt may have completed it and lost the answer (a proxy
/// or load balancer that cuts a silent connection after 60 s, say). A HEAD of the object
/// settles it: the object's ETag (the MD5 of the parts' ETags, each an MD5) or its
/// checksum must be the one of the parts sent; then its answer stands for the lost one. Else `error`.
fn confirm_completed(
    session: &Session,
    parts: &[PartDone],
    error: Error,
) -> Result<Response, Error> {
    let Error::Refused(r) = &error else {
        return Err(error);
    };
    // A 412 to a conditional Complete may also be our own object, stored by an attempt
    // whose answer was lost: the HEAD tells (an object of exactly these parts is ours).
    if !matches!(r.code.as_deref(), Some("NoSuchUpload" | "AccessDenied"))
        && !matches!(r.status, 404 | 412)
    {
        return Err(error);
    }
    let gone = r.code.as_deref() == Some("NoSuchUpload");
    let plan = &session.plan;
    let headers = vec![("x-amz-checksum-mode".to_string(), "ENABLED".to_string())];
    let Ok(head) =
        exchange::small_call(plan, session.tls.as_ref(), "HEAD", Vec::new(), headers, &[])
    else {
        return Err(error);
    };
    let response = head.response;
    // The ETag of an object assembled from exactly these parts, from the ETags the store
    // gave them (each part was checked as it was stored).
    let assembled = parts
        .iter()
        .map(|p| etag_md5(&p.etag))
        .collect::<Option<Vec<_>>>()
        .map(|md5s| {
            let mut all = Md5::new();
            md5s.iter().for_each(|m| all.update(m));
            let digest: [u8; 16] = all.finalize().into();
            format!("{}-{}", hex(&digest), parts.len())
        });
    let etag_matches = assembled
        .zip(response.head.header("etag"))
        .is_some_and(|(ours, theirs)| unquote(theirs) == ours);
    let checksum_matches = plan
        .checksum
        .zip(object_checksum(plan.checksum, parts))
        .and_then(|(a, ours)| Some((response.head.header(a.header_name())?, ours)))
        .is_some_and(|(theirs, ours)| theirs.split('-').next() == ours.split('-').next());
    if etag_matches || checksum_matches {
        report::warning(
            "CompleteMultipartUpload's answer was lost; the object the store now holds is the one of the parts sent",
        );
        // A refusal other than "no such upload" may also mean that this upload was never
        // completed (a writer with the same bytes won a --no-clobber race): it must not
        // stay on the store unsaid. Aborting a completed upload finds nothing.
        let aborted = if gone { Ok(()) } else { abort(session) };
        if let Err(e) = aborted {
            if !matches!(&e, Error::Refused(r) if r.code.as_deref() == Some("AccessDenied") || r.status == 404)
            {
                let discard = format!(
                    "s3push --abort --upload-id {} {}",
                    shell_word(&session.upload_id),
                    plan.url()
                );
                report::warning(&format!(
                    "upload {} may still hold its parts on the store (aborting it failed: {e}): discard it with \
                     `{discard}`",
                    session.upload_id
                ));
            }
        }
        Ok(response)
    } else {
        Err(error)
    }
}

/// Confirms a completed object (upload::confirm): the object's checksum the store gives
/// (in the answer, else in a HEAD) is the one of the parts sent, or its ETag is the MD5
/// of the parts' MD5s then `-N`. An answer whose ETag is empty (RGW answers
/// `<ETag></ETag>` at times, the object intact) or missing is settled by the HEAD; where
/// the store keeps no checksum, the parts' MD5s not computed while sending are computed
/// by reading them again (`reread`, for a file; the run then computes them while
/// sending). A mismatch says not to trust the object; nothing to confirm it is an error.
pub fn verify_object<'a>(
    session: &Session,
    parts: &[PartDone],
    response: &Response,
    reread: Option<&dyn Fn(u32) -> Body<'a>>,
) -> Result<(), Error> {
    let plan = &session.plan;
    let completed = xml::parse_complete(&response.body);
    let etag = completed
        .as_ref()
        .and_then(|c| c.etag.clone())
        .or_else(|| response.head.header("etag").map(str::to_string))
        .filter(|e| !unquote(e).is_empty() && confirm::etag_is_digest(&response.head));
    let expected_sum = plan.checksum.zip(object_checksum(plan.checksum, parts));
    let answered_sum = expected_sum.as_ref().and_then(|(a, _)| {
        completed
            .as_ref()
            .and_then(|c| c.checksums.iter().find(|(n, _)| n == a.xml_element()))
            .map(|(_, v)| v.clone())
            .or_else(|| response.head.header(a.header_name()).map(str::to_string))
    });
    let mut confirmed = false;
    if let (Some(theirs), Some((a, ours))) = (&answered_sum, &expected_sum) {
        same_checksum(plan, *a, theirs, ours)?;
        confirmed = true;
    }
    if let (Some(theirs), Some(ours)) = (&etag, &multipart_etag(parts)) {
        same_etag(plan, parts, theirs, ours)?;
        confirmed = true;
    }
    if confirmed {
        return Ok(());
    }
    // A HEAD that fails (a key that may only write) leaves the ETag of the answer.
    let found = confirm::head_object(plan, session.tls.as_ref()).ok();
    let mut disagreement = None;
    if let Some(found) = &found {
        let size: u64 = parts.iter().map(|p| p.len).sum();
        let length = found
            .header("content-length")
            .and_then(|v| v.parse::<u64>().ok());
        if length != Some(size) {
            return Err(Error::Integrity(format!(
                "the completed object holds {} bytes, not the {size} of the parts sent: do not trust {}: delete it \
                 or upload it again",
                length.map_or_else(|| "an unknown number of".to_string(), |n| n.to_string()),
                plan.url()
            )));
        }
        if let Some((a, ours)) = &expected_sum {
            match found.header(a.header_name()) {
                Some(theirs) => match same_checksum(plan, *a, theirs, ours) {
                    Ok(()) => return Ok(()),
                    // A store may keep a checksum that is not of this object (s3s-fs
                    // 0.14 keeps the one of the object it replaced): the ETag, which
                    // it computes over the parts it holds, decides.
                    Err(e) => {
                        disagreement = Some((
                            e,
                            format!(
                                "its {} is {theirs}, not the {ours} of the parts sent",
                                a.api_name()
                            ),
                        ))
                    }
                },
                None => adapt::learn_no_object_checksum(plan),
            }
        }
    }
    let theirs = found
        .as_ref()
        .filter(|f| confirm::etag_is_digest(f))
        .and_then(|f| f.header("etag"))
        .filter(|e| !unquote(e).is_empty())
        .or(etag.as_deref());
    let nothing = || {
        match &found {
        Some(f) => confirm::unconfirmed(plan, f),
        None => Error::Integrity(format!(
            "the store answered CompleteMultipartUpload without a checksum or an ETag to compare, and a HEAD of {} \
             failed: do not trust it until it is read back and compared",
            plan.url()
        )),
    }
    };
    let Some(theirs) = theirs else {
        return Err(disagreement.map_or_else(nothing, |(e, _)| e));
    };
    let mut md5s = Vec::with_capacity(parts.len());
    for (i, p) in parts.iter().enumerate() {
        let md5 = match (p.md5, reread) {
            (Some(m), _) => m,
            (None, Some(body_of)) => {
                let number = u32::try_from(i + 1).unwrap_or(u32::MAX);
                exchange::prepass(body_of(number), false, None, true)?
                    .md5
                    .unwrap_or_default()
            }
            (None, None) => return Err(disagreement.map_or_else(nothing, |(e, _)| e)),
        };
        md5s.push(md5);
    }
    same_etag(plan, parts, theirs, &etag_of_md5s(&md5s))?;
    if let Some((_, what)) = disagreement {
        report::warning(&format!(
            "the store's ETag of {} confirms what was sent, but {what}: the store keeps a checksum that is not \
             this object's",
            plan.url()
        ));
    }
    Ok(())
}

fn same_checksum(plan: &Plan, a: Algorithm, theirs: &str, ours: &str) -> Result<(), Error> {
    // A composite value may come back with or without its "-N".
    let bare = |v: &str| v.split('-').next().unwrap_or(v).trim().to_string();
    if bare(theirs) == bare(ours) {
        return Ok(());
    }
    Err(Error::Integrity(format!(
        "the completed object's {} is {theirs}, not the {ours} of the parts sent: \
         do not trust s3://{}/{}: delete it or upload it again",
        a.api_name(),
        plan.bucket,
        plan.key
    )))
}

fn same_etag(plan: &Plan, parts: &[PartDone], theirs: &str, ours: &str) -> Result<(), Error> {
    if unquote(theirs) == ours {
        return Ok(());
    }
    Err(Error::Integrity(format!(
        "the completed object's ETag {theirs} is not the MD5 of its {} parts' MD5s (\"{ours}\"): \
         the store does not hold what was sent; do not trust s3://{}/{}: delete it or upload it again",
        parts.len(),
        plan.bucket,
        plan.key
    )))
}

/// Aborts the upload; one already gone (NoSuchUpload) counts as aborted.
pub fn abort(session: &Session) -> Result<(), Error> {
    let query = vec![("uploadId".into(), session.upload_id.clone())];
    let answer = exchange::small_call(
        &session.plan,
        session.tls.as_ref(),
        "DELETE",
        query,
        Vec::new(),
        &[],
    );
    match answer {
        Ok(_) => {}
        Err(Error::Refused(r)) if r.code.as_deref() == Some("NoSuchUpload") => {}
        Err(e) => return Err(e),
    }
    interrupt::pending_upload(None);
    Ok(())
}

/// Uploads a file in parts, or resumes its pending upload with `--resume`.
pub fn upload_file(
    plan: &Plan,
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
    let meter = super::meter();
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
                return Err(super::exchange::changed_during_upload(path));
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

/// Records a part the store confirmed: in the table, the journal and the meter.
fn part_stored(
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
    super::meter().part_done();
}

/// Writes the journal of a new upload, so that an interrupted one can be resumed.
fn save_journal(journal_path: &Path, session: &Session, identity: &FileIdentity, layout: Layout) {
    let plan = &session.plan;
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
        return Err(super::exchange::stopped());
    }
    Ok(())
}

/// What a failed multipart upload turns into, by policy: aborted (the cause's error, and
/// nothing left on the server), or kept (exit 10, with the commands that resume or
/// discard it).
pub fn fail(
    session: &Session,
    cause: Error,
    journal_path: Option<&Path>,
    size: u64,
    stored: usize,
    parts: u32,
) -> Error {
    let plan = &session.plan;
    let id = &session.upload_id;
    if id.is_empty() {
        // Aborted already (send_first_part): nothing to keep or discard.
        if let Some(j) = journal_path {
            let _ = journal::remove(j);
        }
        return cause;
    }
    let stdin = plan.from_stdin();
    let policy = plan
        .multipart
        .on_failure
        .unwrap_or(if stdin || size < KEEP_FROM {
            OnFailure::Abort
        } else {
            OnFailure::Keep
        });
    // Refused at Complete by --no-clobber or --if-match: a resume would be refused the
    // same way, so the parts are never kept.
    let policy = if matches!(cause, Error::Precondition(_)) {
        OnFailure::Abort
    } else {
        policy
    };
    let discard = format!(
        "s3push --abort --upload-id {} {}",
        shell_word(id),
        plan.url()
    );
    if policy == OnFailure::Abort {
        interrupt::begin_cleanup();
        return match abort(session) {
            Ok(()) => {
                if let Some(j) = journal_path {
                    let _ = journal::remove(j);
                }
                if matches!(cause, Error::Precondition(_)) {
                    return cause.with_note(&format!(
                        "the multipart upload {id} was aborted, its parts deleted"
                    ));
                }
                cause.with_note(&format!(
                    "the multipart upload was aborted: nothing of s3://{}/{} is left on the server",
                    plan.bucket, plan.key
                ))
            }
            Err(e) => {
                super::meter().keep(Kept {
                    upload_id: id.clone(),
                    resume: None,
                    discard: discard.clone(),
                });
                cause.with_note(&format!(
                "aborting upload {id} failed too ({e}): its {stored} stored parts still cost storage; discard them with `{discard}`"
            ))
            }
        };
    }
    super::meter().keep(Kept {
        upload_id: id.clone(),
        resume: (!stdin).then(|| resume_command(plan)),
        discard: discard.clone(),
    });
    let parts_note = if parts > 0 {
        format!("{stored} of {parts} parts stored")
    } else {
        format!("{stored} parts stored")
    };
    let next = if stdin {
        format!("standard input cannot be resumed: discard it with `{discard}`")
    } else {
        format!(
            "resume with `{}` or discard it with `{discard}`",
            resume_command(plan)
        )
    };
    Error::Kept(format!(
        "{} ({}); upload {id} is kept with {parts_note}: {next}",
        cause,
        cause.kind()
    ))
}

/// `s3push --resume [--endpoint URL] FILE s3://bucket/key`.
fn resume_command(plan: &Plan) -> String {
    let mut cmd = String::from("s3push --resume");
    if !plan.endpoint_from_region {
        cmd.push_str(&format!(" --endpoint {}", plan.endpoint.url()));
    }
    cmd.push_str(&format!(
        " {} {}",
        shell_word(&plan.source.display().to_string()),
        shell_word(&plan.url())
    ));
    cmd
}

/// A word the shell reads back as itself: single-quoted when it has anything special.
fn shell_word(text: &str) -> String {
    if !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// The pending upload to resume: from the journal (the file must be as it was), from
/// `--upload-id`, or from ListMultipartUploads; then the parts the store holds intact.
fn find_pending(
    plan: &Plan,
    file: &File,
    size: u64,
    identity: &FileIdentity,
    journal_path: &Path,
) -> Result<(Session, Layout, Vec<Option<PartDone>>), Error> {
    let path = &plan.source;
    let entry = journal::load(journal_path)?;
    let (upload_id, part_size) = match (&plan.multipart.upload_id, &entry) {
        (Some(id), entry) => {
            let part = entry
                .as_ref()
                .filter(|e| &e.upload_id == id)
                .map(|e| e.part_size)
                .or(plan.multipart.part_size);
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
                    plan.url()
                )));
            }
            (entry.upload_id.clone(), Some(entry.part_size))
        }
        (None, None) => (list_pending(plan)?, plan.multipart.part_size),
    };
    let mut session = Session {
        plan: plan.clone(),
        tls: tls_for(plan)?,
        upload_id: upload_id.clone(),
    };
    announce(&session);
    let (listed, listed_algorithm) = list_parts(&session).map_err(|e| match &e {
        Error::Refused(r) if r.code.as_deref() == Some("NoSuchUpload") => {
            let _ = journal::remove(journal_path);
            Error::LocalFile(format!(
                "upload {upload_id} of {} no longer exists (completed or aborted): upload again without --resume",
                plan.url()
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
        if !plan.checksum_named && algorithm != session.plan.checksum {
            session.plan.checksum = algorithm;
            session.plan.verify_etag |= algorithm.is_none();
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
        let local = exchange::prepass(body, false, session.plan.checksum, true)?;
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
fn list_parts(session: &Session) -> Result<(Vec<xml::PartInfo>, Option<String>), Error> {
    let mut parts = Vec::new();
    let mut algorithm = None;
    let mut marker: Option<u32> = None;
    // 10,000 parts at 1,000 a page: a store that pages forever is cut short.
    for _ in 0..=MAX_PARTS / 1000 + 1 {
        let mut query = vec![("uploadId".to_string(), session.upload_id.clone())];
        if let Some(m) = marker {
            query.push(("part-number-marker".into(), m.to_string()));
        }
        let answer = exchange::small_call(
            &session.plan,
            session.tls.as_ref(),
            "GET",
            query,
            Vec::new(),
            &[],
        )?;
        let page = xml::parse_list_parts(&answer.response.body)
            .ok_or_else(|| bad_answer(&answer.response, "ListParts", "not a ListPartsResult"))?;
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
fn list_pending(plan: &Plan) -> Result<String, Error> {
    let tls = tls_for(plan)?;
    let query = vec![
        ("uploads".into(), String::new()),
        ("prefix".into(), plan.key.clone()),
    ];
    let cannot_list = |why: String| {
        Error::Usage(format!(
            "no journal of an upload of {} to {} on this host, and {why}: pass --upload-id ID",
            plan.source.display(),
            plan.url()
        ))
    };
    let answer = exchange::bucket_call(plan, tls.as_ref(), "GET", query)
        .map_err(|e| cannot_list(format!("the store did not list its pending uploads ({e})")))?;
    let page = xml::parse_list_uploads(&answer.response.body)
        .ok_or_else(|| cannot_list("the store's list of pending uploads was unreadable".into()))?;
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
pub fn abort_command(plan: &Plan) -> Result<Outcome, Error> {
    let started = Instant::now();
    let journal_path = if plan.source.as_os_str().is_empty() {
        None
    } else {
        Some(journal::path_for(
            &plan.multipart.state_env,
            &plan.endpoint.url(),
            &plan.bucket,
            &plan.key,
            &plan.source,
        )?)
    };
    let from_journal = match &journal_path {
        Some(p) => journal::load(p)?.map(|e| e.upload_id),
        None => None,
    };
    let upload_id = plan
        .multipart
        .upload_id
        .clone()
        .or(from_journal)
        .ok_or_else(|| {
            Error::Usage(format!(
                "which upload of {} to abort? pass --upload-id ID (no journal of one on this host)",
                plan.url()
            ))
        })?;
    let session = Session {
        plan: plan.clone(),
        tls: tls_for(plan)?,
        upload_id: upload_id.clone(),
    };
    abort(&session)?;
    if let Some(p) = &journal_path {
        let _ = journal::remove(p);
    }
    Ok(Outcome {
        aborted: Some(upload_id),
        ..Outcome::of(plan, 0, started.elapsed())
    })
}

/// The outcome of a completed upload of `done` parts.
pub fn outcome(
    plan: &Plan,
    response: &Response,
    size: u64,
    done: &[PartDone],
    started: Instant,
) -> Outcome {
    let completed = xml::parse_complete(&response.body);
    Outcome {
        etag: completed
            .and_then(|c| c.etag)
            .or_else(|| response.head.header("etag").map(str::to_string)),
        version_id: response.head.header("x-amz-version-id").map(str::to_string),
        checksum: plan.checksum.zip(object_checksum(plan.checksum, done)),
        parts: u32::try_from(done.len()).unwrap_or(u32::MAX),
        echo: super::protect::echo(&response.head),
        ..Outcome::of(plan, size, started.elapsed())
    }
}

/// The object's checksum from its parts': the CRCs combined (FULL_OBJECT), or the
/// composite of SHA digests, `-N` (COMPOSITE). None when a part's is missing.
pub fn object_checksum(algorithm: Option<Algorithm>, parts: &[PartDone]) -> Option<String> {
    let a = algorithm?;
    if a.is_crc() {
        let mut whole = 0u64;
        for (i, p) in parts.iter().enumerate() {
            let crc = checksum::crc_from_base64(a, p.checksum.as_deref()?)?;
            whole = if i == 0 {
                crc
            } else {
                checksum::crc_combine(a, whole, crc, p.len)
            };
        }
        Some(checksum::crc_digest(a, whole).to_base64())
    } else {
        let mut digests = Vec::with_capacity(parts.len());
        for p in parts {
            digests.push(checksum::Digest::from_base64(p.checksum.as_deref()?)?);
        }
        Some(checksum::composite(a, &digests))
    }
}

/// The ETag S3 gives a multipart object when every part's ETag is its MD5.
pub fn multipart_etag(parts: &[PartDone]) -> Option<String> {
    let md5s: Option<Vec<[u8; 16]>> = parts.iter().map(|p| p.md5).collect();
    md5s.map(|m| etag_of_md5s(&m))
}

/// The MD5 of the parts' MD5s, then `-N`.
fn etag_of_md5s(md5s: &[[u8; 16]]) -> String {
    let mut all = Md5::new();
    md5s.iter().for_each(|m| all.update(m));
    let digest: [u8; 16] = all.finalize().into();
    format!("{}-{}", hex(&digest), md5s.len())
}

/// The MD5 in an ETag, when it is one (not for SSE-KMS or SSE-C objects).
pub fn etag_md5(etag: &str) -> Option<[u8; 16]> {
    let text = unquote(etag);
    if text.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn unquote(etag: &str) -> &str {
    let t = etag.trim();
    let t = t.strip_prefix("W/").unwrap_or(t);
    t.trim_matches('"')
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn bad_answer(response: &Response, call: &str, what: &str) -> Error {
    Error::Protocol(format!(
        "the store answered {call} with {} but {what}: it may not support multipart uploads",
        response.head.status_line()
    ))
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

    #[test]
    fn multipart_etag_is_md5_of_md5s() {
        // Two parts "a" x 5 MiB and "b": computed independently of this code with
        // `(md5sum of the concatenated binary MD5s)-2`.
        let a: [u8; 16] = Md5::digest(vec![b'a'; 5 * 1024 * 1024]).into();
        let b: [u8; 16] = Md5::digest(b"b").into();
        let mut both = a.to_vec();
        both.extend_from_slice(&b);
        let expected = format!("{}-2", hex(&Md5::digest(&both)));
        let parts = [
            PartDone {
                etag: format!("\"{}\"", hex(&a)),
                md5: Some(a),
                checksum: None,
                len: 5 * 1024 * 1024,
            },
            PartDone {
                etag: format!("\"{}\"", hex(&b)),
                md5: Some(b),
                checksum: None,
                len: 1,
            },
        ];
        assert_eq!(multipart_etag(&parts).unwrap(), expected);
        assert_eq!(etag_md5(&parts[0].etag), Some(a));
        assert_eq!(etag_md5("\"abc-2\""), None);
        assert_eq!(etag_md5("W/\"0123456789abcdef0123456789abcdeg\""), None);
    }

    #[test]
    fn shell_words_survive_the_shell() {
        assert_eq!(shell_word("s3://b/k.bin"), "s3://b/k.bin");
        assert_eq!(shell_word("my file"), "'my file'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(shell_word(""), "''");
    }
}
