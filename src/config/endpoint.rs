//! Where requests go: the endpoint URL, and path-style or virtual-hosted addressing.

use crate::error::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

/// A parsed `--endpoint` URL (or the AWS default for a region).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub scheme: Scheme,
    /// Host name or IP literal, without brackets.
    pub host: String,
    pub port: u16,
    /// True when `host` is an IPv4 or IPv6 literal.
    pub ip_literal: bool,
}

/// Which of AWS's own S3 endpoints (AWS General Reference, "Amazon S3 endpoints and
/// quotas"; S3 user guide, "Using dual-stack endpoints", "Transfer Acceleration").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AwsVariant {
    /// IPv4 and IPv6: `s3.dualstack.REGION.amazonaws.com`.
    pub dualstack: bool,
    /// FIPS 140 validated: `s3-fips.REGION.amazonaws.com`.
    pub fips: bool,
    /// Transfer Acceleration: `BUCKET.s3-accelerate.amazonaws.com`, whatever the region.
    pub accelerate: bool,
}

impl Endpoint {
    /// The default AWS endpoint of a region: `https://s3.REGION.amazonaws.com`.
    pub fn aws(region: &str) -> Endpoint {
        Endpoint::aws_variant(region, AwsVariant::default())
    }

    /// AWS's endpoint of a region in one of its variants (the China regions live under
    /// `amazonaws.com.cn`).
    pub fn aws_variant(region: &str, variant: AwsVariant) -> Endpoint {
        let dualstack = if variant.dualstack { ".dualstack" } else { "" };
        let host = if variant.accelerate {
            format!("s3-accelerate{dualstack}.amazonaws.com")
        } else {
            let service = if variant.fips { "s3-fips" } else { "s3" };
            let domain = if region.starts_with("cn-") {
                "amazonaws.com.cn"
            } else {
                "amazonaws.com"
            };
            format!("{service}{dualstack}.{region}.{domain}")
        };
        Endpoint {
            scheme: Scheme::Https,
            host,
            port: 443,
            ip_literal: false,
        }
    }

    /// Parses `http[s]://host[:port][/]`, with `[v6]` literals. Paths, queries and user
    /// info are refused, since S3 keys and credentials have their own places.
    pub fn parse(url: &str) -> Result<Endpoint, Error> {
        // User info (a password, maybe) is never repeated back.
        let shown = match url.split_once("://") {
            // Any `@`: a password may hold `/`, `?` or `#` unencoded.
            Some((scheme, rest)) if rest.contains('@') => {
                let after = rest.rsplit_once('@').map_or(rest, |(_, after)| after);
                format!("{scheme}://***@{after}")
            }
            _ => url.to_string(),
        };
        let bad = |why: &str| {
            Error::Usage(format!(
                "bad endpoint URL '{shown}': {why}; write it as http://HOST:PORT or https://HOST"
            ))
        };
        let (scheme, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (Scheme::Https, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (Scheme::Http, rest)
        } else {
            return Err(bad("it must start with http:// or https://"));
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#']) {
            return Err(bad("it must not have a path or query"));
        }
        if authority.contains('@') {
            return Err(bad(
                "it must not carry user info; credentials come from the environment or a profile",
            ));
        }
        let default_port = match scheme {
            Scheme::Http => 80,
            Scheme::Https => 443,
        };
        let (host, port, ip_literal) = if let Some(v6) = authority.strip_prefix('[') {
            let (addr, after) = v6.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
            if addr.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(bad("not an IPv6 address inside [ ]"));
            }
            let port = match after {
                "" => default_port,
                p => parse_port(p.strip_prefix(':').ok_or_else(|| bad("junk after ']'"))?)
                    .ok_or_else(|| bad("bad port"))?,
            };
            (addr.to_string(), port, true)
        } else {
            let (host, port) = match authority.rsplit_once(':') {
                Some((h, p)) => (h, parse_port(p).ok_or_else(|| bad("bad port"))?),
                None => (authority, default_port),
            };
            if host.is_empty() {
                return Err(bad("no host"));
            }
            if !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
            {
                return Err(bad("the host has characters a host name cannot have"));
            }
            let ip = host.parse::<std::net::Ipv4Addr>().is_ok();
            (host.to_ascii_lowercase(), port, ip)
        };
        Ok(Endpoint {
            scheme,
            host,
            port,
            ip_literal,
        })
    }

    /// `http[s]://host[:port]`, as --endpoint takes it.
    pub fn url(&self) -> String {
        let scheme = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        format!("{scheme}://{}", self.authority(&self.host))
    }

    /// `host[:port]` as the Host header wants it (port left out when it is the default).
    pub fn authority(&self, host: &str) -> String {
        let host = if self.ip_literal && host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        match (self.scheme, self.port) {
            (Scheme::Http, 80) | (Scheme::Https, 443) => host,
            (_, port) => format!("{host}:{port}"),
        }
    }

    /// Path-style is needed where the bucket cannot be a host name label: IP literals,
    /// localhost, names that are not DNS-compatible, and names with dots over TLS
    /// (`a.b.s3.amazonaws.com` does not match the `*.s3.amazonaws.com` certificate).
    pub fn needs_path_style(&self, bucket: &str) -> bool {
        self.ip_literal
            || self.host == "localhost"
            || !dns_compatible(bucket)
            || (self.scheme == Scheme::Https && bucket.contains('.'))
    }
}

/// A bucket name usable as a DNS label set: 3..=63 of lowercase letters, digits, '-' and
/// '.', starting and ending with a letter or digit (S3 bucket naming rules).
pub fn dns_compatible(bucket: &str) -> bool {
    let b = bucket.as_bytes();
    (3..=63).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-' || *c == b'.')
        && b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.last().is_some_and(u8::is_ascii_alphanumeric)
        && !bucket.contains("..")
}

fn parse_port(p: &str) -> Option<u16> {
    if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    p.parse::<u16>().ok().filter(|&p| p != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts_ports_and_literals() {
        let e = Endpoint::parse("http://127.0.0.1:9000").unwrap();
        assert_eq!(
            (e.scheme, e.host.as_str(), e.port, e.ip_literal),
            (Scheme::Http, "127.0.0.1", 9000, true)
        );
        let e = Endpoint::parse("https://[::1]:8443/").unwrap();
        assert_eq!((e.host.as_str(), e.port, e.ip_literal), ("::1", 8443, true));
        assert_eq!(e.authority("::1"), "[::1]:8443");
        let e = Endpoint::parse("https://Minio.Example").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("minio.example", 443));
        assert_eq!(e.authority("b.minio.example"), "b.minio.example");
        assert_eq!(Endpoint::parse("https://[::1]").unwrap().port, 443);
    }

    #[test]
    fn refuses_what_is_not_an_endpoint() {
        for url in [
            "ftp://x",
            "x:9000",
            "http://",
            "http://h:0",
            "http://h:99999",
            "http://h:x",
            "http://h/path",
            "http://u:p@h",
            "http://[::1",
            "http://[zz]:1",
            "http://h h",
        ] {
            let err = Endpoint::parse(url).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{url}");
        }
    }

    #[test]
    fn aws_endpoint_variants() {
        let host = |region: &str, dualstack, fips, accelerate| {
            Endpoint::aws_variant(
                region,
                AwsVariant {
                    dualstack,
                    fips,
                    accelerate,
                },
            )
            .host
        };
        assert_eq!(
            host("eu-west-1", false, false, false),
            "s3.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            host("eu-west-1", true, false, false),
            "s3.dualstack.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            host("us-gov-west-1", false, true, false),
            "s3-fips.us-gov-west-1.amazonaws.com"
        );
        assert_eq!(
            host("us-east-2", true, true, false),
            "s3-fips.dualstack.us-east-2.amazonaws.com"
        );
        assert_eq!(
            host("ap-south-1", false, false, true),
            "s3-accelerate.amazonaws.com"
        );
        assert_eq!(
            host("ap-south-1", true, false, true),
            "s3-accelerate.dualstack.amazonaws.com"
        );
        assert_eq!(
            host("cn-north-1", false, false, false),
            "s3.cn-north-1.amazonaws.com.cn"
        );
        assert_eq!(
            host("cn-northwest-1", true, false, false),
            "s3.dualstack.cn-northwest-1.amazonaws.com.cn"
        );
        let e = Endpoint::aws("us-east-1");
        assert_eq!(
            (e.scheme, e.port, e.ip_literal),
            (Scheme::Https, 443, false)
        );
    }

    #[test]
    fn addressing_style() {
        let aws = Endpoint::aws("eu-west-1");
        assert!(!aws.needs_path_style("my-bucket"));
        assert!(aws.needs_path_style("my.bucket"));
        assert!(aws.needs_path_style("My_Bucket"));
        assert!(Endpoint::parse("http://localhost:9000")
            .unwrap()
            .needs_path_style("b12"));
        assert!(Endpoint::parse("http://10.0.0.1")
            .unwrap()
            .needs_path_style("b12"));
        assert!(!Endpoint::parse("http://minio.lan")
            .unwrap()
            .needs_path_style("my.bucket"));
    }
}
