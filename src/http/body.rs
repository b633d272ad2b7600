//! Response body framing (RFC 9112 section 6.3) and the chunked transfer coding decoder
//! (section 7.1), as a byte-at-a-time state machine: any split of the input gives the
//! same data, and its state is a few integers whatever the body's size.

use super::response::ResponseHead;
use std::fmt;
use std::ops::Range;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    Empty,
    Length(u64),
    Chunked,
    UntilClose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramingError {
    ConflictingLength,
    BadLength,
    UnsupportedTransferEncoding,
}

impl fmt::Display for FramingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FramingError::ConflictingLength => "Content-Length values disagree",
            FramingError::BadLength => "Content-Length is not a number",
            FramingError::UnsupportedTransferEncoding => "a Transfer-Encoding other than chunked",
        })
    }
}

impl BodyFraming {
    pub fn for_response(
        request_method: &str,
        head: &ResponseHead,
    ) -> Result<BodyFraming, FramingError> {
        if request_method.eq_ignore_ascii_case("HEAD")
            || (100..200).contains(&head.status)
            || head.status == 204
            || head.status == 304
        {
            return Ok(BodyFraming::Empty);
        }
        let codings: Vec<&str> = head
            .headers_named("transfer-encoding")
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        if let Some(last) = codings.last() {
            return if last.eq_ignore_ascii_case("chunked") && codings.len() == 1 {
                Ok(BodyFraming::Chunked)
            } else {
                Err(FramingError::UnsupportedTransferEncoding)
            };
        }
        let mut length = None;
        for value in head
            .headers_named("content-length")
            .flat_map(|v| v.split(','))
        {
            let value = value.trim();
            if value.is_empty() || value.len() > 19 || !value.bytes().all(|b| b.is_ascii_digit()) {
                return Err(FramingError::BadLength);
            }
            let n: u64 = value.parse().map_err(|_| FramingError::BadLength)?;
            if length.is_some_and(|l| l != n) {
                return Err(FramingError::ConflictingLength);
            }
            length = Some(n);
        }
        Ok(length.map_or(BodyFraming::UntilClose, BodyFraming::Length))
    }
}

/// One step of the decoder: `consumed` bytes of the input were used, and `data` (a range
/// of the input inside `0..consumed`) is body data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub consumed: usize,
    pub data: Range<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkedError {
    BadChunkSize,
    ChunkSizeTooLarge,
    LineTooLong,
    BadLineEnd,
    TrailerTooLarge,
}

impl fmt::Display for ChunkedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChunkedError::BadChunkSize => "bad chunk size",
            ChunkedError::ChunkSizeTooLarge => "chunk size over 16 hex digits",
            ChunkedError::LineTooLong => "chunk extension too long",
            ChunkedError::BadLineEnd => "missing CRLF",
            ChunkedError::TrailerTooLarge => "trailer section too large",
        })
    }
}

const MAX_EXTENSION: usize = 4096;
const MAX_TRAILERS: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Size { value: u64, digits: u8 },
    Extension { len: usize },
    SizeLf { value: u64 },
    Data { remaining: u64 },
    DataCr,
    DataLf,
    Trailer { line: usize, total: usize },
    TrailerLf { empty: bool, total: usize },
    Done,
}

#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    /// The size of the chunk whose line is being read (kept across the extension).
    pending_size: u64,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        ChunkedDecoder::new()
    }
}

impl ChunkedDecoder {
    pub fn new() -> Self {
        ChunkedDecoder {
            state: State::Size {
                value: 0,
                digits: 0,
            },
            pending_size: 0,
        }
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Consumes from `input` up to the end of the next run of body data (returned as a
    /// range of `input`), the end of the body, or the end of `input`.
    pub fn decode(&mut self, input: &[u8]) -> Result<Decoded, ChunkedError> {
        let mut i = 0;
        while i < input.len() {
            if let State::Data { remaining } = self.state {
                let n = remaining.min((input.len() - i) as u64) as usize;
                self.state = if remaining == n as u64 {
                    State::DataCr
                } else {
                    State::Data {
                        remaining: remaining - n as u64,
                    }
                };
                return Ok(Decoded {
                    consumed: i + n,
                    data: i..i + n,
                });
            }
            if self.state == State::Done {
                break;
            }
            self.state = self.step(input[i])?;
            i += 1;
        }
        Ok(Decoded {
            consumed: i,
            data: 0..0,
        })
    }

    fn step(&mut self, b: u8) -> Result<State, ChunkedError> {
        Ok(match self.state {
            State::Size { value, digits } => match (hex_value(b), b) {
                (Some(d), _) => {
                    if digits == 16 {
                        return Err(ChunkedError::ChunkSizeTooLarge);
                    }
                    State::Size {
                        value: value << 4 | u64::from(d),
                        digits: digits + 1,
                    }
                }
                (None, b';' | b' ' | b'\t') if digits > 0 => {
                    self.pending_size = value;
                    State::Extension { len: 0 }
                }
                (None, b'\r') if digits > 0 => State::SizeLf { value },
                _ => return Err(ChunkedError::BadChunkSize),
            },
            State::Extension { len } => match b {
                b'\r' => State::SizeLf {
                    value: self.pending_size,
                },
                b'\n' => return Err(ChunkedError::BadLineEnd),
                _ if len >= MAX_EXTENSION => return Err(ChunkedError::LineTooLong),
                _ => State::Extension { len: len + 1 },
            },
            State::SizeLf { value } => match (b, value) {
                (b'\n', 0) => State::Trailer { line: 0, total: 0 },
                (b'\n', remaining) => State::Data { remaining },
                _ => return Err(ChunkedError::BadLineEnd),
            },
            State::DataCr if b == b'\r' => State::DataLf,
            State::DataLf if b == b'\n' => State::Size {
                value: 0,
                digits: 0,
            },
            State::DataCr | State::DataLf => return Err(ChunkedError::BadLineEnd),
            State::Trailer { line, total } => match b {
                b'\r' => State::TrailerLf {
                    empty: line == 0,
                    total,
                },
                b'\n' => return Err(ChunkedError::BadLineEnd),
                _ if total >= MAX_TRAILERS => return Err(ChunkedError::TrailerTooLarge),
                _ => State::Trailer {
                    line: line + 1,
                    total: total + 1,
                },
            },
            State::TrailerLf { empty, total } => match (b, empty) {
                (b'\n', true) => State::Done,
                (b'\n', false) => State::Trailer { line: 0, total },
                _ => return Err(ChunkedError::BadLineEnd),
            },
            // Data and Done are handled by the caller before a byte reaches here.
            State::Data { .. } | State::Done => self.state,
        })
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::response::Status;

    /// Feeds `input` in pieces of at most `piece` bytes (whatever the decoder leaves is
    /// offered again with the next bytes, as the transport does).
    fn decode_in_pieces(input: &[u8], piece: usize) -> Result<(Vec<u8>, usize), ChunkedError> {
        let mut d = ChunkedDecoder::new();
        let (mut out, mut pos, mut pending) = (Vec::new(), 0, Vec::new());
        while !d.is_done() {
            if pos < input.len() {
                let end = (pos + piece).min(input.len());
                pending.extend_from_slice(&input[pos..end]);
                pos = end;
            }
            let step = d.decode(&pending)?;
            out.extend_from_slice(&pending[step.data.clone()]);
            pending.drain(..step.consumed);
            if step.consumed == 0 && pos == input.len() && !d.is_done() {
                break;
            }
        }
        assert!(d.is_done(), "not done");
        Ok((out, input.len() - pending.len()))
    }

    #[test]
    fn every_split_gives_the_same_data() {
        let bodies: [(&[u8], &[u8]); 4] = [
            (b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", b"hello world"),
            (
                b"A;name=value;x\r\n0123456789\r\n0\r\nTrailer: t\r\nOther: u\r\n\r\n",
                b"0123456789",
            ),
            (b"0\r\n\r\n", b""),
            (
                b"1f \r\nabcdefghijklmnopqrstuvwxyz01234\r\n0\r\n\r\n",
                b"abcdefghijklmnopqrstuvwxyz01234",
            ),
        ];
        for (body, expected) in bodies {
            for piece in 1..=body.len() {
                let (data, used) = decode_in_pieces(body, piece).unwrap();
                assert_eq!(data, expected, "piece {piece}");
                assert_eq!(used, body.len());
            }
        }
    }

    #[test]
    fn stops_at_the_end_of_the_body() {
        let mut d = ChunkedDecoder::new();
        let input = b"0\r\n\r\nHTTP/1.1 200 OK";
        let step = d.decode(input).unwrap();
        assert_eq!(step.consumed, 5);
        assert!(d.is_done());
        assert_eq!(d.decode(&input[5..]).unwrap().consumed, 0);
    }

    #[test]
    fn refuses_bad_framing() {
        let cases: [(&[u8], ChunkedError); 6] = [
            (b"x\r\n", ChunkedError::BadChunkSize),
            (b"\r\n", ChunkedError::BadChunkSize),
            (b"11111111111111111\r\n", ChunkedError::ChunkSizeTooLarge),
            (b"3\r\nabcX", ChunkedError::BadLineEnd),
            (b"3\nabc", ChunkedError::BadChunkSize),
            (b"0\r\nT: v\n", ChunkedError::BadLineEnd),
        ];
        for (input, expected) in cases {
            let mut d = ChunkedDecoder::new();
            let mut rest: &[u8] = input;
            let err = loop {
                match d.decode(rest) {
                    Err(e) => break e,
                    Ok(step) if step.consumed == 0 => panic!("no error for {input:?}"),
                    Ok(step) => rest = &rest[step.consumed..],
                }
            };
            assert_eq!(err, expected, "{:?}", String::from_utf8_lossy(input));
        }
        let mut d = ChunkedDecoder::new();
        let mut long = b"1;".to_vec();
        long.resize(MAX_EXTENSION + 10, b'a');
        assert_eq!(d.decode(&long), Err(ChunkedError::LineTooLong));
    }

    fn head(raw: &[u8]) -> ResponseHead {
        match ResponseHead::parse(raw).unwrap() {
            Status::Complete(_, h) => h,
            Status::Partial => panic!("partial"),
        }
    }

    #[test]
    fn framing_rules() {
        let f = |m: &str, raw: &[u8]| BodyFraming::for_response(m, &head(raw));
        assert_eq!(
            f("PUT", b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n"),
            Ok(BodyFraming::Length(12))
        );
        assert_eq!(
            f("HEAD", b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n"),
            Ok(BodyFraming::Empty)
        );
        assert_eq!(
            f("PUT", b"HTTP/1.1 204 No Content\r\n\r\n"),
            Ok(BodyFraming::Empty)
        );
        assert_eq!(
            f("PUT", b"HTTP/1.1 100 Continue\r\n\r\n"),
            Ok(BodyFraming::Empty)
        );
        assert_eq!(
            f(
                "PUT",
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
            ),
            Ok(BodyFraming::Chunked)
        );
        assert_eq!(
            f("PUT", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"),
            Err(FramingError::UnsupportedTransferEncoding)
        );
        assert_eq!(
            f(
                "PUT",
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5, 5\r\n\r\n"
            ),
            Ok(BodyFraming::Length(5))
        );
        assert_eq!(
            f(
                "PUT",
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"
            ),
            Err(FramingError::ConflictingLength)
        );
        assert_eq!(
            f("PUT", b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"),
            Err(FramingError::BadLength)
        );
        assert_eq!(
            f("PUT", b"HTTP/1.1 200 OK\r\n\r\n"),
            Ok(BodyFraming::UntilClose)
        );
    }
}
