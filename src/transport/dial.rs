//! DNS and connect: every address a name resolves to, each within the connect timeout.

use super::settings::Proxy;
use crate::report::trace;
use crate::Error;
use std::io;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// `host:port`, with brackets around an IPv6 literal.
pub fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Resolves `host` and connects to each address in turn (IPv6 and IPv4, in the resolver's
/// order) within `timeout` each. `proxy` is set when `host` is that proxy, for messages.
pub(super) fn connect(
    host: &str,
    port: u16,
    timeout: Duration,
    proxy: Option<&Proxy>,
) -> Result<TcpStream, Error> {
    let peer = authority(host, port);
    let (what, who, check) = match proxy {
        None => (peer.clone(), "the store", "--endpoint"),
        Some(p) => (format!("the proxy at {peer}"), "the proxy", p.source),
    };
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .map_err(|e| {
            Error::Network(match proxy {
                None => format!(
                    "cannot resolve '{host}' ({e}): check the host in --endpoint, the bucket name, or DNS"
                ),
                Some(p) => format!("cannot resolve the proxy '{host}' ({e}): check {}", p.source),
            })
        })?
        .collect();
    let mut last_error = None;
    for addr in &addrs {
        let started = Instant::now();
        match TcpStream::connect_timeout(addr, timeout) {
            Ok(s) => {
                if trace::level() >= 2 {
                    let at = addr.to_string();
                    let via = if at == peer {
                        String::new()
                    } else {
                        format!(" ({at})")
                    };
                    trace::event(format_args!(
                        "connected to {what}{via} in {:.3} s",
                        started.elapsed().as_secs_f64()
                    ));
                }
                return Ok(s);
            }
            Err(e) => {
                trace::event(format_args!("connecting to {what} ({addr}) failed: {e}"));
                last_error = Some(e);
            }
        }
    }
    Err(match last_error {
        Some(e) if e.kind() == io::ErrorKind::ConnectionRefused => Error::Network(format!(
            "connection refused by {what}: is {who} running there, and is {check} right?"
        )),
        Some(e)
            if matches!(
                e.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ) =>
        {
            Error::Network(format!(
                "no answer from {what} within {} s: check the network or raise --connect-timeout",
                timeout.as_secs_f64()
            ))
        }
        Some(e) => Error::Network(format!("cannot connect to {what}: {e}")),
        None => Error::Network(format!("'{host}' resolved to no address: check DNS")),
    })
}
