//! A destination that is a URL (`s3push FILE 'https://HOST/BUCKET/KEY?X-Amz-...'`): a
//! presigned PUT, sent as it is, byte for byte, with no credentials.

use super::endpoint::Endpoint;
use super::ObjectHeaders;
use crate::checksum::Algorithm;
use crate::error::Error;

/// A URL to PUT to as it is. Its Debug output leaves the query out: the signature (and
/// any X-Amz-Security-Token) in it let anyone make the request.
#[derive(Clone, PartialEq, Eq)]
pub struct UrlTarget {
    /// The request target exactly as given: the path and the query.
    pub target: String,
    /// `scheme://host[:port]/path`, for messages: the query carries the signature (a
    /// bearer credential), so it is never shown.
    pub shown: String,
    /// The query carries a signature (`X-Amz-Signature`, or SigV2's `Signature`).
    pub presigned: bool,
    /// A SigV2 query (`Signature`, `Expires`): it signs Content-MD5, Content-Type and
    /// every x-amz-* header, without naming them.
    pub sigv2: bool,
    /// `X-Amz-SignedHeaders`, lowercase (empty for SigV2 URLs and unsigned ones).
    pub signed_headers: Vec<String>,
}

impl std::fmt::Debug for UrlTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UrlTarget")
            .field("shown", &self.shown)
            .field("target", &"(path and query: not shown)")
            .field("presigned", &self.presigned)
            .field("sigv2", &self.sigv2)
            .field("signed_headers", &self.signed_headers)
            .finish()
    }
}

impl UrlTarget {
    /// Whether a header may be added to a request to this URL: S3 refuses a presigned
    /// request carrying an x-amz-* header its signature does not cover ("There were
    /// headers present in the request which were not signed").
    pub fn may_send(&self, header: &str) -> bool {
        !self.presigned
            || !header.starts_with("x-amz-")
            || self.signed_headers.iter().any(|h| h == header)
    }
}

/// The endpoint and target of an `http://` or `https://` destination; None for any
/// other destination (`s3://...`).
pub fn parse(url: &str) -> Result<Option<(Endpoint, UrlTarget)>, Error> {
    let Some(scheme_end) = ["https://", "http://"]
        .iter()
        .find(|s| url.starts_with(*s))
        .map(|s| s.len())
    else {
        return Ok(None);
    };
    let bad = |why: &str| Error::Usage(format!("bad URL destination: {why}"));
    let rest = &url[scheme_end..];
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, target) = rest.split_at(split);
    let endpoint = Endpoint::parse(&url[..scheme_end + split])?;
    // The target goes on the request line as it is: only visible ASCII can.
    if let Some(b) = target.bytes().find(|b| !(0x21..=0x7e).contains(b)) {
        return Err(bad(&format!(
            "it holds byte 0x{b:02x}, which cannot go on a request line: give the URL percent-encoded, as it was presigned"
        )));
    }
    if target.contains('#') {
        return Err(bad("it has a #fragment, which is never sent: remove it"));
    }
    let target = if target.starts_with('/') {
        target.to_string()
    } else {
        format!("/{target}")
    };
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let scheme = &url[..scheme_end];
    let shown = format!("{scheme}{authority}{path}");
    let params = || {
        query
            .split('&')
            .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
    };
    let v4 = params().any(|(k, _)| k == "X-Amz-Signature");
    let sigv2 = !v4 && params().any(|(k, _)| k == "Signature");
    let presigned = v4 || sigv2;
    let signed_headers = params()
        .find(|(k, _)| *k == "X-Amz-SignedHeaders")
        .map(|(_, v)| {
            percent_decode(v)
                .split(';')
                .filter(|h| !h.is_empty())
                .map(str::to_ascii_lowercase)
                .collect()
        })
        .unwrap_or_default();
    Ok(Some((
        endpoint,
        UrlTarget {
            shown,
            presigned,
            sigv2,
            signed_headers,
            target,
        },
    )))
}

/// Every header a SigV4 URL signed must be sent with the value it was signed with: the
/// user gives those values with the usual flags; a header s3push has no flag for cannot
/// be sent, so the URL cannot work.
pub fn check_signed_headers(
    target: &UrlTarget,
    object: &ObjectHeaders,
    content_md5: bool,
    checksum: Option<Algorithm>,
) -> Result<(), Error> {
    if target.sigv2 && content_md5 {
        return Err(Error::Usage(
            "a SigV2 URL signs Content-MD5 (as empty unless presigned with one): leave out --content-md5".into(),
        ));
    }
    // What the user asks to send that S3 would refuse unsigned.
    let mut given_amz: Vec<(String, &str)> = Vec::new();
    if object.acl.is_some() {
        given_amz.push(("x-amz-acl".into(), "--acl"));
    }
    if object.storage_class.is_some() {
        given_amz.push(("x-amz-storage-class".into(), "--storage-class"));
    }
    for (k, _) in &object.meta {
        given_amz.push((format!("x-amz-meta-{}", k.to_ascii_lowercase()), "--meta"));
    }
    if let Some(a) = checksum {
        given_amz.push((a.header_name().into(), "--checksum"));
    }
    if !target.sigv2 {
        if let Some((header, flag)) = given_amz.iter().find(|(h, _)| !target.may_send(h)) {
            return Err(Error::Usage(format!(
                "the URL was not presigned with header '{header}', and S3 refuses unsigned x-amz-* headers: \
                 leave out {flag}{}",
                if *flag == "--checksum" { " (the ETag check stays on)" } else { " (or presign with it)" }
            )));
        }
    }
    for name in &target.signed_headers {
        let given = match name.as_str() {
            "host" | "content-length" => continue,
            "x-amz-sdk-checksum-algorithm" => ("--checksum ALG", checksum.is_some()),
            n if n.starts_with("x-amz-checksum-") => (
                "--checksum ALG",
                checksum.is_some_and(|a| a.header_name() == n),
            ),
            "content-type" => ("--content-type TYPE", object.content_type.is_some()),
            "cache-control" => ("--cache-control V", object.cache_control.is_some()),
            "content-disposition" => (
                "--content-disposition V",
                object.content_disposition.is_some(),
            ),
            "content-encoding" => ("--content-encoding V", object.content_encoding.is_some()),
            "content-md5" => ("--content-md5", content_md5),
            "x-amz-acl" => ("--acl CANNED", object.acl.is_some()),
            "x-amz-storage-class" => ("--storage-class C", object.storage_class.is_some()),
            other => match other.strip_prefix("x-amz-meta-") {
                Some(meta) => (
                    "--meta KEY=VALUE",
                    object
                        .meta
                        .iter()
                        .any(|(k, _)| k.eq_ignore_ascii_case(meta)),
                ),
                None => {
                    return Err(Error::Usage(format!(
                        "the URL was presigned with header '{other}', which s3push does not send: \
                         presign it with host (and content-type) only"
                    )))
                }
            },
        };
        if let (flag, false) = given {
            return Err(Error::Usage(format!(
                "the URL was presigned with header '{name}': pass {flag} with the value it was presigned with"
            )));
        }
    }
    Ok(())
}

/// `%XX` to bytes (lossy UTF-8); anything else kept.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                let v = hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0);
                out.push(u8::try_from(v).unwrap_or(b'?'));
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_presigned_url_is_kept_byte_for_byte() {
        let url = "https://B.s3.amazonaws.com:8443/a%20b/c+d?X-Amz-Algorithm=AWS4-HMAC-SHA256\
                   &X-Amz-SignedHeaders=content-type%3Bhost&X-Amz-Signature=abc&x=%2F";
        let (endpoint, t) = parse(url).unwrap().unwrap();
        assert_eq!(endpoint.host, "b.s3.amazonaws.com");
        assert_eq!(endpoint.port, 8443);
        assert_eq!(
            t.target,
            "/a%20b/c+d?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-SignedHeaders=content-type%3Bhost&X-Amz-Signature=abc&x=%2F"
        );
        assert_eq!(t.shown, "https://B.s3.amazonaws.com:8443/a%20b/c+d");
        assert!(t.presigned);
        assert_eq!(t.signed_headers, vec!["content-type", "host"]);
        assert!(!format!("{t:?}").contains("X-Amz-Signature"));
        let (_, v2) = parse("http://127.0.0.1:9000/b/k?AWSAccessKeyId=A&Expires=1&Signature=x%2B")
            .unwrap()
            .unwrap();
        assert!(v2.presigned && v2.signed_headers.is_empty());
        let (_, plain) = parse("http://h/b/k").unwrap().unwrap();
        assert!(!plain.presigned);
        assert_eq!(parse("s3://b/k").unwrap(), None);
    }

    #[test]
    fn what_cannot_go_on_a_request_line_is_refused() {
        for bad in [
            "http://h/b/k y?Signature=1",
            "http://h/b/k?Signature=1#frag",
            "http://h/b/ü",
            "http://h/b/k\r\nX: y",
            "http://u:p@h/b/k",
            "http://h:99999/b/k",
        ] {
            assert_eq!(parse(bad).unwrap_err().exit_code(), 2, "{bad}");
        }
    }

    #[test]
    fn signed_headers_need_their_flags() {
        let (_, t) = parse("http://h/b/k?X-Amz-SignedHeaders=content-type%3Bhost%3Bx-amz-meta-owner&X-Amz-Signature=1")
            .unwrap()
            .unwrap();
        let mut object = ObjectHeaders::default();
        let err = check_signed_headers(&t, &object, false, None).unwrap_err();
        assert!(err.to_string().contains("--content-type"), "{err}");
        object.content_type = Some("text/plain".into());
        let err = check_signed_headers(&t, &object, false, None).unwrap_err();
        assert!(err.to_string().contains("--meta"), "{err}");
        object.meta.push(("owner".into(), "alice".into()));
        check_signed_headers(&t, &object, false, None).unwrap();
        let (_, odd) = parse(
            "http://h/b/k?X-Amz-SignedHeaders=host;x-amz-server-side-encryption&X-Amz-Signature=1",
        )
        .unwrap()
        .unwrap();
        assert!(
            check_signed_headers(&odd, &ObjectHeaders::default(), false, None)
                .unwrap_err()
                .to_string()
                .contains("x-amz-server-side-encryption")
        );
    }

    #[test]
    fn unsigned_amz_headers_are_refused_for_presigned_urls() {
        let (_, t) = parse("http://h/b/k?X-Amz-SignedHeaders=host&X-Amz-Signature=1")
            .unwrap()
            .unwrap();
        let acl = ObjectHeaders {
            acl: Some("public-read".into()),
            ..Default::default()
        };
        let err = check_signed_headers(&t, &acl, false, None).unwrap_err();
        assert!(err.to_string().contains("x-amz-acl"), "{err}");
        let none = ObjectHeaders::default();
        let err = check_signed_headers(&t, &none, false, Some(Algorithm::Crc32)).unwrap_err();
        assert!(err.to_string().contains("x-amz-checksum-crc32"), "{err}");
        assert!(!t.may_send("x-amz-sdk-checksum-algorithm"));
        assert!(t.may_send("content-md5"));
        check_signed_headers(&t, &none, true, None).unwrap();

        let (_, signed) = parse(
            "http://h/b/k?X-Amz-SignedHeaders=host%3Bx-amz-checksum-crc32%3Bx-amz-sdk-checksum-algorithm&X-Amz-Signature=1",
        )
        .unwrap()
        .unwrap();
        check_signed_headers(&signed, &none, false, Some(Algorithm::Crc32)).unwrap();
        assert!(check_signed_headers(&signed, &none, false, None).is_err());
        assert!(check_signed_headers(&signed, &none, false, Some(Algorithm::Sha256)).is_err());

        let (_, v2) = parse("http://h/b/k?AWSAccessKeyId=A&Expires=1&Signature=x")
            .unwrap()
            .unwrap();
        assert!(v2.sigv2);
        assert!(check_signed_headers(&v2, &none, true, None).is_err());
        check_signed_headers(&v2, &acl, false, None).unwrap();
        // Not presigned (--no-sign-request): anything goes.
        let (_, open) = parse("http://h/b/k").unwrap().unwrap();
        check_signed_headers(&open, &acl, true, Some(Algorithm::Crc32)).unwrap();
    }
}
