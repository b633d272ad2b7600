//! CPU cost of each checksum, as s3push feeds them (8 KiB updates): MB/s over 256 MiB.
//! `cargo run --release --example checksum_speed`
use s3push::checksum::{Algorithm, Hasher, Md5};
use std::time::Instant;

fn main() {
    let block: Vec<u8> = (0..8192u32)
        .map(|i| (i.wrapping_mul(2654435761u32) >> 13) as u8)
        .collect();
    let total = 256u64 << 20;
    let rounds = total / block.len() as u64;
    for a in Algorithm::ALL {
        let mut h = Hasher::new(a);
        let start = Instant::now();
        for _ in 0..rounds {
            h.update(&block);
        }
        let d = h.finish();
        report(a.api_name(), total, start, d.as_bytes()[0]);
    }
    let mut m = Md5::new();
    let start = Instant::now();
    for _ in 0..rounds {
        m.update(&block);
    }
    let d = m.finish();
    report("MD5", total, start, d[0]);
}

fn report(name: &str, total: u64, start: Instant, keep: u8) {
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{name:10} {:8.0} MB/s  {:.2} s CPU per GiB  (digest byte {keep})",
        total as f64 / secs / 1e6,
        secs * (1u64 << 30) as f64 / total as f64
    );
}
