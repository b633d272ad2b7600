//! Container credentials (ECS task roles, EKS Pod Identity): a GET to the endpoint the
//! container runtime names in `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` (under
//! 169.254.170.2) or `AWS_CONTAINER_CREDENTIALS_FULL_URI`, with the authorization token
//! of `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` or `AWS_CONTAINER_AUTHORIZATION_TOKEN`.
//! Always direct, never through a proxy: the endpoint is local to the task or pod.

use super::imds;
use super::{Credentials, Provider};
use crate::config::endpoint::Scheme;
use crate::config::fetch::{self, CallError, Limits, Target};
use crate::config::Env;
use crate::error::Error;
use crate::http::request::check_header_value;
use crate::secret::Secret;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The ECS agent's address for relative URIs.
const ECS_HOST: &str = "http://169.254.170.2";
const LIMITS: Limits = Limits {
    connect: Duration::from_secs(2),
    io: Duration::from_secs(5),
};

#[derive(Debug, Clone)]
pub struct Container {
    target: Target,
    token: Token,
    /// The user's CAs (`--ca-bundle`, AWS_CA_BUNDLE), for an https endpoint.
    ca_bundle: Option<PathBuf>,
}

/// The Authorization header value; the file is read again at every fetch, since EKS
/// rotates it.
#[derive(Debug, Clone)]
enum Token {
    None,
    Value(Secret),
    File(PathBuf),
}

impl Container {
    /// None when neither URI variable is set.
    pub fn from_env(env: &Env) -> Result<Option<Container>, Error> {
        let target = if let Some(relative) = env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
            let url = format!("{ECS_HOST}/{}", relative.trim_start_matches('/'));
            Target::parse(&url).ok_or_else(|| {
                Error::Credentials(
                    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is not a URL path: check the task's environment"
                        .into(),
                )
            })?
        } else if let Some(full) = env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI") {
            let target = Target::parse(full).ok_or_else(|| {
                Error::Credentials(format!(
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI '{full}' is not an http(s) URL: check the container's environment"
                ))
            })?;
            if target.endpoint.scheme == Scheme::Http && !allowed_plain_host(&target.endpoint.host)
            {
                return Err(Error::Credentials(format!(
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI '{full}': over plain http only a loopback, \
                     the ECS (169.254.170.2) or the EKS (169.254.170.23, fd00:ec2::23) address is allowed; use https"
                )));
            }
            target
        } else {
            return Ok(None);
        };
        let token = match (
            env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"),
            env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
        ) {
            (Some(file), _) => Token::File(PathBuf::from(file)),
            (None, Some(value)) => Token::Value(Secret::new(value.to_string())),
            (None, None) => Token::None,
        };
        Ok(Some(Container {
            target,
            token,
            ca_bundle: None,
        }))
    }

    /// The same, trusting the user's CAs too (an https endpoint with a private CA).
    pub fn with_ca_bundle(mut self, ca_bundle: Option<PathBuf>) -> Container {
        self.ca_bundle = ca_bundle;
        self
    }

    fn authorization(&self) -> Result<Option<Secret>, Error> {
        let value = match &self.token {
            Token::None => return Ok(None),
            Token::Value(v) => v.clone(),
            Token::File(path) => {
                let text = super::read_token_file(path).map_err(|e| {
                    Error::Credentials(format!(
                        "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE {}: {e}; check the mount",
                        path.display()
                    ))
                })?;
                Secret::new(text.trim().to_string())
            }
        };
        if check_header_value(value.expose()).is_err() {
            return Err(Error::Credentials(
                "the container authorization token holds a line break or control character: check where it comes from"
                    .into(),
            ));
        }
        Ok(Some(value))
    }
}

impl Provider for Container {
    fn fetch(&self) -> Result<Credentials, Error> {
        let url = self.target.url();
        let mut headers = Vec::new();
        if let Some(token) = self.authorization()? {
            headers.push(("authorization".to_string(), token.expose().to_string()));
        }
        let response = fetch::call(
            &self.target,
            "GET",
            &headers,
            b"",
            LIMITS,
            self.ca_bundle.as_deref(),
            None,
        )
        .map_err(|e| match e {
            CallError::Unreachable(e) => Error::Credentials(format!(
                "the container credentials endpoint {url} did not answer ({e})"
            )),
            CallError::Failed(e) => e,
        })?;
        if response.head.status != 200 {
            return Err(Error::Credentials(format!(
                "the container credentials endpoint {url} answered {}: check the task role and the authorization token",
                response.head.status_line()
            )));
        }
        imds::parse_document(
            &String::from_utf8_lossy(&response.body),
            &format!("container credentials ({url})"),
        )
    }
}

/// Plain http is allowed to loopback addresses and the ECS/EKS agents only (as the SDKs).
fn allowed_plain_host(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match host.parse::<IpAddr>() {
        Ok(ip) if ip.is_loopback() => true,
        Ok(ip) => ["169.254.170.2", "169.254.170.23", "fd00:ec2::23"]
            .iter()
            .any(|a| a.parse::<IpAddr>().is_ok_and(|allowed| allowed == ip)),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn relative_and_full_uris() {
        assert!(Container::from_env(&env(&[])).unwrap().is_none());
        let c = Container::from_env(&env(&[
            (
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                "/v2/credentials/uuid",
            ),
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:1/x"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(c.target.url(), "http://169.254.170.2/v2/credentials/uuid");
        for ok in [
            "http://127.0.0.1:9/creds",
            "http://localhost/creds",
            "http://169.254.170.23/v1/credentials",
            "http://[fd00:ec2::23]/v1/credentials",
            "http://[::1]:80/",
            "https://creds.example.com/x",
        ] {
            assert!(
                Container::from_env(&env(&[("AWS_CONTAINER_CREDENTIALS_FULL_URI", ok)])).is_ok(),
                "{ok}"
            );
        }
        for refused in ["http://10.0.0.1/creds", "http://example.com/x", "ftp://x/y"] {
            let err = Container::from_env(&env(&[("AWS_CONTAINER_CREDENTIALS_FULL_URI", refused)]))
                .unwrap_err();
            assert_eq!(err.exit_code(), 4, "{refused}");
        }
    }

    #[test]
    fn token_file_wins_and_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "file-token\n").unwrap();
        let c = Container::from_env(&env(&[
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:1/"),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "env-token"),
            (
                "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                file.to_str().unwrap(),
            ),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(c.authorization().unwrap().unwrap().expose(), "file-token");
        std::fs::write(&file, "a\r\nX-Injected: 1").unwrap();
        assert!(c.authorization().is_err());
    }
}
