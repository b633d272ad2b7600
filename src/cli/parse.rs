//! The arguments into [`Options`] (pico-args), unknown flags refused; no file or network
//! access.

use super::options::{self, seconds, text};
use crate::config::Options;
use crate::error::Error;
use crate::presign::PresignOptions;
use std::ffi::OsString;
use std::path::PathBuf;

#[derive(Debug)]
pub enum Parsed {
    Help,
    HelpAll,
    Version,
    Upload(Box<Options>),
    Presign(Box<PresignOptions>),
    PresignHelp,
}

/// Turns the arguments into options; no file or network access.
pub fn parse(args: Vec<OsString>) -> Result<Parsed, Error> {
    if args.first().is_some_and(|a| a == "presign") {
        return parse_presign(args.into_iter().skip(1).collect());
    }
    let mut p = pico_args::Arguments::from_vec(args);
    if p.contains(["-h", "--help"]) {
        return Ok(Parsed::Help);
    }
    if p.contains("--help-all") {
        return Ok(Parsed::HelpAll);
    }
    if p.contains(["-V", "--version"]) {
        return Ok(Parsed::Version);
    }
    let payload = options::payload(&mut p)?;
    let signature = options::signature(&mut p)?;
    let object = options::object_headers(&mut p)?;
    let multipart = options::multipart(&mut p)?;
    let mut options = Options {
        endpoint: text(&mut p, "--endpoint")?,
        region: text(&mut p, "--region")?,
        profile: text(&mut p, "--profile")?,
        path_style: p.contains("--path-style"),
        payload,
        signature,
        object,
        ca_bundle: options::path(&mut p, "--ca-bundle")?,
        proxy: text(&mut p, "--proxy")?,
        dualstack: p.contains("--dualstack"),
        fips: p.contains("--fips"),
        accelerate: p.contains("--accelerate"),
        connect_timeout: seconds(&mut p, "--connect-timeout")?,
        timeout: seconds(&mut p, "--timeout")?,
        retry_max_wait: seconds(&mut p, "--retry-max-wait")?,
        limit_rate: options::limit_rate(&mut p)?,
        retries: options::retries(&mut p)?,
        no_expect: p.contains("--no-expect"),
        quiet: p.contains(["-q", "--quiet"]),
        json: p.contains("--json"),
        progress: options::progress(&mut p)?,
        verbose: options::verbose(&mut p),
        multipart,
        checksum: options::checksum(&mut p)?,
        content_md5: p.contains("--content-md5"),
        verify_etag: p.contains("--verify-etag"),
        delete_on_mismatch: p.contains("--delete-on-mismatch"),
        no_sign_request: p.contains("--no-sign-request"),
        dry_run: p.contains("--dry-run"),
        no_clobber: p.contains("--no-clobber"),
        if_match: text(&mut p, "--if-match")?,
        protection: options::protection(&mut p)?,
        batch: options::batch(&mut p)?,
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
    if options.batch.nul && options.batch.files_from.is_none() {
        return Err(Error::Usage(
            "-0 says how --files-from's list is separated: give --files-from FILE too".into(),
        ));
    }
    let mut free = free;
    let given = free.len();
    let destination = match free.pop() {
        Some(d) if options.batch.files_from.is_some() && free.is_empty() => d,
        Some(_) if options.batch.files_from.is_some() => {
            return Err(Error::Usage(
                "with --files-from, give only the destination s3://BUCKET/PREFIX/ (list every file in the list)"
                    .into(),
            ))
        }
        Some(d) if !free.is_empty() => d,
        _ if options.batch.files_from.is_some() => {
            return Err(Error::Usage(
                "--files-from needs the destination, s3://BUCKET/PREFIX/".into(),
            ))
        }
        _ => {
            return Err(Error::Usage(format!(
                "expected FILE and s3://BUCKET/KEY, got {given} argument(s): see s3push --help"
            )))
        }
    };
    if free.len() == 1 {
        options.source = free.remove(0).into();
    } else {
        options.batch.sources = free.into_iter().map(PathBuf::from).collect();
    }
    options.destination = destination.into_string().map_err(|d| {
        Error::Usage(format!(
            "destination '{}' is not UTF-8: S3 keys are UTF-8",
            d.to_string_lossy()
        ))
    })?;
    if options.batch.is_batch() {
        crate::batch::prefix_of(&options.destination)?;
    }
    Ok(Parsed::Upload(Box::new(options)))
}

/// `s3push presign [OPTIONS] s3://BUCKET/KEY`.
fn parse_presign(args: Vec<OsString>) -> Result<Parsed, Error> {
    let mut p = pico_args::Arguments::from_vec(args);
    if p.contains(["-h", "--help"]) {
        return Ok(Parsed::PresignHelp);
    }
    let expires = match text(&mut p, "--expires")? {
        None => crate::presign::DEFAULT_EXPIRES_SECS,
        Some(s) => crate::presign::parse_duration(&s).ok_or_else(|| {
            Error::Usage(format!(
                "--expires {s}: give a duration like 90s, 15m, 1h, 7d, or seconds"
            ))
        })?,
    };
    let signature = options::signature(&mut p)?;
    let mut options = PresignOptions {
        expires,
        signature,
        content_type: text(&mut p, "--content-type")?,
        acl: text(&mut p, "--acl")?,
        endpoint: text(&mut p, "--endpoint")?,
        region: text(&mut p, "--region")?,
        profile: text(&mut p, "--profile")?,
        path_style: p.contains("--path-style"),
        quiet: p.contains(["-q", "--quiet"]),
        protection: options::protection(&mut p)?,
        ..Default::default()
    };
    if options.protection.require_protection || options.protection.skip_identical {
        return Err(Error::Usage(
            "--require-protection and --skip-identical check an upload's answer: presign sends nothing; drop them".into(),
        ));
    }
    let free = p.finish();
    if let Some(flag) = free
        .iter()
        .find(|a| a.to_str().is_some_and(|s| s.starts_with('-')))
    {
        return Err(Error::Usage(format!(
            "unknown presign option {}: see s3push presign --help",
            flag.to_string_lossy()
        )));
    }
    let [destination]: [OsString; 1] = free.try_into().map_err(|free: Vec<OsString>| {
        Error::Usage(format!(
            "presign takes one s3://BUCKET/KEY, got {} argument(s): see s3push presign --help",
            free.len()
        ))
    })?;
    options.destination = destination
        .into_string()
        .map_err(|_| Error::Usage("the destination is not UTF-8: S3 keys are UTF-8".into()))?;
    Ok(Parsed::Presign(Box::new(options)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SignatureVersion;
    use std::time::Duration;

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
    fn output_flags() {
        let o = options(&["f", "s3://b/k"]);
        assert_eq!((o.json, o.progress, o.verbose), (false, None, 0));
        let o = options(&["--json", "--progress", "-v", "f", "s3://b/k"]);
        assert_eq!((o.json, o.progress, o.verbose), (true, Some(true), 1));
        assert_eq!(options(&["-vv", "f", "s3://b/k"]).verbose, 2);
        assert_eq!(options(&["-v", "--verbose", "f", "s3://b/k"]).verbose, 2);
        assert_eq!(options(&["-vv", "-v", "f", "s3://b/k"]).verbose, 2);
        assert_eq!(
            options(&["--no-progress", "f", "s3://b/k"]).progress,
            Some(false)
        );
        assert!(parse(args(&["--progress", "--no-progress", "f", "s3://b/k"])).is_err());
        assert!(parse(args(&["-vvv", "f", "s3://b/k"])).is_err());
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

    #[test]
    fn presign_is_a_subcommand_with_its_own_flags() {
        let parsed = parse(args(&[
            "presign",
            "--expires",
            "15m",
            "s3://b/k",
            "--content-type",
            "text/csv",
            "--signature",
            "v2",
        ]));
        match parsed.unwrap() {
            Parsed::Presign(o) => {
                assert_eq!(o.expires, 900);
                assert_eq!(o.destination, "s3://b/k");
                assert_eq!(o.content_type.as_deref(), Some("text/csv"));
                assert_eq!(o.signature, Some(SignatureVersion::V2));
            }
            other => panic!("{other:?}"),
        }
        match parse(args(&["presign", "s3://b/k"])).unwrap() {
            Parsed::Presign(o) => assert_eq!(o.expires, 3600),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse(args(&["presign", "--help"])).unwrap(),
            Parsed::PresignHelp
        ));
        for bad in [
            &["presign"][..],
            &["presign", "--expires", "1w", "s3://b/k"],
            &["presign", "--bogus", "s3://b/k"],
            &["presign", "s3://b/k", "s3://b/j"],
            &["presign", "--payload", "signed", "s3://b/k"],
        ] {
            let err = parse(args(bad)).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad:?}: {err}");
        }
        // A file named presign is uploaded when it is not the first argument.
        let o = options(&["--no-sign-request", "./presign", "https://h/b/k"]);
        assert!(o.no_sign_request);
        assert_eq!(o.destination, "https://h/b/k");
    }

    #[test]
    fn several_sources_and_lists() {
        let o = options(&["a.log", "dir/b.log", "s3://b/logs/", "--fail-fast"]);
        assert!(o.batch.is_batch() && o.batch.fail_fast);
        assert_eq!(
            o.batch.sources,
            vec![PathBuf::from("a.log"), "dir/b.log".into()]
        );
        assert_eq!(o.source, PathBuf::new());
        let o = options(&["--files-from", "-", "-0", "s3://b/"]);
        assert_eq!(o.batch.files_from, Some(PathBuf::from("-")));
        assert!(o.batch.nul && o.batch.is_batch());
        let o = options(&["one.log", "s3://b/logs/", "--no-clobber"]);
        assert!(!o.batch.is_batch() && o.no_clobber);
        assert_eq!(o.source, PathBuf::from("one.log"));
        let o = options(&["--if-match", "\"abc\"", "f", "s3://b/k"]);
        assert_eq!(o.if_match.as_deref(), Some("\"abc\""));
        for (bad, needle) in [
            (&["a", "b", "s3://b/logs"][..], "like s3://b/logs/"),
            (&["a", "b", "s3://b"], "end the destination with '/'"),
            (
                &["--files-from", "l", "a", "s3://b/p/"],
                "only the destination",
            ),
            (&["--files-from", "l"], "needs the destination"),
            (&["-0", "a", "s3://b/p/"], "--files-from FILE"),
        ] {
            let err = parse(args(bad)).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad:?}: {err}");
            assert!(err.to_string().contains(needle), "{bad:?}: {err}");
        }
    }
}
