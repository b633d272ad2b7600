//! The credential chain, in the order the AWS SDKs use (doc/credentials.md): keys in
//! the environment, web identity (EKS), the profile (assumed roles, static keys,
//! credential_process), container credentials (ECS/EKS), the EC2 instance metadata
//! service. Temporary credentials are held by a [`CredentialSource`] that asks its
//! provider again before they expire.

use super::profile::IniFile;
use super::{container, imds, process, sts, Env, ProxyRoute};
use crate::secret::Secret;
use crate::sign::time::Timestamp;
use crate::Error;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
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

/// What the network-fetched sources need besides the environment and the files.
#[derive(Debug, Clone)]
pub struct FetchSettings {
    /// The region STS is called in (the run's region).
    pub region: String,
    /// The STS endpoint URL when one was configured (AWS_ENDPOINT_URL_STS...).
    pub sts_endpoint: Option<String>,
    /// Extra CAs for the TLS calls (STS, container endpoints over https).
    pub ca_bundle: Option<PathBuf>,
    pub connect_timeout: Duration,
    pub io_timeout: Duration,
    /// The proxy for STS calls (`--proxy`, else the variable for the STS URL's scheme),
    /// or why its URL is unusable: reported only when STS is called. The metadata
    /// services are always called direct.
    pub sts_proxy: Result<ProxyRoute, Error>,
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

/// The shared files of one run, read once.
#[derive(Debug, Default)]
pub struct SharedFiles {
    pub credentials_path: Option<PathBuf>,
    pub credentials: IniFile,
    pub config_path: Option<PathBuf>,
    pub config: IniFile,
}

impl SharedFiles {
    /// Reads `AWS_SHARED_CREDENTIALS_FILE` (default `~/.aws/credentials`) and
    /// `AWS_CONFIG_FILE` (default `~/.aws/config`). A missing file is an empty one;
    /// one that exists but cannot be read is an error.
    pub fn load(env: &Env) -> Result<SharedFiles, Error> {
        let credentials_path = env.path_or_home("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials");
        let config_path = env.path_or_home("AWS_CONFIG_FILE", ".aws/config");
        Ok(SharedFiles {
            credentials: read_ini(credentials_path.as_deref())?,
            credentials_path,
            config: read_ini(config_path.as_deref())?,
            config_path,
        })
    }
}

/// Finds credentials in the order the AWS SDKs use:
/// 1. `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` (skipped when `--profile` was given);
/// 2. web identity: `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN` (likewise);
/// 3. the profile: `role_arn` (with `source_profile`, `credential_source` or
///    `web_identity_token_file`), keys in the credentials file, `credential_process`,
///    keys in the config file;
/// 4. container credentials: `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`/`_FULL_URI`;
/// 5. the EC2 instance metadata service (unless `AWS_EC2_METADATA_DISABLED=true`).
pub fn resolve(
    env: &Env,
    files: &SharedFiles,
    profile: &str,
    profile_from_cli: bool,
    net: &FetchSettings,
) -> Result<CredentialSource, Error> {
    if !profile_from_cli {
        if let Some(creds) = from_env(env)? {
            return Ok(CredentialSource::fixed(creds));
        }
        if let Some(provider) = sts::WebIdentity::from_env(env, net)? {
            return CredentialSource::new(Box::new(provider));
        }
    }
    let profiles = Profiles { env, files, net };
    if let Some(provider) = profiles.provider(profile, &mut Vec::new())? {
        return CredentialSource::new(provider);
    }
    let in_credentials = files.credentials.section(profile);
    let in_config = files.config.config_profile(profile);
    if profile_from_cli && in_credentials.is_none() && in_config.is_none() {
        return Err(Error::Credentials(format!(
            "profile '{profile}' not found in {} or {}: check the name given to --profile",
            show(files.credentials_path.as_ref()),
            show(files.config_path.as_ref()),
        )));
    }
    if let Some(provider) = container::Container::from_env(env)? {
        let provider = provider.with_ca_bundle(net.ca_bundle.clone());
        return CredentialSource::new(Box::new(provider));
    }
    let imds_note = match imds::Imds::from_env(env)? {
        None => "the EC2 instance metadata service (AWS_EC2_METADATA_DISABLED)".to_string(),
        Some(service) => {
            let address = service.address();
            if let Some(first) = service.fetch_if_present()? {
                return Ok(CredentialSource::with_first(Box::new(service), first));
            }
            format!("the EC2 instance metadata service ({address}: no answer)")
        }
    };
    Err(Error::Credentials(format!(
        "no credentials found: looked in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY and AWS_WEB_IDENTITY_TOKEN_FILE{}, \
         profile '{profile}' in {} and {}, AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/FULL_URI and {imds_note}; \
         set those variables or add keys, a role or a credential_process to that profile",
        if profile_from_cli { " (skipped: --profile given)" } else { "" },
        show(files.credentials_path.as_ref()),
        show(files.config_path.as_ref()),
    )))
}

/// Keys from the environment, if set.
pub fn from_env(env: &Env) -> Result<Option<Credentials>, Error> {
    let id = env.get("AWS_ACCESS_KEY_ID");
    let secret = env.get("AWS_SECRET_ACCESS_KEY");
    match (id, secret) {
        (None, None) => Ok(None),
        (Some(_), None) | (None, Some(_)) => Err(Error::Credentials(
            "only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set: set both, or neither to use a profile"
                .into(),
        )),
        (Some(id), Some(secret)) => Ok(Some(Credentials {
            access_key_id: id.to_string(),
            secret_access_key: Secret::new(secret.to_string()),
            session_token: env.get("AWS_SESSION_TOKEN").map(|t| Secret::new(t.to_string())),
            source: "environment (AWS_ACCESS_KEY_ID)".into(),
            expires: None,
        })),
    }
}

/// The profiles of the shared files, resolved to a provider.
struct Profiles<'a> {
    env: &'a Env,
    files: &'a SharedFiles,
    net: &'a FetchSettings,
}

impl Profiles<'_> {
    /// The provider of profile `name`, or None when it holds no credentials. `chain`
    /// holds the profiles whose role is being assumed (source_profile), to stop loops.
    fn provider(
        &self,
        name: &str,
        chain: &mut Vec<String>,
    ) -> Result<Option<Box<dyn Provider>>, Error> {
        let in_credentials = self.files.credentials.section(name);
        let in_config = self.files.config.config_profile(name);
        let cred_where = format!(
            "profile '{name}' in {}",
            show(self.files.credentials_path.as_ref())
        );
        let config_where = format!(
            "profile '{name}' in {}",
            show(self.files.config_path.as_ref())
        );
        let get = |key: &str| {
            [in_credentials, in_config]
                .into_iter()
                .flatten()
                .find_map(|s| s.get(key).filter(|v| !v.is_empty()).cloned())
        };
        if let Some(role_arn) = get("role_arn") {
            return self.assumed_role(name, &role_arn, &get, chain).map(Some);
        }
        if let Some(settings) = in_credentials {
            if let Some(creds) = from_settings(settings, &cred_where)? {
                return Ok(Some(Box::new(FixedKeys(creds))));
            }
        }
        if let Some(command) = get("credential_process") {
            let where_ = if in_credentials.is_some_and(|s| s.contains_key("credential_process")) {
                cred_where
            } else {
                config_where.clone()
            };
            return Ok(Some(Box::new(process::CredentialProcess::new(
                command, where_,
            ))));
        }
        if let Some(settings) = in_config {
            if let Some(creds) = from_settings(settings, &config_where)? {
                return Ok(Some(Box::new(FixedKeys(creds))));
            }
        }
        Ok(None)
    }

    /// `role_arn` with what it is assumed with (AWS CLI user guide, "Use an IAM role").
    fn assumed_role(
        &self,
        name: &str,
        role_arn: &str,
        get: &dyn Fn(&str) -> Option<String>,
        chain: &mut Vec<String>,
    ) -> Result<Box<dyn Provider>, Error> {
        let where_ = format!("profile '{name}'");
        if get("mfa_serial").is_some() {
            return Err(Error::Credentials(format!(
                "{where_} asks for an MFA code (mfa_serial), which s3push cannot prompt for: \
                 get session credentials first (aws sts get-session-token) and pass them in the environment"
            )));
        }
        let session_name = get("role_session_name");
        if let Some(token_file) = get("web_identity_token_file") {
            return Ok(Box::new(sts::WebIdentity::new(
                role_arn.to_string(),
                session_name,
                PathBuf::from(token_file),
                self.net,
            )?));
        }
        if chain.iter().any(|p| p == name) {
            return Err(Error::Credentials(format!(
                "{where_}: source_profile loops back to itself ({} -> {name}): break the loop",
                chain.join(" -> ")
            )));
        }
        let source: Box<dyn Provider> = match (get("source_profile"), get("credential_source")) {
            (Some(_), Some(_)) => {
                return Err(Error::Credentials(format!(
                    "{where_} has both source_profile and credential_source: keep one"
                )))
            }
            (Some(source), None) if source == name => {
                // A profile may name itself: its own keys assume its role.
                let own = [
                    self.files.credentials.section(name),
                    self.files.config.config_profile(name),
                ]
                .into_iter()
                .flatten()
                .find_map(|s| from_settings(s, &where_).transpose())
                .transpose()?;
                match own {
                    Some(creds) => Box::new(FixedKeys(creds)),
                    None => {
                        return Err(Error::Credentials(format!(
                            "{where_} names itself as source_profile but has no keys: add them, or name another profile"
                        )))
                    }
                }
            }
            (Some(source), None) => {
                chain.push(name.to_string());
                let provider = self.provider(&source, chain)?;
                chain.pop();
                provider.ok_or_else(|| {
                    Error::Credentials(format!(
                        "source_profile '{source}' of {where_} has no credentials: add keys to it, or fix the name"
                    ))
                })?
            }
            (None, Some(kind)) => self.credential_source(&kind, &where_)?,
            (None, None) => {
                return Err(Error::Credentials(format!(
                    "{where_} has role_arn but neither source_profile nor credential_source: \
                     add one to say which credentials assume the role"
                )))
            }
        };
        Ok(Box::new(sts::AssumeRole::new(
            role_arn.to_string(),
            session_name,
            get("external_id"),
            get("duration_seconds"),
            source,
            self.net,
        )?))
    }

    /// `credential_source`: Environment, Ec2InstanceMetadata or EcsContainer.
    fn credential_source(&self, kind: &str, where_: &str) -> Result<Box<dyn Provider>, Error> {
        let missing = |what: &str| {
            Error::Credentials(format!(
                "{where_} has credential_source = {kind}, but {what}"
            ))
        };
        match kind {
            "Environment" => from_env(self.env)?
                .map(|c| Box::new(FixedKeys(c)) as Box<dyn Provider>)
                .ok_or_else(|| missing("AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are not set")),
            "Ec2InstanceMetadata" => imds::Imds::from_env(self.env)?
                .map(|s| Box::new(s) as Box<dyn Provider>)
                .ok_or_else(|| missing("AWS_EC2_METADATA_DISABLED is set")),
            "EcsContainer" => container::Container::from_env(self.env)?
                .map(|s| Box::new(s.with_ca_bundle(self.net.ca_bundle.clone())) as Box<dyn Provider>)
                .ok_or_else(|| missing("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI/FULL_URI are not set")),
            _ => Err(Error::Credentials(format!(
                "{where_} has credential_source = {kind}: use Environment, Ec2InstanceMetadata or EcsContainer"
            ))),
        }
    }
}

fn from_settings(
    settings: &BTreeMap<String, String>,
    where_: &str,
) -> Result<Option<Credentials>, Error> {
    let nonempty = |k: &str| settings.get(k).filter(|v| !v.is_empty());
    match (
        nonempty("aws_access_key_id"),
        nonempty("aws_secret_access_key"),
    ) {
        (None, None) => Ok(None),
        (Some(_), None) | (None, Some(_)) => Err(Error::Credentials(format!(
            "{where_} has only one of aws_access_key_id and aws_secret_access_key: add the other"
        ))),
        (Some(id), Some(secret)) => Ok(Some(Credentials {
            access_key_id: id.clone(),
            secret_access_key: Secret::new(secret.clone()),
            session_token: nonempty("aws_session_token").map(|t| Secret::new(t.clone())),
            source: where_.to_string(),
            expires: None,
        })),
    }
}

fn read_ini(path: Option<&std::path::Path>) -> Result<IniFile, Error> {
    let Some(path) = path else {
        return Ok(IniFile::default());
    };
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(IniFile::parse(&text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(IniFile::default()),
        Err(e) => Err(Error::Credentials(format!(
            "cannot read {}: {e}; fix its permissions or point AWS_CONFIG_FILE/AWS_SHARED_CREDENTIALS_FILE elsewhere",
            path.display()
        ))),
    }
}

fn show(path: Option<&PathBuf>) -> String {
    path.map_or_else(
        || "(no HOME, no file)".to_string(),
        |p| p.display().to_string(),
    )
}

/// The most a token file may hold (web identity, container authorization): real ones are
/// a few KiB; more means the wrong file (or a pipe that never ends).
pub const MAX_TOKEN_FILE: u64 = 64 * 1024;

/// A token file's text, read no further than [`MAX_TOKEN_FILE`].
pub fn read_token_file(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(MAX_TOKEN_FILE + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > MAX_TOKEN_FILE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("over {MAX_TOKEN_FILE} bytes: not a token"),
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The metadata service is off: unit tests never reach for the network.
    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(
            pairs
                .iter()
                .chain(&[("AWS_EC2_METADATA_DISABLED", "true")])
                .map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    fn net() -> FetchSettings {
        FetchSettings {
            region: "us-east-1".into(),
            sts_endpoint: None,
            ca_bundle: None,
            connect_timeout: Duration::from_secs(1),
            io_timeout: Duration::from_secs(1),
            sts_proxy: Ok(ProxyRoute::default()),
        }
    }

    fn resolve(
        env: &Env,
        files: &SharedFiles,
        profile: &str,
        cli: bool,
    ) -> Result<Credentials, Error> {
        super::resolve(env, files, profile, cli, &net()).map(|s| s.last())
    }

    fn files(credentials: &str, config: &str) -> SharedFiles {
        SharedFiles {
            credentials_path: Some("/h/.aws/credentials".into()),
            credentials: IniFile::parse(credentials),
            config_path: Some("/h/.aws/config".into()),
            config: IniFile::parse(config),
        }
    }

    #[test]
    fn environment_comes_first_unless_profile_named_on_cli() {
        let e = env(&[
            ("AWS_ACCESS_KEY_ID", "ENVKEY"),
            ("AWS_SECRET_ACCESS_KEY", "envsecret"),
            ("AWS_SESSION_TOKEN", "tok"),
        ]);
        let f = files(
            "[default]\naws_access_key_id=FILEKEY\naws_secret_access_key=s\n",
            "",
        );
        let c = resolve(&e, &f, "default", false).unwrap();
        assert_eq!(c.access_key_id, "ENVKEY");
        assert_eq!(c.session_token.unwrap().expose(), "tok");
        let c = resolve(&e, &f, "default", true).unwrap();
        assert_eq!(c.access_key_id, "FILEKEY");
    }

    #[test]
    fn credentials_file_then_config_file() {
        let f = files(
            "[other]\naws_access_key_id=A\naws_secret_access_key=B\n",
            "[profile cfg]\naws_access_key_id=C\naws_secret_access_key=D\naws_session_token=T\n",
        );
        let c = resolve(&env(&[]), &f, "cfg", true).unwrap();
        assert_eq!(c.access_key_id, "C");
        assert_eq!(c.secret_access_key.expose(), "D");
        assert!(c.source.contains("/h/.aws/config"));
        assert_eq!(
            resolve(&env(&[]), &f, "other", false)
                .unwrap()
                .access_key_id,
            "A"
        );
    }

    #[test]
    fn nothing_found_says_where_it_looked_and_never_the_secret() {
        let err = resolve(&env(&[]), &files("", ""), "default", false).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("AWS_ACCESS_KEY_ID"), "{text}");
        assert!(text.contains("/h/.aws/credentials"), "{text}");
        assert_eq!(err.exit_code(), 4);
        let err = resolve(&env(&[]), &files("", ""), "nope", true).unwrap_err();
        assert!(err.to_string().contains("profile 'nope' not found"));
    }

    #[test]
    fn half_a_key_pair_is_an_error() {
        let err = resolve(
            &env(&[("AWS_ACCESS_KEY_ID", "A")]),
            &files("", ""),
            "default",
            false,
        )
        .unwrap_err();
        assert!(err.to_string().contains("only one of"));
    }

    #[test]
    fn profile_order_role_keys_process() {
        let f = files(
            "[both]\naws_access_key_id=K\naws_secret_access_key=S\n",
            "[profile both]\ncredential_process = false\n\
             [profile proc]\ncredential_process = printf '{\"Version\":1,\"AccessKeyId\":\"P\",\"SecretAccessKey\":\"Q\"}'\n\
             [profile cfgkeys]\naws_access_key_id=C\naws_secret_access_key=D\ncredential_process = printf '{\"Version\":1,\"AccessKeyId\":\"P2\",\"SecretAccessKey\":\"Q\"}'\n",
        );
        assert_eq!(
            resolve(&env(&[]), &f, "both", true).unwrap().access_key_id,
            "K"
        );
        let p = resolve(&env(&[]), &f, "proc", true).unwrap();
        assert_eq!(p.access_key_id, "P");
        assert!(
            p.source.contains("credential_process of profile 'proc'"),
            "{}",
            p.source
        );
        assert_eq!(
            resolve(&env(&[]), &f, "cfgkeys", true)
                .unwrap()
                .access_key_id,
            "P2"
        );
    }

    #[test]
    fn role_settings_are_checked_before_any_call() {
        let cases = [
            ("[profile r]\nrole_arn=arn:aws:iam::1:role/x\n", "neither source_profile nor credential_source"),
            ("[profile r]\nrole_arn=arn\nsource_profile=s\ncredential_source=Environment\n", "both"),
            ("[profile r]\nrole_arn=arn\nsource_profile=r\n", "names itself"),
            ("[profile r]\nrole_arn=arn\nsource_profile=a\n[profile a]\nrole_arn=arn2\nsource_profile=r\n", "loops back"),
            ("[profile r]\nrole_arn=arn\nsource_profile=missing\n", "source_profile 'missing'"),
            ("[profile r]\nrole_arn=arn\ncredential_source=Ec2InstanceMetadata\n", "AWS_EC2_METADATA_DISABLED"),
            ("[profile r]\nrole_arn=arn\ncredential_source=Environment\n", "AWS_ACCESS_KEY_ID"),
            ("[profile r]\nrole_arn=arn\ncredential_source=Moon\n", "Ec2InstanceMetadata or EcsContainer"),
            ("[profile r]\nrole_arn=arn\nsource_profile=s\nmfa_serial=x\n[profile s]\naws_access_key_id=a\naws_secret_access_key=b\n", "MFA"),
            ("[profile r]\nrole_arn=arn\nsource_profile=s\nduration_seconds=5\n[profile s]\naws_access_key_id=a\naws_secret_access_key=b\n", "900 to 43200"),
        ];
        for (config, says) in cases {
            let err = resolve(&env(&[]), &files("", config), "r", true).unwrap_err();
            assert!(err.to_string().contains(says), "{config}: {err}");
            assert_eq!(err.exit_code(), 4);
        }
    }

    #[test]
    fn web_identity_needs_a_role() {
        let err = resolve(
            &env(&[("AWS_WEB_IDENTITY_TOKEN_FILE", "/t")]),
            &files("", ""),
            "default",
            false,
        )
        .unwrap_err();
        assert!(err.to_string().contains("AWS_ROLE_ARN"));
    }

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
