//! The S3 error and XML field readers never panic, whatever the body.
#![no_main]
use libfuzzer_sys::fuzz_target;
use s3push::http::xml::{field, parse_s3_error};

fuzz_target!(|data: &[u8]| {
    if let Some(e) = parse_s3_error(data) {
        assert!(!e.code.is_empty());
    }
    let doc = String::from_utf8_lossy(data);
    for name in ["Code", "Message", "RequestId", "Error", "UploadId", "ETag"] {
        let _ = field(&doc, name);
    }
});
