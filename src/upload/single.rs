//! One PutObject: open the file, hash it when the payload is signed, send the head and
//! the body, and hold the last bytes back until the file is known not to have changed.

use super::request::{self, RequestSpec};
use super::retry::{self, Attempt};
use super::{check_response, Outcome};
use crate::config::{PayloadMode, Plan, Scheme, SignatureVersion};
use crate::http::request::write_request_head;
use crate::sign::chunked::{self, ChunkSigner};
use crate::sign::v4;
use crate::transport::{self, changed_during_upload, Connection, Continue, Response, COPY_BUFFER};
use crate::Error;
use rustls::ClientConfig;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// S3's largest single PUT (PutObject limits).
pub const MAX_SINGLE_PUT: u64 = 5 * 1024 * 1024 * 1024;

/// Bodies above this size are sent after `Expect: 100-continue` (curl's threshold): a
/// refusal then costs no upload.
pub const EXPECT_MIN_BODY: u64 = 1024 * 1024;
/// How long to wait for `100 Continue` before sending the body anyway.
pub const EXPECT_WAIT: Duration = Duration::from_secs(1);

/// Uploads the plan's file with one PUT, retried as the plan's policy allows.
pub fn put_file(plan: &Plan) -> Result<Outcome, Error> {
    let started = Instant::now();
    let (file, size, stamp) = open_source(&plan.source)?;
    let payload_hash = match (plan.signature, plan.payload) {
        (SignatureVersion::V2, _) => String::new(),
        (SignatureVersion::V4, PayloadMode::Unsigned) => v4::UNSIGNED_PAYLOAD.to_string(),
        (SignatureVersion::V4, PayloadMode::Signed) => hash_file(&file, size, &plan.source)?,
        (SignatureVersion::V4, PayloadMode::Streaming) => chunked::STREAMING_PAYLOAD.to_string(),
    };
    let tls = match plan.endpoint.scheme {
        Scheme::Https => Some(transport::tls_config(plan.ca_bundle.as_deref())?),
        Scheme::Http => None,
    };
    let body = Body {
        file: &file,
        size,
        stamp,
        payload_hash: &payload_hash,
    };
    let response = retry::run(plan, |plan, attempt| {
        put_once(plan, attempt, &body, tls.as_ref())
    })?;
    Ok(Outcome {
        url: plan.url(),
        bytes: size,
        etag: response.head.header("etag").map(str::to_string),
        version_id: response.head.header("x-amz-version-id").map(str::to_string),
        elapsed: started.elapsed(),
    })
}

/// The file being sent and what was learnt of it before the first attempt.
struct Body<'a> {
    file: &'a File,
    size: u64,
    stamp: FileStamp,
    payload_hash: &'a str,
}

/// One PUT: sign at the attempt's time, send the head, the body from the file's start,
/// and judge the answer.
fn put_once(
    plan: &Plan,
    attempt: Attempt,
    body: &Body<'_>,
    tls: Option<&Arc<ClientConfig>>,
) -> Result<Response, Error> {
    let path = &plan.source;
    let mut rewind = body.file;
    rewind
        .seek(SeekFrom::Start(0))
        .map_err(|e| Error::LocalFile(format!("rewinding {}: {e}", path.display())))?;
    let streaming = body.payload_hash == chunked::STREAMING_PAYLOAD;
    let mut headers = request::object_headers(plan);
    let mut content_length = body.size;
    if streaming {
        // aws-chunked comes first; the object's own coding, if any, after it.
        match headers.iter_mut().find(|(n, _)| n == "content-encoding") {
            Some((_, v)) => *v = format!("aws-chunked,{v}"),
            None => headers.push(("content-encoding".into(), "aws-chunked".into())),
        }
        headers.push(("x-amz-decoded-content-length".into(), body.size.to_string()));
        content_length = chunked::encoded_length(body.size, COPY_BUFFER as u64);
    }
    let spec = RequestSpec {
        method: "PUT",
        query: Vec::new(),
        headers,
        content_length,
        payload_hash: body.payload_hash,
    };
    let mut signed = request::sign(plan, spec, attempt.time);
    let expect = attempt.expect && body.size > EXPECT_MIN_BODY;
    let chunk_signer = streaming.then(|| {
        let creds = &plan.credentials;
        ChunkSigner::new(
            creds.secret_access_key.expose(),
            &plan.region,
            "s3",
            attempt.time,
            &signed.signature,
        )
    });
    if expect {
        // Not signed: a proxy may consume it.
        signed
            .headers
            .push(("expect".into(), "100-continue".into()));
    }
    let mut head = Vec::with_capacity(1024);
    write_request_head(signed.method, &signed.target, &signed.headers, &mut head).map_err(|e| {
        Error::Usage(format!(
            "a header cannot be sent ({e}): check the values given to s3push"
        ))
    })?;

    let mut conn = Connection::open(
        &plan.host(),
        plan.endpoint.port,
        tls,
        plan.timeouts.connect,
        plan.timeouts.io,
    )?;
    conn.send(&head)?;
    if expect {
        if let Continue::Final(response) = conn.await_continue(EXPECT_WAIT, "PUT")? {
            check_response(&response, plan)?;
            return Err(Error::Protocol(format!(
                "the store answered {} before receiving the body: nothing was stored",
                response.head.status_line()
            )));
        }
    }
    let sent = match chunk_signer {
        Some(signer) => send_chunked(&mut conn, body.file, body.size, body.stamp, path, signer),
        None => send_body(&mut conn, body.file, body.size, body.stamp, path),
    };
    if let Err(e) = sent {
        // A server that refuses early (bad signature, no bucket) answers before the body
        // is all there; its answer says more than the broken pipe does.
        if matches!(e, Error::Network(_)) {
            if let Some(response) = conn.early_response("PUT") {
                check_response(&response, plan)?;
            }
        }
        return Err(e);
    }
    let response = conn.read_response("PUT")?;
    check_response(&response, plan)?;
    Ok(response)
}

/// What identifies one state of the file: length and modification time.
type FileStamp = (u64, Option<SystemTime>);

fn open_source(path: &Path) -> Result<(File, u64, FileStamp), Error> {
    let shown = path.display();
    let file = File::open(path).map_err(|e| {
        Error::LocalFile(match e.kind() {
            std::io::ErrorKind::NotFound => format!("{shown}: no such file; check the path"),
            std::io::ErrorKind::PermissionDenied => {
                format!("{shown}: permission denied; run as a user who can read it")
            }
            _ => format!("cannot open {shown}: {e}"),
        })
    })?;
    let meta = file
        .metadata()
        .map_err(|e| Error::LocalFile(format!("cannot stat {shown}: {e}")))?;
    if meta.is_dir() {
        return Err(Error::LocalFile(format!(
            "{shown} is a directory: give a file (upload each file of a directory on its own)"
        )));
    }
    if !meta.is_file() {
        return Err(Error::LocalFile(format!(
            "{shown} is not a regular file (a pipe or a device), and a single PUT needs the size up front: \
             save it to a file first"
        )));
    }
    let size = meta.len();
    if size > MAX_SINGLE_PUT {
        return Err(Error::LocalFile(format!(
            "{shown} is {size} bytes, over the 5 GiB limit of a single S3 PUT"
        )));
    }
    Ok((file, size, (size, meta.modified().ok())))
}

fn stamp_of(file: &File, path: &Path) -> Result<FileStamp, Error> {
    let meta = file
        .metadata()
        .map_err(|e| Error::LocalFile(format!("cannot stat {}: {e}", path.display())))?;
    Ok((meta.len(), meta.modified().ok()))
}

/// SHA-256 of the file's first `size` bytes, read through one fixed buffer (each attempt
/// rewinds the file before sending).
fn hash_file(file: &File, size: u64, path: &Path) -> Result<String, Error> {
    let mut hasher = v4::PayloadHasher::new();
    let mut buf = [0u8; COPY_BUFFER];
    let mut reader = file.take(size);
    let mut read = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(Error::LocalFile(format!(
                    "reading {}: {e}; check the disk and retry",
                    path.display()
                )))
            }
        };
        hasher.update(&buf[..n]);
        read += n as u64;
    }
    if read != size {
        return Err(changed_during_upload(path));
    }
    Ok(hasher.finish())
}

/// Sends the body but its last block, checks that the file is as it was when the upload
/// started, then sends the last block: a file that changed never becomes a whole object.
fn send_body(
    conn: &mut Connection,
    file: &File,
    size: u64,
    stamp: FileStamp,
    path: &Path,
) -> Result<(), Error> {
    let tail = size.min(COPY_BUFFER as u64);
    conn.send_file(file, size - tail, path)?;
    if stamp_of(file, path)? != stamp {
        return Err(changed_during_upload(path));
    }
    conn.send_file(file, tail, path)
}

/// Sends the body as aws-chunked: each 8 KiB chunk read once into a fixed buffer, signed,
/// and framed (`hex-size;chunk-signature=SIG\r\n` data `\r\n`), then the signed final
/// empty chunk. As in `send_body`, the file is checked before its last chunk goes out.
fn send_chunked(
    conn: &mut Connection,
    file: &File,
    size: u64,
    stamp: FileStamp,
    path: &Path,
    mut signer: ChunkSigner,
) -> Result<(), Error> {
    // Data plus its frame: the header is at most 4 hex digits, ";chunk-signature=", 64
    // hex digits and CRLF; CRLF follows the data.
    const FRAME: usize = COPY_BUFFER + 96;
    let mut data = [0u8; COPY_BUFFER];
    let mut frame = [0u8; FRAME];
    let mut reader = file.take(size);
    let mut left = size;
    while left > 0 {
        let want = usize::try_from(left.min(COPY_BUFFER as u64)).unwrap_or(COPY_BUFFER);
        read_exactly(&mut reader, &mut data[..want], path)?;
        left -= want as u64;
        if left == 0 && stamp_of(file, path)? != stamp {
            return Err(changed_during_upload(path));
        }
        let head = chunked::write_chunk_header(&mut frame, want, signer.sign(&data[..want]))
            .ok_or_else(frame_too_small)?;
        let used = head + want + 2;
        frame[head..head + want].copy_from_slice(&data[..want]);
        frame[used - 2..used].copy_from_slice(b"\r\n");
        conn.send(&frame[..used])?;
    }
    let head =
        chunked::write_chunk_header(&mut frame, 0, signer.sign(&[])).ok_or_else(frame_too_small)?;
    frame[head..head + 2].copy_from_slice(b"\r\n");
    conn.send(&frame[..head + 2])
}

/// Cannot happen for an 8 KiB chunk (87 bytes of header fit in the 96 spare); an error,
/// not a panic, all the same.
fn frame_too_small() -> Error {
    Error::Protocol("internal: an aws-chunked header did not fit its frame".into())
}

/// Fills `buf` from `reader`; a file that ends early changed during the upload.
fn read_exactly(reader: &mut impl Read, buf: &mut [u8], path: &Path) -> Result<(), Error> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => return Err(changed_during_upload(path)),
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(Error::LocalFile(format!(
                    "reading {}: {e}; check the disk and retry",
                    path.display()
                )))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;
    use std::time::Duration;

    /// A file that grows while its body is on the wire is stopped before its last block:
    /// the receiver never gets the whole Content-Length, so no store would keep it.
    #[test]
    fn a_file_that_changes_mid_upload_is_stopped_before_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("growing.bin");
        let size: u64 = 32 * 1024 * 1024; // far more than loopback socket buffers hold
        std::fs::write(&path, vec![7u8; size as usize]).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let grow = path.clone();
        let receiver = std::thread::spawn(move || {
            let (mut sock, _) = listener.accept().unwrap();
            sock.set_read_timeout(Some(Duration::from_secs(30)))
                .unwrap();
            let mut buf = vec![0u8; 64 * 1024];
            let mut got = 0u64;
            let mut grown = false;
            loop {
                match sock.read(&mut buf) {
                    Ok(0) | Err(_) => return got,
                    Ok(n) => got += n as u64,
                }
                if !grown && got >= 1024 * 1024 {
                    let mut f = std::fs::OpenOptions::new()
                        .append(true)
                        .open(&grow)
                        .unwrap();
                    f.write_all(b"appended while uploading").unwrap();
                    grown = true;
                }
            }
        });
        let (file, len, stamp) = open_source(&path).unwrap();
        let timeout = Duration::from_secs(30);
        let mut conn = Connection::open("127.0.0.1", port, None, timeout, timeout).unwrap();
        let err = send_body(&mut conn, &file, len, stamp, &path).unwrap_err();
        assert_eq!(err.exit_code(), 3, "{err}");
        assert!(
            err.to_string()
                .contains("changed while it was being uploaded"),
            "{err}"
        );
        drop(conn);
        let received = receiver.join().unwrap();
        assert!(received < size, "the whole body went out: {received}");
        assert_eq!(received, size - COPY_BUFFER as u64);
    }

    #[test]
    fn sources_that_are_not_regular_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(open_source(dir.path()).unwrap_err().exit_code(), 3);
        assert_eq!(
            open_source(&dir.path().join("absent"))
                .unwrap_err()
                .exit_code(),
            3
        );
        assert!(open_source(Path::new("/dev/null"))
            .unwrap_err()
            .to_string()
            .contains("not a regular file"));
    }
}
