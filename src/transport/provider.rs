//! The TLS crypto provider: ring's, less the private-key loader. A client without client
//! certificates never signs, but ring's default provider carries the loader for RSA,
//! ECDSA and Ed25519 keys and their signing code: 20-odd KB of the static binary
//! (doc/building.md, "What ships").

use rustls::crypto::{CryptoProvider, KeyProvider};
use rustls::pki_types::PrivateKeyDer;
use rustls::sign::SigningKey;
use std::sync::Arc;

/// ring's provider, whose key loader refuses every key.
pub fn ring_without_keys() -> CryptoProvider {
    CryptoProvider {
        key_provider: &NoKeys,
        ..rustls::crypto::ring::default_provider()
    }
}

#[derive(Debug)]
struct NoKeys;

impl KeyProvider for NoKeys {
    fn load_private_key(
        &self,
        _key_der: PrivateKeyDer<'static>,
    ) -> Result<Arc<dyn SigningKey>, rustls::Error> {
        Err(rustls::Error::General(
            "s3push uses no client certificates".into(),
        ))
    }
}
