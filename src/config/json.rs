//! A reader for the flat JSON objects the credential sources answer with (credential_process
//! output, the ECS and EC2 metadata documents): the top-level members of one object, with
//! string escapes decoded. Nested objects and arrays are checked and skipped. Not a
//! general JSON library: just enough of RFC 8259 to read those documents strictly.

/// The deepest nesting accepted (the documents read here are flat).
const MAX_DEPTH: usize = 32;

/// A top-level member's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    String(String),
    /// The number as written (`1`, `-2.5e3`).
    Number(String),
    Bool(bool),
    Null,
    /// An object or array, not kept.
    Nested,
}

/// The members of a JSON object, in document order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Object {
    pub members: Vec<(String, Value)>,
}

impl Object {
    /// Parses `doc`, which must be one JSON object (whitespace around it allowed).
    pub fn parse(doc: &str) -> Option<Object> {
        let mut reader = Reader {
            text: doc.as_bytes(),
            at: 0,
        };
        reader.space();
        let members = reader.object_members()?;
        reader.space();
        (reader.at == reader.text.len()).then(|| Object {
            members: members.into_iter().map(|(n, v, _)| (n, v)).collect(),
        })
    }

    /// The member `name` of the object `doc` when that member is itself an object, read
    /// as [`Object::parse`] reads a document (one level down: `{"roleCredentials": {...}}`).
    pub fn parse_member(doc: &str, name: &str) -> Option<Object> {
        let mut reader = Reader {
            text: doc.as_bytes(),
            at: 0,
        };
        reader.space();
        let members = reader.object_members()?;
        reader.space();
        if reader.at != reader.text.len() {
            return None;
        }
        let (_, _, span) = members.into_iter().find(|(n, _, _)| n == name)?;
        Object::parse(doc.get(span)?)
    }

    /// The first member named `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.members.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The member `name` when it is a string.
    pub fn string(&self, name: &str) -> Option<&str> {
        match self.get(name)? {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
}

struct Reader<'a> {
    text: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    fn space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.at += 1;
        }
    }

    /// `{ "name": value, ... }` at the top level, members kept with where each value lies.
    fn object_members(&mut self) -> Option<Vec<(String, Value, std::ops::Range<usize>)>> {
        self.eat(b'{')?;
        let mut members = Vec::new();
        self.space();
        if self.eat(b'}').is_some() {
            return Some(members);
        }
        loop {
            self.space();
            let name = self.string()?;
            self.space();
            self.eat(b':')?;
            self.space();
            let start = self.at;
            let value = self.value(1)?;
            members.push((name, value, start..self.at));
            self.space();
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(members);
                }
                _ => return None,
            }
        }
    }

    fn value(&mut self, depth: usize) -> Option<Value> {
        match self.peek()? {
            b'"' => self.string().map(Value::String),
            b'{' | b'[' => {
                self.skip_nested(depth)?;
                Some(Value::Nested)
            }
            b't' => self.word(b"true").map(|()| Value::Bool(true)),
            b'f' => self.word(b"false").map(|()| Value::Bool(false)),
            b'n' => self.word(b"null").map(|()| Value::Null),
            b'-' | b'0'..=b'9' => self.number().map(Value::Number),
            _ => None,
        }
    }

    /// Checks and skips an object or array (members not kept).
    fn skip_nested(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        let close = match self.peek()? {
            b'{' => b'}',
            _ => b']',
        };
        self.at += 1;
        self.space();
        if self.eat(close).is_some() {
            return Some(());
        }
        loop {
            self.space();
            if close == b'}' {
                self.string()?;
                self.space();
                self.eat(b':')?;
                self.space();
            }
            self.value(depth + 1)?;
            self.space();
            match self.peek()? {
                b',' => self.at += 1,
                b if b == close => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    fn word(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at.checked_add(word.len())?;
        (self.text.get(self.at..end)? == word).then(|| self.at = end)
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, kept as written.
    fn number(&mut self) -> Option<String> {
        let start = self.at;
        let _ = self.eat(b'-');
        match self.peek()? {
            b'0' => self.at += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.eat(b'.').is_some() {
            self.peek().filter(u8::is_ascii_digit)?;
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            self.peek().filter(u8::is_ascii_digit)?;
            self.digits();
        }
        let text = std::str::from_utf8(&self.text[start..self.at]).ok()?;
        Some(text.to_string())
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
    }

    /// A string with its escapes decoded; control characters must be escaped.
    fn string(&mut self) -> Option<String> {
        self.eat(b'"')?;
        let mut out = Vec::new();
        loop {
            let b = self.peek()?;
            self.at += 1;
            match b {
                b'"' => return String::from_utf8(out).ok(),
                b'\\' => {
                    let e = self.peek()?;
                    self.at += 1;
                    let simple = match e {
                        b'"' => Some(b'"'),
                        b'\\' => Some(b'\\'),
                        b'/' => Some(b'/'),
                        b'b' => Some(0x08),
                        b'f' => Some(0x0c),
                        b'n' => Some(b'\n'),
                        b'r' => Some(b'\r'),
                        b't' => Some(b'\t'),
                        b'u' => None,
                        _ => return None,
                    };
                    match simple {
                        Some(byte) => out.push(byte),
                        None => {
                            let c = self.unicode_escape()?;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        }
                    }
                }
                0x00..=0x1f => return None,
                _ => out.push(b),
            }
        }
    }

    /// After `\u`: four hex digits, and a low surrogate's `\uXXXX` after a high one.
    fn unicode_escape(&mut self) -> Option<char> {
        let first = self.hex4()?;
        if (0xD800..0xDC00).contains(&first) {
            self.eat(b'\\')?;
            self.eat(b'u')?;
            let low = self.hex4()?;
            if !(0xDC00..0xE000).contains(&low) {
                return None;
            }
            return char::from_u32(0x10000 + ((first - 0xD800) << 10) + (low - 0xDC00));
        }
        char::from_u32(first)
    }

    fn hex4(&mut self) -> Option<u32> {
        let end = self.at.checked_add(4)?;
        let digits = self.text.get(self.at..end)?;
        if !digits.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        let value = u32::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()?;
        self.at = end;
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_object_one_level_down() {
        // AWS SSO portal API, "GetRoleCredentials": the keys sit in roleCredentials.
        let doc = r#"{"roleCredentials": {"accessKeyId": "AK", "expiration": 1700000000000,
            "nested": {"x": [1, 2]}}, "other": 1}"#;
        let o = Object::parse_member(doc, "roleCredentials").unwrap();
        assert_eq!(o.string("accessKeyId"), Some("AK"));
        assert_eq!(
            o.get("expiration"),
            Some(&Value::Number("1700000000000".into()))
        );
        assert_eq!(o.get("nested"), Some(&Value::Nested));
        assert_eq!(Object::parse_member(doc, "other"), None);
        assert_eq!(Object::parse_member(doc, "missing"), None);
        assert_eq!(Object::parse_member(r#"{"a": {"b": 1}} x"#, "a"), None);
        assert_eq!(Object::parse_member(r#"{"a": [{"b": 1}]}"#, "a"), None);
    }

    #[test]
    fn credential_process_output() {
        // AWS CLI user guide, "Sourcing credentials with an external process".
        let doc = r#"{
  "Version": 1,
  "AccessKeyId": "an AWS access key",
  "SecretAccessKey": "your AWS secret access key",
  "SessionToken": "the AWS session token for temporary credentials",
  "Expiration": "ISO8601 timestamp when the credentials expire"
}"#;
        let o = Object::parse(doc).unwrap();
        assert_eq!(o.get("Version"), Some(&Value::Number("1".into())));
        assert_eq!(o.string("AccessKeyId"), Some("an AWS access key"));
        assert_eq!(
            o.string("Expiration"),
            Some("ISO8601 timestamp when the credentials expire")
        );
        assert_eq!(o.string("Version"), None);
        assert_eq!(o.get("Absent"), None);
    }

    #[test]
    fn escapes_nesting_and_scalars() {
        let doc = r#" {"a":"x\"y\\z\/\n\u00e9\ud83d\ude00","n":-1.5e+3,"t":true,"f":false,
            "z":null,"o":{"k":[1,{"x":[]},"s"]},"arr":[],"e":{}} "#;
        let o = Object::parse(doc).unwrap();
        assert_eq!(o.string("a"), Some("x\"y\\z/\n\u{e9}\u{1f600}"));
        assert_eq!(o.get("n"), Some(&Value::Number("-1.5e+3".into())));
        assert_eq!(o.get("t"), Some(&Value::Bool(true)));
        assert_eq!(o.get("f"), Some(&Value::Bool(false)));
        assert_eq!(o.get("z"), Some(&Value::Null));
        assert_eq!(o.get("o"), Some(&Value::Nested));
        assert_eq!(o.members.len(), 8);
        assert_eq!(Object::parse("{}").unwrap().members.len(), 0);
    }

    #[test]
    fn refuses_what_is_not_one_object() {
        for bad in [
            "",
            "[]",
            "\"s\"",
            "{",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "{\"a\":1}{}",
            "{\"a\":01}",
            "{\"a\":1.}",
            "{\"a\":tru}",
            "{\"a\":\"line\nbreak\"}",
            "{\"a\":\"\\x\"}",
            "{\"a\":\"\\ud800\"}",
            "{\"a\":\"\\u12\"}",
            "{a:1}",
            "{\"a\":[1,]}",
            "{\"a\":{\"b\"}}",
        ] {
            assert_eq!(Object::parse(bad), None, "{bad:?}");
        }
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(40), "]".repeat(40));
        assert_eq!(Object::parse(&deep), None);
        let ok = format!("{{\"a\":{}{}}}", "[".repeat(20), "]".repeat(20));
        assert!(Object::parse(&ok).is_some());
    }
}
