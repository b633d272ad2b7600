//! Credentials and their holder: a [`CredentialSource`] hands out the run's keys and asks
//! its [`Provider`] again before temporary ones expire.

use crate::error::Error;
use crate::secret::Secret;
use crate::sign::time::Timestamp;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// Temporary credentials are fetched again when fewer than this many seconds remain.
pub const REFRESH_WINDOW_SECS: u64 = 5 * 60;
/// Credentials this close to their expiry are not used at all: a request signed with
/// them could reach the store after they expired.
pub const EXPIRED_MARGIN_SECS: u64 = 30;

/// Keys to sign with, and where they came from (shown in messages; never the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
    pub source: String,
    /// When temporary credentials stop working; None for long-term keys.
    pub expires: Option<Timestamp>,
}

impl Credentials {
    fn needs_refresh(&self, now: Timestamp) -> bool {
        self.expires
            .is_some_and(|e| e.unix() < now.unix().saturating_add(REFRESH_WINDOW_SECS))
    }

    fn expired(&self, now: Timestamp) -> bool {
        self.expires
            .is_some_and(|e| e.unix() < now.unix().saturating_add(EXPIRED_MARGIN_SECS))
    }
}

/// Where credentials are fetched from when they are not fixed keys.
pub trait Provider: Send + Sync + fmt::Debug {
    /// Fresh credentials (a network call, a file read or a command run).
    fn fetch(&self) -> Result<Credentials, Error>;
}

/// Keys that never change (environment, profile).
#[derive(Debug)]
pub struct FixedKeys(pub Credentials);

impl Provider for FixedKeys {
    fn fetch(&self) -> Result<Credentials, Error> {
        Ok(self.0.clone())
    }
}

/// The credentials of a run, shared by every request and thread (clones share them).
/// `current` hands out the held credentials, and first fetches new ones when those are
/// within [`REFRESH_WINDOW_SECS`] of expiring: one caller fetches, without holding the
/// lock, while the others keep signing with the held ones as long as they still work.
#[derive(Clone)]
pub struct CredentialSource {
    shared: Arc<Shared>,
}

struct Shared {
    provider: Box<dyn Provider>,
    state: Mutex<Held>,
    fetched: Condvar,
}

struct Held {
    current: Credentials,
    fetching: bool,
    /// When the last refresh failed: the next waits RETRY_FETCH (while the held keys
    /// still work), so that every part does not pay a fetch's timeouts.
    failed_at: Option<u64>,
}

/// Seconds between two tries at refreshing credentials that still work.
const RETRY_FETCH: u64 = 15;

/// An error of a credential source, as one: a metadata service that times out or an
/// STS that answers 500 is a credentials problem for the user (exit 4), and must not be
/// taken for a failure of the store's connection.
fn as_credentials(e: Error) -> Error {
    match e {
        Error::Network(_) | Error::Protocol(_) | Error::Tls(_) | Error::Refused(_) => {
            Error::Credentials(format!("fetching credentials failed: {e}"))
        }
        other => other,
    }
}

impl CredentialSource {
    /// Fetches the first credentials from `provider`.
    pub fn new(provider: Box<dyn Provider>) -> Result<CredentialSource, Error> {
        let first = provider.fetch().map_err(as_credentials)?;
        Ok(CredentialSource::with_first(provider, first))
    }

    /// A source whose first credentials were already fetched.
    pub fn with_first(provider: Box<dyn Provider>, first: Credentials) -> CredentialSource {
        CredentialSource {
            shared: Arc::new(Shared {
                provider,
                state: Mutex::new(Held {
                    current: first,
                    fetching: false,
                    failed_at: None,
                }),
                fetched: Condvar::new(),
            }),
        }
    }

    /// Fixed keys.
    pub fn fixed(credentials: Credentials) -> CredentialSource {
        CredentialSource::with_first(Box::new(FixedKeys(credentials.clone())), credentials)
    }

    /// The credentials to sign a request with now.
    pub fn current(&self) -> Result<Credentials, Error> {
        self.current_at(Timestamp::now())
    }

    /// The credentials to sign with at `now`, fetched anew when they are about to expire.
    pub fn current_at(&self, now: Timestamp) -> Result<Credentials, Error> {
        let mut held = self.lock();
        loop {
            if !held.current.needs_refresh(now) {
                return Ok(held.current.clone());
            }
            let waiting = held.failed_at.is_some_and(|t| now.unix() < t + RETRY_FETCH);
            if waiting && !held.current.expired(now) {
                return Ok(held.current.clone());
            }
            if !held.fetching {
                break;
            }
            if !held.current.expired(now) {
                return Ok(held.current.clone());
            }
            // Another thread fetches; its fetch is bounded by its own timeouts.
            held = match self
                .shared
                .fetched
                .wait_timeout(held, Duration::from_secs(1))
            {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        held.fetching = true;
        drop(held);
        let fetched = self.shared.provider.fetch();
        let mut held = self.lock();
        held.fetching = false;
        self.shared.fetched.notify_all();
        match fetched {
            Ok(fresh) => {
                held.current = fresh.clone();
                held.failed_at = None;
                Ok(fresh)
            }
            // The held ones still work: use them, and try again in RETRY_FETCH seconds.
            Err(_) if !held.current.expired(now) => {
                held.failed_at = Some(now.unix());
                Ok(held.current.clone())
            }
            Err(e) => Err(as_credentials(e)),
        }
    }

    /// The credentials held now, without fetching (for messages: the key id and source).
    pub fn last(&self) -> Credentials {
        self.lock().current.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Held> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl fmt::Debug for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let held = self.last();
        f.debug_struct("CredentialSource")
            .field("access_key_id", &held.access_key_id)
            .field("source", &held.source)
            .field("expires", &held.expires)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// No keys: for requests that are not signed (`--no-sign-request`, a presigned URL).
    pub fn anonymous() -> Credentials {
        Credentials {
            access_key_id: String::new(),
            secret_access_key: Secret::new(String::new()),
            session_token: None,
            expires: None,
            source: "none (requests are not signed)".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts its fetches; hands out credentials expiring `lifetime` seconds after `now`.
    #[derive(Debug)]
    struct Counting {
        fetches: std::sync::atomic::AtomicU64,
        now: u64,
        lifetime: u64,
        fail_after: u64,
    }

    impl Provider for Counting {
        fn fetch(&self) -> Result<Credentials, Error> {
            let n = self
                .fetches
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                + 1;
            if n > self.fail_after {
                return Err(Error::Credentials("source gone".into()));
            }
            Ok(Credentials {
                access_key_id: format!("K{n}"),
                secret_access_key: Secret::new("s".into()),
                session_token: None,
                source: "counting".into(),
                expires: Some(Timestamp::from_unix(self.now + self.lifetime)),
            })
        }
    }

    fn counting(lifetime: u64, fail_after: u64) -> CredentialSource {
        CredentialSource::new(Box::new(Counting {
            fetches: Default::default(),
            now: 1_000_000,
            lifetime,
            fail_after,
        }))
        .unwrap()
    }

    #[test]
    fn refreshed_within_five_minutes_of_expiry_only() {
        let at = |s: u64| Timestamp::from_unix(1_000_000 + s);
        let source = counting(3600, u64::MAX);
        assert_eq!(source.current_at(at(0)).unwrap().access_key_id, "K1");
        assert_eq!(
            source.current_at(at(3600 - 301)).unwrap().access_key_id,
            "K1"
        );
        // Within the window: fetched again (the new ones expire at the same instant here,
        // so the next call fetches again too).
        assert_eq!(
            source.current_at(at(3600 - 299)).unwrap().access_key_id,
            "K2"
        );
        assert_eq!(
            source.current_at(at(3600 - 200)).unwrap().access_key_id,
            "K3"
        );
        let clone = source.clone();
        assert_eq!(clone.last().access_key_id, "K3");
    }

    #[test]
    fn a_failed_refresh_keeps_working_keys_and_reports_expired_ones() {
        let at = |s: u64| Timestamp::from_unix(1_000_000 + s);
        let source = counting(3600, 1);
        assert_eq!(
            source.current_at(at(3600 - 100)).unwrap().access_key_id,
            "K1"
        );
        let err = source.current_at(at(3600 - 10)).unwrap_err();
        assert!(err.to_string().contains("source gone"));
        let fixed = CredentialSource::fixed(Credentials {
            access_key_id: "F".into(),
            secret_access_key: Secret::new("s".into()),
            session_token: None,
            source: "env".into(),
            expires: None,
        });
        assert_eq!(
            fixed
                .current_at(at(u64::from(u32::MAX)))
                .unwrap()
                .access_key_id,
            "F"
        );
        assert!(!format!("{fixed:?}").contains("\"s\""));
    }

    #[test]
    fn threads_share_one_fetch_without_holding_the_lock() {
        let source = counting(3600, u64::MAX);
        let at = Timestamp::from_unix(1_000_000 + 3600 - 100);
        let ids: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| source.current_at(at).unwrap().access_key_id))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        // Each either fetched or used the held (still valid) ones: none failed.
        assert!(ids.iter().all(|id| id.starts_with('K')), "{ids:?}");
    }
}
