//! The one error type: each variant is a failure as the user sees it, with its exit code
//! and a one-line message that names the fix.

use std::fmt;

/// Exit codes, documented in the README ("Exit codes"). A batch of several files exits
/// with the code of its first failed file, INTERRUPTED when a signal stopped it, OK when
/// every file was stored (`crate::batch::Summary::exit_code`).
pub mod exit {
    pub const OK: u8 = 0;
    pub const USAGE: u8 = 2;
    pub const LOCAL_FILE: u8 = 3;
    pub const CREDENTIALS: u8 = 4;
    pub const NETWORK: u8 = 5;
    pub const TLS: u8 = 6;
    pub const REFUSED: u8 = 7;
    pub const PROTOCOL: u8 = 8;
    pub const INTEGRITY: u8 = 9;
    pub const KEPT: u8 = 10;
    /// A conditional write was refused (412): `--no-clobber` found the key taken, or
    /// `--if-match` found another ETag. Nothing was written.
    pub const PRECONDITION: u8 = 11;
    pub const INTERRUPTED: u8 = 130;
}

/// What went wrong, for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Bad arguments, destination, header values: fixed by changing the command line.
    Usage(String),
    /// The source file: missing, a directory, unreadable, changed while being sent.
    LocalFile(String),
    /// No credentials found, or the shared config/credentials files are unusable.
    Credentials(String),
    /// DNS, connect, reset, timeout.
    Network(String),
    /// The TLS handshake or certificate verification failed.
    Tls(String),
    /// The server answered with a non-success status.
    Refused(Box<Refusal>),
    /// The server's response could not be understood (malformed, truncated, too large).
    Protocol(String),
    /// The server's answer and what we sent disagree.
    Integrity(String),
    /// Stopped by a signal.
    Interrupted(String),
    /// A multipart upload did not finish and was kept on the server, to be resumed.
    Kept(String),
    /// `--no-clobber` or `--if-match` did not hold (412): the object was left as it was.
    Precondition(String),
    /// `--dry-run`: the first request was shown and not sent; the run stops (exit 0).
    DryRun(String),
}

/// A non-success HTTP answer, reduced to what a user needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The raw status line, e.g. `HTTP/1.1 403 Forbidden`.
    pub status_line: String,
    pub status: u16,
    /// S3 error code, e.g. `SignatureDoesNotMatch`, when the body carried one.
    pub code: Option<String>,
    pub message: Option<String>,
    pub request_id: Option<String>,
    /// What the user can do about it.
    pub hint: Option<String>,
    /// The server's `Date` header, for clock-skew correction.
    pub server_date: Option<String>,
    /// The bucket's region when the answer names it (x-amz-bucket-region, `<Region>`).
    pub region: Option<String>,
}

impl Error {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => exit::USAGE,
            Error::LocalFile(_) => exit::LOCAL_FILE,
            Error::Credentials(_) => exit::CREDENTIALS,
            Error::Network(_) => exit::NETWORK,
            Error::Tls(_) => exit::TLS,
            Error::Refused(_) => exit::REFUSED,
            Error::Protocol(_) => exit::PROTOCOL,
            Error::Integrity(_) => exit::INTEGRITY,
            Error::Interrupted(_) => exit::INTERRUPTED,
            Error::Kept(_) => exit::KEPT,
            Error::Precondition(_) => exit::PRECONDITION,
            Error::DryRun(_) => exit::OK,
        }
    }

    /// A short label for the kind, shown before the message.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Usage(_) => "usage",
            Error::LocalFile(_) => "local file",
            Error::Credentials(_) => "credentials",
            Error::Network(_) => "network",
            Error::Tls(_) => "tls",
            Error::Refused(_) => "refused",
            Error::Protocol(_) => "protocol",
            Error::Integrity(_) => "integrity",
            Error::Interrupted(_) => "interrupted",
            Error::Kept(_) => "incomplete",
            Error::Precondition(_) => "not written",
            Error::DryRun(_) => "dry run",
        }
    }

    /// The same error with `note` added at the end of its message (its kind unchanged).
    pub fn with_note(self, note: &str) -> Error {
        let add = |m: String| format!("{m}; {note}");
        match self {
            Error::Usage(m) => Error::Usage(add(m)),
            Error::LocalFile(m) => Error::LocalFile(add(m)),
            Error::Credentials(m) => Error::Credentials(add(m)),
            Error::Network(m) => Error::Network(add(m)),
            Error::Tls(m) => Error::Tls(add(m)),
            Error::Protocol(m) => Error::Protocol(add(m)),
            Error::Integrity(m) => Error::Integrity(add(m)),
            Error::Interrupted(m) => Error::Interrupted(add(m)),
            Error::Kept(m) => Error::Kept(add(m)),
            Error::Precondition(m) => Error::Precondition(add(m)),
            Error::DryRun(m) => Error::DryRun(add(m)),
            Error::Refused(mut r) => {
                r.hint = Some(match r.hint.take() {
                    Some(h) => format!("{h}; {note}"),
                    None => note.to_string(),
                });
                Error::Refused(r)
            }
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(m)
            | Error::LocalFile(m)
            | Error::Credentials(m)
            | Error::Network(m)
            | Error::Tls(m)
            | Error::Protocol(m)
            | Error::Integrity(m)
            | Error::DryRun(m)
            | Error::Interrupted(m)
            | Error::Kept(m)
            | Error::Precondition(m) => f.write_str(m),
            Error::Refused(r) => {
                write!(f, "server answered {}", r.status_line)?;
                if let Some(code) = &r.code {
                    write!(f, ": {code}")?;
                }
                if let Some(message) = &r.message {
                    write!(f, " ({message})")?;
                }
                if let Some(id) = &r.request_id {
                    write!(f, " [request id {id}]")?;
                }
                if let Some(hint) = &r.hint {
                    write!(f, "; {hint}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_is_one_line_with_code_and_hint() {
        let e = Error::Refused(Box::new(Refusal {
            status_line: "HTTP/1.1 404 Not Found".into(),
            status: 404,
            code: Some("NoSuchBucket".into()),
            message: Some("The specified bucket does not exist".into()),
            request_id: Some("R1".into()),
            hint: Some("create the bucket or check its name".into()),
            server_date: None,
            region: None,
        }));
        let text = e.to_string();
        assert!(!text.contains('\n'));
        assert_eq!(
            text,
            "server answered HTTP/1.1 404 Not Found: NoSuchBucket (The specified bucket does not exist) [request id R1]; create the bucket or check its name"
        );
        assert_eq!(e.exit_code(), 7);
    }
}
