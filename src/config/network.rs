//! Where connections go and what they trust beyond the built-in roots: SSL_CERT_FILE and
//! SSL_CERT_DIR, and the proxy route of STS calls.

use super::{fetch, Env, ProxyRoute, Scheme, Trust};
use crate::error::Error;
use std::path::PathBuf;

/// SSL_CERT_FILE and SSL_CERT_DIR, as OpenSSL reads them; a path that is not there is
/// skipped with a warning (OpenSSL skips it silently).
pub(super) fn resolve_trust(
    env: &Env,
    ca_bundle_from: &'static str,
    warnings: &mut Vec<String>,
) -> Trust {
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

/// The proxy route for STS calls (and the SSO portal's): `--proxy`, else the variable for
/// the URL's scheme (https unless an `http://` endpoint is configured). A corporate proxy
/// is often the only way out, so STS goes where a store request would; the metadata
/// services never do.
pub(super) fn sts_proxy(
    flag: Option<&str>,
    env: &Env,
    sts_endpoint: Option<&str>,
) -> Result<ProxyRoute, Error> {
    let scheme = sts_endpoint
        .and_then(fetch::Target::parse)
        .map_or(Scheme::Https, |t| t.endpoint.scheme);
    ProxyRoute::resolve(flag, env, scheme)
}

#[cfg(test)]
mod tests {
    use super::*;

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
