//! `s3push presign s3://BUCKET/KEY`: a URL that lets its holder PUT that one object until
//! it expires, with no credentials of their own. Nothing is sent: the URL is computed
//! from the credentials and the clock, and printed.

use crate::config::{self, Env, Options, Plan, SignatureVersion};
use crate::sign::presign::{self, Signer, V2Presign, V4Presign, MAX_EXPIRES_SECS};
use crate::sign::time::Timestamp;
use crate::sign::uri;
use crate::Error;

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
        ..Default::default()
    };
    let plan = config::resolve(upload, env)?;
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
    let query = match plan.signature {
        SignatureVersion::V4 => {
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
            let req = V2Presign {
                method: "PUT",
                resource: &resource,
                content_type: content_type.unwrap_or(""),
                amz_headers: &acl,
                expires_at: time.unix().saturating_add(expires),
            };
            let query = presign::v2(&req, signer).query;
            headers.extend(acl);
            query
        }
    };
    Presigned {
        url: format!("{}{encoded_path}?{query}", origin(plan, &host)),
        headers,
    }
}

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
