//! The memory cap of standard input: `--max-memory`, `S3PUSH_MAX_MEMORY`, else the
//! cgroup's limit (v2 `memory.max`, else v1 `memory.limit_in_bytes`). Standard input is
//! the one case that holds data: (jobs + 1) parts. Under a cap, jobs and the part size
//! are chosen so that they fit beside what the process needs for itself, else the parts
//! go to disk (`--spool-dir`, else `TMPDIR`, else /tmp), else a usage error that says the
//! smallest cap that works.

use super::{MAX_PART, MAX_PARTS, MIN_PART};
use crate::error::Error;
use std::path::{Path, PathBuf};

const MIB: u64 = 1024 * 1024;

/// Default part size (aws-cli's).
pub const DEFAULT_PART: u64 = 8 * MIB;

/// What s3push needs for itself beside the parts it holds (binary pages, heap, rustls
/// buffers, a thread stack per job, 8 KiB copy buffers). Peak RSS with no part in memory
/// (tests/multipart.rs, standard_input_stays_under_a_memory_cap), debug build: 5.0 MiB for
/// a small stream over HTTP, 5.4 MiB for 200 MiB over HTTP, 6.7 MiB for a small stream over
/// TLS; a release binary (2.5 MB, against 46 MB) maps fewer pages of itself.
pub const SHARE: u64 = 6 * MIB;

/// A limit at or above this is no limit (cgroup v1 writes 9223372036854771712).
const UNLIMITED: u64 = 1 << 62;

/// The cap in force and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryCap {
    pub bytes: u64,
    /// `--max-memory`, `S3PUSH_MAX_MEMORY` or the cgroup's file.
    pub from: String,
    /// The largest part held in memory; None when every part goes to disk.
    pub part_limit: Option<u64>,
    /// Where parts go once they would grow past `part_limit` (TMPDIR or /tmp).
    pub spill: Option<PathBuf>,
}

impl MemoryCap {
    /// "the memory cap of 12 MiB (--max-memory)"
    pub fn describe(&self) -> String {
        format!("the memory cap of {} ({})", show(self.bytes), self.from)
    }
}

/// A size for messages: whole MiB when it is one, else bytes.
pub fn show(bytes: u64) -> String {
    if bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// The part size standard input starts with: --part-size (default 8 MiB), raised so that
/// --expected-size fits in 9,000 parts (10,000 with --equal-parts, which cannot grow).
pub fn stdin_base_part(part: Option<u64>, expected: Option<u64>, equal_parts: bool) -> u64 {
    let mut base = part.unwrap_or(DEFAULT_PART);
    if let Some(expected) = expected {
        let room = if equal_parts {
            MAX_PARTS
        } else {
            9 * MAX_PARTS / 10
        };
        base = base.max(expected.div_ceil(room).next_multiple_of(MIB));
    }
    base
}

// ---- the cgroup's limit ------------------------------------------------------------------

/// The files that may hold this process's memory limit, relative to the root, from the
/// contents of /proc/self/cgroup: cgroup v2 (`0::/PATH`) first, then v1 (the `memory`
/// controller's line); for each, the process's own cgroup and then its ancestors (a
/// limit on a parent holds for its children, and a container often sees its own cgroup
/// mounted as /sys/fs/cgroup while /proc/self/cgroup names the host's path).
pub fn limit_files(proc_self_cgroup: &str) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut v2 = Vec::new();
    let mut v1 = Vec::new();
    for line in proc_self_cgroup.lines() {
        let mut fields = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if id == "0" && controllers.is_empty() {
            v2 = with_ancestors(Path::new("sys/fs/cgroup"), path, "memory.max");
        } else if controllers.split(',').any(|c| c == "memory") {
            v1 = with_ancestors(
                Path::new("sys/fs/cgroup/memory"),
                path,
                "memory.limit_in_bytes",
            );
        }
    }
    (v2, v1)
}

fn with_ancestors(mount: &Path, path: &str, file: &str) -> Vec<PathBuf> {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != "." && *p != "..")
        .collect();
    (0..=parts.len())
        .rev()
        .map(|n| {
            let mut dir = mount.to_path_buf();
            dir.extend(&parts[..n]);
            dir.join(file)
        })
        .collect()
}

/// A limit file's contents: a number of bytes, or "max" (v2) or a huge number (v1) for none.
pub fn parse_limit(contents: &str) -> Option<u64> {
    let text = contents.trim();
    if text == "max" {
        return None;
    }
    text.parse::<u64>().ok().filter(|&n| n > 0 && n < UNLIMITED)
}

/// The memory limit from /proc/self/cgroup's contents and a reader of the files it names
/// (relative to the root; None for a file that is not there): the smallest limit on the
/// way up, of cgroup v2 when one of its files is there, else of v1. Pure, for tests.
pub fn limit_from(
    proc_self_cgroup: &str,
    read: impl Fn(&Path) -> Option<String>,
) -> Option<(u64, PathBuf)> {
    let (v2, v1) = limit_files(proc_self_cgroup);
    for files in [v2, v1] {
        let found: Vec<(PathBuf, String)> = files
            .into_iter()
            .filter_map(|f| read(&f).map(|c| (f, c)))
            .collect();
        if found.is_empty() {
            continue;
        }
        return found
            .into_iter()
            .filter_map(|(f, c)| parse_limit(&c).map(|n| (n, f)))
            .min_by_key(|(n, _)| *n);
    }
    None
}

/// The cgroup's memory limit of this process, reading under `root` (`/`).
pub fn cgroup_limit(root: &Path) -> Option<(u64, PathBuf)> {
    let own = std::fs::read_to_string(root.join("proc/self/cgroup")).ok()?;
    limit_from(&own, |f| std::fs::read_to_string(root.join(f)).ok())
        .map(|(n, f)| (n, Path::new("/").join(f)))
}

/// A directory parts can be spooled to: it is one and a file can be made there.
pub fn usable_dir(dir: &Path) -> bool {
    if !dir.is_dir() {
        return false;
    }
    let probe = dir.join(format!(".s3push-probe-{}", std::process::id()));
    let made = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .is_ok();
    if made {
        let _ = std::fs::remove_file(&probe);
    }
    made
}

// ---- fitting standard input under the cap ---------------------------------------------------

/// What standard input's settings were before the cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Want {
    pub cap: u64,
    pub from: String,
    /// --jobs and --part-size as given.
    pub jobs: Option<u32>,
    pub part: Option<u64>,
    pub default_jobs: u32,
    pub expected: Option<u64>,
    pub equal_parts: bool,
    /// --spool-dir as given.
    pub spool: Option<PathBuf>,
    /// TMPDIR (else /tmp) when usable.
    pub fallback: Option<PathBuf>,
}

/// What standard input does under the cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fit {
    pub jobs: u32,
    /// Some when the cap chose it (or it was given).
    pub part: Option<u64>,
    pub spool: Option<PathBuf>,
    pub cap: MemoryCap,
}

fn floor_mib(n: u64) -> u64 {
    n / MIB * MIB
}

/// Chooses jobs, part size and spooling so that (jobs + 1) x part size <= cap - SHARE:
/// --spool-dir holds no part in memory; --jobs or --part-size as given must fit; else
/// fewer jobs (down to 1), then smaller parts (down to 5 MiB, or what --expected-size
/// needs); else every part on disk in TMPDIR (else /tmp); else a usage error.
pub fn fit(w: Want) -> Result<Fit, Error> {
    let cap_is = format!("{} ({})", show(w.cap), w.from);
    let cap = |part_limit: Option<u64>, spill: Option<PathBuf>| MemoryCap {
        bytes: w.cap,
        from: w.from.clone(),
        part_limit,
        spill,
    };
    if w.cap < SHARE {
        return Err(Error::Usage(format!(
            "the memory cap of {cap_is} is under the {} s3push needs for itself: the smallest cap that works \
             is {} with --spool-dir, {} with parts in memory",
            show(SHARE),
            show(SHARE),
            show(SHARE + 2 * MIN_PART)
        )));
    }
    if let Some(dir) = &w.spool {
        return Ok(Fit {
            jobs: w.jobs.unwrap_or(w.default_jobs),
            part: w.part,
            spool: Some(dir.clone()),
            cap: cap(None, None),
        });
    }
    let budget = w.cap - SHARE;
    let preferred = stdin_base_part(w.part, w.expected, w.equal_parts);
    // The smallest part allowed: as given, else S3's minimum or what --expected-size needs.
    let least = match w.part {
        Some(p) => p,
        None => stdin_base_part(Some(MIN_PART), w.expected, w.equal_parts),
    };
    let limit_for = |jobs: u32| floor_mib(budget / (u64::from(jobs) + 1)).min(MAX_PART);
    let in_memory = |jobs: u32, part: u64| Fit {
        jobs,
        part: Some(part),
        spool: None,
        cap: cap(Some(limit_for(jobs).max(part)), w.fallback.clone()),
    };
    let smallest = |jobs: u32, part: u64| show(SHARE + (u64::from(jobs) + 1) * part);
    if w.jobs.is_some() || w.part.is_some() {
        let given = match (w.jobs, w.part) {
            (Some(j), Some(p)) => format!("--jobs {j} --part-size {}", show(p)),
            (Some(j), None) => format!("--jobs {j}"),
            (None, _) => format!("--part-size {}", show(preferred)),
        };
        let chosen = match w.jobs {
            Some(j) => {
                let part = match w.part {
                    Some(p) => p,
                    None => preferred.min(limit_for(j)),
                };
                (part >= least && (u64::from(j) + 1) * part <= budget).then_some((j, part))
            }
            None => (1..=w.default_jobs)
                .rev()
                .find(|&j| (u64::from(j) + 1) * preferred <= budget)
                .map(|j| (j, preferred)),
        };
        return match chosen {
            Some((j, p)) => Ok(in_memory(j, p)),
            None => Err(Error::Usage(format!(
                "{given} holds more of standard input than the memory cap of {cap_is} allows \
                 ((jobs + 1) x part size, plus {} for s3push itself; {} at least): lower them, give \
                 --spool-dir DIR, or a larger --max-memory",
                show(SHARE),
                smallest(w.jobs.unwrap_or(1), w.part.unwrap_or(least)),
            ))),
        };
    }
    for jobs in (1..=w.default_jobs).rev() {
        if (u64::from(jobs) + 1) * preferred <= budget {
            return Ok(in_memory(jobs, preferred));
        }
    }
    let part = preferred.min(limit_for(1));
    if part >= least {
        return Ok(in_memory(1, part));
    }
    if let Some(dir) = w.fallback {
        return Ok(Fit {
            jobs: w.default_jobs,
            part: None,
            spool: Some(dir),
            cap: cap(None, None),
        });
    }
    let need = if w.expected.is_some() && least > MIN_PART {
        format!(
            " (two parts of {}, what --expected-size needs, plus {} for s3push itself)",
            show(least),
            show(SHARE)
        )
    } else {
        format!(
            " (two parts of 5 MiB, S3's minimum, plus {} for s3push itself)",
            show(SHARE)
        )
    };
    Err(Error::Usage(format!(
        "the memory cap of {cap_is} cannot hold standard input's parts and no directory to spool them to \
         is usable (TMPDIR, else /tmp): the smallest cap that works is {}{need}; or give --spool-dir DIR",
        smallest(1, least)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const V1_UNLIMITED: &str = "9223372036854771712\n";

    fn files(pairs: &[(&str, &str)]) -> impl Fn(&Path) -> Option<String> {
        let map: BTreeMap<PathBuf, String> = pairs
            .iter()
            .map(|(p, c)| (PathBuf::from(p), c.to_string()))
            .collect();
        move |p| map.get(p).cloned()
    }

    #[test]
    fn cgroup_v2_max_is_no_limit() {
        let own = "0::/user.slice/session-1.scope\n";
        let read = files(&[
            (
                "sys/fs/cgroup/user.slice/session-1.scope/memory.max",
                "max\n",
            ),
            ("sys/fs/cgroup/user.slice/memory.max", "max\n"),
        ]);
        assert_eq!(limit_from(own, read), None);
    }

    #[test]
    fn cgroup_v2_a_number_here_or_above() {
        let own = "0::/system.slice/docker-abc.scope\n";
        let read = files(&[(
            "sys/fs/cgroup/system.slice/docker-abc.scope/memory.max",
            "16777216\n",
        )]);
        assert_eq!(
            limit_from(own, read),
            Some((
                16 * MIB,
                "sys/fs/cgroup/system.slice/docker-abc.scope/memory.max".into()
            ))
        );
        // A container that sees its own cgroup at /sys/fs/cgroup: the root's file.
        let read = files(&[("sys/fs/cgroup/memory.max", "16777216")]);
        assert_eq!(limit_from(own, read).map(|l| l.0), Some(16 * MIB));
        // The smallest on the way up.
        let read = files(&[
            (
                "sys/fs/cgroup/system.slice/docker-abc.scope/memory.max",
                "max",
            ),
            ("sys/fs/cgroup/system.slice/memory.max", "33554432"),
        ]);
        assert_eq!(limit_from(own, read).map(|l| l.0), Some(32 * MIB));
    }

    #[test]
    fn cgroup_v1_a_number_and_unlimited() {
        let own = "12:pids:/docker/abc\n4:memory:/docker/abc\n1:name=systemd:/docker/abc\n0::/\n";
        let read = files(&[(
            "sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes",
            "16777216\n",
        )]);
        assert_eq!(
            limit_from(own, read),
            Some((
                16 * MIB,
                "sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes".into()
            ))
        );
        let read = files(&[
            (
                "sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes",
                V1_UNLIMITED,
            ),
            ("sys/fs/cgroup/memory/memory.limit_in_bytes", V1_UNLIMITED),
        ]);
        assert_eq!(limit_from(own, read), None);
        // Several controllers on one line.
        let own = "3:cpu,memory:/a\n";
        let read = files(&[("sys/fs/cgroup/memory/a/memory.limit_in_bytes", "8388608")]);
        assert_eq!(limit_from(own, read).map(|l| l.0), Some(8 * MIB));
    }

    #[test]
    fn cgroup_without_a_memory_line_or_files() {
        assert_eq!(limit_from("5:pids:/\n4:cpu:/\n", files(&[])), None);
        assert_eq!(limit_from("", files(&[])), None);
        assert_eq!(limit_from("0::/\n", files(&[])), None);
        assert_eq!(parse_limit("garbage"), None);
        assert_eq!(parse_limit("0"), None);
    }

    #[test]
    fn cgroup_files_under_a_root() {
        let root = tempfile::tempdir().unwrap();
        let write = |rel: &str, text: &str| {
            let path = root.path().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        assert_eq!(cgroup_limit(root.path()), None);
        write("proc/self/cgroup", "4:memory:/box\n0::/\n");
        write(
            "sys/fs/cgroup/memory/box/memory.limit_in_bytes",
            "20971520\n",
        );
        assert_eq!(
            cgroup_limit(root.path()),
            Some((
                20 * MIB,
                "/sys/fs/cgroup/memory/box/memory.limit_in_bytes".into()
            ))
        );
        // cgroup v2's file, where there is one, decides.
        write("sys/fs/cgroup/memory.max", "max\n");
        assert_eq!(cgroup_limit(root.path()), None);
    }

    fn want(cap: u64) -> Want {
        Want {
            cap,
            from: "--max-memory".into(),
            jobs: None,
            part: None,
            default_jobs: 2,
            expected: None,
            equal_parts: false,
            spool: None,
            fallback: None,
        }
    }

    fn message(e: Error) -> String {
        match e {
            Error::Usage(m) => m,
            other => panic!("not a usage error: {other:?}"),
        }
    }

    #[test]
    fn fewer_jobs_then_smaller_parts_then_disk_then_an_error() {
        // Room for the defaults: 2 jobs of 8 MiB.
        let f = fit(want(30 * MIB)).unwrap();
        assert_eq!((f.jobs, f.part, f.spool), (2, Some(8 * MIB), None));
        assert_eq!(f.cap.part_limit, Some(8 * MIB));
        // 1 job of 8 MiB.
        let f = fit(want(22 * MIB)).unwrap();
        assert_eq!((f.jobs, f.part), (1, Some(8 * MIB)));
        // Then smaller parts: 1 job of 7 MiB.
        let f = fit(want(20 * MIB)).unwrap();
        assert_eq!((f.jobs, f.part), (1, Some(7 * MIB)));
        // 16 MiB (a container's limit): two parts of 5 MiB exactly.
        let f = fit(want(16 * MIB)).unwrap();
        assert_eq!(
            (f.jobs, f.part, f.cap.part_limit),
            (1, Some(5 * MIB), Some(5 * MIB))
        );
        assert_eq!(2 * 5 * MIB + SHARE, 16 * MIB);
        // 12 MiB: to disk when there is one, else the smallest cap that works.
        let mut w = want(12 * MIB);
        w.fallback = Some("/tmp".into());
        let f = fit(w).unwrap();
        assert_eq!((f.jobs, f.part, f.spool), (2, None, Some("/tmp".into())));
        assert_eq!(f.cap.part_limit, None);
        let m = message(fit(want(12 * MIB)).unwrap_err());
        assert!(m.contains("smallest cap that works is 16 MiB"), "{m}");
        assert!(m.contains("--spool-dir"), "{m}");
    }

    #[test]
    fn growth_stops_where_the_cap_says() {
        let mut w = want(100 * MIB);
        w.fallback = Some("/tmp".into());
        let f = fit(w).unwrap();
        assert_eq!((f.jobs, f.part), (2, Some(8 * MIB)));
        assert_eq!(f.cap.part_limit, Some(31 * MIB)); // 94 MiB / 3, whole MiB
        assert_eq!(f.cap.spill, Some("/tmp".into()));
    }

    #[test]
    fn given_jobs_or_part_size_over_the_cap_are_usage_errors() {
        let mut w = want(16 * MIB);
        w.jobs = Some(2);
        let m = message(fit(w).unwrap_err());
        assert!(
            m.contains("--jobs 2") && m.contains("16 MiB (--max-memory)") && m.contains("21 MiB"),
            "{m}"
        );
        let mut w = want(16 * MIB);
        w.part = Some(8 * MIB);
        let m = message(fit(w).unwrap_err());
        assert!(
            m.contains("--part-size 8 MiB") && m.contains("22 MiB"),
            "{m}"
        );
        // Given values that fit are kept; the other is chosen.
        let mut w = want(16 * MIB);
        w.jobs = Some(1);
        let f = fit(w).unwrap();
        assert_eq!((f.jobs, f.part), (1, Some(5 * MIB)));
        let mut w = want(42 * MIB);
        w.part = Some(12 * MIB);
        let f = fit(w).unwrap();
        assert_eq!((f.jobs, f.part), (2, Some(12 * MIB)));
        // A spool directory holds every part: the cap only has to cover s3push itself.
        let mut w = want(6 * MIB);
        w.jobs = Some(8);
        w.spool = Some("/var/tmp".into());
        assert_eq!(fit(w).unwrap().jobs, 8);
        assert!(fit(want(3 * MIB)).is_err());
    }

    #[test]
    fn expected_size_needs_its_parts() {
        // 200 GiB needs parts of 23 MiB: in memory under 16 MiB it cannot be.
        let mut w = want(16 * MIB);
        w.expected = Some(200 << 30);
        let m = message(fit(w.clone()).unwrap_err());
        assert!(m.contains("52 MiB") && m.contains("--expected-size"), "{m}");
        w.fallback = Some("/tmp".into());
        assert_eq!(fit(w).unwrap().spool, Some("/tmp".into()));
    }
}
