//! Protections asked for on the command line (doc/protection.md): server-side encryption
//! (SSE-S3, SSE-KMS, DSSE-KMS, SSE-C), tags, Object Lock retention and legal hold, the
//! bucket owner and requester-pays headers. Checked here, before anything is sent; a bad
//! value is a usage error.

use crate::error::Error;
use crate::secret::Secret;
use crate::sign::time::Timestamp;
use base64::Engine;
use std::path::PathBuf;

/// The protection flags as given.
#[derive(Debug, Default, Clone)]
pub struct ProtectionOptions {
    /// `--sse AES256|aws:kms|aws:kms:dsse`.
    pub sse: Option<String>,
    pub sse_kms_key_id: Option<String>,
    /// `--sse-kms-context JSON` (sent base64-encoded).
    pub sse_kms_context: Option<String>,
    pub bucket_key_enabled: bool,
    /// `--sse-c-key-file FILE`: exactly 32 raw bytes.
    pub sse_c_key_file: Option<PathBuf>,
    /// `--tagging 'K=V&K2=V2'`.
    pub tagging: Option<String>,
    pub lock_mode: Option<String>,
    pub lock_retain_until: Option<String>,
    pub legal_hold: Option<String>,
    pub expected_bucket_owner: Option<String>,
    pub request_payer: Option<String>,
    pub require_protection: bool,
    pub skip_identical: bool,
}

/// A customer-provided key (SSE-C), as its headers carry it.
#[derive(Debug, Clone)]
pub struct CustomerKey {
    /// Base64 of the 32 bytes: a secret, masked in traces and never in a message.
    pub key: Secret,
    /// Base64 of the key's MD5 (not secret: it identifies the key).
    pub key_md5: String,
}

/// What the store is asked for, and what is checked after the upload.
#[derive(Debug, Clone, Default)]
pub struct Protection {
    /// `--sse` (x-amz-server-side-encryption).
    pub sse: Option<String>,
    pub sse_kms_key_id: Option<String>,
    /// Base64 of the JSON, as sent.
    pub sse_kms_context: Option<String>,
    pub bucket_key_enabled: bool,
    pub customer_key: Option<CustomerKey>,
    /// The tag set, URL-encoded as S3 wants it, and how many tags it holds.
    pub tagging: Option<(String, usize)>,
    pub lock_mode: Option<String>,
    /// RFC 3339, UTC, as sent.
    pub lock_retain_until: Option<String>,
    pub legal_hold: Option<String>,
    pub expected_bucket_owner: Option<String>,
    pub request_payer: Option<String>,
    pub require: bool,
    pub skip_identical: bool,
}

impl Protection {
    /// True when anything is asked of the store that the answer or a HEAD can show.
    pub fn asked(&self) -> bool {
        self.sse.is_some()
            || self.customer_key.is_some()
            || self.tagging.is_some()
            || self.lock_mode.is_some()
            || self.legal_hold.is_some()
    }

    /// True when the request must carry a checksum or Content-MD5 (Object Lock).
    pub fn needs_integrity_header(&self) -> bool {
        self.lock_mode.is_some() || self.legal_hold.is_some()
    }

    /// Headers of PutObject and CreateMultipartUpload that protect the object.
    pub fn object_headers(&self) -> Vec<(String, String)> {
        let mut h = Vec::new();
        let mut add = |name: &str, value: Option<&str>| {
            if let Some(v) = value {
                h.push((name.to_string(), v.to_string()));
            }
        };
        add("x-amz-server-side-encryption", self.sse.as_deref());
        add(
            "x-amz-server-side-encryption-aws-kms-key-id",
            self.sse_kms_key_id.as_deref(),
        );
        add(
            "x-amz-server-side-encryption-context",
            self.sse_kms_context.as_deref(),
        );
        if self.bucket_key_enabled {
            add(
                "x-amz-server-side-encryption-bucket-key-enabled",
                Some("true"),
            );
        }
        add(
            "x-amz-tagging",
            self.tagging.as_ref().map(|(t, _)| t.as_str()),
        );
        add("x-amz-object-lock-mode", self.lock_mode.as_deref());
        add(
            "x-amz-object-lock-retain-until-date",
            self.lock_retain_until.as_deref(),
        );
        add("x-amz-object-lock-legal-hold", self.legal_hold.as_deref());
        h
    }

    /// Headers of every request: the bucket owner and requester-pays checks, and for
    /// requests to the object (`to_object`), the SSE-C key.
    pub fn request_headers(&self, to_object: bool) -> Vec<(String, String)> {
        let mut h = Vec::new();
        if let Some(owner) = &self.expected_bucket_owner {
            h.push(("x-amz-expected-bucket-owner".into(), owner.clone()));
        }
        if let Some(payer) = &self.request_payer {
            h.push(("x-amz-request-payer".into(), payer.clone()));
        }
        if let (true, Some(k)) = (to_object, &self.customer_key) {
            h.push((
                "x-amz-server-side-encryption-customer-algorithm".into(),
                "AES256".into(),
            ));
            h.push((
                "x-amz-server-side-encryption-customer-key".into(),
                k.key.expose().to_string(),
            ));
            h.push((
                "x-amz-server-side-encryption-customer-key-md5".into(),
                k.key_md5.clone(),
            ));
        }
        h
    }
}

/// Checks the flags; `https`: the endpoint is TLS (SSE-C needs it). `now`: for the
/// retention date, which must be in the future.
pub fn resolve(o: ProtectionOptions, https: bool, now: Timestamp) -> Result<Protection, Error> {
    let usage = |m: String| Err(Error::Usage(m));
    let sse = match o.sse.as_deref() {
        None => None,
        Some(v @ ("AES256" | "aws:kms" | "aws:kms:dsse")) => Some(v.to_string()),
        Some(other) => {
            return usage(format!(
                "--sse {other}: use AES256, aws:kms or aws:kms:dsse"
            ))
        }
    };
    let kms = sse.as_deref().is_some_and(|s| s.starts_with("aws:kms"));
    for (flag, given) in [
        ("--sse-kms-key-id", o.sse_kms_key_id.is_some()),
        ("--sse-kms-context", o.sse_kms_context.is_some()),
    ] {
        if given && !kms {
            return usage(format!(
                "{flag} goes with --sse aws:kms or --sse aws:kms:dsse: add one of them"
            ));
        }
    }
    if o.bucket_key_enabled && !kms {
        return usage("--bucket-key-enabled goes with --sse aws:kms: add it".into());
    }
    if let Some(id) = &o.sse_kms_key_id {
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_graphic()) {
            return usage(format!(
                "--sse-kms-key-id '{id}': give a KMS key id, alias or ARN (printable, no spaces)"
            ));
        }
    }
    let sse_kms_context = match &o.sse_kms_context {
        None => None,
        Some(text) => {
            let strings = crate::config::json::Object::parse(text).is_some_and(|obj| {
                obj.members
                    .iter()
                    .all(|(_, v)| matches!(v, crate::config::json::Value::String(_)))
            });
            if !strings {
                return usage(
                    "--sse-kms-context: give a JSON object of strings, like '{\"project\":\"backups\"}'"
                        .into(),
                );
            }
            Some(crate::checksum::base64(text.trim().as_bytes()))
        }
    };
    let customer_key = match &o.sse_c_key_file {
        None => None,
        Some(path) => {
            if sse.is_some() {
                return usage(
                    "--sse-c-key-file and --sse: an object is encrypted one way; choose one".into(),
                );
            }
            if !https {
                return usage(
                    "--sse-c-key-file needs an https endpoint: the key travels in the request headers"
                        .into(),
                );
            }
            let bytes = std::fs::read(path).map_err(|e| {
                Error::Usage(format!(
                    "--sse-c-key-file {}: cannot read it ({e})",
                    path.display()
                ))
            })?;
            if bytes.len() != 32 {
                let n = bytes.len();
                crate::secret::wipe(bytes);
                return usage(format!(
                    "--sse-c-key-file {}: holds {n} bytes, and an SSE-C key is exactly 32 raw bytes \
                     (make one with: head -c 32 /dev/urandom > key)",
                    path.display()
                ));
            }
            let mut md5 = crate::checksum::Md5::new();
            md5.update(&bytes);
            let key = Secret::new(base64::engine::general_purpose::STANDARD.encode(&bytes));
            crate::secret::wipe(bytes);
            Some(CustomerKey {
                key,
                key_md5: crate::checksum::base64(&md5.finish()),
            })
        }
    };
    let tagging = match &o.tagging {
        None => None,
        Some(text) => Some(tag_set(text)?),
    };
    let lock_mode = match o.lock_mode.as_deref() {
        None => None,
        Some(v @ ("GOVERNANCE" | "COMPLIANCE")) => Some(v.to_string()),
        Some(other) => {
            return usage(format!(
                "--object-lock-mode {other}: use GOVERNANCE or COMPLIANCE"
            ))
        }
    };
    let lock_retain_until = match (&lock_mode, &o.lock_retain_until) {
        (None, None) => None,
        (Some(_), None) | (None, Some(_)) => {
            return usage(
                "--object-lock-mode and --object-lock-retain-until-date go together: give both"
                    .into(),
            )
        }
        (Some(_), Some(date)) => {
            let Some(t) = Timestamp::parse_iso8601(date) else {
                return usage(format!(
                    "--object-lock-retain-until-date {date}: give an RFC 3339 date, like 2030-01-31T00:00:00Z"
                ));
            };
            if t.unix() <= now.unix() {
                return usage(format!(
                    "--object-lock-retain-until-date {date}: that is not in the future"
                ));
            }
            Some(rfc3339(t))
        }
    };
    let legal_hold = match o.legal_hold.as_deref() {
        None => None,
        Some(v @ ("ON" | "OFF")) => Some(v.to_string()),
        Some(other) => {
            return usage(format!(
                "--object-lock-legal-hold-status {other}: use ON or OFF"
            ))
        }
    };
    if let Some(owner) = &o.expected_bucket_owner {
        if owner.len() != 12 || !owner.bytes().all(|b| b.is_ascii_digit()) {
            return usage(format!(
                "--expected-bucket-owner {owner}: give the 12-digit AWS account id"
            ));
        }
    }
    if let Some(payer) = &o.request_payer {
        if payer != "requester" {
            return usage(format!(
                "--request-payer {payer}: the only value is requester"
            ));
        }
    }
    Ok(Protection {
        sse,
        sse_kms_key_id: o.sse_kms_key_id,
        sse_kms_context,
        bucket_key_enabled: o.bucket_key_enabled,
        customer_key,
        tagging,
        lock_mode,
        lock_retain_until,
        legal_hold,
        expected_bucket_owner: o.expected_bucket_owner,
        request_payer: o.request_payer,
        require: o.require_protection,
        skip_identical: o.skip_identical,
    })
}

/// `2030-01-31T00:00:00Z`.
fn rfc3339(t: Timestamp) -> String {
    let d = t.amz_date(); // 20300131T000000Z
    let part = |r: std::ops::Range<usize>| d.get(r).unwrap_or_default();
    format!(
        "{}-{}-{}T{}:{}:{}Z",
        part(0..4),
        part(4..6),
        part(6..8),
        part(9..11),
        part(11..13),
        part(13..15)
    )
}

/// `K=V&K2=V2` (plain or already %-encoded) into the tag set S3 takes, each key and value
/// encoded once, and the number of tags. S3's limits: at most 10 tags, keys 1 to 128
/// characters, values up to 256, no key twice, no `aws:` keys.
pub fn tag_set(text: &str) -> Result<(String, usize), Error> {
    let bad = |why: &str| {
        Error::Usage(format!(
            "--tagging '{text}': {why}; give KEY=VALUE pairs joined by '&', like 'team=ops&keep=30d'"
        ))
    };
    let mut keys: Vec<String> = Vec::new();
    let mut encoded = Vec::new();
    for pair in text.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = crate::sign::uri::decode(k).ok_or_else(|| bad("a bad %-escape"))?;
        let v = crate::sign::uri::decode(v).ok_or_else(|| bad("a bad %-escape"))?;
        let (klen, vlen) = (k.chars().count(), v.chars().count());
        if klen == 0 {
            return Err(bad("a tag has no key"));
        }
        if klen > 128 || vlen > 256 {
            return Err(bad("a key is at most 128 characters, a value 256"));
        }
        if k.starts_with("aws:") {
            return Err(bad("keys starting with aws: are AWS's own"));
        }
        if k.chars().chain(v.chars()).any(char::is_control) {
            return Err(bad("a control character"));
        }
        if keys.contains(&k) {
            return Err(bad(&format!("the key '{k}' is given twice")));
        }
        encoded.push(format!(
            "{}={}",
            crate::sign::uri::encode_component(&k),
            crate::sign::uri::encode_component(&v)
        ));
        keys.push(k);
    }
    if keys.len() > 10 {
        return Err(bad("at most 10 tags"));
    }
    Ok((encoded.join("&"), keys.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_checked_and_encoded_once() {
        assert_eq!(
            tag_set("team=ops&note=a b/c&empty=").unwrap(),
            ("team=ops&note=a%20b%2Fc&empty=".to_string(), 3)
        );
        assert_eq!(tag_set("k=a%20b").unwrap().0, "k=a%20b");
        for bad in ["=v", "a=1&a=2", "aws:x=1", "k=%zz", "&"] {
            assert!(tag_set(bad).is_err(), "{bad}");
        }
        let many: Vec<String> = (0..11).map(|i| format!("k{i}=v")).collect();
        assert!(tag_set(&many.join("&")).is_err());
    }

    #[test]
    fn dates_are_normalized_to_utc() {
        let t = Timestamp::parse_iso8601("2030-01-31T02:00:00+02:00").unwrap();
        assert_eq!(rfc3339(t), "2030-01-31T00:00:00Z");
    }
}
