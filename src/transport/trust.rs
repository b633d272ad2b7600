//! What a TLS connection trusts: webpki-roots, the user's bundle, OpenSSL's variables,
//! and the verifier that also accepts a pinned self-signed certificate.

use super::der;
use super::settings::Trust;
use crate::error::Error;
use crate::report::trace;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;

/// A PEM file in SSL_CERT_DIR larger than this is not a certificate file: skipped.
const MAX_CERT_FILE: u64 = 4 * 1024 * 1024;

/// Where the system keeps its CA bundle (Go's list, in its order): Debian, Ubuntu, Arch
/// and Alpine; Fedora and RHEL; openSUSE; older RHEL; RHEL 7+; Alpine, macOS and the BSDs.
/// The first that exists is read, unless SSL_CERT_FILE names another (as OpenSSL does).
pub const SYSTEM_BUNDLES: [&str; 6] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// Adds `cert` as a root unless webpki cannot use it or an equal anchor is there already
/// (a system bundle repeats most of webpki-roots: no second copy in memory).
fn add_new(roots: &mut RootCertStore, cert: CertificateDer<'_>) -> bool {
    let before = roots.len();
    roots.add(cert).is_ok() && !drop_duplicate(roots, before)
}

/// Removes the anchor added at `at` when an earlier one is equal; true if it did.
fn drop_duplicate(roots: &mut RootCertStore, at: usize) -> bool {
    let Some((added, earlier)) = roots.roots.get(at..).zip(roots.roots.get(..at)) else {
        return false;
    };
    let repeated = added.first().is_some_and(|new| earlier.contains(new));
    if repeated {
        roots.roots.truncate(at);
    }
    repeated
}

/// TLS settings for a run: webpki-roots, plus the CAs of `--ca-bundle`.
pub fn tls_config(ca_bundle: Option<&Path>) -> Result<Arc<ClientConfig>, Error> {
    let trust = Trust {
        ca_bundle_from: "--ca-bundle",
        ..Trust::default()
    };
    tls_config_with(ca_bundle, &trust)
}

/// TLS settings for a run: webpki-roots, plus the user's bundle (`--ca-bundle`,
/// AWS_CA_BUNDLE or the profile's `ca_bundle`), SSL_CERT_FILE (else the system's bundle,
/// [`SYSTEM_BUNDLES`]) and the PEM files of SSL_CERT_DIR. A server that presents exactly one of those certificates as its own (a
/// self-signed CA, the usual MinIO or NAS setup) is accepted too: see [`PinnedOrWebPki`].
pub fn tls_config_with(
    ca_bundle: Option<&Path>,
    trust: &Trust,
) -> Result<Arc<ClientConfig>, Error> {
    let mut roots = RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let mut pinned = Vec::new();
    if let Some(path) = ca_bundle {
        let from = trust.ca_bundle_from;
        let bad = |why: String| {
            Error::Usage(format!(
                "{from} {}: {why}; give a PEM file with -----BEGIN CERTIFICATE----- blocks",
                path.display()
            ))
        };
        let mut added = 0;
        for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad(e.to_string()))? {
            let cert = cert.map_err(|e| bad(e.to_string()))?;
            let before = roots.len();
            roots.add(cert.clone()).map_err(|e| bad(e.to_string()))?;
            drop_duplicate(&mut roots, before);
            pinned.push(cert);
            added += 1;
        }
        if added == 0 {
            return Err(bad("no certificate in it".into()));
        }
    }
    // OpenSSL's variables: a file or directory may hold anything (hash links, a README,
    // certificates webpki cannot use as anchors), so what does not parse is skipped.
    let mut system = |path: &Path| {
        if let Ok(certs) = CertificateDer::pem_file_iter(path) {
            for cert in certs.flatten() {
                if add_new(&mut roots, cert.clone()) {
                    pinned.push(cert);
                }
            }
        }
    };
    if let Some(file) = &trust.cert_file {
        system(file);
    }
    let bundle = match &trust.cert_file {
        Some(_) => None,
        None => SYSTEM_BUNDLES.iter().map(Path::new).find(|p| p.is_file()),
    };
    // Each file of the directories is read once: OpenSSL's hash links and the names they
    // point at are one file, and the bundle read whole (SSL_CERT_FILE, else the system's;
    // Debian's /etc/ssl/certs holds ca-certificates.crt) is not read again. On Debian
    // this halves the files read and skips the 220 KB bundle (292 names, 150 opened).
    // Files are told apart by device and inode, from the stat that is made anyway.
    let mut read: Vec<(u64, u64)> = trust
        .cert_file
        .as_deref()
        .or(bundle)
        .and_then(|p| std::fs::metadata(p).ok())
        .map(|m| (m.dev(), m.ino()))
        .into_iter()
        .collect();
    for dir in &trust.cert_dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            // Follows symlinks: OpenSSL's hash links point at the PEM files.
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            let file = (meta.dev(), meta.ino());
            if meta.is_file() && meta.len() <= MAX_CERT_FILE && !read.contains(&file) {
                system(&path);
                read.push(file);
            }
        }
    }
    if trust.cert_file.is_none() {
        // The system's bundle, as curl and the AWS CLI read it (internal CAs, an
        // intercepting proxy's CA): CAs only, never pinned as a server's own certificate.
        if let Some(path) = bundle {
            let before = roots.len();
            if let Ok(certs) = CertificateDer::pem_file_iter(path) {
                for cert in certs.flatten() {
                    add_new(&mut roots, cert);
                }
            }
            trace::event(format_args!(
                "{} CAs of {} trusted besides the built-in roots",
                roots.len() - before,
                path.display()
            ));
        }
    }
    let provider = Arc::new(super::provider::ring_without_keys());
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| Error::Tls(format!("TLS setup failed: {e}")))?;
    let verifier = Arc::new(PinnedOrWebPki { webpki, pinned });
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(format!("TLS setup failed: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The certificate verifier: webpki first, always. Only when webpki refuses a
/// self-signed certificate (a CA used as the server's own, `openssl req -x509`), and the
/// server presented exactly (byte for byte) a certificate the user trusts, is it accepted,
/// with its validity period and host name checked here. Anything else is webpki's answer.
#[derive(Debug)]
struct PinnedOrWebPki {
    webpki: Arc<WebPkiServerVerifier>,
    /// The certificates of the user's bundles (never webpki-roots).
    pinned: Vec<CertificateDer<'static>>,
}

/// Marks a self-signed server certificate that is not in the user's bundles.
#[derive(Debug)]
pub(super) struct SelfSignedNotTrusted;

impl std::fmt::Display for SelfSignedNotTrusted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("self-signed certificate not in the CA bundle")
    }
}

impl std::error::Error for SelfSignedNotTrusted {}

impl ServerCertVerifier for PinnedOrWebPki {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let refused = match self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Ok(verified) => return Ok(verified),
            Err(e) => e,
        };
        let Some(self_signed) = refused_self_signed(&refused, end_entity) else {
            return Err(refused);
        };
        if !self
            .pinned
            .iter()
            .any(|p| p.as_ref() == end_entity.as_ref())
        {
            return Err(if self_signed {
                rustls::Error::InvalidCertificate(rustls::CertificateError::Other(
                    rustls::OtherError(Arc::new(SelfSignedNotTrusted)),
                ))
            } else {
                refused
            });
        }
        let (not_before, not_after) = der::validity(end_entity.as_ref()).ok_or(
            rustls::Error::InvalidCertificate(rustls::CertificateError::BadEncoding),
        )?;
        let now_secs = now.as_secs();
        if now_secs < not_before {
            return Err(rustls::CertificateError::NotValidYet.into());
        }
        if now_secs > not_after {
            return Err(rustls::CertificateError::Expired.into());
        }
        let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_name(&parsed, server_name)?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// When webpki's refusal is one a pin may overrule: Some(true) for a self-signed
/// certificate (CaUsedAsEndEntity, or UnknownIssuer with issuer = subject), Some(false)
/// for another UnknownIssuer, None otherwise.
fn refused_self_signed(e: &rustls::Error, cert: &CertificateDer<'_>) -> Option<bool> {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(C::Other(other))
            if format!("{other:?}").contains("CaUsedAsEndEntity") =>
        {
            Some(true)
        }
        rustls::Error::InvalidCertificate(C::UnknownIssuer) => {
            Some(der::issuer_is_subject(cert.as_ref()).unwrap_or(false))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_adds_each_anchor_once() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = params.self_signed(&key).unwrap();
        let der = CertificateDer::from(ca.der().to_vec());
        let mut roots = RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let built_in = roots.len();
        assert!(add_new(&mut roots, der.clone()));
        assert!(!add_new(&mut roots, der), "the same CA twice");
        assert_eq!(roots.len(), built_in + 1);
        // Not a certificate webpki can use: skipped, not an error.
        assert!(!add_new(&mut roots, CertificateDer::from(vec![0x30, 0])));
    }

    #[test]
    fn the_system_bundle_repeats_no_built_in_root() {
        // Where this host has a bundle (a Mozilla set, as webpki-roots is): what it adds
        // is only what webpki-roots lacks, each once.
        let Some(path) = SYSTEM_BUNDLES.iter().map(Path::new).find(|p| p.is_file()) else {
            return;
        };
        let mut roots = RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let mut read = 0;
        for cert in CertificateDer::pem_file_iter(path).unwrap().flatten() {
            add_new(&mut roots, cert);
            read += 1;
        }
        let added = roots.len() - webpki_roots::TLS_SERVER_ROOTS.len();
        println!(
            "{}: {read} certificates, {added} new anchors",
            path.display()
        );
        assert!(added < read, "{added} of {read}");
        let mut seen = std::collections::HashSet::new();
        assert!(roots.roots.iter().all(|a| seen.insert(a.clone())));
    }
}
