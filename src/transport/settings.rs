//! What the transport is told about the network beyond the endpoint: the proxy to go
//! through and the CAs to trust besides webpki-roots. The transport owns these types;
//! config builds them from flags, the environment and the profile (config/proxy.rs,
//! config::resolve_trust), so the transport knows nothing of either.

use crate::secret::Secret;
use std::path::PathBuf;

/// An HTTP proxy: where it listens and the `Proxy-Authorization` value its URL implies.
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    /// Host name or IP literal, without brackets.
    pub host: String,
    pub port: u16,
    /// `Basic base64(user:password)`, from the user info of the URL.
    pub authorization: Option<Secret>,
    /// Where the URL came from (`--proxy`, `HTTPS_PROXY`, ...), for messages.
    pub source: &'static str,
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
