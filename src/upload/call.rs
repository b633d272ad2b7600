//! Typed S3 requests (s3/) sent through the exchange: a small call (no body, or a
//! document, signed with its SHA-256 and retried as the plan allows), or the call of a
//! streamed payload.

use super::exchange::{self, Answer, Body, Call, Integrity};
use crate::error::Error;
use crate::report::progress::Meter;
use crate::s3::{Request, Resource};
use crate::upload::wire::Wire;
use rustls::ClientConfig;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Sends `request`, leaving the wire as it is.
pub fn send(
    wire: &Wire,
    tls: Option<&Arc<ClientConfig>>,
    request: Request,
) -> Result<Answer, Error> {
    send_adjusting(&mut wire.clone(), tls, request)
}

/// As `send`; the corrections the store asked for (region, clock) stay in `wire`.
pub fn send_adjusting(
    wire: &mut Wire,
    tls: Option<&Arc<ClientConfig>>,
    request: Request,
) -> Result<Answer, Error> {
    match request.resource {
        Resource::Object => exchange::small_call_adjusting(
            wire,
            tls,
            request.method,
            request.query,
            request.headers,
            &request.body,
        ),
        Resource::Bucket => to_bucket(wire, tls, request),
    }
}

/// The exchange's call for `request` with a payload streamed (an object, a part): its
/// integrity as `exchange::prepare` decided, its bytes counted on `meter`, and stopped by
/// `cancel` when a sibling part failed.
pub fn payload<'a>(
    plan: &Wire,
    request: Request,
    body: Body<'a>,
    integrity: &'a Integrity,
    meter: &'a Meter,
    cancel: Option<&'a AtomicBool>,
) -> Call<'a> {
    Call {
        method: request.method,
        on_bucket: request.resource == Resource::Bucket,
        query: request.query,
        headers: request.headers,
        body,
        payload_hash: &integrity.payload_hash,
        checksum: plan.checksum,
        checksum_value: integrity.checksum_value.clone(),
        // The MD5 of a pass before sending (Content-MD5) serves the ETag check too.
        md5: plan.verify_etag && integrity.md5.is_none(),
        cancel,
        meter: Some(meter),
    }
}

/// A request to the bucket: the exchange sends it without headers or body.
fn to_bucket(
    plan: &Wire,
    tls: Option<&Arc<ClientConfig>>,
    request: Request,
) -> Result<Answer, Error> {
    if !request.headers.is_empty() || !request.body.is_empty() {
        return Err(Error::Protocol(format!(
            "internal: {} to the bucket carries headers or a body",
            request.action
        )));
    }
    exchange::bucket_call(plan, tls, request.method, request.query)
}
