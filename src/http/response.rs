//! The response head parser: status line and header fields (RFC 9112 sections 4 and 5),
//! with limits on size and count. Push-style: give it what has arrived; it answers
//! Complete(consumed, head) or Partial. It never invents a status.

use super::request::is_tchar;
use std::fmt;

/// The most bytes a response head may take.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// The most header fields a response may have.
pub const MAX_HEADERS: usize = 100;

#[derive(Debug, PartialEq, Eq)]
pub enum Status<T> {
    /// The head is complete: it took this many bytes (up to and including the blank line).
    Complete(usize, T),
    /// More bytes are needed.
    Partial,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    pub minor_version: u8,
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    HeadTooLarge,
    TooManyHeaders,
    BadStatusLine,
    BadVersion,
    BadStatusCode,
    BadHeaderName,
    BadHeaderValue,
    ObsoleteLineFolding,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParseError::HeadTooLarge => "response head over 64 KiB",
            ParseError::TooManyHeaders => "more than 100 header fields",
            ParseError::BadStatusLine => "not an HTTP status line",
            ParseError::BadVersion => "not HTTP/1.0 or HTTP/1.1",
            ParseError::BadStatusCode => "status code not three digits from 100 to 599",
            ParseError::BadHeaderName => "bad header name",
            ParseError::BadHeaderValue => "control character in a header value",
            ParseError::ObsoleteLineFolding => "header folded over lines (obsolete)",
        })
    }
}

impl ResponseHead {
    /// Parses a status line and header fields from the start of `buf`. Line ends are CRLF;
    /// a bare LF is tolerated, as RFC 9112 section 2.2 allows.
    pub fn parse(buf: &[u8]) -> Result<Status<ResponseHead>, ParseError> {
        // Fail fast on something that is not HTTP at all, rather than wait for 64 KiB.
        let prefix = &buf[..buf.len().min(5)];
        if prefix != &b"HTTP/"[..prefix.len()] {
            return Err(ParseError::BadStatusLine);
        }
        let window = &buf[..buf.len().min(MAX_HEAD_BYTES)];
        let Some(end) = head_end(window) else {
            return if buf.len() >= MAX_HEAD_BYTES {
                Err(ParseError::HeadTooLarge)
            } else {
                Ok(Status::Partial)
            };
        };
        let mut lines = window[..end]
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
        let (minor_version, status, reason) = parse_status_line(lines.next().unwrap_or_default())?;
        let mut headers = Vec::new();
        for line in lines.filter(|l| !l.is_empty()) {
            if line[0] == b' ' || line[0] == b'\t' {
                return Err(ParseError::ObsoleteLineFolding);
            }
            if headers.len() == MAX_HEADERS {
                return Err(ParseError::TooManyHeaders);
            }
            headers.push(parse_field(line)?);
        }
        Ok(Status::Complete(
            end,
            ResponseHead {
                minor_version,
                status,
                reason,
                headers,
            },
        ))
    }

    /// The first value of header `name` (compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name`, in order.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `HTTP/1.1 403 Forbidden`, for messages.
    pub fn status_line(&self) -> String {
        let line = format!(
            "HTTP/1.{} {} {}",
            self.minor_version, self.status, self.reason
        );
        line.trim_end().to_string()
    }
}

/// The index just past the blank line that ends the head, if it is in `buf`.
fn head_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(pos) = buf[i..].iter().position(|&b| b == b'\n') {
        let nl = i + pos;
        let rest = &buf[nl + 1..];
        if rest.starts_with(b"\n") {
            return Some(nl + 2);
        }
        if rest.starts_with(b"\r\n") {
            return Some(nl + 3);
        }
        if rest == b"\r" {
            return None;
        }
        i = nl + 1;
    }
    None
}

fn parse_status_line(line: &[u8]) -> Result<(u8, u16, String), ParseError> {
    let rest = line
        .strip_prefix(b"HTTP/")
        .ok_or(ParseError::BadStatusLine)?;
    let minor = match rest.get(..3) {
        Some(b"1.1") => 1,
        Some(b"1.0") => 0,
        _ => return Err(ParseError::BadVersion),
    };
    let rest = rest[3..]
        .strip_prefix(b" ")
        .ok_or(ParseError::BadStatusLine)?;
    let code = rest.get(..3).ok_or(ParseError::BadStatusCode)?;
    if !code.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::BadStatusCode);
    }
    let status = code.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    if !(100..=599).contains(&status) {
        return Err(ParseError::BadStatusCode);
    }
    let reason = match &rest[3..] {
        [] => &[][..],
        [b' ', reason @ ..] => reason,
        _ => return Err(ParseError::BadStatusCode),
    };
    if reason
        .iter()
        .any(|&b| b != b'\t' && (b < 0x20 || b == 0x7f))
    {
        return Err(ParseError::BadStatusLine);
    }
    Ok((minor, status, String::from_utf8_lossy(reason).into_owned()))
}

fn parse_field(line: &[u8]) -> Result<(String, String), ParseError> {
    let colon = line
        .iter()
        .position(|&b| b == b':')
        .ok_or(ParseError::BadHeaderName)?;
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
        return Err(ParseError::BadHeaderName);
    }
    if value.iter().any(|&b| b != b'\t' && (b < 0x20 || b == 0x7f)) {
        return Err(ParseError::BadHeaderValue);
    }
    let value = String::from_utf8_lossy(value);
    Ok((
        String::from_utf8_lossy(name).into_owned(),
        value.trim_matches([' ', '\t']).to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &[u8] =
        b"HTTP/1.1 200 OK\r\nETag: \"abc\"\r\nContent-Length: 0\r\nx-amz-request-id:  R1 \r\n\r\n";

    fn complete(buf: &[u8]) -> (usize, ResponseHead) {
        match ResponseHead::parse(buf).unwrap() {
            Status::Complete(n, h) => (n, h),
            Status::Partial => panic!("partial"),
        }
    }

    #[test]
    fn parses_a_response_and_every_prefix_is_partial() {
        let (n, h) = complete(OK);
        assert_eq!(n, OK.len());
        assert_eq!(
            (h.minor_version, h.status, h.reason.as_str()),
            (1, 200, "OK")
        );
        assert_eq!(h.header("etag"), Some("\"abc\""));
        assert_eq!(h.header("X-AMZ-REQUEST-ID"), Some("R1"));
        assert_eq!(h.status_line(), "HTTP/1.1 200 OK");
        for cut in 0..OK.len() {
            assert_eq!(
                ResponseHead::parse(&OK[..cut]),
                Ok(Status::Partial),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn bare_lf_missing_reason_and_interim_responses() {
        let (n, h) = complete(b"HTTP/1.0 404\nA: b\n\nbody");
        assert_eq!((n, h.status, h.reason.as_str()), (19, 404, ""));
        let both = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n";
        let (n, h) = complete(both);
        assert_eq!((n, h.status), (25, 100));
        assert_eq!(complete(&both[n..]).1.status, 200);
        assert_eq!(complete(b"HTTP/1.1 200 \r\n\r\n").1.reason, "");
    }

    #[test]
    fn refuses_what_is_not_a_response() {
        let cases: [(&[u8], ParseError); 11] = [
            (b"HTTP/1.1 20 OK\r\n\r\n", ParseError::BadStatusCode),
            (b"HTTP/1.1 2000 OK\r\n\r\n", ParseError::BadStatusCode),
            (b"HTTP/1.1 099 X\r\n\r\n", ParseError::BadStatusCode),
            (b"HTTP/1.1 600 X\r\n\r\n", ParseError::BadStatusCode),
            (b"HTTP/2 200\r\n\r\n", ParseError::BadVersion),
            (b"ICY 200 OK\r\n\r\n", ParseError::BadStatusLine),
            (b"<html>", ParseError::BadStatusLine),
            (
                b"HTTP/1.1 200 OK\r\nA b: c\r\n\r\n",
                ParseError::BadHeaderName,
            ),
            (
                b"HTTP/1.1 200 OK\r\nA : c\r\n\r\n",
                ParseError::BadHeaderName,
            ),
            (
                b"HTTP/1.1 200 OK\r\nA: c\r\n folded\r\n\r\n",
                ParseError::ObsoleteLineFolding,
            ),
            (
                b"HTTP/1.1 200 OK\r\nA: c\0d\r\n\r\n",
                ParseError::BadHeaderValue,
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(
                ResponseHead::parse(input),
                Err(expected),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn limits() {
        let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("H{i}: v\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(ResponseHead::parse(&many), Err(ParseError::TooManyHeaders));
        let mut huge = b"HTTP/1.1 200 OK\r\nBig: ".to_vec();
        huge.resize(MAX_HEAD_BYTES, b'a');
        assert_eq!(ResponseHead::parse(&huge), Err(ParseError::HeadTooLarge));
        assert_eq!(
            ResponseHead::parse(&huge[..MAX_HEAD_BYTES - 1]),
            Ok(Status::Partial)
        );
    }
}
