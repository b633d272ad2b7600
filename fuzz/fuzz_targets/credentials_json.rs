//! The JSON reader of credential_process output and the metadata services' documents
//! never panics, and a document it accepts gives the same members when parsed again
//! from its own compact rendering of strings.
#![no_main]
use libfuzzer_sys::fuzz_target;
use s3push::config::json::{Object, Value};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Some(object) = Object::parse(&text) else {
        return;
    };
    let _ = object.string("AccessKeyId");
    let _ = object.get("Version");
    // Strings rendered back with every character escaped read back the same.
    let mut doc = String::from("{");
    for (i, (name, value)) in object.members.iter().enumerate() {
        if i > 0 {
            doc.push(',');
        }
        push_string(&mut doc, name);
        doc.push(':');
        match value {
            Value::String(s) => push_string(&mut doc, s),
            Value::Number(n) => doc.push_str(n),
            Value::Bool(b) => doc.push_str(if *b { "true" } else { "false" }),
            Value::Null => doc.push_str("null"),
            Value::Nested => doc.push_str("[]"),
        }
    }
    doc.push('}');
    let again = Object::parse(&doc).expect("a rendered object parses");
    assert_eq!(again, object);
});

fn push_string(out: &mut String, s: &str) {
    out.push('"');
    for unit in s.encode_utf16() {
        out.push_str(&format!("\\u{unit:04x}"));
    }
    out.push('"');
}
