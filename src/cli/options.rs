//! Readers of the option groups: each takes its flags out of the arguments and checks
//! their values (a bad value is a usage error, exit 2); `parse` calls them in turn.

use crate::config::{
    self, protection::ProtectionOptions, BatchOptions, MultipartOptions, ObjectHeaders, OnFailure,
    PayloadMode, SignatureVersion,
};
use crate::error::Error;
use pico_args::Arguments;
use std::path::PathBuf;
use std::time::Duration;

/// A pico-args error as a usage error.
pub(super) fn usage(e: pico_args::Error) -> Error {
    Error::Usage(format!("{e}: see s3push --help"))
}

/// The value of `flag`, as text.
pub(super) fn text(p: &mut Arguments, flag: &'static str) -> Result<Option<String>, Error> {
    p.opt_value_from_str::<_, String>(flag).map_err(usage)
}

/// The value of `flag`, as a path (any bytes the system takes).
pub(super) fn path(p: &mut Arguments, flag: &'static str) -> Result<Option<PathBuf>, Error> {
    p.opt_value_from_os_str::<_, _, std::convert::Infallible>(flag, |s| Ok(s.into()))
        .map_err(usage)
}

/// A number of seconds, more than 0 and at most a day.
pub(super) fn seconds(p: &mut Arguments, flag: &'static str) -> Result<Option<Duration>, Error> {
    match text(p, flag)? {
        None => Ok(None),
        Some(s) => match s.parse::<f64>() {
            Ok(v) if v > 0.0 && v <= 86_400.0 => Ok(Some(Duration::from_secs_f64(v))),
            _ => Err(Error::Usage(format!(
                "{flag} {s}: give a number of seconds between 0 and 86400"
            ))),
        },
    }
}

/// A size in bytes or with K, M, G, T (binary).
pub(super) fn size(p: &mut Arguments, flag: &'static str) -> Result<Option<u64>, Error> {
    match text(p, flag)? {
        None => Ok(None),
        Some(s) => config::parse_size(&s).map(Some).ok_or_else(|| {
            Error::Usage(format!(
                "{flag} {s}: give a size in bytes or with K, M, G, T (binary), like 64M"
            ))
        }),
    }
}

/// `--payload unsigned|signed|streaming`.
pub(super) fn payload(p: &mut Arguments) -> Result<Option<PayloadMode>, Error> {
    Ok(match text(p, "--payload")?.as_deref() {
        None => None,
        Some("unsigned") => Some(PayloadMode::Unsigned),
        Some("signed") => Some(PayloadMode::Signed),
        Some("streaming") => Some(PayloadMode::Streaming),
        Some(other) => {
            return Err(Error::Usage(format!(
                "--payload {other}: use unsigned, signed or streaming"
            )))
        }
    })
}

/// `--signature v4|v2` (uploads and presign).
pub(super) fn signature(p: &mut Arguments) -> Result<Option<SignatureVersion>, Error> {
    Ok(match text(p, "--signature")?.as_deref() {
        None => None,
        Some("v4" | "4") => Some(SignatureVersion::V4),
        Some("v2" | "2") => Some(SignatureVersion::V2),
        Some(other) => return Err(Error::Usage(format!("--signature {other}: use v4 or v2"))),
    })
}

/// The headers that describe the object: `--meta KEY=VALUE` (repeated), content type,
/// ACL, caching, storage class.
pub(super) fn object_headers(p: &mut Arguments) -> Result<ObjectHeaders, Error> {
    let mut meta = Vec::new();
    for m in p.values_from_str::<_, String>("--meta").map_err(usage)? {
        let (k, v) = m
            .split_once('=')
            .ok_or_else(|| Error::Usage(format!("--meta {m}: write it as --meta KEY=VALUE")))?;
        meta.push((k.to_string(), v.to_string()));
    }
    Ok(ObjectHeaders {
        content_type: text(p, "--content-type")?,
        acl: text(p, "--acl")?,
        cache_control: text(p, "--cache-control")?,
        content_disposition: text(p, "--content-disposition")?,
        content_encoding: text(p, "--content-encoding")?,
        storage_class: text(p, "--storage-class")?,
        meta,
    })
}

/// Part sizes, jobs, standard input's memory, and what a failed upload leaves.
pub(super) fn multipart(p: &mut Arguments) -> Result<MultipartOptions, Error> {
    Ok(MultipartOptions {
        threshold: size(p, "--multipart-threshold")?,
        part_size: size(p, "--part-size")?,
        expected_size: size(p, "--expected-size")?,
        max_memory: size(p, "--max-memory")?,
        exact_size: size(p, "--size")?,
        jobs: match text(p, "--jobs")? {
            None => None,
            Some(n) => Some(n.parse::<u32>().map_err(|_| {
                Error::Usage(format!("--jobs {n}: give a whole number from 1 to 64"))
            })?),
        },
        spool_dir: path(p, "--spool-dir")?,
        equal_parts: p.contains("--equal-parts"),
        on_failure: match text(p, "--on-failure")?.as_deref() {
            None => None,
            Some("abort") => Some(OnFailure::Abort),
            Some("keep") => Some(OnFailure::Keep),
            Some(other) => {
                return Err(Error::Usage(format!(
                    "--on-failure {other}: use abort or keep"
                )))
            }
        },
        resume: p.contains("--resume"),
        abort: p.contains("--abort"),
        upload_id: text(p, "--upload-id")?,
    })
}

/// `--limit-rate RATE`: bytes per second, more than 0.
pub(super) fn limit_rate(p: &mut Arguments) -> Result<Option<u64>, Error> {
    match text(p, "--limit-rate")? {
        None => Ok(None),
        Some(r) => Ok(Some(config::parse_size(&r).filter(|&n| n > 0).ok_or_else(
            || {
                Error::Usage(format!(
                    "--limit-rate {r}: give bytes per second, like 4MiB or 500K"
                ))
            },
        )?)),
    }
}

/// `--retries N`, 0 to 100.
pub(super) fn retries(p: &mut Arguments) -> Result<Option<u32>, Error> {
    match text(p, "--retries")? {
        None => Ok(None),
        Some(n) => Ok(Some(
            n.parse::<u32>().ok().filter(|&n| n <= 100).ok_or_else(|| {
                Error::Usage(format!("--retries {n}: give a whole number from 0 to 100"))
            })?,
        )),
    }
}

/// `--progress` or `--no-progress`, not both.
pub(super) fn progress(p: &mut Arguments) -> Result<Option<bool>, Error> {
    match (p.contains("--progress"), p.contains("--no-progress")) {
        (true, true) => Err(Error::Usage(
            "--progress and --no-progress: give one of them".into(),
        )),
        (true, false) => Ok(Some(true)),
        (false, true) => Ok(Some(false)),
        (false, false) => Ok(None),
    }
}

/// `-v` (1) or `-vv` (2), counted.
pub(super) fn verbose(p: &mut Arguments) -> u8 {
    let mut level = 0u8;
    while p.contains("-vv") {
        level = level.saturating_add(2);
    }
    while p.contains(["-v", "--verbose"]) {
        level = level.saturating_add(1);
    }
    level.min(2)
}

/// `--checksum ALGORITHM|none`: `Some(None)` is `none`.
pub(super) fn checksum(
    p: &mut Arguments,
) -> Result<Option<Option<crate::checksum::Algorithm>>, Error> {
    Ok(match text(p, "--checksum")?.as_deref() {
        None => None,
        Some("none") => Some(None),
        Some(name) => Some(Some(crate::checksum::Algorithm::parse(name).ok_or_else(
            || {
                Error::Usage(format!(
                    "--checksum {name}: use crc32, crc32c, crc64nvme, sha1, sha256 or none"
                ))
            },
        )?)),
    })
}

/// Encryption, tags, retention, owner checks (checked by config::protection).
pub(super) fn protection(p: &mut Arguments) -> Result<ProtectionOptions, Error> {
    Ok(ProtectionOptions {
        sse: text(p, "--sse")?,
        sse_kms_key_id: text(p, "--sse-kms-key-id")?,
        sse_kms_context: text(p, "--sse-kms-context")?,
        bucket_key_enabled: p.contains("--bucket-key-enabled"),
        sse_c_key_file: path(p, "--sse-c-key-file")?,
        tagging: text(p, "--tagging")?,
        lock_mode: text(p, "--object-lock-mode")?,
        lock_retain_until: text(p, "--object-lock-retain-until-date")?,
        legal_hold: text(p, "--object-lock-legal-hold-status")?,
        expected_bucket_owner: text(p, "--expected-bucket-owner")?,
        request_payer: text(p, "--request-payer")?,
        require_protection: p.contains("--require-protection"),
        skip_identical: p.contains("--skip-identical"),
    })
}

/// `--files-from FILE|-`, `-0`, `--fail-fast` (the sources come from the positionals).
pub(super) fn batch(p: &mut Arguments) -> Result<BatchOptions, Error> {
    Ok(BatchOptions {
        files_from: path(p, "--files-from")?,
        nul: p.contains("-0"),
        fail_fast: p.contains("--fail-fast"),
        sources: Vec::new(),
    })
}
