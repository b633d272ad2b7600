//! Attempts and what follows a failed one: a retry with capped exponential backoff and
//! full jitter for what may succeed next time, one corrected retry for a skewed clock, a
//! wrong region or a refused `Expect`, and nothing for the rest.

use crate::error::Error;
use crate::error::Refusal;
use crate::report;
use crate::report::trace;
use crate::sign::time::Timestamp;
use crate::upload::wire::Wire;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// S3 rejects a signature dated more than 15 minutes from its clock.
const MAX_SKEW_SECS: i64 = 15 * 60;
/// The first backoff step; each retry doubles it, up to the policy's cap.
const BACKOFF_BASE: Duration = Duration::from_millis(100);

/// What one attempt needs to know from the attempts before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// The signing time: this host's clock, corrected by a skew the store reported.
    pub time: Timestamp,
    /// Whether `Expect: 100-continue` may be sent.
    pub expect: bool,
}

/// Runs `attempt` until it succeeds, fails for good, or the retries run out. Every
/// attempt gets a fresh signing time.
pub fn run<T>(
    wire: &Wire,
    attempt: impl FnMut(&Wire, Attempt) -> Result<T, Error>,
) -> Result<T, Error> {
    let mut effective = wire.clone();
    run_adjusting(&mut effective, attempt)
}

/// As `run`, and the corrections learnt on the way (the store's clock, the bucket's
/// region, a refused `Expect`) stay in `wire` for the calls that follow.
pub fn run_adjusting<T>(
    wire: &mut Wire,
    mut attempt: impl FnMut(&Wire, Attempt) -> Result<T, Error>,
) -> Result<T, Error> {
    let (mut skew_corrected, mut region_corrected) = (false, false);
    let (mut attempts, mut retries) = (0u32, 0u32);
    loop {
        attempts += 1;
        let now = Timestamp::now();
        let this = Attempt {
            time: shifted(now, wire.clock_skew),
            expect: wire.expect,
        };
        let error = match attempt(wire, this) {
            Ok(value) => return Ok(value),
            Err(e) => e,
        };
        // Whatever broke after a signal asked to stop (a read cut short by it: "Interrupted
        // system call") is the stop, and is not tried again.
        if crate::interrupt::stop_requested() && !matches!(error, Error::Interrupted(_)) {
            return Err(super::exchange::stopped());
        }
        // One corrected retry each, outside the retry budget: they fix the request.
        if let Error::Refused(r) = &error {
            let signs = wire.signs();
            if r.status == 417 && wire.expect {
                wire.expect = false;
                super::meter().retried();
                report::warning("the store refused Expect: 100-continue; going on without it (--no-expect skips it)");
                continue;
            }
            // Re-signing is what corrects these; an unsigned request cannot change.
            if signs && !skew_corrected {
                if let Some(off) = clock_skew(r, now) {
                    wire.clock_skew = off;
                    skew_corrected = true;
                    super::meter().retried();
                    report::warning(&format!(
                        "this host's clock is {} {} the store's; signing with the store's time: set the clock right (NTP)",
                        human(off.unsigned_abs()),
                        if off > 0 { "behind" } else { "ahead of" }
                    ));
                    continue;
                }
            }
            // An unsigned request to AWS still follows its bucket to the right regional
            // endpoint; a presigned URL names its host, so it cannot.
            if wire.url_target.is_none() && !region_corrected {
                if let Some(region) = redirect_region(r, &wire.region) {
                    report::warning(&format!(
                        "bucket '{}' is in region {region}: pass --region {region} to skip this round trip",
                        wire.bucket
                    ));
                    wire.move_to_region(&region);
                    region_corrected = true;
                    super::meter().retried();
                    continue;
                }
            }
        }
        if !retryable(&error) {
            return Err(if attempts > 1 {
                gave_up(error, attempts)
            } else {
                error
            });
        }
        if retries >= wire.retry.retries {
            return Err(gave_up(error, attempts));
        }
        retries += 1;
        super::meter().retried();
        let wait = backoff(retries, wire.retry.max_wait, random());
        trace::event(format_args!(
            "attempt {attempts} failed ({error}); retry {retries} of {} in {} ms",
            wire.retry.retries,
            wait.as_millis()
        ));
        pause(wait)?;
    }
}

/// Sleeps, waking early (with the stop error) when a signal asks to stop.
fn pause(wait: Duration) -> Result<(), Error> {
    let until = std::time::Instant::now() + wait;
    loop {
        if crate::interrupt::stop_requested() {
            return Err(super::exchange::stopped());
        }
        let left = until.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        std::thread::sleep(left.min(Duration::from_millis(100)));
    }
}

/// What may succeed if tried again (S3 API reference, "Error responses"; AWS SDKs'
/// standard retry mode): the network, and the store's "not now" answers.
pub fn retryable(error: &Error) -> bool {
    match error {
        Error::Network(_) => true,
        Error::Refused(r) => {
            matches!(r.status, 408 | 429 | 500 | 502 | 503 | 504)
                || matches!(
                    r.code.as_deref(),
                    Some(
                        "RequestTimeout"
                            | "SlowDown"
                            | "ServiceUnavailable"
                            | "InternalError"
                            | "Throttling"
                    )
                )
        }
        _ => false,
    }
}

/// Full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter"): a uniform wait
/// in [0, min(cap, base * 2^(retry-1))).
pub fn backoff(retry: u32, cap: Duration, random: u64) -> Duration {
    let ceiling = BACKOFF_BASE
        .saturating_mul(1u32 << retry.saturating_sub(1).min(20))
        .min(cap);
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    if nanos == 0 {
        return Duration::ZERO;
    }
    Duration::from_nanos(random % nanos)
}

/// Seconds to add to this host's clock, when the store says the signing time was off:
/// RequestTimeTooSkewed, or any 403 whose Date is more than 15 minutes away.
pub fn clock_skew(r: &Refusal, now: Timestamp) -> Option<i64> {
    let server = r
        .server_date
        .as_deref()
        .and_then(|d| httpdate::parse_http_date(d).ok())?
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_secs();
    let off = i64::try_from(server).ok()? - i64::try_from(now.unix()).ok()?;
    let skewed_code = r.code.as_deref() == Some("RequestTimeTooSkewed");
    (skewed_code || (r.status == 403 && off.abs() > MAX_SKEW_SECS)).then_some(off)
}

/// The region to re-sign for, when the store says the bucket lives in another one.
pub fn redirect_region(r: &Refusal, current: &str) -> Option<String> {
    let redirect = matches!(r.status, 301 | 307)
        || matches!(
            r.code.as_deref(),
            Some("PermanentRedirect" | "TemporaryRedirect" | "AuthorizationHeaderMalformed")
        );
    r.region
        .clone()
        .filter(|region| redirect && region != current && valid_region(region))
}

fn valid_region(region: &str) -> bool {
    !region.is_empty()
        && region.len() <= 64
        && region
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn shifted(now: Timestamp, skew: i64) -> Timestamp {
    Timestamp::from_unix(now.unix().saturating_add_signed(skew))
}

/// The error, saying how many attempts were made.
fn gave_up(error: Error, attempts: u32) -> Error {
    match error {
        e @ (Error::Refused(_) | Error::Network(_) | Error::Protocol(_)) => {
            e.with_note(&format!("gave up after {attempts} attempts"))
        }
        other => other,
    }
}

/// Jitter from the per-process random keys std seeds from the OS.
fn random() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

fn human(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs} s"),
        60..=3599 => format!("{} min {} s", secs / 60, secs % 60),
        _ => format!("{} h {} min", secs / 3600, secs / 60 % 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(status: u16, code: Option<&str>) -> Refusal {
        Refusal {
            status_line: format!("HTTP/1.1 {status} X"),
            status,
            code: code.map(str::to_string),
            message: None,
            request_id: None,
            hint: None,
            server_date: None,
            region: None,
        }
    }

    #[test]
    fn backoff_is_capped_and_jittered() {
        let cap = Duration::from_secs(20);
        assert_eq!(backoff(1, cap, 0), Duration::ZERO);
        assert!(backoff(1, cap, u64::MAX) < Duration::from_millis(100));
        assert!(backoff(3, cap, u64::MAX) < Duration::from_millis(400));
        assert!(backoff(30, cap, u64::MAX) < cap);
        assert_eq!(backoff(5, Duration::ZERO, 12345), Duration::ZERO);
        let a = backoff(4, cap, 1_000_003);
        let b = backoff(4, cap, 7_000_001);
        assert_ne!(a, b);
    }

    #[test]
    fn what_is_retried() {
        assert!(retryable(&Error::Network("reset".into())));
        for (status, code) in [
            (503, Some("SlowDown")),
            (500, Some("InternalError")),
            (400, Some("RequestTimeout")),
            (408, None),
            (429, None),
            (200, Some("InternalError")),
        ] {
            assert!(
                retryable(&Error::Refused(Box::new(refusal(status, code)))),
                "{status} {code:?}"
            );
        }
        for (status, code) in [
            (403, Some("AccessDenied")),
            (404, Some("NoSuchBucket")),
            (400, Some("InvalidArgument")),
        ] {
            assert!(
                !retryable(&Error::Refused(Box::new(refusal(status, code)))),
                "{status}"
            );
        }
        assert!(!retryable(&Error::Protocol("bad".into())));
        assert!(!retryable(&Error::LocalFile("gone".into())));
    }

    #[test]
    fn skew_from_the_server_date() {
        let now = Timestamp::from_unix(1_440_938_160); // Sun, 30 Aug 2015 12:36:00 GMT
        let mut r = refusal(403, Some("RequestTimeTooSkewed"));
        r.server_date = Some("Sun, 30 Aug 2015 14:36:00 GMT".into());
        assert_eq!(clock_skew(&r, now), Some(7200));
        let mut plain = refusal(403, Some("SignatureDoesNotMatch"));
        plain.server_date = Some("Sun, 30 Aug 2015 12:40:00 GMT".into());
        assert_eq!(
            clock_skew(&plain, now),
            None,
            "4 minutes is within S3's window"
        );
        plain.server_date = Some("Sun, 30 Aug 2015 11:00:00 GMT".into());
        assert_eq!(clock_skew(&plain, now), Some(-5760));
        assert_eq!(shifted(now, -5760).unix(), 1_440_938_160 - 5760);
    }

    #[test]
    fn region_from_redirects() {
        let mut r = refusal(301, Some("PermanentRedirect"));
        r.region = Some("eu-west-1".into());
        assert_eq!(
            redirect_region(&r, "us-east-1").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(redirect_region(&r, "eu-west-1"), None);
        r.region = Some("eu west 1".into());
        assert_eq!(redirect_region(&r, "us-east-1"), None);
        let mut denied = refusal(403, Some("AccessDenied"));
        denied.region = Some("eu-west-1".into());
        assert_eq!(redirect_region(&denied, "us-east-1"), None);
    }

    #[test]
    fn giving_up_says_how_many_attempts() {
        let e = gave_up(Error::Network("reset".into()), 5);
        assert_eq!(e.to_string(), "reset; gave up after 5 attempts");
        let e = gave_up(
            Error::Refused(Box::new(refusal(500, Some("InternalError")))),
            3,
        );
        assert!(e.to_string().ends_with("; gave up after 3 attempts"), "{e}");
    }
}
