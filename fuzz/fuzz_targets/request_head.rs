//! Whatever name and value it is given, the request head writer either refuses or writes
//! lines that no CR or LF splits: one request line, one line per header, a blank line.
#![no_main]
use libfuzzer_sys::fuzz_target;
use s3push::http::request::write_request_head;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\u{1}');
    let (Some(name), Some(value)) = (parts.next(), parts.next()) else { return };
    let target = parts.next().unwrap_or("/");
    let headers = vec![(name.to_string(), value.to_string()), ("Host".to_string(), "h".to_string())];
    let mut out = Vec::new();
    if write_request_head("PUT", target, &headers, &mut out).is_ok() {
        let text = String::from_utf8_lossy(&out);
        let body = text.strip_suffix("\r\n\r\n").expect("ends with a blank line");
        let lines: Vec<&str> = body.split("\r\n").collect();
        assert_eq!(lines.len(), 3);
        for line in &lines {
            assert!(!line.contains('\r') && !line.contains('\n'));
        }
        assert!(lines[1].contains(": ") && lines[2] == "Host: h");
    }
});
