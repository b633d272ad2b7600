//! Options + environment + shared files -> a [`Plan`]: every check that needs no network
//! first, the credential chain last.

use super::checks::{
    check_object_headers, check_url_destination, parse_destination, parse_size, resolve_condition,
};
use super::network::{resolve_trust, sts_proxy};
use super::parts::resolve_multipart;
use super::*;
use crate::error::Error;
use std::path::PathBuf;
use std::time::Duration;

/// Resolves options against the environment and the shared files, in named steps: the
/// destination, the profile, the region, the endpoint and its addressing, signing, trust
/// and proxies, multipart, protection and the checksum; the credential chain last (it may
/// call a metadata service, STS or a process: usage errors come first).
pub fn resolve(options: Options, env: &Env) -> Result<Plan, Error> {
    let Destination {
        url_target,
        bucket,
        key,
        object,
    } = destination(&options)?;
    let unsigned = url_target.is_some() || options.no_sign_request;
    let profile = Profile::load(&options, env)?;
    let region = region(options.region.clone(), env, &profile)?;
    let Addressing {
        endpoint,
        endpoint_from_region,
        aws_variant,
        path_style,
    } = addressing(&options, env, &profile, &url_target, &bucket, &region)?;
    let (signature, payload) = signing(&options, unsigned, url_target.is_some(), &endpoint)?;
    let (ca_bundle, ca_bundle_from) = ca_bundle(options.ca_bundle.clone(), env, &profile)?;
    let timeouts = Timeouts {
        connect: options.connect_timeout.unwrap_or(Duration::from_secs(10)),
        io: options.timeout.unwrap_or(Duration::from_secs(60)),
    };
    let fetch_settings = fetch_settings(&options, env, &profile, &region, &ca_bundle, timeouts);
    let mut warnings = Vec::new();
    let trust = resolve_trust(env, ca_bundle_from, &mut warnings);
    let limit_rate = limit_rate(options.limit_rate, env)?;
    let proxy = ProxyRoute::resolve(options.proxy.as_deref(), env, endpoint.scheme)?
        .trusting(ca_bundle.as_deref(), &trust);
    let multipart = resolve_multipart(options.multipart.clone(), &options.source, &endpoint, env)?;
    let condition = resolve_condition(options.no_clobber, options.if_match.clone())?;
    let protection = protection_of(&options, &endpoint, url_target.is_some())?;
    let checksum = checksum(&options, unsigned, &endpoint, signature, &mut warnings);
    let credentials = if unsigned {
        CredentialSource::fixed(Credentials::anonymous())
    } else {
        credentials::resolve(
            env,
            &profile.files,
            &profile.name,
            profile.from_cli,
            &fetch_settings,
        )?
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

/// Where the object goes, and its headers.
struct Destination {
    /// A URL destination: its endpoint, and the target as given.
    url_target: Option<(Endpoint, UrlTarget)>,
    bucket: String,
    key: String,
    object: ObjectHeaders,
}

/// `s3://BUCKET/KEY` or a (presigned) URL, and the object headers checked. A URL
/// destination gets only the headers the user gave: a guessed Content-Type would break a
/// SigV2 URL, which signs it.
fn destination(options: &Options) -> Result<Destination, Error> {
    let url_target = presigned::parse(&options.destination)?;
    let (bucket, key) = match &url_target {
        Some(_) => (String::new(), String::new()),
        None => parse_destination(&options.destination, &options.source)?,
    };
    let object = check_object_headers(options.object.clone(), &key, url_target.is_none())?;
    if let Some((_, target)) = &url_target {
        check_url_destination(options, target, &object)?;
    }
    Ok(Destination {
        url_target,
        bucket,
        key,
        object,
    })
}

/// The shared files and the profile of the run: `--profile`, else AWS_PROFILE, else
/// `default`.
struct Profile {
    files: credentials::SharedFiles,
    name: String,
    /// Named by `--profile` (the environment's keys then do not come first).
    from_cli: bool,
}

impl Profile {
    fn load(options: &Options, env: &Env) -> Result<Profile, Error> {
        let files = credentials::SharedFiles::load(env)?;
        let name = options
            .profile
            .clone()
            .or_else(|| env.get("AWS_PROFILE").map(str::to_string))
            .unwrap_or_else(|| "default".into());
        Ok(Profile {
            files,
            name,
            from_cli: options.profile.is_some(),
        })
    }

    /// A setting of the profile in the config file; empty counts as unset.
    fn setting(&self, key: &str) -> Option<String> {
        self.files
            .config
            .config_profile(&self.name)
            .and_then(|s| s.get(key))
            .filter(|v| !v.is_empty())
            .cloned()
    }
}

/// `--region`, AWS_REGION, AWS_DEFAULT_REGION, the profile's `region`, else us-east-1.
fn region(flag: Option<String>, env: &Env, profile: &Profile) -> Result<String, Error> {
    let region = flag
        .or_else(|| env.get("AWS_REGION").map(str::to_string))
        .or_else(|| env.get("AWS_DEFAULT_REGION").map(str::to_string))
        .or_else(|| profile.setting("region"))
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
    Ok(region)
}

/// The endpoint requests go to, and how the bucket is addressed there.
struct Addressing {
    endpoint: Endpoint,
    /// AWS's default endpoint for the region (so it follows the region).
    endpoint_from_region: bool,
    aws_variant: AwsVariant,
    path_style: bool,
}

/// The endpoint in the AWS SDKs' order ("Service-specific endpoints"): the option,
/// AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the `s3` endpoint of the profile's `services`
/// section, then its `endpoint_url`; all but the option skipped with
/// AWS_IGNORE_CONFIGURED_ENDPOINT_URLS. Without one, AWS's endpoint for the region (with
/// the dualstack, FIPS and acceleration choices); then the addressing style.
fn addressing(
    options: &Options,
    env: &Env,
    profile: &Profile,
    url_target: &Option<(Endpoint, UrlTarget)>,
    bucket: &str,
    region: &str,
) -> Result<Addressing, Error> {
    let setting = |k: &str| profile.setting(k);
    let ignore_configured = is_true(env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"))
        || is_true(setting("ignore_configured_endpoint_urls").as_deref());
    let services = setting("services")
        .and_then(|name| profile.files.config.section(&format!("services {name}")))
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
    let custom = match &options.endpoint {
        Some(url) => Some(url.clone()),
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
    let mut endpoint_from_region = false;
    let endpoint = match (url_target, custom) {
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
                bucket,
                options.path_style,
                addressing.as_deref(),
            )?;
            Endpoint::aws_variant(region, aws_variant)
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
        Some("virtual") if endpoint.ip_literal || !endpoint::dns_compatible(bucket) => {
            return Err(Error::Usage(format!(
                "addressing_style = virtual in the profile, but bucket '{bucket}' cannot go in a host name at {}: \
                 set addressing_style = path (or auto)",
                endpoint.url()
            )))
        }
        Some("virtual") => false,
        Some("auto") | None => endpoint.needs_path_style(bucket),
        Some(other) => {
            return Err(Error::Usage(format!(
                "addressing_style = {other} in the profile: use path, virtual or auto"
            )))
        }
    };
    Ok(Addressing {
        endpoint,
        endpoint_from_region,
        aws_variant,
        path_style,
    })
}

/// The signature version and the payload mode. Over TLS the record layer already
/// authenticates every byte; in clear text only a signed body hash stops a body from being
/// altered on the way (doc/integrity.md, "Payload modes").
fn signing(
    options: &Options,
    unsigned: bool,
    url_destination: bool,
    endpoint: &Endpoint,
) -> Result<(SignatureVersion, PayloadMode), Error> {
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
                if url_destination {
                    "a URL destination"
                } else {
                    "--no-sign-request"
                }
            )));
        }
    }
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
    Ok((signature, payload))
}

/// The user's CA bundle and where it came from: `--ca-bundle`, else AWS_CA_BUNDLE, else
/// `ca_bundle` in the profile; it must be a file.
fn ca_bundle(
    flag: Option<PathBuf>,
    env: &Env,
    profile: &Profile,
) -> Result<(Option<PathBuf>, &'static str), Error> {
    let (ca_bundle, from) = match flag {
        Some(path) => (Some(path), "--ca-bundle"),
        None => match env.get("AWS_CA_BUNDLE") {
            Some(path) => (Some(PathBuf::from(path)), "AWS_CA_BUNDLE"),
            None => (
                profile.setting("ca_bundle").map(PathBuf::from),
                "ca_bundle in the profile",
            ),
        },
    };
    if let Some(ca) = &ca_bundle {
        if !ca.is_file() {
            return Err(Error::Usage(format!(
                "{from} {}: no such file; give the PEM file of the CA that signed the server's certificate",
                ca.display()
            )));
        }
    }
    Ok((ca_bundle, from))
}

/// What the credential sources that call out (STS, metadata, SSO) need. The STS endpoint
/// as the SDKs find it: the service's own variable, the profile's `sts =` section, then
/// the endpoint for every service.
fn fetch_settings(
    options: &Options,
    env: &Env,
    profile: &Profile,
    region: &str,
    ca_bundle: &Option<PathBuf>,
    timeouts: Timeouts,
) -> credentials::FetchSettings {
    let sts_endpoint = env
        .get("AWS_ENDPOINT_URL_STS")
        .map(str::to_string)
        .or_else(|| profile.setting("sts.endpoint_url"))
        .or_else(|| env.get("AWS_ENDPOINT_URL").map(str::to_string))
        .or_else(|| profile.setting("endpoint_url"));
    // The SSO portal (IAM Identity Center profiles): its own variable only, so that an
    // AWS_ENDPOINT_URL naming the store does not send the SSO token there.
    let sso_endpoint = env.get("AWS_ENDPOINT_URL_SSO").map(str::to_string);
    // An https:// proxy trusts the bundle that fetch.rs gives the STS or SSO endpoint.
    let trust = Trust {
        ca_bundle_from: "--ca-bundle",
        ..Trust::default()
    };
    let route = |endpoint: Option<&str>| {
        sts_proxy(options.proxy.as_deref(), env, endpoint)
            .map(|r| r.trusting(ca_bundle.as_deref(), &trust))
    };
    credentials::FetchSettings {
        region: region.to_string(),
        ca_bundle: ca_bundle.clone(),
        connect_timeout: timeouts.connect,
        io_timeout: timeouts.io,
        sts_proxy: route(sts_endpoint.as_deref()),
        sts_endpoint,
        sso_proxy: route(sso_endpoint.as_deref()),
        sso_endpoint,
    }
}

/// `--limit-rate`, else S3PUSH_LIMIT_RATE.
fn limit_rate(flag: Option<u64>, env: &Env) -> Result<Option<u64>, Error> {
    Ok(match (flag, env.get("S3PUSH_LIMIT_RATE")) {
        (Some(rate), _) => Some(rate),
        (None, Some(text)) => Some(parse_size(text).filter(|&r| r > 0).ok_or_else(|| {
            Error::Usage(format!(
                "S3PUSH_LIMIT_RATE={text}: give bytes per second, like 4MiB or 500K"
            ))
        })?),
        (None, None) => None,
    })
}

/// Encryption, tags, retention and owner checks, and what they cannot go with.
fn protection_of(
    options: &Options,
    endpoint: &Endpoint,
    url_destination: bool,
) -> Result<protection::Protection, Error> {
    let protection = protection::resolve(
        options.protection.clone(),
        endpoint.scheme == Scheme::Https,
        crate::sign::time::Timestamp::now(),
    )?;
    if url_destination
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
    Ok(protection)
}

/// The checksum the store verifies. Unsigned requests get none unless asked for (then a
/// header, from a first pass): a trailer needs an aws-chunked body declared in
/// x-amz-content-sha256, which a presigned URL does not sign; the ETag check stands in.
fn checksum(
    options: &Options,
    unsigned: bool,
    endpoint: &Endpoint,
    signature: SignatureVersion,
    warnings: &mut Vec<String>,
) -> Option<crate::checksum::Algorithm> {
    let checksum = match options.checksum {
        Some(choice) => choice,
        None if unsigned => None,
        None => default_checksum(endpoint, signature),
    };
    if checksum.is_some() && signature == SignatureVersion::V2 && options.checksum.is_some() {
        // Sent as a header, known from a pass over the body first: it works, but say so.
        warnings.push(
            "--checksum with --signature v2 reads the file twice (SigV2 has no trailers)".into(),
        );
    }
    checksum
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

#[cfg(test)]
mod tests {
    use super::*;

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
        // A region redirect (upload::wire) keeps the variant.
        let plan = resolve_with("", &[], "s3://my-bucket/k", |o| o.dualstack = true).unwrap();
        assert!(plan.endpoint_from_region);
        assert_eq!(
            Endpoint::aws_variant("eu-west-3", plan.aws_variant).host,
            "s3.dualstack.eu-west-3.amazonaws.com"
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
}
