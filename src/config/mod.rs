//! From what the user said (options, environment, shared files) to a resolved [`Plan`]:
//! every check that needs no network happens here, before any connection.

pub mod credentials;
pub mod endpoint;
pub mod profile;

use crate::http::request::{check_header_name, check_header_value};
use crate::Error;
pub use credentials::Credentials;
pub use endpoint::{Endpoint, Scheme};
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
    pub connect_timeout: Option<Duration>,
    pub timeout: Option<Duration>,
    pub retries: Option<u32>,
    pub retry_max_wait: Option<Duration>,
    pub no_expect: bool,
    pub quiet: bool,
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
    pub credentials: Credentials,
    pub ca_bundle: Option<PathBuf>,
    pub timeouts: Timeouts,
    pub retry: RetryPolicy,
    /// Send `Expect: 100-continue` before large bodies.
    pub expect: bool,
    pub quiet: bool,
}

impl Plan {
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
            plan.endpoint = Endpoint::aws(region);
        }
        plan
    }

    /// `s3://bucket/key`, for messages.
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }
}

/// Resolves options against the environment and the shared files.
pub fn resolve(options: Options, env: &Env) -> Result<Plan, Error> {
    let (bucket, key) = parse_destination(&options.destination, &options.source)?;
    let object = check_object_headers(options.object, &key)?;
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
    let endpoint = match options
        .endpoint
        .or_else(|| env.get("AWS_ENDPOINT_URL_S3").map(str::to_string))
        .or_else(|| env.get("AWS_ENDPOINT_URL").map(str::to_string))
        .or_else(|| setting("endpoint_url"))
    {
        Some(url) => Endpoint::parse(&url)?,
        None => {
            endpoint_from_region = true;
            Endpoint::aws(&region)
        }
    };
    let path_style = options.path_style
        || setting("s3.addressing_style").as_deref() == Some("path")
        || endpoint.needs_path_style(&bucket);
    let signature = options.signature.unwrap_or(SignatureVersion::V4);
    // Over TLS the record layer already authenticates every byte; in clear text only a
    // signed body hash stops a body from being altered on the way (README, "Payload modes").
    let payload = options.payload.unwrap_or(match endpoint.scheme {
        Scheme::Https => PayloadMode::Unsigned,
        Scheme::Http => PayloadMode::Signed,
    });
    if signature == SignatureVersion::V2 && options.payload.is_some() {
        return Err(Error::Usage(
            "--payload applies to SigV4; leave it out with --signature v2".into(),
        ));
    }
    if let Some(ca) = &options.ca_bundle {
        if !ca.is_file() {
            return Err(Error::Usage(format!(
                "--ca-bundle {}: no such file; give the PEM file of the CA that signed the server's certificate",
                ca.display()
            )));
        }
    }
    let credentials = credentials::resolve(env, &files, &profile, profile_from_cli)?;
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
        ca_bundle: options.ca_bundle,
        timeouts: Timeouts {
            connect: options.connect_timeout.unwrap_or(Duration::from_secs(10)),
            io: options.timeout.unwrap_or(Duration::from_secs(60)),
        },
        retry: RetryPolicy {
            retries: options.retries.unwrap_or(4),
            max_wait: options.retry_max_wait.unwrap_or(Duration::from_secs(20)),
        },
        expect: !options.no_expect,
        quiet: options.quiet,
    })
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
fn check_object_headers(mut h: ObjectHeaders, key: &str) -> Result<ObjectHeaders, Error> {
    let content_type = h.content_type.take().unwrap_or_else(|| {
        mime_guess::from_path(key)
            .first_raw()
            .unwrap_or("application/octet-stream")
            .to_string()
    });
    h.content_type = Some(content_type);
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
    fn headers_are_checked_and_type_guessed() {
        let h = check_object_headers(ObjectHeaders::default(), "a/x.json").unwrap();
        assert_eq!(h.content_type.as_deref(), Some("application/json"));
        let h = check_object_headers(ObjectHeaders::default(), "noext").unwrap();
        assert_eq!(h.content_type.as_deref(), Some("application/octet-stream"));
        let bad = ObjectHeaders {
            meta: vec![("k".into(), "v\r\nx: y".into())],
            ..Default::default()
        };
        assert_eq!(check_object_headers(bad, "k").unwrap_err().exit_code(), 2);
        let bad = ObjectHeaders {
            acl: Some("world-writable".into()),
            ..Default::default()
        };
        assert!(check_object_headers(bad, "k")
            .unwrap_err()
            .to_string()
            .contains("public-read"));
        let meta = ObjectHeaders {
            meta: vec![("Owner".into(), "alice".into())],
            ..Default::default()
        };
        assert_eq!(check_object_headers(meta, "k").unwrap().meta[0].0, "owner");
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
}
