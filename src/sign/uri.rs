//! URI encoding as SigV4 and S3 define it ("UriEncode" in the S3 SigV4 guide): every
//! byte but the unreserved set becomes %XX with uppercase hex; each byte encoded once,
//! no path normalization.

/// Encodes an object path: `/` is kept.
pub fn encode_path(path: &str) -> String {
    encode(path, true)
}

/// Encodes a query key or value: `/` is encoded too.
pub fn encode_component(s: &str) -> String {
    encode(s, false)
}

/// Strict `%XX` decoding into UTF-8: None on a bad escape or bytes that are not UTF-8.
pub fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn encode(s: &str, keep_slash: bool) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_users_write() {
        assert_eq!(encode_path("/with space.txt"), "/with%20space.txt");
        assert_eq!(
            encode_path("/a+b=c&d~e%20f.bin"),
            "/a%2Bb%3Dc%26d~e%2520f.bin"
        );
        assert_eq!(encode_path("/ü/日"), "/%C3%BC/%E6%97%A5");
        assert_eq!(encode_path("a//b///c"), "a//b///c");
        assert_eq!(encode_path("-._~AZaz09"), "-._~AZaz09");
        assert_eq!(encode_component("a/b c"), "a%2Fb%20c");
        assert_eq!(encode_component("$"), "%24");
    }
}
