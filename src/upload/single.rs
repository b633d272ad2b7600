//! One PutObject: open the file, hash it when the payload is signed, send the head and
//! the body, and hold the last bytes back until the file is known not to have changed.

use super::exchange::{self, Body, FileSpan, FileStamp, Integrity, Slot};
use super::{adapt, confirm, retry, Outcome};
use crate::config::{Condition, Scheme};
use crate::error::Error;
use crate::s3;
use crate::transport;
use crate::upload::wire::Wire;
use rustls::ClientConfig;
use std::fs::File;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// S3's largest single PUT (PutObject limits).
pub const MAX_SINGLE_PUT: u64 = 5 * 1024 * 1024 * 1024;

/// Uploads the plan's file with one PUT, retried as the plan's policy allows, over the
/// connection kept in `slot` when there is one (the file before it in a batch).
pub fn put_file(
    plan: &Wire,
    file: &File,
    size: u64,
    stamp: FileStamp,
    slot: &mut Slot,
) -> Result<Outcome, Error> {
    let body = Body::File(FileSpan {
        file,
        offset: 0,
        len: size,
        path: &plan.source,
        stamp: Some(stamp),
    });
    put_on(plan, body, slot)
}

/// Uploads `body` with one PutObject, retried as the plan's policy allows, and checks
/// what the store says it got.
pub fn put(plan: &Wire, body: Body<'_>) -> Result<Outcome, Error> {
    put_on(plan, body, &mut None)
}

/// As `put`, over the kept-alive connection in `slot` if any; the connection is left
/// there for the next call when the store keeps it open. A way of sending the store
/// refuses is replaced by the next one it takes (upload::adapt), for the rest of the run.
pub fn put_on(plan: &Wire, body: Body<'_>, slot: &mut Slot) -> Result<Outcome, Error> {
    let started = Instant::now();
    let mut adapted = adapt::apply(plan);
    loop {
        let integrity = exchange::prepare(&adapted, body)?;
        match put_with(&adapted, body, &integrity, slot) {
            Err(e) if adapt::learn_from_refusal(&adapted, &e, integrity.trailer(&adapted)) => {
                super::meter().retried();
                adapted = adapt::apply(plan);
            }
            // The look before writing found the ETag named; a 412 may be the quotes.
            Err(e @ Error::Precondition(_)) => {
                let Some(bare) = super::bare_if_match(&adapted) else {
                    return Err(e);
                };
                super::meter().retried();
                return match put_with(&bare, body, &integrity, slot) {
                    Ok(mut outcome) => {
                        adapt::learn_bare_if_match(plan);
                        outcome.elapsed = started.elapsed();
                        Ok(outcome)
                    }
                    Err(_) => Err(e),
                };
            }
            Err(e) => return Err(e),
            Ok(mut outcome) => {
                outcome.elapsed = started.elapsed();
                return Ok(outcome);
            }
        }
    }
}

/// One PutObject under `plan` as it stands (retried as its policy allows), then the
/// confirmation of what the store holds (upload::confirm).
fn put_with(
    plan: &Wire,
    body: Body<'_>,
    integrity: &Integrity,
    slot: &mut Slot,
) -> Result<Outcome, Error> {
    let started = Instant::now();
    let tls = tls_for(plan)?;
    let mut headers = super::request::object_headers(plan);
    if let Some(md5) = &integrity.content_md5 {
        headers.push(("content-md5".into(), md5.clone()));
    }
    headers.extend(plan.condition.as_ref().map(Condition::header));
    let request = s3::PutObject { headers }.request();
    let meter = super::meter();
    let call = super::call::payload(plan, request, body, integrity, &meter, None);
    // An attempt that broke off may have stored the object all the same: a conditional
    // retry of it would then be refused by that very object.
    let mut broke_off = false;
    meter.set_total(body.len());
    let answer = retry::run(plan, |plan, attempt| {
        let answer = exchange::exchange(plan, attempt, &call, tls.as_ref(), slot);
        if answer.as_ref().is_err_and(retry::retryable) {
            broke_off = true;
        }
        answer
    });
    let answer = match answer {
        Err(Error::Integrity(m)) => return Err(mismatch(plan, tls.as_ref(), m)),
        Err(e) => return Err(super::precondition_failed(plan, e, broke_off)),
        Ok(answer) => answer,
    };
    let head = &answer.response.head;
    let etag = head.header("etag").map(str::to_string);
    let md5 = answer.md5.or(integrity.md5);
    let checksum = match confirm::put(plan, tls.as_ref(), body, &answer, md5, integrity) {
        Ok(checksum) => checksum,
        Err(confirm::Failed::Mismatch(m)) => return Err(mismatch(plan, tls.as_ref(), m)),
        Err(confirm::Failed::Other(e)) => return Err(e),
    };
    Ok(Outcome {
        etag,
        version_id: head.header("x-amz-version-id").map(str::to_string),
        checksum,
        echo: super::protect::echo(head),
        ..Outcome::of(plan, body.len(), started.elapsed())
    })
}

/// A stored object that disagrees with what was sent: reported as not to be trusted,
/// and deleted only when --delete-on-mismatch says so.
fn mismatch(plan: &Wire, tls: Option<&Arc<ClientConfig>>, what: String) -> Error {
    let url = plan.url();
    if !plan.delete_on_mismatch {
        return Error::Integrity(format!(
            "{what}: do not trust {url}; it was left in place (delete it, or pass --delete-on-mismatch)"
        ));
    }
    match super::call::send(plan, tls, s3::DeleteObject.request()) {
        Ok(_) => Error::Integrity(format!("{what}: {url} was deleted (--delete-on-mismatch)")),
        Err(e) => Error::Integrity(format!(
            "{what}: do not trust {url}; deleting it failed too ({e})"
        )),
    }
}

/// The TLS configuration for the plan's endpoint, None for plain HTTP.
pub fn tls_for(plan: &Wire) -> Result<Option<Arc<ClientConfig>>, Error> {
    Ok(match plan.endpoint.scheme {
        Scheme::Https => Some(transport::tls_config_with(
            plan.ca_bundle.as_deref(),
            &plan.trust,
        )?),
        Scheme::Http => None,
    })
}

fn fifo(path: &Path) -> Error {
    Error::LocalFile(format!(
        "{} is a pipe (FIFO), whose length is not known up front: give it as standard input, \
         `s3push - s3://BUCKET/KEY < {}`",
        path.display(),
        path.display()
    ))
}

/// Opens `path` for reading without moving its access time where the kernel lets us
/// (O_NOATIME: the file's owner, or CAP_FOWNER): a backup leaves what it reads as it
/// was, and no read of the file looks at its access time (about 2% of the CPU of a file
/// over http, doc/measurements.md). Anyone else opens it as usual.
fn open_noatime(path: &Path) -> std::io::Result<File> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let noatime = rustix::fs::OFlags::NOATIME.bits() as i32;
        match std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(noatime)
            .open(path)
        {
            // EPERM: not the file's owner.
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {}
            opened => return opened,
        }
    }
    File::open(path)
}

/// Opens the source file: its handle, size and stamp.
pub fn open_source(path: &Path) -> Result<(File, u64, FileStamp), Error> {
    let shown = path.display();
    // Before opening: opening a FIFO for reading waits for a writer, maybe forever.
    if std::fs::metadata(path).is_ok_and(|m| m.file_type().is_fifo()) {
        return Err(fifo(path));
    }
    let file = open_noatime(path).map_err(|e| {
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
    if meta.file_type().is_fifo() {
        return Err(fifo(path));
    }
    if !meta.is_file() {
        return Err(Error::LocalFile(format!(
            "{shown} is not a regular file (a device or a socket), and an upload needs its size up front: \
             save it to a file first, or give it as standard input (`-`)"
        )));
    }
    let size = meta.len();
    if size > crate::config::MAX_OBJECT {
        return Err(Error::LocalFile(format!(
            "{shown} is {size} bytes, over S3's 5 TiB object limit"
        )));
    }
    Ok((file, size, (size, meta.modified().ok())))
}

#[cfg(test)]
mod tests {
    use super::*;

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
