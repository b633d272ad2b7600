//! TLS over a connected socket: the handshake within `--timeout`, a one-line message
//! for each way it fails, and the record copy (bounded buffers, reads that never write).

use super::deadline::{Limit, Timed};
use super::settings::Names;
use super::trust::SelfSignedNotTrusted;
use super::TLS_BUFFER_LIMIT;
use crate::error::Error;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

/// The TLS handshake with `host` over `tcp` (inside TLS to an https:// proxy when
/// `proxy` is given), the whole of it within `io_timeout`.
pub(super) fn handshake(
    config: &Arc<ClientConfig>,
    host: &str,
    tcp: &TcpStream,
    mut proxy: Option<&mut ClientConnection>,
    peer: &str,
    io_timeout: Duration,
    names: &Names,
) -> Result<ClientConnection, Error> {
    let name = ServerName::try_from(host.to_string()).map_err(|_| {
        Error::Usage(format!(
            "'{host}' is not a valid TLS server name: check {}",
            names.endpoint
        ))
    })?;
    let mut conn = ClientConnection::new(Arc::clone(config), name)
        .map_err(|e| Error::Tls(format!("TLS setup for {peer} failed: {e}")))?;
    conn.set_buffer_limit(Some(TLS_BUFFER_LIMIT));
    // The whole handshake within --timeout, however its bytes trickle in.
    let mut limit = Limit::within(io_timeout);
    while conn.is_handshaking() {
        let mut wire = Wire::new(tcp, proxy.as_deref_mut(), &mut limit);
        if let Err(e) = conn.complete_io(&mut wire) {
            if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                return Err(tls_error(tls, peer, names));
            }
            return Err(Error::Network(match e.kind() {
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => format!(
                    "TLS handshake with {peer} did not complete within {} s: is it a TLS port? try http:// or raise {}",
                    io_timeout.as_secs_f64(),
                    names.timeout
                ),
                io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset => format!(
                    "{peer} closed the connection during the TLS handshake: is it a TLS port? try http:// in {}",
                    names.endpoint
                ),
                _ => format!("TLS handshake with {peer} failed: {e}"),
            }));
        }
    }
    Ok(conn)
}

/// The byte pipe under a connection's own TLS or plain HTTP: the socket, or TLS to an
/// https:// proxy over it; every socket call bounded by the limit (see `deadline`).
pub(super) enum Wire<'a> {
    Tcp(Timed<'a>),
    ProxyTls(&'a mut ClientConnection, Timed<'a>),
}

impl<'a> Wire<'a> {
    pub(super) fn new(
        tcp: &'a TcpStream,
        proxy: Option<&'a mut ClientConnection>,
        limit: &'a mut Limit,
    ) -> Wire<'a> {
        let sock = Timed::new(tcp, limit);
        match proxy {
            None => Wire::Tcp(sock),
            Some(conn) => Wire::ProxyTls(conn, sock),
        }
    }
}

impl Read for Wire<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Wire::Tcp(sock) => sock.read(buf),
            Wire::ProxyTls(conn, sock) => read_from_tls(conn, sock, buf),
        }
    }
}

impl Write for Wire<'_> {
    /// Through a proxy's TLS, each write is sealed and sent whole: what goes in is the
    /// store's TLS records, already in pieces of rustls' bounded buffer.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Wire::Tcp(sock) => sock.write(buf),
            Wire::ProxyTls(conn, sock) => {
                write_into_tls(buf, conn, sock)?;
                flush_tls(conn, sock)?;
                Ok(buf.len())
            }
        }
    }

    /// Over the socket, rustls' queued records leave in one `writev` (the default method
    /// would send only the first record per call: one `sendto` per 8 KiB record, 4.5 times
    /// the system calls, measured); through a proxy's TLS, each record as `write` does.
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Wire::Tcp(sock) => sock.write_vectored(bufs),
            Wire::ProxyTls(..) => match bufs.iter().find(|b| !b.is_empty()) {
                Some(buf) => self.write(buf),
                None => Ok(0),
            },
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A one-line message with the fix for a TLS failure.
pub(super) fn tls_error(e: &rustls::Error, peer: &str, names: &Names) -> Error {
    let Names {
        endpoint,
        ca_bundle,
        path_style,
        ..
    } = names;
    use rustls::CertificateError as C;
    let text = match e {
        rustls::Error::InvalidCertificate(C::UnknownIssuer) => format!(
            "the certificate of {peer} is signed by a CA this host does not trust: \
             pass {ca_bundle} FILE.pem with the CA that signed it"
        ),
        rustls::Error::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => format!(
            "the certificate of {peer} is not valid for that name: use the host name the certificate was issued for \
             in {endpoint} (or {path_style} if the bucket name is in the way)"
        ),
        rustls::Error::InvalidCertificate(
            C::Expired | C::ExpiredContext { .. } | C::NotValidYet | C::NotValidYetContext { .. },
        ) => format!(
            "the certificate of {peer} is expired or not yet valid: check this host's clock, or renew the certificate"
        ),
        rustls::Error::InvalidCertificate(C::Other(other))
            if other.0.is::<SelfSignedNotTrusted>() || format!("{other:?}").contains("CaUsedAsEndEntity") =>
        {
            // `peer` may go on with " (through the proxy ...)": the command wants host:port.
            let server = peer.split(' ').next().unwrap_or(peer);
            format!(
                "the certificate of {peer} is self-signed and not in {ca_bundle}: add that very certificate \
                 (the server's cert.pem, or from `openssl s_client -showcerts -connect {server}`) with {ca_bundle} FILE.pem"
            )
        }
        // The first bytes back were no TLS record: an HTTP answer to the ClientHello.
        rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType) => format!(
            "{peer} answered in plain HTTP, not TLS: this port speaks plain HTTP; use http:// in {endpoint}"
        ),
        other => format!("TLS with {peer} failed: {other}"),
    };
    Error::Tls(text)
}

/// Seals `bytes` into records in rustls' bounded buffer, sending the buffer whenever it
/// is full (and only then).
pub(super) fn write_into_tls(
    mut bytes: &[u8],
    conn: &mut ClientConnection,
    sock: &mut impl Write,
) -> io::Result<()> {
    while !bytes.is_empty() {
        let taken = conn.writer().write(bytes)?;
        bytes = &bytes[taken..];
        if taken == 0 {
            flush_tls(conn, sock)?;
        }
    }
    Ok(())
}

/// Reads plaintext, reading TLS records from the socket as needed, and never writes:
/// `StreamOwned::read` first sends whatever records are still buffered, which after a
/// failed send (a store that answered early and closed) fails again and hides the answer
/// waiting in the socket. A peer that closes without close_notify reads as end of stream;
/// the framing decides whether that truncated anything.
pub(super) fn read_from_tls(
    conn: &mut ClientConnection,
    sock: &mut impl Read,
    buf: &mut [u8],
) -> io::Result<usize> {
    loop {
        match conn.reader().read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        conn.read_tls(sock)?;
        conn.process_new_packets()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    }
}

pub(super) fn flush_tls(conn: &mut ClientConnection, sock: &mut impl Write) -> io::Result<()> {
    while conn.wants_write() {
        conn.write_tls(sock)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::time::Duration;

    /// rustls hands its queued records to `write_vectored`: the socket must take them all
    /// in one call, not one record per call.
    #[test]
    fn the_socket_takes_every_queued_record_in_one_call() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let tcp = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (_peer, _) = listener.accept().unwrap();
        let mut limit = super::super::deadline::Limit::within(Duration::from_secs(10));
        let mut wire = Wire::new(&tcp, None, &mut limit);
        let records = [[1u8; 100], [2u8; 100], [3u8; 100]];
        let slices: Vec<io::IoSlice<'_>> = records.iter().map(|r| io::IoSlice::new(r)).collect();
        assert_eq!(wire.write_vectored(&slices).unwrap(), 300);
    }
}
