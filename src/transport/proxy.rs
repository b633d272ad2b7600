//! HTTP(S) proxies: the CONNECT tunnel (RFC 9110 9.3.6), inside TLS to an https://
//! proxy when there is one, and what a proxy's 407 means.

use super::deadline::Limit;
use super::settings::{Names, Proxy};
use super::tls::Wire;
use super::{first_line, is_timeout};
use crate::error::Error;
use crate::error::Refusal;
use crate::http::request::write_request_head;
use crate::http::response::{ResponseHead, Status};
use crate::secret::Secret;
use rustls::ClientConnection;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Asks the proxy on `tcp` (through TLS to it when `over` is given) for a tunnel to
/// `target` (RFC 9110 9.3.6) and reads its answer, the whole exchange within `wait`.
pub(super) fn tunnel(
    tcp: &TcpStream,
    mut over: Option<&mut ClientConnection>,
    proxy: &Proxy,
    target: &str,
    wait: Duration,
    names: &Names,
) -> Result<(), Error> {
    let shown = proxy.shown();
    // Through the head writer and its checks, as every request: the target is
    // host:port (authority-form, RFC 9112 3.2.3).
    let mut headers = vec![("Host".to_string(), target.to_string())];
    if let Some(auth) = &proxy.authorization {
        headers.push(("Proxy-Authorization".into(), auth.expose().to_string()));
    }
    let mut head = Vec::with_capacity(256);
    let written = write_request_head("CONNECT", target, &headers, &mut head);
    if let Some((_, auth)) = headers.pop().filter(|_| proxy.authorization.is_some()) {
        drop(Secret::new(auth)); // zeroed
    }
    written.map_err(|e| {
        Error::Usage(format!(
            "a CONNECT request to the proxy at {shown} for {target} cannot be written ({e}): check {}",
            proxy.source
        ))
    })?;
    let mut limit = Limit::within(wait);
    let sent = Wire::new(tcp, over.as_deref_mut(), &mut limit).write_all(&head);
    crate::secret::wipe(head);
    let late = || {
        Error::Network(format!(
            "the proxy at {shown} did not answer CONNECT within {} s: check {} or raise {}",
            wait.as_secs_f64(),
            proxy.source,
            names.connect_timeout
        ))
    };
    sent.map_err(|e| match is_timeout(&e) {
        true => late(),
        false => Error::Network(format!("sending CONNECT to the proxy at {shown}: {e}")),
    })?;
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let answer = loop {
        match ResponseHead::parse(&got) {
            Ok(Status::Complete(used, head)) => break (head, got.len() > used),
            Ok(Status::Partial) => {}
            Err(e) => {
                return Err(Error::Protocol(format!(
                    "the proxy at {shown} answered CONNECT with something that is not HTTP ({e}), starting {:?}: check {}",
                    first_line(&got),
                    proxy.source
                )))
            }
        }
        // Reads only what one head can be: a tunnel's first bytes belong to TLS.
        let n = match Wire::new(tcp, over.as_deref_mut(), &mut limit).read(&mut buf) {
            Ok(n) => n,
            Err(e) if is_timeout(&e) => return Err(late()),
            Err(e) => {
                return Err(Error::Network(format!(
                    "reading the CONNECT answer of the proxy at {shown}: {e}"
                )))
            }
        };
        if n == 0 {
            return Err(Error::Network(format!(
                "the proxy at {shown} closed the connection instead of answering CONNECT: check {}",
                proxy.source
            )));
        }
        got.extend_from_slice(&buf[..n]);
    };
    let (head, extra) = answer;
    match head.status {
        200..=299 if !extra => Ok(()),
        200..=299 => Err(Error::Protocol(format!(
            "the proxy at {shown} sent bytes after its CONNECT answer, before TLS started"
        ))),
        407 => Err(proxy_auth_error(
            &shown,
            proxy.source,
            proxy.login_elsewhere,
            proxy.authorization.is_some(),
        )),
        status => Err(Error::Refused(Box::new(Refusal {
            status_line: head.status_line(),
            status,
            code: None,
            message: None,
            request_id: None,
            hint: Some(format!(
                "the proxy at {shown} (from {}) would not open a tunnel to {target}: ask its administrator to allow it, or list the host in NO_PROXY",
                proxy.source
            )),
            server_date: None,
            region: None,
        }))),
    }
}

/// A proxy's 407: its credentials are missing or wrong (never shown).
pub(super) fn proxy_auth_error(
    shown: &str,
    source: &str,
    login_elsewhere: Option<&str>,
    had_credentials: bool,
) -> Error {
    Error::Credentials(if had_credentials {
        format!(
            "the proxy at {shown} refused the user name and password of the proxy URL in {source} \
             (407 Proxy Authentication Required): check them; @ : / % in them must be written %40 %3A %2F %25"
        )
    } else {
        if let Some(elsewhere) = login_elsewhere {
            format!(
                "the proxy at {shown} asks for a user name and password (407 Proxy Authentication Required): \
                 give the proxy in {elsewhere} as http://USER:PASSWORD@{shown} \
                 instead of {source}, which keeps passwords off the command line"
            )
        } else {
            format!(
                "the proxy at {shown} asks for a user name and password (407 Proxy Authentication Required): \
                 put them in the proxy URL in {source}, as http://USER:PASSWORD@{shown}"
            )
        }
    })
}
