//! What the user sees: one line on stdout for a stored object (or one JSON object with
//! `--json`), one line on stderr for a failure, progress and `-v` heads on stderr. A
//! closed stdout does not turn a success into a failure.
//!
//! Everything here is per object: a run of several files calls `success` or `failure`
//! once for each, with a fresh [`progress::Meter`] (upload::start_job) for each.

pub mod json;
mod outcome;
pub mod progress;
pub mod trace;

pub use outcome::Outcome;

use crate::error::Error;
use progress::Kept;
use std::io::Write;

/// How results are shown, from the command line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Output {
    /// `-q`: no result line on success, no notes, no progress.
    pub quiet: bool,
    /// `--json`: results as JSON objects on stdout.
    pub json: bool,
    /// `--progress` (Some(true)) or `--no-progress` (Some(false)).
    pub progress: Option<bool>,
    /// `-v` (1), `-vv` (2).
    pub verbose: u8,
}

/// Where a failure happened, when it is known: the object, and what the upload left.
#[derive(Debug, Clone, Default)]
pub struct Target<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    /// `s3://bucket/key`, or a URL destination without its query.
    pub url: &'a str,
    pub kept: Option<Kept>,
}

/// The text line (`uploaded s3://bucket/key  N bytes  etag "..."  S s  R MiB/s`), or the
/// JSON object with `--json`; nothing with `--quiet` (and no `--json`).
pub fn success(output: &Output, outcome: &Outcome) {
    if output.json {
        print_stdout(&(success_json(outcome) + "\n"));
    } else if !output.quiet {
        print_stdout(&success_line(outcome));
    }
}

/// `s3push: <kind>: <message>` on stderr, on one line; with `--json`, also the error
/// object on stdout, where the results of the other objects go.
pub fn failure(output: &Output, error: &Error, target: Option<&Target<'_>>) {
    if output.json {
        print_stdout(&(failure_json(error, target) + "\n"));
    }
    let line = format!(
        "s3push: {}: {}\n",
        error.kind(),
        one_line(&error.to_string())
    );
    write_stderr(&line);
}

/// `s3push: warning: <message>` on stderr: something the user should fix, that did not
/// stop the upload.
pub fn warning(message: &str) {
    write_stderr(&format!("s3push: warning: {}\n", one_line(message)));
}

/// `s3push: <message>` on stderr: what the user should know while it runs (unless quiet).
pub fn note(quiet: bool, message: &str) {
    if !quiet {
        write_stderr(&format!("s3push: {}\n", one_line(message)));
    }
}

/// Writes to stderr in one write, clearing a progress line first. Nothing more can be
/// done if stderr is gone.
fn write_stderr(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err
        .write_all(progress::clear_prefix())
        .and_then(|()| err.write_all(text.as_bytes()));
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
    if o.skipped {
        return one_line(&format!("skipped {} identical  {} bytes", o.url, o.bytes)) + "\n";
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

/// The `--json` object of a stored object (doc/output.md): one line, no line end.
pub fn success_json(o: &Outcome) -> String {
    let url_destination = o.bucket.is_empty();
    let base = json::Object::new()
        .opt_str(
            "bucket",
            Some(o.bucket.as_str()).filter(|_| !url_destination),
        )
        .opt_str("key", Some(o.key.as_str()).filter(|_| !url_destination))
        .str("url", &o.url);
    if let Some(id) = &o.aborted {
        return base.str("aborted_upload_id", id).finish();
    }
    if o.skipped {
        return base
            .uint("size", o.bytes)
            .opt_str("etag", o.etag.as_deref().map(unquote))
            .bool("skipped", true)
            .str("reason", "identical")
            .finish();
    }
    let seconds = o.elapsed.as_secs_f64();
    let rate = if seconds > 0.0 {
        o.bytes as f64 / seconds
    } else {
        0.0
    };
    let checksum = o.checksum.as_ref().map(|(a, value)| {
        let composite = o.parts > 0 && !a.is_crc();
        json::Object::new()
            .str("algorithm", a.api_name())
            .str(
                "type",
                if composite {
                    "COMPOSITE"
                } else {
                    "FULL_OBJECT"
                },
            )
            .str("value", value)
    });
    base.uint("size", o.bytes)
        .opt_str("etag", o.etag.as_deref().map(unquote))
        .opt_str("version_id", o.version_id.as_deref())
        .object("checksum", checksum)
        .uint("parts", u64::from(o.parts))
        .float("seconds", seconds, 3)
        .float("bytes_per_second", rate, 0)
        .uint("retries", u64::from(o.retries))
        .str_array(
            "protection_warnings",
            o.protection_warnings.iter().map(String::as_str),
        )
        .finish()
}

/// The `--json` object of a failure: the object when known, and `error` with the kind,
/// exit code, message, the store's answer (status, S3 code, request id) when there was
/// one, and the upload a failure kept on the server with the commands for it.
pub fn failure_json(error: &Error, target: Option<&Target<'_>>) -> String {
    let refusal = match error {
        Error::Refused(r) => Some(r),
        _ => None,
    };
    let kept = target.and_then(|t| t.kept.as_ref());
    let detail = json::Object::new()
        .str("kind", error.kind())
        .uint("exit_code", u64::from(error.exit_code()))
        .str("message", &one_line(&error.to_string()));
    let detail = match refusal {
        Some(r) => detail
            .uint("status", u64::from(r.status))
            .opt_str("s3_code", r.code.as_deref())
            .opt_str("request_id", r.request_id.as_deref()),
        None => detail.null("status").null("s3_code").null("request_id"),
    };
    let detail = detail
        .opt_str("upload_id", kept.map(|k| k.upload_id.as_str()))
        .opt_str("resume", kept.and_then(|k| k.resume.as_deref()))
        .opt_str("discard", kept.map(|k| k.discard.as_str()));
    // A URL destination has no bucket or key of its own: null, and its URL.
    json::Object::new()
        .opt_str("bucket", target.map(|t| t.bucket).filter(|b| !b.is_empty()))
        .opt_str(
            "key",
            target
                .map(|t| t.key)
                .filter(|_| target.is_some_and(|t| !t.bucket.is_empty())),
        )
        .opt_str("url", target.map(|t| t.url))
        .object("error", Some(detail))
        .finish()
}

/// An ETag without its quotes (S3 sends `"hex"`).
fn unquote(etag: &str) -> &str {
    let t = etag.trim();
    t.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(t)
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
    use crate::checksum::Algorithm;
    use std::time::Duration;

    fn outcome() -> Outcome {
        Outcome {
            url: "s3://b/k".into(),
            bucket: "b".into(),
            key: "k".into(),
            bytes: 1_048_576,
            etag: Some("\"abc\"".into()),
            version_id: None,
            checksum: None,
            elapsed: Duration::from_millis(500),
            parts: 0,
            retries: 0,
            aborted: None,
            skipped: false,
            echo: Vec::new(),
            protection_warnings: Vec::new(),
        }
    }

    #[test]
    fn success_line_has_url_bytes_etag_and_rate() {
        assert_eq!(
            success_line(&outcome()),
            "uploaded s3://b/k  1048576 bytes  etag \"abc\"  0.50 s  2.0 MiB/s\n"
        );
    }

    #[test]
    fn success_json_has_every_field() {
        let mut o = outcome();
        o.key = "dir/\"odd\"\nkey".into();
        o.parts = 3;
        o.retries = 2;
        o.checksum = Some((Algorithm::Sha256, "AAAA-3".into()));
        o.version_id = Some("v1".into());
        let text = success_json(&o);
        assert!(!text.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["bucket"], "b");
        assert_eq!(v["key"], "dir/\"odd\"\nkey");
        assert_eq!(v["size"], 1_048_576);
        assert_eq!(v["etag"], "abc");
        assert_eq!(v["version_id"], "v1");
        assert_eq!(v["checksum"]["algorithm"], "SHA256");
        assert_eq!(v["checksum"]["type"], "COMPOSITE");
        assert_eq!(v["checksum"]["value"], "AAAA-3");
        assert_eq!(v["parts"], 3);
        assert_eq!(v["seconds"], 0.5);
        assert_eq!(v["bytes_per_second"], 2_097_152.0);
        assert_eq!(v["retries"], 2);
        assert_eq!(v["protection_warnings"], serde_json::json!([]));
        o.protection_warnings = vec!["--tagging (1 tags asked, x-amz-tagging-count absent)".into()];
        let v: serde_json::Value = serde_json::from_str(&success_json(&o)).unwrap();
        assert_eq!(v["protection_warnings"][0], o.protection_warnings[0]);
        let plain: serde_json::Value = serde_json::from_str(&success_json(&outcome())).unwrap();
        assert!(plain["checksum"].is_null() && plain["version_id"].is_null());
    }

    #[test]
    fn failure_json_has_kind_code_and_the_store_answer() {
        let e = Error::Refused(Box::new(crate::error::Refusal {
            status_line: "HTTP/1.1 403 Forbidden".into(),
            status: 403,
            code: Some("AccessDenied".into()),
            message: Some("no".into()),
            request_id: Some("RID".into()),
            hint: None,
            server_date: None,
            region: None,
        }));
        let target = Target {
            bucket: "b",
            key: "k",
            url: "s3://b/k",
            kept: Some(Kept {
                upload_id: "U1".into(),
                resume: Some("s3push --resume f s3://b/k".into()),
                discard: "s3push --abort --upload-id U1 s3://b/k".into(),
            }),
        };
        let v: serde_json::Value = serde_json::from_str(&failure_json(&e, Some(&target))).unwrap();
        assert_eq!(v["url"], "s3://b/k");
        let err = &v["error"];
        assert_eq!(err["kind"], "refused");
        assert_eq!(err["exit_code"], 7);
        assert_eq!(err["status"], 403);
        assert_eq!(err["s3_code"], "AccessDenied");
        assert_eq!(err["request_id"], "RID");
        assert_eq!(err["upload_id"], "U1");
        assert_eq!(err["resume"], "s3push --resume f s3://b/k");
        assert!(err["message"].as_str().unwrap().contains("AccessDenied"));
        let usage: serde_json::Value =
            serde_json::from_str(&failure_json(&Error::Usage("bad\nflag".into()), None)).unwrap();
        assert!(usage["bucket"].is_null());
        assert_eq!(usage["error"]["exit_code"], 2);
        assert_eq!(usage["error"]["message"], "bad flag");
        assert!(usage["error"]["upload_id"].is_null());
    }

    #[test]
    fn messages_lose_line_breaks() {
        assert_eq!(one_line("a\r\nb\tc\n"), "a  b c");
    }
}
