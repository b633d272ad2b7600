//! One request and its answer, the same for every caller (the upload's S3 calls and the
//! credential fetches): the head written for this connection (absolute form and the
//! proxy's credentials through a plain-HTTP proxy), sent, and wiped (it carries tokens);
//! with `Expect: 100-continue`, the wait for the go-ahead; the body, sent by the caller;
//! after a send that failed, the answer a server that refused early may have left; then
//! the response.

use super::connection::{Connection, Continue, Response};
use crate::error::Error;
use crate::http::request::HeaderError;
use crate::report::trace;
use std::time::{Duration, Instant};

/// A request head: origin-form target (`/KEY?query`), headers with lowercase names.
pub struct Head<'a> {
    pub method: &'a str,
    pub target: &'a str,
    pub headers: &'a [(String, String)],
    /// Show it under `-v` (masked): only for heads whose secrets the mask knows.
    pub traced: bool,
    /// Sent with `Expect: 100-continue` (already among the headers): wait this long
    /// for the go-ahead before sending the body.
    pub expect: Option<Duration>,
}

/// How a request ended.
#[derive(Debug)]
pub enum Exchanged {
    /// The final answer, after the whole request went out.
    Answered(Response),
    /// A final answer to `Expect: 100-continue`: the body was not sent.
    BeforeBody(Response),
}

/// Why a request failed.
#[derive(Debug)]
pub enum Failure {
    /// The head cannot be written (a name or value that could split it): nothing sent.
    Head(HeaderError),
    /// Sending or reading failed. `answer` is what a server that refused early said
    /// before it stopped reading (a send that failed on the network only).
    Io {
        error: Error,
        answer: Option<Response>,
    },
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        Failure::Io {
            error,
            answer: None,
        }
    }
}

/// Sends `head`, then the body through `body` (which returns the bytes it sent and ends
/// with a flush), and reads the answer.
pub fn exchange(
    conn: &mut Connection,
    head: &Head<'_>,
    body: impl FnOnce(&mut Connection) -> Result<u64, Error>,
) -> Result<Exchanged, Failure> {
    let mut bytes = Vec::with_capacity(1024);
    conn.write_head(head.method, head.target, head.headers, &mut bytes)
        .map_err(Failure::Head)?;
    if head.traced {
        trace::request_head(&bytes);
    }
    let sent = conn.send(&bytes);
    // It may carry a session token (and, through a proxy, its credentials).
    crate::secret::wipe(bytes);
    sent?;
    if let Some(wait) = head.expect {
        if let Continue::Final(response) = conn.await_continue(wait, head.method)? {
            return Ok(Exchanged::BeforeBody(response));
        }
    }
    let started = Instant::now();
    let size = match body(conn) {
        Ok(size) => size,
        Err(error) => {
            // A server that refuses early (bad signature, no bucket) answers before the
            // body is all there; its answer says more than the broken pipe does.
            let answer = match error {
                Error::Network(_) => conn.early_response(head.method),
                _ => None,
            };
            return Err(Failure::Io { error, answer });
        }
    };
    if trace::level() >= 2 && size > 0 {
        trace::event(format_args!(
            "body of {size} bytes sent in {:.3} s",
            started.elapsed().as_secs_f64()
        ));
    }
    let response = conn.read_response(head.method)?;
    trace::event(format_args!(
        "answer after {:.3} s ({} bytes of body)",
        started.elapsed().as_secs_f64(),
        response.body.len()
    ));
    Ok(Exchanged::Answered(response))
}
