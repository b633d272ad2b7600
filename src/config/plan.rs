//! The resolved [`Plan`]: everything an upload needs, checked. `resolve` builds it.

use super::checks::{check_object_headers, parse_destination};
use super::memory;
use super::{
    protection, AwsVariant, Condition, CredentialSource, Endpoint, Env, ObjectHeaders, OnFailure,
    PayloadMode, ProxyRoute, SignatureVersion, Trust, UrlTarget,
};
use crate::error::Error;
use std::path::PathBuf;
use std::time::Duration;

/// Multipart settings, resolved.
#[derive(Debug, Clone)]
pub struct Multipart {
    /// Files larger than this go up in parts.
    pub threshold: u64,
    pub part_size: Option<u64>,
    /// Parts in flight at once.
    pub jobs: u32,
    /// Hold standard input's parts in unlinked files here instead of memory.
    pub spool_dir: Option<PathBuf>,
    /// Standard input's likely size (`--size` when given).
    pub expected_size: Option<u64>,
    /// Standard input's exact size: a stream of another length is not stored.
    pub exact_size: Option<u64>,
    /// Every part but the last the same size (Cloudflare R2 requires it).
    pub equal_parts: bool,
    /// None: the default for the source (keep for files from 1 GiB, else abort).
    pub on_failure: Option<OnFailure>,
    pub resume: bool,
    pub abort: bool,
    pub upload_id: Option<String>,
    /// Where the resume journal lives ($XDG_STATE_HOME and $HOME only).
    pub state_env: Env,
    /// Standard input under a memory cap (--max-memory, S3PUSH_MAX_MEMORY, the cgroup's).
    pub memory: Option<memory::MemoryCap>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    /// Longest wait for any single read or write.
    pub io: Duration,
}

/// How failed attempts are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub retries: u32,
    /// Cap of the exponential backoff.
    pub max_wait: Duration,
}

/// Everything an upload needs, checked. Not changed once resolved: what a run learns of
/// the store lives in the upload job (upload::Wire).
#[derive(Debug, Clone)]
pub struct Plan {
    pub source: PathBuf,
    pub bucket: String,
    pub key: String,
    pub region: String,
    pub endpoint: Endpoint,
    /// True when the endpoint is AWS's default for the region (so it follows the region).
    pub endpoint_from_region: bool,
    pub path_style: bool,
    pub signature: SignatureVersion,
    pub payload: PayloadMode,
    /// Object headers, with the content type resolved.
    pub object: ObjectHeaders,
    /// The credentials of the run, refreshed before they expire (clones share them).
    pub credentials: CredentialSource,
    /// The user's CA bundle: `--ca-bundle`, else AWS_CA_BUNDLE, else `ca_bundle` in the
    /// profile (where it came from is in `trust`).
    pub ca_bundle: Option<PathBuf>,
    /// The other CAs trusted beyond webpki-roots.
    pub trust: Trust,
    /// The proxy for the endpoint's scheme, and NO_PROXY.
    pub proxy: ProxyRoute,
    /// Which of AWS's endpoints, when the endpoint is AWS's default.
    pub aws_variant: AwsVariant,
    pub timeouts: Timeouts,
    pub retry: RetryPolicy,
    /// Send `Expect: 100-continue` before large bodies.
    pub expect: bool,
    pub quiet: bool,
    pub multipart: Multipart,
    /// The checksum the store verifies (`x-amz-checksum-*`), if any.
    pub checksum: Option<crate::checksum::Algorithm>,
    /// The user named the algorithm (`--checksum`): it is kept whatever the store says.
    pub checksum_named: bool,
    /// A checksum computed while sending may go as an aws-chunked trailer (else it is
    /// computed by a pass over the body first and sent as a header). s3push's choice:
    /// cleared for the run (in its upload::Wire) when the store refuses trailers.
    pub checksum_trailer: bool,
    /// Send Content-MD5 (a pass over the body first).
    pub content_md5: bool,
    /// Check the ETag against the MD5 of what was sent (computed while sending).
    pub verify_etag: bool,
    /// Delete a single-PUT object whose ETag or checksum disagrees.
    pub delete_on_mismatch: bool,
    /// The destination was a URL (a presigned PUT): requests go to its target as it is.
    pub url_target: Option<UrlTarget>,
    /// `--no-sign-request`: no signature, no credentials.
    pub no_sign: bool,
    /// `--dry-run`: the first request is shown, not sent.
    pub dry_run: bool,
    /// Write only if this holds (`--no-clobber`, `--if-match`).
    pub condition: Option<Condition>,
    /// The cap on body bytes sent per second, the whole run together.
    pub limit_rate: Option<u64>,
    /// What the user should hear about the options (resolve prints nothing: the
    /// command line says these).
    pub warnings: Vec<String>,
    /// Encryption, tags, retention, owner checks asked for (doc/protection.md).
    pub protection: protection::Protection,
}

impl Plan {
    /// True when the source is standard input (`-`).
    pub fn from_stdin(&self) -> bool {
        self.source.as_os_str() == "-"
    }

    /// The host name requests go to (bucket first when virtual-hosted).
    pub fn host(&self) -> String {
        if self.path_style {
            self.endpoint.host.clone()
        } else {
            format!("{}.{}", self.bucket, self.endpoint.host)
        }
    }

    /// `s3://bucket/key`, for messages (a URL destination without its query).
    pub fn url(&self) -> String {
        match &self.url_target {
            Some(t) => t.shown.clone(),
            None => format!("s3://{}/{}", self.bucket, self.key),
        }
    }

    /// True when requests are signed: not for `--no-sign-request` or a URL destination
    /// (a presigned URL carries its own signature).
    pub fn signs(&self) -> bool {
        !self.no_sign && self.url_target.is_none()
    }

    /// The plan for another file of the same batch: this plan was resolved from the same
    /// options, so only what depends on the file and its key is resolved again (the key,
    /// the guessed content type); credentials, endpoint and region are kept.
    pub fn for_file(
        &self,
        object: &ObjectHeaders,
        source: PathBuf,
        destination: &str,
    ) -> Result<Plan, Error> {
        if source.as_os_str() == "-" {
            return Err(Error::Usage(
                "'-' (standard input) cannot be one file of several: upload it on its own".into(),
            ));
        }
        let (bucket, key) = parse_destination(destination, &source)?;
        let object = check_object_headers(object.clone(), &key, self.url_target.is_none())?;
        let mut plan = self.clone();
        plan.bucket = bucket;
        plan.key = key;
        plan.object = object;
        plan.source = source;
        Ok(plan)
    }
}
