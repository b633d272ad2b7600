//! What "confirmed" means and how s3push adapts to what a store takes, against scripted
//! stores that behave as real ones were seen to (doc/stores.md): a store that answers
//! 200 having read nothing, RGW 16.2 (no trailer payloads, no checksums, an empty ETag
//! after CompleteMultipartUpload), Garage (conditions ignored on PUT).
//!
//! Each test runs the real binary against a scripted loopback server (tests/common).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::stage::describe;
use common::{
    answer, etag, initiated, multipart_etag, push, request_lines, s3_error, s3_error_with, source,
    text, ScriptedServer, Step, DEST,
};
use Step::{ContinueIfExpected, ReadBody, ReadHead, Reply, Stored};

const MIB: u64 = 1024 * 1024;

fn head_answer(len: u64, etag: &str) -> Vec<u8> {
    // A HEAD answer: the object's length, and no body.
    format!("HTTP/1.1 200 OK\r\nETag: {etag}\r\nContent-Length: {len}\r\n\r\n").into_bytes()
}

const EMPTY_MD5: &str = "\"d41d8cd98f00b204e9800998ecf8427e\"";

/// Issue 15.1: a store answers 200 with the empty body's ETag having read nothing of the
/// body, and echoes no checksum. With the default flags (CRC32) that was taken as
/// agreement (exit 0); a HEAD now shows the object is not what was sent (exit 9).
#[test]
fn a_200_for_bytes_never_read_is_not_a_success() {
    let src = source(MIB);
    let server = ScriptedServer::start(vec![
        vec![
            ReadHead,
            Reply(answer("HTTP/1.1 200 OK", &[("ETag", EMPTY_MD5)], "")),
        ],
        vec![ReadHead, Reply(head_answer(0, EMPTY_MD5))],
    ]);
    let out = push(&server.endpoint(), &src, &[]);
    assert_eq!(out.status.code(), Some(9), "{}", describe(&out));
    let err = text(&out.stderr);
    assert!(err.contains("holds 0 bytes"), "{err}");
    assert!(out.stdout.is_empty(), "{}", describe(&out));
    let lines = request_lines(&server.seen());
    assert!(lines[1].starts_with("HEAD /bucket/key.bin "), "{lines:?}");
    assert_eq!(
        server.seen()[1].header("x-amz-checksum-mode").as_deref(),
        Some("ENABLED")
    );
}

/// The same store, where the HEAD is refused (a key that may only write): the ETag is an
/// MD5, and the MD5 of the file, computed by a pass, is another: exit 9.
#[test]
fn a_200_for_bytes_never_read_is_caught_by_the_md5_when_the_head_is_refused() {
    let src = source(MIB);
    let server = ScriptedServer::start(vec![
        vec![
            ReadHead,
            Reply(answer("HTTP/1.1 200 OK", &[("ETag", EMPTY_MD5)], "")),
        ],
        vec![
            ReadHead,
            Reply(s3_error("403 Forbidden", "AccessDenied", "")),
        ],
    ]);
    let out = push(&server.endpoint(), &src, &["--retries", "0"]);
    assert_eq!(out.status.code(), Some(9), "{}", describe(&out));
    assert!(
        text(&out.stderr).contains("is not the MD5 of the bytes sent"),
        "{}",
        describe(&out)
    );
}

/// A store that echoes nothing and whose ETag is no MD5 (as for SSE-KMS): nothing
/// confirms the bytes, and s3push says so (exit 9), never exit 0.
#[test]
fn nothing_to_confirm_is_said_not_taken_for_success() {
    let src = source(5000);
    let opaque = "\"0123456789abcdef0123456789abcdef\"";
    let kms = [
        ("ETag", opaque),
        ("x-amz-server-side-encryption", "aws:kms"),
    ];
    let server = ScriptedServer::start(vec![
        vec![
            ReadHead,
            ReadBody,
            Reply(answer("HTTP/1.1 200 OK", &kms, "")),
        ],
        vec![
            ReadHead,
            Reply(
                format!(
                    "HTTP/1.1 200 OK\r\nETag: {opaque}\r\nx-amz-server-side-encryption: aws:kms\r\n\
                     Content-Length: 5000\r\n\r\n"
                )
                .into_bytes(),
            ),
        ],
    ]);
    let out = push(&server.endpoint(), &src, &[]);
    assert_eq!(out.status.code(), Some(9), "{}", describe(&out));
    assert!(
        text(&out.stderr).contains("nothing confirms the bytes"),
        "{}",
        describe(&out)
    );
}

/// SSE-KMS: the ETag is 32 hex digits and no MD5 of the data. With the ETag check on
/// (`--checksum none`), the answer's `x-amz-server-side-encryption: aws:kms` sets the
/// ETag aside (before: a false exit 9); the Content-MD5 the store took confirms it.
#[test]
fn an_sse_kms_etag_is_not_taken_for_an_md5() {
    let src = source(5000);
    let server = ScriptedServer::start(vec![vec![
        ReadHead,
        ReadBody,
        Reply(answer(
            "HTTP/1.1 200 OK",
            &[
                ("ETag", "\"0123456789abcdef0123456789abcdef\""),
                ("x-amz-server-side-encryption", "aws:kms"),
            ],
            "",
        )),
    ]]);
    // --content-md5: the store checked the bytes; the ETag (not an MD5 here) is not.
    let out = push(
        &server.endpoint(),
        &src,
        &["--checksum", "none", "--content-md5"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

/// RGW 16.2 over https: the trailer payloads are unknown to it (`400
/// XAmzContentSHA256Mismatch`). s3push sends the checksum as a header instead, says so,
/// and, as RGW keeps no checksum either, confirms the object by its MD5 ETag (HEAD).
/// Before: exit 7 on every upload with the default flags.
#[test]
fn a_refused_trailer_is_sent_again_as_a_header_and_confirmed_by_the_etag() {
    let src = source(2 * MIB);
    let bytes = std::fs::read(&src.file).unwrap();
    let server = ScriptedServer::start(vec![
        vec![
            ReadHead,
            Reply(s3_error("400 Bad Request", "XAmzContentSHA256Mismatch", "")),
        ],
        vec![
            ReadHead,
            ContinueIfExpected,
            ReadBody,
            Reply(answer("HTTP/1.1 200 OK", &[("ETag", &etag(&bytes))], "")),
        ],
        vec![ReadHead, Reply(head_answer(2 * MIB, &etag(&bytes)))],
    ]);
    // --payload unsigned: what the default is over https (this server speaks http).
    let out = push(&server.endpoint(), &src, &["--payload", "unsigned"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let err = text(&out.stderr);
    assert!(err.contains("refused a checksum trailer"), "{err}");
    assert!(err.contains("keeps no checksums"), "{err}");
    let seen = server.seen();
    assert_eq!(
        seen[0].header("x-amz-content-sha256").as_deref(),
        Some("STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    );
    assert_eq!(
        seen[1].header("x-amz-content-sha256").as_deref(),
        Some("UNSIGNED-PAYLOAD")
    );
    assert!(seen[1].header("x-amz-checksum-crc32").is_some());
    assert!(seen[1].header("content-encoding").is_none());
    assert!(seen[1].body_complete);
    assert!(request_lines(&seen)[2].starts_with("HEAD /bucket/key.bin "));
}

/// A checksum the user named is kept: a store that refuses its header gets no
/// Content-MD5 in its place, and the refusal stands (with what to pass instead).
#[test]
fn a_named_checksum_is_kept_and_its_refusal_stands() {
    let src = source(5000);
    let refusal = s3_error_with(
        "400 Bad Request",
        &[],
        "InvalidArgument",
        "<ArgumentName>x-amz-checksum-sha256</ArgumentName>",
    );
    let server = ScriptedServer::start(vec![vec![ReadHead, ReadBody, Reply(refusal)]]);
    let out = push(&server.endpoint(), &src, &["--checksum", "sha256"]);
    assert_eq!(out.status.code(), Some(7), "{}", describe(&out));
    assert_eq!(
        server.seen().len(),
        1,
        "{:?}",
        request_lines(&server.seen())
    );
}

/// RGW answers CompleteMultipartUpload `200` with `<ETag></ETag>` at times, the object
/// intact: a HEAD confirms it (length, `-N` ETag). Before: exit 8, "it may not support
/// multipart uploads", for an object that reads back byte for byte.
#[test]
fn an_empty_etag_after_complete_is_confirmed_by_a_head() {
    let len = 5 * MIB + 1;
    let src = source(len);
    let bytes = std::fs::read(&src.file).unwrap();
    let (p1, p2) = bytes.split_at(5 * MIB as usize);
    let xml = |body: &str| {
        answer(
            "HTTP/1.1 200 OK",
            &[("Content-Type", "application/xml")],
            body,
        )
    };
    let part = |e: String| {
        vec![
            ReadHead,
            ContinueIfExpected,
            ReadBody,
            Reply(answer("HTTP/1.1 200 OK", &[("ETag", &e)], "")),
        ]
    };
    let mut parts = part(etag(p1));
    parts.extend(part(etag(p2)));
    let server = ScriptedServer::start(vec![
        vec![ReadHead, ReadBody, Reply(initiated("UPLOAD-1"))],
        parts,
        vec![
            ReadHead,
            ReadBody,
            Reply(xml(
                "<CompleteMultipartUploadResult><Bucket>bucket</Bucket><Key>key.bin</Key>\
                 <ETag></ETag></CompleteMultipartUploadResult>",
            )),
        ],
        vec![
            ReadHead,
            Reply(head_answer(len, &multipart_etag(&[p1, p2]))),
        ],
    ]);
    let flags = [
        "--multipart-threshold",
        "5M",
        "--part-size",
        "5M",
        "--jobs",
        "1",
        "--retries",
        "0",
    ];
    let out = push(&server.endpoint(), &src, &flags);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(text(&out.stdout).starts_with(&format!("uploaded {DEST} ")));
    let lines = request_lines(&server.seen());
    assert!(
        lines[3].starts_with("POST /bucket/key.bin?uploadId=UPLOAD-1"),
        "{lines:?}"
    );
    assert!(lines[4].starts_with("HEAD /bucket/key.bin "), "{lines:?}");
    assert_eq!(lines.len(), 5, "{lines:?}");
}

/// Garage ignores If-None-Match on PUT: `--no-clobber` looks (HEAD) before it writes, so
/// an existing key is never overwritten (exit 11, nothing sent). Before: the PUT went
/// out, and Garage overwrote the object.
#[test]
fn no_clobber_looks_before_a_single_put() {
    let src = source(5000);
    let server = ScriptedServer::start(vec![vec![
        ReadHead,
        Reply(head_answer(7, "\"0123456789abcdef0123456789abcdef\"")),
    ]]);
    let out = push(&server.endpoint(), &src, &["--no-clobber"]);
    assert_eq!(out.status.code(), Some(11), "{}", describe(&out));
    let lines = request_lines(&server.seen());
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("HEAD "), "{lines:?}");

    // An absent key: the PUT goes, its condition still sent.
    let server = ScriptedServer::start(vec![
        vec![ReadHead, Reply(answer("HTTP/1.1 404 Not Found", &[], ""))],
        vec![ReadHead, ContinueIfExpected, ReadBody, Stored],
    ]);
    let out = push(&server.endpoint(), &src, &["--no-clobber"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let seen = server.seen();
    assert_eq!(seen[1].header("if-none-match").as_deref(), Some("*"));
}

/// A key that may only write: the look is refused, the PUT goes with its condition, and
/// a note says the store's check is then the only guard.
#[test]
fn no_clobber_says_when_it_could_not_look() {
    let src = source(5000);
    let server = ScriptedServer::start(vec![
        vec![
            ReadHead,
            Reply(s3_error("403 Forbidden", "AccessDenied", "")),
        ],
        vec![ReadHead, ContinueIfExpected, ReadBody, Stored],
    ]);
    let out = push(
        &server.endpoint(),
        &src,
        &["--no-clobber", "--retries", "0"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        text(&out.stderr).contains("the store's own check of --no-clobber is then the only guard"),
        "{}",
        describe(&out)
    );
}

/// Ceph RGW 16.2 refuses `If-Match: "ETAG"` (quoted, as S3 documents it) with 412 and
/// takes it bare: after a look that found the ETag named, the PUT is sent once more with
/// it bare, and that is kept for the run (said in a warning). Before: exit 11 for the
/// object the user named.
#[test]
fn if_match_goes_bare_to_a_store_that_refuses_it_quoted() {
    let src = source(5000);
    let server = ScriptedServer::start(vec![
        vec![
            ReadHead,
            Reply(head_answer(7, "\"0123456789abcdef0123456789abcdef\"")),
        ],
        vec![
            ReadHead,
            ReadBody,
            Reply(s3_error(
                "412 Precondition Failed",
                "PreconditionFailed",
                "",
            )),
        ],
        vec![ReadHead, ContinueIfExpected, ReadBody, Stored],
    ]);
    let out = push(
        &server.endpoint(),
        &src,
        &["--if-match", "0123456789abcdef0123456789abcdef"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        text(&out.stderr).contains("took it bare"),
        "{}",
        describe(&out)
    );
    let seen = server.seen();
    assert_eq!(
        seen[1].header("if-match").as_deref(),
        Some("\"0123456789abcdef0123456789abcdef\"")
    );
    assert_eq!(
        seen[2].header("if-match").as_deref(),
        Some("0123456789abcdef0123456789abcdef")
    );
}

/// An object with a Content-Encoding of its own never goes aws-chunked: s3s-fs and RGW
/// keep `aws-chunked,gzip` as it came, and the object read back under the wrong coding.
#[test]
fn a_content_encoding_keeps_the_body_out_of_aws_chunked() {
    let src = source(2 * MIB);
    let server = ScriptedServer::start(vec![vec![ReadHead, ContinueIfExpected, ReadBody, Stored]]);
    let out = push(
        &server.endpoint(),
        &src,
        &["--payload", "unsigned", "--content-encoding", "gzip"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let seen = server.seen();
    assert_eq!(seen[0].header("content-encoding").as_deref(), Some("gzip"));
    assert_eq!(
        seen[0].header("x-amz-content-sha256").as_deref(),
        Some("UNSIGNED-PAYLOAD")
    );
    assert!(seen[0].header("x-amz-checksum-crc32").is_some());
}

/// A 412 to a conditional Complete whose HEAD shows an object of exactly these parts (a
/// writer with the same bytes won a --no-clobber race, or an earlier attempt's answer was
/// lost): the object is right, and this upload, never completed, is aborted, not left on
/// the store unsaid.
#[test]
fn a_412_at_complete_over_the_same_bytes_aborts_the_upload() {
    let len = 5 * MIB + 1;
    let src = source(len);
    let bytes = std::fs::read(&src.file).unwrap();
    let (p1, p2) = bytes.split_at(5 * MIB as usize);
    let part = |e: String| {
        vec![
            ReadHead,
            ContinueIfExpected,
            ReadBody,
            Reply(answer("HTTP/1.1 200 OK", &[("ETag", &e)], "")),
        ]
    };
    let mut parts = part(etag(p1));
    parts.extend(part(etag(p2)));
    let server = ScriptedServer::start(vec![
        vec![ReadHead, Reply(answer("HTTP/1.1 404 Not Found", &[], ""))],
        vec![ReadHead, ReadBody, Reply(initiated("UPLOAD-4"))],
        parts,
        vec![
            ReadHead,
            ReadBody,
            Reply(s3_error(
                "412 Precondition Failed",
                "PreconditionFailed",
                "",
            )),
        ],
        vec![
            ReadHead,
            Reply(head_answer(len, &multipart_etag(&[p1, p2]))),
        ],
        vec![ReadHead, Reply(answer("HTTP/1.1 204 No Content", &[], ""))],
    ]);
    let flags = [
        "--multipart-threshold",
        "5M",
        "--part-size",
        "5M",
        "--jobs",
        "1",
        "--retries",
        "0",
        "--no-clobber",
    ];
    let out = push(&server.endpoint(), &src, &flags);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let lines = request_lines(&server.seen());
    assert!(lines[5].starts_with("HEAD /bucket/key.bin "), "{lines:?}");
    assert!(
        lines[6].starts_with("DELETE /bucket/key.bin?uploadId=UPLOAD-4"),
        "{lines:?}"
    );
}
