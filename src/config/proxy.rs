//! Which proxy a connection goes through: `--proxy`, else HTTPS_PROXY / HTTP_PROXY /
//! ALL_PROXY (lowercase first, as curl and the AWS CLI read them), minus the hosts of
//! NO_PROXY; http://, https:// and SOCKS5 proxies. Parsing and matching only; the
//! transport opens the tunnel (transport/proxy.rs, transport/socks.rs).

use super::{Env, Scheme, Trust};
use crate::error::Error;
use crate::secret::Secret;
pub use crate::transport::{Proxy, ProxyKind};
use base64::Engine;
use std::fmt;
use std::net::IpAddr;
use std::path::Path;

impl Proxy {
    /// Parses `[SCHEME://][USER:PASSWORD@]HOST[:PORT][/]`, SCHEME one of `http` (the
    /// default), `https` (TLS to the proxy too), `socks5` (the store's name resolved here)
    /// and `socks5h` (resolved by the proxy); user and password are percent-decoded. TLS
    /// to the store runs end to end inside whichever tunnel.
    pub fn parse(url: &str, source: &'static str) -> Result<Proxy, Error> {
        // Never echo the URL: it may hold a password.
        let bad = |why: &str| {
            Error::Usage(format!(
                "the proxy URL in {source} is not usable: {why}; write it as http://HOST:PORT, https://HOST:PORT, socks5h://HOST:PORT or socks5://HOST:PORT, with USER:PASSWORD@ before HOST if it needs them"
            ))
        };
        let (kind, rest) = match url.split_once("://") {
            None => (ProxyKind::Http, url),
            Some((scheme, rest)) => match scheme.to_ascii_lowercase().as_str() {
                "http" => (ProxyKind::Http, rest),
                "https" => (ProxyKind::Https, rest),
                "socks5" => (ProxyKind::Socks5 { remote_dns: false }, rest),
                "socks5h" => (ProxyKind::Socks5 { remote_dns: true }, rest),
                "socks4" | "socks4a" | "socks" => {
                    return Err(bad("SOCKS4 is not supported (SOCKS5 is: socks5h://)"))
                }
                _ => return Err(bad("an unknown scheme")),
            },
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (host, port) = split_host_port(hostport).ok_or_else(|| bad("bad host or port"))?;
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let name_chars = |b: u8| b.is_ascii_alphanumeric() || b"-._".contains(&b);
        if !host.contains(':') && !host.bytes().all(name_chars) {
            return Err(bad("the host has characters a host name cannot have"));
        }
        let login = match userinfo {
            None => None,
            Some(info) => {
                let (user, password) = info.split_once(':').unwrap_or((info, ""));
                let user = crate::sign::uri::decode(user)
                    .ok_or_else(|| bad("bad %-escape in the user name"))?;
                let password = crate::sign::uri::decode(password)
                    .ok_or_else(|| bad("bad %-escape in the password"))?;
                // Held as secrets so they are zeroed when dropped.
                Some((Secret::new(user), Secret::new(password)))
            }
        };
        let (authorization, login) = match (kind, login) {
            (ProxyKind::Socks5 { .. }, Some((user, password))) => {
                // RFC 1929 carries each in at most 255 bytes.
                if user.expose().is_empty()
                    || user.expose().len() > 255
                    || password.expose().len() > 255
                {
                    return Err(bad(
                        "a SOCKS5 user name must be 1 to 255 bytes, its password at most 255",
                    ));
                }
                (None, Some((user, password)))
            }
            (_, Some((user, password))) => {
                let pair = Secret::new(format!("{}:{}", user.expose(), password.expose()));
                let token = base64::engine::general_purpose::STANDARD.encode(pair.expose());
                (Some(Secret::new(format!("Basic {token}"))), None)
            }
            (_, None) => (None, None),
        };
        let default_port = match kind {
            ProxyKind::Http => 80,
            ProxyKind::Https => 443,
            ProxyKind::Socks5 { .. } => 1080,
        };
        Ok(Proxy {
            kind,
            host: host.to_ascii_lowercase(),
            port: port.unwrap_or(default_port),
            authorization,
            login,
            source,
            // --proxy refuses a password: the command line is visible to every user (ps).
            login_elsewhere: source
                .starts_with("--")
                .then_some("HTTPS_PROXY (HTTP_PROXY for http://)"),
            ca_bundle: None,
            trust: Trust::default(),
        })
    }

    /// `host:port` (brackets around IPv6), never the user info.
    pub fn shown(&self) -> String {
        crate::transport::authority(&self.host, self.port)
    }
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("kind", &self.kind)
            .field("at", &self.shown())
            .field("authorization", &self.authorization)
            .field("login", &self.login.as_ref().map(|_| "***"))
            .field("source", &self.source)
            .finish()
    }
}

/// The proxy for one endpoint scheme, and the hosts that bypass it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyRoute {
    pub proxy: Option<Proxy>,
    pub no_proxy: NoProxy,
}

impl ProxyRoute {
    /// The route, TLS to an `https://` proxy trusting what the store's TLS does.
    pub fn trusting(mut self, ca_bundle: Option<&Path>, trust: &Trust) -> ProxyRoute {
        self.proxy = self.proxy.map(|p| p.trusting(ca_bundle, trust));
        self
    }

    /// `--proxy URL` (or `none`), else the environment, for requests to `scheme` URLs.
    pub fn resolve(flag: Option<&str>, env: &Env, scheme: Scheme) -> Result<ProxyRoute, Error> {
        let no_proxy = NoProxy::parse(
            env.get("no_proxy")
                .or_else(|| env.get("NO_PROXY"))
                .unwrap_or(""),
        );
        let proxy = match flag {
            Some(url) if url.eq_ignore_ascii_case("none") => None,
            Some(url) => {
                // userinfo ends at the last '@' before the path.
                let authority = url.split_once("://").map_or(url, |(_, rest)| rest);
                if authority.split('/').next().is_some_and(|a| a.contains('@')) {
                    return Err(Error::Usage(
                        "--proxy with a user and password: on the command line they show in `ps`; \
                         put the proxy URL in HTTPS_PROXY (or HTTP_PROXY for an http store) instead"
                            .into(),
                    ));
                }
                Some(Proxy::parse(url, "--proxy")?)
            }
            None => {
                let names: [&'static str; 4] = match scheme {
                    Scheme::Https => ["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"],
                    Scheme::Http => ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"],
                };
                match names.iter().find_map(|n| env.get(n).map(|v| (*n, v))) {
                    Some((name, url)) => Some(Proxy::parse(url, name)?),
                    None => None,
                }
            }
        };
        Ok(ProxyRoute { proxy, no_proxy })
    }

    /// The proxy to use for `host:port`, None when going direct.
    pub fn for_host(&self, host: &str, port: u16) -> Option<&Proxy> {
        self.proxy
            .as_ref()
            .filter(|_| !self.no_proxy.matches(host, port))
    }
}

/// NO_PROXY: comma- or space-separated entries, each `*` (everything), a host or domain
/// (`example.com` and `.example.com` both match it and every name under it), an IP
/// address or CIDR block (`10.0.0.0/8`, `fd00::/8`), optionally with `:PORT`
/// (`[::1]:9000` for IPv6).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoProxy {
    entries: Vec<NoProxyEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct NoProxyEntry {
    pattern: Pattern,
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    All,
    Domain(String),
    Network(IpAddr, u8),
}

impl NoProxy {
    /// Parses the value; entries that cannot be read are skipped, as curl does.
    pub fn parse(text: &str) -> NoProxy {
        let entries = text
            .split([',', ' ', '\t'])
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .filter_map(NoProxyEntry::parse)
            .collect();
        NoProxy { entries }
    }

    /// Whether `host` (a name or IP literal, no brackets) on `port` bypasses the proxy.
    pub fn matches(&self, host: &str, port: u16) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let ip = host.parse::<IpAddr>().ok();
        self.entries.iter().any(|e| {
            e.port.is_none_or(|p| p == port)
                && match (&e.pattern, ip) {
                    (Pattern::All, _) => true,
                    (Pattern::Network(net, bits), Some(ip)) => in_network(ip, *net, *bits),
                    (Pattern::Network(..), None) => false,
                    (Pattern::Domain(d), _) => {
                        host == *d
                            || (host.len() > d.len()
                                && host.ends_with(d.as_str())
                                && host.as_bytes()[host.len() - d.len() - 1] == b'.')
                    }
                }
        })
    }
}

impl NoProxyEntry {
    fn parse(entry: &str) -> Option<NoProxyEntry> {
        if entry == "*" {
            return Some(NoProxyEntry {
                pattern: Pattern::All,
                port: None,
            });
        }
        // A bare IPv6 address or block has colons but no port.
        let (host, port) = if entry.matches(':').count() > 1 && !entry.starts_with('[') {
            (entry, None)
        } else {
            split_host_port(entry)?
        };
        let (addr, bits) = match host.split_once('/') {
            Some((a, b)) => (a, Some(b.parse::<u8>().ok()?)),
            None => (host, None),
        };
        let pattern = match addr.parse::<IpAddr>() {
            Ok(ip) => {
                let max = if ip.is_ipv4() { 32 } else { 128 };
                let bits = bits.unwrap_or(max);
                if bits > max {
                    return None;
                }
                Pattern::Network(ip, bits)
            }
            Err(_) if bits.is_some() => return None,
            Err(_) => {
                let domain = host
                    .trim_start_matches("*.")
                    .trim_start_matches('.')
                    .trim_end_matches('.')
                    .to_ascii_lowercase();
                if domain.is_empty() {
                    return None;
                }
                Pattern::Domain(domain)
            }
        };
        Some(NoProxyEntry { pattern, port })
    }
}

fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    let prefix = |a: u128, width: u32| {
        let shift = width - u32::from(bits);
        if shift >= 128 {
            0
        } else {
            a >> shift
        }
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            prefix(u128::from(u32::from(a)), 32) == prefix(u128::from(u32::from(n)), 32)
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => prefix(u128::from(a), 128) == prefix(u128::from(n), 128),
        _ => false,
    }
}

/// `host[:port]` or `[v6][:port]`: the host without brackets, and the port if given.
fn split_host_port(text: &str) -> Option<(&str, Option<u16>)> {
    let port = |p: &str| p.parse::<u16>().ok().filter(|&p| p != 0);
    if let Some(v6) = text.strip_prefix('[') {
        let (addr, after) = v6.split_once(']')?;
        addr.parse::<std::net::Ipv6Addr>().ok()?;
        return match after {
            "" => Some((addr, None)),
            p => Some((addr, Some(port(p.strip_prefix(':')?)?))),
        };
    }
    match text.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => Some((h, Some(port(p)?))),
        Some(_) => None,
        None => Some((text, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn proxy_urls() {
        let p = Proxy::parse("http://proxy.corp:3128", "HTTPS_PROXY").unwrap();
        assert_eq!(
            (p.host.as_str(), p.port, p.authorization.is_none()),
            ("proxy.corp", 3128, true)
        );
        let p = Proxy::parse("Proxy.Corp:8080/", "HTTPS_PROXY").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("proxy.corp", 8080));
        assert_eq!(Proxy::parse("http://p", "x").unwrap().port, 80);
        let p = Proxy::parse("http://[fd00::1]:3128", "x").unwrap();
        assert_eq!(
            (p.host.as_str(), p.shown()),
            ("fd00::1", "[fd00::1]:3128".to_string())
        );
        // RFC 7617's example: Aladdin / open sesame, the password percent-encoded.
        let p = Proxy::parse("http://Aladdin:open%20sesame@p:1", "x").unwrap();
        assert_eq!(
            p.authorization.as_ref().unwrap().expose(),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        // An '@' inside the password, encoded; the last '@' ends the user info.
        let p = Proxy::parse("http://u:p%40ss@p:1", "x").unwrap();
        assert_eq!(p.authorization.unwrap().expose(), "Basic dTpwQHNz");
        let p = Proxy::parse("https://p", "x").unwrap();
        assert_eq!((p.kind, p.port), (ProxyKind::Https, 443));
        let p = Proxy::parse("SOCKS5h://p", "x").unwrap();
        assert_eq!(
            (p.kind, p.port),
            (ProxyKind::Socks5 { remote_dns: true }, 1080)
        );
        let p = Proxy::parse("socks5://u:p%40ss@p:9050", "x").unwrap();
        assert_eq!(p.kind, ProxyKind::Socks5 { remote_dns: false });
        let (user, password) = p.login.as_ref().unwrap();
        assert_eq!(
            (user.expose(), password.expose(), p.port),
            ("u", "p@ss", 9050)
        );
        assert!(p.authorization.is_none());
        for bad in [
            "socks4://p:1",
            "ftp://p:1",
            "socks5://:pw@p:1",
            "http://:1",
            "http://p:0",
            "http://p:x",
            "http://u:%zz@p",
            "http://p q:1",
            "http://u:p@h%41:1",
        ] {
            let e = Proxy::parse(bad, "HTTPS_PROXY").unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}");
            assert!(e.to_string().contains("HTTPS_PROXY"), "{e}");
        }
    }

    #[test]
    fn proxy_credentials_never_shown() {
        let p = Proxy::parse("http://alice:hunter2@p:3128", "--proxy").unwrap();
        let debug = format!("{p:?}");
        assert!(
            !debug.contains("hunter2") && !debug.contains("alice"),
            "{debug}"
        );
        assert!(!debug.contains("YWxpY2U6aHVudGVyMg"), "{debug}");
        assert_eq!(p.shown(), "p:3128");
        let e = Proxy::parse("http://alice:hunter2@p:bad", "--proxy").unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }

    #[test]
    fn environment_lowercase_first_and_flag_overrides() {
        let e = env(&[
            ("HTTPS_PROXY", "http://upper:1"),
            ("https_proxy", "http://lower:2"),
            ("HTTP_PROXY", "http://plain:3"),
            ("ALL_PROXY", "http://all:4"),
        ]);
        let r = ProxyRoute::resolve(None, &e, Scheme::Https).unwrap();
        assert_eq!(r.proxy.as_ref().unwrap().host, "lower");
        assert_eq!(r.proxy.as_ref().unwrap().source, "https_proxy");
        let r = ProxyRoute::resolve(None, &e, Scheme::Http).unwrap();
        assert_eq!(r.proxy.unwrap().host, "plain");
        let r = ProxyRoute::resolve(None, &env(&[("ALL_PROXY", "http://all:4")]), Scheme::Http)
            .unwrap();
        assert_eq!(r.proxy.unwrap().host, "all");
        let r = ProxyRoute::resolve(Some("http://flag:5"), &e, Scheme::Https).unwrap();
        assert_eq!(r.proxy.unwrap().source, "--proxy");
        assert!(ProxyRoute::resolve(Some("none"), &e, Scheme::Https)
            .unwrap()
            .proxy
            .is_none());
        assert!(ProxyRoute::resolve(None, &Env::default(), Scheme::Https)
            .unwrap()
            .proxy
            .is_none());
        // A broken variable for the other scheme does not matter.
        let e = env(&[
            ("HTTP_PROXY", "socks4://x:1"),
            ("HTTPS_PROXY", "http://ok:1"),
        ]);
        assert!(ProxyRoute::resolve(None, &e, Scheme::Https).is_ok());
        assert!(ProxyRoute::resolve(None, &e, Scheme::Http).is_err());
    }

    #[test]
    fn no_proxy_matching() {
        let n = NoProxy::parse(
            "localhost, .corp.example,internal.lan  10.0.0.0/8,192.168.1.5,::1,[fd00::7]:9000,minio.lan:9000,*.wild.test",
        );
        let yes = [
            ("localhost", 80),
            ("LOCALHOST.", 443),
            ("corp.example", 443),
            ("s3.corp.example", 443),
            ("bucket.internal.lan", 9000),
            ("internal.lan", 1),
            ("10.1.2.3", 9000),
            ("192.168.1.5", 80),
            ("::1", 443),
            ("fd00::7", 9000),
            ("minio.lan", 9000),
            ("b.minio.lan", 9000),
            ("a.wild.test", 1),
        ];
        for (host, port) in yes {
            assert!(n.matches(host, port), "{host}:{port} should bypass");
        }
        let no = [
            ("notlocalhost", 80),
            ("xcorp.example", 443),
            ("internal.lan.evil", 443),
            ("11.0.0.1", 80),
            ("192.168.1.6", 80),
            ("::2", 443),
            ("fd00::7", 9001),
            ("minio.lan", 9001),
            ("s3.amazonaws.com", 443),
        ];
        for (host, port) in no {
            assert!(!n.matches(host, port), "{host}:{port} should use the proxy");
        }
        assert!(NoProxy::parse("*").matches("anything", 1));
        assert!(!NoProxy::parse("").matches("anything", 1));
        assert!(NoProxy::parse("fd00::/8").matches("fdab::1", 1));
        let full = NoProxy::parse("2001:db8:1:2:3:4:5:6,2001:db8:ff:0:0:0:0:0/48");
        assert!(full.matches("2001:db8:1:2:3:4:5:6", 443));
        assert!(full.matches("2001:db8:ff::9", 443) && !full.matches("2001:db8:fe::9", 443));
        assert!(!NoProxy::parse("fd00::/8").matches("fe80::1", 1));
        assert!(NoProxy::parse("0.0.0.0/0").matches("8.8.8.8", 1));
        // Unreadable entries are skipped, the rest still apply.
        let n = NoProxy::parse("10.0.0.0/99,host:notaport,ok.test");
        assert!(n.matches("ok.test", 1) && !n.matches("10.0.0.1", 1) && !n.matches("host", 1));
    }

    #[test]
    fn route_bypasses_listed_hosts() {
        let e = env(&[("HTTPS_PROXY", "http://p:1"), ("NO_PROXY", "minio.lan")]);
        let r = ProxyRoute::resolve(None, &e, Scheme::Https).unwrap();
        assert!(r.for_host("bucket.minio.lan", 443).is_none());
        assert_eq!(r.for_host("s3.amazonaws.com", 443).unwrap().host, "p");
        let e = env(&[("HTTPS_PROXY", "http://p:1"), ("no_proxy", "*")]);
        assert!(ProxyRoute::resolve(Some("http://q:2"), &e, Scheme::Https)
            .unwrap()
            .for_host("x", 443)
            .is_none());
    }
}
