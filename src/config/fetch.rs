//! One small HTTP call for the credential sources (metadata services, STS), through the
//! project's own transport and request writer: a URL split into endpoint and path, a
//! request, the whole (small) answer. STS calls go through the proxy a store request
//! would take; the metadata services (link-local or on the host) are always called direct,
//! as the AWS SDKs do.

use super::endpoint::{Endpoint, Scheme};
use super::proxy::Proxy;
use crate::error::Error;
use crate::transport::{self, Connection, Exchanged, Failure, Head, Names, Response};
use std::path::Path;
use std::time::Duration;

/// The settings the transport's hints name for a credential call: its URL comes from
/// the environment or the profile, not from --endpoint.
const NAMES: Names = Names {
    endpoint: "the credential source's URL",
    timeout: "--timeout",
    connect_timeout: "--connect-timeout",
    ca_bundle: "--ca-bundle",
    path_style: "--path-style",
};

/// Where a call goes: the server, and the origin-form path (with its query).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub endpoint: Endpoint,
    pub path: String,
}

impl Target {
    /// Splits `http[s]://host[:port][/path[?query]]`; None when it is not such a URL.
    pub fn parse(url: &str) -> Option<Target> {
        let after_scheme = url.find("://")? + 3;
        let path_at = url[after_scheme..]
            .find(['/', '?'])
            .map_or(url.len(), |i| after_scheme + i);
        let endpoint = Endpoint::parse(&url[..path_at]).ok()?;
        let path = match &url[path_at..] {
            "" => "/".to_string(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_string(),
        };
        if path.bytes().any(|b| b <= 0x20 || b == 0x7f || b == b'#') {
            return None;
        }
        Some(Target { endpoint, path })
    }

    /// `http://host:port/path`, for messages (never carries a secret: tokens go in
    /// headers and bodies).
    pub fn url(&self) -> String {
        format!("{}{}", self.endpoint.url(), self.path)
    }

    /// The same server, another path.
    pub fn with_path(&self, path: &str) -> Target {
        Target {
            endpoint: self.endpoint.clone(),
            path: path.to_string(),
        }
    }
}

/// How long a call may take to connect, and to make progress after that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub connect: Duration,
    pub io: Duration,
}

/// Why a call failed: the server could not be reached at all (the source is absent,
/// for the metadata services), or something after that.
#[derive(Debug)]
pub enum CallError {
    Unreachable(Error),
    Failed(Error),
}

impl CallError {
    pub fn into_error(self) -> Error {
        match self {
            CallError::Unreachable(e) | CallError::Failed(e) => e,
        }
    }
}

/// Sends one request (`host`, `content-length` and `user-agent` added), through `proxy`
/// when given, and reads its answer; the connection is closed after it.
pub fn call(
    target: &Target,
    method: &str,
    headers: &[(String, String)],
    body: &[u8],
    limits: Limits,
    ca_bundle: Option<&Path>,
    proxy: Option<&Proxy>,
) -> Result<Response, CallError> {
    let mut all = vec![
        (
            "host".to_string(),
            target.endpoint.authority(&target.endpoint.host),
        ),
        ("content-length".to_string(), body.len().to_string()),
        (
            "user-agent".to_string(),
            concat!("s3push/", env!("CARGO_PKG_VERSION")).to_string(),
        ),
    ];
    all.extend_from_slice(headers);
    let tls = match target.endpoint.scheme {
        Scheme::Https => Some(transport::tls_config(ca_bundle).map_err(CallError::Failed)?),
        Scheme::Http => None,
    };
    let mut conn = Connection::open_via(
        &target.endpoint.host,
        target.endpoint.port,
        tls.as_ref(),
        proxy,
        limits.connect,
        limits.io,
        &NAMES,
    )
    .map_err(CallError::Unreachable)?;
    let head = Head {
        method,
        target: &target.path,
        headers: &all,
        traced: false,
        expect: None,
    };
    let send_body = |conn: &mut Connection| conn.send(body).map(|()| body.len() as u64);
    match transport::exchange(&mut conn, &head, send_body) {
        Ok(Exchanged::Answered(response) | Exchanged::BeforeBody(response)) => Ok(response),
        Err(Failure::Head(e)) => Err(CallError::Failed(Error::Credentials(format!(
            "a request to {} cannot be written ({e}): check the values configured for it",
            target.url()
        )))),
        Err(Failure::Io { error, .. }) => Err(CallError::Failed(error)),
    }
}

/// `text` with every occurrence of each secret replaced by `***` (for the rare message
/// that quotes what a server said).
pub fn redact(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(secret, "***");
    }
    out
}

/// The first `max` characters of `text`, on one line.
pub fn one_line(text: &str, max: usize) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(max)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_endpoint_and_path() {
        let t = Target::parse("http://169.254.170.2/v2/credentials/abc?x=1").unwrap();
        assert_eq!(t.endpoint.host, "169.254.170.2");
        assert_eq!(t.endpoint.port, 80);
        assert_eq!(t.path, "/v2/credentials/abc?x=1");
        let t = Target::parse("http://[fd00:ec2::23]:8080").unwrap();
        assert_eq!(t.endpoint.host, "fd00:ec2::23");
        assert_eq!(t.path, "/");
        assert_eq!(t.url(), "http://[fd00:ec2::23]:8080/");
        let t = Target::parse("https://sts.eu-west-1.amazonaws.com/").unwrap();
        assert_eq!(t.endpoint.port, 443);
        for bad in [
            "169.254.170.2/x",
            "ftp://h/x",
            "http://h/a b",
            "http://u:p@h/x",
            "http:///x",
        ] {
            assert_eq!(Target::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn redaction() {
        assert_eq!(redact("token abcdef here", &["abcdef"]), "token *** here");
        assert_eq!(one_line("a\n  b\tc", 3), "a b");
    }
}
