//! Typed S3 actions: one small type per call s3push makes (PutObject, HeadObject,
//! DeleteObject, GetObjectAcl, CreateMultipartUpload, UploadPart, CompleteMultipartUpload,
//! AbortMultipartUpload, ListParts, ListMultipartUploads). Each knows its method, whether
//! it goes to the object or its bucket, its query and its own headers, and reads its
//! answer; where a request goes (`Address`) is built and encoded here, once.
//!
//! This layer signs and sends nothing and knows no Plan: upload/ gives it the values,
//! signs what it returns (upload::request) and sends it (upload::exchange).

mod address;
mod object;
mod parts;

pub use address::{query_string, Address, Resource};
pub use object::{DeleteObject, GetObjectAcl, HeadObject, PutObject};
pub use parts::{
    AbortMultipartUpload, CompleteMultipartUpload, CompletedPart, CreateMultipartUpload,
    ListMultipartUploads, ListParts, PartInfo, PartsPage, PendingUpload, UploadPart, UploadsPage,
};

/// One S3 request as its action defines it, before it is addressed to a host, signed
/// and sent. A streamed body (an object, a part) is the caller's; a small document body
/// (CompleteMultipartUpload's list of parts) is here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The action's name in the S3 API reference, for messages.
    pub action: &'static str,
    pub method: &'static str,
    pub resource: Resource,
    /// Decoded query pairs; the signer sorts and encodes them (`query_string`).
    pub query: Vec<(String, String)>,
    /// The action's headers, names lowercase.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    fn new(action: &'static str, method: &'static str, resource: Resource) -> Request {
        Request {
            action,
            method,
            resource,
            query: Vec::new(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A query parameter; an empty value is a bare name (`?uploads`).
    fn query(mut self, name: &str, value: impl Into<String>) -> Request {
        self.query.push((name.to_string(), value.into()));
        self
    }

    /// Adds a header (name lowercase) to what the action sends.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Request {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// Adds headers (names lowercase) to what the action sends.
    pub fn headers(mut self, more: impl IntoIterator<Item = (String, String)>) -> Request {
        self.headers.extend(more);
        self
    }
}
