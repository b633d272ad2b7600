//! IAM Identity Center (SSO) profiles, as the AWS CLI v2 writes them: `sso_session = S`
//! with an `[sso-session S]` section (`sso_start_url`, `sso_region`), or the legacy form
//! with `sso_start_url` and `sso_region` in the profile; both with `sso_account_id` and
//! `sso_role_name`. The access token is the one `aws sso login` cached in
//! `~/.aws/sso/cache/SHA1.json` (SHA-1 of the session name, or of the start URL for the
//! legacy form); it is traded for role credentials by the portal's GetRoleCredentials
//! (`GET /federation/credentials`, unsigned, the token in `x-amz-sso_bearer_token`).
//! s3push never logs in itself: a missing or expired token is a credentials error that
//! says to run `aws sso login`.

use super::{Credentials, FetchSettings, Provider, SharedFiles};
use crate::config::fetch::{self, Limits, Target};
use crate::config::json::{Object, Value};
use crate::config::{Env, ProxyRoute};
use crate::error::Error;
use crate::secret::Secret;
use crate::sign::time::Timestamp;
use crate::sign::uri::encode_component;
use sha1::{Digest, Sha1};
use std::path::PathBuf;

/// An SSO profile's role, and where its token and credentials come from.
#[derive(Debug)]
pub struct Sso {
    /// The profile, for messages (`aws sso login --profile P`).
    profile: String,
    account_id: String,
    role_name: String,
    /// `~/.aws/sso/cache/SHA1.json`; None without HOME.
    cache_file: Option<PathBuf>,
    /// The portal's GetRoleCredentials, with its query.
    target: Target,
    limits: Limits,
    ca_bundle: Option<PathBuf>,
    /// The proxy a store request to the portal's scheme would take.
    proxy: ProxyRoute,
}

impl Sso {
    /// The SSO settings of profile `name` (read with `get`), or None when it has none.
    /// A half-configured profile is an error that names what is missing.
    pub fn from_profile(
        name: &str,
        get: &dyn Fn(&str) -> Option<String>,
        files: &SharedFiles,
        env: &Env,
        net: &FetchSettings,
    ) -> Result<Option<Sso>, Error> {
        let where_ = format!("profile '{name}'");
        let (cache_key, start_url, region) = match (get("sso_session"), get("sso_start_url")) {
            (None, None) => return Ok(None),
            (Some(session), _) => {
                let section = files
                    .config
                    .section(&format!("sso-session {session}"))
                    .ok_or_else(|| {
                        Error::Credentials(format!(
                            "{where_} names sso_session = {session}, but there is no [sso-session {session}] section in {}: add it (aws configure sso)",
                            super::show(files.config_path.as_ref())
                        ))
                    })?;
                let in_session = |key: &str| {
                    section
                        .get(key)
                        .filter(|v| !v.is_empty())
                        .cloned()
                        .ok_or_else(|| {
                            Error::Credentials(format!(
                                "[sso-session {session}] has no {key}: add it (aws configure sso)"
                            ))
                        })
                };
                (
                    session.clone(),
                    in_session("sso_start_url")?,
                    in_session("sso_region")?,
                )
            }
            (None, Some(url)) => {
                let region = get("sso_region").ok_or_else(|| {
                    Error::Credentials(format!(
                        "{where_} has sso_start_url but no sso_region: add it (aws configure sso)"
                    ))
                })?;
                (url.clone(), url, region)
            }
        };
        let required = |key: &str| {
            get(key).ok_or_else(|| {
                Error::Credentials(format!(
                    "{where_} signs in with IAM Identity Center ({start_url}) but has no {key}: add it (aws configure sso)"
                ))
            })
        };
        let (account_id, role_name) = (required("sso_account_id")?, required("sso_role_name")?);
        if !region
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(Error::Credentials(format!(
                "{where_}: sso_region = {region} is not a region: write it like us-east-1"
            )));
        }
        let portal = net.sso_endpoint.clone().unwrap_or_else(|| {
            let domain = if region.starts_with("cn-") {
                "amazonaws.com.cn"
            } else {
                "amazonaws.com"
            };
            format!("https://portal.sso.{region}.{domain}")
        });
        let url = format!(
            "{}/federation/credentials?account_id={}&role_name={}",
            portal.trim_end_matches('/'),
            encode_component(&account_id),
            encode_component(&role_name)
        );
        let target = Target::parse(&url).ok_or_else(|| {
            Error::Credentials(format!(
                "the SSO portal endpoint '{portal}' is not a URL: fix AWS_ENDPOINT_URL_SSO (http[s]://HOST[:PORT])"
            ))
        })?;
        Ok(Some(Sso {
            profile: name.to_string(),
            account_id,
            role_name,
            cache_file: env.get("HOME").map(|home| {
                PathBuf::from(home)
                    .join(".aws/sso/cache")
                    .join(cache_name(&cache_key))
            }),
            target,
            limits: Limits {
                connect: net.connect_timeout,
                io: net.io_timeout,
            },
            ca_bundle: net.ca_bundle.clone(),
            proxy: net.sso_proxy.clone()?,
        }))
    }

    /// What to run when the token is missing or expired.
    fn login(&self) -> String {
        format!("run `aws sso login --profile {}`", self.profile)
    }

    /// The cached access token, unless it is missing or expired.
    fn token(&self, now: Timestamp) -> Result<Secret, Error> {
        let Some(path) = &self.cache_file else {
            return Err(Error::Credentials(format!(
                "profile '{}' uses IAM Identity Center, whose token is cached under $HOME/.aws/sso/cache, and HOME is not set: set HOME, then {}",
                self.profile,
                self.login()
            )));
        };
        let text = super::read_token_file(path).map_err(|e| {
            let why = if e.kind() == std::io::ErrorKind::NotFound {
                "no SSO token cached".to_string()
            } else {
                format!("cannot read the SSO token cache ({e})")
            };
            Error::Credentials(format!(
                "profile '{}': {why} at {}: {}",
                self.profile,
                path.display(),
                self.login()
            ))
        })?;
        let text = Secret::new(text);
        let unreadable = || {
            Error::Credentials(format!(
                "profile '{}': the SSO token cache {} is not the JSON aws sso login writes (accessToken, expiresAt): {}",
                self.profile,
                path.display(),
                self.login()
            ))
        };
        let cache = Object::parse(text.expose()).ok_or_else(unreadable)?;
        let token = cache
            .string("accessToken")
            .filter(|t| !t.is_empty())
            .ok_or_else(unreadable)?;
        let expires = cache
            .string("expiresAt")
            .and_then(parse_expires_at)
            .ok_or_else(unreadable)?;
        if expires.unix() <= now.unix() {
            return Err(Error::Credentials(format!(
                "profile '{}': the SSO token expired at {}: {}",
                self.profile,
                expires.amz_date(),
                self.login()
            )));
        }
        if token.bytes().any(|b| b < 0x21 || b == 0x7f) {
            return Err(unreadable());
        }
        Ok(Secret::new(token.to_string()))
    }
}

impl Provider for Sso {
    fn fetch(&self) -> Result<Credentials, Error> {
        let token = self.token(Timestamp::now())?;
        let headers = [(
            "x-amz-sso_bearer_token".to_string(),
            token.expose().to_string(),
        )];
        let url = self.target.endpoint.url();
        let response = fetch::call(
            &self.target,
            "GET",
            &headers,
            b"",
            self.limits,
            self.ca_bundle.as_deref(),
            self.proxy
                .for_host(&self.target.endpoint.host, self.target.endpoint.port),
        )
        .map_err(|e| {
            let why = fetch::redact(&e.into_error().to_string(), &[token.expose()]);
            Error::Credentials(format!(
                "SSO GetRoleCredentials for profile '{}' failed at {url}: {why}",
                self.profile
            ))
        })?;
        let body = String::from_utf8_lossy(&response.body);
        match response.head.status {
            200 => {}
            401 | 403 => {
                return Err(Error::Credentials(format!(
                    "the SSO portal {url} refused the token of profile '{}' ({}): it has expired or was revoked; {}",
                    self.profile,
                    response.head.status_line(),
                    self.login()
                )))
            }
            _ => {
                let said = fetch::one_line(&fetch::redact(&body, &[token.expose()]), 200);
                return Err(Error::Credentials(format!(
                    "the SSO portal {url} answered {} to GetRoleCredentials for account {} role {} (profile '{}'): {said}",
                    response.head.status_line(),
                    self.account_id,
                    self.role_name,
                    self.profile
                )));
            }
        }
        parse_role_credentials(
            &body,
            &format!("IAM Identity Center (profile '{}')", self.profile),
        )
    }
}

/// The cache file's name: the SHA-1 of the session name (or legacy start URL), in hex.
pub fn cache_name(key: &str) -> String {
    let digest = Sha1::digest(key.as_bytes());
    let mut name: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    name.push_str(".json");
    name
}

/// `expiresAt` as the AWS CLI writes it: RFC 3339 (`2026-12-07T18:00:00Z`), or the
/// older `2026-12-07T18:00:00UTC`.
fn parse_expires_at(text: &str) -> Option<Timestamp> {
    match text.trim().strip_suffix("UTC") {
        Some(bare) => Timestamp::parse_iso8601(&format!("{bare}Z")),
        None => Timestamp::parse_iso8601(text),
    }
}

/// `{"roleCredentials": {"accessKeyId", "secretAccessKey", "sessionToken",
/// "expiration" (milliseconds since the epoch)}}`.
fn parse_role_credentials(body: &str, source: &str) -> Result<Credentials, Error> {
    let bad = |what: &str| {
        Error::Credentials(format!(
            "{source}: the SSO portal's answer {what}: it is not what GetRoleCredentials sends"
        ))
    };
    let o = Object::parse_member(body, "roleCredentials")
        .ok_or_else(|| bad("has no roleCredentials object"))?;
    let text = |key: &str| {
        o.string(key)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| bad(&format!("has no {key}")))
    };
    let expires = match o.get("expiration") {
        Some(Value::Number(ms)) => Some(Timestamp::from_unix(
            ms.parse::<u64>()
                .map_err(|_| bad("has an unreadable expiration"))?
                / 1000,
        )),
        None | Some(Value::Null) => None,
        Some(_) => return Err(bad("has an unreadable expiration")),
    };
    Ok(Credentials {
        access_key_id: text("accessKeyId")?.to_string(),
        secret_access_key: Secret::new(text("secretAccessKey")?.to_string()),
        session_token: Some(Secret::new(text("sessionToken")?.to_string())),
        source: source.to_string(),
        expires,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_names_are_the_sha1_of_the_key() {
        // SHA-1's own test vectors (FIPS 180-2, appendix A), in lowercase hex.
        assert_eq!(
            cache_name(""),
            "da39a3ee5e6b4b0d3255bfef95601890afd80709.json"
        );
        assert_eq!(
            cache_name("abc"),
            "a9993e364706816aba3e25717850c26c9cd0d89d.json"
        );
    }

    #[test]
    fn expires_at_in_both_forms() {
        let z = parse_expires_at("2026-12-07T18:00:00Z").unwrap();
        assert_eq!(parse_expires_at("2026-12-07T18:00:00UTC"), Some(z));
        assert_eq!(parse_expires_at("tomorrow"), None);
    }

    #[test]
    fn role_credentials_from_the_portal_answer() {
        let body = r#"{"roleCredentials":{"accessKeyId":"ASIA1","secretAccessKey":"s",
            "sessionToken":"t","expiration":1765130400000}}"#;
        let c = parse_role_credentials(body, "sso").unwrap();
        assert_eq!(c.access_key_id, "ASIA1");
        assert_eq!(c.session_token.unwrap().expose(), "t");
        assert_eq!(c.expires, Some(Timestamp::from_unix(1_765_130_400)));
        for bad in [
            "{}",
            r#"{"roleCredentials":{"accessKeyId":"A","secretAccessKey":"s"}}"#,
            r#"{"roleCredentials":{"accessKeyId":"A","secretAccessKey":"s","sessionToken":"t","expiration":"soon"}}"#,
            "not json",
        ] {
            let e = parse_role_credentials(bad, "sso").unwrap_err();
            assert_eq!(e.exit_code(), 4, "{bad}");
        }
    }
}
