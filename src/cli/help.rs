//! The help texts and `--version`. `--help-all` is the option reference: doc/s3push.1
//! and completions/ are made from it (scripts/gen-docs reads this file).

pub const HELP: &str = "\
s3push: stream a file or standard input into an S3 bucket, in constant memory

  s3push [OPTIONS] FILE s3://BUCKET/KEY     (or s3://BUCKET/PREFIX/)
  s3push [OPTIONS] FILE... s3://BUCKET/PREFIX/   (or --files-from LIST|- [-0])
  s3push [OPTIONS] - s3://BUCKET/KEY        (standard input, any length)
  s3push --resume FILE s3://BUCKET/KEY      (finish an interrupted upload)
  s3push presign s3://BUCKET/KEY --expires 1h    (print a presigned PUT URL)

EXAMPLES:
  s3push backup.tar.gz s3://my-bucket/
  s3push --endpoint http://127.0.0.1:9000 disk.img s3://images/2026/disk.img
  pg_dump db | s3push --expected-size 200G - s3://backups/db.sql
  s3push --signature v2 --acl public-read photo.jpg s3://legacy-bucket/
  s3push --json --no-clobber *.log s3://logs/host1/

COMMON OPTIONS:
  --endpoint URL     the store, http[s]://HOST[:PORT] (default: AWS)
  --region R         signing region (default us-east-1; also AWS_REGION)
  --profile NAME     a profile of ~/.aws/credentials and ~/.aws/config
  --path-style       HOST/BUCKET/KEY (chosen by itself for IPs and localhost)
  --ca-bundle PEM    also trust these CAs, or this self-signed certificate
  --checksum ALG     crc32 (default), crc32c, crc64nvme, sha1, sha256, none
  --payload MODE     unsigned (https default), signed (http), streaming
  --jobs N           parts at once (default 4); --part-size SIZE (8M)
  --on-failure X     abort or keep an unfinished upload in parts
  --no-clobber       never overwrite an existing object
  --acl CANNED, --content-type T, --meta K=V, --storage-class C
  -q, --quiet, --json, --progress, -v, -vv
  --help-all         every option (also man s3push); -V, --version

Credentials: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY, else the profile, web
identity, container or instance role; never the command line. Exit codes:
0 stored, 2 usage, 3 local file, 4 credentials, 5 network, 6 TLS, 7 refused,
8 bad response, 9 integrity, 10 upload kept, 11 not written, 130 interrupted.
";

/// `s3push --help-all`: every option; doc/s3push.1 and completions/ are made from it
/// (scripts/gen-docs).
pub const HELP_ALL: &str = "\
s3push: stream a file into an S3-compatible bucket in constant memory

USAGE:
  s3push [OPTIONS] FILE s3://BUCKET/KEY
  s3push [OPTIONS] FILE s3://BUCKET/PREFIX/     (key = PREFIX/ + the file's name)
  s3push [OPTIONS] - s3://BUCKET/KEY            (standard input)
  s3push --resume FILE s3://BUCKET/KEY          (finish an interrupted multipart upload)
  s3push --abort [--upload-id ID] [FILE] s3://BUCKET/KEY   (discard one)
  s3push [OPTIONS] FILE 'https://HOST/BUCKET/KEY?X-Amz-...'  (PUT to a presigned URL)
  s3push presign s3://BUCKET/KEY [--expires 1h]  (print a presigned PUT URL; presign --help)
  s3push [OPTIONS] FILE... s3://BUCKET/PREFIX/  (several files: each key = PREFIX/ + name)
  s3push [OPTIONS] --files-from LIST|- s3://BUCKET/PREFIX/   (key = PREFIX/ + listed path)

EXAMPLES:
  s3push backup.tar.gz s3://my-bucket/
  s3push --endpoint http://127.0.0.1:9000 disk.img s3://images/2026/disk.img
  s3push --signature v2 --acl public-read photo.jpg s3://legacy-bucket/
  pg_dump db | s3push --expected-size 200G - s3://backups/db.sql
  find . -name '*.gz' -print0 | s3push --files-from - -0 --no-clobber s3://logs/host1/

WHERE:
  --endpoint URL          S3-compatible store, http[s]://HOST[:PORT] (also
                          AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, endpoint_url in the
                          profile); default AWS
  --region REGION         signing region (also AWS_REGION, AWS_DEFAULT_REGION, the
                          profile); default us-east-1
  --profile NAME          profile of ~/.aws/credentials and ~/.aws/config (also AWS_PROFILE)
  --path-style            https://HOST/BUCKET/KEY instead of https://BUCKET.HOST/KEY
  --ca-bundle FILE.pem    also trust the CAs in this PEM file (private CA, self-hosted
                          store; also AWS_CA_BUNDLE, SSL_CERT_FILE, SSL_CERT_DIR); a
                          self-signed server certificate is accepted when it is in it
  --proxy URL|none        http://, https://, socks5h:// or socks5://HOST:PORT for every
                          request, or none (default HTTPS_PROXY / HTTP_PROXY / ALL_PROXY,
                          minus NO_PROXY; a proxy password goes in those variables,
                          never on the command line)
  --dualstack             AWS's dual-stack (IPv6 and IPv4) endpoint for the region
  --fips                  AWS's FIPS endpoint for the region (with --dualstack: both)
  --accelerate            AWS S3 Transfer Acceleration (BUCKET.s3-accelerate.amazonaws.com)
  --no-sign-request       send requests unsigned, with no credentials (public-write bucket)

HOW:
  --signature v4|v2       v4 (default), or legacy v2 for old stores
  --payload unsigned|signed|streaming
                          v4 body hash: unsigned (default over https; one pass), signed
                          (default over http; SHA-256 of the file, read once more first),
                          or streaming (aws-chunked: each 8 KiB chunk signed, one pass)
  --connect-timeout SECS  give up connecting after SECS (default 10)
  --timeout SECS          give up on an answer whose head is not all there SECS after
                          the request, or a body that moves under 64 KiB in SECS (a
                          stall); a TLS handshake gets SECS too (default 60)
  --retries N             retry what may succeed next time (resets, timeouts, 500, 503
                          SlowDown, 408, 429, RequestTimeout) up to N times (default 4)
  --retry-max-wait SECS   cap of the exponential backoff with jitter (default 20)
  --limit-rate RATE       send at most RATE body bytes per second, all parts together
                          (4MiB, 500K; also S3PUSH_LIMIT_RATE)
  --no-expect             do not send Expect: 100-continue (sent for bodies over 1 MiB, so
                          a refusal costs no upload; some old stores break on it)

INTEGRITY:
  --checksum crc32|crc32c|crc64nvme|sha1|sha256|none
                          checksum the store verifies (x-amz-checksum-*): default crc32
                          (none for v2, R2, B2, GCS); a header when known before sending,
                          else a trailer after the body (one pass)
  --content-md5           send Content-MD5 too (reads the file once more first)
  --verify-etag           check the ETag is the MD5 of what was sent (always on when no
                          checksum is: about 1.4 s of CPU per GiB)
  --delete-on-mismatch    delete an object whose ETag or checksum disagrees (single PUT)
  --no-clobber            never overwrite: If-None-Match: * (an existing key exits 11)
  --if-match ETAG         overwrite only the object that has this ETag (else exit 11)

SEVERAL FILES:
  --files-from FILE|-     upload the paths listed in FILE (- : standard input), one a line;
                          a relative path keeps its directories under the prefix
  -0                      the list is NUL-separated (find -print0)
  --fail-fast             stop at the first failed file (default: go on, exit with the
                          first failure's code and print \"N uploaded, M failed\")

LARGE OBJECTS (multipart):
  --multipart-threshold SIZE  files larger than this go up in parts (default 64M)
  --part-size SIZE        5M..5G; default 8M, larger when needed to fit 10,000 parts
  --jobs N                parts sent at once, each on its own connection (default 4;
                          2 for standard input)
  --on-failure abort|keep
                          a failed or interrupted upload is aborted (its parts deleted), or
                          kept to --resume (default: keep for files from 1 GiB, else abort)
  --resume                finish the pending upload of FILE: only missing parts are sent
  --abort                 discard a pending upload (with --upload-id ID, no FILE needed)
  --upload-id ID          the pending upload to --resume or --abort (else the journal in
                          $XDG_STATE_HOME/s3push, else ListMultipartUploads)
  --spool-dir DIR         hold standard input's parts in an unlinked file here, not memory
  --max-memory SIZE       cap what standard input holds (also S3PUSH_MAX_MEMORY; default:
                          the cgroup's memory limit: v2 memory.max, else v1
                          memory.limit_in_bytes). 6 MiB is left for s3push itself and
                          (jobs + 1) x part size fits the rest: fewer jobs (down to 1),
                          then smaller parts (down to 5M), else the parts wait in TMPDIR
                          (else /tmp), else an error names the smallest cap (16M).
                          --jobs or --part-size given over the cap is an error. Parts
                          grow only as far as the cap holds, then on disk in TMPDIR;
                          with nowhere to spool, a stream too long for 10,000 such parts
                          fails before its 10,000th part is sent.
  --expected-size SIZE    the stream's likely size: its parts are sized from the start
  --size SIZE             the stream's exact size: a stream that ends short of it (or goes
                          past it) is not stored (a producer that failed, cut short)
  --equal-parts           keep every part one size (Cloudflare R2 needs it; set for *.r2)
                          Standard input is held a part at a time before sending: memory
                          up to (jobs + 1) x part size (24 MiB by default). Parts grow (x2
                          every 1,000) so a stream never hits 10,000 parts.

OBJECT:
  --content-type TYPE     default: guessed from the key's extension
  --acl CANNED            private, public-read, public-read-write, authenticated-read,
                          aws-exec-read, bucket-owner-read, bucket-owner-full-control
  --cache-control V       Cache-Control of the object
  --content-disposition V Content-Disposition of the object
  --content-encoding V    Content-Encoding of the object (gzip: stored as sent)
  --storage-class C       STANDARD, STANDARD_IA, GLACIER_IR, ... as the store names them
  --meta KEY=VALUE        user metadata (x-amz-meta-KEY), repeatable
  --tagging 'K=V&K2=V2'   the object's tags (x-amz-tagging; at most 10; encoded for you)

PROTECTION (doc/protection.md):
  --sse AES256|aws:kms|aws:kms:dsse
                          server-side encryption by the store (SSE-S3, SSE-KMS, DSSE-KMS)
  --sse-kms-key-id ID     the KMS key (id, alias or ARN) for --sse aws:kms
  --sse-kms-context JSON  KMS encryption context, a JSON object of strings
  --bucket-key-enabled    use an S3 Bucket Key with --sse aws:kms
  --sse-c-key-file FILE   SSE-C: encrypt with this key, exactly 32 raw bytes (https only;
                          sent with every request to the object, masked in -v and --dry-run)
  --object-lock-mode GOVERNANCE|COMPLIANCE
                          Object Lock retention, with --object-lock-retain-until-date
  --object-lock-retain-until-date DATE
                          RFC 3339, like 2030-01-31T00:00:00Z (in the future)
  --object-lock-legal-hold-status ON|OFF
                          legal hold (Object Lock needs a checksum or Content-MD5: with
                          --checksum none, Content-MD5 is sent)
  --expected-bucket-owner ACCOUNT
                          refuse a bucket of another 12-digit account (every request)
  --request-payer requester
                          agree to pay for a requester-pays bucket (every request)
  --require-protection    encryption, retention or tags asked for and not shown by the
                          store are an error (exit 9: stored, not protected), not a warning
  --skip-identical        look first (HEAD): an object of the same size and checksum (or
                          MD5 ETag) is skipped, not sent again (exit 0; nightly reruns)

OUTPUT:
  -q, --quiet             print nothing on success (and no progress)
  --progress, --no-progress
                          progress on stderr: redrawn on a terminal (the default there);
                          elsewhere --progress writes a line every 5 s
  --json                  one JSON object per object on stdout, errors too (doc/output.md)
  -v, -vv, --verbose      request and response heads on stderr (secrets masked); -vv adds
                          connects, TLS, reused connections, retries and their waits
  --dry-run               print the first request s3push would send (signature, tokens
                          and proxy credentials masked) and send nothing
  -h, --help              the short help; --help-all: this one
  -V, --version           version, TLS stack and what this build can do

Credentials, never from the command line, in the SDKs' order: AWS_ACCESS_KEY_ID/
AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN); web identity (AWS_WEB_IDENTITY_TOKEN_FILE +
AWS_ROLE_ARN); the profile (role_arn, IAM Identity Center/SSO after aws sso login, keys,
credential_process); container credentials (AWS_CONTAINER_CREDENTIALS_*); EC2 instance
metadata (IMDSv2). Temporary ones are refreshed during long uploads. Exit codes: 0 ok, 2 usage, 3 local file,
4 credentials (also a proxy's 407), 5 network, 6 TLS, 7 refused by the server,
8 bad response, 9 integrity, 10 multipart upload kept, 11 not written (--no-clobber,
--if-match), 130 interrupted.
";

pub const PRESIGN_HELP: &str = "\
s3push presign: print a URL that lets its holder PUT one object, until it expires, with
no credentials of their own (nothing is sent; credentials and addressing as for uploads)

USAGE:
  s3push presign [OPTIONS] s3://BUCKET/KEY

EXAMPLES:
  url=$(s3push presign --expires 15m s3://my-bucket/report.pdf)
  curl -T report.pdf \"$url\"          or: s3push report.pdf \"$url\"
  s3push presign --content-type text/csv s3://my-bucket/a.csv   (the PUT must send it)

OPTIONS:
  --expires DURATION      90s, 15m, 1h, 7d or seconds; at most 7 days (default 1h)
  --content-type TYPE     sign this Content-Type: the upload must send exactly it
  --acl CANNED            the object's canned ACL (v4: carried in the URL; v2: a header
                          the upload must send)
  --signature v4|v2       v4 (default: X-Amz-* query), or legacy v2 (Expires, Signature)
  --sse, --sse-kms-key-id, --sse-kms-context, --bucket-key-enabled, --sse-c-key-file,
  --tagging, --object-lock-mode, --object-lock-retain-until-date,
  --object-lock-legal-hold-status, --expected-bucket-owner, --request-payer
                          as for uploads (s3push --help-all): signed as headers the
                          upload must send (Object Lock: with Content-MD5 too)
  --endpoint URL, --region REGION, --profile NAME, --path-style   as for uploads
  -q, --quiet             print only the URL (not the headers the upload must send)
";

/// `s3push --version`: the version, the TLS stack and what this build can do.
pub fn version() -> String {
    format!(
        "s3push {}\n\
         tls: rustls 0.23 (ring provider; TLS 1.3 and 1.2), {} built-in roots (webpki-roots)\n\
         signatures: sigv4 sigv2 presign; payload: unsigned signed streaming (aws-chunked, trailers)\n\
         checksums: crc32 crc32c crc64nvme sha1 sha256, content-md5, etag-md5; multipart, stdin\n",
        env!("CARGO_PKG_VERSION"),
        webpki_roots::TLS_SERVER_ROOTS.len()
    )
}
