//! Several files to one prefix: `s3push a.log b.log s3://bucket/logs/`, or a list of
//! them with `--files-from FILE|-`. Every file is its own upload with its own result;
//! one that fails does not stop the others (unless `--fail-fast`), and single PUTs share
//! one kept-alive connection.
//!
//! Keys: a file named on the command line goes to PREFIX + its file name (as one file to
//! a prefix always did); a path from a list keeps its relative path under the prefix
//! (`logs/a.log` -> PREFIX/logs/a.log, as `rclone copy --files-from` and
//! `aws s3 cp --recursive` name keys), so a list from `find . -type f` mirrors a tree.
//! A listed path may not leave the current directory: absolute paths and `..` are
//! refused, each as a failed file.

use crate::config::{self, Env, Options, Plan};
use crate::error::exit;
use crate::error::Error;
use crate::interrupt;
use crate::upload::{exchange::Slot, Outcome};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::ffi::OsStringExt;
use std::path::{Component, Path, PathBuf};

/// The longest entry of a `--files-from` list (Linux's PATH_MAX); a longer one is a
/// failed entry, skipped to its end without holding it.
pub const MAX_ENTRY: usize = 4096;

/// How a batch went.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub uploaded: usize,
    /// Left as they were by `--skip-identical`.
    pub skipped: usize,
    pub failed: usize,
    /// The exit code of the first failed file.
    pub first_failure: Option<u8>,
    /// What stopped the batch before its end: `--fail-fast`, or a signal's name.
    pub stopped: Option<&'static str>,
}

impl Summary {
    /// 0 when every file was stored; 130 when a signal stopped the batch; else the exit
    /// code of the first file that failed (README, "Exit codes").
    pub fn exit_code(&self) -> u8 {
        match (self.stopped, self.first_failure) {
            (Some(s), _) if s != FAIL_FAST => exit::INTERRUPTED,
            (_, Some(code)) => code,
            (_, None) => exit::OK,
        }
    }

    /// `3 uploaded, 1 failed`, and what stopped the batch if anything did.
    pub fn line(&self) -> String {
        let mut line = if self.skipped > 0 {
            format!(
                "{} uploaded, {} skipped (identical), {} failed",
                self.uploaded, self.skipped, self.failed
            )
        } else {
            format!("{} uploaded, {} failed", self.uploaded, self.failed)
        };
        if let Some(by) = self.stopped {
            line.push_str(&format!("; stopped by {by}, the rest was not tried"));
        }
        line
    }

    /// Files tried.
    pub fn files(&self) -> usize {
        self.uploaded + self.skipped + self.failed
    }
}

const FAIL_FAST: &str = "--fail-fast";

/// Uploads every file of the batch in turn and hands each result to `report` as it
/// comes. An error here is one of the whole batch (a destination that is not a prefix,
/// credentials, an unreadable list), found before any file is sent.
pub fn run(
    options: &Options,
    env: &Env,
    mut upload: impl FnMut(&Plan, &mut Slot) -> Result<Outcome, Error>,
    mut report: impl FnMut(Option<&Plan>, Result<&Outcome, &Error>),
) -> Result<Summary, Error> {
    check(options)?;
    let (bucket, prefix) = prefix_of(&options.destination)?;
    // Everything that is the same for every file (credentials, endpoint, region, the
    // flags' checks) is resolved once, for a stand-in file under the prefix.
    let mut shared = options.clone();
    shared.source = PathBuf::from("batch");
    shared.batch = Default::default();
    let template = config::resolve(shared, env)?;
    for warning in &template.warnings {
        crate::report::warning(warning);
    }
    let mut sources = Sources::open(options, &bucket, &prefix)?;
    let mut summary = Summary::default();
    let mut slot: Slot = None;
    while let Some(entry) = sources.next_entry() {
        if let Some(signal) = interrupt::requested() {
            summary.stopped = Some(signal);
            break;
        }
        let plan = entry.and_then(|(source, destination)| {
            template
                .for_file(&options.object, source.clone(), &destination)
                .map_err(|e| about(e, &source.display().to_string()))
        });
        let result = match &plan {
            Ok(plan) => upload(plan, &mut slot).map_err(|e| name_file(e, plan)),
            Err(e) => Err(e.clone()),
        };
        report(plan.as_ref().ok(), result.as_ref());
        match result {
            Ok(o) if o.skipped => summary.skipped += 1,
            Ok(_) => summary.uploaded += 1,
            Err(e) => {
                summary.failed += 1;
                summary.first_failure.get_or_insert(e.exit_code());
                if matches!(e, Error::Interrupted(_)) || interrupt::requested().is_some() {
                    summary.stopped = Some(interrupt::requested().unwrap_or("SIGINT"));
                    break;
                }
                if options.batch.fail_fast {
                    summary.stopped = Some(FAIL_FAST);
                    break;
                }
            }
        }
    }
    Ok(summary)
}

/// What a batch cannot take, refused before anything is read or sent.
fn check(options: &Options) -> Result<(), Error> {
    let m = &options.multipart;
    if m.resume || m.abort || m.upload_id.is_some() {
        return Err(Error::Usage(
            "--resume, --abort and --upload-id act on one upload: name one FILE and its s3://BUCKET/KEY"
                .into(),
        ));
    }
    if options.dry_run {
        return Err(Error::Usage(
            "--dry-run shows one request: name one FILE and its s3://BUCKET/KEY".into(),
        ));
    }
    if options.batch.sources.iter().any(|s| s.as_os_str() == "-") {
        return Err(Error::Usage(
            "'-' (standard input) cannot be one file of several: upload it on its own".into(),
        ));
    }
    // One name twice under the prefix: the second would overwrite the first.
    let mut keys: BTreeMap<&std::ffi::OsStr, &Path> = BTreeMap::new();
    for source in &options.batch.sources {
        if let Some(name) = source.file_name() {
            if let Some(first) = keys.insert(name, source) {
                return Err(Error::Usage(format!(
                    "{} and {} have the same name, so the second would overwrite the first under the prefix: \
                     upload them to different prefixes",
                    first.display(),
                    source.display()
                )));
            }
        }
    }
    Ok(())
}

/// `s3://BUCKET/PREFIX/` (the prefix may be empty): the bucket and the prefix.
pub fn prefix_of(destination: &str) -> Result<(String, String), Error> {
    let not_prefix = || {
        let fixed = if destination.starts_with("s3://") && !destination.ends_with('/') {
            format!(", like {destination}/")
        } else {
            String::new()
        };
        Error::Usage(format!(
            "several files go under a prefix: end the destination with '/'{fixed} \
             (s3://BUCKET/ or s3://BUCKET/PREFIX/)"
        ))
    };
    let rest = destination.strip_prefix("s3://").ok_or_else(not_prefix)?;
    let Some((bucket, prefix)) = rest.split_once('/') else {
        return Err(not_prefix());
    };
    if !prefix.is_empty() && !prefix.ends_with('/') {
        return Err(not_prefix());
    }
    // The bucket's own checks (name, characters) are config's: a stand-in key.
    config::parse_destination(&format!("s3://{bucket}/{prefix}x"), Path::new("x"))?;
    Ok((bucket.to_string(), prefix.to_string()))
}

/// The key of a listed path under the prefix: its relative path, `/`-separated, `.`
/// parts dropped; `..` and absolute paths refused.
pub fn relative_key(path: &Path) -> Result<String, Error> {
    let shown = path.display();
    let mut parts: Vec<&str> = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(name) => parts.push(name.to_str().ok_or_else(|| {
                Error::Usage(format!(
                    "{shown}: the name is not UTF-8, which S3 keys must be: rename it"
                ))
            })?),
            Component::CurDir => {}
            Component::ParentDir => {
                return Err(Error::Usage(format!(
                    "{shown}: '..' in a listed path would climb out of the prefix: list paths below the current directory"
                )))
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(Error::Usage(format!(
                    "{shown}: a listed path is kept under the prefix, so it must be relative: \
                     cd to the directory and list paths from there (find . -type f)"
                )))
            }
        }
    }
    if parts.is_empty() {
        return Err(Error::Usage(format!("{shown}: names no file")));
    }
    Ok(parts.join("/"))
}

/// The files of the batch, in order: from the command line, or read from the list one
/// entry at a time (a list of any length, in one entry's memory).
enum Sources {
    Named {
        names: std::vec::IntoIter<PathBuf>,
        destination: String,
    },
    Listed {
        list: Box<dyn BufRead>,
        /// Where the list comes from, for messages.
        name: String,
        separator: u8,
        entry: Vec<u8>,
        /// `s3://BUCKET/PREFIX`, before each listed path.
        stem: String,
        ended: bool,
    },
}

/// A file to upload and its destination (`s3://BUCKET/KEY`, or the prefix for a name).
type Entry = (PathBuf, String);

impl Sources {
    fn open(options: &Options, bucket: &str, prefix: &str) -> Result<Sources, Error> {
        let Some(path) = &options.batch.files_from else {
            return Ok(Sources::Named {
                names: options.batch.sources.clone().into_iter(),
                destination: options.destination.clone(),
            });
        };
        let (list, name): (Box<dyn BufRead>, String) = if path.as_os_str() == "-" {
            (
                Box::new(BufReader::new(std::io::stdin())),
                "the list on standard input".into(),
            )
        } else {
            let file = File::open(path).map_err(|e| {
                Error::LocalFile(format!(
                    "--files-from {}: {e}; give a file that lists one path a line (or - for standard input)",
                    path.display()
                ))
            })?;
            (
                Box::new(BufReader::new(file)),
                format!("--files-from {}", path.display()),
            )
        };
        Ok(Sources::Listed {
            list,
            name,
            separator: if options.batch.nul { 0 } else { b'\n' },
            entry: Vec::with_capacity(256),
            stem: format!("s3://{bucket}/{prefix}"),
            ended: false,
        })
    }

    /// The next file; None at the end. A bad entry is an error of that entry.
    fn next_entry(&mut self) -> Option<Result<Entry, Error>> {
        match self {
            Sources::Named { names, destination } => {
                names.next().map(|name| Ok((name, destination.clone())))
            }
            Sources::Listed {
                list,
                name,
                separator,
                entry,
                stem,
                ended,
            } => loop {
                if *ended {
                    return None;
                }
                entry.clear();
                let read = read_entry(list.as_mut(), *separator, entry);
                let whole = match read {
                    Err(e) => {
                        *ended = true;
                        return Some(Err(Error::LocalFile(format!(
                            "reading {name}: {e}; the files after the last one tried were not uploaded"
                        ))));
                    }
                    Ok(None) => {
                        *ended = true;
                        return None;
                    }
                    Ok(Some(whole)) => whole,
                };
                if !whole {
                    return Some(Err(Error::Usage(format!(
                        "an entry of {name} is longer than {MAX_ENTRY} bytes: not a path (is the list NUL-separated? then pass -0)"
                    ))));
                }
                if *separator == b'\n' && entry.last() == Some(&b'\r') {
                    // A list written on Windows; -0 takes names as they are.
                    entry.pop();
                }
                if entry.is_empty() {
                    continue;
                }
                let path = PathBuf::from(OsString::from_vec(entry.clone()));
                return Some(relative_key(&path).map(|key| (path, format!("{stem}{key}"))));
            },
        }
    }
}

/// Reads one entry (without its separator) into `entry`: Some(true) when whole,
/// Some(false) when longer than `MAX_ENTRY` (the rest of it is skipped), None at the end
/// of the list.
fn read_entry(
    list: &mut dyn BufRead,
    separator: u8,
    entry: &mut Vec<u8>,
) -> std::io::Result<Option<bool>> {
    let limit = MAX_ENTRY as u64 + 1;
    let n = (&mut *list).take(limit).read_until(separator, entry)?;
    if n == 0 {
        return Ok(None);
    }
    if entry.last() == Some(&separator) {
        entry.pop();
        return Ok(Some(true));
    }
    if entry.len() <= MAX_ENTRY {
        // The last entry, without a separator after it.
        return Ok(Some(true));
    }
    // Too long: skip to the separator, a bounded piece at a time.
    loop {
        entry.clear();
        let n = (&mut *list).take(limit).read_until(separator, entry)?;
        if n == 0 || entry.last() == Some(&separator) {
            entry.clear();
            return Ok(Some(false));
        }
    }
}

/// A usage error about one file of the batch names it.
fn about(error: Error, source: &str) -> Error {
    match error {
        Error::Usage(m) if !m.contains(source) => Error::Usage(format!("{source}: {m}")),
        other => other,
    }
}

/// An error that does not say which file it was about is told (a refused request, a
/// network failure): in a batch, the line must name it.
fn name_file(error: Error, plan: &Plan) -> Error {
    let text = error.to_string();
    let url = plan.url();
    if text.contains(&url) || text.contains(&plan.source.display().to_string()) {
        return error;
    }
    error.with_note(&format!(
        "{} was not uploaded to {url}",
        plan.source.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(list: &[u8], nul: bool) -> Vec<Result<Entry, u8>> {
        let mut sources = Sources::Listed {
            list: Box::new(std::io::Cursor::new(list.to_vec())),
            name: "list".into(),
            separator: if nul { 0 } else { b'\n' },
            entry: Vec::new(),
            stem: "s3://b/p/".into(),
            ended: false,
        };
        let mut out = Vec::new();
        while let Some(e) = sources.next_entry() {
            out.push(e.map_err(|e| e.exit_code()));
        }
        out
    }

    fn ok(path: &str, dest: &str) -> Result<Entry, u8> {
        Ok((PathBuf::from(path), dest.to_string()))
    }

    #[test]
    fn lists_by_line_skip_blanks_and_keep_relative_paths() {
        let got = entries(b"a.log\n\n./logs/b c.log\r\nlogs//x/./y\nlast", false);
        assert_eq!(
            got,
            vec![
                ok("a.log", "s3://b/p/a.log"),
                ok("./logs/b c.log", "s3://b/p/logs/b c.log"),
                ok("logs//x/./y", "s3://b/p/logs/x/y"),
                ok("last", "s3://b/p/last"),
            ]
        );
    }

    #[test]
    fn lists_by_nul_take_any_byte_but_nul() {
        let got = entries(b"new\nline\0 space \0\0tab\there\0", true);
        assert_eq!(
            got,
            vec![
                ok("new\nline", "s3://b/p/new\nline"),
                ok(" space ", "s3://b/p/ space "),
                ok("tab\there", "s3://b/p/tab\there"),
            ]
        );
    }

    #[test]
    fn climbing_absolute_and_overlong_entries_fail_alone() {
        let long = "x".repeat(MAX_ENTRY + 10);
        let list = format!("../up\n/etc/passwd\n{long}\na/../b\nfine\n");
        let got = entries(list.as_bytes(), false);
        assert_eq!(
            got,
            vec![Err(2), Err(2), Err(2), Err(2), ok("fine", "s3://b/p/fine")]
        );
        let just_fits = "y".repeat(MAX_ENTRY);
        assert_eq!(entries(just_fits.as_bytes(), false).len(), 1);
        assert!(entries(just_fits.as_bytes(), false)[0].is_ok());
    }

    #[test]
    fn prefixes() {
        assert_eq!(prefix_of("s3://b/").unwrap(), ("b".into(), "".into()));
        assert_eq!(
            prefix_of("s3://b/logs/2026/").unwrap(),
            ("b".into(), "logs/2026/".into())
        );
        for bad in [
            "s3://b",
            "s3://b/logs",
            "b/logs/",
            "s3:///logs/",
            "s3://b b/x/",
        ] {
            let e = prefix_of(bad).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}");
        }
        assert!(prefix_of("s3://b/logs")
            .unwrap_err()
            .to_string()
            .contains("like s3://b/logs/"));
    }

    #[test]
    fn exit_code_is_the_first_failure_or_the_signal() {
        let mut s = Summary {
            uploaded: 2,
            ..Default::default()
        };
        assert_eq!(s.exit_code(), 0);
        s.failed = 2;
        s.first_failure = Some(3);
        assert_eq!(s.exit_code(), 3);
        s.stopped = Some(FAIL_FAST);
        assert_eq!(s.exit_code(), 3);
        assert!(s
            .line()
            .starts_with("2 uploaded, 2 failed; stopped by --fail-fast"));
        s.stopped = Some("SIGINT");
        assert_eq!(s.exit_code(), 130);
    }
}
