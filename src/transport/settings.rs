//! What the transport is told about the network beyond the endpoint: the proxy to go
//! through and the CAs to trust besides webpki-roots. The transport owns these types;
//! config builds them from flags, the environment and the profile (config/proxy.rs,
//! config::resolve_trust), so the transport knows nothing of either.

use crate::secret::Secret;
use std::path::{Path, PathBuf};

/// A proxy: its kind, where it listens, and the credentials its URL carries.
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    pub kind: ProxyKind,
    /// Host name or IP literal, without brackets.
    pub host: String,
    pub port: u16,
    /// HTTP(S) proxies: `Basic base64(user:password)`, from the user info of the URL.
    pub authorization: Option<Secret>,
    /// SOCKS5: the user name and password of the URL (RFC 1929).
    pub login: Option<(Secret, Secret)>,
    /// Where the URL came from (`--proxy`, `HTTPS_PROXY`, ...), for messages.
    pub source: &'static str,
    /// Where a user name and password can be given when `source` cannot hold one (the
    /// command line, seen by every user in ps): named in a 407's message.
    pub login_elsewhere: Option<&'static str>,
    /// `https://`: what TLS to the proxy trusts when the store is plain HTTP (for an
    /// https store, the store's TLS settings): the user's bundle and [`Trust`], as the
    /// store's would. Config sets them with the store's ([`Proxy::trusting`]).
    pub ca_bundle: Option<PathBuf>,
    pub trust: Trust,
}

impl Proxy {
    /// The proxy, its TLS trusting `ca_bundle` and `trust` (those of the store).
    pub fn trusting(mut self, ca_bundle: Option<&Path>, trust: &Trust) -> Proxy {
        self.ca_bundle = ca_bundle.map(Path::to_path_buf);
        self.trust = trust.clone();
        self
    }
}

/// How a proxy is spoken to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyKind {
    /// `http://`: CONNECT for TLS, absolute-form requests for plain HTTP.
    Http,
    /// `https://`: the same, inside TLS to the proxy itself.
    Https,
    /// `socks5://` (the name resolved here) or `socks5h://` (`remote_dns`: resolved by
    /// the proxy), RFC 1928.
    Socks5 { remote_dns: bool },
}

/// What the caller's user calls the settings a message may point to: the transport
/// knows no command line, so its hints name these (`--endpoint`, `--timeout`, ... for
/// s3push's own requests; see `upload::exchange::FLAGS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Names {
    /// Where the server's URL is set.
    pub endpoint: &'static str,
    /// The wait for a response head, a handshake, a stalled body.
    pub timeout: &'static str,
    /// The wait for a connection and a proxy's answer.
    pub connect_timeout: &'static str,
    /// Where a CA bundle is given.
    pub ca_bundle: &'static str,
    /// The switch to path-style addressing (a bucket name in the way of a certificate).
    pub path_style: &'static str,
}

/// CAs trusted beyond webpki-roots and the user's bundle: OpenSSL's variables, which
/// hold a private CA on many hosts and containers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trust {
    /// The setting that named `Plan::ca_bundle`, for messages.
    pub ca_bundle_from: &'static str,
    /// SSL_CERT_FILE: a PEM file.
    pub cert_file: Option<PathBuf>,
    /// SSL_CERT_DIR (`:`-separated): every PEM file in these directories.
    pub cert_dirs: Vec<PathBuf>,
}
