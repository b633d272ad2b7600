//! The body on the wire. Through the fixed 8 KiB buffer, as it is read; or, for a file
//! over plain TCP, with sendfile(2): the bytes go from the page cache to the socket
//! without a copy through this process, in pieces of DIRECT_PIECE. Where something must
//! be computed from the bytes (a checksum trailer, the MD5 for the ETag), each piece is
//! first read through the same buffer. Bytes sent this way are the file's pages until
//! the store has read them, so `exchange::once` looks at the file's stamp again once the
//! answer is in: a file written meanwhile is never confirmed. std's `io::copy` does not
//! do this from a file to a socket.

use super::body::{changed_during_upload, read_exactly, stamp_of, stopped};
use super::{Body, BodyReader, FileSpan};
use crate::checksum::Algorithm;
use crate::error::Error;
use crate::interrupt;
use crate::report::trace;
use crate::sign::chunked::{self, ChunkSigner};
use crate::transport::{Connection, FileSent, COPY_BUFFER};
use crate::upload::rate;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// The bytes of one piece: read for a checksum (which leaves them in the page cache),
/// then sent with sendfile calls of up to 64 KiB. An unsigned-trailer chunk.
const DIRECT_PIECE: u64 = chunked::UNSIGNED_CHUNK as u64;

/// Whether `body` goes with sendfile: a file, over a connection that can, with no
/// `--limit-rate` (which paces each 8 KiB block).
fn direct(conn: &Connection, body: Body<'_>) -> bool {
    let direct = matches!(body, Body::File(_)) && conn.sends_files() && !rate::capped();
    if direct {
        trace::event(format_args!(
            "the body goes from the file to the socket with sendfile"
        ));
    }
    direct
}

/// Sends the body's next `len` bytes (at most DIRECT_PIECE in `direct`), which end it
/// when `last`: the file is checked against its stamp before its last block goes out.
/// With `direct`, read through `buf` only if something is computed from them, then sent
/// with sendfile; `direct` turns off for the rest of the body when sendfile fails for what
/// may be the file's reason, and the rest is copied, which tells a read error from a
/// send error.
fn send_data(
    conn: &mut Connection,
    reader: &mut BodyReader<'_>,
    body: Body<'_>,
    len: u64,
    last: bool,
    buf: &mut [u8; COPY_BUFFER],
    direct: &mut bool,
) -> Result<(), Error> {
    if let (true, Body::File(span)) = (*direct, body) {
        let offset = span.offset + reader.pos;
        if reader.sees_bytes() {
            let mut left = len;
            while left > 0 {
                let want = usize::try_from(left.min(COPY_BUFFER as u64)).unwrap_or(COPY_BUFFER);
                read_exactly(reader, &mut buf[..want], span.path)?;
                left -= want as u64;
            }
        } else {
            reader.skip(len)?;
        }
        if last {
            check_stamp(body)?;
        }
        reader.sendfile = true;
        let (mut at, end) = (offset, offset + len);
        while at < end {
            // A stop is looked at between calls (each moves at most 64 KiB), as the copy
            // loop looks before each block.
            if interrupt::should_stop(reader.cancel) {
                return Err(stopped());
            }
            match conn.send_file(span.file, at, end - at)? {
                FileSent::Sent(n) => at += n,
                FileSent::Ended => return Err(changed_during_upload(span.path)),
                FileSent::Unsupported => {
                    *direct = false;
                    return copy_span(conn, &span, at, end - at, buf);
                }
            }
        }
        return Ok(());
    }
    let mut left = len;
    while left > 0 {
        let want = usize::try_from(left.min(COPY_BUFFER as u64)).unwrap_or(COPY_BUFFER);
        read_exactly(reader, &mut buf[..want], body.path())?;
        left -= want as u64;
        if last && left == 0 {
            check_stamp(body)?;
        }
        conn.send_body(&buf[..want])?;
    }
    Ok(())
}

/// Copies `len` bytes of `span`'s file from `offset` (already through the reader: the
/// rest of a piece sendfile could not take).
fn copy_span(
    conn: &mut Connection,
    span: &FileSpan<'_>,
    mut offset: u64,
    len: u64,
    buf: &mut [u8; COPY_BUFFER],
) -> Result<(), Error> {
    let end = offset + len;
    while offset < end {
        let want = usize::try_from((end - offset).min(COPY_BUFFER as u64)).unwrap_or(COPY_BUFFER);
        let n = match span.file.read_at(&mut buf[..want], offset) {
            Ok(0) => return Err(changed_during_upload(span.path)),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(unreadable(span.path, &e)),
        };
        conn.send_body(&buf[..n])?;
        offset += n as u64;
    }
    Ok(())
}

fn unreadable(path: &Path, e: &std::io::Error) -> Error {
    Error::LocalFile(format!(
        "reading {}: {e}; check the disk and retry",
        path.display()
    ))
}

/// An unsigned-trailer body whose data go with sendfile: each chunk's header (after the
/// CRLF that ends the chunk before) is one small send, its data pieces of `send_data`,
/// then the final chunk and the trailer.
fn send_unsigned_chunks(
    conn: &mut Connection,
    reader: &mut BodyReader<'_>,
    body: Body<'_>,
    chunk: usize,
    trailer: Option<Algorithm>,
) -> Result<(), Error> {
    let mut buf = [0u8; COPY_BUFFER];
    let mut direct = true;
    let mut head = [0u8; 2 + 16 + 2];
    let mut left = body.len();
    let mut open = false;
    while left > 0 {
        let len = left.min(chunk.max(1) as u64);
        left -= len;
        let crlf = if open { 2 } else { 0 };
        head[..crlf].copy_from_slice(&b"\r\n"[..crlf]);
        let size = usize::try_from(len).map_err(|_| frame_too_small())?;
        let n = chunked::write_plain_chunk_header(&mut head[crlf..], size)
            .ok_or_else(frame_too_small)?;
        conn.send_body(&head[..crlf + n])?;
        let mut in_chunk = len;
        while in_chunk > 0 {
            let piece = in_chunk.min(DIRECT_PIECE);
            in_chunk -= piece;
            let last = left == 0 && in_chunk == 0;
            send_data(conn, reader, body, piece, last, &mut buf, &mut direct)?;
        }
        open = true;
    }
    let value = reader.sum.as_ref().map(|h| h.finish().to_base64());
    let trailer = trailer
        .zip(value.as_deref())
        .map(|(a, v)| (a.header_name(), v));
    let end = chunked::body_end(None, trailer).ok_or_else(|| {
        Error::Protocol("internal: an aws-chunked body without signatures or checksum".into())
    })?;
    let end = if open { format!("\r\n{end}") } else { end };
    conn.send(end.as_bytes())
}

impl BodyReader<'_> {
    /// Whether anything is computed from the bytes as they pass (the MD5, a checksum).
    fn sees_bytes(&self) -> bool {
        self.md5.is_some() || self.sum.is_some()
    }

    /// Counts `n` bytes that go without being read here (sendfile), as a read would:
    /// a stop looked at first, then progress.
    fn skip(&mut self, n: u64) -> Result<(), Error> {
        if interrupt::should_stop(self.cancel) {
            return Err(stopped());
        }
        if let Some(s) = &mut self.sending {
            s.add(n);
        }
        self.pos += n;
        Ok(())
    }
}

/// Sends the body through one fixed buffer (a file over plain TCP with sendfile, see
/// `send_data`), checking the file against its stamp before the last block goes out. The
/// copy loop is here, not in the transport: a read error is the file's, a send error the
/// network's, with no guessing between them.
pub(super) fn send_plain(
    conn: &mut Connection,
    reader: &mut BodyReader<'_>,
    body: Body<'_>,
) -> Result<(), Error> {
    let direct = direct(conn, body);
    send_plain_with(conn, reader, body, direct)
}

fn send_plain_with(
    conn: &mut Connection,
    reader: &mut BodyReader<'_>,
    body: Body<'_>,
    mut direct: bool,
) -> Result<(), Error> {
    let mut buf = [0u8; COPY_BUFFER];
    let mut left = body.len();
    while left > 0 {
        let len = left.min(DIRECT_PIECE);
        left -= len;
        send_data(conn, reader, body, len, left == 0, &mut buf, &mut direct)?;
    }
    conn.flush()
}

/// Whether a file body's stamp is no longer the one taken when it was opened.
pub(super) fn stamp_changed(body: Body<'_>) -> Result<bool, Error> {
    match body {
        Body::File(FileSpan {
            file,
            path,
            stamp: Some(stamp),
            ..
        }) => Ok(stamp_of(file, path)? != stamp),
        _ => Ok(false),
    }
}

pub(super) fn check_stamp(body: Body<'_>) -> Result<(), Error> {
    match stamp_changed(body)? {
        true => Err(changed_during_upload(body.path())),
        false => Ok(()),
    }
}

/// Sends the body as aws-chunked in chunks of `chunk` bytes (signed ones are one buffer's
/// worth), read once through a fixed 8 KiB buffer in which each chunk's header
/// (`hex-size;chunk-signature=SIG\r\n` signed, `hex-size\r\n` plain) goes just before
/// the data and CRLF just after it, so the data is not copied again; then the final
/// empty chunk, and the checksum trailer when one is asked for (its send flushes). As in
/// `send_plain`, the file is checked before its last piece goes out.
pub(super) fn send_chunked(
    conn: &mut Connection,
    reader: &mut BodyReader<'_>,
    body: Body<'_>,
    chunk: usize,
    mut signer: Option<ChunkSigner>,
    trailer: Option<Algorithm>,
) -> Result<(), Error> {
    if signer.is_none() && direct(conn, body) {
        return send_unsigned_chunks(conn, reader, body, chunk, trailer);
    }
    let mut frame = [0u8; chunked::HEAD_ROOM + COPY_BUFFER + 2];
    for piece in chunked::pieces(body.len(), chunk, COPY_BUFFER) {
        let data = &mut frame[chunked::HEAD_ROOM..][..piece.len];
        read_exactly(reader, data, body.path())?;
        if piece.last {
            check_stamp(body)?;
        }
        let header = piece.starts_chunk.map(|len| (len, signer.as_mut()));
        let framed = chunked::frame_in_place(&mut frame, piece.len, header, piece.ends_chunk)
            .ok_or_else(frame_too_small)?;
        conn.send_body(&frame[framed])?;
    }
    let value = reader.sum.as_ref().map(|h| h.finish().to_base64());
    let trailer = trailer
        .zip(value.as_deref())
        .map(|(a, v)| (a.header_name(), v));
    let end = chunked::body_end(signer.as_mut(), trailer).ok_or_else(|| {
        Error::Protocol("internal: an aws-chunked body without signatures or checksum".into())
    })?;
    conn.send(end.as_bytes())
}

/// Cannot happen (a chunk header is at most 87 bytes here, with 100 of room, and a signed
/// chunk is one buffer's worth); an error, not a panic, all the same.
fn frame_too_small() -> Error {
    Error::Protocol("internal: an aws-chunked header did not fit its frame".into())
}

#[cfg(test)]
mod tests {
    use super::super::{FileSpan, FLAGS};
    use super::*;
    use std::fs::File;
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::time::Duration;

    /// A receiver on loopback that counts what arrives until the sender closes; when
    /// `grow` is given, it appends to that file once 1 MiB has arrived.
    fn receiver(grow: Option<std::path::PathBuf>) -> (u16, std::thread::JoinHandle<u64>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = std::thread::spawn(move || {
            let (mut sock, _) = listener.accept().unwrap();
            sock.set_read_timeout(Some(Duration::from_secs(30)))
                .unwrap();
            let mut buf = vec![0u8; 64 * 1024];
            let mut got = 0u64;
            let mut grow = grow;
            loop {
                match sock.read(&mut buf) {
                    Ok(0) | Err(_) => return got,
                    Ok(n) => got += n as u64,
                }
                if got >= 1024 * 1024 {
                    if let Some(path) = grow.take() {
                        let mut f = std::fs::OpenOptions::new()
                            .append(true)
                            .open(&path)
                            .unwrap();
                        f.write_all(b"appended while uploading").unwrap();
                    }
                }
            }
        });
        (port, handle)
    }

    fn connect(port: u16) -> Connection {
        let timeout = Duration::from_secs(30);
        Connection::open("127.0.0.1", port, None, timeout, timeout, &FLAGS).unwrap()
    }

    /// A file that grows while its body is on the wire is stopped before its last block
    /// (the copy loop) or its last piece (sendfile, whether the bytes are hashed on the
    /// way or not): the receiver never gets the whole Content-Length, so no store would
    /// keep it.
    #[test]
    fn a_file_that_changes_mid_upload_is_stopped_before_its_end() {
        for (direct, md5, held_back) in [
            (false, true, COPY_BUFFER as u64),
            (true, true, DIRECT_PIECE),
            (true, false, DIRECT_PIECE),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("growing.bin");
            let size: u64 = 32 * 1024 * 1024; // far more than loopback socket buffers hold
            std::fs::write(&path, vec![7u8; size as usize]).unwrap();
            let (port, receiver) = receiver(Some(path.clone()));
            let file = File::open(&path).unwrap();
            let stamp = stamp_of(&file, &path).unwrap();
            let body = Body::File(FileSpan {
                file: &file,
                offset: 0,
                len: size,
                path: &path,
                stamp: Some(stamp),
            });
            let mut conn = connect(port);
            assert!(conn.sends_files());
            let mut reader = BodyReader::new(body, md5, None);
            let err = send_plain_with(&mut conn, &mut reader, body, direct).unwrap_err();
            assert_eq!(err.exit_code(), 3, "{err}");
            assert!(
                err.to_string()
                    .contains("changed while it was being uploaded"),
                "{err}"
            );
            drop(conn);
            let received = receiver.join().unwrap();
            assert_eq!(received, size - held_back, "direct {direct}, md5 {md5}");
        }
    }

    /// sendfile sends exactly the span asked for, from its offset, and the MD5 of the
    /// bytes read for it is of the same bytes; a span longer than the file (a file that
    /// shrank) is stopped when sendfile finds its end.
    #[test]
    fn sendfile_sends_the_span_and_stops_at_a_short_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.bin");
        let data: Vec<u8> = (0..3_500_000u32).map(|i| (i % 253) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let file = File::open(&path).unwrap();
        let span = |offset, len| {
            Body::File(FileSpan {
                file: &file,
                offset,
                len,
                path: &path,
                stamp: None,
            })
        };
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let reading = std::thread::spawn(move || {
            let (mut sock, _) = listener.accept().unwrap();
            let mut got = Vec::new();
            sock.read_to_end(&mut got).unwrap();
            got
        });
        let mut conn = connect(port);
        let body = span(12_345, 3_000_000);
        let mut reader = BodyReader::new(body, true, None);
        send_plain_with(&mut conn, &mut reader, body, true).unwrap();
        let md5 = reader.md5().unwrap();
        drop(conn);
        let got = reading.join().unwrap();
        assert!(got == data[12_345..3_012_345], "the bytes sent differ");
        let expected: [u8; 16] = <md5::Md5 as md5::Digest>::digest(&data[12_345..3_012_345]).into();
        assert_eq!(md5, expected);

        let (port, receiver) = receiver(None);
        let mut conn = connect(port);
        let body = span(0, data.len() as u64 + 1000);
        let mut reader = BodyReader::new(body, false, None);
        let err = send_plain_with(&mut conn, &mut reader, body, true).unwrap_err();
        assert_eq!(err.exit_code(), 3, "{err}");
        assert!(err.to_string().contains("changed while"), "{err}");
        drop(conn);
        assert_eq!(receiver.join().unwrap(), data.len() as u64);
    }

    /// sendfile failing for a reason that may be the file's (here EBADF: a file opened
    /// for writing only) is not taken for the network's: the copy loop reads the file
    /// and says it cannot (exit 3, "reading ..."), where it was exit 5, a network error.
    #[test]
    fn a_sendfile_error_of_the_file_is_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.bin");
        std::fs::write(&path, vec![1u8; 100_000]).unwrap();
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        let body = Body::File(FileSpan {
            file: &file,
            offset: 0,
            len: 100_000,
            path: &path,
            stamp: None,
        });
        let (port, receiver) = receiver(None);
        let mut conn = connect(port);
        let mut reader = BodyReader::new(body, false, None);
        let err = send_plain_with(&mut conn, &mut reader, body, true).unwrap_err();
        assert_eq!(err.exit_code(), 3, "{err}");
        assert!(err.to_string().starts_with("reading "), "{err}");
        drop(conn);
        assert_eq!(receiver.join().unwrap(), 0);
    }

    /// A file the kernel cannot sendfile from (here a pipe) is told apart from a send
    /// failure: nothing went, and the caller copies it instead.
    #[test]
    fn a_file_sendfile_cannot_read_is_left_to_the_copy_loop() {
        let (reader, mut writer) = std::io::pipe().unwrap();
        writer.write_all(b"bytes in a pipe").unwrap();
        let pipe = File::from(std::os::fd::OwnedFd::from(reader));
        let (port, receiver) = receiver(None);
        let mut conn = connect(port);
        let sent = conn.send_file(&pipe, 0, 15).unwrap();
        assert!(matches!(sent, FileSent::Unsupported), "{sent:?}");
        drop(conn);
        assert_eq!(receiver.join().unwrap(), 0);
    }
}
