//! AWS STS: AssumeRoleWithWebIdentity (unsigned; the EKS service-account case) and
//! AssumeRole (SigV4-signed with the source credentials, service `sts`), as form POSTs to
//! `https://sts.REGION.amazonaws.com/` (STS API reference, "AssumeRole",
//! "AssumeRoleWithWebIdentity"). The answer's `<Credentials>` are read with the XML field
//! reader.

use super::{Credentials, FetchSettings, Provider};
use crate::config::fetch::{self, Limits, Target};
use crate::config::{Env, ProxyRoute};
use crate::error::Error;
use crate::http::xml;
use crate::secret::Secret;
use crate::sign::time::Timestamp;
use crate::sign::{uri, v4};
use crate::transport::Response;
use std::path::PathBuf;

const API_VERSION: &str = "2011-06-15";
const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// Where STS calls go, and how.
#[derive(Debug, Clone)]
struct Sts {
    target: Target,
    region: String,
    limits: Limits,
    ca_bundle: Option<PathBuf>,
    /// The proxy a store request to this scheme would take, NO_PROXY applied per call.
    proxy: ProxyRoute,
}

impl Sts {
    fn new(net: &FetchSettings) -> Result<Sts, Error> {
        let url = net.sts_endpoint.clone().unwrap_or_else(|| {
            // The China regions live under their own domain (AWS China docs, "Endpoints").
            let domain = if net.region.starts_with("cn-") {
                "amazonaws.com.cn"
            } else {
                "amazonaws.com"
            };
            format!("https://sts.{}.{domain}", net.region)
        });
        let target = Target::parse(&url).ok_or_else(|| {
            Error::Credentials(format!(
                "the STS endpoint '{url}' is not a URL: fix AWS_ENDPOINT_URL_STS (http[s]://HOST[:PORT])"
            ))
        })?;
        Ok(Sts {
            target,
            region: net.region.clone(),
            limits: Limits {
                connect: net.connect_timeout,
                io: net.io_timeout,
            },
            ca_bundle: net.ca_bundle.clone(),
            proxy: net.sts_proxy.clone()?,
        })
    }

    /// POSTs the form `params` (with Action and Version); signs it when `signer` is
    /// given; returns the `<Credentials>` of the answer.
    fn call(
        &self,
        action: &str,
        params: &[(&str, &str)],
        signer: Option<&Credentials>,
        role_arn: &str,
        secrets: &[&str],
    ) -> Result<Credentials, Error> {
        let mut pairs = vec![("Action", action), ("Version", API_VERSION)];
        pairs.extend_from_slice(params);
        // The form may carry the web identity token: held as a secret (zeroed when dropped).
        let body = Secret::new(
            pairs
                .iter()
                .map(|(k, v)| format!("{}={}", uri::encode_component(k), uri::encode_component(v)))
                .collect::<Vec<_>>()
                .join("&"),
        );
        let body = body.expose();
        let mut headers = vec![("content-type".to_string(), FORM.to_string())];
        if let Some(source) = signer {
            headers.extend(sign(
                &self.target,
                &self.region,
                source,
                body.as_bytes(),
                Timestamp::now(),
            ));
        }
        let url = self.target.url();
        let response = fetch::call(
            &self.target,
            "POST",
            &headers,
            body.as_bytes(),
            self.limits,
            self.ca_bundle.as_deref(),
            self.proxy
                .for_host(&self.target.endpoint.host, self.target.endpoint.port),
        )
        .map_err(|e| {
            let e = e.into_error();
            let why = fetch::redact(&e.to_string(), secrets);
            Error::Credentials(format!(
                "STS {action} for {role_arn} failed at {url}: {why}"
            ))
        })?;
        parse_answer(&response, action, role_arn, secrets)
    }
}

/// AssumeRoleWithWebIdentity with the token in a file (re-read at every call: EKS
/// rotates it).
#[derive(Debug, Clone)]
pub struct WebIdentity {
    sts: Sts,
    role_arn: String,
    session_name: String,
    token_file: PathBuf,
}

impl WebIdentity {
    /// From `AWS_WEB_IDENTITY_TOKEN_FILE`, `AWS_ROLE_ARN` and `AWS_ROLE_SESSION_NAME`;
    /// None when the token file is not set.
    pub fn from_env(env: &Env, net: &FetchSettings) -> Result<Option<WebIdentity>, Error> {
        let Some(file) = env.get("AWS_WEB_IDENTITY_TOKEN_FILE") else {
            return Ok(None);
        };
        let Some(role_arn) = env.get("AWS_ROLE_ARN") else {
            return Err(Error::Credentials(
                "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not: set the role to assume".into(),
            ));
        };
        WebIdentity::new(
            role_arn.to_string(),
            env.get("AWS_ROLE_SESSION_NAME").map(str::to_string),
            PathBuf::from(file),
            net,
        )
        .map(Some)
    }

    pub fn new(
        role_arn: String,
        session_name: Option<String>,
        token_file: PathBuf,
        net: &FetchSettings,
    ) -> Result<WebIdentity, Error> {
        Ok(WebIdentity {
            sts: Sts::new(net)?,
            role_arn,
            session_name: session_name.unwrap_or_else(default_session_name),
            token_file,
        })
    }
}

impl Provider for WebIdentity {
    fn fetch(&self) -> Result<Credentials, Error> {
        let text = super::read_token_file(&self.token_file).map_err(|e| {
            Error::Credentials(format!(
                "cannot read the web identity token file {}: {e}; check AWS_WEB_IDENTITY_TOKEN_FILE and the mount",
                self.token_file.display()
            ))
        })?;
        let token = Secret::new(text.trim().to_string());
        if token.expose().is_empty() {
            return Err(Error::Credentials(format!(
                "the web identity token file {} is empty",
                self.token_file.display()
            )));
        }
        let mut creds = self.sts.call(
            "AssumeRoleWithWebIdentity",
            &[
                ("RoleArn", &self.role_arn),
                ("RoleSessionName", &self.session_name),
                ("WebIdentityToken", token.expose()),
            ],
            None,
            &self.role_arn,
            &[token.expose()],
        )?;
        creds.source = format!("web identity ({})", self.role_arn);
        Ok(creds)
    }
}

/// AssumeRole, signed with the credentials of another source (a profile's keys, the
/// environment, a metadata service, or another assumed role).
#[derive(Debug)]
pub struct AssumeRole {
    sts: Sts,
    role_arn: String,
    session_name: String,
    external_id: Option<String>,
    duration_seconds: Option<String>,
    source: Box<dyn Provider>,
}

impl AssumeRole {
    pub fn new(
        role_arn: String,
        session_name: Option<String>,
        external_id: Option<String>,
        duration_seconds: Option<String>,
        source: Box<dyn Provider>,
        net: &FetchSettings,
    ) -> Result<AssumeRole, Error> {
        if let Some(d) = &duration_seconds {
            if !d.parse::<u32>().is_ok_and(|n| (900..=43_200).contains(&n)) {
                return Err(Error::Credentials(format!(
                    "duration_seconds = {d} for role {role_arn}: give 900 to 43200 seconds"
                )));
            }
        }
        Ok(AssumeRole {
            sts: Sts::new(net)?,
            role_arn,
            session_name: session_name.unwrap_or_else(default_session_name),
            external_id,
            duration_seconds,
            source,
        })
    }
}

impl Provider for AssumeRole {
    fn fetch(&self) -> Result<Credentials, Error> {
        let source = self.source.fetch()?;
        let mut params = vec![
            ("RoleArn", self.role_arn.as_str()),
            ("RoleSessionName", self.session_name.as_str()),
        ];
        if let Some(id) = &self.external_id {
            params.push(("ExternalId", id));
        }
        if let Some(d) = &self.duration_seconds {
            params.push(("DurationSeconds", d));
        }
        let mut secrets = vec![source.secret_access_key.expose()];
        if let Some(t) = &source.session_token {
            secrets.push(t.expose());
        }
        let mut creds = self.sts.call(
            "AssumeRole",
            &params,
            Some(&source),
            &self.role_arn,
            &secrets,
        )?;
        creds.source = format!("role {} assumed with {}", self.role_arn, source.source);
        Ok(creds)
    }
}

/// The SigV4 headers of a POST of `body` to STS: x-amz-date, the session token when
/// the source has one, Authorization (content-type, host and those signed).
pub fn sign(
    target: &Target,
    region: &str,
    source: &Credentials,
    body: &[u8],
    time: Timestamp,
) -> Vec<(String, String)> {
    let mut signed = vec![
        ("content-type".to_string(), FORM.to_string()),
        (
            "host".to_string(),
            target.endpoint.authority(&target.endpoint.host),
        ),
        ("x-amz-date".to_string(), time.amz_date()),
    ];
    if let Some(token) = &source.session_token {
        signed.push((
            "x-amz-security-token".to_string(),
            token.expose().to_string(),
        ));
    }
    let payload_hash = v4::hex_sha256(body);
    let (path, query) = target
        .path
        .split_once('?')
        .unwrap_or((target.path.as_str(), ""));
    let query: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_string(), v.to_string())
        })
        .collect();
    let request = v4::V4Request {
        method: "POST",
        canonical_uri: path,
        query: &query,
        headers: &signed,
        payload_hash: &payload_hash,
    };
    let signature = v4::sign(
        &request,
        &source.access_key_id,
        source.secret_access_key.expose(),
        region,
        "sts",
        time,
    );
    // content-type and host are sent by the caller already.
    let mut out: Vec<(String, String)> = signed
        .into_iter()
        .filter(|(n, _)| n != "content-type" && n != "host")
        .collect();
    out.push(("authorization".to_string(), signature.authorization));
    out
}

/// The credentials of an STS answer, or the error it carries.
fn parse_answer(
    response: &Response,
    action: &str,
    role_arn: &str,
    secrets: &[&str],
) -> Result<Credentials, Error> {
    let doc = String::from_utf8_lossy(&response.body);
    if response.head.status != 200 {
        // <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>
        let code = xml::field(&doc, "Code").unwrap_or_default();
        let message = xml::field(&doc, "Message").unwrap_or_default();
        let said = fetch::redact(&fetch::one_line(&format!("{code} {message}"), 200), secrets);
        return Err(Error::Credentials(format!(
            "STS refused {action} for {role_arn}: {} {}; check the role's trust policy and the source credentials",
            response.head.status_line(),
            said.trim()
        )));
    }
    parse_credentials(&doc, action).ok_or_else(|| {
        Error::Credentials(format!(
            "STS answered {action} for {role_arn} without readable credentials: is the STS endpoint right?"
        ))
    })
}

/// `<Credentials><AccessKeyId/><SecretAccessKey/><SessionToken/><Expiration/></Credentials>`
/// of an AssumeRoleResult or AssumeRoleWithWebIdentityResult.
pub fn parse_credentials(doc: &str, action: &str) -> Option<Credentials> {
    let result = xml::elements(doc, &format!("{action}Result"));
    let creds = xml::elements(result.first()?, "Credentials");
    let creds = creds.first()?;
    let get = |name: &str| xml::field(creds, name).filter(|v| !v.is_empty());
    Some(Credentials {
        access_key_id: get("AccessKeyId")?,
        secret_access_key: Secret::new(get("SecretAccessKey")?),
        session_token: Some(Secret::new(get("SessionToken")?)),
        source: String::new(),
        expires: Some(Timestamp::parse_iso8601(&get("Expiration")?)?),
    })
}

/// `s3push-<unix seconds>`, as the SDKs make one when none is configured.
fn default_session_name() -> String {
    format!("s3push-{}", Timestamp::now().unix())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assume_role_answer() {
        // STS API reference, AssumeRole, "Example" response (shortened token).
        let doc = r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
  <SourceIdentity>Alice</SourceIdentity>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/demo/TestAR</Arn>
      <AssumedRoleId>ARO123EXAMPLE123:TestAR</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
      <SessionToken>AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22</SessionToken>
      <Expiration>2019-11-09T13:34:41Z</Expiration>
    </Credentials>
    <PackedPolicySize>6</PackedPolicySize>
  </AssumeRoleResult>
  <ResponseMetadata>
    <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>
  </ResponseMetadata>
</AssumeRoleResponse>"#;
        let c = parse_credentials(doc, "AssumeRole").unwrap();
        assert_eq!(c.access_key_id, "ASIAIOSFODNN7EXAMPLE");
        assert_eq!(
            c.session_token.unwrap().expose(),
            "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22"
        );
        assert_eq!(c.expires, Timestamp::parse_iso8601("2019-11-09T13:34:41Z"));
        assert!(parse_credentials(doc, "AssumeRoleWithWebIdentity").is_none());
        let no_token = doc
            .replace("<SessionToken>", "<X>")
            .replace("</SessionToken>", "</X>");
        assert!(parse_credentials(&no_token, "AssumeRole").is_none());
    }

    #[test]
    fn signed_request_verifies_with_the_signer() {
        let target = Target::parse("https://sts.eu-west-1.amazonaws.com/").unwrap();
        let source = Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into()),
            session_token: Some(Secret::new("tok".into())),
            source: "test".into(),
            expires: None,
        };
        let time = Timestamp::from_unix(1_440_938_160);
        let body = b"Action=AssumeRole&Version=2011-06-15";
        let headers = sign(&target, "eu-west-1", &source, body, time);
        let auth = &headers
            .iter()
            .find(|(n, _)| n == "authorization")
            .unwrap()
            .1;
        assert!(auth.starts_with(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/eu-west-1/sts/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature="
        ));
        let canonical = v4::canonical_request(&v4::V4Request {
            method: "POST",
            canonical_uri: "/",
            query: &[],
            headers: &[
                ("content-type".into(), FORM.into()),
                ("host".into(), "sts.eu-west-1.amazonaws.com".into()),
                ("x-amz-date".into(), "20150830T123600Z".into()),
                ("x-amz-security-token".into(), "tok".into()),
            ],
            payload_hash: &v4::hex_sha256(body),
        })
        .0;
        let scope = v4::credential_scope(time, "eu-west-1", "sts");
        let key = v4::signing_key(
            source.secret_access_key.expose(),
            "20150830",
            "eu-west-1",
            "sts",
        );
        let expected = v4::hex(&v4::hmac_sha256(
            &key,
            v4::string_to_sign(time, &scope, &canonical).as_bytes(),
        ));
        assert!(auth.ends_with(&format!("Signature={expected}")), "{auth}");
    }
}
