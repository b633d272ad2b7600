//! A field reader for the small XML documents S3 answers with: the text of a named
//! element, with entities decoded. Not a parser: it finds what it is asked for, in time
//! linear in the document, and says None for anything it does not understand.

/// The text of the first element named exactly `name` (attributes allowed; namespace
/// prefixes are not stripped). Predefined entities and character references are decoded,
/// CDATA is taken literally. None when absent, unterminated, or holding child elements.
pub fn field(doc: &str, name: &str) -> Option<String> {
    let open = format!("<{name}");
    let close = format!("</{name}>");
    let mut from = 0;
    while let Some(pos) = doc.get(from..)?.find(&open) {
        let after = from + pos + open.len();
        from = after;
        let rest = doc.get(after..)?;
        match rest.bytes().next() {
            Some(b'>') => {}
            Some(b' ' | b'\t' | b'\r' | b'\n') => {}
            Some(b'/') if rest.starts_with("/>") => return Some(String::new()),
            _ => continue, // a longer name, like <CodeX> for <Code>
        }
        let tag_end = rest.find('>')?;
        if rest[..tag_end].ends_with('/') {
            return Some(String::new());
        }
        let content_start = after + tag_end + 1;
        let content_len = doc.get(content_start..)?.find(&close)?;
        return text(doc.get(content_start..content_start + content_len)?);
    }
    None
}

/// What S3 says in an error document (S3 API reference, "Error responses").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct S3Error {
    pub code: String,
    pub message: Option<String>,
    pub request_id: Option<String>,
    pub host_id: Option<String>,
    pub region: Option<String>,
    pub endpoint: Option<String>,
    pub bucket: Option<String>,
}

/// Some when `body` is an `<Error>` document with a `<Code>`: for error statuses, and for
/// the 200 answers that carry an error inside.
pub fn parse_s3_error(body: &[u8]) -> Option<S3Error> {
    let doc = String::from_utf8_lossy(body);
    let mut rest = doc.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    if rest.starts_with("<?xml") {
        rest = rest.get(rest.find("?>")? + 2..)?.trim_start();
    }
    let root = rest.strip_prefix("<Error")?;
    if !root.starts_with(['>', ' ', '\t', '\r', '\n']) {
        return None;
    }
    let code = field(rest, "Code").filter(|c| !c.is_empty())?;
    let get = |name: &str| field(rest, name).filter(|v| !v.is_empty());
    Some(S3Error {
        code,
        message: get("Message"),
        request_id: get("RequestId"),
        host_id: get("HostId"),
        region: get("Region"),
        endpoint: get("Endpoint"),
        bucket: get("BucketName").or_else(|| get("Bucket")),
    })
}

/// Decodes element content: entities and character references, CDATA sections literal.
fn text(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while !rest.is_empty() {
        if let Some(cdata) = rest.strip_prefix("<![CDATA[") {
            let end = cdata.find("]]>")?;
            out.push_str(&cdata[..end]);
            rest = &cdata[end + 3..];
        } else if rest.starts_with('<') {
            return None; // a child element: not a text field
        } else if let Some(entity) = rest.strip_prefix('&') {
            let end = entity.find(';').filter(|&e| e <= 10)?;
            out.push(decode_entity(&entity[..end])?);
            rest = &entity[end + 1..];
        } else {
            let next = rest.find(['<', '&']).unwrap_or(rest.len());
            out.push_str(&rest[..next]);
            rest = &rest[next..];
        }
    }
    Some(out)
}

fn decode_entity(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => {
            let number = name.strip_prefix('#')?;
            let value = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(value)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields() {
        let doc = "<R><CodeX>no</CodeX><Code a=\"1\">Yes &amp; &lt;ok&gt; &#65;&#x42;</Code><E/><N><C>x</C></N>\
                   <D><![CDATA[<raw> & ]]>tail</D></R>";
        assert_eq!(field(doc, "Code").as_deref(), Some("Yes & <ok> AB"));
        assert_eq!(field(doc, "E").as_deref(), Some(""));
        assert_eq!(field(doc, "N"), None);
        assert_eq!(field(doc, "D").as_deref(), Some("<raw> & tail"));
        assert_eq!(field(doc, "Missing"), None);
        assert_eq!(field("<Code>unterminated", "Code"), None);
        assert_eq!(field("<Code>&bogus;</Code>", "Code"), None);
    }

    #[test]
    fn s3_error_documents() {
        let body = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SignatureDoesNotMatch</Code>\
            <Message>The request signature we calculated does not match the signature you provided. Check your key and signing method.</Message>\
            <AWSAccessKeyId>AK</AWSAccessKeyId><StringToSign>x</StringToSign><RequestId>4442587FB7D0A2F9</RequestId><HostId>h</HostId></Error>";
        let e = parse_s3_error(body).unwrap();
        assert_eq!(e.code, "SignatureDoesNotMatch");
        assert!(e.message.unwrap().starts_with("The request signature"));
        assert_eq!(e.request_id.as_deref(), Some("4442587FB7D0A2F9"));
        let redirect = b"<Error><Code>PermanentRedirect</Code><Message>m &quot;q&quot;</Message>\
            <Endpoint>b.s3.eu-west-1.amazonaws.com</Endpoint><Bucket>b</Bucket></Error>";
        let e = parse_s3_error(redirect).unwrap();
        assert_eq!(e.endpoint.as_deref(), Some("b.s3.eu-west-1.amazonaws.com"));
        assert_eq!(e.message.as_deref(), Some("m \"q\""));
        let malformed = b"<Error><Code>AuthorizationHeaderMalformed</Code><Region>eu-central-1</Region></Error>";
        assert_eq!(
            parse_s3_error(malformed).unwrap().region.as_deref(),
            Some("eu-central-1")
        );
        assert_eq!(
            parse_s3_error(b"<Error><Code>NoSuchBucket</Code></Error>")
                .unwrap()
                .code,
            "NoSuchBucket"
        );
        assert_eq!(parse_s3_error(b""), None);
        assert_eq!(
            parse_s3_error(b"<PutResult><Code>x</Code></PutResult>"),
            None
        );
        assert_eq!(parse_s3_error(b"<ErrorX><Code>x</Code></ErrorX>"), None);
        assert_eq!(
            parse_s3_error(b"<Error><Message>no code</Message></Error>"),
            None
        );
    }
}
