//! The test harness's TLS terminator as a program, for bench/run:
//! `tls_front BACKEND_PORT CA_PEM_OUT PORT_OUT` listens on 127.0.0.1 (a free port, written
//! to PORT_OUT), trusts nothing but writes its test CA to CA_PEM_OUT, and forwards to
//! 127.0.0.1:BACKEND_PORT. It stops by itself after two hours, or when killed.
#![forbid(unsafe_code)]

#[allow(dead_code)]
// Test code: a failed unwrap is a failed setup.
#[allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "../tests/common/tls.rs"]
mod tls;

// The accept loop, stop and Drop that the front stands on.
#[allow(dead_code)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "../tests/common/listen.rs"]
mod listen;

use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [backend, ca_out, port_out] = args.as_slice() else {
        return Err("usage: tls_front BACKEND_PORT CA_PEM_OUT PORT_OUT".into());
    };
    let front = tls::TlsFront::start(backend.parse()?);
    std::fs::copy(front.ca_pem_path(), ca_out)?;
    std::fs::write(port_out, front.port().to_string())?;
    let deadline = Instant::now() + Duration::from_secs(2 * 3600);
    while Instant::now() < deadline {
        std::thread::park_timeout(Duration::from_secs(60));
    }
    Ok(())
}
