//! The completed object confirmed (upload::confirm): its checksum or its ETag against
//! the parts sent, and a lost answer to CompleteMultipartUpload settled by a HEAD.

use super::super::exchange::{self, Body};
use super::super::{adapt, call, confirm};
use super::failure::shell_word;
use super::{abort, PartDone, Session};
use crate::checksum::{self, Algorithm};
use crate::error::Error;
use crate::report;
use crate::s3;
use crate::transport::Response;
use crate::upload::wire::Wire;
use md5::{Digest, Md5};

/// When CompleteMultipartUpload says the upload is gone (NoSuchUpload; s3s-fs answers
/// AccessDenied), an earlier attempt may have completed it and lost the answer (a proxy
/// or load balancer that cuts a silent connection after 60 s, say). A HEAD of the object
/// settles it: the object's ETag (the MD5 of the parts' ETags, each an MD5) or its
/// checksum must be the one of the parts sent; then its answer stands for the lost one. Else `error`.
pub(super) fn confirm_completed(
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
    let plan = &session.wire;
    let request = s3::HeadObject {
        checksum_mode: true,
    }
    .request();
    let Ok(head) = call::send(plan, session.tls.as_ref(), request) else {
        return Err(error);
    };
    let response = head.response;
    // The ETag of an object assembled from exactly these parts, from the ETags the store
    // gave them (each part was checked as it was stored).
    let assembled = parts
        .iter()
        .map(|p| etag_md5(&p.etag))
        .collect::<Option<Vec<_>>>()
        .map(|md5s| etag_of_md5s(&md5s));
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
    let plan = &session.wire;
    let completed =
        s3::CompleteMultipartUpload::answer(&response.head, &response.body, plan.checksum);
    let etag = completed
        .etag
        .filter(|e| !unquote(e).is_empty() && confirm::etag_is_digest(&response.head));
    let expected_sum = plan.checksum.zip(object_checksum(plan.checksum, parts));
    let answered_sum = expected_sum.as_ref().and(completed.checksum);
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

fn same_checksum(plan: &Wire, a: Algorithm, theirs: &str, ours: &str) -> Result<(), Error> {
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

fn same_etag(plan: &Wire, parts: &[PartDone], theirs: &str, ours: &str) -> Result<(), Error> {
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

pub(crate) fn unquote(etag: &str) -> &str {
    let t = etag.trim();
    let t = t.strip_prefix("W/").unwrap_or(t);
    t.trim_matches('"')
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
