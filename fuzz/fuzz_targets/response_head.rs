//! The response head parser never panics; a complete head's length is within the input,
//! and any prefix of it is Partial or an error (never a different complete head).
#![no_main]
use libfuzzer_sys::fuzz_target;
use s3push::http::response::{ResponseHead, Status};

fuzz_target!(|data: &[u8]| {
    if let Ok(Status::Complete(n, head)) = ResponseHead::parse(data) {
        assert!(n <= data.len());
        assert!((100..=599).contains(&head.status));
        let _ = head.status_line();
        if n > 0 {
            match ResponseHead::parse(&data[..n - 1]) {
                Ok(Status::Complete(..)) => panic!("a prefix parsed as complete"),
                _ => {}
            }
        }
    }
});
