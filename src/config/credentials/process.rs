//! `credential_process`: a command in the profile whose standard output is a JSON
//! document of credentials (AWS CLI user guide, "Sourcing credentials with an external
//! process"): `{"Version": 1, "AccessKeyId", "SecretAccessKey", "SessionToken",
//! "Expiration"}`.

use super::{Credentials, Provider};
use crate::config::json::{Object, Value};
use crate::error::Error;
use crate::secret::Secret;
use crate::sign::time::Timestamp;
use std::io::Read;
use std::process::{Command, Stdio};

/// More output than this is not a credentials document.
const MAX_OUTPUT: u64 = 64 * 1024;

#[derive(Debug, Clone)]
pub struct CredentialProcess {
    command: String,
    /// `profile 'NAME' in PATH`, for messages.
    profile: String,
}

/// How long a credential_process may take (the AWS CLI sets none; a hung one would hang
/// the upload with it).
pub const PROCESS_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

impl CredentialProcess {
    pub fn new(command: String, profile: String) -> CredentialProcess {
        CredentialProcess { command, profile }
    }

    /// Runs the command with `sh -c` (standard input closed, its standard error passed
    /// through) and returns its standard output.
    fn run(&self) -> Result<Secret, Error> {
        let failed = |why: String| {
            Error::Credentials(format!("the credential_process of {} {why}", self.profile))
        };
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(&self.command)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| failed(format!("could not be started ({e}): is sh on PATH?")))?;
        // Read in a thread of its own, so that a process that hangs (waiting on a prompt,
        // a dead network) is killed after PROCESS_WAIT instead of hanging the upload.
        let (tx, rx) = std::sync::mpsc::channel();
        if let Some(out) = child.stdout.take() {
            std::thread::spawn(move || {
                let mut output = Vec::new();
                let read = out.take(MAX_OUTPUT + 1).read_to_end(&mut output);
                let _ = tx.send((read, output));
            });
        } else {
            let _ = tx.send((Ok(0), Vec::new()));
        }
        let (read, output) = match rx.recv_timeout(PROCESS_WAIT) {
            Ok(done) => done,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(failed(format!(
                    "did not finish within {} s and was stopped: run it in a shell to see why",
                    PROCESS_WAIT.as_secs()
                )));
            }
        };
        let status = child
            .wait()
            .map_err(|e| failed(format!("could not be waited for ({e})")))?;
        let output = Secret::new(String::from_utf8_lossy(&output).into_owned());
        if !status.success() {
            return Err(failed(format!(
                "failed ({status}): run it in a shell to see why"
            )));
        }
        match read {
            Ok(n) if n as u64 > MAX_OUTPUT => Err(failed(format!(
                "printed over {MAX_OUTPUT} bytes: it must print one JSON credentials document"
            ))),
            Ok(_) => Ok(output),
            Err(e) => Err(failed(format!("could not be read from ({e})"))),
        }
    }
}

impl Provider for CredentialProcess {
    fn fetch(&self) -> Result<Credentials, Error> {
        let output = self.run()?;
        parse_output(
            output.expose(),
            &format!("credential_process of {}", self.profile),
        )
    }
}

/// The credentials in a credential_process document. Messages name what is wrong,
/// never a value from the document.
pub fn parse_output(doc: &str, source: &str) -> Result<Credentials, Error> {
    let bad = |what: &str| {
        Error::Credentials(format!(
            "the {source} printed {what}; it must print {{\"Version\": 1, \"AccessKeyId\": ..., \"SecretAccessKey\": ...}}"
        ))
    };
    let o = Object::parse(doc).ok_or_else(|| bad("something that is not a JSON object"))?;
    match o.get("Version") {
        Some(Value::Number(n)) if n == "1" => {}
        Some(_) => return Err(bad("a Version other than 1")),
        None => return Err(bad("no Version")),
    }
    let field = |name: &str| -> Result<Option<&str>, Error> {
        match o.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(bad(&format!("a {name} that is not a string"))),
        }
    };
    let id = field("AccessKeyId")?.ok_or_else(|| bad("no AccessKeyId"))?;
    let secret = field("SecretAccessKey")?.ok_or_else(|| bad("no SecretAccessKey"))?;
    let expires = match field("Expiration")? {
        Some(text) => Some(
            Timestamp::parse_iso8601(text)
                .ok_or_else(|| bad("an Expiration that is not an ISO 8601 time"))?,
        ),
        None => None,
    };
    Ok(Credentials {
        access_key_id: id.to_string(),
        secret_access_key: Secret::new(secret.to_string()),
        session_token: field("SessionToken")?.map(|t| Secret::new(t.to_string())),
        source: source.to_string(),
        expires,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents() {
        let c = parse_output(
            r#"{"Version": 1, "AccessKeyId": "AK", "SecretAccessKey": "SK",
                "SessionToken": "ST", "Expiration": "2030-01-01T00:00:00Z"}"#,
            "p",
        )
        .unwrap();
        assert_eq!(c.access_key_id, "AK");
        assert_eq!(c.secret_access_key.expose(), "SK");
        assert_eq!(c.session_token.unwrap().expose(), "ST");
        assert_eq!(c.expires, Timestamp::parse_iso8601("2030-01-01T00:00:00Z"));
        let c = parse_output(
            r#"{"Version":1,"AccessKeyId":"AK","SecretAccessKey":"SK"}"#,
            "p",
        )
        .unwrap();
        assert!(c.session_token.is_none() && c.expires.is_none());
        for (bad, says) in [
            (
                r#"{"AccessKeyId":"AK","SecretAccessKey":"hunter22"}"#,
                "no Version",
            ),
            (
                r#"{"Version":2,"AccessKeyId":"AK","SecretAccessKey":"hunter22"}"#,
                "other than 1",
            ),
            (
                r#"{"Version":"1","AccessKeyId":"AK","SecretAccessKey":"hunter22"}"#,
                "other than 1",
            ),
            (
                r#"{"Version":1,"SecretAccessKey":"hunter22"}"#,
                "no AccessKeyId",
            ),
            (
                r#"{"Version":1,"AccessKeyId":"AK","SecretAccessKey":7}"#,
                "not a string",
            ),
            (
                r#"{"Version":1,"AccessKeyId":"AK","SecretAccessKey":"hunter22","Expiration":"x"}"#,
                "ISO 8601",
            ),
            ("hunter22", "not a JSON object"),
        ] {
            let text = parse_output(bad, "p").unwrap_err().to_string();
            assert!(text.contains(says), "{bad}: {text}");
            assert!(!text.contains("hunter22"), "{text}");
        }
    }

    #[test]
    fn runs_the_command() {
        let ok = CredentialProcess::new(
            r#"printf '{"Version":1,"AccessKeyId":"%s","SecretAccessKey":"S"}' "A K""#.into(),
            "profile 'p'".into(),
        );
        assert_eq!(ok.fetch().unwrap().access_key_id, "A K");
        let failing =
            CredentialProcess::new("echo secret-out; exit 3".into(), "profile 'p'".into());
        let text = failing.fetch().unwrap_err().to_string();
        assert!(text.contains("profile 'p'") && text.contains('3'), "{text}");
        assert!(!text.contains("secret-out"), "{text}");
    }
}
