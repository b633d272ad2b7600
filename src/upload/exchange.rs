//! One request and its answer: sign at the attempt's time, send the head and the body
//! (plain, or aws-chunked with every chunk signed), read and judge the answer. Used by
//! the single PUT and by every multipart call; the body is read with positioned reads,
//! so parts of one file go out from several threads at once.

use super::check_response;
use super::request::{self, RequestSpec, SignedRequest};
use super::retry::Attempt;
use crate::checksum::{self, Algorithm, Hasher};
use crate::config::{Credentials, PayloadMode, SignatureVersion};
use crate::error::Error;
use crate::interrupt;
use crate::report::progress::{Meter, Sending};
use crate::report::trace;
use crate::sign::chunked::{self, ChunkSigner};
use crate::sign::v4;
use crate::transport::{self, Connection, Exchanged, Failure, Head, Names, Response, COPY_BUFFER};
use crate::upload::wire::Wire;
use md5::{Digest, Md5};
use rustls::ClientConfig;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Bodies above this size are sent after `Expect: 100-continue` (curl's threshold): a
/// refusal then costs no upload.
pub const EXPECT_MIN_BODY: u64 = 1024 * 1024;
/// How long to wait for `100 Continue` before sending the body anyway.
pub const EXPECT_WAIT: Duration = Duration::from_secs(1);

mod body;
mod send;
use body::changed_after_sending;
pub use body::{changed_during_upload, md5_of, read_exactly, sha256_of, stamp_of, stopped};
use send::{send_chunked, send_plain};

/// The flags the transport's hints name for s3push's own requests.
pub const FLAGS: Names = Names {
    endpoint: "--endpoint",
    timeout: "--timeout",
    connect_timeout: "--connect-timeout",
    ca_bundle: "--ca-bundle",
    path_style: "--path-style",
};

/// What identifies one state of a file: length and modification time.
pub type FileStamp = (u64, Option<SystemTime>);

/// A request body.
#[derive(Clone, Copy)]
pub enum Body<'a> {
    /// Bytes in memory: an XML document, or a part of standard input.
    Bytes(&'a [u8]),
    /// A range of a file.
    File(FileSpan<'a>),
}

/// `len` bytes of `file` from `offset`; with a stamp, the file is checked against it
/// before the last block goes out, so a file that changed never becomes a whole object.
#[derive(Clone, Copy)]
pub struct FileSpan<'a> {
    pub file: &'a File,
    pub offset: u64,
    pub len: u64,
    pub path: &'a Path,
    pub stamp: Option<FileStamp>,
}

impl Body<'_> {
    pub fn len(&self) -> u64 {
        match self {
            Body::Bytes(b) => b.len() as u64,
            Body::File(span) => span.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn path(&self) -> &Path {
        match self {
            Body::Bytes(_) => Path::new("standard input"),
            Body::File(span) => span.path,
        }
    }
}

/// One S3 call.
pub struct Call<'a> {
    pub method: &'static str,
    pub query: Vec<(String, String)>,
    /// Headers of this call (object headers, checksums...), names lowercase.
    pub headers: Vec<(String, String)>,
    pub body: Body<'a>,
    /// `x-amz-content-sha256`: a hex digest, `UNSIGNED-PAYLOAD`, or a streaming mode.
    pub payload_hash: &'a str,
    /// The checksum the store is to verify: sent as a header when its value is known
    /// (`checksum_value`), else computed while sending and sent as a trailer.
    pub checksum: Option<Algorithm>,
    pub checksum_value: Option<String>,
    /// Compute the MD5 of the body as it goes out (the ETag check).
    pub md5: bool,
    /// Set by a failed sibling part: stop sending.
    pub cancel: Option<&'a AtomicBool>,
    /// Where the body's bytes are counted for progress (the object's payload only).
    pub meter: Option<&'a Meter>,
    /// A request to the bucket (ListMultipartUploads), not to the plan's key.
    pub on_bucket: bool,
}

/// The store's answer and what was learnt of the body while sending it.
#[derive(Debug)]
pub struct Answer {
    pub response: Response,
    pub md5: Option<[u8; 16]>,
    /// The checksum sent (base64), the store's echo of it having been checked.
    pub checksum: Option<String>,
}

/// How a body's integrity is sent, decided before the first attempt: the payload hash,
/// and what a pass over the body had to learn first (only when one was needed anyway or
/// is cheap: a signed payload, Content-MD5, a body in memory, SigV2, a store that takes
/// no trailers).
#[derive(Debug, Clone, Default)]
pub struct Integrity {
    pub payload_hash: String,
    pub checksum_value: Option<String>,
    pub content_md5: Option<String>,
    /// The MD5 of the body, when the pass computed it (for Content-MD5).
    pub md5: Option<[u8; 16]>,
}

impl Integrity {
    /// The checksum goes as an aws-chunked trailer, computed while sending.
    pub fn trailer(&self, plan: &Wire) -> bool {
        plan.checksum.is_some() && self.checksum_value.is_none()
    }
}

/// The integrity of `body` under the plan: one pre-pass computes the SHA-256, checksum
/// and MD5 together when any of them must be known before sending.
pub fn prepare(plan: &Wire, body: Body<'_>) -> Result<Integrity, Error> {
    let v4 = plan.signature == SignatureVersion::V4;
    let sha = v4 && plan.payload == PayloadMode::Signed;
    let early_sum = plan.checksum.filter(|_| !uses_trailer(plan, body));
    let mut pre = Prepass::default();
    if sha || plan.content_md5 || early_sum.is_some() {
        pre = prepass(body, sha, early_sum, plan.content_md5)?;
    }
    let payload_hash = match (plan.signature, plan.payload) {
        (SignatureVersion::V2, _) => String::new(),
        (SignatureVersion::V4, PayloadMode::Signed) => pre.sha256.unwrap_or_default(),
        (SignatureVersion::V4, PayloadMode::Unsigned) => v4::UNSIGNED_PAYLOAD.to_string(),
        (SignatureVersion::V4, PayloadMode::Streaming) => chunked::STREAMING_PAYLOAD.to_string(),
    };
    Ok(Integrity {
        payload_hash,
        checksum_value: pre.checksum.map(|d| d.to_base64()),
        content_md5: pre.md5.map(|m| checksum::base64(&m)),
        md5: pre.md5,
    })
}

/// Whether `prepare` sends the plan's checksum for `body` as a trailer, computed while
/// sending: not where a pass over the body is made anyway (a signed payload, Content-MD5),
/// is cheap (a body in memory), or where trailers cannot go (SigV2, unsigned requests,
/// which never carry one: see config::resolve; a store that refused them), nor where the
/// object has a Content-Encoding of its own: stores keep `aws-chunked,gzip` as it came
/// (s3s-fs 0.14, Ceph RGW 16.2), and the object would then read back under the wrong
/// coding.
pub fn uses_trailer(plan: &Wire, body: Body<'_>) -> bool {
    let v4 = plan.signature == SignatureVersion::V4;
    plan.checksum.is_some()
        && v4
        && plan.payload != PayloadMode::Signed
        && !plan.content_md5
        && !matches!(body, Body::Bytes(_))
        && plan.signs()
        && plan.checksum_trailer
        && plan.object.content_encoding.is_none()
}

/// What one pass over a body learnt.
#[derive(Debug, Default)]
pub struct Prepass {
    pub sha256: Option<String>,
    pub checksum: Option<checksum::Digest>,
    pub md5: Option<[u8; 16]>,
}

/// Reads `body` once through one fixed buffer, computing what is asked.
pub fn prepass(
    body: Body<'_>,
    sha256: bool,
    sum: Option<Algorithm>,
    md5: bool,
) -> Result<Prepass, Error> {
    let mut sha = sha256.then(v4::PayloadHasher::new);
    let mut reader = BodyReader::new(body, md5, None);
    reader.sum = sum.map(Hasher::new);
    let mut buf = [0u8; COPY_BUFFER];
    let mut left = body.len();
    while left > 0 {
        let want = usize::try_from(left.min(COPY_BUFFER as u64)).unwrap_or(COPY_BUFFER);
        read_exactly(&mut reader, &mut buf[..want], body.path())?;
        if let Some(h) = &mut sha {
            h.update(&buf[..want]);
        }
        left -= want as u64;
    }
    Ok(Prepass {
        sha256: sha.map(v4::PayloadHasher::finish),
        checksum: reader.sum.as_ref().map(Hasher::finish),
        md5: reader.md5(),
    })
}

/// How the body goes on the wire.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Framing {
    Plain,
    /// aws-chunked, every chunk signed.
    Signed,
    /// aws-chunked, every chunk signed, then a signed checksum trailer.
    SignedTrailer(Algorithm),
    /// aws-chunked, plain chunks, then a checksum trailer.
    UnsignedTrailer(Algorithm),
}

impl Framing {
    /// Data bytes per aws-chunked chunk: a signed chunk is one buffer's worth (it is signed
    /// before it goes), a plain one UNSIGNED_CHUNK (its header needs only its length).
    fn chunk(self) -> usize {
        match self {
            Framing::UnsignedTrailer(_) => chunked::UNSIGNED_CHUNK,
            _ => COPY_BUFFER,
        }
    }
}

/// Where a connection lives between calls: a kept-alive connection is reused by the
/// next call of the same thread.
pub type Slot = Option<Connection>;

/// Sends `call` and judges the answer. A kept-alive connection that the store closed in
/// the meantime is replaced once, without counting as a failed attempt.
pub fn exchange(
    plan: &Wire,
    attempt: Attempt,
    call: &Call<'_>,
    tls: Option<&Arc<ClientConfig>>,
    slot: &mut Slot,
) -> Result<Answer, Error> {
    if plan.dry_run {
        return dry_run(plan, attempt, call);
    }
    let host = plan.host();
    // A connection kept for another host (a region the store redirected to) is dropped.
    if let Some(mut conn) = slot.take().filter(|c| c.is_to(&host, plan.endpoint.port)) {
        trace::event(format_args!("reusing the kept-alive connection"));
        match once(plan, attempt, call, &mut conn) {
            Ok(answer) => {
                if conn.reusable_after(&answer.response) {
                    *slot = Some(conn);
                }
                return Ok(answer);
            }
            // A stale connection: open a fresh one below.
            Err(Error::Network(e)) => {
                trace::event(format_args!(
                    "the kept-alive connection failed ({e}): opening a new one"
                ));
            }
            Err(e) => return Err(e),
        }
    }
    let mut conn = Connection::open_via(
        &host,
        plan.endpoint.port,
        tls,
        plan.proxy.for_host(&host, plan.endpoint.port),
        plan.timeouts.connect,
        plan.timeouts.io,
        &FLAGS,
    )?;
    let answer = once(plan, attempt, call, &mut conn)?;
    if conn.reusable_after(&answer.response) {
        *slot = Some(conn);
    }
    Ok(answer)
}

/// A request signed and ready, with how its body goes.
struct Prepared {
    signed: SignedRequest,
    framing: Framing,
    /// The checksum computed while sending, for a trailer.
    trailer: Option<Algorithm>,
    creds: Credentials,
    expect: bool,
}

/// Frames, addresses and signs `call` (fresh credentials, the attempt's time).
fn sign_call(plan: &Wire, attempt: Attempt, call: &Call<'_>) -> Result<Prepared, Error> {
    let size = call.body.len();
    let trailer = call.checksum.filter(|_| call.checksum_value.is_none());
    let (framing, payload_hash) = match (trailer, call.payload_hash) {
        (Some(a), chunked::STREAMING_PAYLOAD) => {
            (Framing::SignedTrailer(a), chunked::STREAMING_SIGNED_TRAILER)
        }
        (Some(a), v4::UNSIGNED_PAYLOAD) => (
            Framing::UnsignedTrailer(a),
            chunked::STREAMING_UNSIGNED_TRAILER,
        ),
        (Some(_), _) => {
            return Err(Error::Protocol(
                "internal: a checksum trailer needs an unsigned or streaming payload".into(),
            ))
        }
        (None, chunked::STREAMING_PAYLOAD) => (Framing::Signed, chunked::STREAMING_PAYLOAD),
        (None, hash) => (Framing::Plain, hash),
    };
    let mut headers = call.headers.clone();
    let mut content_length = size;
    if framing != Framing::Plain {
        // aws-chunked comes first; the object's own coding, if any, after it.
        match headers.iter_mut().find(|(n, _)| n == "content-encoding") {
            Some((_, v)) => *v = format!("aws-chunked,{v}"),
            None => headers.push(("content-encoding".into(), "aws-chunked".into())),
        }
        headers.push(("x-amz-decoded-content-length".into(), size.to_string()));
    }
    let chunk = framing.chunk() as u64;
    content_length = match framing {
        Framing::Plain => content_length,
        Framing::Signed => chunked::encoded_length(size, chunk),
        Framing::SignedTrailer(a) => {
            chunked::encoded_length_signed_trailer(size, chunk, a.header_name(), base64_len(a))
        }
        Framing::UnsignedTrailer(a) => {
            chunked::encoded_length_unsigned_trailer(size, chunk, a.header_name(), base64_len(a))
        }
    };
    if let Some(a) = call.checksum {
        // A presigned URL may not have signed it, and S3 refuses unsigned x-amz-* headers.
        if plan
            .url_target
            .as_ref()
            .is_none_or(|t| t.may_send("x-amz-sdk-checksum-algorithm"))
        {
            headers.push(("x-amz-sdk-checksum-algorithm".into(), a.api_name().into()));
        }
        match &call.checksum_value {
            Some(value) => headers.push((a.header_name().into(), value.clone())),
            None => headers.push(("x-amz-trailer".into(), a.header_name().into())),
        }
    }
    let spec = RequestSpec {
        method: call.method,
        query: call.query.clone(),
        headers,
        content_length,
        payload_hash,
        on_bucket: call.on_bucket,
    };
    // Asked at every request: temporary credentials are refreshed before they expire.
    let creds = plan.credentials.current()?;
    let mut signed = request::sign(plan, &creds, spec, attempt.time);
    let expect = attempt.expect && size > EXPECT_MIN_BODY;
    if expect {
        // Not signed: a proxy may consume it.
        signed
            .headers
            .push(("expect".into(), "100-continue".into()));
    }
    Ok(Prepared {
        signed,
        framing,
        trailer,
        creds,
        expect,
    })
}

/// `--dry-run`: the request `call` would be, on stdout with its secrets masked; nothing
/// is sent, and the run stops there (a multipart upload's next requests depend on the
/// answer to this one).
fn dry_run(plan: &Wire, attempt: Attempt, call: &Call<'_>) -> Result<Answer, Error> {
    let p = sign_call(plan, attempt, call)?;
    let mut head = Vec::with_capacity(1024);
    crate::http::request::write_request_head(
        p.signed.method,
        &p.signed.target,
        &p.signed.headers,
        &mut head,
    )
    .map_err(|e| {
        Error::Usage(format!(
            "a header cannot be sent ({e}): check the values given to s3push"
        ))
    })?;
    let masked = trace::masked_request_head(&String::from_utf8_lossy(&head));
    let shown: String = masked
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .map(|l| format!("{l}\n"))
        .collect();
    crate::report::print_stdout(&shown);
    Err(Error::DryRun(format!(
        "nothing was sent to {} ({} bytes of body would follow)",
        plan.endpoint.authority(&plan.host()),
        call.body.len()
    )))
}

fn once(
    plan: &Wire,
    attempt: Attempt,
    call: &Call<'_>,
    conn: &mut Connection,
) -> Result<Answer, Error> {
    let size = call.body.len();
    let Prepared {
        signed,
        framing,
        trailer,
        creds,
        expect,
    } = sign_call(plan, attempt, call)?;
    let mut reader = BodyReader::new(call.body, call.md5, call.cancel);
    reader.sum = trailer.map(Hasher::new);
    reader.sending = call.meter.map(Meter::attempt);
    let signer = || {
        ChunkSigner::new(
            creds.secret_access_key.expose(),
            &plan.region,
            "s3",
            attempt.time,
            &signed.signature,
        )
    };
    let (body, chunk) = (call.body, framing.chunk());
    let head = Head {
        method: signed.method,
        target: &signed.target,
        headers: &signed.headers,
        traced: true,
        expect: expect.then_some(EXPECT_WAIT),
    };
    let exchanged = transport::exchange(conn, &head, |conn| {
        match framing {
            Framing::Plain => send_plain(conn, &mut reader, body),
            Framing::Signed => send_chunked(conn, &mut reader, body, chunk, Some(signer()), None),
            Framing::SignedTrailer(a) => {
                send_chunked(conn, &mut reader, body, chunk, Some(signer()), Some(a))
            }
            Framing::UnsignedTrailer(a) => {
                send_chunked(conn, &mut reader, body, chunk, None, Some(a))
            }
        }
        .map(|()| size)
    });
    let response = match exchanged {
        // Bytes that went with sendfile are read from the file's pages until the store
        // has them: a file written after its last check may have sent new bytes. Once
        // the answer is here nothing more can change; the stamp tells whether anything
        // did (a checksum or ETag check would also fail, but would blame the network).
        Ok(Exchanged::Answered(response)) if reader.sendfile && send::stamp_changed(call.body)? => {
            return Err(if (200..300).contains(&response.head.status) {
                changed_after_sending(call.body.path())
            } else {
                changed_during_upload(call.body.path())
            });
        }
        Ok(Exchanged::Answered(response)) => response,
        Ok(Exchanged::BeforeBody(response)) => {
            check_response(&response, plan)?;
            return Err(Error::Protocol(format!(
                "the store answered {} before receiving the body: nothing was stored",
                response.head.status_line()
            )));
        }
        Err(Failure::Head(e)) => {
            return Err(Error::Usage(format!(
                "a header cannot be sent ({e}): check the values given to s3push"
            )))
        }
        Err(Failure::Io { error, answer }) => {
            if let Some(response) = answer {
                check_response(&response, plan)?;
            }
            return Err(error);
        }
    };
    check_response(&response, plan)?;
    let sent_sum = call
        .checksum_value
        .clone()
        .or_else(|| reader.sum.as_ref().map(|h| h.finish().to_base64()));
    if let (Some(a), Some(ours)) = (call.checksum, &sent_sum) {
        if let Some(theirs) = response.head.header(a.header_name()) {
            if theirs.trim() != ours {
                return Err(Error::Integrity(format!(
                    "the store computed {} {theirs} for what it received, not the {ours} that was sent: \
                     the bytes were damaged on the way",
                    a.api_name()
                )));
            }
        }
    }
    if let Some(sending) = &mut reader.sending {
        sending.confirm();
    }
    Ok(Answer {
        response,
        md5: reader.md5(),
        checksum: sent_sum,
    })
}

/// A call whose body, if any, is a small document in memory (an XML list, nothing):
/// signed with its SHA-256, no checksum, retried as the plan allows; the corrections the
/// store asked for (region, clock) stay in `wire`.
pub fn small_call_adjusting(
    wire: &mut Wire,
    tls: Option<&Arc<ClientConfig>>,
    method: &'static str,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: &[u8],
) -> Result<Answer, Error> {
    document_call(wire, tls, method, query, headers, body, false)
}

/// As `small_call_adjusting`, leaving the wire as it is.
pub fn small_call(
    wire: &Wire,
    tls: Option<&Arc<ClientConfig>>,
    method: &'static str,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: &[u8],
) -> Result<Answer, Error> {
    document_call(&mut wire.clone(), tls, method, query, headers, body, false)
}

/// A bodiless call to the plan's bucket rather than its key (ListMultipartUploads).
pub fn bucket_call(
    wire: &Wire,
    tls: Option<&Arc<ClientConfig>>,
    method: &'static str,
    query: Vec<(String, String)>,
) -> Result<Answer, Error> {
    document_call(&mut wire.clone(), tls, method, query, Vec::new(), &[], true)
}

fn document_call(
    wire: &mut Wire,
    tls: Option<&Arc<ClientConfig>>,
    method: &'static str,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: &[u8],
    on_bucket: bool,
) -> Result<Answer, Error> {
    let hash = match wire.signature {
        SignatureVersion::V4 => v4::hex_sha256(body),
        SignatureVersion::V2 => String::new(),
    };
    let call = Call {
        method,
        query,
        headers,
        body: Body::Bytes(body),
        payload_hash: &hash,
        checksum: None,
        checksum_value: None,
        md5: false,
        cancel: None,
        meter: None,
        on_bucket,
    };
    let mut slot: Slot = None;
    super::retry::run_adjusting(wire, |wire, attempt| {
        exchange(wire, attempt, &call, tls, &mut slot)
    })
}

/// Characters of the base64 of an algorithm's digest.
fn base64_len(a: Algorithm) -> usize {
    a.digest_len().div_ceil(3) * 4
}

/// Reads a body: positioned reads for a file span (no shared cursor), with the MD5 of
/// what passed and a stop check before each block.
pub struct BodyReader<'a> {
    body: Body<'a>,
    pos: u64,
    end: u64,
    md5: Option<Md5>,
    /// A checksum computed as the bytes pass (sent as a trailer).
    sum: Option<Hasher>,
    cancel: Option<&'a AtomicBool>,
    /// Progress: the bytes read, taken back if the attempt fails.
    sending: Option<Sending<'a>>,
    /// Some of the body went with sendfile: until the store has read them, the bytes in
    /// flight are the file's pages, not a copy (see `once`).
    sendfile: bool,
}

impl<'a> BodyReader<'a> {
    pub fn new(body: Body<'a>, md5: bool, cancel: Option<&'a AtomicBool>) -> BodyReader<'a> {
        BodyReader {
            body,
            pos: 0,
            end: body.len(),
            md5: md5.then(Md5::new),
            sum: None,
            cancel,
            sending: None,
            sendfile: false,
        }
    }

    /// The MD5 of what was read, when asked for.
    pub fn md5(self) -> Option<[u8; 16]> {
        self.md5.map(|h| h.finalize().into())
    }
}

impl Read for BodyReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = usize::try_from(self.end - self.pos)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        if want == 0 {
            return Ok(0);
        }
        if interrupt::should_stop(self.cancel) {
            return Err(interrupt::stopped_error());
        }
        if self.sending.is_some() {
            // Only bytes on their way are capped: not a pass that hashes the body.
            super::rate::take(want, self.cancel)?;
        }
        let n = match self.body {
            Body::Bytes(bytes) => {
                let from = usize::try_from(self.pos).unwrap_or(usize::MAX);
                let src = bytes.get(from..from + want).unwrap_or_default();
                buf[..src.len()].copy_from_slice(src);
                src.len()
            }
            Body::File(span) => span
                .file
                .read_at(&mut buf[..want], span.offset + self.pos)?,
        };
        if let Some(h) = &mut self.md5 {
            h.update(&buf[..n]);
        }
        if let Some(h) = &mut self.sum {
            h.update(&buf[..n]);
        }
        if let Some(s) = &mut self.sending {
            s.add(n as u64);
        }
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_span_is_read_by_position_and_hashed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let file = File::open(&path).unwrap();
        let span = |offset, len| {
            Body::File(FileSpan {
                file: &file,
                offset,
                len,
                path: &path,
                stamp: None,
            })
        };
        let md5 = md5_of(span(30_000, 50_000), None).unwrap();
        let expected: [u8; 16] = Md5::digest(&data[30_000..80_000]).into();
        assert_eq!(md5, expected);
        assert_eq!(
            md5_of(Body::Bytes(&data[30_000..80_000]), None).unwrap(),
            expected
        );
        assert_eq!(
            sha256_of(span(0, 100_000)).unwrap(),
            crate::sign::v4::hex_sha256(&data)
        );
        // Past the end of the file: the file is shorter than it was said to be.
        assert_eq!(
            md5_of(span(90_000, 20_000), None).unwrap_err().exit_code(),
            3
        );
        let stop = AtomicBool::new(true);
        assert_eq!(
            md5_of(span(0, 10), Some(&stop)).unwrap_err().exit_code(),
            130
        );
    }
}
