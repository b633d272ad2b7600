//! What the user sees: one line on stdout for a stored object, one line on stderr for a
//! failure. A closed stdout does not turn a success into a failure.

use crate::upload::Outcome;
use crate::Error;
use std::io::Write;

/// `uploaded s3://bucket/key  N bytes  etag "..."  S s  R MiB/s`
pub fn success(outcome: &Outcome) {
    print_stdout(&success_line(outcome));
}

/// `s3push: <kind>: <message>`, on one line.
pub fn failure(error: &Error) {
    let line = format!(
        "s3push: {}: {}\n",
        error.kind(),
        one_line(&error.to_string())
    );
    // Nothing more can be done if stderr is gone too.
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// `s3push: warning: <message>` on stderr: something the user should fix, that did not
/// stop the upload.
pub fn warning(message: &str) {
    let line = format!("s3push: warning: {}\n", one_line(message));
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// `s3push: <message>` on stderr: what the user should know while it runs (unless quiet).
pub fn note(quiet: bool, message: &str) {
    if !quiet {
        let line = format!("s3push: {}\n", one_line(message));
        let _ = std::io::stderr().write_all(line.as_bytes());
    }
}

/// Writes to stdout, ignoring a closed pipe (`s3push ... | head -0` still succeeds).
pub fn print_stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

pub fn success_line(o: &Outcome) -> String {
    if let Some(id) = &o.aborted {
        return one_line(&format!(
            "aborted upload {id} of {}: its parts are deleted",
            o.url
        )) + "\n";
    }
    let seconds = o.elapsed.as_secs_f64();
    let rate = if seconds > 0.0 {
        o.bytes as f64 / seconds / (1024.0 * 1024.0)
    } else {
        0.0
    };
    let mut line = format!("uploaded {}  {} bytes", o.url, o.bytes);
    if o.parts > 0 {
        line.push_str(&format!("  {} parts", o.parts));
    }
    if let Some(etag) = &o.etag {
        line.push_str(&format!("  etag {etag}"));
    }
    if let Some(v) = &o.version_id {
        line.push_str(&format!("  version {v}"));
    }
    line.push_str(&format!("  {seconds:.2} s  {rate:.1} MiB/s\n"));
    one_line(&line) + "\n"
}

/// Control characters (a server's text included) never break the one-line promise.
fn one_line(text: &str) -> String {
    text.trim_end()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn success_line_has_url_bytes_etag_and_rate() {
        let o = Outcome {
            url: "s3://b/k".into(),
            bytes: 1_048_576,
            etag: Some("\"abc\"".into()),
            version_id: None,
            elapsed: Duration::from_millis(500),
            parts: 0,
            aborted: None,
        };
        assert_eq!(
            success_line(&o),
            "uploaded s3://b/k  1048576 bytes  etag \"abc\"  0.50 s  2.0 MiB/s\n"
        );
    }

    #[test]
    fn messages_lose_line_breaks() {
        assert_eq!(one_line("a\r\nb\tc\n"), "a  b c");
    }
}
