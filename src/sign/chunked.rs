//! aws-chunked streaming signatures (S3 API reference, "Signature Calculations for the
//! Authorization Header: Transferring Payload in Multiple Chunks"): each chunk is signed
//! with the signature of the one before it, starting from the request's seed signature.

use super::time::Timestamp;
use super::v4::{credential_scope, hmac_sha256, push_hex, signing_key, EMPTY_SHA256};
use sha2::{Digest, Sha256};

/// `x-amz-content-sha256` of a request whose chunks are signed.
pub const STREAMING_PAYLOAD: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
const CHUNK_ALGORITHM: &str = "AWS4-HMAC-SHA256-PAYLOAD";

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
