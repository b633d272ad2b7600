//! What the command line said, before resolution: the option types `cli` fills in.

use super::protection;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureVersion {
    V4,
    V2,
}

/// How the body is covered by a SigV4 signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadMode {
    /// `UNSIGNED-PAYLOAD`: one pass; TLS protects the bytes.
    Unsigned,
    /// The body's SHA-256 in the signature: a first pass over the file to hash it.
    Signed,
    /// aws-chunked: every 8 KiB chunk signed with the one before, in one pass.
    Streaming,
}

/// What the command line said, before resolution.
#[derive(Debug, Default, Clone)]
pub struct Options {
    pub source: PathBuf,
    pub destination: String,
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub profile: Option<String>,
    pub path_style: bool,
    pub payload: Option<PayloadMode>,
    pub signature: Option<SignatureVersion>,
    pub object: ObjectHeaders,
    pub ca_bundle: Option<PathBuf>,
    /// `--proxy URL`, or `none`.
    pub proxy: Option<String>,
    pub dualstack: bool,
    pub fips: bool,
    pub accelerate: bool,
    pub connect_timeout: Option<Duration>,
    pub timeout: Option<Duration>,
    pub retries: Option<u32>,
    pub retry_max_wait: Option<Duration>,
    /// `--limit-rate`: body bytes per second, for the whole process.
    pub limit_rate: Option<u64>,
    pub no_expect: bool,
    pub quiet: bool,
    /// `--json`: results as JSON objects on stdout.
    pub json: bool,
    /// `--progress` (Some(true)) or `--no-progress` (Some(false)).
    pub progress: Option<bool>,
    /// `-v` (1) or `-vv` (2).
    pub verbose: u8,
    pub multipart: MultipartOptions,
    /// `--checksum`: Some(None) is `none`.
    pub checksum: Option<Option<crate::checksum::Algorithm>>,
    pub content_md5: bool,
    pub verify_etag: bool,
    pub delete_on_mismatch: bool,
    /// `--no-sign-request`: send requests without a signature (public-write buckets).
    pub no_sign_request: bool,
    /// `--dry-run`: show the first request, secrets masked, and send nothing.
    pub dry_run: bool,
    /// `--no-clobber`: never overwrite an existing object (If-None-Match: *).
    pub no_clobber: bool,
    /// `--if-match ETAG`: overwrite only the object with this ETag (If-Match).
    pub if_match: Option<String>,
    /// Encryption, tags, retention, owner checks (doc/protection.md).
    pub protection: protection::ProtectionOptions,
    pub batch: BatchOptions,
}

/// What the command line said about several files (see `crate::batch`).
#[derive(Debug, Default, Clone)]
pub struct BatchOptions {
    /// The sources named on the command line when there are several of them (`source`
    /// holds the one source otherwise).
    pub sources: Vec<PathBuf>,
    /// `--files-from FILE|-`: more sources, one a line.
    pub files_from: Option<PathBuf>,
    /// `-0`: the list of --files-from is NUL-separated.
    pub nul: bool,
    /// `--fail-fast`: the first failed file stops the batch.
    pub fail_fast: bool,
}

impl BatchOptions {
    /// True when the command names more than one source, or a list of them.
    pub fn is_batch(&self) -> bool {
        self.files_from.is_some() || self.sources.len() > 1
    }
}

/// A conditional write (S3 user guide, "Conditional requests"): sent on PutObject and on
/// CompleteMultipartUpload; the store answers 412 Precondition Failed when it does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `If-None-Match: *`: only when no object has the key.
    NoneMatch,
    /// `If-Match: "ETAG"`: only over the object that has this ETag.
    Match(String),
}

impl Condition {
    /// The header that carries the condition.
    pub fn header(&self) -> (String, String) {
        match self {
            Condition::NoneMatch => ("if-none-match".into(), "*".into()),
            Condition::Match(etag) => ("if-match".into(), etag.clone()),
        }
    }

    /// The flag that asked for it.
    pub fn flag(&self) -> &'static str {
        match self {
            Condition::NoneMatch => "--no-clobber",
            Condition::Match(_) => "--if-match",
        }
    }
}

/// What the command line said about multipart uploads.
#[derive(Debug, Default, Clone)]
pub struct MultipartOptions {
    pub threshold: Option<u64>,
    pub part_size: Option<u64>,
    pub jobs: Option<u32>,
    pub spool_dir: Option<PathBuf>,
    /// `--max-memory`: the cap on what standard input holds.
    pub max_memory: Option<u64>,
    pub expected_size: Option<u64>,
    /// `--size`: standard input's exact length.
    pub exact_size: Option<u64>,
    pub equal_parts: bool,
    pub on_failure: Option<OnFailure>,
    pub resume: bool,
    pub abort: bool,
    pub upload_id: Option<String>,
}

/// What happens to a multipart upload that cannot finish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// AbortMultipartUpload: the stored parts are deleted.
    Abort,
    /// Leave it, journal it, and print the command that resumes it.
    Keep,
}

/// Headers that describe the stored object, as the user gave them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ObjectHeaders {
    pub content_type: Option<String>,
    pub acl: Option<String>,
    pub cache_control: Option<String>,
    pub content_disposition: Option<String>,
    pub content_encoding: Option<String>,
    pub storage_class: Option<String>,
    /// `x-amz-meta-NAME: value` pairs, names lowercased.
    pub meta: Vec<(String, String)>,
}
