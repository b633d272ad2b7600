//! From what the user said (options, environment, shared files) to a resolved [`Plan`]:
//! every check that needs no network happens here, before any connection; then the
//! credential chain, which may call a metadata service or STS, or run a process.

mod container;
pub mod credentials;
pub mod endpoint;
mod fetch;
mod imds;
pub mod json;
pub mod memory;
pub mod presigned;
mod process;
pub mod profile;
pub mod protection;
pub mod proxy;
mod sts;

use crate::http::request::{check_header_name, check_header_value};
use crate::Error;
pub use credentials::{CredentialSource, Credentials};
pub use endpoint::{AwsVariant, Endpoint, Scheme};
pub use presigned::UrlTarget;
pub use proxy::{NoProxy, Proxy, ProxyRoute};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// S3's limit on key length, in bytes of UTF-8.
pub const MAX_KEY_BYTES: usize = 1024;

/// The canned ACLs S3 defines (x-amz-acl).
pub const CANNED_ACLS: &[&str] = &[
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "aws-exec-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
    "log-delivery-write",
];

/// The process environment, passed in so that tests control it.
#[derive(Debug, Default, Clone)]
pub struct Env(BTreeMap<String, String>);

impl Env {
    /// The variables of this process that are valid UTF-8.
    pub fn from_process() -> Env {
        Env::from_pairs(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
        )
    }

    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Env {
        Env(pairs.into_iter().collect())
    }

    /// A variable's value; empty counts as unset, as the AWS CLI treats it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The path in variable `name` (with `~/` expanded), else `$HOME/default`.
    fn path_or_home(&self, name: &str, default: &str) -> Option<PathBuf> {
        let home = self.get("HOME").map(PathBuf::from);
        match self.get(name) {
            Some(p) => match (p.strip_prefix("~/"), &home) {
                (Some(rest), Some(h)) => Some(h.join(rest)),
                _ => Some(PathBuf::from(p)),
            },
            None => home.map(|h| h.join(default)),
        }
    }
}

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

/// Default --multipart-threshold: files up to this size go in one PUT.
pub const DEFAULT_THRESHOLD: u64 = 64 * 1024 * 1024;
/// Default --jobs for files; standard input holds (jobs + 1) parts, so it defaults lower.
pub const DEFAULT_JOBS: u32 = 4;
pub const DEFAULT_STDIN_JOBS: u32 = 2;

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

pub use crate::transport::Trust;

/// Everything an upload needs, checked.
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
    /// Seconds added to this host's clock when signing (a skew the store reported).
    pub clock_skew: i64,
    /// The checksum the store verifies (`x-amz-checksum-*`), if any.
    pub checksum: Option<crate::checksum::Algorithm>,
    /// The user named the algorithm (`--checksum`): it is kept whatever the store says.
    pub checksum_named: bool,
    /// A checksum computed while sending may go as an aws-chunked trailer (else it is
    /// computed by a pass over the body first and sent as a header). s3push's choice:
    /// cleared for the run when the store refuses trailers (upload::adapt).
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

    /// The same plan signed for another region (and, for AWS's default endpoint, sent
    /// to that region's endpoint).
    pub fn in_region(&self, region: &str) -> Plan {
        let mut plan = self.clone();
        plan.region = region.to_string();
        if plan.endpoint_from_region {
            plan.endpoint = Endpoint::aws_variant(region, plan.aws_variant);
        }
        plan
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

/// Resolves options against the environment and the shared files.
pub fn resolve(options: Options, env: &Env) -> Result<Plan, Error> {
    let url_target = presigned::parse(&options.destination)?;
    let (bucket, key) = match &url_target {
        Some(_) => (String::new(), String::new()),
        None => parse_destination(&options.destination, &options.source)?,
    };
    // A URL destination gets only the headers the user gave: a guessed Content-Type
    // would break a SigV2 URL, which signs it.
    let object = check_object_headers(options.object.clone(), &key, url_target.is_none())?;
    if let Some((_, target)) = &url_target {
        check_url_destination(&options, target, &object)?;
    }
    let unsigned = url_target.is_some() || options.no_sign_request;
    let files = credentials::SharedFiles::load(env)?;
    let profile_from_cli = options.profile.is_some();
    let profile = options
        .profile
        .clone()
        .or_else(|| env.get("AWS_PROFILE").map(str::to_string))
        .unwrap_or_else(|| "default".into());
    let settings = files.config.config_profile(&profile);
    let setting = |k: &str| {
        settings
            .and_then(|s| s.get(k))
            .filter(|v| !v.is_empty())
            .cloned()
    };

    let region = options
        .region
        .or_else(|| env.get("AWS_REGION").map(str::to_string))
        .or_else(|| env.get("AWS_DEFAULT_REGION").map(str::to_string))
        .or_else(|| setting("region"))
        .unwrap_or_else(|| "us-east-1".into());
    if region.is_empty()
        || !region
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(Error::Usage(format!(
            "bad region '{region}': a region is letters, digits and '-', like us-east-1"
        )));
    }
    let mut endpoint_from_region = false;
    // AWS SDKs' order ("Service-specific endpoints"): the option, AWS_ENDPOINT_URL_S3,
    // AWS_ENDPOINT_URL, the `s3` endpoint of the profile's `services` section, then its
    // `endpoint_url`; all but the option skipped with AWS_IGNORE_CONFIGURED_ENDPOINT_URLS.
    let ignore_configured = is_true(env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"))
        || is_true(setting("ignore_configured_endpoint_urls").as_deref());
    let services = setting("services")
        .and_then(|name| files.config.section(&format!("services {name}")))
        .and_then(|s| s.get("s3.endpoint_url"))
        .filter(|v| !v.is_empty())
        .cloned();
    let configured = || {
        env.get("AWS_ENDPOINT_URL_S3")
            .map(str::to_string)
            .or_else(|| env.get("AWS_ENDPOINT_URL").map(str::to_string))
            .or(services)
            .or_else(|| setting("endpoint_url"))
    };
    let custom = match options.endpoint {
        Some(url) => Some(url),
        None if ignore_configured => None,
        None => configured(),
    };
    let flagged = [
        ("--dualstack", options.dualstack),
        ("--fips", options.fips),
        ("--accelerate", options.accelerate),
    ];
    let aws_variant = AwsVariant {
        dualstack: options.dualstack
            || is_true(env.get("AWS_USE_DUALSTACK_ENDPOINT"))
            || is_true(setting("use_dualstack_endpoint").as_deref())
            || is_true(setting("s3.use_dualstack_endpoint").as_deref()),
        fips: options.fips
            || is_true(env.get("AWS_USE_FIPS_ENDPOINT"))
            || is_true(setting("use_fips_endpoint").as_deref()),
        accelerate: options.accelerate || is_true(setting("s3.use_accelerate_endpoint").as_deref()),
    };
    let addressing = setting("s3.addressing_style");
    let endpoint = match (&url_target, custom) {
        (Some((endpoint, _)), _) => endpoint.clone(),
        (None, Some(url)) => {
            // The environment's and the profile's choices apply to AWS's endpoints only.
            if let Some((flag, _)) = flagged.iter().find(|(_, on)| *on) {
                return Err(Error::Usage(format!(
                    "{flag} picks one of AWS's own endpoints, so it cannot go with a custom endpoint ({url}): leave out one or the other"
                )));
            }
            Endpoint::parse(&url)?
        }
        (None, None) => {
            endpoint_from_region = true;
            check_aws_variant(
                aws_variant,
                &bucket,
                options.path_style,
                addressing.as_deref(),
            )?;
            Endpoint::aws_variant(&region, aws_variant)
        }
    };
    let aws_variant = if endpoint_from_region {
        aws_variant
    } else {
        AwsVariant::default()
    };
    let path_style = match addressing.as_deref() {
        _ if url_target.is_some() || options.path_style => true,
        Some("path") => true,
        Some("virtual") if endpoint.ip_literal || !endpoint::dns_compatible(&bucket) => {
            return Err(Error::Usage(format!(
                "addressing_style = virtual in the profile, but bucket '{bucket}' cannot go in a host name at {}: \
                 set addressing_style = path (or auto)",
                endpoint.url()
            )))
        }
        Some("virtual") => false,
        Some("auto") | None => endpoint.needs_path_style(&bucket),
        Some(other) => {
            return Err(Error::Usage(format!(
                "addressing_style = {other} in the profile: use path, virtual or auto"
            )))
        }
    };
    let signature = options.signature.unwrap_or(SignatureVersion::V4);
    if unsigned {
        if let Some(mode @ (PayloadMode::Signed | PayloadMode::Streaming)) = options.payload {
            let mode = if mode == PayloadMode::Signed {
                "signed"
            } else {
                "streaming"
            };
            return Err(Error::Usage(format!(
                "--payload {mode} needs a signature, and {} sends none: leave it out",
                if url_target.is_some() {
                    "a URL destination"
                } else {
                    "--no-sign-request"
                }
            )));
        }
    }
    // Over TLS the record layer already authenticates every byte; in clear text only a
    // signed body hash stops a body from being altered on the way (doc/integrity.md, "Payload modes").
    let payload = options.payload.unwrap_or(match endpoint.scheme {
        _ if unsigned => PayloadMode::Unsigned,
        Scheme::Https => PayloadMode::Unsigned,
        Scheme::Http => PayloadMode::Signed,
    });
    if signature == SignatureVersion::V2 && options.payload.is_some() {
        return Err(Error::Usage(
            "--payload applies to SigV4; leave it out with --signature v2".into(),
        ));
    }
    let (ca_bundle, ca_bundle_from) = match options.ca_bundle {
        Some(path) => (Some(path), "--ca-bundle"),
        None => match env.get("AWS_CA_BUNDLE") {
            Some(path) => (Some(PathBuf::from(path)), "AWS_CA_BUNDLE"),
            None => (
                setting("ca_bundle").map(PathBuf::from),
                "ca_bundle in the profile",
            ),
        },
    };
    if let Some(ca) = &ca_bundle {
        if !ca.is_file() {
            return Err(Error::Usage(format!(
                "{ca_bundle_from} {}: no such file; give the PEM file of the CA that signed the server's certificate",
                ca.display()
            )));
        }
    }
    let timeouts = Timeouts {
        connect: options.connect_timeout.unwrap_or(Duration::from_secs(10)),
        io: options.timeout.unwrap_or(Duration::from_secs(60)),
    };
    // As the SDKs: the service's own variable, the profile's `sts =` section, then the
    // endpoint for every service.
    let sts_endpoint = env
        .get("AWS_ENDPOINT_URL_STS")
        .map(str::to_string)
        .or_else(|| setting("sts.endpoint_url"))
        .or_else(|| env.get("AWS_ENDPOINT_URL").map(str::to_string))
        .or_else(|| setting("endpoint_url"));
    let fetch_settings = credentials::FetchSettings {
        region: region.clone(),
        ca_bundle: ca_bundle.clone(),
        connect_timeout: timeouts.connect,
        io_timeout: timeouts.io,
        sts_proxy: sts_proxy(options.proxy.as_deref(), env, sts_endpoint.as_deref()),
        sts_endpoint,
    };
    let mut warnings = Vec::new();
    let trust = resolve_trust(env, ca_bundle_from, &mut warnings);
    let limit_rate = match (options.limit_rate, env.get("S3PUSH_LIMIT_RATE")) {
        (Some(rate), _) => Some(rate),
        (None, Some(text)) => Some(parse_size(text).filter(|&r| r > 0).ok_or_else(|| {
            Error::Usage(format!(
                "S3PUSH_LIMIT_RATE={text}: give bytes per second, like 4MiB or 500K"
            ))
        })?),
        (None, None) => None,
    };
    let proxy = ProxyRoute::resolve(options.proxy.as_deref(), env, endpoint.scheme)?;
    let multipart = resolve_multipart(options.multipart, &options.source, &endpoint, env)?;
    let condition = resolve_condition(options.no_clobber, options.if_match)?;
    let protection = protection::resolve(
        options.protection.clone(),
        endpoint.scheme == Scheme::Https,
        crate::sign::time::Timestamp::now(),
    )?;
    if url_target.is_some()
        && (protection.asked()
            || protection.expected_bucket_owner.is_some()
            || protection.request_payer.is_some()
            || protection.skip_identical)
    {
        return Err(Error::Usage(
            "a presigned URL signs the headers it allows: encryption, tags, Object Lock, --expected-bucket-owner, \
             --request-payer and --skip-identical go with s3://BUCKET/KEY and credentials"
                .into(),
        ));
    }
    if protection.skip_identical && options.source.as_os_str() == "-" {
        return Err(Error::Usage(
            "--skip-identical compares a file with the stored object: standard input cannot be compared before it is sent"
                .into(),
        ));
    }
    // Unsigned requests get no checksum unless asked for (then a header, from a first
    // pass): a trailer needs an aws-chunked body declared in x-amz-content-sha256, which
    // a presigned URL does not sign; the ETag check stands in.
    let checksum = match options.checksum {
        Some(choice) => choice,
        None if unsigned => None,
        None => default_checksum(&endpoint, signature),
    };
    if checksum.is_some() && signature == SignatureVersion::V2 && options.checksum.is_some() {
        // Sent as a header, known from a pass over the body first: it works, but say so.
        warnings.push(
            "--checksum with --signature v2 reads the file twice (SigV2 has no trailers)".into(),
        );
    }
    // Last: the chain may call a metadata service, STS or a process; usage errors first.
    let credentials = if unsigned {
        CredentialSource::fixed(Credentials::anonymous())
    } else {
        credentials::resolve(env, &files, &profile, profile_from_cli, &fetch_settings)?
    };
    Ok(Plan {
        source: options.source,
        bucket,
        key,
        region,
        endpoint,
        endpoint_from_region,
        path_style,
        signature,
        payload,
        object,
        credentials,
        ca_bundle,
        trust,
        proxy,
        aws_variant,
        timeouts,
        retry: RetryPolicy {
            retries: options.retries.unwrap_or(4),
            max_wait: options.retry_max_wait.unwrap_or(Duration::from_secs(20)),
        },
        expect: !options.no_expect,
        quiet: options.quiet,
        multipart,
        clock_skew: 0,
        checksum,
        checksum_named: options.checksum.is_some(),
        checksum_trailer: true,
        // Object Lock needs a checksum or Content-MD5 on the request.
        content_md5: options.content_md5
            || (checksum.is_none() && protection.needs_integrity_header()),
        // The ETag check is what is left when no checksum is on.
        verify_etag: options.verify_etag || checksum.is_none(),
        delete_on_mismatch: options.delete_on_mismatch,
        condition,
        url_target: url_target.map(|(_, target)| target),
        no_sign: options.no_sign_request,
        dry_run: options.dry_run,
        warnings,
        protection,
        limit_rate,
    })
}

/// What a URL destination cannot be combined with, said before anything is sent.
fn check_url_destination(
    options: &Options,
    target: &UrlTarget,
    object: &ObjectHeaders,
) -> Result<(), Error> {
    let refuse = |what: &str| {
        Err(Error::Usage(format!(
            "{what} with a URL destination: a presigned URL allows one PUT, as it was signed"
        )))
    };
    if !target.presigned && !options.no_sign_request {
        return Err(Error::Usage(
            "the URL has no presigned query (X-Amz-Signature or Signature): give s3://BUCKET/KEY \
             (with --endpoint for another store), or add --no-sign-request for a public-write bucket"
                .into(),
        ));
    }
    if options.source.as_os_str() == "-" {
        return Err(Error::Usage(
            "standard input cannot go to a URL destination: a presigned URL takes one PUT whose length \
             is known up front; save the stream to a file first"
                .into(),
        ));
    }
    if options.signature.is_some() {
        return refuse("--signature has no use (the URL is signed already)");
    }
    if options.endpoint.is_some() {
        return refuse("--endpoint has no use (the URL names its host)");
    }
    if options.multipart.resume || options.multipart.abort || options.multipart.upload_id.is_some()
    {
        return refuse("--resume, --abort and --upload-id do not apply (no multipart upload)");
    }
    if options.delete_on_mismatch {
        return refuse("--delete-on-mismatch cannot work (the URL allows no DELETE)");
    }
    presigned::check_signed_headers(
        target,
        object,
        options.content_md5,
        options.checksum.flatten(),
    )
}

/// `--no-clobber` or `--if-match ETAG` (not both); an ETag is sent quoted, as S3 gives
/// it (RFC 9110 8.8.3), whether or not the user quoted it.
fn resolve_condition(
    no_clobber: bool,
    if_match: Option<String>,
) -> Result<Option<Condition>, Error> {
    match (no_clobber, if_match) {
        (false, None) => Ok(None),
        (true, None) => Ok(Some(Condition::NoneMatch)),
        (true, Some(_)) => Err(Error::Usage(
            "--no-clobber and --if-match: choose one (the first writes only a new object, \
             the second only over a known one)"
                .into(),
        )),
        (false, Some(etag)) => {
            let bare = etag.trim().trim_matches('"');
            if bare.is_empty()
                || !bare
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && b != b'"' && b != b',')
            {
                return Err(Error::Usage(format!(
                    "--if-match {etag:?}: give the object's ETag as the store printed it, like --if-match 9e107d9d372bb6826bd81d3542a419d6"
                )));
            }
            Ok(Some(Condition::Match(if bare == "*" {
                "*".into()
            } else {
                format!("\"{bare}\"")
            })))
        }
    }
}

/// `true` as the AWS CLI reads its boolean settings.
fn is_true(value: Option<&str>) -> bool {
    value.is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// Refuses the AWS endpoint combinations that do not exist: Transfer Acceleration has no
/// FIPS endpoint, and takes virtual-hosted requests for DNS-compatible names without dots
/// only (S3 user guide, "Transfer Acceleration": requirements).
fn check_aws_variant(
    v: AwsVariant,
    bucket: &str,
    path_flag: bool,
    addressing: Option<&str>,
) -> Result<(), Error> {
    if !v.accelerate {
        return Ok(());
    }
    if v.fips {
        return Err(Error::Usage(
            "S3 Transfer Acceleration has no FIPS endpoint: choose --accelerate or --fips".into(),
        ));
    }
    if path_flag || addressing == Some("path") {
        return Err(Error::Usage(
            "--accelerate needs virtual-hosted addressing (BUCKET.s3-accelerate.amazonaws.com): leave out --path-style and addressing_style = path".into(),
        ));
    }
    if bucket.contains('.') || !endpoint::dns_compatible(bucket) {
        return Err(Error::Usage(format!(
            "bucket '{bucket}' cannot use Transfer Acceleration (its name has dots or is not a DNS name): upload without --accelerate"
        )));
    }
    Ok(())
}

/// SSL_CERT_FILE and SSL_CERT_DIR, as OpenSSL reads them; a path that is not there is
/// skipped with a warning (OpenSSL skips it silently).
fn resolve_trust(env: &Env, ca_bundle_from: &'static str, warnings: &mut Vec<String>) -> Trust {
    let cert_file = env.get("SSL_CERT_FILE").map(PathBuf::from).filter(|p| {
        let ok = p.is_file();
        if !ok {
            warnings.push(format!(
                "SSL_CERT_FILE {}: no such file; ignored",
                p.display()
            ));
        }
        ok
    });
    let cert_dirs = env
        .get("SSL_CERT_DIR")
        .unwrap_or("")
        .split(':')
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .filter(|d| {
            let ok = d.is_dir();
            if !ok {
                warnings.push(format!(
                    "SSL_CERT_DIR {}: no such directory; ignored",
                    d.display()
                ));
            }
            ok
        })
        .collect();
    Trust {
        ca_bundle_from,
        cert_file,
        cert_dirs,
    }
}

/// The checksum a store gets when --checksum is not given (doc/integrity.md, "Integrity"): CRC32,
/// which every store that implements S3's checksums takes, as a header or a trailer;
/// none for SigV2 and for the stores known to refuse `x-amz-checksum-*` or its trailers
/// (Cloudflare R2, Backblaze B2, Google Cloud Storage): they get the ETag check instead.
pub fn default_checksum(
    endpoint: &Endpoint,
    signature: SignatureVersion,
) -> Option<crate::checksum::Algorithm> {
    let host = endpoint.host.to_ascii_lowercase();
    let refuses = [
        ".r2.cloudflarestorage.com",
        ".backblazeb2.com",
        "storage.googleapis.com",
        ".oraclecloud.com",
    ];
    if signature == SignatureVersion::V2 || refuses.iter().any(|r| host.ends_with(r)) {
        return None;
    }
    Some(crate::checksum::Algorithm::Crc32)
}

/// The proxy route for STS calls: `--proxy`, else the variable for the STS URL's scheme
/// (https unless an `http://` endpoint is configured). A corporate proxy is often the only
/// way out, so STS goes where a store request would; the metadata services never do.
fn sts_proxy(
    flag: Option<&str>,
    env: &Env,
    sts_endpoint: Option<&str>,
) -> Result<ProxyRoute, Error> {
    let scheme = sts_endpoint
        .and_then(fetch::Target::parse)
        .map_or(Scheme::Https, |t| t.endpoint.scheme);
    ProxyRoute::resolve(flag, env, scheme)
}

/// S3's multipart limits (Amazon S3 user guide, "Multipart upload limits").
pub const MIN_PART: u64 = 5 * 1024 * 1024;
pub const MAX_PART: u64 = 5 * 1024 * 1024 * 1024;
pub const MAX_PARTS: u64 = 10_000;
pub const MAX_OBJECT: u64 = 5 * 1024 * 1024 * 1024 * 1024;

fn resolve_multipart(
    m: MultipartOptions,
    source: &std::path::Path,
    endpoint: &Endpoint,
    env: &Env,
) -> Result<Multipart, Error> {
    let stdin = source.as_os_str() == "-";
    if let Some(part) = m.part_size {
        if !(MIN_PART..=MAX_PART).contains(&part) {
            return Err(Error::Usage(format!(
                "--part-size {part}: S3 takes parts from 5 MiB to 5 GiB (5M..5G)"
            )));
        }
    }
    for (flag, size) in [
        ("--expected-size", m.expected_size),
        ("--size", m.exact_size),
    ] {
        if let Some(size) = size.filter(|&s| s > MAX_OBJECT) {
            return Err(Error::Usage(format!(
                "{flag} {size}: over S3's 5 TiB object limit"
            )));
        }
    }
    if m.exact_size.is_some() && !stdin {
        return Err(Error::Usage(
            "--size is the exact length of standard input (`-`); a file's size is known: leave it out".into(),
        ));
    }
    let jobs = m.jobs.unwrap_or(if stdin {
        DEFAULT_STDIN_JOBS
    } else {
        DEFAULT_JOBS
    });
    if !(1..=64).contains(&jobs) {
        return Err(Error::Usage(format!("--jobs {jobs}: give 1 to 64")));
    }
    if m.resume && stdin {
        return Err(Error::Usage(
            "standard input cannot be resumed (its bytes are gone): upload it again".into(),
        ));
    }
    if m.resume && m.abort {
        return Err(Error::Usage("--resume and --abort: choose one".into()));
    }
    if let Some(dir) = &m.spool_dir {
        if !dir.is_dir() {
            return Err(Error::Usage(format!(
                "--spool-dir {}: not a directory; give an existing directory with room for (jobs + 1) parts",
                dir.display()
            )));
        }
    }
    if let Some(id) = &m.upload_id {
        if id.is_empty() || id.len() > 1024 || id.chars().any(char::is_control) {
            return Err(Error::Usage(format!(
                "--upload-id {id:?}: not an upload id"
            )));
        }
    }
    // Cloudflare R2 refuses parts of different sizes (R2 docs, "Multipart upload").
    let equal_parts = m.equal_parts || endpoint.host.ends_with(".r2.cloudflarestorage.com");
    let expected_size = m.exact_size.or(m.expected_size);
    let (mut part_size, mut jobs, mut spool_dir, mut cap) = (m.part_size, jobs, m.spool_dir, None);
    if stdin {
        if let Some((bytes, from)) = memory_cap(m.max_memory, env)? {
            let fallback = env
                .get("TMPDIR")
                .filter(|d| !d.is_empty())
                .map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
            let fit = memory::fit(memory::Want {
                cap: bytes,
                from,
                jobs: m.jobs,
                part: m.part_size,
                default_jobs: DEFAULT_STDIN_JOBS,
                expected: expected_size,
                equal_parts,
                spool: spool_dir.clone(),
                fallback: memory::usable_dir(&fallback).then_some(fallback),
            })?;
            (part_size, jobs, spool_dir, cap) = (fit.part, fit.jobs, fit.spool, Some(fit.cap));
        }
    }
    let keep = |name: &str| env.get(name).map(|v| (name.to_string(), v.to_string()));
    Ok(Multipart {
        threshold: m.threshold.unwrap_or(DEFAULT_THRESHOLD),
        part_size,
        jobs,
        spool_dir,
        expected_size,
        exact_size: m.exact_size,
        equal_parts,
        on_failure: m.on_failure,
        resume: m.resume,
        abort: m.abort,
        upload_id: m.upload_id,
        state_env: Env::from_pairs(keep("XDG_STATE_HOME").into_iter().chain(keep("HOME"))),
        memory: cap,
    })
}

/// The memory cap of standard input and where it came from: --max-memory, else
/// S3PUSH_MAX_MEMORY, else the cgroup's limit (none where none is set).
fn memory_cap(flag: Option<u64>, env: &Env) -> Result<Option<(u64, String)>, Error> {
    if let Some(bytes) = flag {
        return Ok(Some((bytes, "--max-memory".into())));
    }
    if let Some(text) = env
        .get("S3PUSH_MAX_MEMORY")
        .filter(|t| !t.trim().is_empty())
    {
        let bytes = parse_size(text).ok_or_else(|| {
            Error::Usage(format!(
                "S3PUSH_MAX_MEMORY={text}: give a size in bytes or with K, M, G, T (binary), like 16M"
            ))
        })?;
        return Ok(Some((bytes, "S3PUSH_MAX_MEMORY".into())));
    }
    Ok(memory::cgroup_limit(std::path::Path::new("/"))
        .map(|(bytes, file)| (bytes, format!("the cgroup's limit, {}", file.display()))))
}

/// A size: bytes, or with a binary suffix K, M, G, T (KiB, MiB... also accepted).
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let number: u64 = t[..digits].parse().ok()?;
    let unit = t[digits..].trim().to_ascii_lowercase();
    let shift = match unit.trim_end_matches("ib").trim_end_matches('b') {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        _ => return None,
    };
    number.checked_mul(1u64 << shift)
}

/// `s3://BUCKET/KEY`; a key that is empty or ends in `/` gets the source's base name.
pub fn parse_destination(dest: &str, source: &std::path::Path) -> Result<(String, String), Error> {
    let rest = dest.strip_prefix("s3://").ok_or_else(|| {
        Error::Usage(format!(
            "bad destination '{dest}': write it as s3://BUCKET/KEY or s3://BUCKET/PREFIX/"
        ))
    })?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(Error::Usage(format!(
            "bad destination '{dest}': no bucket name; write it as s3://BUCKET/KEY"
        )));
    }
    if bucket
        .bytes()
        .any(|b| !(b.is_ascii_alphanumeric() || b"-._".contains(&b)))
    {
        return Err(Error::Usage(format!(
            "bad bucket name '{bucket}': bucket names hold letters, digits, '-', '.' and '_' only"
        )));
    }
    let mut key = key.to_string();
    if (key.is_empty() || key.ends_with('/')) && source.as_os_str() == "-" {
        return Err(Error::Usage(format!(
            "standard input has no name to use as the key: give the full key, s3://{bucket}/{key}NAME"
        )));
    }
    if key.is_empty() || key.ends_with('/') {
        let base = source
            .file_name()
            .ok_or_else(|| {
                Error::Usage(format!(
                    "'{}' has no file name to use as the key: give the full key, s3://{bucket}/KEY",
                    source.display()
                ))
            })?
            .to_str()
            .ok_or_else(|| {
                Error::Usage(format!(
                    "the file name of '{}' is not UTF-8, which S3 keys must be: give the key, s3://{bucket}/KEY",
                    source.display()
                ))
            })?;
        key.push_str(base);
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(Error::Usage(format!(
            "the key is {} bytes long, over S3's limit of {MAX_KEY_BYTES}: choose a shorter key",
            key.len()
        )));
    }
    if key.chars().any(char::is_control) {
        return Err(Error::Usage(
            "the key holds control characters, which S3 keys cannot carry safely: rename it".into(),
        ));
    }
    Ok((bucket.to_string(), key))
}

/// Checks every value bound for a header (printable ASCII only: S3 keeps metadata as
/// US-ASCII) and fills in the content type guessed from the key.
fn check_object_headers(
    mut h: ObjectHeaders,
    key: &str,
    guess_type: bool,
) -> Result<ObjectHeaders, Error> {
    if guess_type && h.content_type.is_none() {
        h.content_type = Some(
            mime_guess::from_path(key)
                .first_raw()
                .unwrap_or("application/octet-stream")
                .to_string(),
        );
    }
    if let Some(acl) = &h.acl {
        if !CANNED_ACLS.contains(&acl.as_str()) {
            return Err(Error::Usage(format!(
                "unknown --acl '{acl}': use one of {}",
                CANNED_ACLS.join(", ")
            )));
        }
    }
    let single = [
        ("--content-type", &h.content_type),
        ("--cache-control", &h.cache_control),
        ("--content-disposition", &h.content_disposition),
        ("--content-encoding", &h.content_encoding),
        ("--storage-class", &h.storage_class),
    ];
    for (flag, value) in single {
        if let Some(v) = value {
            check_value(flag, v)?;
        }
    }
    for (name, value) in &mut h.meta {
        *name = name.to_ascii_lowercase();
        if check_header_name(&format!("x-amz-meta-{name}")).is_err() || name.is_empty() {
            return Err(Error::Usage(format!(
                "bad --meta name '{name}': use letters, digits and '-', as in --meta owner=alice"
            )));
        }
        check_value("--meta", value)?;
    }
    Ok(h)
}

fn check_value(flag: &str, value: &str) -> Result<(), Error> {
    if !value.is_ascii() || check_header_value(value).is_err() {
        return Err(Error::Usage(format!(
            "the value of {flag} has a line break, control or non-ASCII character, which cannot go in a header: remove it"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn destination_forms() {
        let src = Path::new("/tmp/backup.tar.gz");
        let d = |s| parse_destination(s, src);
        assert_eq!(d("s3://b/").unwrap(), ("b".into(), "backup.tar.gz".into()));
        assert_eq!(d("s3://b").unwrap(), ("b".into(), "backup.tar.gz".into()));
        assert_eq!(
            d("s3://b/dir/").unwrap(),
            ("b".into(), "dir/backup.tar.gz".into())
        );
        assert_eq!(
            d("s3://b/dir/name.bin").unwrap(),
            ("b".into(), "dir/name.bin".into())
        );
        assert_eq!(d("s3://b/a//b%20c+d").unwrap().1, "a//b%20c+d");
        for bad in ["http://b/k", "s3://", "s3:///k", "s3://b b/k", "b/k"] {
            assert_eq!(d(bad).unwrap_err().exit_code(), 2, "{bad}");
        }
        let long = format!("s3://b/{}", "k".repeat(1025));
        assert!(d(&long).unwrap_err().to_string().contains("1025 bytes"));
        assert!(d(&format!("s3://b/{}", "k".repeat(1024))).is_ok());
    }

    #[test]
    fn conditions() {
        assert_eq!(resolve_condition(false, None).unwrap(), None);
        assert_eq!(
            resolve_condition(true, None).unwrap().unwrap().header(),
            ("if-none-match".into(), "*".into())
        );
        for given in ["abc123", "\"abc123\"", " abc123 "] {
            assert_eq!(
                resolve_condition(false, Some(given.into())).unwrap(),
                Some(Condition::Match("\"abc123\"".into())),
                "{given}"
            );
        }
        assert_eq!(
            resolve_condition(false, Some("9e10-2".into())).unwrap(),
            Some(Condition::Match("\"9e10-2\"".into()))
        );
        for bad in ["", "\"\"", "a b", "a\r\nx: y", "a,b"] {
            assert_eq!(
                resolve_condition(false, Some(bad.into()))
                    .unwrap_err()
                    .exit_code(),
                2,
                "{bad:?}"
            );
        }
        assert!(resolve_condition(true, Some("abc".into()))
            .unwrap_err()
            .to_string()
            .contains("choose one"));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("123"), Some(123));
        assert_eq!(parse_size("8M"), Some(8 << 20));
        assert_eq!(parse_size("8MiB"), Some(8 << 20));
        assert_eq!(parse_size("5g"), Some(5 << 30));
        assert_eq!(parse_size("1KB"), Some(1024));
        assert_eq!(parse_size("2T"), Some(2 << 40));
        for bad in ["", "M", "1.5G", "-1", "8X", "99999999999999999999"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
        assert_eq!(parse_size("99999999T"), None);
        assert!(parse_destination("s3://b/dir/", Path::new("-")).is_err());
        assert_eq!(
            parse_destination("s3://b/k", Path::new("-")).unwrap().1,
            "k"
        );
    }

    #[test]
    fn headers_are_checked_and_type_guessed() {
        let h = check_object_headers(ObjectHeaders::default(), "a/x.json", true).unwrap();
        assert_eq!(h.content_type.as_deref(), Some("application/json"));
        let h = check_object_headers(ObjectHeaders::default(), "noext", true).unwrap();
        assert_eq!(h.content_type.as_deref(), Some("application/octet-stream"));
        let bad = ObjectHeaders {
            meta: vec![("k".into(), "v\r\nx: y".into())],
            ..Default::default()
        };
        assert_eq!(
            check_object_headers(bad, "k", true)
                .unwrap_err()
                .exit_code(),
            2
        );
        let bad = ObjectHeaders {
            acl: Some("world-writable".into()),
            ..Default::default()
        };
        assert!(check_object_headers(bad, "k", true)
            .unwrap_err()
            .to_string()
            .contains("public-read"));
        let meta = ObjectHeaders {
            meta: vec![("Owner".into(), "alice".into())],
            ..Default::default()
        };
        assert_eq!(
            check_object_headers(meta, "k", true).unwrap().meta[0].0,
            "owner"
        );
    }

    #[test]
    fn region_endpoint_and_payload_resolution() {
        let env = Env::from_pairs([
            ("AWS_ACCESS_KEY_ID".to_string(), "AK".to_string()),
            ("AWS_SECRET_ACCESS_KEY".to_string(), "SK".to_string()),
            ("AWS_DEFAULT_REGION".to_string(), "eu-central-1".to_string()),
        ]);
        let opts = Options {
            source: "f.bin".into(),
            destination: "s3://my-bucket/".into(),
            ..Default::default()
        };
        let plan = resolve(opts.clone(), &env).unwrap();
        assert_eq!(plan.region, "eu-central-1");
        assert_eq!(plan.host(), "my-bucket.s3.eu-central-1.amazonaws.com");
        assert_eq!(plan.payload, PayloadMode::Unsigned);
        let local = Options {
            endpoint: Some("http://127.0.0.1:9000".into()),
            region: Some("us-west-2".into()),
            ..opts
        };
        let plan = resolve(local, &env).unwrap();
        assert!(plan.path_style);
        assert_eq!(plan.host(), "127.0.0.1");
        assert_eq!(plan.payload, PayloadMode::Signed);
        assert_eq!(plan.region, "us-west-2");
    }

    /// Resolves `dest` with the test keys, `vars`, a config file holding `config`, and
    /// the option changes `with`.
    fn resolve_with(
        config: &str,
        vars: &[(&str, &str)],
        dest: &str,
        with: impl FnOnce(&mut Options),
    ) -> Result<Plan, Error> {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, config).unwrap();
        let mut pairs: Vec<(String, String)> = vec![
            ("AWS_ACCESS_KEY_ID".into(), "AK".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "SK".into()),
            ("AWS_CONFIG_FILE".into(), path.display().to_string()),
            (
                "AWS_SHARED_CREDENTIALS_FILE".into(),
                dir.path().join("none").display().to_string(),
            ),
        ];
        pairs.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let mut options = Options {
            source: "f.bin".into(),
            destination: dest.into(),
            ..Default::default()
        };
        with(&mut options);
        resolve(options, &Env::from_pairs(pairs))
    }

    #[test]
    fn aws_endpoint_variants_from_flags_environment_and_profile() {
        let host = |config: &str, vars: &[(&str, &str)], f: fn(&mut Options)| {
            resolve_with(config, vars, "s3://my-bucket/k", f).map(|p| p.host())
        };
        let none: fn(&mut Options) = |_| {};
        assert_eq!(
            host("", &[], |o| o.dualstack = true).unwrap(),
            "my-bucket.s3.dualstack.us-east-1.amazonaws.com"
        );
        assert_eq!(
            host("", &[("AWS_USE_FIPS_ENDPOINT", "TRUE")], |o| o.dualstack =
                true)
            .unwrap(),
            "my-bucket.s3-fips.dualstack.us-east-1.amazonaws.com"
        );
        assert_eq!(
            host("[default]\nuse_dualstack_endpoint = true\n", &[], none).unwrap(),
            "my-bucket.s3.dualstack.us-east-1.amazonaws.com"
        );
        assert_eq!(
            host(
                "[default]\ns3 =\n  use_accelerate_endpoint = true\n",
                &[],
                none
            )
            .unwrap(),
            "my-bucket.s3-accelerate.amazonaws.com"
        );
        assert_eq!(
            host("", &[("AWS_USE_DUALSTACK_ENDPOINT", "true")], |o| o
                .accelerate =
                true)
            .unwrap(),
            "my-bucket.s3-accelerate.dualstack.amazonaws.com"
        );
        // The environment's choice is for AWS endpoints; a custom one is left alone...
        let custom = resolve_with(
            "",
            &[
                ("AWS_USE_FIPS_ENDPOINT", "true"),
                ("AWS_ENDPOINT_URL", "http://minio.lan:9000"),
            ],
            "s3://my-bucket/k",
            |_| {},
        )
        .unwrap();
        assert_eq!(custom.host(), "my-bucket.minio.lan");
        assert_eq!(custom.aws_variant, AwsVariant::default());
        // ...but a flag with a custom endpoint is a mistake.
        let e = host("", &[("AWS_ENDPOINT_URL", "http://minio.lan")], |o| {
            o.fips = true
        })
        .unwrap_err();
        assert!(e.to_string().contains("--fips"), "{e}");
        // A region redirect keeps the variant.
        let plan = resolve_with("", &[], "s3://my-bucket/k", |o| o.dualstack = true).unwrap();
        assert_eq!(
            plan.in_region("eu-west-3").host(),
            "my-bucket.s3.dualstack.eu-west-3.amazonaws.com"
        );
        for (dest, f) in [
            (
                "s3://my.bucket/k",
                (|o: &mut Options| o.accelerate = true) as fn(&mut Options),
            ),
            ("s3://my-bucket/k", |o| {
                o.accelerate = true;
                o.path_style = true;
            }),
            ("s3://my-bucket/k", |o| {
                o.accelerate = true;
                o.fips = true;
            }),
        ] {
            let e = resolve_with("", &[], dest, f).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{dest}: {e}");
        }
    }

    #[test]
    fn endpoint_and_addressing_from_the_profile() {
        let services = "[default]\nendpoint_url = http://global:1\nservices = mine\n\
                        [services mine]\ns3 =\n  endpoint_url = http://service:2\n";
        let endpoint = |vars: &[(&str, &str)]| {
            resolve_with(services, vars, "s3://b/k", |_| {})
                .unwrap()
                .endpoint
                .url()
        };
        assert_eq!(endpoint(&[]), "http://service:2");
        assert_eq!(
            endpoint(&[("AWS_ENDPOINT_URL", "http://env:3")]),
            "http://env:3"
        );
        assert_eq!(
            endpoint(&[
                ("AWS_ENDPOINT_URL", "http://env:3"),
                ("AWS_ENDPOINT_URL_S3", "http://s3env:4")
            ]),
            "http://s3env:4"
        );
        assert_eq!(
            endpoint(&[
                ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
                ("AWS_ENDPOINT_URL", "http://env:3")
            ]),
            "https://s3.us-east-1.amazonaws.com"
        );
        let global = resolve_with(
            "[default]\nendpoint_url = http://global:1\n",
            &[],
            "s3://b/k",
            |_| {},
        );
        assert_eq!(global.unwrap().endpoint.url(), "http://global:1");

        let style = |style: &str, endpoint: &str, bucket: &str| {
            let config = format!(
                "[default]\nendpoint_url = {endpoint}\ns3 =\n  addressing_style = {style}\n"
            );
            resolve_with(&config, &[], &format!("s3://{bucket}/k"), |_| {}).map(|p| p.host())
        };
        assert_eq!(
            style("path", "https://minio.lan", "bkt").unwrap(),
            "minio.lan"
        );
        assert_eq!(
            style("virtual", "https://minio.lan", "bkt").unwrap(),
            "bkt.minio.lan"
        );
        // auto: path style for a dotted name over TLS; virtual keeps the name in the host.
        assert_eq!(
            style("auto", "https://minio.lan", "a.b").unwrap(),
            "minio.lan"
        );
        assert_eq!(
            style("virtual", "https://minio.lan", "a.b").unwrap(),
            "a.b.minio.lan"
        );
        assert_eq!(
            style("virtual", "http://10.0.0.1", "bkt")
                .unwrap_err()
                .exit_code(),
            2
        );
        assert_eq!(
            style("sideways", "http://minio.lan", "bkt")
                .unwrap_err()
                .exit_code(),
            2
        );
    }

    #[test]
    fn ca_bundle_precedence_and_proxy_resolution() {
        let dir = tempfile::TempDir::new().unwrap();
        let (a, b) = (dir.path().join("a.pem"), dir.path().join("b.pem"));
        std::fs::write(&a, "").unwrap();
        std::fs::write(&b, "").unwrap();
        let (a_s, b_s) = (a.display().to_string(), b.display().to_string());
        let profile = format!("[default]\nca_bundle = {b_s}\n");
        let plan = resolve_with(&profile, &[], "s3://b/k", |_| {}).unwrap();
        assert_eq!(
            (plan.ca_bundle.as_deref(), plan.trust.ca_bundle_from),
            (Some(b.as_path()), "ca_bundle in the profile")
        );
        let plan = resolve_with(&profile, &[("AWS_CA_BUNDLE", &a_s)], "s3://b/k", |_| {}).unwrap();
        assert_eq!(
            (plan.ca_bundle.as_deref(), plan.trust.ca_bundle_from),
            (Some(a.as_path()), "AWS_CA_BUNDLE")
        );
        let plan = resolve_with(&profile, &[("AWS_CA_BUNDLE", &a_s)], "s3://b/k", |o| {
            o.ca_bundle = Some(b.clone())
        })
        .unwrap();
        assert_eq!(
            (plan.ca_bundle.as_deref(), plan.trust.ca_bundle_from),
            (Some(b.as_path()), "--ca-bundle")
        );
        let e = resolve_with(
            "",
            &[("AWS_CA_BUNDLE", "/nonexistent.pem")],
            "s3://b/k",
            |_| {},
        )
        .unwrap_err();
        assert!(
            e.to_string().starts_with("AWS_CA_BUNDLE /nonexistent.pem"),
            "{e}"
        );
        let plan = resolve_with(
            "",
            &[
                ("SSL_CERT_FILE", &a_s),
                (
                    "SSL_CERT_DIR",
                    &format!("{}:/nonexistent", dir.path().display()),
                ),
            ],
            "s3://b/k",
            |_| {},
        )
        .unwrap();
        assert_eq!(plan.trust.cert_file.as_deref(), Some(a.as_path()));
        assert_eq!(plan.trust.cert_dirs, vec![dir.path().to_path_buf()]);

        // Proxy credentials never show in the plan's Debug.
        let plan = resolve_with(
            "",
            &[("HTTPS_PROXY", "http://alice:hunter2@p:3128")],
            "s3://b/k",
            |_| {},
        )
        .unwrap();
        let debug = format!("{plan:?}");
        assert!(plan.proxy.proxy.as_ref().unwrap().authorization.is_some());
        assert!(
            !debug.contains("hunter2") && !debug.contains("alice") && !debug.contains("YWxpY2U6"),
            "{debug}"
        );

        // The proxy follows the endpoint's scheme.
        let vars = [
            ("HTTPS_PROXY", "http://tls-proxy:1"),
            ("HTTP_PROXY", "http://plain-proxy:2"),
        ];
        let plan = resolve_with("", &vars, "s3://b/k", |_| {}).unwrap();
        assert_eq!(plan.proxy.proxy.unwrap().host, "tls-proxy");
        let plan = resolve_with("", &vars, "s3://b/k", |o| {
            o.endpoint = Some("http://minio.lan".into())
        })
        .unwrap();
        assert_eq!(plan.proxy.proxy.unwrap().host, "plain-proxy");
    }

    #[test]
    fn sts_takes_the_proxy_of_its_own_scheme() {
        let env = Env::from_pairs(
            [
                ("HTTPS_PROXY", "http://tls-proxy:1"),
                ("HTTP_PROXY", "http://plain-proxy:2"),
                ("NO_PROXY", "sts.internal"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let host = |r: Result<ProxyRoute, Error>| r.unwrap().proxy.map(|p| p.host);
        assert_eq!(
            host(sts_proxy(None, &env, None)).as_deref(),
            Some("tls-proxy")
        );
        let plain = Some("http://127.0.0.1:8080");
        assert_eq!(
            host(sts_proxy(None, &env, plain)).as_deref(),
            Some("plain-proxy")
        );
        assert_eq!(host(sts_proxy(Some("none"), &env, None)), None);
        assert_eq!(
            host(sts_proxy(Some("http://flag:3"), &env, plain)).as_deref(),
            Some("flag")
        );
        let route = sts_proxy(None, &env, Some("https://sts.internal")).unwrap();
        assert!(
            route.for_host("sts.internal", 443).is_none(),
            "NO_PROXY applies"
        );
        // A bad variable for the other scheme does not matter; for STS's own, it is an error.
        let bad = Env::from_pairs([("HTTP_PROXY".to_string(), "socks4://x:1".to_string())]);
        assert!(sts_proxy(None, &bad, None).is_ok());
        assert!(sts_proxy(None, &bad, plain).is_err());
    }
}
