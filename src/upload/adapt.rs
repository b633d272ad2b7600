//! What the run learns of the store: the ways of sending it refuses, and whether it keeps
//! checksums at all. Learned from the first answer that shows it, kept for every later
//! request of the run (every part, every file of a batch), and said once in a note.
//!
//! The ladder, for what s3push chose by itself (an algorithm or payload mode the user
//! named is kept, and its refusal stands):
//! 1. the checksum as an aws-chunked trailer, computed while sending (no pass first);
//! 2. the checksum as a header, computed by a pass over the body first (RGW 16.2 knows no
//!    `STREAMING-*-TRAILER` payload; Garage refuses the signed trailer);
//! 3. no `x-amz-checksum-*`: Content-MD5 and the ETag check (a store that refuses the
//!    checksum headers, or takes them and keeps nothing).
//!
//! Integrity never drops to nothing: the last step is checked by the store (Content-MD5)
//! and by s3push (the ETag).

use crate::error::Error;
use crate::error::Refusal;
use crate::report;
use crate::upload::wire::Wire;
use std::sync::Mutex;

/// What is known of one store (one endpoint) in this run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Facts {
    /// It refused a checksum trailer: checksums go as headers.
    pub no_trailer: bool,
    /// It refused `x-amz-checksum-*`, or took them and keeps none (no echo, nothing in a
    /// HEAD): Content-MD5 and the ETag check instead.
    pub no_checksum: bool,
    /// It gives no checksum of a completed multipart object: its parts' MD5s are
    /// computed while sending, for the ETag check.
    pub no_object_checksum: bool,
    /// It takes `If-Match` only with the ETag bare (Ceph RGW 16.2).
    pub bare_if_match: bool,
    /// A request with a trailer got an answer that may or may not be about the trailer
    /// (status and code kept): the request is sent once without it, and that answer
    /// decides (`learn_from_refusal`, `took`). Meanwhile `no_trailer` is set.
    pub trailer_probe: Option<Answer>,
}

/// A refusal as the trailer probe compares it: status, code and a hash of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    status: u16,
    code: Option<&'static str>,
    message: u64,
}

impl Answer {
    fn of(r: &Refusal) -> Answer {
        // FNV-1a: only equality matters.
        let message = r
            .message
            .as_deref()
            .unwrap_or_default()
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
        Answer {
            status: r.status,
            code: known_code(r),
            message,
        }
    }

    /// `400 InvalidArgument`, as the note quotes it.
    fn said(&self) -> String {
        match self.code {
            Some(c) => format!("{} {c}", self.status),
            None => self.status.to_string(),
        }
    }
}

/// The facts of this run, by endpoint (scheme, host and port). A process uploads for one
/// run; the table lives as long as it does.
static LEARNED: Mutex<Vec<(String, Facts)>> = Mutex::new(Vec::new());

fn store_of(plan: &Wire) -> String {
    plan.endpoint.url()
}

/// What the run knows of the plan's store.
pub fn facts(plan: &Wire) -> Facts {
    let key = store_of(plan);
    let table = LEARNED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    table
        .iter()
        .find(|(k, _)| *k == key)
        .map_or(Facts::default(), |(_, f)| *f)
}

fn record(plan: &Wire, change: impl FnOnce(&mut Facts)) {
    let key = store_of(plan);
    let mut table = LEARNED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match table.iter_mut().find(|(k, _)| *k == key) {
        Some((_, f)) => change(f),
        None => {
            let mut f = Facts::default();
            change(&mut f);
            table.push((key, f));
        }
    }
}

/// The wire for a multipart upload, with what the run learned of the store.
pub fn apply_multipart(wire: &Wire) -> Wire {
    let mut applied = apply(wire);
    applied.verify_etag |= facts(wire).no_object_checksum;
    applied
}

/// The wire as the next request sends it, with what the run learned of the store.
pub fn apply(wire: &Wire) -> Wire {
    let facts = facts(wire);
    let mut wire = wire.clone();
    if facts.no_trailer {
        wire.checksum_trailer = false;
    }
    if facts.bare_if_match {
        wire = super::bare_if_match(&wire).unwrap_or(wire);
    }
    if facts.no_checksum {
        wire.verify_etag = true;
        if !wire.checksum_named && wire.checksum.is_some() {
            wire.checksum = None;
            wire.content_md5 = true;
        }
    }
    wire
}

/// After `error` answered a request sent under `plan` (as `apply` made it), with a
/// checksum trailer or not: true when the store refused a way of sending that s3push
/// chose and there is a next one, now recorded for the run (and said in a note); the
/// request is then to be sent again under `apply(plan)`.
///
/// An answer that names the trailer (`refuses_trailer`) changes the mode at once. One
/// that might be about anything (a bare 400, InvalidArgument or InvalidRequest about
/// something else: a bad storage class, bad tags) is probed: the request goes once more
/// without the trailer; the same answer again means it was not the trailer, and it is
/// reported as itself, the mode unchanged; another answer, or a success (`took`), means
/// the trailer was refused.
pub fn learn_from_refusal(plan: &Wire, error: &Error, trailer: bool) -> bool {
    let Error::Refused(r) = error else {
        return false;
    };
    let Some(algorithm) = plan.checksum else {
        return false;
    };
    if !trailer {
        if let Some(probed) = facts(plan).trailer_probe {
            if probed == Answer::of(r) {
                // The same answer without the trailer: it was about something else.
                record(plan, |f| {
                    f.trailer_probe = None;
                    f.no_trailer = false;
                });
                crate::report::trace::event(format_args!(
                    "the same answer came without the checksum trailer: it is not about the trailer"
                ));
            } else {
                trailer_refused(plan, r);
            }
        }
    }
    let said = said(r);
    if trailer && refuses_trailer(r) {
        record(plan, |f| f.no_trailer = true);
        report::warning(&trailer_warning(algorithm, &said));
        return true;
    }
    if trailer && maybe_refuses_trailer(r) {
        let probe = Answer::of(r);
        record(plan, |f| {
            f.no_trailer = true;
            f.trailer_probe = Some(probe);
        });
        crate::report::trace::event(format_args!(
            "{said} to a request with a checksum trailer: sending it once without the trailer, to tell whether \
             the trailer is refused"
        ));
        return true;
    }
    if !plan.checksum_named && refuses_checksum(r) {
        record(plan, |f| {
            f.no_trailer = true;
            f.no_checksum = true;
            f.trailer_probe = None;
        });
        report::warning(&format!(
                "the store refused the {} checksum header ({said}): sending Content-MD5 and checking the ETag \
                 instead, for the rest of this run",
                algorithm.api_name()
            ));
        return true;
    }
    false
}

/// A request of the plan's object was taken (2xx): a trailer probe pending, the request
/// sent without the trailer succeeded where the one with it was refused.
pub fn took(plan: &Wire) {
    let f = facts(plan);
    if let Some(probed) = f.trailer_probe {
        let said = probed.said();
        record(plan, |f| f.trailer_probe = None);
        if let Some(algorithm) = plan.checksum {
            report::warning(&trailer_warning(algorithm, &said));
        }
    }
}

/// The probe's answer differs from the trailer's: the trailer was refused.
fn trailer_refused(plan: &Wire, first: &Refusal) {
    let said = facts(plan)
        .trailer_probe
        .map_or_else(|| said(first), |p| p.said());
    record(plan, |f| f.trailer_probe = None);
    if let Some(algorithm) = plan.checksum {
        report::warning(&trailer_warning(algorithm, &said));
    }
}

fn trailer_warning(algorithm: crate::checksum::Algorithm, said: &str) -> String {
    format!(
        "the store refused a checksum trailer ({said}): sending {} as a header, computed by a pass over the \
         data first, for the rest of this run",
        algorithm.api_name()
    )
}

/// The store took a checksum and keeps none (no echo in its answer, none in a HEAD):
/// later requests of the run check the ETag (and send Content-MD5 instead, when the
/// algorithm was s3push's choice).
pub fn learn_checksums_unkept(plan: &Wire) {
    if facts(plan).no_checksum {
        return;
    }
    record(plan, |f| f.no_checksum = true);
    report::warning(
        "the store keeps no checksums (none echoed, none in a HEAD): checking ETags against the MD5 of what \
         is sent, for the rest of this run",
    );
}

/// The store refused `If-Match` with the ETag quoted and took it bare: later requests
/// of the run send it bare.
pub fn learn_bare_if_match(plan: &Wire) {
    record(plan, |f| f.bare_if_match = true);
    report::warning(
        "the store refused If-Match with the ETag quoted (as S3 documents it) and took it bare: sending it bare \
         for the rest of this run",
    );
}

/// The store gave no checksum of a completed multipart object (s3s-fs): the object was
/// confirmed by its ETag, its parts read again; later multipart uploads of the run
/// compute the parts' MD5s while sending instead.
pub fn learn_no_object_checksum(plan: &Wire) {
    record(plan, |f| f.no_object_checksum = true);
    crate::report::trace::event(format_args!(
        "the store gave no checksum of the completed object: checking multipart ETags from here on"
    ));
}

/// The answers stores give to a checksum trailer they do not take: `400
/// XAmzContentSHA256Mismatch` (Ceph RGW 16.2, s3s before 0.12: the payload mode is
/// unknown), 501 or NotImplemented (Cloudflare R2), `411 MissingContentLength` (MinIO
/// forks before 2024, storj's gateway), and a 400 whose message names the trailer or the
/// payload mode (Garage's InvalidRequest "Invalid payload signature", Scality's BadRequest
/// "trailing checksum is not supported", versitygw's InvalidRequest "...x-amz-trailer
/// header is not supported", B2's InvalidArgument "Unsupported header 'x-amz-trailer'").
fn refuses_trailer(r: &Refusal) -> bool {
    let code = r.code.as_deref();
    if r.status == 501 || code == Some("NotImplemented") {
        return true;
    }
    if matches!(
        code,
        Some("XAmzContentSHA256Mismatch" | "MissingContentLength")
    ) || r.status == 411
    {
        return true;
    }
    let message = r
        .message
        .as_deref()
        .unwrap_or_default()
        .to_ascii_lowercase();
    r.status == 400
        && [
            "trailer",
            "trailing",
            "payload signature",
            "x-amz-content-sha256",
            "streaming",
            "aws-chunked",
            "chunk",
        ]
        .iter()
        .any(|w| message.contains(w))
}

/// A 400 that might be about the trailer or about anything else (no code, or a general
/// one, and a message that names neither): probed, see `learn_from_refusal`.
fn maybe_refuses_trailer(r: &Refusal) -> bool {
    r.status == 400
        && matches!(
            r.code.as_deref(),
            None | Some("InvalidArgument" | "InvalidRequest" | "BadRequest" | "IncompleteBody")
        )
}

/// The refusal's code, if one of those `maybe_refuses_trailer` knows (kept in `Facts`).
fn known_code(r: &Refusal) -> Option<&'static str> {
    match r.code.as_deref() {
        Some("InvalidArgument") => Some("InvalidArgument"),
        Some("InvalidRequest") => Some("InvalidRequest"),
        Some("BadRequest") => Some("BadRequest"),
        Some("IncompleteBody") => Some("IncompleteBody"),
        Some(_) => Some("another code"),
        None => None,
    }
}

/// A refusal that names checksums: 501/NotImplemented, or InvalidArgument/InvalidRequest
/// whose message is about a checksum. BadDigest never is (the bytes were damaged).
fn refuses_checksum(r: &Refusal) -> bool {
    let about_checksums = r
        .message
        .as_deref()
        .is_some_and(|m| m.to_ascii_lowercase().contains("checksum"));
    r.status == 501
        || r.code.as_deref() == Some("NotImplemented")
        || (matches!(
            r.code.as_deref(),
            Some("InvalidArgument" | "InvalidRequest")
        ) && about_checksums)
}

/// `400 XAmzContentSHA256Mismatch`, as the note quotes it.
fn said(r: &Refusal) -> String {
    match &r.code {
        Some(code) => format!("{} {code}", r.status),
        None => r.status.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(status: u16, code: Option<&str>, message: Option<&str>) -> Refusal {
        Refusal {
            status_line: format!("HTTP/1.1 {status} X"),
            status,
            code: code.map(str::to_string),
            message: message.map(str::to_string),
            request_id: None,
            hint: None,
            server_date: None,
            region: None,
        }
    }

    #[test]
    fn a_trailer_refusal_is_told_from_other_refusals() {
        assert!(refuses_trailer(&refusal(
            400,
            Some("XAmzContentSHA256Mismatch"),
            None
        )));
        assert!(refuses_trailer(&refusal(
            400,
            Some("InvalidRequest"),
            Some("Invalid payload signature")
        )));
        assert!(refuses_trailer(&refusal(501, None, None)));
        for (status, code) in [
            (403, "SignatureDoesNotMatch"),
            (403, "AccessDenied"),
            (400, "BadDigest"),
            (404, "NoSuchBucket"),
        ] {
            assert!(
                !refuses_trailer(&refusal(status, Some(code), None)),
                "{code}"
            );
        }
        assert!(refuses_trailer(&refusal(411, None, None)));
        assert!(refuses_trailer(&refusal(
            400,
            Some("BadRequest"),
            Some("trailing checksum is not supported")
        )));
        assert!(refuses_trailer(&refusal(
            400,
            Some("InvalidArgument"),
            Some("Unsupported header 'x-amz-trailer' received for this API call.")
        )));
        // Unrelated 400s: not a trailer refusal, only worth a probe without it.
        for (code, message) in [
            (
                "InvalidStorageClass",
                "The storage class you specified is not valid",
            ),
            ("InvalidTag", "The TagValue you have provided is invalid"),
            ("InvalidArgument", "Invalid storage class"),
        ] {
            let r = refusal(400, Some(code), Some(message));
            assert!(!refuses_trailer(&r), "{code}");
            assert_eq!(
                maybe_refuses_trailer(&r),
                code == "InvalidArgument",
                "{code}"
            );
        }
        assert!(maybe_refuses_trailer(&refusal(400, None, None)));
    }

    #[test]
    fn only_a_refusal_that_names_checksums_drops_them() {
        assert!(refuses_checksum(&refusal(501, None, None)));
        assert!(refuses_checksum(&refusal(
            400,
            Some("InvalidArgument"),
            Some("Unsupported checksum algorithm")
        )));
        assert!(!refuses_checksum(&refusal(
            400,
            Some("InvalidArgument"),
            Some("Invalid part number")
        )));
        assert!(!refuses_checksum(&refusal(400, Some("BadDigest"), None)));
    }
}
