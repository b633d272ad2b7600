//! The chunked decoder never panics, keeps its ranges inside what it consumed, and gives
//! the same data and outcome whether the input comes in one piece or in two.
#![no_main]
use libfuzzer_sys::fuzz_target;
use s3push::http::body::ChunkedDecoder;

fn run(pieces: &[&[u8]]) -> (Vec<u8>, Result<bool, ()>) {
    let mut d = ChunkedDecoder::new();
    let (mut out, mut pending) = (Vec::new(), Vec::new());
    for piece in pieces {
        pending.extend_from_slice(piece);
        loop {
            match d.decode(&pending) {
                Err(_) => return (out, Err(())),
                Ok(step) => {
                    assert!(step.consumed <= pending.len());
                    assert!(step.data.start <= step.data.end && step.data.end <= step.consumed);
                    out.extend_from_slice(&pending[step.data.clone()]);
                    pending.drain(..step.consumed);
                    if step.consumed == 0 || d.is_done() {
                        break;
                    }
                }
            }
        }
    }
    (out, Ok(d.is_done()))
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, body)) = data.split_first() else { return };
    let at = usize::from(split) % (body.len() + 1);
    let whole = run(&[body]);
    let halves = run(&[&body[..at], &body[at..]]);
    assert_eq!(whole, halves);
});
