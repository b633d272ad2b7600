//! Typed S3 requests (s3/) sent through the exchange: no body, or a small document,
//! signed with its SHA-256 and retried as the plan allows.

use super::exchange::{self, Answer};
use crate::config::Plan;
use crate::s3::{Request, Resource};
use crate::Error;
use rustls::ClientConfig;
use std::sync::Arc;

/// Sends `request`, leaving the plan as it is.
pub fn send(
    plan: &Plan,
    tls: Option<&Arc<ClientConfig>>,
    request: Request,
) -> Result<Answer, Error> {
    match request.resource {
        Resource::Object => exchange::small_call(
            plan,
            tls,
            request.method,
            request.query,
            request.headers,
            &request.body,
        ),
        Resource::Bucket => to_bucket(plan, tls, request),
    }
}

/// As `send`; the corrections the store asked for (region, clock) stay in `plan`.
pub fn send_adjusting(
    plan: &mut Plan,
    tls: Option<&Arc<ClientConfig>>,
    request: Request,
) -> Result<Answer, Error> {
    match request.resource {
        Resource::Object => exchange::small_call_adjusting(
            plan,
            tls,
            request.method,
            request.query,
            request.headers,
            &request.body,
        ),
        Resource::Bucket => to_bucket(plan, tls, request),
    }
}

/// A request to the bucket: the exchange sends it without headers or body.
fn to_bucket(
    plan: &Plan,
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
