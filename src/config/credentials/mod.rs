//! The credential chain, in the order the AWS SDKs use (doc/credentials.md): keys in
//! the environment, web identity (EKS), the profile (assumed roles, IAM Identity Center,
//! static keys, credential_process), container credentials (ECS/EKS), the EC2 instance metadata
//! service. Temporary credentials are held by a [`CredentialSource`] that asks its
//! provider again before they expire.

mod container;
mod imds;
mod process;
mod profile;
mod source;
mod sso;
mod sts;

pub use source::{
    CredentialSource, Credentials, FixedKeys, Provider, EXPIRED_MARGIN_SECS, REFRESH_WINDOW_SECS,
};

use crate::config::profile::IniFile;
use crate::config::{Env, ProxyRoute};
use crate::error::Error;
use crate::secret::Secret;
use std::path::PathBuf;
use std::time::Duration;

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
    /// The SSO portal's URL when AWS_ENDPOINT_URL_SSO sets one.
    pub sso_endpoint: Option<String>,
    /// The proxy for the SSO portal, as for STS.
    pub sso_proxy: Result<ProxyRoute, Error>,
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
///    `web_identity_token_file`), IAM Identity Center (`sso_session` or `sso_start_url`),
///    keys in the credentials file, `credential_process`, keys in the config file;
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
    let profiles = profile::Profiles { env, files, net };
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
         set those variables or add keys, a role, IAM Identity Center (aws configure sso) or a credential_process to that profile",
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

/// The most a token file may hold (web identity, container authorization, the SSO token
/// cache): real ones are a few KiB; more means the wrong file (or a pipe that never ends).
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
            sso_endpoint: None,
            sso_proxy: Ok(ProxyRoute::default()),
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
    fn sso_settings_come_before_keys_and_are_checked_before_any_call() {
        let sso = "[profile p]\nsso_session = corp\nsso_account_id = 1\nsso_role_name = r\n";
        // SSO before the keys of the credentials file (the AWS CLI's order); without
        // HOME there is no token cache, and the message says how to log in.
        let err = resolve(
            &env(&[]),
            &files(
                "[p]\naws_access_key_id = AK\naws_secret_access_key = SK\n",
                sso,
            ),
            "p",
            true,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("no [sso-session corp] section"),
            "{err}"
        );
        let with_session = format!(
            "{sso}[sso-session corp]\nsso_start_url = https://d-1.awsapps.com/start\nsso_region = eu-west-1\n"
        );
        let err = resolve(&env(&[]), &files("", &with_session), "p", true).unwrap_err();
        assert_eq!(err.exit_code(), 4);
        assert!(
            err.to_string().contains("HOME is not set")
                && err.to_string().contains("aws sso login --profile p"),
            "{err}"
        );
        let legacy = "[profile p]\nsso_start_url = https://d-1.awsapps.com/start\nsso_account_id = 1\nsso_role_name = r\n";
        let err = resolve(&env(&[]), &files("", legacy), "p", true).unwrap_err();
        assert!(err.to_string().contains("no sso_region"), "{err}");
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
}
