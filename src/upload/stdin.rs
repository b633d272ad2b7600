//! Standard input of unknown length. S3 needs each part's length before its body, so a
//! part is held before it is sent: in memory, or in an unlinked file under `--spool-dir`.
//! At most jobs + 1 parts are held (jobs on the wire, one being read). A stream that
//! ends within the first part goes up as one PUT; a longer one in parts that grow (x2
//! every 1,000 parts) so that no stream up to 5 TiB reaches the 10,000-part ceiling.

use super::exchange::stopped;
use super::exchange::{Body, FileSpan, Slot};
use super::multipart::{self, lock, FirstFailure, PartDone, Session};
use super::{single, Outcome};
use crate::config::memory::{show, stdin_base_part};
use crate::config::{Multipart, MAX_OBJECT, MAX_PART, MAX_PARTS};
use crate::error::Error;
use crate::interrupt;
use crate::transport::COPY_BUFFER;
use crate::upload::wire::Wire;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Parts grow after this many, when they may differ in size.
const PARTS_PER_STEP: u32 = 1000;

/// The size of each part of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizing {
    base: u64,
    grow: bool,
    /// `--size`: the stream's exact length.
    exact: Option<u64>,
    /// Under a memory cap: the largest part held in memory.
    memory_limit: Option<u64>,
    /// Past `memory_limit`, parts go on growing on disk (else they stay at it).
    spill: bool,
    /// The cap in bytes, for messages.
    cap: u64,
}

impl Sizing {
    /// From --part-size (default 8 MiB) and --expected-size: parts big enough that the
    /// expected size fits in 9,000 of them (10,000 with --equal-parts, which cannot grow);
    /// under a memory cap, parts in memory grow no further than it allows.
    pub fn of(m: &Multipart) -> Result<Sizing, Error> {
        let base = stdin_base_part(m.part_size, m.expected_size, m.equal_parts);
        if base > MAX_PART {
            return Err(Error::Usage(format!(
                "parts of {base} bytes would be over S3's 5 GiB part limit: lower --expected-size or --part-size"
            )));
        }
        let cap = m.memory.as_ref();
        Ok(Sizing {
            base,
            grow: !m.equal_parts,
            exact: m.exact_size,
            memory_limit: cap.and_then(|c| c.part_limit).map(|l| l.max(base)),
            spill: cap.is_some_and(|c| c.spill.is_some()),
            cap: cap.map_or(0, |c| c.bytes),
        })
    }

    /// The size of part `number` (1-based) without a cap.
    fn grown(&self, number: u32) -> u64 {
        if !self.grow {
            return self.base;
        }
        let step = (number.saturating_sub(1) / PARTS_PER_STEP).min(20);
        self.base.saturating_mul(1 << step).min(MAX_PART)
    }

    /// The size of part `number` (1-based); an error past S3's 10,000 parts.
    pub fn part_size(&self, number: u32) -> Result<u64, Error> {
        if u64::from(number) > MAX_PARTS {
            return Err(self.too_long());
        }
        let grown = self.grown(number);
        Ok(match self.memory_limit {
            Some(limit) if grown > limit && !self.spill => limit,
            _ => grown,
        })
    }

    /// Part `number` outgrew what the memory cap holds: it goes to disk.
    fn spools(&self, number: u32) -> bool {
        self.spill && self.memory_limit.is_some_and(|l| self.grown(number) > l)
    }

    /// The cap keeps part `number` smaller than it would grow.
    fn held_back(&self, number: u32) -> bool {
        self.part_size(number)
            .is_ok_and(|size| size < self.grown(number))
    }

    /// The most 10,000 parts hold.
    fn reach(&self) -> u64 {
        (1..=MAX_PARTS as u32)
            .map(|n| self.part_size(n).unwrap_or(0))
            .sum()
    }

    fn too_long(&self) -> Error {
        if self.held_back(MAX_PARTS as u32) {
            return Error::LocalFile(format!(
                "standard input goes on past {}, all that S3's 10,000 parts hold when the memory cap of {} \
                 keeps parts to {} (found on filling the 10,000th part, before sending it): nothing is stored; \
                 give --spool-dir DIR (parts then grow on disk), a larger --max-memory, or --expected-size \
                 SIZE with --spool-dir",
                show(self.reach()),
                show(self.cap),
                show(self.memory_limit.unwrap_or(self.base)),
            ));
        }
        Error::LocalFile(format!(
            "standard input went on past 10,000 parts ({}), S3's limit: give --expected-size (or a larger \
             --part-size) so the parts are sized for the whole stream",
            show(self.reach())
        ))
    }
}

/// A part held before sending.
enum Hold {
    Memory(Vec<u8>),
    /// An unlinked file: nothing is left behind, whatever happens to the process.
    Spool(File),
}

impl Hold {
    fn new(spool_dir: Option<&Path>) -> Result<Hold, Error> {
        let Some(dir) = spool_dir else {
            return Ok(Hold::Memory(Vec::new()));
        };
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        for attempt in 0..100u32 {
            let path = dir.join(format!(
                ".s3push-spool-{}-{nanos}-{attempt}",
                std::process::id()
            ));
            match OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
            {
                Ok(file) => {
                    std::fs::remove_file(&path).map_err(|e| {
                        Error::LocalFile(format!(
                            "cannot unlink the spool file {}: {e}",
                            path.display()
                        ))
                    })?;
                    return Ok(Hold::Spool(file));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(Error::LocalFile(format!(
                        "cannot create a spool file in {} ({e}): give a writable --spool-dir",
                        dir.display()
                    )))
                }
            }
        }
        Err(Error::LocalFile(format!(
            "cannot create a spool file in {}: give another --spool-dir",
            dir.display()
        )))
    }

    /// Reads up to `target` bytes of `input` into the hold; fewer only at end of input.
    fn fill(&mut self, input: &mut impl Read, target: u64) -> Result<u64, Error> {
        match self {
            Hold::Memory(buf) => {
                let want = usize::try_from(target).map_err(|_| too_big(target))?;
                buf.clear();
                if buf.capacity() < want {
                    // Freed first: a larger part never holds the old buffer and the new
                    // one at once (the memory cap counts on it).
                    *buf = Vec::new();
                }
                buf.try_reserve_exact(want).map_err(|_| too_big(target))?;
                buf.resize(want, 0);
                let mut filled = 0;
                while filled < want {
                    match read_some(input, &mut buf[filled..])? {
                        0 => break,
                        n => filled += n,
                    }
                }
                buf.truncate(filled);
                Ok(filled as u64)
            }
            Hold::Spool(file) => {
                let mut chunk = [0u8; COPY_BUFFER];
                let mut filled = 0u64;
                while filled < target {
                    let want = usize::try_from((target - filled).min(COPY_BUFFER as u64))
                        .unwrap_or(COPY_BUFFER);
                    let n = read_some(input, &mut chunk[..want])?;
                    if n == 0 {
                        break;
                    }
                    file.write_all_at(&chunk[..n], filled).map_err(|e| {
                        Error::LocalFile(format!(
                            "writing the spool file: {e}; give a --spool-dir with room for (jobs + 1) parts"
                        ))
                    })?;
                    filled += n as u64;
                }
                Ok(filled)
            }
        }
    }

    fn body(&self, len: u64) -> Body<'_> {
        match self {
            Hold::Memory(buf) => Body::Bytes(buf.get(..len as usize).unwrap_or(buf)),
            Hold::Spool(file) => Body::File(FileSpan {
                file,
                offset: 0,
                len,
                path: Path::new("the spool file of standard input"),
                stamp: None,
            }),
        }
    }
}

fn too_big(target: u64) -> Error {
    Error::LocalFile(format!(
        "cannot hold a part of {target} bytes in memory: use --spool-dir DIR, or lower --jobs or --part-size"
    ))
}

fn read_some(input: &mut impl Read, buf: &mut [u8]) -> Result<usize, Error> {
    loop {
        match input.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {
                if interrupt::requested().is_some() {
                    return Err(stopped());
                }
            }
            Err(e) => return Err(Error::LocalFile(format!("reading standard input: {e}"))),
        }
    }
}

/// A stream that ended: unless a signal ended it (a Ctrl-C kills the writer of the pipe
/// too, and its end looks like any other), it is whole.
fn ended_whole() -> Result<(), Error> {
    match interrupt::requested() {
        Some(_) => Err(stopped()),
        None => Ok(()),
    }
}

/// Refuses a standard input that is /dev/null: nothing is meant to be stored then. Rust's
/// runtime opens a closed fd 0 on /dev/null, so a closed standard input (`<&-`) looks
/// the same, and a cron job's forgotten pipe would store an empty object with exit 0.
pub fn refuse_null_input() -> Result<(), Error> {
    use std::os::fd::AsFd;
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let Ok(fd) = std::io::stdin().as_fd().try_clone_to_owned() else {
        return Ok(());
    };
    let (Ok(input), Ok(null)) = (File::from(fd).metadata(), std::fs::metadata("/dev/null")) else {
        return Ok(());
    };
    if input.file_type().is_char_device() && input.rdev() == null.rdev() {
        return Err(Error::Usage(
            "standard input is /dev/null or closed, so there is nothing to upload: to store an empty object \
             on purpose, pipe it (`: | s3push - s3://BUCKET/KEY`) or upload an empty file"
                .into(),
        ));
    }
    Ok(())
}

/// The stream ended after `total` bytes: with `--size`, that must be its length (a
/// producer that failed ends its stream like any other: `pg_dump` killed, say); far short
/// of `--expected-size`, a warning says what may have happened.
fn ended_at(m: &Multipart, total: u64) -> Result<(), Error> {
    match (m.exact_size, m.expected_size) {
        (Some(exact), _) if total != exact => Err(Error::LocalFile(format!(
            "standard input ended after {total} bytes, not the {exact} of --size: its producer failed or was \
             cut short, so nothing is stored; run it again"
        ))),
        (None, Some(expected)) if total < expected / 2 => {
            crate::report::warning(&format!(
                "standard input ended after {total} bytes, under half the {expected} of --expected-size: if its \
                 producer failed, this object is incomplete (--size N refuses a stream of another length; \
                 `set -o pipefail` makes the pipeline's status say so)"
            ));
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Uploads standard input.
pub fn upload(plan: &Wire) -> Result<Outcome, Error> {
    let started = Instant::now();
    let m = &plan.multipart;
    let sizing = Sizing::of(m)?;
    let spool = m.spool_dir.as_deref();
    let mut input = std::io::stdin().lock();

    let first_target = sizing.part_size(1)?;
    let mut first = Hold::new(spool)?;
    let first_len = first.fill(&mut input, first_target)?;
    let mut second = None;
    if first_len == first_target {
        let mut hold = Hold::new(spool)?;
        let len = hold.fill(&mut input, sizing.part_size(2)?)?;
        if len > 0 {
            second = Some((hold, len));
        }
    }
    if second.is_none() && first_len <= m.threshold {
        ended_whole()?;
        ended_at(m, first_len)?;
        return single::put(plan, first.body(first_len)).map(|mut o| {
            o.elapsed = started.elapsed();
            o
        });
    }

    let mut session = multipart::create(plan)?;
    let table: Mutex<Vec<Option<PartDone>>> = Mutex::new(Vec::new());
    // The first part goes alone: what it shows of the store holds for every part after
    // it (upload::adapt), and it is held, so it can be sent again in another mode.
    let mut slot: Slot = None;
    let streamed =
        multipart::send_first_part(&mut session, 1, first.body(first_len), true, &mut slot)
            .and_then(|done| {
                lock(&table).push(Some(done));
                super::meter().part_done();
                drop(first);
                match second {
                    Some((hold, len)) => {
                        let held = vec![(2, hold, len)];
                        let (parts, total) =
                            stream_parts(&session, &mut input, sizing, held, &table, slot)?;
                        Ok((parts, total + first_len))
                    }
                    None => Ok((1, first_len)),
                }
            });
    let result = streamed.and_then(|(parts, total)| {
        ended_whole()?;
        ended_at(m, total)?;
        let done: Vec<PartDone> = lock(&table).iter().flatten().cloned().collect();
        if done.len() != parts as usize {
            return Err(Error::Protocol(format!(
                "internal: {} of {parts} parts recorded",
                done.len()
            )));
        }
        let completed = multipart::complete(&session, &done)?;
        Ok((completed, done, parts, total))
    });
    let ((response, confirmed), done, _parts, total) = result.map_err(|e| {
        let stored = lock(&table).iter().flatten().count();
        multipart::fail(&session, e, None, 0, stored, 0)
    })?;
    if !confirmed {
        multipart::verify_object(&session, &done, &response, None)?;
    }
    Ok(multipart::outcome(plan, &response, total, &done, started))
}

/// Reads the stream into holds and hands each to a sender thread; returns the number of
/// parts and bytes once the stream ended and every part is stored.
fn stream_parts(
    session: &Session,
    input: &mut impl Read,
    sizing: Sizing,
    held: Vec<(u32, Hold, u64)>,
    table: &Mutex<Vec<Option<PartDone>>>,
    kept: Slot,
) -> Result<(u32, u64), Error> {
    let jobs = session.wire.multipart.jobs as usize;
    let spool = session.wire.multipart.spool_dir.as_deref();
    let failure = FirstFailure::default();
    // Rendezvous: a filled hold waits here until a sender takes it, so at most
    // jobs + 1 holds exist.
    let (work_tx, work_rx) = mpsc::sync_channel::<(u32, Hold, u64)>(0);
    let work_rx = Mutex::new(work_rx);
    // The first sender goes on over the connection the first part left open.
    let kept = Mutex::new(kept);
    let (free_tx, free_rx) = mpsc::channel::<Hold>();

    let filled = std::thread::scope(|scope| {
        for _ in 0..jobs {
            let free_tx = free_tx.clone();
            let (work_rx, failure) = (&work_rx, &failure);
            let mut slot: Slot = lock(&kept).take();
            scope.spawn(move || {
                loop {
                    let job = lock(work_rx).recv();
                    let Ok((number, hold, len)) = job else { break };
                    if !interrupt::should_stop(Some(&failure.cancel)) {
                        match multipart::send_part(
                            session,
                            number,
                            hold.body(len),
                            &failure.cancel,
                            &mut slot,
                        ) {
                            Ok(done) => {
                                let mut t = lock(table);
                                let i = number as usize - 1;
                                if t.len() <= i {
                                    t.resize(i + 1, None);
                                }
                                t[i] = Some(done);
                                drop(t);
                                super::meter().part_done();
                            }
                            Err(e) => failure.record(e),
                        }
                    }
                    // The reader waits for holds; it must get them back even after a failure.
                    let _ = free_tx.send(hold);
                }
            });
        }
        let spill = session
            .wire
            .multipart
            .memory
            .as_ref()
            .and_then(|c| c.spill.as_deref());
        let result = fill_and_hand_out(
            input,
            sizing,
            held,
            jobs + 1,
            (spool, spill),
            &work_tx,
            &free_rx,
            &failure.cancel,
        );
        drop(work_tx);
        result
    });
    if let Some(e) = failure.take() {
        return Err(e);
    }
    let (parts, total) = filled?;
    if interrupt::requested().is_some() {
        return Err(stopped());
    }
    Ok((parts, total))
}

#[allow(clippy::too_many_arguments)]
fn fill_and_hand_out(
    input: &mut impl Read,
    sizing: Sizing,
    held: Vec<(u32, Hold, u64)>,
    pool: usize,
    (spool, spill): (Option<&Path>, Option<&Path>),
    work: &mpsc::SyncSender<(u32, Hold, u64)>,
    free: &mpsc::Receiver<Hold>,
    cancel: &AtomicBool,
) -> Result<(u32, u64), Error> {
    let mut made = held.len();
    let mut number = 0u32;
    let mut total = 0u64;
    let mut ended = false;
    for (n, hold, len) in held {
        let target = sizing.part_size(n)?;
        ended = len < target;
        number = n;
        total += len;
        if work.send((n, hold, len)).is_err() {
            return Err(stopped());
        }
    }
    while !ended {
        if interrupt::should_stop(Some(cancel)) {
            return Err(stopped());
        }
        let mut hold = if made < pool {
            made += 1;
            Hold::new(spool)?
        } else {
            free.recv().map_err(|_| stopped())?
        };
        let target = sizing.part_size(number + 1)?;
        if sizing.spools(number + 1) && matches!(hold, Hold::Memory(_)) {
            // Parts outgrew what the memory cap holds: from here they wait on disk.
            drop(hold);
            hold = Hold::new(spill)?;
        }
        if sizing.held_back(number + 1) && !sizing.held_back(number) {
            crate::report::warning(&format!(
                "standard input passed {}: under the memory cap of {} its parts stay at {}, so it can be at \
                 most {} (10,000 parts); give --spool-dir DIR (or --expected-size with it) for more",
                show(total),
                show(sizing.cap),
                show(target),
                show(sizing.reach())
            ));
        }
        let len = hold.fill(input, target)?;
        if len == 0 {
            break;
        }
        ended = len < target;
        if !ended && u64::from(number + 1) == MAX_PARTS {
            // The last part S3 takes: one byte more and the stream cannot be stored, so
            // fail now, before sending it (the upload is aborted).
            let mut probe = [0u8; 1];
            if read_some(input, &mut probe)? > 0 {
                return Err(sizing.too_long());
            }
            ended = true;
        }
        number += 1;
        total += len;
        if let Some(exact) = sizing.exact.filter(|&n| total > n) {
            return Err(Error::LocalFile(format!(
                "standard input went on past the {exact} bytes of --size: nothing is stored; give its exact length"
            )));
        }
        if total > MAX_OBJECT {
            return Err(Error::LocalFile(
                "standard input went past 5 TiB, S3's object limit: split the stream".into(),
            ));
        }
        if work.send((number, hold, len)).is_err() {
            return Err(stopped());
        }
    }
    Ok((number, total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Env;

    const MIB: u64 = 1024 * 1024;

    fn multipart(part: Option<u64>, expected: Option<u64>, equal: bool) -> Multipart {
        Multipart {
            threshold: 64 * MIB,
            part_size: part,
            jobs: 2,
            spool_dir: None,
            expected_size: expected,
            exact_size: None,
            equal_parts: equal,
            on_failure: None,
            resume: false,
            abort: false,
            upload_id: None,
            state_env: Env::default(),
            memory: None,
        }
    }

    #[test]
    fn growing_parts_carry_a_stream_past_the_peers_ceilings() {
        let s = Sizing::of(&multipart(None, None, false)).unwrap();
        assert_eq!(s.part_size(1).unwrap(), 8 * MIB);
        assert_eq!(s.part_size(1000).unwrap(), 8 * MIB);
        assert_eq!(s.part_size(1001).unwrap(), 16 * MIB);
        let reach: u64 = (1..=10_000).map(|n| s.part_size(n).unwrap()).sum();
        assert!(reach > 5 << 40, "10,000 growing parts hold {reach} bytes");
        assert!(s.part_size(10_001).is_err());
        assert!((1..=10_000).all(|n| s.part_size(n).unwrap() <= MAX_PART));
    }

    #[test]
    fn expected_size_and_equal_parts() {
        let s = Sizing::of(&multipart(None, Some(200 << 30), false)).unwrap();
        assert_eq!(s.part_size(1).unwrap(), 23 * MIB); // 200 GiB / 9,000, whole MiB
        let r2 = Sizing::of(&multipart(None, Some(200 << 30), true)).unwrap();
        assert_eq!(r2.part_size(1).unwrap(), 21 * MIB);
        assert_eq!(r2.part_size(5000).unwrap(), 21 * MIB);
        assert!(r2.part_size(1).unwrap() * 10_000 >= 200 << 30);
        assert!(Sizing::of(&multipart(None, Some(60 << 40), true)).is_err());
    }

    #[test]
    fn holds_keep_what_they_read() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
        let dir = tempfile::tempdir().unwrap();
        for spool in [None, Some(dir.path())] {
            let mut input = &data[..];
            let mut hold = Hold::new(spool).unwrap();
            assert_eq!(hold.fill(&mut input, 60_000).unwrap(), 60_000);
            let body = hold.body(60_000);
            assert_eq!(
                super::super::exchange::md5_of(body, None).unwrap(),
                super::super::exchange::md5_of(Body::Bytes(&data[..60_000]), None).unwrap()
            );
            assert_eq!(hold.fill(&mut input, 60_000).unwrap(), 40_000);
            assert_eq!(hold.fill(&mut input, 60_000).unwrap(), 0);
        }
        // The spool files are unlinked from the start.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    /// Hands `len` bytes through fill_and_hand_out with parts of one byte capped at one
    /// byte (10,000 parts hold 10,000 bytes); returns the parts handed out and the result.
    fn feed_capped(len: usize) -> (u32, Result<(u32, u64), Error>) {
        let sizing = Sizing {
            base: 1,
            grow: true,
            exact: None,
            memory_limit: Some(1),
            spill: false,
            cap: 14 * MIB,
        };
        let data = vec![7u8; len];
        let (work_tx, work_rx) = mpsc::sync_channel::<(u32, Hold, u64)>(0);
        let (free_tx, free_rx) = mpsc::channel::<Hold>();
        let sender = std::thread::spawn(move || {
            let mut sent = 0u32;
            while let Ok((number, hold, _)) = work_rx.recv() {
                sent = number;
                let _ = free_tx.send(hold);
            }
            sent
        });
        let cancel = AtomicBool::new(false);
        let result = fill_and_hand_out(
            &mut &data[..],
            sizing,
            Vec::new(),
            2,
            (None, None),
            &work_tx,
            &free_rx,
            &cancel,
        );
        drop(work_tx);
        (sender.join().unwrap(), result)
    }

    #[test]
    fn a_capped_stream_fails_on_its_10000th_part_before_sending_it() {
        let (sent, result) = feed_capped(10_000);
        assert_eq!(sent, 10_000);
        assert_eq!(result.unwrap(), (10_000, 10_000));
        let (sent, result) = feed_capped(10_001);
        assert_eq!(sent, 9_999, "part 10,000 was handed out");
        let message = result.unwrap_err().to_string();
        assert!(
            message.contains("10,000th part, before sending it") && message.contains("--spool-dir"),
            "{message}"
        );
    }

    #[test]
    fn under_a_cap_parts_stop_growing_or_go_to_disk() {
        let mut m = multipart(None, None, false);
        m.memory = Some(crate::config::memory::MemoryCap {
            bytes: 16 * MIB,
            from: "--max-memory".into(),
            part_limit: Some(6 * MIB),
            spill: None,
        });
        m.part_size = Some(6 * MIB);
        let s = Sizing::of(&m).unwrap();
        assert_eq!(s.part_size(1001).unwrap(), 6 * MIB);
        assert_eq!(s.part_size(10_000).unwrap(), 6 * MIB);
        assert!(!s.spools(10_000) && s.held_back(1001) && !s.held_back(1000));
        assert_eq!(s.reach(), 60_000 * MIB);
        // With somewhere to spool, parts grow on as without a cap, on disk.
        m.memory.as_mut().unwrap().spill = Some("/tmp".into());
        let s = Sizing::of(&m).unwrap();
        assert_eq!(s.part_size(1001).unwrap(), 12 * MIB);
        assert!(!s.spools(1000) && s.spools(1001) && !s.held_back(1001));
        assert!(s.reach() > 5 << 40);
    }
}
