//! `s3push presign s3://BUCKET/KEY`: a URL that lets its holder PUT that one object until
//! it expires, with no credentials of their own. Nothing is sent: the URL is computed
//! from the credentials and the clock, and printed.

use crate::config::{self, Env, Options, Plan, SignatureVersion};
use crate::error::Error;
use crate::sign::presign::{self, Signer, V2Presign, V4Presign, MAX_EXPIRES_SECS};
use crate::sign::time::Timestamp;
use crate::sign::uri;

/// Default validity: one hour (as `aws s3 presign`).
pub const DEFAULT_EXPIRES_SECS: u64 = 3600;

/// What `s3push presign` was told.
#[derive(Debug, Default, Clone)]
pub struct PresignOptions {
    pub destination: String,
    /// Seconds the URL stays valid (checked against [`MAX_EXPIRES_SECS`]).
    pub expires: u64,
    pub content_type: Option<String>,
    pub acl: Option<String>,
    pub signature: Option<SignatureVersion>,
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub profile: Option<String>,
    pub path_style: bool,
    pub quiet: bool,
    /// The protection flags that apply to one PUT (doc/presign.md): signed as headers the
    /// upload must send. `--require-protection` and `--skip-identical` do not apply.
    pub protection: config::protection::ProtectionOptions,
}

/// A presigned PUT: the URL, and the headers the upload must carry with exactly these
/// values (they are signed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presigned {
    pub url: String,
    pub headers: Vec<(String, String)>,
}

/// Resolves the destination and credentials as an upload would, and presigns a PUT
/// valid from now.
pub fn run(options: PresignOptions, env: &Env) -> Result<Presigned, Error> {
    if options.expires == 0 || options.expires > MAX_EXPIRES_SECS {
        return Err(Error::Usage(format!(
            "--expires {}s: a presigned URL lasts from 1 second to 7 days (604800 s, S3's limit)",
            options.expires
        )));
    }
    let key = options
        .destination
        .strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/'))
        .map_or("", |(_, key)| key);
    if key.is_empty() || key.ends_with('/') {
        return Err(Error::Usage(format!(
            "presign needs the whole key, not '{}': write it as s3://BUCKET/KEY",
            options.destination
        )));
    }
    let upload = Options {
        source: std::path::PathBuf::from("presign"),
        destination: options.destination,
        endpoint: options.endpoint,
        region: options.region,
        profile: options.profile,
        path_style: options.path_style,
        signature: options.signature,
        object: config::ObjectHeaders {
            content_type: options.content_type.clone(),
            acl: options.acl,
            ..Default::default()
        },
        protection: options.protection,
        ..Default::default()
    };
    let plan = config::resolve(upload, env)?;
    if plan.protection.needs_integrity_header() && plan.signature == SignatureVersion::V2 {
        return Err(Error::Usage(
            "Object Lock needs Content-MD5 on the PUT, and a SigV2 URL signs Content-MD5 as empty: \
             presign with --signature v4"
                .into(),
        ));
    }
    for warning in &plan.warnings {
        crate::report::warning(warning);
    }
    Ok(presign_put(
        &plan,
        options.content_type.as_deref(),
        options.expires,
        Timestamp::now(),
    ))
}

/// A PUT of the plan's object, signed at `time`, valid `expires` seconds. SigV4: the
/// Content-Type (when given) is a signed header, the ACL rides in the signed query.
/// SigV2: both are signed as headers the upload must carry.
pub fn presign_put(
    plan: &Plan,
    content_type: Option<&str>,
    expires: u64,
    time: Timestamp,
) -> Presigned {
    // The credentials the plan was resolved with (a URL lives no longer than they do).
    let creds = plan.credentials.last();
    let signer = Signer {
        access_key_id: &creds.access_key_id,
        secret: creds.secret_access_key.expose(),
        session_token: creds.session_token.as_ref().map(|t| t.expose()),
    };
    let host = plan.endpoint.authority(&plan.host());
    let path = if plan.path_style {
        format!("/{}/{}", plan.bucket, plan.key)
    } else {
        format!("/{}", plan.key)
    };
    let encoded_path = uri::encode_path(&path);
    let mut headers = Vec::new();
    if let Some(t) = content_type {
        headers.push(("content-type".to_string(), t.to_string()));
    }
    let acl: Vec<(String, String)> = plan
        .object
        .acl
        .iter()
        .map(|a| ("x-amz-acl".to_string(), a.clone()))
        .collect();
    // Encryption, tags, Object Lock, bucket owner, requester pays, SSE-C: signed headers
    // (SigV4 and v2 alike, as botocore presigns them), which the upload must send.
    let mut protect = plan.protection.object_headers();
    protect.extend(plan.protection.request_headers(true));
    let query = match plan.signature {
        SignatureVersion::V4 => {
            headers.extend(protect.iter().cloned());
            let req = V4Presign {
                method: "PUT",
                canonical_uri: &encoded_path,
                host: &host,
                headers: &headers,
                query: &acl,
                expires,
            };
            presign::v4(&req, signer, &plan.region, time).query
        }
        SignatureVersion::V2 => {
            // The resource is /bucket/key also when virtual-hosted (as for uploads).
            let resource = uri::encode_path(&format!("/{}/{}", plan.bucket, plan.key));
            let mut amz = acl;
            amz.extend(protect.iter().cloned());
            let req = V2Presign {
                method: "PUT",
                resource: &resource,
                content_type: content_type.unwrap_or(""),
                amz_headers: &amz,
                expires_at: time.unix().saturating_add(expires),
            };
            let query = presign::v2(&req, signer).query;
            headers.extend(amz);
            query
        }
    };
    // The SSE-C key is signed (its value is in the signature) but never printed: the
    // uploader has the key file.
    for (name, value) in &mut headers {
        if name == "x-amz-server-side-encryption-customer-key" {
            *value = SSE_C_KEY_SHOWN.to_string();
        }
    }
    // S3 refuses an Object Lock PUT without Content-MD5 or a checksum; the body is not
    // known here, so the uploader computes it (SigV4 leaves Content-MD5 unsigned).
    if plan.protection.needs_integrity_header() {
        headers.push(("content-md5".into(), CONTENT_MD5_SHOWN.into()));
    }
    Presigned {
        url: format!("{}{encoded_path}?{query}", origin(plan, &host)),
        headers,
    }
}

/// What presign shows for the Content-MD5 an Object Lock PUT must send.
pub const CONTENT_MD5_SHOWN: &str = "<base64 of the file's MD5: openssl md5 -binary FILE | base64>";

/// What presign shows for the SSE-C key header the upload must send.
pub const SSE_C_KEY_SHOWN: &str = "<base64 of the key file: base64 -w0 KEYFILE>";

/// `http[s]://HOST[:PORT]`.
fn origin(plan: &Plan, authority: &str) -> String {
    let scheme = match plan.endpoint.scheme {
        config::Scheme::Http => "http",
        config::Scheme::Https => "https",
    };
    format!("{scheme}://{authority}")
}

/// A duration: `90s`, `15m`, `1h`, `7d`, or plain seconds.
pub fn parse_duration(text: &str) -> Option<u64> {
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let number: u64 = t[..digits].parse().ok()?;
    let unit = match &t[digits..] {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    number.checked_mul(unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Env {
        Env::from_pairs([
            ("AWS_ACCESS_KEY_ID".into(), "AKIAIOSFODNN7EXAMPLE".into()),
            (
                "AWS_SECRET_ACCESS_KEY".into(),
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            ),
        ])
    }

    fn options(destination: &str) -> PresignOptions {
        PresignOptions {
            destination: destination.into(),
            expires: 3600,
            ..Default::default()
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Some(90));
        assert_eq!(parse_duration("15m"), Some(900));
        assert_eq!(parse_duration("1h"), Some(3600));
        assert_eq!(parse_duration("7d"), Some(604_800));
        assert_eq!(parse_duration("120"), Some(120));
        for bad in ["", "h", "1.5h", "-1", "1w", "1 h", "99999999999999999999d"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn expiry_and_key_are_checked_before_anything() {
        let mut long = options("s3://b/k");
        long.expires = MAX_EXPIRES_SECS + 1;
        let err = run(long, &env()).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("7 days"), "{err}");
        for dest in ["s3://b", "s3://b/", "s3://b/dir/", "b/k"] {
            assert_eq!(
                run(options(dest), &env()).unwrap_err().exit_code(),
                2,
                "{dest}"
            );
        }
        let none = run(options("s3://b/k"), &Env::default()).unwrap_err();
        assert_eq!(none.exit_code(), 4, "{none}");
    }

    /// Protection flags are signed as headers the upload must send (v4 and v2); the
    /// SSE-C key is signed but shown as a placeholder; Object Lock asks for Content-MD5,
    /// which a v2 URL cannot carry.
    #[test]
    fn protection_headers_are_signed_and_listed() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("k");
        std::fs::write(&key, [7u8; 32]).unwrap();
        let mut o = options("s3://b/k");
        o.endpoint = Some("https://127.0.0.1:9000".into());
        o.protection = config::protection::ProtectionOptions {
            sse_c_key_file: Some(key),
            tagging: Some("a=1 2".into()),
            lock_mode: Some("GOVERNANCE".into()),
            lock_retain_until: Some("2099-01-01T00:00:00Z".into()),
            expected_bucket_owner: Some("111122223333".into()),
            ..Default::default()
        };
        let p = run(o.clone(), &env()).unwrap();
        let signed = p
            .url
            .split('&')
            .find_map(|kv| kv.strip_prefix("X-Amz-SignedHeaders="))
            .unwrap()
            .replace("%3B", ";");
        assert_eq!(
            signed,
            "host;x-amz-expected-bucket-owner;x-amz-object-lock-mode;x-amz-object-lock-retain-until-date;\
             x-amz-server-side-encryption-customer-algorithm;x-amz-server-side-encryption-customer-key;\
             x-amz-server-side-encryption-customer-key-md5;x-amz-tagging"
        );
        let shown: Vec<&str> = p.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert!(
            shown.contains(&"x-amz-tagging") && shown.contains(&"content-md5"),
            "{shown:?}"
        );
        let value = |n: &str| {
            p.headers
                .iter()
                .find(|(h, _)| h == n)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(value("x-amz-tagging"), Some("a=1%202"));
        assert_eq!(
            value("x-amz-server-side-encryption-customer-key"),
            Some(SSE_C_KEY_SHOWN)
        );
        let mut v2 = o;
        v2.signature = Some(SignatureVersion::V2);
        let err = run(v2, &env()).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("--signature v4"), "{err}");
    }

    /// The API reference's example, through the plan: virtual-hosted on AWS's endpoint
    /// (a GET there; a PUT here, so only the shape and the signed parts are compared).
    #[test]
    fn urls_follow_the_plan_addressing() {
        let mut o = options("s3://examplebucket/dir/a b.txt");
        o.region = Some("us-east-1".into());
        let plan = config::resolve(
            Options {
                source: "presign".into(),
                destination: o.destination.clone(),
                region: o.region.clone(),
                ..Default::default()
            },
            &env(),
        )
        .unwrap();
        let p = presign_put(&plan, None, 86_400, Timestamp::from_unix(1_369_353_600));
        assert!(p.url.starts_with(
            "https://examplebucket.s3.us-east-1.amazonaws.com/dir/a%20b.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
             &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature="
        ), "{}", p.url);
        assert!(p.headers.is_empty());

        let local = config::resolve(
            Options {
                source: "presign".into(),
                destination: "s3://b/k".into(),
                endpoint: Some("http://127.0.0.1:9000".into()),
                signature: Some(SignatureVersion::V2),
                object: config::ObjectHeaders {
                    acl: Some("public-read".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
            &env(),
        )
        .unwrap();
        let p = presign_put(&local, Some("text/plain"), 60, Timestamp::from_unix(100));
        assert!(
            p.url.starts_with("http://127.0.0.1:9000/b/k?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=160&Signature="),
            "{}",
            p.url
        );
        assert_eq!(
            p.headers,
            vec![
                ("content-type".to_string(), "text/plain".to_string()),
                ("x-amz-acl".to_string(), "public-read".to_string())
            ]
        );
    }
}
