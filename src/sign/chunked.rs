//! aws-chunked streaming signatures (S3 API reference, "Signature Calculations for the
//! Authorization Header: Transferring Payload in Multiple Chunks"): each chunk is signed
//! with the signature of the one before it, starting from the request's seed signature.

use super::time::Timestamp;
use super::v4::{credential_scope, hmac_sha256, push_hex, signing_key, EMPTY_SHA256};
use sha2::{Digest, Sha256};

/// `x-amz-content-sha256` of a request whose chunks are signed.
pub const STREAMING_PAYLOAD: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
/// ...whose chunks are signed and followed by a signed trailer (a checksum).
pub const STREAMING_SIGNED_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
/// ...whose chunks are plain (`hex-size\r\n`) and followed by a trailer (a checksum).
pub const STREAMING_UNSIGNED_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
const CHUNK_ALGORITHM: &str = "AWS4-HMAC-SHA256-PAYLOAD";
const TRAILER_ALGORITHM: &str = "AWS4-HMAC-SHA256-TRAILER";

/// Signs the chunks of one request, in order. Its strings are reused from chunk to
/// chunk, so signing allocates nothing after the first chunk.
pub struct ChunkSigner {
    key: [u8; 32],
    /// The string to sign up to and including the scope line.
    prefix: String,
    previous: String,
    to_sign: String,
}

impl ChunkSigner {
    /// Starts from the seed signature (the request's own SigV4 signature).
    pub fn new(
        secret: &str,
        region: &str,
        service: &str,
        time: Timestamp,
        seed_signature: &str,
    ) -> ChunkSigner {
        let prefix = format!(
            "{CHUNK_ALGORITHM}\n{}\n{}\n",
            time.amz_date(),
            credential_scope(time, region, service)
        );
        ChunkSigner {
            key: signing_key(secret, &time.date_stamp(), region, service),
            to_sign: String::with_capacity(prefix.len() + 3 * 65),
            prefix,
            previous: seed_signature.to_string(),
        }
    }

    /// The signature of the next chunk (the final, empty chunk included).
    pub fn sign(&mut self, chunk: &[u8]) -> &str {
        self.to_sign.clear();
        self.to_sign.push_str(&self.prefix);
        self.to_sign.push_str(&self.previous);
        self.to_sign.push('\n');
        self.to_sign.push_str(EMPTY_SHA256);
        self.to_sign.push('\n');
        push_hex(&mut self.to_sign, &Sha256::digest(chunk));
        let signature = hmac_sha256(&self.key, self.to_sign.as_bytes());
        self.previous.clear();
        push_hex(&mut self.previous, &signature);
        &self.previous
    }

    /// The signature of the trailer, after the final chunk's (S3 API reference,
    /// "Signature calculations for trailing headers"): `trailer` is the trailing headers
    /// as `name:value\n` lines.
    pub fn sign_trailer(&mut self, trailer: &str) -> &str {
        // The chunk prefix, with the trailer's algorithm in its first line.
        let scope_lines = self.prefix.split_once('\n').map_or("", |(_, rest)| rest);
        self.to_sign.clear();
        self.to_sign.push_str(TRAILER_ALGORITHM);
        self.to_sign.push('\n');
        self.to_sign.push_str(scope_lines);
        self.to_sign.push_str(&self.previous);
        self.to_sign.push('\n');
        push_hex(&mut self.to_sign, &Sha256::digest(trailer.as_bytes()));
        let signature = hmac_sha256(&self.key, self.to_sign.as_bytes());
        self.previous.clear();
        push_hex(&mut self.previous, &signature);
        &self.previous
    }
}

/// Room kept in a frame before the chunk's data for its header: a signed header is the
/// size in hex (16 digits at most), ";chunk-signature=", 64 hex digits and CRLF.
pub const HEAD_ROOM: usize = 100;

/// Data bytes in each chunk of an unsigned-trailer body (the last may be shorter). Its
/// header carries no signature, so it needs nothing but the length: the chunk's data
/// still goes through the fixed 8 KiB buffer, and the store parses one chunk header per
/// MiB instead of one per 8 KiB (s3s-fs took 1.5 to 2 times as long over 8 KiB chunks).
/// 1 MiB is botocore's chunk for the same body.
pub const UNSIGNED_CHUNK: usize = 1024 * 1024;

/// One read of an aws-chunked body's data (see `pieces`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    pub len: usize,
    /// The length of the chunk this piece starts (its header goes before it), if it does.
    pub starts_chunk: Option<usize>,
    /// CRLF goes after it.
    pub ends_chunk: bool,
    /// The body's last piece.
    pub last: bool,
}

/// The pieces of a body of `size` bytes sent in chunks of `chunk` bytes (the last one
/// shorter), each piece at most `buffer` bytes: a signed chunk must be one piece
/// (`chunk <= buffer`).
pub fn pieces(size: u64, chunk: usize, buffer: usize) -> impl Iterator<Item = Piece> {
    let (chunk, buffer) = (chunk.max(1), buffer.max(1));
    let mut left = size;
    let mut left_in_chunk = 0usize;
    std::iter::from_fn(move || {
        if left == 0 {
            return None;
        }
        let starts_chunk = (left_in_chunk == 0).then(|| {
            left_in_chunk = usize::try_from(left.min(chunk as u64)).unwrap_or(chunk);
            left_in_chunk
        });
        let len = left_in_chunk.min(buffer);
        left -= len as u64;
        left_in_chunk -= len;
        Some(Piece {
            len,
            starts_chunk,
            ends_chunk: left_in_chunk == 0,
            last: left == 0,
        })
    })
}

/// Frames in place `len` bytes that sit at `frame[HEAD_ROOM..]`, a piece of a chunk:
/// when `header` is given (the chunk's length, and a signer for a signed chunk, which is
/// the piece itself) the chunk's header goes just before the data; when `ends_chunk`,
/// CRLF goes just after it. The data is never copied. Returns the range of `frame` to
/// send; None when `frame` is shorter than `HEAD_ROOM + len + 2`, or a signed chunk is
/// not the whole piece.
pub fn frame_in_place(
    frame: &mut [u8],
    len: usize,
    header: Option<(usize, Option<&mut ChunkSigner>)>,
    ends_chunk: bool,
) -> Option<std::ops::Range<usize>> {
    let end = HEAD_ROOM.checked_add(len)?;
    frame.get(..end.checked_add(2)?)?;
    let mut head = [0u8; HEAD_ROOM];
    let head_len = match header {
        None => 0,
        Some((chunk, None)) => write_plain_chunk_header(&mut head, chunk)?,
        Some((chunk, Some(s))) if chunk == len => {
            write_chunk_header(&mut head, len, s.sign(&frame[HEAD_ROOM..end]))?
        }
        Some(_) => return None,
    };
    let start = HEAD_ROOM - head_len;
    frame[start..HEAD_ROOM].copy_from_slice(&head[..head_len]);
    if !ends_chunk {
        return Some(start..end);
    }
    frame[end..end + 2].copy_from_slice(b"\r\n");
    Some(start..end + 2)
}

/// What follows the last data chunk: the final empty chunk (signed or plain), and the
/// trailer (`header`, `value`) when there is one. None for a plain body with no trailer,
/// which aws-chunked does not have.
pub fn body_end(signer: Option<&mut ChunkSigner>, trailer: Option<(&str, &str)>) -> Option<String> {
    match (signer, trailer) {
        (Some(s), Some((header, value))) => Some(signed_trailer_end(s, header, value)),
        (Some(s), None) => Some(format!("0;chunk-signature={}\r\n\r\n", s.sign(&[]))),
        (None, Some((header, value))) => Some(unsigned_trailer_end(header, value)),
        (None, None) => None,
    }
}

/// Writes `hex-size\r\n`, the header of a chunk of an unsigned-trailer body.
pub fn write_plain_chunk_header(out: &mut [u8], len: usize) -> Option<usize> {
    let room = out.len();
    let mut cursor = &mut out[..];
    std::io::Write::write_fmt(&mut cursor, format_args!("{len:x}\r\n")).ok()?;
    Some(room - cursor.len())
}

/// The end of an unsigned-trailer body: the empty chunk, the trailer, a blank line.
pub fn unsigned_trailer_end(header: &str, value: &str) -> String {
    format!("0\r\n{header}:{value}\r\n\r\n")
}

/// The end of a signed-trailer body, after the last data chunk: the signed empty chunk,
/// the trailer and its signature, a blank line.
pub fn signed_trailer_end(signer: &mut ChunkSigner, header: &str, value: &str) -> String {
    let last = format!("0;chunk-signature={}\r\n", signer.sign(&[]));
    let trailer_signature = signer.sign_trailer(&format!("{header}:{value}\n"));
    format!("{last}{header}:{value}\r\nx-amz-trailer-signature:{trailer_signature}\r\n\r\n")
}

/// Content-Length of an unsigned-trailer body of `decoded` bytes in `chunk`-byte
/// chunks, whose trailer is `header:` and a value of `value_len` characters.
pub fn encoded_length_unsigned_trailer(
    decoded: u64,
    chunk: u64,
    header: &str,
    value_len: usize,
) -> u64 {
    let overhead = |len: u64| format!("{len:x}").len() as u64 + 4;
    let chunk = chunk.max(1);
    let (full, rest) = (decoded / chunk, decoded % chunk);
    let mut total = full * (chunk + overhead(chunk));
    if rest > 0 {
        total += rest + overhead(rest);
    }
    // "0\r\n" + "header:value\r\n" + "\r\n"
    total + 3 + (header.len() + 1 + value_len + 2) as u64 + 2
}

/// Content-Length of a signed-trailer body: signed chunks, the signed empty chunk, the
/// trailer, its signature line and a blank line.
pub fn encoded_length_signed_trailer(
    decoded: u64,
    chunk: u64,
    header: &str,
    value_len: usize,
) -> u64 {
    // encoded_length ends with the empty chunk's header and its CRLF ("...\r\n\r\n"):
    // here the trailer comes between them.
    encoded_length(decoded, chunk) - 2
        + (header.len() + 1 + value_len + 2) as u64
        + ("x-amz-trailer-signature:".len() + 64 + 2) as u64
        + 2
}

/// Writes the header line before a chunk's data, `hex-size;chunk-signature=SIG\r\n`,
/// at the start of `out`, and returns its length (None if `out` is too short).
pub fn write_chunk_header(out: &mut [u8], len: usize, signature: &str) -> Option<usize> {
    let room = out.len();
    let mut cursor = &mut out[..];
    std::io::Write::write_fmt(
        &mut cursor,
        format_args!("{len:x};chunk-signature={signature}\r\n"),
    )
    .ok()?;
    Some(room - cursor.len())
}

/// The length on the wire of a body of `decoded` bytes sent in chunks of `chunk` bytes
/// (the last one shorter), plus the final empty chunk: the request's Content-Length.
pub fn encoded_length(decoded: u64, chunk: u64) -> u64 {
    // Each chunk adds its header and the CRLF after its data; a signature is 64 hex digits.
    let overhead =
        |len: u64| format!("{len:x}").len() as u64 + ";chunk-signature=".len() as u64 + 64 + 4;
    let full = decoded / chunk.max(1);
    let rest = decoded % chunk.max(1);
    let mut total = full * (chunk + overhead(chunk)) + overhead(0);
    if rest > 0 {
        total += rest + overhead(rest);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::uri::encode_path;
    use crate::sign::v4::{sign, V4Request};

    /// The guide's example: PUT /examplebucket/chunkObject.txt, 66560 bytes of 'a' in a
    /// 65536-byte chunk, a 1024-byte chunk and the final empty chunk, 20130524T000000Z.
    #[test]
    fn s3_guide_multiple_chunks_example() {
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        let time = Timestamp::from_unix(1_369_353_600);
        assert_eq!(encoded_length(66_560, 65_536), 66_824);
        let headers: Vec<(String, String)> = [
            ("host", "s3.amazonaws.com"),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ("content-encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", "66560"),
            ("content-length", "66824"),
            ("x-amz-content-sha256", STREAMING_PAYLOAD),
        ]
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
        let uri = encode_path("/examplebucket/chunkObject.txt");
        let req = V4Request {
            method: "PUT",
            canonical_uri: &uri,
            query: &[],
            headers: &headers,
            payload_hash: STREAMING_PAYLOAD,
        };
        let seed = sign(
            &req,
            "AKIAIOSFODNN7EXAMPLE",
            secret,
            "us-east-1",
            "s3",
            time,
        );
        assert_eq!(
            seed.signature,
            "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
        );
        let mut chunks = ChunkSigner::new(secret, "us-east-1", "s3", time, &seed.signature);
        let first = chunks.sign(&[b'a'; 65_536]).to_string();
        assert_eq!(
            first,
            "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
        );
        let mut out = [0u8; 96];
        let n = write_chunk_header(&mut out, 65_536, &first).unwrap();
        assert_eq!(
            &out[..n],
            format!("10000;chunk-signature={first}\r\n").as_bytes()
        );
        assert_eq!(write_chunk_header(&mut [0u8; 20], 65_536, &first), None);
        assert_eq!(
            chunks.sign(&[b'a'; 1024]),
            "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
        );
        assert_eq!(
            chunks.sign(&[]),
            "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"
        );
    }

    /// The guide's trailer example ("Signature calculations for trailing headers"): the
    /// same 66560 bytes, seed 106e2a8a..., and an `x-amz-checksum-crc32c:sOO8/Q==` trailer.
    #[test]
    fn s3_guide_trailer_example() {
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        let time = Timestamp::from_unix(1_369_353_600);
        let seed = "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e";
        let mut signer = ChunkSigner::new(secret, "us-east-1", "s3", time, seed);
        assert_eq!(
            signer.sign(&[b'a'; 65_536]),
            "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2"
        );
        assert_eq!(
            signer.sign(&[b'a'; 1024]),
            "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7"
        );
        let end = signed_trailer_end(&mut signer, "x-amz-checksum-crc32c", "sOO8/Q==");
        assert_eq!(
            end,
            "0;chunk-signature=2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992\r\n\
             x-amz-checksum-crc32c:sOO8/Q==\r\n\
             x-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n\r\n"
        );
        // And the checksum itself: CRC32C of the 66560 'a's.
        let crc =
            crate::checksum::crc_update(crate::checksum::Algorithm::Crc32c, 0, &[b'a'; 66_560]);
        assert_eq!(
            crate::checksum::crc_digest(crate::checksum::Algorithm::Crc32c, crc).to_base64(),
            "sOO8/Q=="
        );
    }

    /// In place, a chunk is its header, its data untouched, and CRLF: the same bytes as
    /// the header written apart; an unsigned chunk may come in pieces; a frame without
    /// room for CRLF, or a signed chunk that is not the whole piece, is refused.
    #[test]
    fn a_chunk_is_framed_around_its_data_in_place() {
        let data = [b'a'; 1000];
        for signed in [false, true] {
            let new = || ChunkSigner::new("k", "r", "s3", Timestamp::from_unix(0), &"0".repeat(64));
            let (mut inside, mut apart) = (new(), new());
            let mut frame = vec![0u8; HEAD_ROOM + data.len() + 2];
            frame[HEAD_ROOM..][..data.len()].copy_from_slice(&data);
            let header = Some((data.len(), signed.then_some(&mut inside)));
            let framed = frame_in_place(&mut frame, data.len(), header, true);
            let mut head = [0u8; HEAD_ROOM];
            let n = if signed {
                write_chunk_header(&mut head, data.len(), apart.sign(&data)).unwrap()
            } else {
                write_plain_chunk_header(&mut head, data.len()).unwrap()
            };
            let expected = [&head[..n], &data, b"\r\n"].concat();
            assert_eq!(&frame[framed.unwrap()], &expected[..], "signed: {signed}");
        }
        // An unsigned chunk of 2000 bytes in two pieces of 1000.
        let mut frame = vec![0u8; HEAD_ROOM + 1002];
        frame[HEAD_ROOM..][..1000].copy_from_slice(&data);
        let first = frame_in_place(&mut frame, 1000, Some((2000, None)), false).unwrap();
        let mut wire = frame[first].to_vec();
        let second = frame_in_place(&mut frame, 1000, None, true).unwrap();
        wire.extend_from_slice(&frame[second]);
        assert_eq!(wire, [&b"7d0\r\n"[..], &data, &data, b"\r\n"].concat());
        let mut signer = ChunkSigner::new("k", "r", "s3", Timestamp::from_unix(0), &"0".repeat(64));
        assert_eq!(
            frame_in_place(&mut frame, 1000, Some((2000, Some(&mut signer))), true),
            None
        );
        assert_eq!(
            frame_in_place(&mut [0u8; HEAD_ROOM + 10], 9, None, true),
            None
        );
        assert_eq!(
            frame_in_place(&mut [0u8; HEAD_ROOM + 11], 9, Some((9, None)), true),
            Some(HEAD_ROOM - 3..HEAD_ROOM + 11)
        );
    }

    /// Pieces cover the body exactly; every chunk starts, ends and is as long as said.
    #[test]
    fn pieces_cut_chunks_into_buffers() {
        assert_eq!(pieces(0, 8192, 8192).count(), 0);
        let all: Vec<Piece> = pieces(20, 8, 3).collect();
        let lens: Vec<usize> = all.iter().map(|p| p.len).collect();
        assert_eq!(lens, [3, 3, 2, 3, 3, 2, 3, 1]);
        let starts: Vec<Option<usize>> = all.iter().map(|p| p.starts_chunk).collect();
        assert_eq!(
            starts,
            [Some(8), None, None, Some(8), None, None, Some(4), None]
        );
        let ends: Vec<bool> = all.iter().map(|p| p.ends_chunk).collect();
        assert_eq!(ends, [false, false, true, false, false, true, false, true]);
        assert!(all.iter().rev().skip(1).all(|p| !p.last) && all[7].last);
        let signed: Vec<Piece> = pieces(8192 * 2 + 5, 8192, 8192).collect();
        assert!(signed
            .iter()
            .all(|p| p.starts_chunk == Some(p.len) && p.ends_chunk));
        assert_eq!(
            signed.iter().map(|p| p.len as u64).sum::<u64>(),
            8192 * 2 + 5
        );
    }

    /// The lengths announced are the lengths written, for every size class.
    #[test]
    fn trailer_lengths_match_what_is_written() {
        let chunk = 8192usize;
        for size in [0, 1, chunk - 1, chunk, chunk + 1, 3 * chunk + 5] {
            let data = vec![7u8; size];
            let (header, value) = ("x-amz-checksum-crc32", "AAAAAA==");
            let mut plain = Vec::new();
            let mut signed = Vec::new();
            let mut signer =
                ChunkSigner::new("k", "r", "s3", Timestamp::from_unix(0), &"0".repeat(64));
            let mut frame = [0u8; 128];
            for piece in data.chunks(chunk) {
                let n = write_plain_chunk_header(&mut frame, piece.len()).unwrap();
                plain.extend_from_slice(&frame[..n]);
                plain.extend_from_slice(piece);
                plain.extend_from_slice(b"\r\n");
                let n = write_chunk_header(&mut frame, piece.len(), signer.sign(piece)).unwrap();
                signed.extend_from_slice(&frame[..n]);
                signed.extend_from_slice(piece);
                signed.extend_from_slice(b"\r\n");
            }
            plain.extend_from_slice(unsigned_trailer_end(header, value).as_bytes());
            signed.extend_from_slice(signed_trailer_end(&mut signer, header, value).as_bytes());
            let n = size as u64;
            assert_eq!(
                encoded_length_unsigned_trailer(n, chunk as u64, header, value.len()),
                plain.len() as u64,
                "unsigned, {size} bytes"
            );
            assert_eq!(
                encoded_length_signed_trailer(n, chunk as u64, header, value.len()),
                signed.len() as u64,
                "signed, {size} bytes"
            );
        }
    }

    #[test]
    fn encoded_length_counts_every_header() {
        // One 8 KiB chunk: "2000;chunk-signature=<64>\r\n" + data + "\r\n", then "0;...\r\n\r\n".
        assert_eq!(
            encoded_length(8192, 8192),
            8192 + (4 + 17 + 64 + 4) + (1 + 17 + 64 + 4)
        );
        assert_eq!(encoded_length(0, 8192), 1 + 17 + 64 + 4);
    }
}
