//! The resume journal: while a multipart upload of a file is in flight, a small text
//! file under `$XDG_STATE_HOME/s3push` (else `~/.local/state/s3push`) says which upload
//! it is, which file (device, inode, size, modification time) and how it is cut, and
//! gets one line per part the store confirmed. `--resume` finds it from the same command
//! line; it is removed when the upload completes or is aborted.
//!
//! Format: a first line `s3push-journal 1`, then `name=value` lines, values
//! percent-encoded; `part=N MD5HEX` lines are appended as parts are stored (one small
//! append each, so 10,000 parts cost 10,000 short writes, not 10,000 rewrites).

use crate::config::Env;
use crate::error::Error;
use sha2::{Digest, Sha256};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

const MAGIC: &str = "s3push-journal 1";
/// A journal is a few hundred bytes plus about 40 a part: 10,000 parts fit.
const MAX_BYTES: u64 = 1024 * 1024;

/// What identifies the state of a file: a file that changed is not resumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileIdentity {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i128,
}

impl FileIdentity {
    pub fn of(meta: &fs::Metadata) -> FileIdentity {
        FileIdentity {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
        }
    }
}

/// One journaled upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub endpoint: String,
    pub bucket: String,
    pub key: String,
    pub file: FileIdentity,
    pub path: String,
    pub upload_id: String,
    pub part_size: u64,
    pub parts: u32,
    pub checksum: Option<String>,
    pub created_unix: u64,
    /// Parts the store confirmed, with the MD5 it confirmed (in the order recorded).
    pub done: Vec<(u32, [u8; 16])>,
}

impl Entry {
    /// True when `file` is the file as it was when the upload started.
    pub fn matches_file(&self, file: &FileIdentity) -> bool {
        &self.file == file
    }

    /// The MD5 the store confirmed for part `number`, if it was recorded.
    pub fn confirmed_md5(&self, number: u32) -> Option<[u8; 16]> {
        self.done
            .iter()
            .rev()
            .find(|(n, _)| *n == number)
            .map(|(_, md5)| *md5)
    }
}

/// The journal's path for an upload of `file` to `endpoint`/`bucket`/`key`: a name
/// derived from all four, so that the same command line finds it again.
pub fn path_for(
    env: &Env,
    endpoint: &str,
    bucket: &str,
    key: &str,
    file: &Path,
) -> Result<PathBuf, Error> {
    let dir = match (env.get("XDG_STATE_HOME"), env.get("HOME")) {
        (Some(state), _) if Path::new(state).is_absolute() => PathBuf::from(state).join("s3push"),
        (_, Some(home)) => PathBuf::from(home).join(".local/state/s3push"),
        _ => {
            return Err(Error::LocalFile(
                "neither XDG_STATE_HOME nor HOME is set, so there is nowhere to keep the resume journal: set one"
                    .into(),
            ))
        }
    };
    let absolute = fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    let mut h = Sha256::new();
    for part in [
        endpoint.as_bytes(),
        bucket.as_bytes(),
        key.as_bytes(),
        absolute.as_os_str().as_encoded_bytes(),
    ] {
        h.update(part);
        h.update([0u8]);
    }
    let digest = h.finalize();
    let name: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    Ok(dir.join(format!("{name}.journal")))
}

/// Writes the journal (a temp file renamed over it: a crash never leaves half of one).
pub fn save(path: &Path, entry: &Entry) -> Result<(), Error> {
    let dir = path
        .parent()
        .ok_or_else(|| Error::LocalFile(format!("bad journal path {}", path.display())))?;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| unwritable(dir, &e))?;
    let mut text = format!("{MAGIC}\n");
    let mut field = |name: &str, value: &str| {
        text.push_str(name);
        text.push('=');
        text.push_str(&escape(value));
        text.push('\n');
    };
    field("endpoint", &entry.endpoint);
    field("bucket", &entry.bucket);
    field("key", &entry.key);
    field("path", &entry.path);
    field("upload_id", &entry.upload_id);
    field("dev", &entry.file.dev.to_string());
    field("ino", &entry.file.ino.to_string());
    field("size", &entry.file.size.to_string());
    field("mtime_ns", &entry.file.mtime_ns.to_string());
    field("part_size", &entry.part_size.to_string());
    field("parts", &entry.parts.to_string());
    field("created_unix", &entry.created_unix.to_string());
    if let Some(c) = &entry.checksum {
        field("checksum", c);
    }
    for (n, md5) in &entry.done {
        text.push_str(&part_line(*n, md5));
    }
    let tmp = path.with_extension("journal.tmp");
    let written = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_all()))
        .and_then(|()| fs::rename(&tmp, path));
    written.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        unwritable(dir, &e)
    })
}

/// Appends the record of a part the store confirmed.
pub fn record_part(path: &Path, number: u32, md5: &[u8; 16]) -> Result<(), Error> {
    OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(part_line(number, md5).as_bytes()))
        .map_err(|e| unwritable(path.parent().unwrap_or(path), &e))
}

fn part_line(number: u32, md5: &[u8; 16]) -> String {
    let hex: String = md5.iter().map(|b| format!("{b:02x}")).collect();
    format!("part={number} {hex}\n")
}

/// Reads the journal; Ok(None) when there is none.
pub fn load(path: &Path) -> Result<Option<Entry>, Error> {
    let bad = |why: &str| {
        Error::LocalFile(format!(
            "the resume journal {} is unreadable ({why}): delete it, and resume with --upload-id",
            path.display()
        ))
    };
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(bad(&e.to_string())),
    };
    if meta.len() > MAX_BYTES {
        return Err(bad("over 1 MiB"));
    }
    let text = fs::read_to_string(path).map_err(|e| bad(&e.to_string()))?;
    parse(&text)
        .map(Some)
        .ok_or_else(|| bad("not an s3push journal"))
}

/// Parses a journal's text; None when it is not one.
pub fn parse(text: &str) -> Option<Entry> {
    let mut lines = text.lines();
    if lines.next()? != MAGIC {
        return None;
    }
    let mut fields = std::collections::BTreeMap::new();
    let mut done = Vec::new();
    for line in lines {
        let Some((name, value)) = line.split_once('=') else {
            continue; // a torn last line from a crash mid-append
        };
        if name == "part" {
            let (n, hex) = value.split_once(' ')?;
            let n: u32 = n.parse().ok()?;
            if hex.len() != 32 {
                continue;
            }
            let mut md5 = [0u8; 16];
            for (i, b) in md5.iter_mut().enumerate() {
                *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
            }
            done.push((n, md5));
        } else {
            fields.insert(name.to_string(), crate::sign::uri::decode(value)?);
        }
    }
    let text = |name: &str| fields.get(name).cloned();
    let number = |name: &str| fields.get(name)?.parse::<u64>().ok();
    Some(Entry {
        endpoint: text("endpoint")?,
        bucket: text("bucket")?,
        key: text("key")?,
        path: text("path")?,
        upload_id: text("upload_id").filter(|id| !id.is_empty())?,
        file: FileIdentity {
            dev: number("dev")?,
            ino: number("ino")?,
            size: number("size")?,
            mtime_ns: fields.get("mtime_ns")?.parse().ok()?,
        },
        part_size: number("part_size")?,
        parts: u32::try_from(number("parts")?).ok()?,
        checksum: text("checksum"),
        created_unix: number("created_unix").unwrap_or(0),
        done,
    })
}

/// An advisory lock (`flock`) on the journal's lock file, held while its upload runs:
/// a second s3push uploading the same file to the same key (two `--resume` runs, say)
/// refuses to start, instead of both breaking the upload. Dropped with the upload; the
/// lock file goes with it.
#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
    _file: fs::File,
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Removed while still held: a run that opened it meanwhile sees it is gone.
        let _ = fs::remove_file(&self.path);
    }
}

/// Takes the lock of the journal at `journal` for an upload of `what`.
pub fn lock(journal: &Path, what: &str) -> Result<Lock, Error> {
    let dir = journal
        .parent()
        .ok_or_else(|| Error::LocalFile(format!("bad journal path {}", journal.display())))?;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| unwritable(dir, &e))?;
    let path = journal.with_extension("lock");
    // A lock file removed by the run that held it between our open and our lock is
    // not the lock any more: open it again (a few times at most).
    for _ in 0..5 {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| unwritable(dir, &e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(Error::LocalFile(format!(
                    "another s3push is uploading {what} now (it holds {}): wait for it to end, or stop it, \
                     then run this again",
                    path.display()
                )))
            }
            Err(fs::TryLockError::Error(e)) => {
                return Err(Error::LocalFile(format!(
                    "cannot lock the resume journal {} ({e}): set XDG_STATE_HOME to a local directory",
                    path.display()
                )))
            }
        }
        let same = match (file.metadata(), fs::metadata(&path)) {
            (Ok(held), Ok(named)) => held.dev() == named.dev() && held.ino() == named.ino(),
            _ => false,
        };
        if same {
            return Ok(Lock { path, _file: file });
        }
    }
    Err(Error::LocalFile(format!(
        "cannot lock the resume journal {}: another s3push keeps replacing it",
        path.display()
    )))
}

/// Removes the journal; one already gone is fine.
pub fn remove(path: &Path) -> Result<(), Error> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::LocalFile(format!(
            "cannot remove the resume journal {}: {e}",
            path.display()
        ))),
    }
}

fn unwritable(dir: &Path, e: &std::io::Error) -> Error {
    Error::LocalFile(format!(
        "cannot write the resume journal in {} ({e}): make it writable, or set XDG_STATE_HOME",
        dir.display()
    ))
}

/// Percent-encodes everything but printable ASCII other than `%`.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if (0x21..0x7f).contains(&b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str) -> Entry {
        Entry {
            endpoint: "http://127.0.0.1:9000".into(),
            bucket: "b".into(),
            key: key.into(),
            file: FileIdentity {
                dev: 1,
                ino: 2,
                size: 3,
                mtime_ns: -4,
            },
            path: "/tmp/a file".into(),
            upload_id: "id/with=odd%chars".into(),
            part_size: 8 << 20,
            parts: 7,
            checksum: None,
            created_unix: 5,
            done: vec![],
        }
    }

    #[test]
    fn round_trip_with_hostile_keys_and_part_records() {
        let dir = tempfile::tempdir().unwrap();
        let env = Env::from_pairs([("XDG_STATE_HOME".into(), dir.path().display().to_string())]);
        for key in ["plain", "a\nb=c%d e", "ü/\u{0}/x", ""] {
            let e = entry(key);
            let path = path_for(&env, &e.endpoint, "b", key, Path::new("/tmp/a file")).unwrap();
            assert!(path.starts_with(dir.path().join("s3push")));
            assert_eq!(load(&path).unwrap(), None);
            save(&path, &e).unwrap();
            record_part(&path, 3, &[7; 16]).unwrap();
            record_part(&path, 1, &[9; 16]).unwrap();
            let back = load(&path).unwrap().unwrap();
            assert_eq!(back.key, key);
            assert_eq!(back.upload_id, e.upload_id);
            assert_eq!(back.confirmed_md5(3), Some([7; 16]));
            assert_eq!(back.confirmed_md5(2), None);
            assert!(back.matches_file(&e.file));
            assert!(!back.matches_file(&FileIdentity { size: 4, ..e.file }));
            remove(&path).unwrap();
            remove(&path).unwrap();
        }
    }

    #[test]
    fn names_differ_by_destination_and_repeat_for_the_same_one() {
        let env = Env::from_pairs([("HOME".into(), "/home/u".into())]);
        let p = |key| path_for(&env, "e", "b", key, Path::new("/nonexistent/f")).unwrap();
        assert_eq!(p("k1"), p("k1"));
        assert_ne!(p("k1"), p("k2"));
        assert!(p("k1").starts_with("/home/u/.local/state/s3push"));
        assert!(path_for(&Env::default(), "e", "b", "k", Path::new("f")).is_err());
    }

    #[test]
    fn corrupt_or_oversized_journals_are_errors_not_panics() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.journal");
        for text in [
            "",
            "hello",
            "s3push-journal 1\nkey=k\n",
            "s3push-journal 1\nkey=%zz\n",
        ] {
            fs::write(&path, text).unwrap();
            assert_eq!(load(&path).unwrap_err().exit_code(), 3, "{text:?}");
        }
        fs::write(&path, vec![b'a'; (MAX_BYTES + 1) as usize]).unwrap();
        assert!(load(&path).unwrap_err().to_string().contains("over 1 MiB"));
        // A torn last line (a crash mid-append) is skipped.
        let mut text = String::from(MAGIC);
        text.push('\n');
        for (n, v) in [
            ("endpoint", "e"),
            ("bucket", "b"),
            ("key", "k"),
            ("path", "p"),
            ("upload_id", "u"),
            ("dev", "1"),
            ("ino", "2"),
            ("size", "3"),
            ("mtime_ns", "4"),
            ("part_size", "5242880"),
            ("parts", "2"),
        ] {
            text.push_str(&format!("{n}={v}\n"));
        }
        text.push_str("part=1 0123456789abcdef0123456789abcdef\npart");
        let e = parse(&text).unwrap();
        assert_eq!(e.done.len(), 1);
    }
}
