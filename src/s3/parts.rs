//! The multipart upload actions (an object sent in parts): CreateMultipartUpload, UploadPart,
//! CompleteMultipartUpload,
//! AbortMultipartUpload, ListParts, ListMultipartUploads (S3 API reference).

use super::{Request, Resource};
use crate::checksum::Algorithm;
use crate::error::Error;
use crate::http::response::ResponseHead;
use crate::http::xml;

pub use crate::http::xml::{PartInfo, PartsPage, PendingUpload, UploadsPage};

/// CreateMultipartUpload: `POST /KEY?uploads` with the object's headers; the answer
/// names the upload.
pub struct CreateMultipartUpload {
    /// What describes the object (content type, metadata, ACL, encryption...).
    pub headers: Vec<(String, String)>,
    /// The checksum every part will carry.
    pub checksum: Option<Algorithm>,
}

impl CreateMultipartUpload {
    pub fn request(self) -> Request {
        let request = Request::new("CreateMultipartUpload", "POST", Resource::Object)
            .query("uploads", "")
            .headers(self.headers);
        let Some(a) = self.checksum else {
            return request;
        };
        // CRCs combine into a checksum of the whole object; SHA digests only into a
        // checksum of the parts' checksums (S3 user guide, "Checking object integrity").
        let kind = if a.is_crc() {
            "FULL_OBJECT"
        } else {
            "COMPOSITE"
        };
        request
            .header("x-amz-checksum-algorithm", a.api_name())
            .header("x-amz-checksum-type", kind)
    }

    /// The UploadId of the answer (InitiateMultipartUploadResult).
    pub fn upload_id(head: &ResponseHead, body: &[u8]) -> Result<String, Error> {
        xml::parse_initiate(body)
            .map(|i| i.upload_id)
            .ok_or_else(|| unexpected("CreateMultipartUpload", head, "no UploadId"))
    }
}

/// UploadPart: `PUT /KEY?partNumber=N&uploadId=ID`, the part streamed by the caller.
pub struct UploadPart<'a> {
    pub upload_id: &'a str,
    pub number: u32,
    /// Content-MD5 (base64), when the part's MD5 was computed before sending.
    pub content_md5: Option<String>,
}

impl UploadPart<'_> {
    pub fn request(self) -> Request {
        let request = Request::new("UploadPart", "PUT", Resource::Object)
            .query("partNumber", self.number.to_string())
            .query("uploadId", self.upload_id);
        match self.content_md5 {
            Some(md5) => request.header("content-md5", md5),
            None => request,
        }
    }

    /// The ETag the store gave the part, which CompleteMultipartUpload names it by.
    pub fn etag(head: &ResponseHead) -> Result<String, Error> {
        head.header("etag")
            .map(str::to_string)
            .ok_or_else(|| unexpected("UploadPart", head, "no ETag"))
    }
}

/// A part as CompleteMultipartUpload lists it.
pub struct CompletedPart<'a> {
    pub etag: &'a str,
    /// Its checksum (base64) under the upload's algorithm, when it was sent with one.
    pub checksum: Option<&'a str>,
}

/// CompleteMultipartUpload: `POST /KEY?uploadId=ID` with the list of parts (numbered
/// from 1, in order); the answer is the object's.
pub struct CompleteMultipartUpload<'a> {
    pub upload_id: &'a str,
    pub parts: &'a [CompletedPart<'a>],
    /// The algorithm the upload was created with.
    pub checksum: Option<Algorithm>,
    /// The whole object's checksum, for the store to check: sent for a CRC (FULL_OBJECT).
    pub object_checksum: Option<String>,
}

/// What CompleteMultipartUpload's answer says of the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completed {
    /// The document's ETag, else the header's.
    pub etag: Option<String>,
    /// The object's checksum under the algorithm asked about: the document's, else the
    /// header's.
    pub checksum: Option<String>,
}

impl CompleteMultipartUpload<'_> {
    pub fn request(self) -> Request {
        let element = self.checksum.map(Algorithm::xml_element);
        let sums: Vec<[(&str, &str); 1]> = self
            .parts
            .iter()
            .map(|p| [(element.unwrap_or(""), p.checksum.unwrap_or(""))])
            .collect();
        let list: Vec<xml::CompletedPart<'_>> = self
            .parts
            .iter()
            .zip(&sums)
            .enumerate()
            .map(|(i, (p, sum))| {
                let listed: &[(&str, &str)] = if p.checksum.is_some() && element.is_some() {
                    sum
                } else {
                    &[]
                };
                (u32::try_from(i + 1).unwrap_or(u32::MAX), p.etag, listed)
            })
            .collect();
        let mut body = String::with_capacity(64 + self.parts.len() * 90);
        xml::write_complete_body(&list, &mut body);
        let mut request = Request::new("CompleteMultipartUpload", "POST", Resource::Object)
            .query("uploadId", self.upload_id)
            .header("content-type", "application/xml");
        if let Some((a, whole)) = self.checksum.zip(self.object_checksum) {
            if a.is_crc() {
                request = request
                    .header(a.header_name(), whole)
                    .header("x-amz-checksum-type", "FULL_OBJECT");
            }
        }
        request.body = body.into_bytes();
        request
    }

    /// The object's ETag and its checksum under `algorithm` in the answer, where given.
    pub fn answer(head: &ResponseHead, body: &[u8], algorithm: Option<Algorithm>) -> Completed {
        let document = xml::parse_complete(body);
        let etag = document
            .as_ref()
            .and_then(|c| c.etag.clone())
            .or_else(|| head.header("etag").map(str::to_string));
        let checksum = algorithm.and_then(|a| {
            document
                .as_ref()
                .and_then(|c| c.checksums.iter().find(|(n, _)| n == a.xml_element()))
                .map(|(_, v)| v.clone())
                .or_else(|| head.header(a.header_name()).map(str::to_string))
        });
        Completed { etag, checksum }
    }
}

/// AbortMultipartUpload: `DELETE /KEY?uploadId=ID`.
pub struct AbortMultipartUpload<'a> {
    pub upload_id: &'a str,
}

impl AbortMultipartUpload<'_> {
    pub fn request(self) -> Request {
        Request::new("AbortMultipartUpload", "DELETE", Resource::Object)
            .query("uploadId", self.upload_id)
    }
}

/// ListParts: `GET /KEY?uploadId=ID[&part-number-marker=N]`, one page of the parts the
/// store holds.
pub struct ListParts<'a> {
    pub upload_id: &'a str,
    /// The page after this part number (the previous page's NextPartNumberMarker).
    pub marker: Option<u32>,
}

impl ListParts<'_> {
    pub fn request(self) -> Request {
        let request =
            Request::new("ListParts", "GET", Resource::Object).query("uploadId", self.upload_id);
        match self.marker {
            Some(m) => request.query("part-number-marker", m.to_string()),
            None => request,
        }
    }

    pub fn page(head: &ResponseHead, body: &[u8]) -> Result<PartsPage, Error> {
        xml::parse_list_parts(body)
            .ok_or_else(|| unexpected("ListParts", head, "not a ListPartsResult"))
    }
}

/// ListMultipartUploads: `GET /BUCKET?uploads&prefix=KEY`, a request to the bucket.
pub struct ListMultipartUploads<'a> {
    pub prefix: &'a str,
}

impl ListMultipartUploads<'_> {
    pub fn request(self) -> Request {
        Request::new("ListMultipartUploads", "GET", Resource::Bucket)
            .query("uploads", "")
            .query("prefix", self.prefix)
    }

    pub fn page(head: &ResponseHead, body: &[u8]) -> Result<UploadsPage, Error> {
        xml::parse_list_uploads(body).ok_or_else(|| {
            unexpected(
                "ListMultipartUploads",
                head,
                "not a ListMultipartUploadsResult",
            )
        })
    }
}

/// A success answer that is not what the action returns.
fn unexpected(action: &str, head: &ResponseHead, what: &str) -> Error {
    Error::Protocol(format!(
        "the store answered {action} with {} but {what}: it may not support multipart uploads",
        head.status_line()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(status: u16, headers: &[(&str, &str)]) -> ResponseHead {
        ResponseHead {
            minor_version: 1,
            status,
            reason: "OK".into(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn query(r: &Request) -> Vec<(&str, &str)> {
        r.query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn each_action_has_its_method_resource_and_query() {
        let create = CreateMultipartUpload {
            headers: vec![("content-type".into(), "text/plain".into())],
            checksum: Some(Algorithm::Sha256),
        }
        .request();
        assert_eq!(
            (create.method, query(&create)),
            ("POST", vec![("uploads", "")])
        );
        assert!(create
            .headers
            .contains(&("x-amz-checksum-type".into(), "COMPOSITE".into())));
        let part = UploadPart {
            upload_id: "a/b",
            number: 7,
            content_md5: None,
        }
        .request();
        assert_eq!(
            (part.method, query(&part)),
            ("PUT", vec![("partNumber", "7"), ("uploadId", "a/b")])
        );
        let list = ListParts {
            upload_id: "u",
            marker: Some(1000),
        }
        .request();
        assert_eq!(
            query(&list),
            [("uploadId", "u"), ("part-number-marker", "1000")]
        );
        let uploads = ListMultipartUploads { prefix: "k" }.request();
        assert_eq!(
            (uploads.resource, query(&uploads)),
            (Resource::Bucket, vec![("uploads", ""), ("prefix", "k")])
        );
        let abort = AbortMultipartUpload { upload_id: "u" }.request();
        assert_eq!(
            (abort.method, query(&abort)),
            ("DELETE", vec![("uploadId", "u")])
        );
    }

    #[test]
    fn complete_lists_the_parts_and_the_whole_crc() {
        let parts = [
            CompletedPart {
                etag: "\"e1\"",
                checksum: Some("AAAAAA=="),
            },
            CompletedPart {
                etag: "\"e2\"",
                checksum: None,
            },
        ];
        let r = CompleteMultipartUpload {
            upload_id: "u",
            parts: &parts,
            checksum: Some(Algorithm::Crc32),
            object_checksum: Some("BBBBBB==".into()),
        }
        .request();
        assert_eq!(
            String::from_utf8(r.body).unwrap(),
            "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
             <Part><PartNumber>1</PartNumber><ETag>&quot;e1&quot;</ETag><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part>\
             <Part><PartNumber>2</PartNumber><ETag>&quot;e2&quot;</ETag></Part></CompleteMultipartUpload>"
        );
        assert!(r
            .headers
            .contains(&("x-amz-checksum-crc32".into(), "BBBBBB==".into())));
    }

    #[test]
    fn answers_are_read_or_refused() {
        let ok = head(200, &[("etag", "\"h\"")]);
        let doc = b"<InitiateMultipartUploadResult><UploadId>id-1</UploadId></InitiateMultipartUploadResult>";
        assert_eq!(CreateMultipartUpload::upload_id(&ok, doc).unwrap(), "id-1");
        let err = CreateMultipartUpload::upload_id(&ok, b"<html/>").unwrap_err();
        assert!(err.to_string().contains("no UploadId"), "{err}");
        assert_eq!(UploadPart::etag(&ok).unwrap(), "\"h\"");
        assert!(UploadPart::etag(&head(200, &[])).is_err());
        // An empty <ETag></ETag> (RGW) leaves the header's.
        let done = b"<CompleteMultipartUploadResult><ETag></ETag><ChecksumCRC32>X==</ChecksumCRC32></CompleteMultipartUploadResult>";
        let answer = CompleteMultipartUpload::answer(&ok, done, Some(Algorithm::Crc32));
        assert_eq!(answer.etag.as_deref(), Some("\"h\""));
        assert_eq!(answer.checksum.as_deref(), Some("X=="));
        assert!(ListParts::page(&ok, b"<Error/>").is_err());
    }
}
