//! The checksums S3 verifies (`x-amz-checksum-*`): CRC32, CRC32C and CRC64NVME written
//! here (table-driven, slicing by 8, tables built at compile time), SHA-1 and SHA-256 from
//! the RustCrypto crates; MD5 for Content-MD5 and the ETag checks. Values go on the wire
//! as base64 of the big-endian digest.

use base64::Engine;
use sha1::Sha1;
use sha2::{Digest as _, Sha256};
use std::sync::OnceLock;

/// A checksum algorithm S3 knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

impl Algorithm {
    pub const ALL: [Algorithm; 5] = [
        Algorithm::Crc32,
        Algorithm::Crc32c,
        Algorithm::Crc64Nvme,
        Algorithm::Sha1,
        Algorithm::Sha256,
    ];

    /// `crc32`, `crc32c`, `crc64nvme`, `sha1`, `sha256` (any case).
    pub fn parse(text: &str) -> Option<Algorithm> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.api_name().eq_ignore_ascii_case(text))
    }

    /// The name S3 uses in `x-amz-checksum-algorithm` and `x-amz-sdk-checksum-algorithm`.
    pub fn api_name(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "CRC32",
            Algorithm::Crc32c => "CRC32C",
            Algorithm::Crc64Nvme => "CRC64NVME",
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
        }
    }

    /// The header (and trailer) carrying the value.
    pub fn header_name(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "x-amz-checksum-crc32",
            Algorithm::Crc32c => "x-amz-checksum-crc32c",
            Algorithm::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Algorithm::Sha1 => "x-amz-checksum-sha1",
            Algorithm::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// The element of ListParts / CompleteMultipartUpload that carries the value.
    pub fn xml_element(self) -> &'static str {
        match self {
            Algorithm::Crc32 => "ChecksumCRC32",
            Algorithm::Crc32c => "ChecksumCRC32C",
            Algorithm::Crc64Nvme => "ChecksumCRC64NVME",
            Algorithm::Sha1 => "ChecksumSHA1",
            Algorithm::Sha256 => "ChecksumSHA256",
        }
    }

    /// CRCs combine into a whole-object value; SHA digests only into a composite one
    /// (S3 user guide, "Checking object integrity": full-object checksums are CRC-only).
    pub fn is_crc(self) -> bool {
        matches!(
            self,
            Algorithm::Crc32 | Algorithm::Crc32c | Algorithm::Crc64Nvme
        )
    }

    pub fn digest_len(self) -> usize {
        match self {
            Algorithm::Crc32 | Algorithm::Crc32c => 4,
            Algorithm::Crc64Nvme => 8,
            Algorithm::Sha1 => 20,
            Algorithm::Sha256 => 32,
        }
    }
}

/// A finished checksum: the big-endian digest bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digest {
    bytes: [u8; 32],
    len: usize,
}

impl Digest {
    fn new(raw: &[u8]) -> Digest {
        let mut bytes = [0u8; 32];
        let len = raw.len().min(32);
        bytes[..len].copy_from_slice(&raw[..len]);
        Digest { bytes, len }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// What S3 puts in `x-amz-checksum-*`.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.as_bytes())
    }

    /// A digest from its base64 form.
    pub fn from_base64(value: &str) -> Option<Digest> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .ok()?;
        (!raw.is_empty() && raw.len() <= 32).then(|| Digest::new(&raw))
    }

    /// The CRC as a number (CRCs only).
    pub fn crc_value(&self) -> Option<u64> {
        match self.len {
            4 | 8 => Some(
                self.as_bytes()
                    .iter()
                    .fold(0u64, |v, &b| (v << 8) | u64::from(b)),
            ),
            _ => None,
        }
    }
}

/// One of the checksums, being computed.
#[derive(Clone)]
pub struct Hasher {
    algorithm: Algorithm,
    state: State,
}

#[derive(Clone)]
enum State {
    Crc(u64),
    Sha1(Sha1),
    Sha256(Sha256),
}

impl Hasher {
    pub fn new(algorithm: Algorithm) -> Hasher {
        let state = match algorithm {
            Algorithm::Crc32 | Algorithm::Crc32c | Algorithm::Crc64Nvme => State::Crc(0),
            Algorithm::Sha1 => State::Sha1(Sha1::new()),
            Algorithm::Sha256 => State::Sha256(Sha256::new()),
        };
        Hasher { algorithm, state }
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    pub fn update(&mut self, data: &[u8]) {
        match &mut self.state {
            State::Crc(crc) => *crc = crc_update(self.algorithm, *crc, data),
            State::Sha1(h) => h.update(data),
            State::Sha256(h) => h.update(data),
        }
    }

    pub fn finish(&self) -> Digest {
        match &self.state {
            State::Crc(crc) => crc_digest(self.algorithm, *crc),
            State::Sha1(h) => Digest::new(&h.clone().finalize()),
            State::Sha256(h) => Digest::new(&h.clone().finalize()),
        }
    }
}

/// The digest bytes of a CRC value (4 bytes for the 32-bit ones).
pub fn crc_digest(algorithm: Algorithm, crc: u64) -> Digest {
    if algorithm == Algorithm::Crc64Nvme {
        Digest::new(&crc.to_be_bytes())
    } else {
        Digest::new(&(crc as u32).to_be_bytes())
    }
}

/// The CRC value of a base64 digest as S3 writes it (CRCs only).
pub fn crc_from_base64(algorithm: Algorithm, value: &str) -> Option<u64> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()?;
    (algorithm.is_crc() && raw.len() == algorithm.digest_len())
        .then(|| Digest::new(&raw).crc_value())?
}

// ---- CRCs ------------------------------------------------------------------------------

/// The reflected polynomials: CRC-32/ISO-HDLC, CRC-32/ISCSI (Castagnoli), CRC-64/NVME
/// (Rocksoft catalogue names); all with initial value and final XOR of all ones.
const POLY_CRC32: u64 = 0xEDB8_8320;
const POLY_CRC32C: u64 = 0x82F6_3B78;
const POLY_CRC64NVME: u64 = 0x9A6C_9329_AC4B_C9B5;

/// Slicing-by-8 tables: `t[0]` is the byte-at-a-time table, `t[k][i]` the CRC of byte
/// `i` followed by `k` zero bytes.
fn tables(poly: u64) -> Box<[[u64; 256]; 8]> {
    let mut t = Box::new([[0u64; 256]; 8]);
    for i in 0..256 {
        let mut crc = i as u64;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ poly
            } else {
                crc >> 1
            };
        }
        t[0][i] = crc;
    }
    for k in 1..8 {
        for i in 0..256 {
            let prev = t[k - 1][i];
            t[k][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
        }
    }
    t
}

/// Each algorithm's tables are computed on first use (a few microseconds) rather than
/// stored in the binary: 48 KiB of it (doc/building.md, "What ships"), for CRCs that
/// only non-default checksums use (CRC32 itself goes through crc32fast).
fn crc_params(algorithm: Algorithm) -> (&'static [[u64; 256]; 8], u64) {
    static CRC32_TABLES: OnceLock<Box<[[u64; 256]; 8]>> = OnceLock::new();
    static CRC32C_TABLES: OnceLock<Box<[[u64; 256]; 8]>> = OnceLock::new();
    static CRC64NVME_TABLES: OnceLock<Box<[[u64; 256]; 8]>> = OnceLock::new();
    let (cell, poly, mask) = match algorithm {
        Algorithm::Crc32 => (&CRC32_TABLES, POLY_CRC32, 0xFFFF_FFFF),
        Algorithm::Crc32c => (&CRC32C_TABLES, POLY_CRC32C, 0xFFFF_FFFF),
        _ => (&CRC64NVME_TABLES, POLY_CRC64NVME, u64::MAX),
    };
    (cell.get_or_init(|| tables(poly)), mask)
}

/// Continues `crc` (a finished value, 0 for nothing yet) over `data`. CRC32, the default,
/// goes through crc32fast (carry-less multiplication where the CPU has it, doc/dependencies.md
/// "Dependencies"); the others through the tables below.
pub fn crc_update(algorithm: Algorithm, crc: u64, data: &[u8]) -> u64 {
    if algorithm == Algorithm::Crc32 {
        let mut h = crc32fast::Hasher::new_with_initial(crc as u32);
        h.update(data);
        return u64::from(h.finalize());
    }
    crc_update_table(algorithm, crc, data)
}

/// `crc_update` by the slicing-by-8 tables, for every CRC here.
pub fn crc_update_table(algorithm: Algorithm, crc: u64, data: &[u8]) -> u64 {
    let (t, mask) = crc_params(algorithm);
    let wide = mask == u64::MAX;
    let mut c = crc ^ mask;
    let mut chunks = data.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        if wide {
            let v = c ^ x;
            c = t[7][(v & 0xff) as usize]
                ^ t[6][(v >> 8 & 0xff) as usize]
                ^ t[5][(v >> 16 & 0xff) as usize]
                ^ t[4][(v >> 24 & 0xff) as usize]
                ^ t[3][(v >> 32 & 0xff) as usize]
                ^ t[2][(v >> 40 & 0xff) as usize]
                ^ t[1][(v >> 48 & 0xff) as usize]
                ^ t[0][(v >> 56) as usize];
        } else {
            let lo = (c ^ x) & 0xFFFF_FFFF;
            let hi = x >> 32;
            c = t[7][(lo & 0xff) as usize]
                ^ t[6][(lo >> 8 & 0xff) as usize]
                ^ t[5][(lo >> 16 & 0xff) as usize]
                ^ t[4][(lo >> 24) as usize]
                ^ t[3][(hi & 0xff) as usize]
                ^ t[2][(hi >> 8 & 0xff) as usize]
                ^ t[1][(hi >> 16 & 0xff) as usize]
                ^ t[0][(hi >> 24) as usize];
        }
    }
    for &b in chunks.remainder() {
        c = (c >> 8) ^ t[0][((c ^ u64::from(b)) & 0xff) as usize];
    }
    (c ^ mask) & mask
}

/// The CRC of A followed by B, from the CRCs of A and B and B's length (zlib's
/// crc32_combine: multiply by x^(8*len_b) modulo the polynomial, in GF(2)): the
/// whole-object CRC of a multipart upload from its parts' CRCs.
pub fn crc_combine(algorithm: Algorithm, crc_a: u64, crc_b: u64, len_b: u64) -> u64 {
    if len_b == 0 {
        return crc_a;
    }
    let (t, mask) = crc_params(algorithm);
    let poly = t[0][128]; // the reflected polynomial: the table entry of the top bit
    let bits = if mask == u64::MAX { 64 } else { 32 };
    // x^(8 * len_b) mod P, by squaring x^8, x^16, ... (reflected representation: x^0 is
    // the top bit).
    let one = 1u64 << (bits - 1);
    let multiply = |a: u64, b: u64| -> u64 {
        let mut product = 0u64;
        let mut a = a;
        let mut m = one;
        while m != 0 {
            if b & m != 0 {
                product ^= a;
            }
            a = if a & 1 == 1 { (a >> 1) ^ poly } else { a >> 1 };
            m >>= 1;
        }
        product
    };
    let mut power = one >> 8; // x^8
    let mut factor = one; // x^0
    let mut n = len_b;
    while n > 0 {
        if n & 1 == 1 {
            factor = multiply(factor, power);
        }
        power = multiply(power, power);
        n >>= 1;
    }
    (multiply(crc_a, factor) ^ crc_b) & mask
}

/// S3's composite ("checksum of checksums") value of a multipart upload: base64 of the
/// hash of the parts' raw digests, then `-N`.
pub fn composite(algorithm: Algorithm, parts: &[Digest]) -> String {
    let mut h = Hasher::new(algorithm);
    for p in parts {
        h.update(p.as_bytes());
    }
    format!("{}-{}", h.finish().to_base64(), parts.len())
}

// ---- MD5 -------------------------------------------------------------------------------

/// MD5, for Content-MD5 and the ETag checks.
#[derive(Clone, Default)]
pub struct Md5(md5::Md5);

impl Md5 {
    pub fn new() -> Md5 {
        Md5::default()
    }

    pub fn update(&mut self, data: &[u8]) {
        md5::Digest::update(&mut self.0, data);
    }

    pub fn finish(self) -> [u8; 16] {
        md5::Digest::finalize(self.0).into()
    }
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(a: Algorithm, data: &[u8]) -> u64 {
        crc_update(a, 0, data)
    }

    /// Check values from the CRC catalogue (reveng.sourceforge.io, "123456789"):
    /// CRC-32/ISO-HDLC 0xCBF43926, CRC-32/ISCSI 0xE3069283, CRC-64/NVME 0xAE8B14860A799888.
    #[test]
    fn published_check_values() {
        assert_eq!(value(Algorithm::Crc32, b"123456789"), 0xCBF4_3926);
        assert_eq!(value(Algorithm::Crc32c, b"123456789"), 0xE306_9283);
        assert_eq!(
            value(Algorithm::Crc64Nvme, b"123456789"),
            0xAE8B_1486_0A79_9888
        );
        for a in [Algorithm::Crc32, Algorithm::Crc32c, Algorithm::Crc64Nvme] {
            assert_eq!(value(a, b""), 0);
        }
        // S3 user guide examples: the CRC32 of "Hello World" is "ShexVg==" (0x4A17B156).
        let mut h = Hasher::new(Algorithm::Crc32);
        h.update(b"Hello World");
        assert_eq!(h.finish().to_base64(), "ShexVg==");
        let mut h = Hasher::new(Algorithm::Sha256);
        h.update(b"abc");
        assert_eq!(
            hex(h.finish().as_bytes()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let mut m = Md5::new();
        m.update(b"abc");
        assert_eq!(hex(&m.finish()), "900150983cd24fb0d6963f7d28e17f72"); // RFC 1321
    }

    #[test]
    fn updates_split_anywhere_agree() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
        for a in Algorithm::ALL {
            let mut whole = Hasher::new(a);
            whole.update(&data);
            for cut in [0, 1, 7, 8, 9, 500, 999, 1000] {
                let mut h = Hasher::new(a);
                h.update(&data[..cut]);
                h.update(&data[cut..]);
                assert_eq!(h.finish(), whole.finish(), "{a:?} cut at {cut}");
            }
            assert_eq!(whole.finish().as_bytes().len(), a.digest_len());
        }
    }

    #[test]
    fn the_crc32_crate_and_the_tables_agree() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 13 + i / 3) as u8).collect();
        for cut in [0, 1, 5, 4096, 9999] {
            let (a, b) = data.split_at(cut);
            let fast = crc_update(Algorithm::Crc32, crc_update(Algorithm::Crc32, 0, a), b);
            let table = crc_update_table(
                Algorithm::Crc32,
                crc_update_table(Algorithm::Crc32, 0, a),
                b,
            );
            assert_eq!(fast, table, "cut at {cut}");
        }
        assert_eq!(
            crc_update_table(Algorithm::Crc32, 0, b"123456789"),
            0xCBF4_3926
        );
    }

    #[test]
    fn crcs_combine_like_the_whole() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i * 31 + i / 7) as u8).collect();
        for a in [Algorithm::Crc32, Algorithm::Crc32c, Algorithm::Crc64Nvme] {
            let whole = value(a, &data);
            for cut in [0, 1, 8, 100, 4999, 5000] {
                let (x, y) = data.split_at(cut);
                let combined = crc_combine(a, value(a, x), value(a, y), y.len() as u64);
                assert_eq!(combined, whole, "{a:?} cut at {cut}");
            }
        }
    }

    #[test]
    fn names_and_composites() {
        assert_eq!(Algorithm::parse("CRC64nvme"), Some(Algorithm::Crc64Nvme));
        assert_eq!(Algorithm::parse("md5"), None);
        assert_eq!(Algorithm::Crc32c.header_name(), "x-amz-checksum-crc32c");
        let mut a = Hasher::new(Algorithm::Sha256);
        a.update(b"part one");
        let mut b = Hasher::new(Algorithm::Sha256);
        b.update(b"part two");
        let (a, b) = (a.finish(), b.finish());
        let mut both = a.as_bytes().to_vec();
        both.extend_from_slice(b.as_bytes());
        let mut h = Hasher::new(Algorithm::Sha256);
        h.update(&both);
        assert_eq!(
            composite(Algorithm::Sha256, &[a, b]),
            format!("{}-2", h.finish().to_base64())
        );
        assert_eq!(
            crc_digest(Algorithm::Crc32, 0x4A17_B156).to_base64(),
            "ShexVg=="
        );
    }
}
