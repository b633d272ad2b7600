//! Reading a body outside the copy loop, and the upload's own errors: a body read whole
//! (hashed before sending, a resumed part checked), a file's stamp, and the errors of a
//! file that changed or a copy that was asked to stop.

use super::{Body, BodyReader, FileStamp};
use crate::error::Error;
use crate::interrupt;
use crate::transport::COPY_BUFFER;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::AtomicBool;

/// The file's length and modification time now.
pub fn stamp_of(file: &File, path: &Path) -> Result<FileStamp, Error> {
    let meta = file
        .metadata()
        .map_err(|e| Error::LocalFile(format!("cannot stat {}: {e}", path.display())))?;
    Ok((meta.len(), meta.modified().ok()))
}

/// The error for a copy stopped by a signal or by a failed sibling part.
pub fn stopped() -> Error {
    Error::Interrupted(match interrupt::requested() {
        Some(signal) => format!("stopped by {signal}"),
        None => "stopped because another part failed".to_string(),
    })
}

/// The error for a file whose length or content changed while it was being sent.
pub fn changed_during_upload(path: &Path) -> Error {
    Error::LocalFile(format!(
        "{} changed while it was being uploaded, so the upload was stopped and nothing was stored; \
         upload a copy or a snapshot that does not change",
        path.display()
    ))
}

/// The error for a file whose stamp changed while its bytes went with sendfile, after
/// the store had taken the object: what it holds may mix old and new bytes.
pub fn changed_after_sending(path: &Path) -> Error {
    Error::LocalFile(format!(
        "{} changed while it was being uploaded, and the store took the object as it arrived, \
         which may hold some of the new bytes; upload a copy or a snapshot that does not change",
        path.display()
    ))
}

/// Fills `buf` from `reader`; a source that ends early changed during the upload.
pub fn read_exactly(reader: &mut impl Read, buf: &mut [u8], path: &Path) -> Result<(), Error> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => return Err(changed_during_upload(path)),
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if e.get_ref().is_some_and(|i| i.is::<interrupt::Stopped>()) => {
                return Err(stopped())
            }
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

/// SHA-256 (hex) of a body, read through one fixed buffer: the signed payload mode's
/// first pass.
pub fn sha256_of(body: Body<'_>) -> Result<String, Error> {
    let mut hasher = crate::sign::v4::PayloadHasher::new();
    let mut reader = BodyReader::new(body, false, None);
    let mut buf = [0u8; COPY_BUFFER];
    let mut left = body.len();
    while left > 0 {
        let want = usize::try_from(left.min(COPY_BUFFER as u64)).unwrap_or(COPY_BUFFER);
        read_exactly(&mut reader, &mut buf[..want], body.path())?;
        hasher.update(&buf[..want]);
        left -= want as u64;
    }
    Ok(hasher.finish())
}

/// MD5 of a body (a resumed part checked against the store's ETag).
pub fn md5_of(body: Body<'_>, cancel: Option<&AtomicBool>) -> Result<[u8; 16], Error> {
    let mut reader = BodyReader::new(body, true, cancel);
    let mut buf = [0u8; COPY_BUFFER];
    let mut left = body.len();
    while left > 0 {
        let want = usize::try_from(left.min(COPY_BUFFER as u64)).unwrap_or(COPY_BUFFER);
        read_exactly(&mut reader, &mut buf[..want], body.path())?;
        left -= want as u64;
    }
    reader
        .md5()
        .ok_or_else(|| Error::Protocol("internal: MD5 not kept".into()))
}
