//! The command line: pico-args into [`Options`], unknown flags refused, then run.

use crate::config::{
    self, MultipartOptions, ObjectHeaders, OnFailure, Options, PayloadMode, SignatureVersion,
};
use crate::error::exit;
use crate::{report, upload, Error};
use std::ffi::OsString;
use std::process::ExitCode;
use std::time::Duration;

pub const HELP: &str = "\
s3push: stream a file into an S3-compatible bucket in constant memory

USAGE:
  s3push [OPTIONS] FILE s3://BUCKET/KEY
  s3push [OPTIONS] FILE s3://BUCKET/PREFIX/     (key = PREFIX/ + the file's name)
  s3push [OPTIONS] - s3://BUCKET/KEY            (standard input)
  s3push --resume FILE s3://BUCKET/KEY          (finish an interrupted multipart upload)
  s3push --abort [--upload-id ID] [FILE] s3://BUCKET/KEY   (discard one)

EXAMPLES:
  s3push backup.tar.gz s3://my-bucket/
  s3push --endpoint http://127.0.0.1:9000 disk.img s3://images/2026/disk.img
  s3push --signature v2 --acl public-read photo.jpg s3://legacy-bucket/
  pg_dump db | s3push --expected-size 200G - s3://backups/db.sql

WHERE:
  --endpoint URL          S3-compatible store, http[s]://HOST[:PORT] (also AWS_ENDPOINT_URL_S3,
                          AWS_ENDPOINT_URL, endpoint_url in the profile); default AWS
  --region REGION         signing region (also AWS_REGION, AWS_DEFAULT_REGION, profile); us-east-1
  --profile NAME          profile of ~/.aws/credentials and ~/.aws/config (also AWS_PROFILE)
  --path-style            https://HOST/BUCKET/KEY instead of https://BUCKET.HOST/KEY
  --ca-bundle FILE.pem    also trust the CAs in this PEM file (private CA, self-hosted store;
                          also AWS_CA_BUNDLE, SSL_CERT_FILE, SSL_CERT_DIR); a self-signed
                          server certificate is accepted when it is in the file itself
  --proxy URL|none        http://[USER:PASSWORD@]HOST:PORT for every request, or none
                          (default HTTPS_PROXY / HTTP_PROXY / ALL_PROXY, minus NO_PROXY)
  --dualstack, --fips     AWS's dual-stack (IPv6) and/or FIPS endpoint for the region
  --accelerate            AWS S3 Transfer Acceleration (BUCKET.s3-accelerate.amazonaws.com)

HOW:
  --signature v4|v2       v4 (default), or legacy v2 for old stores
  --payload unsigned|signed|streaming
                          v4 body hash: unsigned (default over https; one pass), signed
                          (default over http; SHA-256 of the file, read once more first),
                          or streaming (aws-chunked: each 8 KiB chunk signed, one pass)
  --connect-timeout SECS  give up connecting after SECS (default 10)
  --timeout SECS          give up when one read or write waits SECS (default 60)
  --retries N             retry what may succeed next time (resets, timeouts, 500, 503
                          SlowDown, 408, 429, RequestTimeout) up to N times (default 4)
  --retry-max-wait SECS   cap of the exponential backoff with jitter (default 20)
  --no-expect             do not send Expect: 100-continue (sent for bodies over 1 MiB, so
                          a refusal costs no upload; some old stores break on it)

INTEGRITY:
  --checksum crc32|crc32c|crc64nvme|sha1|sha256|none
                          checksum the store verifies (x-amz-checksum-*): default crc32
                          (none for v2, R2, B2, GCS); a header when known before sending,
                          else a trailer after the body (one pass)
  --content-md5           send Content-MD5 too (reads the file once more first)
  --verify-etag           check the ETag is the MD5 of what was sent (always on when no
                          checksum is: about 1.4 s of CPU per GiB)
  --delete-on-mismatch    delete an object whose ETag or checksum disagrees (single PUT)

LARGE OBJECTS (multipart):
  --multipart-threshold SIZE  files larger than this go up in parts (default 64M)
  --part-size SIZE        5M..5G; default 8M, larger when needed to fit 10,000 parts
  --jobs N                parts sent at once, each on its own connection (default 4;
                          2 for standard input)
  --on-failure abort|keep a failed or interrupted upload is aborted (its parts deleted), or
                          kept to --resume (default: keep for files from 1 GiB, else abort)
  --upload-id ID          the pending upload to --resume or --abort (else the journal in
                          $XDG_STATE_HOME/s3push, else ListMultipartUploads)
  Standard input is held a part at a time before sending: memory up to (jobs + 1) x part
  size (24 MiB by default), or disk with --spool-dir DIR. Parts grow (x2 every 1,000) so a
  stream never hits 10,000 parts; --expected-size SIZE sizes them from the start, and
  --equal-parts keeps them all one size (Cloudflare R2 needs it; set for *.r2 endpoints).

OBJECT:
  --content-type TYPE     default: guessed from the key's extension
  --acl CANNED            private, public-read, public-read-write, authenticated-read,
                          aws-exec-read, bucket-owner-read, bucket-owner-full-control
  --cache-control V, --content-disposition V, --content-encoding V, --storage-class C
  --meta KEY=VALUE        user metadata (x-amz-meta-KEY), repeatable

OUTPUT:
  -q, --quiet             print nothing on success
  -h, --help, -V, --version

Credentials come from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), else
the profile; never from the command line. Exit codes: 0 ok, 2 usage, 3 local file,
4 credentials (also a proxy's 407), 5 network, 6 TLS, 7 refused by the server, 8 bad
response, 9 integrity.
";

/// Parses `args`, runs the upload, reports, and returns the exit code.
pub fn run(args: Vec<OsString>) -> ExitCode {
    let result = match parse(args) {
        Ok(Parsed::Help) => {
            report::print_stdout(HELP);
            return ExitCode::SUCCESS;
        }
        Ok(Parsed::Version) => {
            report::print_stdout(&format!(
                "s3push {} (rustls {}, ring)\n",
                env!("CARGO_PKG_VERSION"),
                "0.23"
            ));
            return ExitCode::SUCCESS;
        }
        Ok(Parsed::Upload(options)) => {
            let quiet = options.quiet;
            crate::interrupt::install();
            config::resolve(*options, &config::Env::from_process())
                .and_then(|plan| upload::run(&plan))
                .map(|outcome| (outcome, quiet))
        }
        Err(e) => Err(e),
    };
    match result {
        Ok((outcome, quiet)) => {
            if !quiet {
                report::success(&outcome);
            }
            ExitCode::from(exit::OK)
        }
        Err(e) => {
            report::failure(&e);
            ExitCode::from(e.exit_code())
        }
    }
}

#[derive(Debug)]
pub enum Parsed {
    Help,
    Version,
    Upload(Box<Options>),
}

/// Turns the arguments into options; no file or network access.
pub fn parse(args: Vec<OsString>) -> Result<Parsed, Error> {
    let mut p = pico_args::Arguments::from_vec(args);
    if p.contains(["-h", "--help"]) {
        return Ok(Parsed::Help);
    }
    if p.contains(["-V", "--version"]) {
        return Ok(Parsed::Version);
    }
    let text =
        |p: &mut pico_args::Arguments, flag: &'static str| -> Result<Option<String>, Error> {
            p.opt_value_from_str::<_, String>(flag).map_err(usage)
        };
    let seconds =
        |p: &mut pico_args::Arguments, flag: &'static str| -> Result<Option<Duration>, Error> {
            match text(p, flag)? {
                None => Ok(None),
                Some(s) => match s.parse::<f64>() {
                    Ok(v) if v > 0.0 && v <= 86_400.0 => Ok(Some(Duration::from_secs_f64(v))),
                    _ => Err(Error::Usage(format!(
                        "{flag} {s}: give a number of seconds between 0 and 86400"
                    ))),
                },
            }
        };
    let payload = match text(&mut p, "--payload")?.as_deref() {
        None => None,
        Some("unsigned") => Some(PayloadMode::Unsigned),
        Some("signed") => Some(PayloadMode::Signed),
        Some("streaming") => Some(PayloadMode::Streaming),
        Some(other) => {
            return Err(Error::Usage(format!(
                "--payload {other}: use unsigned, signed or streaming"
            )))
        }
    };
    let signature = match text(&mut p, "--signature")?.as_deref() {
        None => None,
        Some("v4" | "4") => Some(SignatureVersion::V4),
        Some("v2" | "2") => Some(SignatureVersion::V2),
        Some(other) => return Err(Error::Usage(format!("--signature {other}: use v4 or v2"))),
    };
    let mut meta = Vec::new();
    for m in p.values_from_str::<_, String>("--meta").map_err(usage)? {
        let (k, v) = m
            .split_once('=')
            .ok_or_else(|| Error::Usage(format!("--meta {m}: write it as --meta KEY=VALUE")))?;
        meta.push((k.to_string(), v.to_string()));
    }
    let object = ObjectHeaders {
        content_type: text(&mut p, "--content-type")?,
        acl: text(&mut p, "--acl")?,
        cache_control: text(&mut p, "--cache-control")?,
        content_disposition: text(&mut p, "--content-disposition")?,
        content_encoding: text(&mut p, "--content-encoding")?,
        storage_class: text(&mut p, "--storage-class")?,
        meta,
    };
    let size = |p: &mut pico_args::Arguments, flag: &'static str| -> Result<Option<u64>, Error> {
        match text(p, flag)? {
            None => Ok(None),
            Some(s) => config::parse_size(&s).map(Some).ok_or_else(|| {
                Error::Usage(format!(
                    "{flag} {s}: give a size in bytes or with K, M, G, T (binary), like 64M"
                ))
            }),
        }
    };
    let multipart = MultipartOptions {
        threshold: size(&mut p, "--multipart-threshold")?,
        part_size: size(&mut p, "--part-size")?,
        expected_size: size(&mut p, "--expected-size")?,
        jobs: match text(&mut p, "--jobs")? {
            None => None,
            Some(n) => Some(n.parse::<u32>().map_err(|_| {
                Error::Usage(format!("--jobs {n}: give a whole number from 1 to 64"))
            })?),
        },
        spool_dir: p
            .opt_value_from_os_str::<_, _, std::convert::Infallible>(
                "--spool-dir",
                |s| Ok(s.into()),
            )
            .map_err(usage)?,
        equal_parts: p.contains("--equal-parts"),
        on_failure: match text(&mut p, "--on-failure")?.as_deref() {
            None => None,
            Some("abort") => Some(OnFailure::Abort),
            Some("keep") => Some(OnFailure::Keep),
            Some(other) => {
                return Err(Error::Usage(format!(
                    "--on-failure {other}: use abort or keep"
                )))
            }
        },
        resume: p.contains("--resume"),
        abort: p.contains("--abort"),
        upload_id: text(&mut p, "--upload-id")?,
    };
    let mut options = Options {
        endpoint: text(&mut p, "--endpoint")?,
        region: text(&mut p, "--region")?,
        profile: text(&mut p, "--profile")?,
        path_style: p.contains("--path-style"),
        payload,
        signature,
        object,
        ca_bundle: p
            .opt_value_from_os_str::<_, _, std::convert::Infallible>(
                "--ca-bundle",
                |s| Ok(s.into()),
            )
            .map_err(usage)?,
        proxy: text(&mut p, "--proxy")?,
        dualstack: p.contains("--dualstack"),
        fips: p.contains("--fips"),
        accelerate: p.contains("--accelerate"),
        connect_timeout: seconds(&mut p, "--connect-timeout")?,
        timeout: seconds(&mut p, "--timeout")?,
        retry_max_wait: seconds(&mut p, "--retry-max-wait")?,
        retries: match text(&mut p, "--retries")? {
            None => None,
            Some(n) => Some(n.parse::<u32>().ok().filter(|&n| n <= 100).ok_or_else(|| {
                Error::Usage(format!("--retries {n}: give a whole number from 0 to 100"))
            })?),
        },
        no_expect: p.contains("--no-expect"),
        quiet: p.contains(["-q", "--quiet"]),
        multipart,
        checksum: match text(&mut p, "--checksum")?.as_deref() {
            None => None,
            Some("none") => Some(None),
            Some(name) => Some(Some(crate::checksum::Algorithm::parse(name).ok_or_else(
                || {
                    Error::Usage(format!(
                        "--checksum {name}: use crc32, crc32c, crc64nvme, sha1, sha256 or none"
                    ))
                },
            )?)),
        },
        content_md5: p.contains("--content-md5"),
        verify_etag: p.contains("--verify-etag"),
        delete_on_mismatch: p.contains("--delete-on-mismatch"),
        ..Default::default()
    };
    if let Some(secret_flag) = ["--secret-access-key", "--secret-key", "--secret"]
        .into_iter()
        .find(|f| p.contains(*f))
    {
        return Err(Error::Usage(format!(
            "{secret_flag} is not taken: a secret on the command line shows in `ps`; set AWS_SECRET_ACCESS_KEY or use --profile"
        )));
    }
    let free = p.finish();
    if let Some(flag) = free
        .iter()
        .find(|a| a.to_str().is_some_and(|s| s.starts_with('-') && s != "-"))
    {
        return Err(Error::Usage(format!(
            "unknown option {}: see s3push --help",
            flag.to_string_lossy()
        )));
    }
    // `--abort --upload-id ID s3://BUCKET/KEY` needs no source.
    let free = if options.multipart.abort && free.len() == 1 {
        let mut free = free;
        free.insert(0, OsString::new());
        free
    } else {
        free
    };
    let [source, destination]: [OsString; 2] = free.try_into().map_err(|free: Vec<OsString>| {
        Error::Usage(format!(
            "expected FILE and s3://BUCKET/KEY, got {} argument(s): see s3push --help",
            free.len()
        ))
    })?;
    options.source = source.into();
    options.destination = destination.into_string().map_err(|d| {
        Error::Usage(format!(
            "destination '{}' is not UTF-8: S3 keys are UTF-8",
            d.to_string_lossy()
        ))
    })?;
    Ok(Parsed::Upload(Box::new(options)))
}

fn usage(e: pico_args::Error) -> Error {
    Error::Usage(format!("{e}: see s3push --help"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    fn options(list: &[&str]) -> Options {
        match parse(args(list)).unwrap() {
            Parsed::Upload(o) => *o,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn flags_and_positionals() {
        let o = options(&[
            "--endpoint",
            "http://127.0.0.1:9000",
            "--meta",
            "a=b=c",
            "f.bin",
            "--meta",
            "x=",
            "s3://b/k",
            "--acl",
            "public-read",
            "--signature",
            "v2",
            "--timeout",
            "1.5",
        ]);
        assert_eq!(o.source, std::path::PathBuf::from("f.bin"));
        assert_eq!(o.destination, "s3://b/k");
        assert_eq!(
            o.object.meta,
            vec![("a".into(), "b=c".into()), ("x".into(), "".into())]
        );
        assert_eq!(o.signature, Some(SignatureVersion::V2));
        assert_eq!(o.timeout, Some(Duration::from_millis(1500)));
        assert_eq!(o.object.acl.as_deref(), Some("public-read"));
    }

    #[test]
    fn network_flags() {
        let o = options(&["--proxy", "none", "--dualstack", "--fips", "f", "s3://b/k"]);
        assert_eq!(o.proxy.as_deref(), Some("none"));
        assert!(o.dualstack && o.fips && !o.accelerate);
        let o = options(&["--accelerate", "--proxy", "http://p:3128", "f", "s3://b/k"]);
        assert_eq!(o.proxy.as_deref(), Some("http://p:3128"));
        assert!(o.accelerate && !o.dualstack);
        assert!(parse(args(&["f", "s3://b/k", "--proxy"])).is_err());
    }

    #[test]
    fn refusals_are_usage_errors() {
        for bad in [
            &["--bogus", "f", "s3://b/k"][..],
            &["f"],
            &["f", "s3://b/k", "extra"],
            &["--payload", "maybe", "f", "s3://b/k"],
            &["--meta", "novalue", "f", "s3://b/k"],
            &["--timeout", "-1", "f", "s3://b/k"],
            &["--secret-access-key", "f", "s3://b/k"],
            &["--region"],
        ] {
            let err = parse(args(bad)).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad:?}: {err}");
        }
        assert!(matches!(parse(args(&["-h"])).unwrap(), Parsed::Help));
    }
}
