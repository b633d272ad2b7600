//! What "confirmed" means, once for every upload. s3push says an object is stored only
//! when something the store computed over what it received agrees with what was sent:
//!
//! 1. its echo of the checksum sent (`x-amz-checksum-*` in the answer), or
//! 2. its ETag, where the ETag is an MD5 (not for SSE-KMS or SSE-C objects), equal to the
//!    MD5 of what was sent, or
//! 3. its acceptance of a Content-MD5 (it refuses a body that does not match it), or
//! 4. where the answer settles none of these, a HEAD with `x-amz-checksum-mode: ENABLED`:
//!    the length sent, and the checksum sent or (5.) the MD5 ETag.
//!
//! The MD5 costs a pass (1.4 s of CPU per GiB): it is computed while sending only where
//! the user asked for the ETag check or the store has shown that it keeps no checksums
//! (upload::adapt learns that here, from a HEAD without one), and otherwise only when
//! steps 1 and 3 did not settle it. A mismatch is an integrity error; so is an answer that
//! nothing confirms (exit 9), never a success.

use super::adapt;
use super::exchange::{self, Answer, Body, Integrity};
use super::multipart::{etag_md5, hex};
use crate::checksum::Algorithm;
use crate::error::Error;
use crate::http::response::ResponseHead;
use crate::upload::wire::Wire;
use rustls::ClientConfig;
use std::sync::Arc;

/// Why an object is not reported stored.
#[derive(Debug)]
pub enum Failed {
    /// The store holds other bytes than were sent: not to be trusted.
    Mismatch(String),
    /// Anything else: nothing confirms the bytes, or the confirmation itself failed.
    Other(Error),
}

impl From<Error> for Failed {
    fn from(e: Error) -> Failed {
        Failed::Other(e)
    }
}

/// Confirms the object one PutObject stored from `body`; `md5` is the MD5 of what was
/// sent when it was computed. Returns the checksum the store verified, if one did.
pub fn put(
    plan: &Wire,
    tls: Option<&Arc<ClientConfig>>,
    body: Body<'_>,
    answer: &Answer,
    md5: Option<[u8; 16]>,
    integrity: &Integrity,
) -> Result<Option<(Algorithm, String)>, Failed> {
    adapt::took(plan);
    let head = &answer.response.head;
    let sent = plan.checksum.zip(answer.checksum.clone());
    // 1. The echo (a different one failed already, in exchange::once).
    if let Some((a, _)) = &sent {
        if head.header(a.header_name()).is_some() {
            return Ok(sent);
        }
    }
    // 2. The ETag, against an MD5 computed already.
    if let (Some(ours), Some(theirs)) = (md5, md5_etag(head)) {
        return if ours == theirs {
            Ok(None)
        } else {
            Err(etag_mismatch(head, &ours))
        };
    }
    // 3. A Content-MD5 the store took.
    if integrity.content_md5.is_some() {
        return Ok(None);
    }
    // 4. A HEAD (a URL destination signs one PUT: nothing else can be asked).
    let mut headed = None;
    if plan.url_target.is_none() {
        if let Ok(found) = head_object(plan, tls) {
            let length = found.header("content-length").and_then(|v| v.parse().ok());
            if length != Some(body.len()) {
                return Err(Failed::Mismatch(format!(
                    "the store holds {} bytes under the key, not the {} sent",
                    length.map_or_else(
                        || "an unknown number of".to_string(),
                        |n: u64| n.to_string()
                    ),
                    body.len()
                )));
            }
            if let Some((a, ours)) = &sent {
                match found.header(a.header_name()) {
                    Some(theirs) if theirs.trim() == ours => return Ok(sent),
                    Some(theirs) => {
                        return Err(Failed::Mismatch(format!(
                            "the store holds an object whose {} is {theirs}, not the {ours} sent",
                            a.api_name()
                        )))
                    }
                    None => adapt::learn_checksums_unkept(plan),
                }
            }
            headed = Some(found);
        }
    }
    // 5. The ETag, against the MD5 of a pass over what was sent.
    if let Some(theirs) = md5_etag(head).or_else(|| headed.as_ref().and_then(md5_etag)) {
        let ours = match md5 {
            Some(m) => m,
            None => exchange::prepass(body, false, None, true)?
                .md5
                .unwrap_or_default(),
        };
        return if ours == theirs {
            Ok(None)
        } else {
            Err(etag_mismatch(head, &ours))
        };
    }
    Err(Failed::Other(unconfirmed(plan, head)))
}

/// Checks one part by the answer to UploadPart: a checksum echo that differs failed
/// already (exchange::once); here the store's ETag against the MD5 of what was sent. The
/// object as a whole is confirmed at the end (`multipart::verify_object`); a part of
/// standard input cannot be read again then, so where the store echoed no checksum its
/// MD5 is computed now, from the part held. Returns the MD5 when known; an error when the
/// part arrived damaged.
pub fn part(
    plan: &Wire,
    number: u32,
    body: Body<'_>,
    answer: &Answer,
    md5: Option<[u8; 16]>,
) -> Result<Option<[u8; 16]>, Error> {
    adapt::took(plan);
    let head = &answer.response.head;
    let echoed = plan
        .checksum
        .is_some_and(|a| head.header(a.header_name()).is_some());
    let theirs = md5_etag(head);
    let md5 = match md5 {
        None if !echoed && plan.from_stdin() && theirs.is_some() => {
            exchange::prepass(body, false, None, true)?.md5
        }
        md5 => md5,
    };
    match (md5, theirs) {
        (Some(ours), Some(theirs)) if ours != theirs => Err(Error::Integrity(format!(
            "part {number} arrived damaged: the store's ETag {} is not the MD5 of the bytes sent ({})",
            head.header("etag").unwrap_or_default(),
            hex(&ours)
        ))),
        _ => Ok(md5),
    }
}

/// HEAD of the plan's object, asking for its checksum.
pub fn head_object(plan: &Wire, tls: Option<&Arc<ClientConfig>>) -> Result<ResponseHead, Error> {
    let request = crate::s3::HeadObject {
        checksum_mode: true,
    }
    .request();
    super::call::send(plan, tls, request).map(|a| a.response.head)
}

/// The MD5 an answer's ETag is, when it is one: not for an object the store encrypted
/// with SSE-KMS or SSE-C (its ETag is no MD5 of the data, whatever its shape).
pub fn md5_etag(head: &ResponseHead) -> Option<[u8; 16]> {
    if !etag_is_digest(head) {
        return None;
    }
    head.header("etag").and_then(etag_md5)
}

/// False for an object the store encrypted with SSE-KMS or SSE-C: its ETag, single or
/// multipart, is no digest of the data (S3 API reference, "Common Response Headers").
pub fn etag_is_digest(head: &ResponseHead) -> bool {
    let kms = head
        .header("x-amz-server-side-encryption")
        .is_some_and(|v| v.trim().starts_with("aws:kms"));
    let customer = head
        .header("x-amz-server-side-encryption-customer-algorithm")
        .is_some();
    !(kms || customer)
}

fn etag_mismatch(head: &ResponseHead, ours: &[u8; 16]) -> Failed {
    Failed::Mismatch(format!(
        "the store's ETag {} is not the MD5 of the bytes sent ({})",
        head.header("etag").unwrap_or_default(),
        hex(ours)
    ))
}

/// Stored, and nothing confirms it.
pub fn unconfirmed(plan: &Wire, head: &ResponseHead) -> Error {
    Error::Integrity(format!(
        "the store answered {} but nothing confirms the bytes of {}: no checksum echoed or kept, and its ETag ({}) \
         is not an MD5 to compare; do not trust it until it is read back and compared",
        head.status_line(),
        plan.url(),
        head.header("etag").unwrap_or("none")
    ))
}
