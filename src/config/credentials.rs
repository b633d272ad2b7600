//! The credential chain: environment keys, then the shared credentials and config files.

use super::profile::IniFile;
use super::Env;
use crate::secret::Secret;
use crate::Error;
use std::path::PathBuf;

/// Keys to sign with, and where they came from (shown in messages; never the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
    pub source: String,
}

impl Credentials {
    /// No keys: for requests that are not signed (`--no-sign-request`, a presigned URL).
    pub fn anonymous() -> Credentials {
        Credentials {
            access_key_id: String::new(),
            secret_access_key: Secret::new(String::new()),
            session_token: None,
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

/// Finds credentials in the order the AWS CLI uses: the environment (unless a profile
/// was named on the command line), then the profile in the credentials file, then the
/// profile in the config file.
pub fn resolve(
    env: &Env,
    files: &SharedFiles,
    profile: &str,
    profile_from_cli: bool,
) -> Result<Credentials, Error> {
    if !profile_from_cli {
        if let Some(creds) = from_env(env)? {
            return Ok(creds);
        }
    }
    let in_credentials = files.credentials.section(profile);
    let in_config = files.config.config_profile(profile);
    for (settings, path) in [
        (in_credentials, &files.credentials_path),
        (in_config, &files.config_path),
    ] {
        let Some(settings) = settings else { continue };
        let where_ = format!("profile '{profile}' in {}", show(path.as_ref()));
        if let Some(creds) = from_settings(settings, &where_)? {
            return Ok(creds);
        }
    }
    if profile_from_cli && in_credentials.is_none() && in_config.is_none() {
        return Err(Error::Credentials(format!(
            "profile '{profile}' not found in {} or {}: check the name given to --profile",
            show(files.credentials_path.as_ref()),
            show(files.config_path.as_ref()),
        )));
    }
    Err(Error::Credentials(format!(
        "no credentials found: looked in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY{}, profile '{profile}' in {} and {}; \
         set those variables or add the keys to that profile",
        if profile_from_cli { " (skipped: --profile given)" } else { "" },
        show(files.credentials_path.as_ref()),
        show(files.config_path.as_ref()),
    )))
}

fn from_env(env: &Env) -> Result<Option<Credentials>, Error> {
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
        })),
    }
}

fn from_settings(
    settings: &std::collections::BTreeMap<String, String>,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
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
}
