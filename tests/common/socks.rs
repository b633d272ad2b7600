//! A SOCKS5 proxy on loopback (RFC 1928, with RFC 1929 username/password when asked
//! for), for the transport's tests. It records what each client asked to connect to,
//! connects there (loopback names only: it resolves what it is given), and relays bytes
//! both ways.
//!
//! A handler on tests/common/listen.rs: dropping the proxy shuts every socket and joins
//! every thread.

use super::listen::{lock, Connection, Listening};
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};

/// What a client asked the proxy to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocksTarget {
    /// ATYP 3: a name, for the proxy to resolve (socks5h://).
    Name(String, u16),
    /// ATYP 1 or 4: an address the client resolved (socks5://).
    Address(IpAddr, u16),
}

pub struct SocksProxy {
    listening: Listening,
    shared: Arc<Shared>,
}

struct Shared {
    /// A user name and password every client must give (RFC 1929), or none.
    login: Option<(String, String)>,
    asked: Mutex<Vec<SocksTarget>>,
    /// Logins refused.
    refused: Mutex<usize>,
}

impl SocksProxy {
    /// Listens on 127.0.0.1 (a free port); with `login`, only that user and password pass.
    pub fn start(login: Option<(&str, &str)>) -> SocksProxy {
        let shared = Arc::new(Shared {
            login: login.map(|(u, p)| (u.to_string(), p.to_string())),
            asked: Mutex::new(Vec::new()),
            refused: Mutex::new(0),
        });
        let listening = {
            let shared = shared.clone();
            Listening::start(move |client, conn| {
                let _ = serve(client, &conn, &shared);
            })
        };
        SocksProxy { listening, shared }
    }

    pub fn port(&self) -> u16 {
        self.listening.port()
    }

    /// Every CONNECT target asked for, in order.
    pub fn asked(&self) -> Vec<SocksTarget> {
        lock(&self.shared.asked).clone()
    }

    /// How many logins it refused.
    pub fn refused(&self) -> usize {
        *lock(&self.shared.refused)
    }
}

/// The client's bytes read so far and not yet taken.
struct Reader<'a> {
    conn: &'a Connection,
    sock: &'a TcpStream,
    pending: Vec<u8>,
}

impl Reader<'_> {
    /// The next `n` bytes; Err when the client stops sending first (or the server stops).
    fn take(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.pending.len() < n {
            if !self.conn.read_more(self.sock, &mut self.pending) {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        Ok(self.pending.drain(..n).collect())
    }

    /// A length byte, then that many bytes.
    fn take_counted(&mut self) -> io::Result<Vec<u8>> {
        let len = self.take(1)?[0];
        self.take(usize::from(len))
    }
}

/// Reply codes (RFC 1928 6) after a request, with a zero IPv4 bound address.
fn reply(mut client: &TcpStream, code: u8) -> io::Result<()> {
    client.write_all(&[5, code, 0, 1, 0, 0, 0, 0, 0, 0])
}

fn serve(client: TcpStream, conn: &Connection, shared: &Shared) -> io::Result<()> {
    let mut reader = Reader {
        conn,
        sock: &client,
        pending: Vec::new(),
    };
    let version = reader.take(1)?[0];
    let methods = reader.take_counted()?;
    if version != 5 {
        return Ok(());
    }
    let wanted = if shared.login.is_some() { 2 } else { 0 };
    if !methods.contains(&wanted) {
        return (&client).write_all(&[5, 0xff]);
    }
    (&client).write_all(&[5, wanted])?;
    if let Some((user, password)) = &shared.login {
        let sub_version = reader.take(1)?[0];
        let got_user = reader.take_counted()?;
        let got_password = reader.take_counted()?;
        let ok =
            sub_version == 1 && got_user == user.as_bytes() && got_password == password.as_bytes();
        (&client).write_all(&[1, if ok { 0 } else { 1 }])?;
        if !ok {
            *lock(&shared.refused) += 1;
            return Ok(());
        }
    }
    let request = reader.take(4)?;
    let target = match request[3] {
        1 => {
            let a = reader.take(6)?;
            let ip = Ipv4Addr::new(a[0], a[1], a[2], a[3]);
            SocksTarget::Address(ip.into(), u16::from_be_bytes([a[4], a[5]]))
        }
        4 => {
            let a = reader.take(18)?;
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&a[..16]);
            let ip = Ipv6Addr::from(octets);
            SocksTarget::Address(ip.into(), u16::from_be_bytes([a[16], a[17]]))
        }
        3 => {
            let name = reader.take_counted()?;
            let port = reader.take(2)?;
            let port = u16::from_be_bytes([port[0], port[1]]);
            SocksTarget::Name(String::from_utf8_lossy(&name).into_owned(), port)
        }
        _ => return reply(&client, 8), // address type not supported
    };
    lock(&shared.asked).push(target.clone());
    let resolved: Option<SocketAddr> = match &target {
        SocksTarget::Name(name, port) => (name.as_str(), *port).to_socket_addrs()?.next(),
        SocksTarget::Address(ip, port) => Some((*ip, *port).into()),
    };
    let Some(upstream) = resolved.filter(|a| a.ip().is_loopback()) else {
        // Loopback only: anything else is "not allowed by ruleset".
        return reply(&client, 2);
    };
    let Some(backend) = conn.dial(upstream) else {
        return reply(&client, 5); // connection refused
    };
    (&client).write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 0])?;
    // Whatever the client sent after its request goes first.
    let first = std::mem::take(&mut reader.pending);
    conn.pipe(&client, &backend, &first)
}
