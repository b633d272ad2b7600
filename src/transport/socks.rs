//! SOCKS5 (RFC 1928) with username/password authentication (RFC 1929): the greeting,
//! the login when the URL gave one, and CONNECT to the store, the whole exchange within
//! the connect timeout. After it the socket is a plain byte pipe to the store: TLS runs
//! end to end inside it, plain HTTP goes in origin form.

use super::deadline::{Limit, Timed};
use super::dial::{authority, resolve};
use super::is_timeout;
use super::settings::{Names, Proxy, ProxyKind};
use crate::error::Error;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

const VERSION: u8 = 5;
const NO_AUTH: u8 = 0;
const LOGIN: u8 = 2;
const NONE_ACCEPTABLE: u8 = 0xff;
const CONNECT: u8 = 1;
const IPV4: u8 = 1;
const DOMAIN: u8 = 3;
const IPV6: u8 = 4;

/// Asks the SOCKS5 proxy on `tcp` for a connection to `host`:`port`.
pub(super) fn connect(
    tcp: &TcpStream,
    proxy: &Proxy,
    host: &str,
    port: u16,
    wait: Duration,
    names: &Names,
) -> Result<(), Error> {
    let shown = proxy.shown();
    let target = authority(host, port);
    // The address to ask for: the name itself (socks5h), or what it resolves to here.
    let remote_dns = matches!(proxy.kind, ProxyKind::Socks5 { remote_dns: true });
    let address = match host.parse::<IpAddr>() {
        Ok(ip) => Address::Ip(ip),
        Err(_) if remote_dns => Address::Name(host),
        Err(_) => Address::Ip(first_address(resolve(host, port, None, names)?)),
    };
    let request = address.request(port).ok_or_else(|| {
        Error::Usage(format!(
            "'{host}' is longer than the 255 bytes a SOCKS5 request can carry: check {}",
            names.endpoint
        ))
    })?;
    let mut limit = Limit::within(wait);
    let mut sock = Timed::new(tcp, &mut limit);
    let io = |e: io::Error| match is_timeout(&e) {
        true => Error::Network(format!(
            "the SOCKS5 proxy at {shown} did not answer within {} s: check {} or raise {}",
            wait.as_secs_f64(),
            proxy.source,
            names.connect_timeout
        )),
        false if e.kind() == io::ErrorKind::UnexpectedEof => Error::Network(format!(
            "the SOCKS5 proxy at {shown} closed the connection: is it a SOCKS5 proxy? check {}",
            proxy.source
        )),
        false => Error::Network(format!("talking to the SOCKS5 proxy at {shown}: {e}")),
    };
    let not_socks = || {
        Error::Protocol(format!(
            "the proxy at {shown} does not answer as a SOCKS5 proxy: check the scheme in {}",
            proxy.source
        ))
    };
    let greeting: &[u8] = match proxy.login {
        Some(_) => &[VERSION, 2, NO_AUTH, LOGIN],
        None => &[VERSION, 1, NO_AUTH],
    };
    sock.write_all(greeting).map_err(io)?;
    let mut chosen = [0u8; 2];
    sock.read_exact(&mut chosen).map_err(io)?;
    match chosen {
        [VERSION, NO_AUTH] => {}
        [VERSION, LOGIN] => {
            let Some((user, password)) = &proxy.login else {
                return Err(not_socks());
            };
            let (user, password) = (user.expose().as_bytes(), password.expose().as_bytes());
            let mut login = Vec::with_capacity(3 + user.len() + password.len());
            login.push(1);
            login.push(u8::try_from(user.len()).unwrap_or(u8::MAX));
            login.extend_from_slice(&user[..user.len().min(255)]);
            login.push(u8::try_from(password.len()).unwrap_or(u8::MAX));
            login.extend_from_slice(&password[..password.len().min(255)]);
            let sent = sock.write_all(&login);
            crate::secret::wipe(login);
            sent.map_err(io)?;
            let mut status = [0u8; 2];
            sock.read_exact(&mut status).map_err(io)?;
            if status[1] != 0 {
                return Err(Error::Credentials(format!(
                    "the SOCKS5 proxy at {shown} refused the user name and password of the proxy URL in {}: \
                     check them; @ : / % in them must be written %40 %3A %2F %25",
                    proxy.source
                )));
            }
        }
        [VERSION, NONE_ACCEPTABLE] => {
            return Err(Error::Credentials(match proxy.login {
                Some(_) => format!(
                    "the SOCKS5 proxy at {shown} accepts neither no authentication nor a user name and password"
                ),
                None => format!(
                    "the SOCKS5 proxy at {shown} asks for a user name and password: put them in the proxy URL in {}, \
                     as socks5h://USER:PASSWORD@{shown} (in an environment variable: a command line shows in ps)",
                    proxy.source
                ),
            }))
        }
        _ => return Err(not_socks()),
    }
    sock.write_all(&request).map_err(io)?;
    // VER REP RSV ATYP, then the bound address (its length by ATYP) and port: read to its
    // end exactly, as what follows belongs to the store.
    let mut reply = [0u8; 4];
    sock.read_exact(&mut reply).map_err(io)?;
    if reply[0] != VERSION {
        return Err(not_socks());
    }
    let rest = match reply[3] {
        IPV4 => 4 + 2,
        IPV6 => 16 + 2,
        DOMAIN => {
            let mut len = [0u8; 1];
            sock.read_exact(&mut len).map_err(io)?;
            usize::from(len[0]) + 2
        }
        _ => return Err(not_socks()),
    };
    let mut bound = [0u8; 255 + 2];
    sock.read_exact(&mut bound[..rest]).map_err(io)?;
    match reply[1] {
        0 => Ok(()),
        code => Err(Error::Network(format!(
            "the SOCKS5 proxy at {shown} could not connect to {target}: {} (SOCKS5 reply {code}){}",
            reply_text(code),
            match (code, remote_dns) {
                (4, true) => ": the proxy could not resolve or reach the name; check the host",
                (2, _) => ": ask its administrator to allow it, or list the host in NO_PROXY",
                _ => "",
            }
        ))),
    }
}

/// What the proxy is asked to connect to.
enum Address<'a> {
    Ip(IpAddr),
    Name(&'a str),
}

impl Address<'_> {
    /// The CONNECT request; None when a name is over 255 bytes.
    fn request(&self, port: u16) -> Option<Vec<u8>> {
        let mut out = vec![VERSION, CONNECT, 0];
        match self {
            Address::Ip(IpAddr::V4(ip)) => {
                out.push(IPV4);
                out.extend_from_slice(&ip.octets());
            }
            Address::Ip(IpAddr::V6(ip)) => {
                out.push(IPV6);
                out.extend_from_slice(&ip.octets());
            }
            Address::Name(name) => {
                out.push(DOMAIN);
                out.push(u8::try_from(name.len()).ok().filter(|&n| n > 0)?);
                out.extend_from_slice(name.as_bytes());
            }
        }
        out.extend_from_slice(&port.to_be_bytes());
        Some(out)
    }
}

/// The first address in happy-eyeballs order (one is all a SOCKS5 request names).
fn first_address(addrs: Vec<SocketAddr>) -> IpAddr {
    addrs
        .first()
        .map_or(IpAddr::from([0, 0, 0, 0]), SocketAddr::ip)
}

/// RFC 1928 section 6's replies.
fn reply_text(code: u8) -> &'static str {
    match code {
        1 => "general SOCKS server failure",
        2 => "connection not allowed by ruleset",
        3 => "network unreachable",
        4 => "host unreachable",
        5 => "connection refused",
        6 => "TTL expired",
        7 => "command not supported",
        8 => "address type not supported",
        _ => "an unknown reply",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_name_the_address_as_rfc_1928_writes_it() {
        let ip = |s: &str| Address::Ip(s.parse().unwrap());
        assert_eq!(
            ip("10.1.2.3").request(443).unwrap(),
            [5, 1, 0, 1, 10, 1, 2, 3, 1, 187]
        );
        let v6 = ip("::1").request(80).unwrap();
        assert_eq!((&v6[..4], v6.len()), (&[5u8, 1, 0, 4][..], 4 + 16 + 2));
        assert_eq!(
            Address::Name("s3.example").request(9000).unwrap(),
            [&[5u8, 1, 0, 3, 10][..], b"s3.example", &[0x23, 0x28]].concat()
        );
        assert!(Address::Name(&"a".repeat(256)).request(1).is_none());
        assert!(Address::Name("").request(1).is_none());
    }
}
