//! A profile of the shared files resolved to a provider: an assumed role (and what
//! assumes it), keys, or a credential_process (doc/credentials.md, step 3).

use super::{container, imds, process, show, sso, sts, FetchSettings, SharedFiles};
use super::{from_env, Credentials, FixedKeys, Provider};
use crate::config::Env;
use crate::error::Error;
use crate::secret::Secret;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The profiles of the shared files, resolved to a provider.
pub(super) struct Profiles<'a> {
    pub(super) env: &'a Env,
    pub(super) files: &'a SharedFiles,
    pub(super) net: &'a FetchSettings,
}

impl Profiles<'_> {
    /// The provider of profile `name`, or None when it holds no credentials. `chain`
    /// holds the profiles whose role is being assumed (source_profile), to stop loops.
    pub(super) fn provider(
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
        // IAM Identity Center comes next, as in the AWS CLI's chain (before keys).
        if let Some(sso) = sso::Sso::from_profile(name, &get, self.files, self.env, self.net)? {
            return Ok(Some(Box::new(sso)));
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
