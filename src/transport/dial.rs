//! DNS and connect: every address a name resolves to, raced as RFC 8305 describes.

use super::settings::{Names, Proxy};
use crate::error::Error;
use crate::report::trace;
use std::collections::VecDeque;
use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// `host:port`, with brackets around an IPv6 literal.
pub fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// How long an attempt has before the next address is tried alongside it (RFC 8305's
/// Connection Attempt Delay, its recommended value).
pub const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// The stack of an attempt's thread: it only waits in connect(2).
const ATTEMPT_STACK: usize = 64 * 1024;

/// Resolves `host` (every address), for a connection or for a SOCKS5 proxy that is given
/// an address; `proxy` is set when `host` is that proxy, for messages.
pub(super) fn resolve(
    host: &str,
    port: u16,
    proxy: Option<&Proxy>,
    names: &Names,
) -> Result<Vec<SocketAddr>, Error> {
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .map_err(|e| {
            Error::Network(match proxy {
                None => format!(
                    "cannot resolve '{host}' ({e}): check the host in {}, the bucket name, or DNS",
                    names.endpoint
                ),
                Some(p) => format!(
                    "cannot resolve the proxy '{host}' ({e}): check {}",
                    p.source
                ),
            })
        })?
        .collect();
    if addrs.is_empty() {
        return Err(Error::Network(format!(
            "'{host}' resolved to no address: check DNS"
        )));
    }
    Ok(interleave(addrs))
}

/// Resolves `host` and connects the way RFC 8305 (happy eyeballs) describes: addresses
/// IPv6 and IPv4 in turn, the next attempt started [`ATTEMPT_DELAY`] after the previous
/// one unless it has connected (or at once when it failed), each within `timeout`, the
/// first to connect winning. A broken IPv6 route costs 250 ms, not the timeout. `proxy`
/// is set when `host` is that proxy, for messages.
pub(super) fn connect(
    host: &str,
    port: u16,
    timeout: Duration,
    proxy: Option<&Proxy>,
    names: &Names,
) -> Result<TcpStream, Error> {
    let peer = authority(host, port);
    let (what, who, check) = match proxy {
        None => (peer.clone(), "the store", names.endpoint),
        Some(p) => (format!("the proxy at {peer}"), "the proxy", p.source),
    };
    let addrs = resolve(host, port, proxy, names)?;
    let started = Instant::now();
    match race(&addrs, timeout, ATTEMPT_DELAY) {
        Ok((stream, addr)) => {
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
            Ok(stream)
        }
        Err(failed) => {
            for (addr, e) in &failed {
                trace::event(format_args!("connecting to {what} ({addr}) failed: {e}"));
            }
            // The error of the last address in the order tried.
            let last = failed
                .into_iter()
                .max_by_key(|(addr, _)| addrs.iter().position(|a| a == addr));
            Err(match last.map(|(_, e)| e) {
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
                        "no answer from {what} within {} s: check the network or raise {}",
                        timeout.as_secs_f64(),
                        names.connect_timeout
                    ))
                }
                Some(e) => Error::Network(format!("cannot connect to {what}: {e}")),
                None => Error::Network(format!("'{host}' resolved to no address: check DNS")),
            })
        }
    }
}

/// The addresses in RFC 8305's order (section 4): the resolver's first family first,
/// then the families in turn, each in the resolver's order.
fn interleave(addrs: Vec<SocketAddr>) -> Vec<SocketAddr> {
    let first_v6 = addrs.first().is_some_and(SocketAddr::is_ipv6);
    let (mut first, mut other): (VecDeque<_>, VecDeque<_>) =
        addrs.into_iter().partition(|a| a.is_ipv6() == first_v6);
    let mut out = Vec::with_capacity(first.len() + other.len());
    while let Some(a) = first.pop_front() {
        out.push(a);
        out.extend(other.pop_front());
    }
    out.extend(other);
    out
}

/// Connects to `addrs` in order, starting the next attempt `delay` after the last one
/// unless something connected (at once when every attempt so far failed); each attempt
/// within `timeout`. The winner, or every attempt's error. An attempt still running when
/// another wins ends by itself (its socket is closed as it connects or times out).
fn race(
    addrs: &[SocketAddr],
    timeout: Duration,
    delay: Duration,
) -> Result<(TcpStream, SocketAddr), Vec<(SocketAddr, io::Error)>> {
    if let [addr] = addrs {
        // The usual case: no thread.
        return TcpStream::connect_timeout(addr, timeout)
            .map(|s| (s, *addr))
            .map_err(|e| vec![(*addr, e)]);
    }
    let (tx, rx) = mpsc::channel();
    let mut failed = Vec::new();
    let mut running = 0;
    for (i, &addr) in addrs.iter().enumerate() {
        let done = tx.clone();
        let attempt = move || {
            // The receiver is gone once another attempt won: this socket just closes.
            let _ = done.send((addr, TcpStream::connect_timeout(&addr, timeout)));
        };
        let spawned = thread::Builder::new()
            .name("connect".into())
            .stack_size(ATTEMPT_STACK)
            .spawn(attempt.clone());
        if spawned.is_err() {
            attempt(); // No thread: this attempt in turn, as before RFC 8305.
        }
        running += 1;
        let last = i + 1 == addrs.len();
        // Wait for this attempt's delay (the last one: for the end of every attempt).
        let wait_until = Instant::now() + delay;
        while running > 0 {
            let got = if last {
                rx.recv().ok()
            } else {
                match wait_until.checked_duration_since(Instant::now()) {
                    Some(left) => rx.recv_timeout(left).ok(),
                    None => None,
                }
            };
            let Some((addr, result)) = got else {
                break; // The delay is over: start the next attempt.
            };
            running -= 1;
            match result {
                Ok(stream) => return Ok((stream, addr)),
                Err(e) => failed.push((addr, e)),
            }
            if running == 0 && !last {
                break; // Everything so far failed: the next at once.
            }
        }
    }
    Err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn at(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn families_take_turns_from_the_resolvers_first() {
        let got = interleave(vec![
            at("[::1]:1"),
            at("[::2]:1"),
            at("[::3]:1"),
            at("10.0.0.1:1"),
        ]);
        let want = ["[::1]:1", "10.0.0.1:1", "[::2]:1", "[::3]:1"].map(at);
        assert_eq!(got, want);
        let got = interleave(vec![at("10.0.0.1:1"), at("10.0.0.2:1"), at("[::1]:1")]);
        assert_eq!(got, ["10.0.0.1:1", "[::1]:1", "10.0.0.2:1"].map(at));
    }

    /// A listener whose accept queue is full: the kernel drops further SYNs, so a connect
    /// to it hangs as one to a blackholed address does (loopback only). The queued
    /// connections are returned to keep them open.
    fn blackhole(listener: &TcpListener) -> Vec<TcpStream> {
        let addr = listener.local_addr().unwrap();
        let mut queued = Vec::new();
        while let Ok(s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            queued.push(s);
            assert!(queued.len() < 5000, "the accept queue never filled");
        }
        queued
    }

    #[test]
    fn a_blackholed_address_costs_the_attempt_delay_not_the_timeout() {
        let Ok(hole) = TcpListener::bind("[::1]:0") else {
            eprintln!("no IPv6 loopback here: skipped");
            return;
        };
        let _queued = blackhole(&hole);
        let good = TcpListener::bind("127.0.0.1:0").unwrap();
        let (hole, good_addr) = (hole.local_addr().unwrap(), good.local_addr().unwrap());
        let timeout = Duration::from_secs(20);
        let started = Instant::now();
        let (_stream, won) = race(&[hole, good_addr], timeout, ATTEMPT_DELAY).unwrap();
        let took = started.elapsed();
        assert_eq!(won, good_addr);
        assert!(
            took >= ATTEMPT_DELAY && took < Duration::from_secs(2),
            "took {took:?}"
        );
        // A refused address does not wait for the delay: the next goes at once.
        let refused = {
            let l = TcpListener::bind("[::1]:0").unwrap();
            l.local_addr().unwrap()
        };
        let started = Instant::now();
        let (_stream, won) = race(&[refused, good_addr], timeout, ATTEMPT_DELAY).unwrap();
        assert_eq!(won, good_addr);
        assert!(started.elapsed() < ATTEMPT_DELAY, "{:?}", started.elapsed());
        // Every attempt failing: every error, after the last one ended.
        let errors = race(&[refused, refused], timeout, ATTEMPT_DELAY).unwrap_err();
        assert_eq!(errors.len(), 2);
        assert!(errors
            .iter()
            .all(|(_, e)| e.kind() == io::ErrorKind::ConnectionRefused));
    }
}
