//! The EC2 instance metadata service, IMDSv2 (EC2 user guide, "Use the Instance Metadata
//! Service to access instance metadata"): PUT a session token, then GET the instance's
//! role name and that role's credentials with it. Always direct, never through a proxy:
//! the service is link-local to this instance, and a proxy would reach its own (or none).

use super::{Credentials, Provider};
use crate::config::fetch::{self, CallError, Limits, Target};
use crate::config::json::Object;
use crate::config::Env;
use crate::error::Error;
use crate::secret::Secret;
use crate::sign::time::Timestamp;
use std::time::Duration;

const DEFAULT_ENDPOINT: &str = "http://169.254.169.254";
const DEFAULT_ENDPOINT_V6: &str = "http://[fd00:ec2::254]";
const TOKEN_PATH: &str = "/latest/api/token";
const ROLE_PATH: &str = "/latest/meta-data/iam/security-credentials/";
const TOKEN_TTL_HEADER: &str = "x-aws-ec2-metadata-token-ttl-seconds";
const TOKEN_HEADER: &str = "x-aws-ec2-metadata-token";
/// Six hours, the longest a token may live; one run asks for one token.
const TOKEN_TTL_SECS: &str = "21600";
/// Off EC2 nothing answers at the link-local address: give up fast, as the SDKs do.
const LIMITS: Limits = Limits {
    connect: Duration::from_secs(1),
    io: Duration::from_secs(2),
};

/// The metadata service at its address.
#[derive(Debug, Clone)]
pub struct Imds {
    base: Target,
}

impl Imds {
    /// None when `AWS_EC2_METADATA_DISABLED=true`; else the service at
    /// `AWS_EC2_METADATA_SERVICE_ENDPOINT`, or the IPv4 (or, with
    /// `AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6`, IPv6) link-local address.
    pub fn from_env(env: &Env) -> Result<Option<Imds>, Error> {
        if env
            .get("AWS_EC2_METADATA_DISABLED")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        {
            return Ok(None);
        }
        let mode_v6 = env
            .get("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE")
            .is_some_and(|m| m.eq_ignore_ascii_case("ipv6"));
        let url = env
            .get("AWS_EC2_METADATA_SERVICE_ENDPOINT")
            .unwrap_or(if mode_v6 {
                DEFAULT_ENDPOINT_V6
            } else {
                DEFAULT_ENDPOINT
            });
        let base = Target::parse(url).ok_or_else(|| {
            Error::Credentials(format!(
                "AWS_EC2_METADATA_SERVICE_ENDPOINT '{url}' is not a URL: write it as http://HOST[:PORT]"
            ))
        })?;
        Ok(Some(Imds { base }))
    }

    /// `http://169.254.169.254`, for messages.
    pub fn address(&self) -> String {
        self.base.endpoint.url()
    }

    /// The instance's credentials; None when nothing answers at the address (not on EC2).
    pub fn fetch_if_present(&self) -> Result<Option<Credentials>, Error> {
        match self.credentials() {
            Ok(c) => Ok(Some(c)),
            Err(CallError::Unreachable(_)) => Ok(None),
            Err(CallError::Failed(e)) => Err(e),
        }
    }

    fn credentials(&self) -> Result<Credentials, CallError> {
        let mut token = self.token()?;
        let mut renewed = false;
        let mut get = |path: &str| -> Result<String, CallError> {
            loop {
                let mut headers = Vec::new();
                if let Some(t) = &token {
                    headers.push((TOKEN_HEADER.to_string(), t.expose().to_string()));
                }
                let target = self.base.with_path(path);
                let response = fetch::call(&target, "GET", &headers, b"", LIMITS, None, None)?;
                match response.head.status {
                    200 => return Ok(String::from_utf8_lossy(&response.body).into_owned()),
                    // The token expired or was refused: a new one, once.
                    401 if !renewed => {
                        renewed = true;
                        token = self.token()?;
                    }
                    404 if path == ROLE_PATH => {
                        return Err(failed(format!(
                            "the EC2 instance metadata service at {} has no IAM role for this instance: \
                             attach an instance profile, or give keys another way",
                            self.address()
                        )))
                    }
                    _ => {
                        return Err(failed(format!(
                            "the EC2 instance metadata service answered {} to GET {path}: check the instance's metadata options",
                            response.head.status_line()
                        )))
                    }
                }
            }
        };
        let roles = get(ROLE_PATH)?;
        let role = roles.lines().map(str::trim).find(|l| !l.is_empty());
        let Some(role) = role.filter(|r| {
            r.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
        }) else {
            return Err(failed(format!(
                "the EC2 instance metadata service at {} named no usable IAM role: attach an instance profile",
                self.address()
            )));
        };
        let document = get(&format!("{ROLE_PATH}{role}"))?;
        parse_document(&document, &format!("EC2 instance metadata (role {role})"))
            .map_err(CallError::Failed)
    }

    /// An IMDSv2 session token; None where the service only speaks IMDSv1 (it answers
    /// the PUT with 403, 404 or 405, as older services and some emulators do).
    fn token(&self) -> Result<Option<Secret>, CallError> {
        let headers = [(TOKEN_TTL_HEADER.to_string(), TOKEN_TTL_SECS.to_string())];
        let response = fetch::call(
            &self.base.with_path(TOKEN_PATH),
            "PUT",
            &headers,
            b"",
            LIMITS,
            None,
            None,
        )?;
        match response.head.status {
            200 => {
                let token = String::from_utf8(response.body)
                    .ok()
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty() && !t.bytes().any(|b| b < 0x20 || b == 0x7f));
                token.map(|t| Some(Secret::new(t))).ok_or_else(|| {
                    failed(format!(
                        "the EC2 instance metadata service at {} sent an unusable session token",
                        self.address()
                    ))
                })
            }
            403..=405 => Ok(None),
            _ => Err(failed(format!(
                "the EC2 instance metadata service at {} answered {} to the token request (PUT {TOKEN_PATH})",
                self.address(),
                response.head.status_line()
            ))),
        }
    }
}

impl Provider for Imds {
    fn fetch(&self) -> Result<Credentials, Error> {
        self.credentials().map_err(|e| match e {
            CallError::Unreachable(_) => Error::Credentials(format!(
                "the EC2 instance metadata service at {} did not answer: check that this runs on EC2 with metadata enabled",
                self.address()
            )),
            CallError::Failed(e) => e,
        })
    }
}

fn failed(message: String) -> CallError {
    CallError::Failed(Error::Credentials(message))
}

/// The credentials document of the EC2 and container services: `AccessKeyId`,
/// `SecretAccessKey`, `Token`, `Expiration` (and `Code: Success` on EC2).
pub fn parse_document(document: &str, source: &str) -> Result<Credentials, Error> {
    let bad = |what: &str| {
        Error::Credentials(format!(
            "{source} sent a credentials document {what}: it is not what that service sends"
        ))
    };
    let o = Object::parse(document).ok_or_else(|| bad("that is not a JSON object"))?;
    if let Some(code) = o.string("Code").filter(|c| *c != "Success") {
        return Err(Error::Credentials(format!(
            "{source} reports '{}' instead of credentials: check the role attached",
            fetch::one_line(code, 80)
        )));
    }
    let id = o
        .string("AccessKeyId")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| bad("without AccessKeyId"))?;
    let secret = o
        .string("SecretAccessKey")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| bad("without SecretAccessKey"))?;
    let expires = match o.string("Expiration") {
        Some(text) => Some(
            Timestamp::parse_iso8601(text).ok_or_else(|| bad("with an unreadable Expiration"))?,
        ),
        None => None,
    };
    Ok(Credentials {
        access_key_id: id.to_string(),
        secret_access_key: Secret::new(secret.to_string()),
        session_token: o
            .string("Token")
            .filter(|t| !t.is_empty())
            .map(|t| Secret::new(t.to_string())),
        source: source.to_string(),
        expires,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn address_from_the_environment() {
        assert!(
            Imds::from_env(&env(&[("AWS_EC2_METADATA_DISABLED", "TRUE")]))
                .unwrap()
                .is_none()
        );
        let d = Imds::from_env(&env(&[])).unwrap().unwrap();
        assert_eq!(d.address(), "http://169.254.169.254");
        let v6 = Imds::from_env(&env(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv6")]))
            .unwrap()
            .unwrap();
        assert_eq!(v6.address(), "http://[fd00:ec2::254]");
        let local = Imds::from_env(&env(&[(
            "AWS_EC2_METADATA_SERVICE_ENDPOINT",
            "http://127.0.0.1:8111/",
        )]))
        .unwrap()
        .unwrap();
        assert_eq!(local.address(), "http://127.0.0.1:8111");
        assert!(Imds::from_env(&env(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", "nope")])).is_err());
    }

    #[test]
    fn credentials_document() {
        // EC2 user guide, "Retrieve security credentials from instance metadata".
        let doc = r#"{
  "Code" : "Success",
  "LastUpdated" : "2012-04-26T16:39:16Z",
  "Type" : "AWS-HMAC",
  "AccessKeyId" : "ASIAIOSFODNN7EXAMPLE",
  "SecretAccessKey" : "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  "Token" : "token",
  "Expiration" : "2017-05-17T15:09:54Z"
}"#;
        let c = parse_document(doc, "EC2").unwrap();
        assert_eq!(c.access_key_id, "ASIAIOSFODNN7EXAMPLE");
        assert_eq!(
            c.secret_access_key.expose(),
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
        );
        assert_eq!(c.session_token.unwrap().expose(), "token");
        assert_eq!(c.expires, Timestamp::parse_iso8601("2017-05-17T15:09:54Z"));
        let err = parse_document(r#"{"Code":"AssumeRoleUnauthorizedAccess"}"#, "EC2").unwrap_err();
        assert!(err.to_string().contains("AssumeRoleUnauthorizedAccess"));
        let err = parse_document(
            r#"{"AccessKeyId":"A","SecretAccessKey":"sekrit-value"}x"#,
            "EC2",
        )
        .unwrap_err();
        assert!(!err.to_string().contains("sekrit"));
        assert!(parse_document(r#"{"AccessKeyId":"A"}"#, "EC2").is_err());
        assert!(parse_document(
            r#"{"AccessKeyId":"A","SecretAccessKey":"S","Expiration":"soon"}"#,
            "EC2"
        )
        .is_err());
    }
}
