//! Protections after the fact (doc/protection.md): whether the store shows the
//! encryption, retention and tags asked for, and `--skip-identical`'s look before sending.

use super::{confirm, single, Outcome};
use crate::checksum::{Algorithm, Hasher, Md5};
use crate::error::Error;
use crate::http::response::ResponseHead;
use crate::sign::time::Timestamp;
use crate::upload::wire::Wire;
use std::io::Read;
use std::time::Instant;

/// The answer headers that show a protection took (kept in [`Outcome::echo`]).
pub const ECHOED: [&str; 4] = [
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-customer-algorithm",
    "x-amz-server-side-encryption-customer-key-md5",
    KMS_KEY,
];

const KMS_KEY: &str = "x-amz-server-side-encryption-aws-kms-key-id";

/// The protection headers of an answer, names lowercase.
pub fn echo(head: &ResponseHead) -> Vec<(String, String)> {
    ECHOED
        .iter()
        .filter_map(|n| {
            head.header(n)
                .map(|v| (n.to_string(), v.trim().to_string()))
        })
        .collect()
}

/// After an upload: each protection asked for and not shown by the store (the answer's
/// echo, else a HEAD) is a warning, or with `--require-protection` an integrity error
/// (exit 9: the object is stored, not protected as asked). Returns what was not shown,
/// one entry per protection, for `--json` (`protection_warnings`).
pub fn check(plan: &Wire, outcome: &Outcome) -> Result<Vec<String>, Error> {
    let p = &plan.protection;
    if !p.asked() {
        return Ok(Vec::new());
    }
    let echoed = |name: &str| {
        outcome
            .echo
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let needs_head = p.tagging.is_some()
        || p.lock_mode.is_some()
        || p.legal_hold.is_some()
        || (p.sse.is_some() && echoed(ECHOED[0]).is_none())
        || (p.sse_kms_key_id.is_some() && echoed(KMS_KEY).is_none())
        || (p.customer_key.is_some() && echoed(ECHOED[1]).is_none());
    let mut head = None;
    let mut missing = Vec::new();
    if needs_head {
        match single::tls_for(plan).and_then(|tls| confirm::head_object(plan, tls.as_ref())) {
            Ok(h) => head = Some(h),
            Err(e) => missing.push(format!("nothing could be checked (HEAD: {e})")),
        }
    }
    let shown = |name: &str| {
        echoed(name).or_else(|| {
            head.as_ref()
                .and_then(|h| h.header(name).map(|v| v.trim().to_string()))
        })
    };
    if head.is_some() || !needs_head {
        if let Some(sse) = &p.sse {
            match shown("x-amz-server-side-encryption") {
                Some(v) if &v == sse => {}
                Some(v) => missing.push(format!("--sse {sse} (the store says {v})")),
                None => missing.push(format!("--sse {sse} (no x-amz-server-side-encryption)")),
            }
        }
        if let Some(asked) = &p.sse_kms_key_id {
            match kms_key(asked, shown(KMS_KEY).as_deref()) {
                KmsKey::Same => {}
                KmsKey::Alias(theirs) => crate::report::note(
                    plan.quiet,
                    &format!(
                        "--sse-kms-key-id {asked} is an alias; the store names the key {theirs}, and an alias \
                         cannot be compared with it (give the key id or ARN to have it checked)"
                    ),
                ),
                KmsKey::Other(theirs) => missing.push(format!(
                    "--sse-kms-key-id {asked} (the store used the key {theirs})"
                )),
                KmsKey::Absent => missing.push(format!(
                    "--sse-kms-key-id {asked} (no {KMS_KEY})"
                )),
            }
        }
        if let Some(key) = &p.customer_key {
            let algorithm = shown("x-amz-server-side-encryption-customer-algorithm");
            let md5 = shown("x-amz-server-side-encryption-customer-key-md5");
            if algorithm.as_deref() != Some("AES256") || md5.is_some_and(|m| m != key.key_md5) {
                missing.push("--sse-c-key-file (no SSE-C with this key shown)".into());
            }
        }
        if let Some((_, count)) = &p.tagging {
            let theirs = shown("x-amz-tagging-count").and_then(|v| v.parse::<usize>().ok());
            if theirs != Some(*count) {
                missing.push(format!(
                    "--tagging ({count} tags asked, x-amz-tagging-count {})",
                    theirs.map_or("absent".to_string(), |n| n.to_string())
                ));
            }
        }
        if let (Some(mode), Some(until)) = (&p.lock_mode, &p.lock_retain_until) {
            let theirs_mode = shown("x-amz-object-lock-mode");
            let theirs_until = shown("x-amz-object-lock-retain-until-date")
                .and_then(|d| Timestamp::parse_iso8601(&d));
            let ours_until = Timestamp::parse_iso8601(until);
            if theirs_mode.as_deref() != Some(mode.as_str())
                || theirs_until.map(|t| t.unix()) != ours_until.map(|t| t.unix())
            {
                missing.push(format!("--object-lock-mode {mode} until {until}"));
            }
        }
        if let Some(hold) = &p.legal_hold {
            let theirs = shown("x-amz-object-lock-legal-hold");
            let fine = match hold.as_str() {
                "ON" => theirs.as_deref() == Some("ON"),
                _ => theirs.as_deref() != Some("ON"),
            };
            if !fine {
                missing.push(format!("--object-lock-legal-hold-status {hold}"));
            }
        }
    }
    if missing.is_empty() {
        return Ok(missing);
    }
    let message = format!(
        "{} is stored, but not protected as asked: {}",
        plan.url(),
        missing.join("; ")
    );
    if p.require {
        return Err(Error::Integrity(format!(
            "{message} (--require-protection; the object was left in place)"
        )));
    }
    crate::report::warning(&format!(
        "{message} (the store may not support it; --require-protection makes this an error)"
    ));
    Ok(missing)
}

/// What the store's `x-amz-server-side-encryption-aws-kms-key-id` says of the key asked.
#[derive(Debug, PartialEq, Eq)]
enum KmsKey {
    Same,
    /// An alias was asked: the store names the key, which an alias cannot be matched to.
    Alias(String),
    Other(String),
    Absent,
}

/// S3 answers with the key's ARN (`arn:aws:kms:REGION:ACCOUNT:key/ID`); the key was
/// asked by id, by ARN or by alias (`alias/NAME` or its ARN). An id matches the ARN that
/// ends with it (and the other way round).
fn kms_key(asked: &str, theirs: Option<&str>) -> KmsKey {
    let Some(theirs) = theirs.map(str::trim).filter(|t| !t.is_empty()) else {
        return KmsKey::Absent;
    };
    let last = |arn: &str| {
        arn.rsplit_once(":key/")
            .map_or(arn, |(_, id)| id)
            .to_string()
    };
    if asked == theirs || last(asked) == last(theirs) {
        return KmsKey::Same;
    }
    if asked.starts_with("alias/") || asked.contains(":alias/") {
        return KmsKey::Alias(theirs.to_string());
    }
    KmsKey::Other(theirs.to_string())
}

/// `--skip-identical`: the stored object, when it has the file's size and its checksum
/// (asked with x-amz-checksum-mode) or an MD5 ETag equal to the file's MD5, is left as
/// it is and reported skipped. None: upload (no object, another one, or no way to tell).
pub fn identical(plan: &Wire) -> Result<Option<Outcome>, Error> {
    let started = Instant::now();
    let size = std::fs::metadata(&plan.source)
        .map_err(|e| Error::LocalFile(format!("{}: {e}", plan.source.display())))?
        .len();
    let tls = single::tls_for(plan)?;
    let head = match confirm::head_object(plan, tls.as_ref()) {
        Ok(h) => h,
        Err(Error::Refused(r)) if r.status == 404 => return Ok(None),
        Err(e) => {
            crate::report::note(
                plan.quiet,
                &format!(
                    "--skip-identical: could not look at {} ({e}); uploading",
                    plan.url()
                ),
            );
            return Ok(None);
        }
    };
    let length = head
        .header("content-length")
        .and_then(|v| v.trim().parse::<u64>().ok());
    if length != Some(size) {
        return Ok(None);
    }
    // A full-object checksum (a composite one, `...-N`, depends on the part sizes).
    let stored = plan
        .checksum
        .into_iter()
        .chain(Algorithm::ALL)
        .find_map(|a| {
            head.header(a.header_name())
                .map(|v| (a, v.trim().to_string()))
                .filter(|(_, v)| !v.contains('-'))
        });
    let same = if let Some((a, theirs)) = &stored {
        let mut h = Hasher::new(*a);
        read_all(plan, |b| h.update(b))?;
        &h.finish().to_base64() == theirs
    } else if let Some(theirs) = confirm::md5_etag(&head) {
        let mut m = Md5::new();
        read_all(plan, |b| m.update(b))?;
        m.finish() == theirs
    } else {
        false
    };
    if !same {
        return Ok(None);
    }
    Ok(Some(Outcome {
        etag: head.header("etag").map(str::to_string),
        version_id: head.header("x-amz-version-id").map(str::to_string),
        checksum: stored,
        skipped: true,
        ..Outcome::of(plan, size, started.elapsed())
    }))
}

/// One pass over the source file, 8 KiB at a time.
fn read_all(plan: &Wire, mut each: impl FnMut(&[u8])) -> Result<(), Error> {
    let local = |e: std::io::Error| Error::LocalFile(format!("{}: {e}", plan.source.display()));
    let mut file = std::fs::File::open(&plan.source).map_err(local)?;
    let mut buf = [0u8; 8192];
    loop {
        let n = file.read(&mut buf).map_err(local)?;
        if n == 0 {
            return Ok(());
        }
        each(buf.get(..n).unwrap_or_default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kms_key_id_matches_the_arn_that_ends_with_it() {
        let arn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let id = "1234abcd-12ab-34cd-56ef-1234567890ab";
        assert_eq!(kms_key(id, Some(arn)), KmsKey::Same);
        assert_eq!(kms_key(arn, Some(arn)), KmsKey::Same);
        assert_eq!(kms_key(arn, Some(id)), KmsKey::Same);
        assert_eq!(
            kms_key("0000abcd-12ab-34cd-56ef-1234567890ab", Some(arn)),
            KmsKey::Other(arn.into())
        );
        assert_eq!(
            kms_key("alias/backups", Some(arn)),
            KmsKey::Alias(arn.into())
        );
        assert_eq!(
            kms_key(
                "arn:aws:kms:us-east-1:111122223333:alias/backups",
                Some(arn)
            ),
            KmsKey::Alias(arn.into())
        );
        assert_eq!(kms_key(id, None), KmsKey::Absent);
        assert_eq!(kms_key(id, Some(" ")), KmsKey::Absent);
    }
}
