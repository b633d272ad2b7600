//! The command line: pico-args into [`Options`], unknown flags refused, then run.

use crate::config::{
    self, BatchOptions, MultipartOptions, ObjectHeaders, OnFailure, Options, PayloadMode,
    SignatureVersion,
};
use crate::error::exit;
use crate::presign::PresignOptions;
use crate::{report, upload, Error};
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

pub const HELP: &str = "\
s3push: stream a file or standard input into an S3 bucket, in constant memory

  s3push [OPTIONS] FILE s3://BUCKET/KEY     (or s3://BUCKET/PREFIX/)
  s3push [OPTIONS] FILE... s3://BUCKET/PREFIX/   (or --files-from LIST|- [-0])
  s3push [OPTIONS] - s3://BUCKET/KEY        (standard input, any length)
  s3push --resume FILE s3://BUCKET/KEY      (finish an interrupted upload)
  s3push presign s3://BUCKET/KEY --expires 1h    (print a presigned PUT URL)

EXAMPLES:
  s3push backup.tar.gz s3://my-bucket/
  s3push --endpoint http://127.0.0.1:9000 disk.img s3://images/2026/disk.img
  pg_dump db | s3push --expected-size 200G - s3://backups/db.sql
  s3push --signature v2 --acl public-read photo.jpg s3://legacy-bucket/
  s3push --json --no-clobber *.log s3://logs/host1/

COMMON OPTIONS:
  --endpoint URL     the store, http[s]://HOST[:PORT] (default: AWS)
  --region R         signing region (default us-east-1; also AWS_REGION)
  --profile NAME     a profile of ~/.aws/credentials and ~/.aws/config
  --path-style       HOST/BUCKET/KEY (chosen by itself for IPs and localhost)
  --ca-bundle PEM    also trust these CAs, or this self-signed certificate
  --checksum ALG     crc32 (default), crc32c, crc64nvme, sha1, sha256, none
  --payload MODE     unsigned (https default), signed (http), streaming
  --jobs N           parts at once (default 4); --part-size SIZE (8M)
  --on-failure X     abort or keep an unfinished upload in parts
  --no-clobber       never overwrite an existing object
  --acl CANNED, --content-type T, --meta K=V, --storage-class C
  -q, --quiet, --json, --progress, -v, -vv
  --help-all         every option (also man s3push); -V, --version

Credentials: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY, else the profile, web
identity, container or instance role; never the command line. Exit codes:
0 stored, 2 usage, 3 local file, 4 credentials, 5 network, 6 TLS, 7 refused,
8 bad response, 9 integrity, 10 upload kept, 11 not written, 130 interrupted.
";

/// `s3push --help-all`: every option; doc/s3push.1 and completions/ are made from it
/// (scripts/gen-docs).
pub const HELP_ALL: &str = "\
s3push: stream a file into an S3-compatible bucket in constant memory

USAGE:
  s3push [OPTIONS] FILE s3://BUCKET/KEY
  s3push [OPTIONS] FILE s3://BUCKET/PREFIX/     (key = PREFIX/ + the file's name)
  s3push [OPTIONS] - s3://BUCKET/KEY            (standard input)
  s3push --resume FILE s3://BUCKET/KEY          (finish an interrupted multipart upload)
  s3push --abort [--upload-id ID] [FILE] s3://BUCKET/KEY   (discard one)
  s3push [OPTIONS] FILE 'https://HOST/BUCKET/KEY?X-Amz-...'  (PUT to a presigned URL)
  s3push presign s3://BUCKET/KEY [--expires 1h]  (print a presigned PUT URL; presign --help)
  s3push [OPTIONS] FILE... s3://BUCKET/PREFIX/  (several files: each key = PREFIX/ + name)
  s3push [OPTIONS] --files-from LIST|- s3://BUCKET/PREFIX/   (key = PREFIX/ + listed path)

EXAMPLES:
  s3push backup.tar.gz s3://my-bucket/
  s3push --endpoint http://127.0.0.1:9000 disk.img s3://images/2026/disk.img
  s3push --signature v2 --acl public-read photo.jpg s3://legacy-bucket/
  pg_dump db | s3push --expected-size 200G - s3://backups/db.sql
  find . -name '*.gz' -print0 | s3push --files-from - -0 --no-clobber s3://logs/host1/

WHERE:
  --endpoint URL          S3-compatible store, http[s]://HOST[:PORT] (also
                          AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, endpoint_url in the
                          profile); default AWS
  --region REGION         signing region (also AWS_REGION, AWS_DEFAULT_REGION, the
                          profile); default us-east-1
  --profile NAME          profile of ~/.aws/credentials and ~/.aws/config (also AWS_PROFILE)
  --path-style            https://HOST/BUCKET/KEY instead of https://BUCKET.HOST/KEY
  --ca-bundle FILE.pem    also trust the CAs in this PEM file (private CA, self-hosted
                          store; also AWS_CA_BUNDLE, SSL_CERT_FILE, SSL_CERT_DIR); a
                          self-signed server certificate is accepted when it is in it
  --proxy URL|none        http://, https://, socks5h:// or socks5://HOST:PORT for every
                          request, or none (default HTTPS_PROXY / HTTP_PROXY / ALL_PROXY,
                          minus NO_PROXY; a proxy password goes in those variables,
                          never on the command line)
  --dualstack             AWS's dual-stack (IPv6 and IPv4) endpoint for the region
  --fips                  AWS's FIPS endpoint for the region (with --dualstack: both)
  --accelerate            AWS S3 Transfer Acceleration (BUCKET.s3-accelerate.amazonaws.com)
  --no-sign-request       send requests unsigned, with no credentials (public-write bucket)

HOW:
  --signature v4|v2       v4 (default), or legacy v2 for old stores
  --payload unsigned|signed|streaming
                          v4 body hash: unsigned (default over https; one pass), signed
                          (default over http; SHA-256 of the file, read once more first),
                          or streaming (aws-chunked: each 8 KiB chunk signed, one pass)
  --connect-timeout SECS  give up connecting after SECS (default 10)
  --timeout SECS          give up on an answer whose head is not all there SECS after
                          the request, or a body that moves under 64 KiB in SECS (a
                          stall); a TLS handshake gets SECS too (default 60)
  --retries N             retry what may succeed next time (resets, timeouts, 500, 503
                          SlowDown, 408, 429, RequestTimeout) up to N times (default 4)
  --retry-max-wait SECS   cap of the exponential backoff with jitter (default 20)
  --limit-rate RATE       send at most RATE body bytes per second, all parts together
                          (4MiB, 500K; also S3PUSH_LIMIT_RATE)
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
  --no-clobber            never overwrite: If-None-Match: * (an existing key exits 11)
  --if-match ETAG         overwrite only the object that has this ETag (else exit 11)

SEVERAL FILES:
  --files-from FILE|-     upload the paths listed in FILE (- : standard input), one a line;
                          a relative path keeps its directories under the prefix
  -0                      the list is NUL-separated (find -print0)
  --fail-fast             stop at the first failed file (default: go on, exit with the
                          first failure's code and print \"N uploaded, M failed\")

LARGE OBJECTS (multipart):
  --multipart-threshold SIZE  files larger than this go up in parts (default 64M)
  --part-size SIZE        5M..5G; default 8M, larger when needed to fit 10,000 parts
  --jobs N                parts sent at once, each on its own connection (default 4;
                          2 for standard input)
  --on-failure abort|keep
                          a failed or interrupted upload is aborted (its parts deleted), or
                          kept to --resume (default: keep for files from 1 GiB, else abort)
  --resume                finish the pending upload of FILE: only missing parts are sent
  --abort                 discard a pending upload (with --upload-id ID, no FILE needed)
  --upload-id ID          the pending upload to --resume or --abort (else the journal in
                          $XDG_STATE_HOME/s3push, else ListMultipartUploads)
  --spool-dir DIR         hold standard input's parts in an unlinked file here, not memory
  --max-memory SIZE       cap what standard input holds (also S3PUSH_MAX_MEMORY; default:
                          the cgroup's memory limit: v2 memory.max, else v1
                          memory.limit_in_bytes). 6 MiB is left for s3push itself and
                          (jobs + 1) x part size fits the rest: fewer jobs (down to 1),
                          then smaller parts (down to 5M), else the parts wait in TMPDIR
                          (else /tmp), else an error names the smallest cap (16M).
                          --jobs or --part-size given over the cap is an error. Parts
                          grow only as far as the cap holds, then on disk in TMPDIR;
                          with nowhere to spool, a stream too long for 10,000 such parts
                          fails before its 10,000th part is sent.
  --expected-size SIZE    the stream's likely size: its parts are sized from the start
  --size SIZE             the stream's exact size: a stream that ends short of it (or goes
                          past it) is not stored (a producer that failed, cut short)
  --equal-parts           keep every part one size (Cloudflare R2 needs it; set for *.r2)
                          Standard input is held a part at a time before sending: memory
                          up to (jobs + 1) x part size (24 MiB by default). Parts grow (x2
                          every 1,000) so a stream never hits 10,000 parts.

OBJECT:
  --content-type TYPE     default: guessed from the key's extension
  --acl CANNED            private, public-read, public-read-write, authenticated-read,
                          aws-exec-read, bucket-owner-read, bucket-owner-full-control
  --cache-control V       Cache-Control of the object
  --content-disposition V Content-Disposition of the object
  --content-encoding V    Content-Encoding of the object (gzip: stored as sent)
  --storage-class C       STANDARD, STANDARD_IA, GLACIER_IR, ... as the store names them
  --meta KEY=VALUE        user metadata (x-amz-meta-KEY), repeatable
  --tagging 'K=V&K2=V2'   the object's tags (x-amz-tagging; at most 10; encoded for you)

PROTECTION (doc/protection.md):
  --sse AES256|aws:kms|aws:kms:dsse
                          server-side encryption by the store (SSE-S3, SSE-KMS, DSSE-KMS)
  --sse-kms-key-id ID     the KMS key (id, alias or ARN) for --sse aws:kms
  --sse-kms-context JSON  KMS encryption context, a JSON object of strings
  --bucket-key-enabled    use an S3 Bucket Key with --sse aws:kms
  --sse-c-key-file FILE   SSE-C: encrypt with this key, exactly 32 raw bytes (https only;
                          sent with every request to the object, masked in -v and --dry-run)
  --object-lock-mode GOVERNANCE|COMPLIANCE
                          Object Lock retention, with --object-lock-retain-until-date
  --object-lock-retain-until-date DATE
                          RFC 3339, like 2030-01-31T00:00:00Z (in the future)
  --object-lock-legal-hold-status ON|OFF
                          legal hold (Object Lock needs a checksum or Content-MD5: with
                          --checksum none, Content-MD5 is sent)
  --expected-bucket-owner ACCOUNT
                          refuse a bucket of another 12-digit account (every request)
  --request-payer requester
                          agree to pay for a requester-pays bucket (every request)
  --require-protection    encryption, retention or tags asked for and not shown by the
                          store are an error (exit 9: stored, not protected), not a warning
  --skip-identical        look first (HEAD): an object of the same size and checksum (or
                          MD5 ETag) is skipped, not sent again (exit 0; nightly reruns)

OUTPUT:
  -q, --quiet             print nothing on success (and no progress)
  --progress, --no-progress
                          progress on stderr: redrawn on a terminal (the default there);
                          elsewhere --progress writes a line every 5 s
  --json                  one JSON object per object on stdout, errors too (doc/output.md)
  -v, -vv, --verbose      request and response heads on stderr (secrets masked); -vv adds
                          connects, TLS, reused connections, retries and their waits
  --dry-run               print the first request s3push would send (signature, tokens
                          and proxy credentials masked) and send nothing
  -h, --help              the short help; --help-all: this one
  -V, --version           version, TLS stack and what this build can do

Credentials, never from the command line, in the SDKs' order: AWS_ACCESS_KEY_ID/
AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN); web identity (AWS_WEB_IDENTITY_TOKEN_FILE +
AWS_ROLE_ARN); the profile (role_arn, keys, credential_process); container credentials
(AWS_CONTAINER_CREDENTIALS_*); EC2 instance metadata (IMDSv2). Temporary ones are
refreshed during long uploads. Exit codes: 0 ok, 2 usage, 3 local file,
4 credentials (also a proxy's 407), 5 network, 6 TLS, 7 refused by the server,
8 bad response, 9 integrity, 10 multipart upload kept, 11 not written (--no-clobber,
--if-match), 130 interrupted.
";

pub const PRESIGN_HELP: &str = "\
s3push presign: print a URL that lets its holder PUT one object, until it expires, with
no credentials of their own (nothing is sent; credentials and addressing as for uploads)

USAGE:
  s3push presign [OPTIONS] s3://BUCKET/KEY

EXAMPLES:
  url=$(s3push presign --expires 15m s3://my-bucket/report.pdf)
  curl -T report.pdf \"$url\"          or: s3push report.pdf \"$url\"
  s3push presign --content-type text/csv s3://my-bucket/a.csv   (the PUT must send it)

OPTIONS:
  --expires DURATION      90s, 15m, 1h, 7d or seconds; at most 7 days (default 1h)
  --content-type TYPE     sign this Content-Type: the upload must send exactly it
  --acl CANNED            the object's canned ACL (v4: carried in the URL; v2: a header
                          the upload must send)
  --signature v4|v2       v4 (default: X-Amz-* query), or legacy v2 (Expires, Signature)
  --endpoint URL, --region REGION, --profile NAME, --path-style   as for uploads
  -q, --quiet             print only the URL (not the headers the upload must send)
";

/// `s3push --version`: the version, the TLS stack and what this build can do.
pub fn version() -> String {
    format!(
        "s3push {}\n\
         tls: rustls 0.23 (ring provider; TLS 1.3 and 1.2), {} built-in roots (webpki-roots)\n\
         signatures: sigv4 sigv2 presign; payload: unsigned signed streaming (aws-chunked, trailers)\n\
         checksums: crc32 crc32c crc64nvme sha1 sha256, content-md5, etag-md5; multipart, stdin\n",
        env!("CARGO_PKG_VERSION"),
        webpki_roots::TLS_SERVER_ROOTS.len()
    )
}

/// Parses `args`, runs the upload, reports, and returns the exit code.
pub fn run(args: Vec<OsString>) -> ExitCode {
    // Known before parsing, so that a usage error is JSON too.
    let json = args.iter().any(|a| a == "--json");
    let failed = |e: Error| {
        let output = report::Output {
            json,
            ..Default::default()
        };
        report::failure(&output, &e, None);
        ExitCode::from(e.exit_code())
    };
    match parse(args) {
        Ok(Parsed::Help) => {
            report::print_stdout(HELP);
            ExitCode::SUCCESS
        }
        Ok(Parsed::HelpAll) => {
            report::print_stdout(HELP_ALL);
            ExitCode::SUCCESS
        }
        Ok(Parsed::Version) => {
            report::print_stdout(&version());
            ExitCode::SUCCESS
        }
        Ok(Parsed::PresignHelp) => {
            report::print_stdout(PRESIGN_HELP);
            ExitCode::SUCCESS
        }
        Ok(Parsed::Presign(options)) => {
            let quiet = options.quiet;
            match crate::presign::run(*options, &config::Env::from_process()) {
                Ok(presigned) => {
                    report::print_stdout(&format!("{}\n", presigned.url));
                    if !presigned.headers.is_empty() {
                        let list: Vec<String> = presigned
                            .headers
                            .iter()
                            .map(|(n, v)| format!("{n}: {v}"))
                            .collect();
                        report::note(
                            quiet,
                            &format!("the PUT must send these headers: {}", list.join(", ")),
                        );
                    }
                    ExitCode::from(exit::OK)
                }
                Err(e) => failed(e),
            }
        }
        Ok(Parsed::Upload(options)) if options.batch.is_batch() => run_batch(&options),
        Ok(Parsed::Upload(options)) => {
            let output = output_of(&options);
            report::trace::set_level(output.verbose);
            crate::interrupt::install();
            match config::resolve(*options, &config::Env::from_process()) {
                Ok(plan) => {
                    for warning in &plan.warnings {
                        report::warning(warning);
                    }
                    ExitCode::from(upload_and_report(&plan, &output))
                }
                Err(e) => {
                    report::failure(&output, &e, None);
                    ExitCode::from(e.exit_code())
                }
            }
        }
        Err(e) => failed(e),
    }
}

/// Several files: each with its progress and its result (text or JSON) as it is done,
/// then the summary on stderr.
fn run_batch(options: &Options) -> ExitCode {
    let output = output_of(options);
    report::trace::set_level(output.verbose);
    crate::interrupt::install();
    let result = crate::batch::run(
        options,
        &config::Env::from_process(),
        |plan, slot| with_progress(plan, &output, || upload::run_on(plan, slot)),
        |plan, result| report_result(&output, plan, result),
    );
    match result {
        Ok(summary) => {
            let trouble = summary.failed > 0 || summary.stopped.is_some();
            if summary.files() != 1 || summary.stopped.is_some() {
                report::note(output.quiet && !trouble, &summary.line());
            }
            ExitCode::from(summary.exit_code())
        }
        Err(e) => {
            report::failure(&output, &e, None);
            ExitCode::from(e.exit_code())
        }
    }
}

/// How results are shown, as the options say.
fn output_of(options: &Options) -> report::Output {
    report::Output {
        quiet: options.quiet,
        json: options.json,
        progress: options.progress,
        verbose: options.verbose,
    }
}

/// Uploads one object with its progress shown, reports its result (text or JSON), and
/// returns its exit code.
pub fn upload_and_report(plan: &config::Plan, output: &report::Output) -> u8 {
    let result = with_progress(plan, output, || upload::run(plan));
    report_result(output, Some(plan), result.as_ref());
    match result {
        Ok(_) => exit::OK,
        Err(e) => e.exit_code(),
    }
}

/// Starts a new object (its meter) and runs `upload` with its progress on stderr (as
/// the output asks).
fn with_progress(
    plan: &config::Plan,
    o: &report::Output,
    upload: impl FnOnce() -> Result<upload::Outcome, Error>,
) -> Result<upload::Outcome, Error> {
    // `--abort` sends no body: nothing to show progress of.
    let quiet = o.quiet || plan.multipart.abort;
    let style = report::progress::Style::choose(quiet, o.progress, o.verbose);
    let progress = report::progress::Progress::start(upload::start_job(), style);
    let result = upload();
    progress.finish();
    result
}

/// One object's result line (or JSON object); a failure names the upload it kept.
fn report_result(
    output: &report::Output,
    plan: Option<&config::Plan>,
    result: Result<&upload::Outcome, &Error>,
) {
    match result {
        Ok(outcome) => report::success(output, outcome),
        Err(e) => {
            let url = plan.map(config::Plan::url);
            let target = plan.zip(url.as_deref()).map(|(plan, url)| report::Target {
                bucket: &plan.bucket,
                key: &plan.key,
                url,
                kept: upload::meter().kept(),
            });
            report::failure(output, e, target.as_ref());
        }
    }
}

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
        max_memory: size(&mut p, "--max-memory")?,
        exact_size: size(&mut p, "--size")?,
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
        limit_rate: match text(&mut p, "--limit-rate")? {
            None => None,
            Some(r) => Some(config::parse_size(&r).filter(|&n| n > 0).ok_or_else(|| {
                Error::Usage(format!(
                    "--limit-rate {r}: give bytes per second, like 4MiB or 500K"
                ))
            })?),
        },
        retries: match text(&mut p, "--retries")? {
            None => None,
            Some(n) => Some(n.parse::<u32>().ok().filter(|&n| n <= 100).ok_or_else(|| {
                Error::Usage(format!("--retries {n}: give a whole number from 0 to 100"))
            })?),
        },
        no_expect: p.contains("--no-expect"),
        quiet: p.contains(["-q", "--quiet"]),
        json: p.contains("--json"),
        progress: match (p.contains("--progress"), p.contains("--no-progress")) {
            (true, true) => {
                return Err(Error::Usage(
                    "--progress and --no-progress: give one of them".into(),
                ))
            }
            (true, false) => Some(true),
            (false, true) => Some(false),
            (false, false) => None,
        },
        verbose: {
            let mut level = 0u8;
            while p.contains("-vv") {
                level = level.saturating_add(2);
            }
            while p.contains(["-v", "--verbose"]) {
                level = level.saturating_add(1);
            }
            level.min(2)
        },
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
        no_sign_request: p.contains("--no-sign-request"),
        dry_run: p.contains("--dry-run"),
        no_clobber: p.contains("--no-clobber"),
        if_match: text(&mut p, "--if-match")?,
        protection: config::protection::ProtectionOptions {
            sse: text(&mut p, "--sse")?,
            sse_kms_key_id: text(&mut p, "--sse-kms-key-id")?,
            sse_kms_context: text(&mut p, "--sse-kms-context")?,
            bucket_key_enabled: p.contains("--bucket-key-enabled"),
            sse_c_key_file: p
                .opt_value_from_os_str::<_, _, std::convert::Infallible>("--sse-c-key-file", |s| {
                    Ok(s.into())
                })
                .map_err(usage)?,
            tagging: text(&mut p, "--tagging")?,
            lock_mode: text(&mut p, "--object-lock-mode")?,
            lock_retain_until: text(&mut p, "--object-lock-retain-until-date")?,
            legal_hold: text(&mut p, "--object-lock-legal-hold-status")?,
            expected_bucket_owner: text(&mut p, "--expected-bucket-owner")?,
            request_payer: text(&mut p, "--request-payer")?,
            require_protection: p.contains("--require-protection"),
            skip_identical: p.contains("--skip-identical"),
        },
        batch: BatchOptions {
            files_from: p
                .opt_value_from_os_str::<_, _, std::convert::Infallible>("--files-from", |s| {
                    Ok(s.into())
                })
                .map_err(usage)?,
            nul: p.contains("-0"),
            fail_fast: p.contains("--fail-fast"),
            sources: Vec::new(),
        },
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
    let text = |p: &mut pico_args::Arguments, flag: &'static str| {
        p.opt_value_from_str::<_, String>(flag).map_err(usage)
    };
    let expires = match text(&mut p, "--expires")? {
        None => crate::presign::DEFAULT_EXPIRES_SECS,
        Some(s) => crate::presign::parse_duration(&s).ok_or_else(|| {
            Error::Usage(format!(
                "--expires {s}: give a duration like 90s, 15m, 1h, 7d, or seconds"
            ))
        })?,
    };
    let signature = match text(&mut p, "--signature")?.as_deref() {
        None => None,
        Some("v4" | "4") => Some(SignatureVersion::V4),
        Some("v2" | "2") => Some(SignatureVersion::V2),
        Some(other) => return Err(Error::Usage(format!("--signature {other}: use v4 or v2"))),
    };
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
        ..Default::default()
    };
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
