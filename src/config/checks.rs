//! The checks that need nothing but the options: the destination and its key, sizes,
//! object header values, the write condition, what a URL destination cannot go with.

use super::{presigned, Condition, ObjectHeaders, Options, UrlTarget};
use crate::error::Error;
use crate::http::request::{check_header_name, check_header_value};

/// S3's limit on key length, in bytes of UTF-8.
pub const MAX_KEY_BYTES: usize = 1024;

/// The canned ACLs S3 defines (x-amz-acl).
pub const CANNED_ACLS: &[&str] = &[
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "aws-exec-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
    "log-delivery-write",
];

/// What a URL destination cannot be combined with, said before anything is sent.
pub(super) fn check_url_destination(
    options: &Options,
    target: &UrlTarget,
    object: &ObjectHeaders,
) -> Result<(), Error> {
    let refuse = |what: &str| {
        Err(Error::Usage(format!(
            "{what} with a URL destination: a presigned URL allows one PUT, as it was signed"
        )))
    };
    if !target.presigned && !options.no_sign_request {
        return Err(Error::Usage(
            "the URL has no presigned query (X-Amz-Signature or Signature): give s3://BUCKET/KEY \
             (with --endpoint for another store), or add --no-sign-request for a public-write bucket"
                .into(),
        ));
    }
    if options.source.as_os_str() == "-" {
        return Err(Error::Usage(
            "standard input cannot go to a URL destination: a presigned URL takes one PUT whose length \
             is known up front; save the stream to a file first"
                .into(),
        ));
    }
    if options.signature.is_some() {
        return refuse("--signature has no use (the URL is signed already)");
    }
    if options.endpoint.is_some() {
        return refuse("--endpoint has no use (the URL names its host)");
    }
    if options.multipart.resume || options.multipart.abort || options.multipart.upload_id.is_some()
    {
        return refuse("--resume, --abort and --upload-id do not apply (no multipart upload)");
    }
    if options.delete_on_mismatch {
        return refuse("--delete-on-mismatch cannot work (the URL allows no DELETE)");
    }
    presigned::check_signed_headers(
        target,
        object,
        options.content_md5,
        options.checksum.flatten(),
    )
}

/// `--no-clobber` or `--if-match ETAG` (not both); an ETag is sent quoted, as S3 gives
/// it (RFC 9110 8.8.3), whether or not the user quoted it.
pub(super) fn resolve_condition(
    no_clobber: bool,
    if_match: Option<String>,
) -> Result<Option<Condition>, Error> {
    match (no_clobber, if_match) {
        (false, None) => Ok(None),
        (true, None) => Ok(Some(Condition::NoneMatch)),
        (true, Some(_)) => Err(Error::Usage(
            "--no-clobber and --if-match: choose one (the first writes only a new object, \
             the second only over a known one)"
                .into(),
        )),
        (false, Some(etag)) => {
            let bare = etag.trim().trim_matches('"');
            if bare.is_empty()
                || !bare
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && b != b'"' && b != b',')
            {
                return Err(Error::Usage(format!(
                    "--if-match {etag:?}: give the object's ETag as the store printed it, like --if-match 9e107d9d372bb6826bd81d3542a419d6"
                )));
            }
            Ok(Some(Condition::Match(if bare == "*" {
                "*".into()
            } else {
                format!("\"{bare}\"")
            })))
        }
    }
}

/// A size: bytes, or with a binary suffix K, M, G, T (KiB, MiB... also accepted).
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let number: u64 = t[..digits].parse().ok()?;
    let unit = t[digits..].trim().to_ascii_lowercase();
    let shift = match unit.trim_end_matches("ib").trim_end_matches('b') {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        _ => return None,
    };
    number.checked_mul(1u64 << shift)
}

/// `s3://BUCKET/KEY`; a key that is empty or ends in `/` gets the source's base name.
pub fn parse_destination(dest: &str, source: &std::path::Path) -> Result<(String, String), Error> {
    let rest = dest.strip_prefix("s3://").ok_or_else(|| {
        Error::Usage(format!(
            "bad destination '{dest}': write it as s3://BUCKET/KEY or s3://BUCKET/PREFIX/"
        ))
    })?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(Error::Usage(format!(
            "bad destination '{dest}': no bucket name; write it as s3://BUCKET/KEY"
        )));
    }
    if bucket
        .bytes()
        .any(|b| !(b.is_ascii_alphanumeric() || b"-._".contains(&b)))
    {
        return Err(Error::Usage(format!(
            "bad bucket name '{bucket}': bucket names hold letters, digits, '-', '.' and '_' only"
        )));
    }
    let mut key = key.to_string();
    if (key.is_empty() || key.ends_with('/')) && source.as_os_str() == "-" {
        return Err(Error::Usage(format!(
            "standard input has no name to use as the key: give the full key, s3://{bucket}/{key}NAME"
        )));
    }
    if key.is_empty() || key.ends_with('/') {
        let base = source
            .file_name()
            .ok_or_else(|| {
                Error::Usage(format!(
                    "'{}' has no file name to use as the key: give the full key, s3://{bucket}/KEY",
                    source.display()
                ))
            })?
            .to_str()
            .ok_or_else(|| {
                Error::Usage(format!(
                    "the file name of '{}' is not UTF-8, which S3 keys must be: give the key, s3://{bucket}/KEY",
                    source.display()
                ))
            })?;
        key.push_str(base);
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(Error::Usage(format!(
            "the key is {} bytes long, over S3's limit of {MAX_KEY_BYTES}: choose a shorter key",
            key.len()
        )));
    }
    if key.chars().any(char::is_control) {
        return Err(Error::Usage(
            "the key holds control characters, which S3 keys cannot carry safely: rename it".into(),
        ));
    }
    Ok((bucket.to_string(), key))
}

/// Checks every value bound for a header (printable ASCII only: S3 keeps metadata as
/// US-ASCII) and fills in the content type guessed from the key.
pub(super) fn check_object_headers(
    mut h: ObjectHeaders,
    key: &str,
    guess_type: bool,
) -> Result<ObjectHeaders, Error> {
    if guess_type && h.content_type.is_none() {
        h.content_type = Some(
            mime_guess::from_path(key)
                .first_raw()
                .unwrap_or("application/octet-stream")
                .to_string(),
        );
    }
    if let Some(acl) = &h.acl {
        if !CANNED_ACLS.contains(&acl.as_str()) {
            return Err(Error::Usage(format!(
                "unknown --acl '{acl}': use one of {}",
                CANNED_ACLS.join(", ")
            )));
        }
    }
    let single = [
        ("--content-type", &h.content_type),
        ("--cache-control", &h.cache_control),
        ("--content-disposition", &h.content_disposition),
        ("--content-encoding", &h.content_encoding),
        ("--storage-class", &h.storage_class),
    ];
    for (flag, value) in single {
        if let Some(v) = value {
            check_value(flag, v)?;
        }
    }
    for (name, value) in &mut h.meta {
        *name = name.to_ascii_lowercase();
        if check_header_name(&format!("x-amz-meta-{name}")).is_err() || name.is_empty() {
            return Err(Error::Usage(format!(
                "bad --meta name '{name}': use letters, digits and '-', as in --meta owner=alice"
            )));
        }
        check_value("--meta", value)?;
    }
    Ok(h)
}

fn check_value(flag: &str, value: &str) -> Result<(), Error> {
    if !value.is_ascii() || check_header_value(value).is_err() {
        return Err(Error::Usage(format!(
            "the value of {flag} has a line break, control or non-ASCII character, which cannot go in a header: remove it"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn destination_forms() {
        let src = Path::new("/tmp/backup.tar.gz");
        let d = |s| parse_destination(s, src);
        assert_eq!(d("s3://b/").unwrap(), ("b".into(), "backup.tar.gz".into()));
        assert_eq!(d("s3://b").unwrap(), ("b".into(), "backup.tar.gz".into()));
        assert_eq!(
            d("s3://b/dir/").unwrap(),
            ("b".into(), "dir/backup.tar.gz".into())
        );
        assert_eq!(
            d("s3://b/dir/name.bin").unwrap(),
            ("b".into(), "dir/name.bin".into())
        );
        assert_eq!(d("s3://b/a//b%20c+d").unwrap().1, "a//b%20c+d");
        for bad in ["http://b/k", "s3://", "s3:///k", "s3://b b/k", "b/k"] {
            assert_eq!(d(bad).unwrap_err().exit_code(), 2, "{bad}");
        }
        let long = format!("s3://b/{}", "k".repeat(1025));
        assert!(d(&long).unwrap_err().to_string().contains("1025 bytes"));
        assert!(d(&format!("s3://b/{}", "k".repeat(1024))).is_ok());
    }

    #[test]
    fn conditions() {
        assert_eq!(resolve_condition(false, None).unwrap(), None);
        assert_eq!(
            resolve_condition(true, None).unwrap().unwrap().header(),
            ("if-none-match".into(), "*".into())
        );
        for given in ["abc123", "\"abc123\"", " abc123 "] {
            assert_eq!(
                resolve_condition(false, Some(given.into())).unwrap(),
                Some(Condition::Match("\"abc123\"".into())),
                "{given}"
            );
        }
        assert_eq!(
            resolve_condition(false, Some("9e10-2".into())).unwrap(),
            Some(Condition::Match("\"9e10-2\"".into()))
        );
        for bad in ["", "\"\"", "a b", "a\r\nx: y", "a,b"] {
            assert_eq!(
                resolve_condition(false, Some(bad.into()))
                    .unwrap_err()
                    .exit_code(),
                2,
                "{bad:?}"
            );
        }
        assert!(resolve_condition(true, Some("abc".into()))
            .unwrap_err()
            .to_string()
            .contains("choose one"));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("123"), Some(123));
        assert_eq!(parse_size("8M"), Some(8 << 20));
        assert_eq!(parse_size("8MiB"), Some(8 << 20));
        assert_eq!(parse_size("5g"), Some(5 << 30));
        assert_eq!(parse_size("1KB"), Some(1024));
        assert_eq!(parse_size("2T"), Some(2 << 40));
        for bad in ["", "M", "1.5G", "-1", "8X", "99999999999999999999"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
        assert_eq!(parse_size("99999999T"), None);
        assert!(parse_destination("s3://b/dir/", Path::new("-")).is_err());
        assert_eq!(
            parse_destination("s3://b/k", Path::new("-")).unwrap().1,
            "k"
        );
    }

    #[test]
    fn headers_are_checked_and_type_guessed() {
        let h = check_object_headers(ObjectHeaders::default(), "a/x.json", true).unwrap();
        assert_eq!(h.content_type.as_deref(), Some("application/json"));
        let h = check_object_headers(ObjectHeaders::default(), "noext", true).unwrap();
        assert_eq!(h.content_type.as_deref(), Some("application/octet-stream"));
        let bad = ObjectHeaders {
            meta: vec![("k".into(), "v\r\nx: y".into())],
            ..Default::default()
        };
        assert_eq!(
            check_object_headers(bad, "k", true)
                .unwrap_err()
                .exit_code(),
            2
        );
        let bad = ObjectHeaders {
            acl: Some("world-writable".into()),
            ..Default::default()
        };
        assert!(check_object_headers(bad, "k", true)
            .unwrap_err()
            .to_string()
            .contains("public-read"));
        let meta = ObjectHeaders {
            meta: vec![("Owner".into(), "alice".into())],
            ..Default::default()
        };
        assert_eq!(
            check_object_headers(meta, "k", true).unwrap().meta[0].0,
            "owner"
        );
    }
}
