//! aws-chunked round trip: any data, cut into chunks of any size, framed by s3push's
//! encoder in each variant (signed chunks; signed chunks with a signed checksum trailer;
//! plain chunks, sent in several pieces, with a checksum trailer) decodes back to the same
//! bytes with the HTTP chunked decoder, ends with the trailer, and is exactly as long as
//! the Content-Length s3push announces for it. Arbitrary bytes fed to the decoder never
//! panic it.
#![no_main]
use libfuzzer_sys::fuzz_target;
use s3push::checksum::{Algorithm, Hasher};
use s3push::http::body::ChunkedDecoder;
use s3push::sign::chunked::{self, ChunkSigner};
use s3push::sign::time::Timestamp;

fuzz_target!(|input: &[u8]| {
    // The decoder alone, on whatever came in.
    let mut decoder = ChunkedDecoder::new();
    let mut rest = input;
    while let Ok(step) = decoder.decode(rest) {
        if step.consumed == 0 || decoder.is_done() {
            break;
        }
        rest = &rest[step.consumed..];
    }

    // The round trip: the first bytes choose the variant, the checksum and the chunk size.
    let [variant, alg, size_hi, size_lo, data @ ..] = input else { return };
    let chunk = usize::from(u16::from_be_bytes([*size_hi, *size_lo])).max(1);
    let algorithm = Algorithm::ALL[usize::from(*alg) % Algorithm::ALL.len()];
    let (signed, with_trailer) = match variant % 3 {
        0 => (true, false),
        1 => (true, true),
        _ => (false, true),
    };
    let mut signer =
        signed.then(|| ChunkSigner::new("secret", "us-east-1", "s3", Timestamp::from_unix(0), &"0".repeat(64)));
    let mut sum = Hasher::new(algorithm);
    let mut wire = Vec::new();
    // Signed chunks are one piece each; plain ones come in 1, 2, 4 or 8 pieces, as the
    // 8 KiB buffer cuts s3push's 1 MiB chunks.
    let piece = if signed { chunk } else { (chunk >> (variant / 3 % 4)).max(1) };
    let mut frame = vec![0u8; chunked::HEAD_ROOM + piece + 2];
    let mut at = 0;
    for p in chunked::pieces(data.len() as u64, chunk, piece) {
        let bytes = &data[at..at + p.len];
        at += p.len;
        sum.update(bytes);
        frame[chunked::HEAD_ROOM..][..p.len].copy_from_slice(bytes);
        let header = p.starts_chunk.map(|n| (n, signer.as_mut()));
        let framed = chunked::frame_in_place(&mut frame, p.len, header, p.ends_chunk).expect("frame fits");
        wire.extend_from_slice(&frame[framed]);
        assert_eq!(p.last, at == data.len());
    }
    assert_eq!(at, data.len(), "the pieces cover the data");
    let value = sum.finish().to_base64();
    let trailer = with_trailer.then_some((algorithm.header_name(), value.as_str()));
    let end = chunked::body_end(signer.as_mut(), trailer).expect("an aws-chunked end");
    wire.extend_from_slice(end.as_bytes());

    let announced = match (signed, with_trailer) {
        (true, false) => chunked::encoded_length(data.len() as u64, chunk as u64),
        (true, true) => chunked::encoded_length_signed_trailer(
            data.len() as u64,
            chunk as u64,
            algorithm.header_name(),
            value.len(),
        ),
        _ => chunked::encoded_length_unsigned_trailer(
            data.len() as u64,
            chunk as u64,
            algorithm.header_name(),
            value.len(),
        ),
    };
    assert_eq!(announced, wire.len() as u64, "Content-Length disagrees with the body");

    let mut decoder = ChunkedDecoder::new();
    let mut decoded = Vec::new();
    let mut at = 0;
    while !decoder.is_done() {
        let step = decoder.decode(&wire[at..]).expect("s3push's own framing decodes");
        decoded.extend_from_slice(&wire[at..][step.data.clone()]);
        assert!(step.consumed > 0, "the decoder is stuck");
        at += step.consumed;
    }
    assert_eq!(at, wire.len(), "bytes left after the body");
    assert_eq!(decoded, data);
    if let Some((header, value)) = trailer {
        let text = String::from_utf8_lossy(&wire);
        assert!(text.contains(&format!("\r\n{header}:{value}\r\n")));
    }
});
