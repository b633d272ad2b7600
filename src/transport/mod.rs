//! The one module that touches sockets and rustls, a thin adapter under the sans-IO
//! parsers of [`crate::http`]; it knows no S3 and no command line. By concern:
//! - `dial`: DNS and connect (every resolved address, with a timeout);
//! - `proxy`: the CONNECT tunnel and a proxy's 407;
//! - `tls` and `trust`: the handshake, the record copy, what a connection trusts;
//! - `connection`: an open connection: heads out, bytes out, a response in;
//! - `flow`: one request and its answer, used by the upload and the credential fetches.
//!
//! Every wait on the socket goes through [`deadline::Timed`]: a response head, a
//! handshake or a CONNECT answer has a deadline, a body a minimum progress.

use std::io;
use std::time::Duration;

mod connection;
mod deadline;
mod der;
mod dial;
mod flow;
mod provider;
mod proxy;
mod settings;
mod socks;
mod tls;
mod trust;

pub use connection::{Connection, Continue, FileSent, Response};
pub use dial::authority;
pub use flow::{exchange, Exchanged, Failure, Head};
pub use settings::{Names, Proxy, ProxyKind, Trust};
pub use trust::{tls_config, tls_config_with};

/// The fixed size of every body copy buffer (and of each read from the socket).
pub const COPY_BUFFER: usize = 8 * 1024;
/// Bound on rustls' buffered plaintext and TLS records, so memory does not follow the body.
const TLS_BUFFER_LIMIT: usize = 64 * 1024;
/// Response bodies (S3 XML) are kept up to this size; the rest is read and dropped.
const MAX_KEPT_BODY: usize = 64 * 1024;
/// A response body longer than this is refused rather than drained.
const MAX_DRAINED_BODY: u64 = 16 * 1024 * 1024;

/// How long a store that failed under the body's send (a reset) has to show its answer.
const EARLY_ANSWER_WAIT: Duration = Duration::from_secs(2);
/// The same after a stalled send: an answer sent during the stall is already here, and
/// waiting longer would add to the stall's `--timeout`.
const STALLED_ANSWER_WAIT: Duration = Duration::from_millis(100);

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

/// The first line of what a peer sent, at most 80 bytes, for messages.
fn first_line(bytes: &[u8]) -> String {
    let line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    String::from_utf8_lossy(&line[..line.len().min(80)])
        .trim_end()
        .to_string()
}
