//! Multipart settings, resolved: part size, jobs, standard input's memory cap.

use super::checks::parse_size;
use super::{memory, Endpoint, Env, Multipart, MultipartOptions};
use crate::error::Error;
use std::path::PathBuf;

/// Default --multipart-threshold: files up to this size go in one PUT.
pub const DEFAULT_THRESHOLD: u64 = 64 * 1024 * 1024;
/// Default --jobs for files; standard input holds (jobs + 1) parts, so it defaults lower.
pub const DEFAULT_JOBS: u32 = 4;
pub const DEFAULT_STDIN_JOBS: u32 = 2;

/// S3's multipart limits (Amazon S3 user guide, "Multipart upload limits").
pub const MIN_PART: u64 = 5 * 1024 * 1024;
pub const MAX_PART: u64 = 5 * 1024 * 1024 * 1024;
pub const MAX_PARTS: u64 = 10_000;
pub const MAX_OBJECT: u64 = 5 * 1024 * 1024 * 1024 * 1024;

pub(super) fn resolve_multipart(
    m: MultipartOptions,
    source: &std::path::Path,
    endpoint: &Endpoint,
    env: &Env,
) -> Result<Multipart, Error> {
    let stdin = source.as_os_str() == "-";
    if let Some(part) = m.part_size {
        if !(MIN_PART..=MAX_PART).contains(&part) {
            return Err(Error::Usage(format!(
                "--part-size {part}: S3 takes parts from 5 MiB to 5 GiB (5M..5G)"
            )));
        }
    }
    for (flag, size) in [
        ("--expected-size", m.expected_size),
        ("--size", m.exact_size),
    ] {
        if let Some(size) = size.filter(|&s| s > MAX_OBJECT) {
            return Err(Error::Usage(format!(
                "{flag} {size}: over S3's 5 TiB object limit"
            )));
        }
    }
    if m.exact_size.is_some() && !stdin {
        return Err(Error::Usage(
            "--size is the exact length of standard input (`-`); a file's size is known: leave it out".into(),
        ));
    }
    let jobs = m.jobs.unwrap_or(if stdin {
        DEFAULT_STDIN_JOBS
    } else {
        DEFAULT_JOBS
    });
    if !(1..=64).contains(&jobs) {
        return Err(Error::Usage(format!("--jobs {jobs}: give 1 to 64")));
    }
    if m.resume && stdin {
        return Err(Error::Usage(
            "standard input cannot be resumed (its bytes are gone): upload it again".into(),
        ));
    }
    if m.resume && m.abort {
        return Err(Error::Usage("--resume and --abort: choose one".into()));
    }
    if let Some(dir) = &m.spool_dir {
        if !dir.is_dir() {
            return Err(Error::Usage(format!(
                "--spool-dir {}: not a directory; give an existing directory with room for (jobs + 1) parts",
                dir.display()
            )));
        }
    }
    if let Some(id) = &m.upload_id {
        if id.is_empty() || id.len() > 1024 || id.chars().any(char::is_control) {
            return Err(Error::Usage(format!(
                "--upload-id {id:?}: not an upload id"
            )));
        }
    }
    // Cloudflare R2 refuses parts of different sizes (R2 docs, "Multipart upload").
    let equal_parts = m.equal_parts || endpoint.host.ends_with(".r2.cloudflarestorage.com");
    let expected_size = m.exact_size.or(m.expected_size);
    let (mut part_size, mut jobs, mut spool_dir, mut cap) = (m.part_size, jobs, m.spool_dir, None);
    if stdin {
        if let Some((bytes, from)) = memory_cap(m.max_memory, env)? {
            let fallback = env
                .get("TMPDIR")
                .filter(|d| !d.is_empty())
                .map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
            let fit = memory::fit(memory::Want {
                cap: bytes,
                from,
                jobs: m.jobs,
                part: m.part_size,
                default_jobs: DEFAULT_STDIN_JOBS,
                expected: expected_size,
                equal_parts,
                spool: spool_dir.clone(),
                fallback: memory::usable_dir(&fallback).then_some(fallback),
            })?;
            (part_size, jobs, spool_dir, cap) = (fit.part, fit.jobs, fit.spool, Some(fit.cap));
        }
    }
    let keep = |name: &str| env.get(name).map(|v| (name.to_string(), v.to_string()));
    Ok(Multipart {
        threshold: m.threshold.unwrap_or(DEFAULT_THRESHOLD),
        part_size,
        jobs,
        spool_dir,
        expected_size,
        exact_size: m.exact_size,
        equal_parts,
        on_failure: m.on_failure,
        resume: m.resume,
        abort: m.abort,
        upload_id: m.upload_id,
        state_env: Env::from_pairs(keep("XDG_STATE_HOME").into_iter().chain(keep("HOME"))),
        memory: cap,
    })
}

/// The memory cap of standard input and where it came from: --max-memory, else
/// S3PUSH_MAX_MEMORY, else the cgroup's limit (none where none is set).
fn memory_cap(flag: Option<u64>, env: &Env) -> Result<Option<(u64, String)>, Error> {
    if let Some(bytes) = flag {
        return Ok(Some((bytes, "--max-memory".into())));
    }
    if let Some(text) = env
        .get("S3PUSH_MAX_MEMORY")
        .filter(|t| !t.trim().is_empty())
    {
        let bytes = parse_size(text).ok_or_else(|| {
            Error::Usage(format!(
                "S3PUSH_MAX_MEMORY={text}: give a size in bytes or with K, M, G, T (binary), like 16M"
            ))
        })?;
        return Ok(Some((bytes, "S3PUSH_MAX_MEMORY".into())));
    }
    Ok(memory::cgroup_limit(std::path::Path::new("/"))
        .map(|(bytes, file)| (bytes, format!("the cgroup's limit, {}", file.display()))))
}
