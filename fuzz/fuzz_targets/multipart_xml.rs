//! The multipart answers' readers never panic, whatever the body; and a CompleteMultipart-
//! Upload body written from any ETags reads back to the same ETags.
#![no_main]
use libfuzzer_sys::fuzz_target;
use s3push::http::xml::{
    elements, field, parse_complete, parse_initiate, parse_list_parts, parse_list_uploads,
    write_complete_body,
};

fuzz_target!(|data: &[u8]| {
    if let Some(i) = parse_initiate(data) {
        assert!(!i.upload_id.is_empty());
    }
    if let Some(page) = parse_list_parts(data) {
        assert!(page.parts.iter().all(|p| (1..=10_000).contains(&p.number)));
    }
    let _ = parse_complete(data);
    if let Some(page) = parse_list_uploads(data) {
        assert!(page.uploads.iter().all(|u| !u.upload_id.is_empty()));
    }
    // Round trip: the input, cut at NUL bytes, as ETags (any text but NUL).
    let text = String::from_utf8_lossy(data);
    let etags: Vec<&str> = text.split('\0').take(50).collect();
    let parts: Vec<(u32, &str, &[(&str, &str)])> = etags
        .iter()
        .enumerate()
        .map(|(i, e)| (i as u32 + 1, *e, &[][..]))
        .collect();
    let mut body = String::new();
    write_complete_body(&parts, &mut body);
    let back: Vec<String> = elements(&body, "Part")
        .into_iter()
        .map(|p| field(p, "ETag").unwrap_or_default())
        .collect();
    // Text that XML cannot carry as such (carriage returns are kept; control characters
    // are written as they are) still comes back, since the reader takes what was written.
    assert_eq!(back.len(), etags.len());
    for (a, b) in back.iter().zip(&etags) {
        assert_eq!(a, b);
    }
});
