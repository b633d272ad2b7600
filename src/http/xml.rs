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

/// The inner text of each element named exactly `name`, in document order (children
/// included, undecoded): the `<Part>`s of a ListParts answer, the `<Upload>`s of a
/// ListMultipartUploads one. Stops at the first unterminated element.
pub fn elements<'a>(doc: &'a str, name: &str) -> Vec<&'a str> {
    let open = format!("<{name}");
    let close = format!("</{name}>");
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(pos) = doc.get(from..).and_then(|rest| rest.find(&open)) {
        let after = from + pos + open.len();
        from = after;
        let Some(rest) = doc.get(after..) else { break };
        match rest.bytes().next() {
            Some(b'>' | b' ' | b'\t' | b'\r' | b'\n') => {}
            _ => continue, // a longer name: <PartNumber> for <Part>
        }
        let Some(tag_end) = rest.find('>') else { break };
        if rest[..tag_end].ends_with('/') {
            found.push("");
            from = after + tag_end + 1;
            continue;
        }
        let start = after + tag_end + 1;
        let Some(len) = doc.get(start..).and_then(|r| r.find(&close)) else {
            break;
        };
        found.push(&doc[start..start + len]);
        from = start + len + close.len();
    }
    found
}

/// The document's root element name, after an XML declaration and whitespace.
fn root_is(doc: &str, name: &str) -> bool {
    let mut rest = doc.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    if rest.starts_with("<?xml") {
        match rest.find("?>") {
            Some(end) => rest = rest[end + 2..].trim_start(),
            None => return false,
        }
    }
    rest.strip_prefix('<')
        .and_then(|r| r.strip_prefix(name))
        .is_some_and(|r| r.starts_with(['>', ' ', '\t', '\r', '\n', '/']))
}

/// CreateMultipartUpload's answer (S3 API reference, InitiateMultipartUploadResult).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Initiated {
    pub bucket: Option<String>,
    pub key: Option<String>,
    pub upload_id: String,
}

/// Some when `body` is an InitiateMultipartUploadResult with a non-empty UploadId.
pub fn parse_initiate(body: &[u8]) -> Option<Initiated> {
    let doc = String::from_utf8_lossy(body);
    if !root_is(&doc, "InitiateMultipartUploadResult") {
        return None;
    }
    Some(Initiated {
        bucket: field(&doc, "Bucket"),
        key: field(&doc, "Key"),
        upload_id: field(&doc, "UploadId").filter(|id| !id.is_empty())?,
    })
}

/// One part a store lists (ListPartsResult/Part). The ETag is empty when the store
/// leaves it out (s3s-fs 0.14.1 does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartInfo {
    pub number: u32,
    pub etag: String,
    pub size: u64,
    /// `ChecksumCRC32`-style element names with their values.
    pub checksums: Vec<(String, String)>,
}

/// One page of ListParts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartsPage {
    pub parts: Vec<PartInfo>,
    pub truncated: bool,
    pub next_marker: Option<u32>,
    /// The upload's `ChecksumAlgorithm`, where the store says it.
    pub algorithm: Option<String>,
}

const CHECKSUM_ELEMENTS: &[&str] = &[
    "ChecksumCRC32",
    "ChecksumCRC32C",
    "ChecksumCRC64NVME",
    "ChecksumSHA1",
    "ChecksumSHA256",
];

fn checksums(doc: &str) -> Vec<(String, String)> {
    CHECKSUM_ELEMENTS
        .iter()
        .filter_map(|name| {
            Some((
                name.to_string(),
                field(doc, name).filter(|v| !v.is_empty())?,
            ))
        })
        .collect()
}

/// Some when `body` is a ListPartsResult; parts without a number from 1 to 10,000 or a
/// size are left out (they cannot be matched to the file).
pub fn parse_list_parts(body: &[u8]) -> Option<PartsPage> {
    let doc = String::from_utf8_lossy(body);
    if !root_is(&doc, "ListPartsResult") {
        return None;
    }
    let parts = elements(&doc, "Part")
        .into_iter()
        .filter_map(|part| {
            let number: u32 = field(part, "PartNumber")?.trim().parse().ok()?;
            if !(1..=10_000).contains(&number) {
                return None;
            }
            Some(PartInfo {
                number,
                etag: field(part, "ETag").unwrap_or_default(),
                size: field(part, "Size")?.trim().parse().ok()?,
                checksums: checksums(part),
            })
        })
        .collect();
    // The page's own fields have names no part element uses.
    Some(PartsPage {
        parts,
        truncated: field(&doc, "IsTruncated").is_some_and(|t| t.trim() == "true"),
        next_marker: field(&doc, "NextPartNumberMarker").and_then(|m| m.trim().parse().ok()),
        algorithm: field(&doc, "ChecksumAlgorithm")
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty()),
    })
}

/// CompleteMultipartUpload's answer (CompleteMultipartUploadResult).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completed {
    pub location: Option<String>,
    pub bucket: Option<String>,
    pub key: Option<String>,
    pub etag: Option<String>,
    pub checksums: Vec<(String, String)>,
    pub checksum_type: Option<String>,
}

/// Some when `body` is a CompleteMultipartUploadResult (a 200 carrying `<Error>` is
/// caught before, by `parse_s3_error`).
pub fn parse_complete(body: &[u8]) -> Option<Completed> {
    let doc = String::from_utf8_lossy(body);
    if !root_is(&doc, "CompleteMultipartUploadResult") {
        return None;
    }
    let get = |name: &str| field(&doc, name).filter(|v| !v.is_empty());
    Some(Completed {
        location: get("Location"),
        bucket: get("Bucket"),
        key: get("Key"),
        etag: get("ETag"),
        checksums: checksums(&doc),
        checksum_type: get("ChecksumType"),
    })
}

/// One pending upload (ListMultipartUploadsResult/Upload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingUpload {
    pub key: String,
    pub upload_id: String,
    pub initiated: Option<String>,
}

/// One page of ListMultipartUploads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadsPage {
    pub uploads: Vec<PendingUpload>,
    pub truncated: bool,
    pub next_key_marker: Option<String>,
    pub next_upload_id_marker: Option<String>,
}

/// Some when `body` is a ListMultipartUploadsResult.
pub fn parse_list_uploads(body: &[u8]) -> Option<UploadsPage> {
    let doc = String::from_utf8_lossy(body);
    if !root_is(&doc, "ListMultipartUploadsResult") {
        return None;
    }
    let uploads = elements(&doc, "Upload")
        .into_iter()
        .filter_map(|u| {
            Some(PendingUpload {
                key: field(u, "Key")?,
                upload_id: field(u, "UploadId").filter(|id| !id.is_empty())?,
                initiated: field(u, "Initiated"),
            })
        })
        .collect();
    let get = |name: &str| field(&doc, name).filter(|v| !v.is_empty());
    Some(UploadsPage {
        uploads,
        truncated: get("IsTruncated").is_some_and(|t| t.trim() == "true"),
        next_key_marker: get("NextKeyMarker"),
        next_upload_id_marker: get("NextUploadIdMarker"),
    })
}

/// A part as CompleteMultipartUpload lists it: number, ETag, checksum elements.
pub type CompletedPart<'a> = (u32, &'a str, &'a [(&'a str, &'a str)]);

/// The CompleteMultipartUpload request body, text escaped.
pub fn write_complete_body(parts: &[CompletedPart<'_>], out: &mut String) {
    out.push_str("<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    for (number, etag, sums) in parts {
        out.push_str("<Part><PartNumber>");
        out.push_str(&number.to_string());
        out.push_str("</PartNumber><ETag>");
        escape(etag, out);
        out.push_str("</ETag>");
        for (name, value) in *sums {
            out.push('<');
            out.push_str(name);
            out.push('>');
            escape(value, out);
            out.push_str("</");
            out.push_str(name);
            out.push('>');
        }
        out.push_str("</Part>");
    }
    out.push_str("</CompleteMultipartUpload>");
}

/// Escapes text for element content and attribute values.
pub fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // S3 API reference, CreateMultipartUpload, "Examples" (response).
    const INITIATE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>example-bucket</Bucket>
  <Key>example-object</Key>
  <UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>
</InitiateMultipartUploadResult>"#;

    // S3 API reference, ListParts, "Examples" (response, abridged to two parts; the second
    // ETag's quotes written as entities and a checksum added, as stores also answer).
    const LIST_PARTS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>example-bucket</Bucket>
  <Key>example-object</Key>
  <UploadId>XXBsb2FkIElEIGZvciBlbHZpbmcncyVcdS1tb3ZpZS5tMnRzEEEwbG9hZA</UploadId>
  <Initiator><ID>arn:aws:iam::111122223333:user/some-user-11116a31-17b5-4fb7-9df5-b288870f11xx</ID><DisplayName>umat-user-11116a31-17b5-4fb7-9df5-b288870f11xx</DisplayName></Initiator>
  <Owner><ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID><DisplayName>someName</DisplayName></Owner>
  <StorageClass>STANDARD</StorageClass>
  <PartNumberMarker>1</PartNumberMarker>
  <NextPartNumberMarker>3</NextPartNumberMarker>
  <MaxParts>2</MaxParts>
  <IsTruncated>true</IsTruncated>
  <Part>
    <PartNumber>2</PartNumber>
    <LastModified>2010-11-10T20:48:34.000Z</LastModified>
    <ETag>"7778aef83f66abc1fa1e8477f296d394"</ETag>
    <Size>10485760</Size>
  </Part>
  <Part>
    <PartNumber>3</PartNumber>
    <LastModified>2010-11-10T20:48:33.000Z</LastModified>
    <ETag>&quot;aaaa18db4cc2f85cedef654fccc4a4x8&quot;</ETag>
    <Size>10485760</Size>
    <ChecksumCRC32>AAAAAA==</ChecksumCRC32>
  </Part>
</ListPartsResult>"#;

    // S3 API reference, CompleteMultipartUpload, "Examples" (response).
    const COMPLETE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<CompleteMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
 <Location>http://Example-Bucket.s3.<Region>.amazonaws.com/Example-Object</Location>
 <Bucket>Example-Bucket</Bucket>
 <Key>Example-Object</Key>
 <ETag>"3858f62230ac3c915f300c664312c11f-9"</ETag>
</CompleteMultipartUploadResult>"#;

    // S3 API reference, ListMultipartUploads, "Examples" (response, abridged).
    const LIST_UPLOADS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Bucket>bucket</Bucket>
  <KeyMarker></KeyMarker>
  <UploadIdMarker></UploadIdMarker>
  <NextKeyMarker>my-movie.m2ts</NextKeyMarker>
  <NextUploadIdMarker>YW55IGlkZWEgd2h5IGVsdmluZydzIHVwbG9hZCBmYWlsZWQ</NextUploadIdMarker>
  <MaxUploads>3</MaxUploads>
  <IsTruncated>true</IsTruncated>
  <Upload>
    <Key>my-divisor</Key>
    <UploadId>XMgbGlrZSBlbHZpbmcncyBub3QgaGF2aW5nIG11Y2ggbHVjaw</UploadId>
    <StorageClass>STANDARD</StorageClass>
    <Initiated>2010-11-10T20:48:33.000Z</Initiated>
  </Upload>
  <Upload>
    <Key>my-movie.m2ts</Key>
    <UploadId>VXBsb2FkIElEIGZvciBlbHZpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>
    <StorageClass>STANDARD</StorageClass>
    <Initiated>2010-11-10T20:48:33.000Z</Initiated>
  </Upload>
</ListMultipartUploadsResult>"#;

    #[test]
    fn multipart_answers_from_the_api_reference() {
        let i = parse_initiate(INITIATE.as_bytes()).unwrap();
        assert_eq!(
            i.upload_id,
            "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA"
        );
        assert_eq!(i.key.as_deref(), Some("example-object"));

        let page = parse_list_parts(LIST_PARTS.as_bytes()).unwrap();
        assert!(page.truncated);
        assert_eq!(page.next_marker, Some(3));
        assert_eq!(page.parts.len(), 2);
        assert_eq!(page.parts[0].number, 2);
        assert_eq!(page.parts[0].etag, "\"7778aef83f66abc1fa1e8477f296d394\"");
        assert_eq!(page.parts[1].size, 10_485_760);
        assert_eq!(page.parts[1].etag, "\"aaaa18db4cc2f85cedef654fccc4a4x8\"");
        assert_eq!(
            page.parts[1].checksums,
            vec![("ChecksumCRC32".into(), "AAAAAA==".into())]
        );

        let c = parse_complete(COMPLETE.as_bytes()).unwrap();
        assert_eq!(
            c.etag.as_deref(),
            Some("\"3858f62230ac3c915f300c664312c11f-9\"")
        );
        assert_eq!(c.key.as_deref(), Some("Example-Object"));

        let u = parse_list_uploads(LIST_UPLOADS.as_bytes()).unwrap();
        assert!(u.truncated);
        assert_eq!(u.uploads.len(), 2);
        assert_eq!(u.uploads[1].key, "my-movie.m2ts");
        assert_eq!(u.next_key_marker.as_deref(), Some("my-movie.m2ts"));
    }

    #[test]
    fn odd_multipart_answers() {
        // Another root, an empty id, an error document: not what was asked.
        assert!(parse_initiate(COMPLETE.as_bytes()).is_none());
        assert!(parse_initiate(
            b"<InitiateMultipartUploadResult><UploadId></UploadId></InitiateMultipartUploadResult>"
        )
        .is_none());
        assert!(parse_complete(b"<Error><Code>InternalError</Code></Error>").is_none());
        assert!(parse_initiate(b"<InitiateMultipartUploadResultX><UploadId>a</UploadId></InitiateMultipartUploadResultX>").is_none());
        // s3s-fs lists parts without ETags; parts without a number or size are skipped.
        let doc = b"<ListPartsResult><Part><PartNumber>1</PartNumber><Size>5</Size></Part>\
            <Part><PartNumber>0</PartNumber><Size>5</Size></Part><Part><Size>5</Size></Part>\
            <Part><PartNumber>2</PartNumber></Part><Part/></ListPartsResult>";
        let page = parse_list_parts(doc).unwrap();
        assert_eq!(page.parts.len(), 1);
        assert_eq!((page.parts[0].number, page.parts[0].etag.as_str()), (1, ""));
        assert!(!page.truncated);
        // Empty lists, a truncated document, entities and CDATA in keys.
        assert_eq!(
            parse_list_uploads(b"<ListMultipartUploadsResult/>")
                .unwrap()
                .uploads
                .len(),
            0
        );
        let doc = b"<ListMultipartUploadsResult><Upload><Key>a&amp;b<![CDATA[<c>]]></Key><UploadId>x</UploadId></Upload><Upload><Key>cut";
        let u = parse_list_uploads(doc).unwrap();
        assert_eq!(u.uploads.len(), 1);
        assert_eq!(u.uploads[0].key, "a&b<c>");
    }

    #[test]
    fn complete_body_is_escaped_and_reads_back() {
        let mut out = String::new();
        let sums = [("ChecksumCRC32", "a<b")];
        write_complete_body(&[(1, "\"e&1\"", &[]), (2, "\"e2\"", &sums)], &mut out);
        assert_eq!(
            out,
            "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
             <Part><PartNumber>1</PartNumber><ETag>&quot;e&amp;1&quot;</ETag></Part>\
             <Part><PartNumber>2</PartNumber><ETag>&quot;e2&quot;</ETag><ChecksumCRC32>a&lt;b</ChecksumCRC32></Part>\
             </CompleteMultipartUpload>"
        );
        let parts = elements(&out, "Part");
        assert_eq!(field(parts[0], "ETag").as_deref(), Some("\"e&1\""));
        assert_eq!(field(parts[1], "ChecksumCRC32").as_deref(), Some("a<b"));
    }

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
