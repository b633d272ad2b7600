//! A tiny JSON writer for `--json`: one object per line, built field by field. Strings
//! are escaped per RFC 8259 section 7 (quote, backslash, every control character as
//! `\u00XX`), so any Rust `str` (always UTF-8) comes out as valid JSON.

use std::fmt::Write;

/// A JSON object being written; `finish` closes it.
#[derive(Debug)]
pub struct Object {
    out: String,
    empty: bool,
}

impl Default for Object {
    fn default() -> Object {
        Object::new()
    }
}

impl Object {
    pub fn new() -> Object {
        Object {
            out: String::from("{"),
            empty: true,
        }
    }

    /// `"name":"value"`.
    pub fn str(mut self, name: &str, value: &str) -> Object {
        self.name(name);
        write_string(&mut self.out, value);
        self
    }

    /// `"name":"value"`, or `"name":null`.
    pub fn opt_str(self, name: &str, value: Option<&str>) -> Object {
        match value {
            Some(v) => self.str(name, v),
            None => self.null(name),
        }
    }

    /// `"name":123`.
    pub fn uint(mut self, name: &str, value: u64) -> Object {
        self.name(name);
        let _ = write!(self.out, "{value}");
        self
    }

    /// `"name":1.234` with `decimals` digits after the point; null when not finite (JSON
    /// has no NaN or infinity).
    pub fn float(mut self, name: &str, value: f64, decimals: usize) -> Object {
        self.name(name);
        if value.is_finite() {
            let _ = write!(self.out, "{value:.decimals$}");
        } else {
            self.out.push_str("null");
        }
        self
    }

    pub fn bool(mut self, name: &str, value: bool) -> Object {
        self.name(name);
        self.out.push_str(if value { "true" } else { "false" });
        self
    }

    pub fn null(mut self, name: &str) -> Object {
        self.name(name);
        self.out.push_str("null");
        self
    }

    /// `"name":["a","b"]` (`[]` when empty).
    pub fn str_array<'a>(
        mut self,
        name: &str,
        values: impl IntoIterator<Item = &'a str>,
    ) -> Object {
        self.name(name);
        self.out.push('[');
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            write_string(&mut self.out, v);
        }
        self.out.push(']');
        self
    }

    /// `"name":{...}`, or `"name":null`.
    pub fn object(mut self, name: &str, value: Option<Object>) -> Object {
        match value {
            Some(inner) => {
                self.name(name);
                self.out.push_str(&inner.finish());
                self
            }
            None => self.null(name),
        }
    }

    /// The object's text, without a line end.
    pub fn finish(mut self) -> String {
        self.out.push('}');
        self.out
    }

    fn name(&mut self, name: &str) {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        write_string(&mut self.out, name);
        self.out.push(':');
    }
}

/// Appends `text` as a JSON string: `"` and `\` escaped, control characters (U+0000 to
/// U+001F, and DEL) as `\u00XX`; U+2028 and U+2029 escaped too, for JavaScript readers.
pub fn write_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c < ' ' || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted(text: &str) -> String {
        let mut out = String::new();
        write_string(&mut out, text);
        out
    }

    #[test]
    fn quote_backslash_and_controls_are_escaped() {
        assert_eq!(quoted(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(
            quoted("line\nbreak\ttab\r"),
            r#""line\u000abreak\u0009tab\u000d""#
        );
        assert_eq!(quoted("\u{0}\u{1f}\u{7f}"), r#""\u0000\u001f\u007f""#);
        assert_eq!(quoted("\u{2028}\u{2029}"), r#""\u2028\u2029""#);
        assert_eq!(quoted(""), r#""""#);
    }

    #[test]
    fn non_ascii_passes_through_as_utf8() {
        assert_eq!(quoted("clé/日本/😀"), "\"clé/日本/😀\"");
        // A key that was not UTF-8, shown lossily, is still a valid string.
        let lossy = String::from_utf8_lossy(b"bad\xff\xfe.bin").into_owned();
        let text = quoted(&lossy);
        let back: String = serde_json::from_str(&text).unwrap();
        assert_eq!(back, lossy);
    }

    #[test]
    fn every_char_round_trips_through_a_json_parser() {
        // Every control and a sample of every plane, one string.
        let mut all = String::new();
        for c in (0u32..0x100).chain((0x100..0x11_0000).step_by(97)) {
            if let Some(c) = char::from_u32(c) {
                all.push(c);
            }
        }
        let text = quoted(&all);
        assert!(!text.chars().any(|c| c < ' '), "raw control in {text:?}");
        let back: String = serde_json::from_str(&text).unwrap();
        assert_eq!(back, all);
    }

    #[test]
    fn objects_nest_and_parse() {
        let inner = Object::new()
            .str("algorithm", "CRC32")
            .str("value", "AAAA==");
        let text = Object::new()
            .str("key", "a \"b\"\n")
            .uint("size", u64::MAX)
            .float("seconds", 1.23456, 3)
            .float("rate", f64::NAN, 0)
            .opt_str("version_id", None)
            .bool("ok", true)
            .object("checksum", Some(inner))
            .object("none", None)
            .str_array("warnings", ["a\"", "b"])
            .str_array("empty", [])
            .finish();
        assert_eq!(
            text,
            r#"{"key":"a \"b\"\u000a","size":18446744073709551615,"seconds":1.235,"rate":null,"version_id":null,"ok":true,"checksum":{"algorithm":"CRC32","value":"AAAA=="},"none":null,"warnings":["a\"","b"],"empty":[]}"#
        );
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["key"], "a \"b\"\n");
        assert_eq!(v["checksum"]["algorithm"], "CRC32");
        assert_eq!(Object::new().finish(), "{}");
    }
}
