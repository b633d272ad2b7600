//! `-v` / `-vv`: what goes on the wire, on stderr. `-v` shows each request head (`> `)
//! and response head (`< `) as it is sent or read; `-vv` adds events (`* `): connects,
//! TLS handshakes, reused connections, bodies sent, retries and their waits. Secrets are
//! masked: the signature and most of the access key id in `Authorization` (and in a
//! presigned query), and the session token.

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

/// 0: quiet on the wire; 1: heads; 2: heads and events. Set once, from the command line.
static LEVEL: AtomicU8 = AtomicU8::new(0);

/// What stands for a hidden secret.
pub const MASK: &str = "****";

pub fn set_level(level: u8) {
    LEVEL.store(level, Ordering::Relaxed);
}

pub fn level() -> u8 {
    LEVEL.load(Ordering::Relaxed)
}

/// A request head as written (`-v`), secrets masked, each line after `> `.
pub fn request_head(head: &[u8]) {
    if level() >= 1 {
        write_lines(&masked_request_head(&String::from_utf8_lossy(head)), "> ");
    }
}

/// A response head as read (`-v`), each line after `< `.
pub fn response_head(head: &[u8]) {
    if level() >= 1 {
        write_lines(&String::from_utf8_lossy(head), "< ");
    }
}

/// An event on the way (`-vv`): `* ` and the text.
pub fn event(args: fmt::Arguments<'_>) {
    if level() >= 2 {
        write_lines(&args.to_string(), "* ");
    }
}

/// Every non-empty line of `text` after `prefix`, in one write so that threads sending
/// parts at once do not mix their lines.
fn write_lines(text: &str, prefix: &str) {
    let mut out = String::with_capacity(text.len() + 64);
    out.push_str(std::str::from_utf8(super::progress::clear_prefix()).unwrap_or_default());
    for line in text.lines().map(|l| l.trim_end_matches('\r')) {
        if line.is_empty() {
            continue;
        }
        out.push_str(prefix);
        // A server's control characters stay off the terminal.
        out.extend(line.chars().map(|c| if c.is_control() { '.' } else { c }));
        out.push('\n');
    }
    let _ = std::io::stderr().lock().write_all(out.as_bytes());
}

/// The head with every secret masked.
pub fn masked_request_head(head: &str) -> String {
    let mut out = String::with_capacity(head.len());
    for (i, line) in head.split("\r\n").enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        if i == 0 {
            out.push_str(&masked_request_line(line));
            continue;
        }
        match line.split_once(':') {
            Some((name, value)) => {
                let value = value.trim();
                out.push_str(name);
                out.push_str(": ");
                if name.eq_ignore_ascii_case("authorization") {
                    out.push_str(&masked_authorization(value));
                } else if name.eq_ignore_ascii_case("x-amz-security-token")
                    || name.eq_ignore_ascii_case("proxy-authorization")
                    || name.eq_ignore_ascii_case("x-amz-server-side-encryption-customer-key")
                {
                    out.push_str(MASK);
                } else {
                    out.push_str(value);
                }
            }
            None => out.push_str(line),
        }
    }
    out
}

/// `PUT /key?X-Amz-Signature=...` with the query's secrets masked.
fn masked_request_line(line: &str) -> String {
    let mut parts = line.splitn(3, ' ');
    let (Some(method), Some(target), rest) = (parts.next(), parts.next(), parts.next()) else {
        return line.to_string();
    };
    let target = match target.split_once('?') {
        None => target.to_string(),
        Some((path, query)) => {
            let pairs: Vec<String> = query
                .split('&')
                .map(|pair| {
                    let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                    let hidden = match name.to_ascii_lowercase().as_str() {
                        "x-amz-signature" | "signature" | "x-amz-security-token" => {
                            MASK.to_string()
                        }
                        "x-amz-credential" | "awsaccesskeyid" => partly(value),
                        _ => return pair.to_string(),
                    };
                    format!("{name}={hidden}")
                })
                .collect();
            format!("{path}?{}", pairs.join("&"))
        }
    };
    match rest {
        Some(rest) => format!("{method} {target} {rest}"),
        None => format!("{method} {target}"),
    }
}

/// SigV4: `AWS4-HMAC-SHA256 Credential=AKIA****/date/region/s3/aws4_request,
/// SignedHeaders=..., Signature=****`; SigV2: `AWS AKIA****:****`; anything else hidden.
pub fn masked_authorization(value: &str) -> String {
    if let Some(fields) = value.strip_prefix("AWS4-HMAC-SHA256 ") {
        let masked: Vec<String> = fields
            .split(',')
            .map(|field| {
                let field = field.trim();
                if let Some(credential) = field.strip_prefix("Credential=") {
                    format!("Credential={}", partly(credential))
                } else if field.starts_with("Signature=") {
                    format!("Signature={MASK}")
                } else {
                    field.to_string()
                }
            })
            .collect();
        return format!("AWS4-HMAC-SHA256 {}", masked.join(", "));
    }
    if let Some((key, _signature)) = value
        .strip_prefix("AWS ")
        .and_then(|rest| rest.rsplit_once(':'))
    {
        return format!("AWS {}:{MASK}", partly(key));
    }
    MASK.to_string()
}

/// An access key id (and what follows its `/` or its URL-encoded `%2F`) with all but its
/// first four characters hidden.
fn partly(credential: &str) -> String {
    let (key, scope) = match (credential.find('/'), credential.find("%2F")) {
        (Some(i), _) | (None, Some(i)) => credential.split_at(i),
        (None, None) => (credential, ""),
    };
    let shown: String = key
        .chars()
        .take(if key.len() >= 12 { 4 } else { 0 })
        .collect();
    format!("{shown}{MASK}{scope}")
}

#[cfg(test)]
mod tests {
    use super::*;

    // The signature of the S3 developer guide's "GET Object" SigV4 example.
    const SIG: &str = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";

    #[test]
    fn a_v4_authorization_keeps_its_shape_and_loses_its_secrets() {
        let value = format!(
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature={SIG}"
        );
        let masked = masked_authorization(&value);
        assert_eq!(
            masked,
            "AWS4-HMAC-SHA256 Credential=AKIA****/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=****"
        );
        assert!(!masked.contains("IOSFODNN7EXAMPLE"));
    }

    #[test]
    fn v2_and_unknown_schemes_are_masked() {
        assert_eq!(
            masked_authorization("AWS AKIAIOSFODNN7EXAMPLE:bWq2s1WEIj+Ydj0vQ697zp+IXMU="),
            "AWS AKIA****:****"
        );
        assert_eq!(masked_authorization("Bearer abc.def"), "****");
        // A short key id shows nothing of itself.
        assert_eq!(masked_authorization("AWS short:sig"), "AWS ****:****");
    }

    #[test]
    fn a_head_masks_token_and_presigned_query() {
        let head = format!(
            "PUT /b/k?partNumber=1&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature={SIG}&X-Amz-Security-Token=tok%2Fsecret HTTP/1.1\r\n\
             Host: example\r\nX-Amz-Security-Token: FQoGZXIvYXdzEXAMPLETOKEN\r\nauthorization: AWS AKIAIOSFODNN7EXAMPLE:c2lnbmF0dXJl\r\n\r\n"
        );
        let masked = masked_request_head(&head);
        assert!(masked.starts_with(
            "PUT /b/k?partNumber=1&X-Amz-Credential=AKIA****%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=****&X-Amz-Security-Token=**** HTTP/1.1\r\n"
        ), "{masked}");
        assert!(masked.contains("\r\nHost: example\r\n"));
        assert!(masked.contains("X-Amz-Security-Token: ****\r\n"));
        for secret in [
            SIG,
            "EXAMPLETOKEN",
            "tok%2Fsecret",
            "c2lnbmF0dXJl",
            "IOSFODNN7",
        ] {
            assert!(!masked.contains(secret), "{secret} in {masked}");
        }
        assert!(masked.ends_with("\r\n\r\n"));
    }
}
