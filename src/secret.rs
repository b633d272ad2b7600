//! A secret string: redacted in Debug and Display, zeroed when dropped.

use std::fmt;

/// Holds a secret access key or session token. Its text is only reachable through
/// [`Secret::expose`], so it cannot end up in a message by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    /// The secret text, for signing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        wipe(std::mem::take(&mut self.0).into_bytes());
    }
}

/// Zeroes `bytes` (a request head that carried a token or proxy credentials) before
/// freeing them; black_box keeps the writes from being optimized away.
pub fn wipe(mut bytes: Vec<u8>) {
    bytes.iter_mut().for_each(|b| *b = 0);
    std::hint::black_box(&bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("wJalrXUtnFEMI".into());
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(s.expose(), "wJalrXUtnFEMI");
    }
}
