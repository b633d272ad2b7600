//! Integrity end to end against s3s-fs, which verifies `x-amz-checksum-*` on PutObject
//! (as a header or an aws-chunked trailer) and Content-MD5, and refuses a mismatch with
//! BadDigest: every checksum in every payload mode, from a file and from standard input,
//! read back and compared. s3s-fs 0.14.1 neither verifies nor records part checksums
//! (UploadPart ignores them): multipart checksums are checked against the scripted
//! server in tests/faults.rs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::stage::{describe, Stage, BUCKET};
use std::io::Write;

const ALGORITHMS: &[&str] = &["crc32", "crc32c", "crc64nvme", "sha1", "sha256"];

/// What s3s-fs recorded for the object: the checksum it verified, by algorithm.
fn recorded(stage: &Stage, key: &str, algorithm: &str) -> Option<String> {
    let info = stage.server.internal_info(BUCKET, key)?;
    info.get(format!("checksum_{algorithm}"))
        .and_then(|v| v.as_str())
        .map(str::to_string)
}

fn expected(algorithm: &str, data: &[u8]) -> String {
    let a = s3push::checksum::Algorithm::parse(algorithm).unwrap();
    let mut h = s3push::checksum::Hasher::new(a);
    h.update(data);
    h.finish().to_base64()
}

#[test]
fn every_checksum_in_every_payload_mode_is_verified_by_the_store() {
    for stage in [Stage::http(), Stage::tls()] {
        // Around the 8 KiB chunk, and over 1 MiB (Expect: 100-continue).
        for len in [0u64, 8193, (1 << 20) + 5] {
            let source = stage.file(&format!("sum-{len}.bin"), len);
            let data = std::fs::read(&source).unwrap();
            for payload in ["unsigned", "signed", "streaming"] {
                for algorithm in ALGORITHMS {
                    let key = format!("sums/{payload}/{algorithm}/{len}.bin");
                    let flags = ["--payload", payload, "--checksum", algorithm];
                    let out = stage.push(&flags, &source, &format!("s3://{BUCKET}/{key}"));
                    stage.assert_stored(&out, &key, &source);
                    assert_eq!(
                        recorded(&stage, &key, algorithm).as_deref(),
                        Some(expected(algorithm, &data).as_str()),
                        "{payload} {algorithm} {len}: {}",
                        describe(&out)
                    );
                }
            }
        }
    }
}

#[test]
fn the_default_is_crc32_and_content_md5_is_sent_when_asked() {
    let stage = Stage::http();
    let source = stage.file("default.bin", 100_000);
    let data = std::fs::read(&source).unwrap();
    let out = stage.push(
        &["--content-md5"],
        &source,
        &format!("s3://{BUCKET}/default.bin"),
    );
    stage.assert_stored(&out, "default.bin", &source);
    assert_eq!(
        recorded(&stage, "default.bin", "crc32").as_deref(),
        Some(expected("crc32", &data).as_str())
    );
    // No checksum: nothing recorded, and the ETag check stands in.
    let out = stage.push(
        &["--checksum", "none"],
        &source,
        &format!("s3://{BUCKET}/none.bin"),
    );
    stage.assert_stored(&out, "none.bin", &source);
    assert_eq!(recorded(&stage, "none.bin", "crc32"), None);
}

#[test]
fn standard_input_carries_its_checksum_as_a_header_in_every_payload_mode() {
    let stage = Stage::tls();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 241) as u8).collect();
    let modes = ALGORITHMS
        .iter()
        .map(|a| (*a, "unsigned"))
        .chain([("crc32c", "streaming"), ("sha256", "signed")]);
    for (algorithm, payload) in modes {
        let key = format!("stdin-sums/{algorithm}-{payload}.bin");
        let mut cmd = stage.command(&["--checksum", algorithm, "--payload", payload]);
        cmd.arg("-").arg(format!("s3://{BUCKET}/{key}"));
        let feed = data.clone();
        let out = common::run_bounded_fed(
            cmd,
            common::RUN_LIMIT,
            Some(Box::new(move |mut stdin| {
                let _ = stdin.write_all(&feed);
            })),
        );
        assert!(out.status.success(), "{}", describe(&out));
        assert_eq!(stage.server.object_bytes(BUCKET, &key).unwrap(), data);
        assert_eq!(
            recorded(&stage, &key, algorithm).as_deref(),
            Some(expected(algorithm, &data).as_str())
        );
    }
}

#[test]
fn multipart_uploads_carry_part_checksums_and_read_back() {
    let stage = Stage::http();
    let source = stage.file("mp-sums.bin", 2 * 5 * 1024 * 1024 + 3);
    for payload in ["unsigned", "signed", "streaming"] {
        for algorithm in ALGORITHMS {
            let key = format!("mp-sums/{payload}-{algorithm}.bin");
            let flags = [
                "--payload",
                payload,
                "--checksum",
                algorithm,
                "--part-size",
                "5M",
                "--multipart-threshold",
                "5M",
            ];
            let out = stage.push(&flags, &source, &format!("s3://{BUCKET}/{key}"));
            stage.assert_stored(&out, &key, &source);
        }
    }
}
