//! Uploads: drive the requests and the body copy, and judge the store's answers.

pub mod adapt;
pub mod call;
pub mod condition;
pub mod confirm;
pub mod exchange;
pub mod journal;
pub mod multipart;
pub mod protect;
pub mod rate;
pub mod request;
pub mod retry;
pub mod single;
pub mod stdin;
pub mod wire;

use crate::config::Plan;
use crate::error::Error;
use crate::error::Refusal;
use crate::http::xml::parse_s3_error;
use crate::report::progress::Meter;
use crate::transport::Response;
use crate::upload::wire::Wire;
use std::time::Duration;

pub use crate::report::Outcome;
pub use condition::{bare_if_match, not_written, precondition_failed};

/// The object being uploaded: its progress, retries and the upload it kept. Run state,
/// not the Plan's: every part and every retry of the object counts here; the command line
/// starts a new one for each object and draws its progress from it.
static JOB: std::sync::Mutex<Option<std::sync::Arc<Meter>>> = std::sync::Mutex::new(None);

/// Starts the run state of a new object; returns its meter, for the progress line.
pub fn start_job() -> std::sync::Arc<Meter> {
    let meter = std::sync::Arc::new(Meter::default());
    *JOB.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(meter.clone());
    meter
}

/// The meter of the object being uploaded (a new one when none was started).
pub fn meter() -> std::sync::Arc<Meter> {
    JOB.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get_or_insert_with(Default::default)
        .clone()
}

impl Outcome {
    /// An outcome for the plan's object; the retries are those its meter counted.
    pub fn of(plan: &Wire, bytes: u64, elapsed: Duration) -> Outcome {
        Outcome {
            url: plan.url(),
            bucket: plan.bucket.clone(),
            key: plan.key.clone(),
            bytes,
            etag: None,
            version_id: None,
            checksum: None,
            elapsed,
            parts: 0,
            retries: meter().retries(),
            aborted: None,
            skipped: false,
            echo: Vec::new(),
            protection_warnings: Vec::new(),
        }
    }
}

/// Uploads the plan's source: standard input, one PUT, or parts.
pub fn run(plan: &Plan) -> Result<Outcome, Error> {
    run_on(plan, &mut None)
}

/// As `run`; a single PUT goes over the kept-alive connection in `slot` (left by the file
/// before it in a batch), and leaves its own there when the store keeps it open. Parts
/// of a multipart upload go over connections of their own, one per job.
pub fn run_on(plan: &Plan, slot: &mut exchange::Slot) -> Result<Outcome, Error> {
    // The Plan stays as resolved: what the run learns changes the job's Wire.
    let plan = &Wire::new(plan);
    rate::set(plan.limit_rate);
    let look_first = plan.protection.skip_identical
        && !plan.dry_run
        && !plan.multipart.abort
        && !plan.multipart.resume
        && !plan.from_stdin();
    // An identical object stored without the encryption, tags, retention or ACL asked for
    // now must not be skipped: the upload is what applies them.
    let protects = plan.protection.asked() || plan.object.acl.is_some();
    if look_first && protects {
        crate::report::warning(
            "--skip-identical compares contents only: with encryption, tags, retention or an ACL asked for, the \
             object is sent again so that they are applied",
        );
    }
    if look_first && !protects {
        if let Some(skipped) = protect::identical(plan)? {
            return Ok(skipped);
        }
    }
    let mut outcome = upload(plan, slot)?;
    if outcome.aborted.is_none() && !plan.dry_run {
        acl_applied(plan);
        outcome.protection_warnings = protect::check(plan, &outcome)?;
    }
    Ok(outcome)
}

fn upload(plan: &Wire, slot: &mut exchange::Slot) -> Result<Outcome, Error> {
    if plan.multipart.abort {
        return multipart::abort_command(plan);
    }
    if plan.from_stdin() {
        stdin::refuse_null_input()?;
        condition::condition_holds_now(plan)?;
        return stdin::upload(plan);
    }
    let (file, size, stamp) = single::open_source(&plan.source)?;
    if plan.url_target.is_some() {
        if size > single::MAX_SINGLE_PUT {
            return Err(Error::LocalFile(format!(
                "{} is {size} bytes, over the 5 GiB one PUT can take, and a presigned URL allows \
                 one PUT: upload it to s3://BUCKET/KEY with credentials (multipart) instead",
                plan.source.display()
            )));
        }
        return single::put_file(plan, &file, size, stamp, slot);
    }
    if plan.multipart.resume || size > plan.multipart.threshold || size > single::MAX_SINGLE_PUT {
        multipart::upload_file(plan, &file, size, stamp)
    } else {
        condition::condition_holds_now(plan)?;
        single::put_file(plan, &file, size, stamp, slot)
    }
}

/// After an upload with a public `--acl`: a store that takes the header and ignores it
/// (Garage 2.5 has no ACLs) must not leave the user believing the object is public. The
/// object's ACL is read back (GetObjectAcl); a store that does not implement it, or an
/// ACL without the grant asked for, is said in a warning. A key that may not read ACLs
/// learns nothing, and says nothing.
fn acl_applied(plan: &Wire) {
    let Some(acl) = plan.object.acl.as_deref() else {
        return;
    };
    let group = match acl {
        "public-read" | "public-read-write" => "AllUsers",
        "authenticated-read" => "AuthenticatedUsers",
        _ => return,
    };
    let Ok(tls) = single::tls_for(plan) else {
        return;
    };
    match call::send(plan, tls.as_ref(), crate::s3::GetObjectAcl.request()) {
        Ok(answer) => {
            if !crate::s3::GetObjectAcl::grants_read_to(&answer.response.body, group) {
                crate::report::warning(&format!(
                    "--acl {acl} was not applied: the ACL of {} has no grant to {group}; the store ignored it \
                     (make the object public with a bucket policy instead)",
                    plan.url()
                ));
            }
        }
        Err(Error::Refused(r))
            if r.status == 501 || r.code.as_deref() == Some("NotImplemented") =>
        {
            crate::report::warning(&format!(
                "--acl {acl} may not have been applied: the store does not implement ACLs (GetObjectAcl: {}); \
                 Garage, for one, takes the header and ignores it: use a bucket policy or the store's own way",
                r.status_line
            ));
        }
        Err(_) => {}
    }
}

/// Ok for a 2xx answer that does not carry an S3 error document; otherwise the refusal,
/// with what the user can do about it.
pub fn check_response(response: &Response, plan: &Wire) -> Result<(), Error> {
    let head = &response.head;
    let s3 = parse_s3_error(&response.body);
    if (200..300).contains(&head.status) && s3.is_none() {
        return Ok(());
    }
    let code = s3.as_ref().map(|e| e.code.clone());
    let region = head
        .header("x-amz-bucket-region")
        .map(str::to_string)
        .or_else(|| s3.as_ref().and_then(|e| e.region.clone()));
    let mut hint = hint(head.status, code.as_deref(), region.as_deref(), plan);
    if plan.signature == crate::config::SignatureVersion::V2 && (400..=501).contains(&head.status) {
        let message = s3.as_ref().and_then(|e| e.message.as_deref()).unwrap_or("");
        let lower = message.to_ascii_lowercase();
        if code.as_deref() == Some("NotImplemented")
            || (lower.contains("authorization") && lower.contains("support"))
        {
            // Garage 2.5: 400 InvalidRequest "Unsupported authorization method".
            hint = Some(
                "this store does not take SigV2 signatures (Garage does not, nor AWS for new buckets): leave out \
                 --signature v2"
                    .to_string(),
            );
        }
    }
    if let Some(fallback) = checksum_fallback(head.status, code.as_deref(), plan) {
        hint = Some(match hint {
            Some(h) => format!("{h}; {fallback}"),
            None => fallback,
        });
    }
    let region = region.filter(|r| !r.is_empty());
    Err(Error::Refused(Box::new(Refusal {
        status_line: head.status_line(),
        status: head.status,
        code,
        message: s3.as_ref().and_then(|e| e.message.clone()),
        request_id: s3
            .as_ref()
            .and_then(|e| e.request_id.clone())
            .or_else(|| head.header("x-amz-request-id").map(str::to_string)),
        hint,
        server_date: head.header("date").map(str::to_string),
        region,
    })))
}

/// What to do about a refused unsigned request: there is no key to blame.
fn unsigned_hint(status: u16, code: Option<&str>, plan: &Wire) -> Option<&'static str> {
    if plan.url_target.as_ref().is_some_and(|t| t.presigned) {
        return match (status, code) {
            (_, Some("SignatureDoesNotMatch")) => Some(
                "the URL's signature does not cover this request: send the headers it was presigned with \
                 (--content-type, --acl...) with the same values, and pass the URL unaltered",
            ),
            (_, Some("AccessDenied")) | (403, None) => Some(
                "the presigned URL has expired or does not allow this upload: presign a new one",
            ),
            _ => None,
        };
    }
    match (status, code) {
        (_, Some("AccessDenied" | "AllAccessDisabled")) | (401 | 403, None) if !plan.signs() => Some(
            "the bucket does not take unsigned writes: leave out --no-sign-request to sign with credentials",
        ),
        _ => None,
    }
}

/// Stores that do not take `x-amz-checksum-*` or aws-chunked trailers answer with these
/// (Cloudflare R2 even with SignatureDoesNotMatch, but R2 gets no checksum by default: a
/// SignatureDoesNotMatch is a wrong key, and says so alone): name the way back.
fn checksum_fallback(status: u16, code: Option<&str>, plan: &Wire) -> Option<String> {
    plan.checksum?;
    let suspicious = matches!(status, 400 | 403 | 411 | 501)
        && matches!(
            code,
            None | Some(
                "NotImplemented"
                    | "InvalidArgument"
                    | "InvalidRequest"
                    | "XAmzContentSHA256Mismatch"
                    | "MissingContentLength"
                    | "InvalidDigest"
                    | "BadRequest"
            )
        );
    suspicious.then(|| {
        "if this store does not take checksums or aws-chunked trailers (B2, R2, GCS do not), \
         retry with --checksum none, or --payload signed to send the checksum as a header"
            .to_string()
    })
}

/// What to do about a refusal, by S3 error code (S3 API reference, "Error codes").
fn hint(status: u16, code: Option<&str>, region: Option<&str>, plan: &Wire) -> Option<String> {
    if let Some(text) = unsigned_hint(status, code, plan) {
        return Some(text.to_string());
    }
    let creds = plan.credentials.last();
    let text = match (status, code) {
        (_, Some("SignatureDoesNotMatch")) => format!(
            "the secret key does not match access key {} (credentials from {}), or this host's clock is off: check both",
            creds.access_key_id, creds.source
        ),
        (_, Some("InvalidAccessKeyId")) => format!(
            "the store does not know access key {} (from {}): check the credentials and --endpoint",
            creds.access_key_id, creds.source
        ),
        (_, Some("RequestTimeTooSkewed")) => {
            "this host's clock is more than 15 minutes off: set it right (NTP)".to_string()
        }
        (_, Some("ExpiredToken" | "InvalidToken" | "TokenRefreshRequired")) => {
            "the session token is expired or invalid: get fresh credentials".to_string()
        }
        (_, Some("AccessDenied" | "AllAccessDisabled")) => format!(
            "these credentials may not write s3://{}/{}: check the bucket policy and the user's permissions{}",
            plan.bucket,
            plan.key,
            if plan.object.acl.is_some() { " (and that the bucket allows ACLs)" } else { "" }
        ),
        (_, Some("NoSuchBucket")) => format!(
            "bucket '{}' does not exist at this endpoint: create it, or check its name, --endpoint and --region",
            plan.bucket
        ),
        (_, Some("PermanentRedirect" | "AuthorizationHeaderMalformed" | "IllegalLocationConstraintException"))
        | (301 | 307, _) => match region {
            Some(r) => format!("the bucket is in region {r}: pass --region {r}"),
            None => "the bucket is in another region or at another endpoint: pass its --region".to_string(),
        },
        (_, Some("InvalidBucketName")) => format!(
            "'{}' is not a bucket name this store accepts (S3: 3 to 63 lowercase letters, digits, '-' and '.')",
            plan.bucket
        ),
        (_, Some("EntityTooLarge")) => "the object is over the store's size limit for one PUT".to_string(),
        (_, Some("InvalidStorageClass")) => "the store does not offer that --storage-class".to_string(),
        (_, Some("AccessControlListNotSupported")) => {
            "the bucket has ACLs disabled: leave out --acl".to_string()
        }
        (_, Some("NotImplemented")) | (501, _) => {
            "the store does not implement something this request uses: try --signature v2 or --payload unsigned/signed"
                .to_string()
        }
        (_, Some("SlowDown" | "ServiceUnavailable" | "InternalError")) | (500..=599, _) => {
            "the store failed or is overloaded: try again later".to_string()
        }
        (200..=299, _) => "the store reported an error inside a success answer: the object may not be stored".to_string(),
        _ => return None,
    };
    Some(text)
}
