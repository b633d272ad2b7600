//! A SOCKS5 proxy on loopback (RFC 1928, with RFC 1929 username/password when asked
//! for), for the transport's tests. It records what each client asked to connect to,
//! connects there (loopback names only: it resolves what it is given), and relays bytes
//! both ways. Self-contained: its own accept loop, stop and Drop (to fold into the
//! shared test-server skeleton). Dropping it shuts every socket and joins every thread.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, Shutdown, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// A read with no byte for this long ends the connection (no test waits that long).
const IDLE: Duration = Duration::from_secs(60);

/// What a client asked the proxy to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocksTarget {
    /// ATYP 3: a name, for the proxy to resolve (socks5h://).
    Name(String, u16),
    /// ATYP 1 or 4: an address the client resolved (socks5://).
    Address(std::net::IpAddr, u16),
}

pub struct SocksProxy {
    port: u16,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

struct Shared {
    /// A user name and password every client must give (RFC 1929), or none.
    login: Option<(String, String)>,
    stop: AtomicBool,
    asked: Mutex<Vec<SocksTarget>>,
    /// Logins refused.
    refused: Mutex<usize>,
    sockets: Mutex<Vec<TcpStream>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl SocksProxy {
    /// Listens on 127.0.0.1 (a free port); with `login`, only that user and password pass.
    pub fn start(login: Option<(&str, &str)>) -> SocksProxy {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let shared = Arc::new(Shared {
            login: login.map(|(u, p)| (u.to_string(), p.to_string())),
            stop: AtomicBool::new(false),
            asked: Mutex::new(Vec::new()),
            refused: Mutex::new(0),
            sockets: Mutex::new(Vec::new()),
            threads: Mutex::new(Vec::new()),
        });
        let acceptor = {
            let shared = shared.clone();
            thread::spawn(move || {
                for conn in listener.incoming() {
                    if shared.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    if let Ok(clone) = conn.try_clone() {
                        shared.sockets.lock().unwrap().push(clone);
                    }
                    let for_thread = shared.clone();
                    let handle = thread::spawn(move || {
                        let _ = serve(conn, &for_thread);
                    });
                    shared.threads.lock().unwrap().push(handle);
                }
            })
        };
        SocksProxy {
            port,
            shared,
            acceptor: Some(acceptor),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every CONNECT target asked for, in order.
    pub fn asked(&self) -> Vec<SocksTarget> {
        self.shared.asked.lock().unwrap().clone()
    }

    /// How many logins it refused.
    pub fn refused(&self) -> usize {
        *self.shared.refused.lock().unwrap()
    }
}

impl Drop for SocksProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)); // wakes accept()
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        for sock in self.shared.sockets.lock().unwrap().drain(..) {
            let _ = sock.shutdown(Shutdown::Both);
        }
        let threads: Vec<_> = self.shared.threads.lock().unwrap().drain(..).collect();
        for t in threads {
            let _ = t.join();
        }
    }
}

fn serve(mut client: TcpStream, shared: &Shared) -> io::Result<()> {
    client.set_read_timeout(Some(IDLE))?;
    let mut head = [0u8; 2];
    client.read_exact(&mut head)?;
    let mut methods = vec![0u8; usize::from(head[1])];
    client.read_exact(&mut methods)?;
    if head[0] != 5 {
        return Ok(());
    }
    let wanted = if shared.login.is_some() { 2 } else { 0 };
    if !methods.contains(&wanted) {
        return client.write_all(&[5, 0xff]);
    }
    client.write_all(&[5, wanted])?;
    if let Some((user, password)) = &shared.login {
        let mut ver_len = [0u8; 2];
        client.read_exact(&mut ver_len)?;
        let mut got_user = vec![0u8; usize::from(ver_len[1])];
        client.read_exact(&mut got_user)?;
        let mut len = [0u8; 1];
        client.read_exact(&mut len)?;
        let mut got_password = vec![0u8; usize::from(len[0])];
        client.read_exact(&mut got_password)?;
        let ok =
            ver_len[0] == 1 && got_user == user.as_bytes() && got_password == password.as_bytes();
        client.write_all(&[1, if ok { 0 } else { 1 }])?;
        if !ok {
            *shared.refused.lock().unwrap() += 1;
            return Ok(());
        }
    }
    let mut request = [0u8; 4];
    client.read_exact(&mut request)?;
    let target = match request[3] {
        1 => {
            let mut a = [0u8; 6];
            client.read_exact(&mut a)?;
            let ip = Ipv4Addr::new(a[0], a[1], a[2], a[3]);
            SocksTarget::Address(ip.into(), u16::from_be_bytes([a[4], a[5]]))
        }
        4 => {
            let mut a = [0u8; 18];
            client.read_exact(&mut a)?;
            let octets: [u8; 16] = a[..16].try_into().unwrap();
            let ip = Ipv6Addr::from(octets);
            SocksTarget::Address(ip.into(), u16::from_be_bytes([a[16], a[17]]))
        }
        3 => {
            let mut len = [0u8; 1];
            client.read_exact(&mut len)?;
            let mut name = vec![0u8; usize::from(len[0]) + 2];
            client.read_exact(&mut name)?;
            let port = u16::from_be_bytes([name[name.len() - 2], name[name.len() - 1]]);
            name.truncate(name.len() - 2);
            SocksTarget::Name(String::from_utf8_lossy(&name).into_owned(), port)
        }
        _ => return client.write_all(&[5, 8, 0, 1, 0, 0, 0, 0, 0, 0]),
    };
    shared.asked.lock().unwrap().push(target.clone());
    let resolved = match &target {
        SocksTarget::Name(name, port) => (name.as_str(), *port).to_socket_addrs()?.next(),
        SocksTarget::Address(ip, port) => Some((*ip, *port).into()),
    };
    let Some(upstream) = resolved.filter(|a| a.ip().is_loopback()) else {
        // Loopback only: anything else is "not allowed by ruleset".
        return client.write_all(&[5, 2, 0, 1, 0, 0, 0, 0, 0, 0]);
    };
    let server = match TcpStream::connect(upstream) {
        Ok(s) => s,
        Err(_) => return client.write_all(&[5, 5, 0, 1, 0, 0, 0, 0, 0, 0]),
    };
    client.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 0])?;
    shared.sockets.lock().unwrap().push(server.try_clone()?);
    server.set_read_timeout(Some(IDLE))?;
    let (mut from_client, mut to_server) = (client.try_clone()?, server.try_clone()?);
    let up = thread::spawn(move || {
        let _ = io::copy(&mut from_client, &mut to_server);
        let _ = to_server.shutdown(Shutdown::Write);
    });
    let (mut from_server, mut to_client) = (server, client);
    let _ = io::copy(&mut from_server, &mut to_client);
    let _ = to_client.shutdown(Shutdown::Write);
    let _ = up.join();
    Ok(())
}
