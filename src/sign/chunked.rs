//! aws-chunked streaming signatures (S3 API reference, "Signature Calculations for the
//! Authorization Header: Transferring Payload in Multiple Chunks"): each chunk is signed
//! with the signature of the one before it, starting from the request's seed signature.

use super::time::Timestamp;
use super::v4::{credential_scope, hex, hex_sha256, hmac_sha256, signing_key, EMPTY_SHA256};

/// `x-amz-content-sha256` of a request whose chunks are signed.
pub const STREAMING_PAYLOAD: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
const CHUNK_ALGORITHM: &str = "AWS4-HMAC-SHA256-PAYLOAD";

/// Signs the chunks of one request, in order.
pub struct ChunkSigner {
    key: [u8; 32],
    amz_date: String,
    scope: String,
    previous: String,
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
        ChunkSigner {
            key: signing_key(secret, &time.date_stamp(), region, service),
            amz_date: time.amz_date(),
            scope: credential_scope(time, region, service),
            previous: seed_signature.to_string(),
        }
    }

    /// The signature of the next chunk (the final, empty chunk included).
    pub fn sign(&mut self, chunk: &[u8]) -> String {
        let to_sign = format!(
            "{CHUNK_ALGORITHM}\n{}\n{}\n{}\n{EMPTY_SHA256}\n{}",
            self.amz_date,
            self.scope,
            self.previous,
            hex_sha256(chunk)
        );
        self.previous = hex(&hmac_sha256(&self.key, to_sign.as_bytes()));
        self.previous.clone()
    }
}

/// The header line before a chunk's data: `hex-size;chunk-signature=SIG\r\n`.
pub fn chunk_header(len: usize, signature: &str) -> String {
    format!("{len:x};chunk-signature={signature}\r\n")
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
        let first = chunks.sign(&[b'a'; 65_536]);
        assert_eq!(
            first,
            "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
        );
        assert_eq!(
            chunk_header(65_536, &first),
            format!("10000;chunk-signature={first}\r\n")
        );
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
