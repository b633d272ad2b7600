//! The request head writer: request line and headers, with every name and value checked
//! so that nothing a user or a server gave can split a header (RFC 9110 5.5, 9112 3).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderError {
    EmptyName,
    InvalidNameChar,
    InvalidValueChar,
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HeaderError::EmptyName => "empty header name",
            HeaderError::InvalidNameChar => "a header name with a character outside the token set",
            HeaderError::InvalidValueChar => {
                "a header value with a line break or control character"
            }
        })
    }
}

/// Names are RFC 9110 tokens.
pub fn check_header_name(name: &str) -> Result<(), HeaderError> {
    if name.is_empty() {
        return Err(HeaderError::EmptyName);
    }
    if !name.bytes().all(is_tchar) {
        return Err(HeaderError::InvalidNameChar);
    }
    Ok(())
}

/// Values: visible ASCII, SP, HTAB and bytes >= 0x80; CR, LF, NUL, DEL and every other
/// control are refused.
pub fn check_header_value(value: &str) -> Result<(), HeaderError> {
    if value
        .bytes()
        .all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
    {
        Ok(())
    } else {
        Err(HeaderError::InvalidValueChar)
    }
}

/// Appends `METHOD TARGET HTTP/1.1`, the headers and the blank line to `out`; checks
/// everything first and writes nothing on error.
pub fn write_request_head(
    method: &str,
    target: &str,
    headers: &[(String, String)],
    out: &mut Vec<u8>,
) -> Result<(), HeaderError> {
    check_header_name(method)?;
    if target.is_empty() || !target.bytes().all(|b| b > 0x20 && b != 0x7f) {
        return Err(HeaderError::InvalidValueChar);
    }
    for (name, value) in headers {
        check_header_name(name)?;
        check_header_value(value)?;
    }
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.trim_matches([' ', '\t']).as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn writes_a_head() {
        let mut out = Vec::new();
        write_request_head(
            "PUT",
            "/b/k%20x",
            &h(&[("Host", "h:1"), ("Content-Length", "0")]),
            &mut out,
        )
        .unwrap();
        assert_eq!(
            out,
            b"PUT /b/k%20x HTTP/1.1\r\nHost: h:1\r\nContent-Length: 0\r\n\r\n"
        );
    }

    #[test]
    fn refuses_what_could_split_a_header_and_writes_nothing() {
        for (name, value) in [
            ("X-A", "a\r\nX-B: b"),
            ("X-A", "a\nb"),
            ("X-A", "a\rb"),
            ("X-A", "a\0b"),
            ("X-A", "a\x7fb"),
            ("X-A", "a\x1bb"),
            ("X A", "v"),
            ("X:A", "v"),
            ("", "v"),
            ("X-\u{e9}", "v"),
        ] {
            let mut out = b"kept".to_vec();
            assert!(
                write_request_head("PUT", "/", &h(&[(name, value)]), &mut out).is_err(),
                "{name:?}"
            );
            assert_eq!(out, b"kept");
        }
        let mut out = Vec::new();
        assert!(write_request_head("PUT", "/a b", &[], &mut out).is_err());
        assert!(write_request_head("P UT", "/", &[], &mut out).is_err());
        assert!(check_header_value("tab\tand \u{e9}").is_ok());
    }
}
