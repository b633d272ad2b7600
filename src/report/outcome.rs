//! What an upload reports: the stored object as the store confirmed it. Built by upload
//! (`Outcome::of`, from the plan), shown here.

use crate::checksum::Algorithm;
use std::time::Duration;

/// A stored object, as the store confirmed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// `s3://bucket/key`.
    pub url: String,
    pub bucket: String,
    pub key: String,
    pub bytes: u64,
    pub etag: Option<String>,
    pub version_id: Option<String>,
    /// The object's checksum the store verified (base64; a composite one ends in `-N`).
    pub checksum: Option<(Algorithm, String)>,
    pub elapsed: Duration,
    /// Parts of a multipart upload; 0 for a single PUT.
    pub parts: u32,
    /// Requests sent again, over all the calls of this object.
    pub retries: u32,
    /// Set by `--abort`: the upload id that was aborted (nothing was uploaded).
    pub aborted: Option<String>,
    /// `--skip-identical` found the object already stored: nothing was sent.
    pub skipped: bool,
    /// The answer's encryption headers (upload::protect), names lowercase.
    pub echo: Vec<(String, String)>,
    /// Protections asked for that the store did not show (upload::protect::check), one
    /// entry each, as the warning names them; empty when all were shown or none asked.
    pub protection_warnings: Vec<String>,
}
