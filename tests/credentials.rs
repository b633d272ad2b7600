//! The credential chain end to end: loopback stand-ins for the EC2 instance metadata
//! service (IMDSv2), the ECS/EKS container endpoint and STS, a credential_process script;
//! each hands out the test store's keys with a session token, and each test ends with an
//! upload to the real s3s-fs signed with them, read back byte for byte. Secrets from every
//! source are looked for in stdout and stderr, on success and on failure.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::stage::{assert_failure, describe, Stage, BUCKET};
use common::{answer, ProxyMode, Request, StandIn, TestProxy, ACCESS_KEY, SECRET_KEY};
use s3push::sign::time::Timestamp;
use s3push::sign::v4;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

const ROLE: &str = "s3push-test-role";
const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/s3push-test-role";
/// Session tokens handed out: test-only values, looked for in every output.
const SESSION_TOKEN: &str = "s3push-test-session-token-QWxhZGRpbjpvcGVu";
const IMDS_TOKEN: &str = "s3push-test-imds-token-AQAEAPq";
const CONTAINER_TOKEN: &str = "s3push-test-container-auth-token-Zm9vYmFy";
const WEB_IDENTITY_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.s3push-test-web-identity-token.c2ln";
/// The keys of the profile whose role is assumed (they sign the AssumeRole call only).
const SOURCE_KEY: &str = "s3push-source-access-key";
const SOURCE_SECRET: &str = "s3push-source-secret-key-9876543210";
/// The access token `aws sso login` caches (and the refresh token next to it).
const SSO_TOKEN: &str = "s3push-test-sso-access-token-aGVsbG8gc3Nv";
const SSO_REFRESH: &str = "s3push-test-sso-refresh-token-cmVmcmVzaA";

/// Every secret any test hands out.
const SECRETS: &[&str] = &[
    SECRET_KEY,
    SESSION_TOKEN,
    IMDS_TOKEN,
    CONTAINER_TOKEN,
    WEB_IDENTITY_TOKEN,
    SOURCE_SECRET,
    SSO_TOKEN,
    SSO_REFRESH,
];

/// s3push aimed at the stage, with no keys in its environment (so the chain goes on to
/// the source under test) and the metadata service still disabled unless a test says.
fn command(stage: &Stage, flags: &[&str]) -> Command {
    let mut cmd = stage.command(flags);
    cmd.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY");
    cmd
}

fn run(mut cmd: Command, source: &Path, key: &str) -> Output {
    cmd.arg(source).arg(format!("s3://{BUCKET}/{key}"));
    common::stage::run(cmd)
}

/// No secret of any source in stdout or stderr.
fn assert_no_secret(out: &Output) {
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for secret in SECRETS {
        assert!(!all.contains(secret), "{secret} leaked: {}", describe(out));
    }
}

/// `2026-11-29T09:30:00Z`, `secs` from now.
fn iso_in(secs: u64) -> String {
    let d = Timestamp::from_unix(Timestamp::now().unix() + secs).amz_date();
    format!(
        "{}-{}-{}T{}:{}:{}Z",
        &d[0..4],
        &d[4..6],
        &d[6..8],
        &d[9..11],
        &d[11..13],
        &d[13..15]
    )
}

/// The metadata services' document: the store's keys, a session token, an expiry.
fn metadata_document(expires_in: u64) -> String {
    format!(
        r#"{{"Code":"Success","LastUpdated":"2026-01-01T00:00:00Z","Type":"AWS-HMAC","AccessKeyId":"{ACCESS_KEY}","SecretAccessKey":"{SECRET_KEY}","Token":"{SESSION_TOKEN}","Expiration":"{}"}}"#,
        iso_in(expires_in)
    )
}

fn json_ok(body: &str) -> Vec<u8> {
    answer("200 OK", &[("Content-Type", "application/json")], body)
}

fn status(line: &str) -> Vec<u8> {
    answer(line, &[], "")
}

/// An STS answer to `action` with the store's keys.
fn sts_answer(action: &str) -> Vec<u8> {
    let body = format!(
        r#"<{action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <{action}Result>
    <Credentials>
      <AccessKeyId>{ACCESS_KEY}</AccessKeyId>
      <SecretAccessKey>{SECRET_KEY}</SecretAccessKey>
      <SessionToken>{SESSION_TOKEN}</SessionToken>
      <Expiration>{}</Expiration>
    </Credentials>
  </{action}Result>
  <ResponseMetadata><RequestId>standin-1</RequestId></ResponseMetadata>
</{action}Response>"#,
        iso_in(3600)
    );
    answer("200 OK", &[("Content-Type", "text/xml")], &body)
}

fn sts_error(status_line: &str, code: &str, message: &str) -> Vec<u8> {
    let body = format!(
        "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>\
         <RequestId>standin-2</RequestId></ErrorResponse>"
    );
    answer(status_line, &[("Content-Type", "text/xml")], &body)
}

/// IMDSv2 as EC2 serves it: PUT a token (TTL header required), GETs that carry it.
/// The first token is refused once with 401, as an expired one would be.
fn imds(expires_in: u64) -> StandIn {
    let tokens = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    StandIn::start(move |r: &Request, _| {
        let token_ok = |r: &Request| {
            r.header("x-aws-ec2-metadata-token")
                .is_some_and(|t| t.starts_with(IMDS_TOKEN))
        };
        match (r.method.as_str(), r.path()) {
            ("PUT", "/latest/api/token") => {
                if r.header("x-aws-ec2-metadata-token-ttl-seconds").is_none() {
                    return status("400 Bad Request");
                }
                let n = tokens.fetch_add(1, Ordering::SeqCst) + 1;
                answer("200 OK", &[], &format!("{IMDS_TOKEN}-{n}"))
            }
            _ if !token_ok(r) => status("401 Unauthorized"),
            ("GET", "/latest/meta-data/iam/security-credentials/") => {
                let first_token =
                    r.header("x-aws-ec2-metadata-token") == Some(&format!("{IMDS_TOKEN}-1"));
                if first_token && refused.fetch_add(1, Ordering::SeqCst) == 0 {
                    return status("401 Unauthorized");
                }
                answer("200 OK", &[], &format!("{ROLE}\n"))
            }
            ("GET", path)
                if path == format!("/latest/meta-data/iam/security-credentials/{ROLE}") =>
            {
                json_ok(&metadata_document(expires_in))
            }
            _ => status("404 Not Found"),
        }
    })
}

#[test]
fn imds_v2_token_then_role_then_credentials_with_a_401_retried_once() {
    let stage = Stage::http();
    let service = imds(6 * 3600);
    let source = stage.file("imds.bin", 300_000);
    let mut cmd = command(&stage, &[]);
    cmd.env_remove("AWS_EC2_METADATA_DISABLED")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", service.endpoint());
    let out = run(cmd, &source, "imds.bin");
    stage.assert_stored(&out, "imds.bin", &source);
    assert_no_secret(&out);
    let requests = service.requests();
    let flow: Vec<String> = requests
        .iter()
        .map(|r| format!("{} {}", r.method, r.path()))
        .collect();
    assert_eq!(
        flow,
        [
            "PUT /latest/api/token",
            "GET /latest/meta-data/iam/security-credentials/",
            "PUT /latest/api/token",
            "GET /latest/meta-data/iam/security-credentials/",
            &format!("GET /latest/meta-data/iam/security-credentials/{ROLE}"),
        ],
        "the token flow, a 401, one new token and the retry"
    );
    assert_eq!(
        requests[0].header("x-aws-ec2-metadata-token-ttl-seconds"),
        Some("21600")
    );
    assert_eq!(
        requests[4].header("x-aws-ec2-metadata-token"),
        Some(format!("{IMDS_TOKEN}-2").as_str())
    );
}

#[test]
fn imds_that_keeps_refusing_the_token_fails_with_one_line_and_no_secret() {
    let stage = Stage::http();
    // Hands out a token, then refuses every GET: one retry with a new token, then stop.
    let service = StandIn::start(|r: &Request, _| match r.method.as_str() {
        "PUT" => answer("200 OK", &[], IMDS_TOKEN),
        _ => status("401 Unauthorized"),
    });
    let source = stage.file("imds-refused.bin", 1000);
    let mut cmd = command(&stage, &[]);
    cmd.env_remove("AWS_EC2_METADATA_DISABLED")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", service.endpoint());
    let out = run(cmd, &source, "imds-refused.bin");
    assert_failure(&out, 4, &["instance metadata", "401"]);
    assert_no_secret(&out);
    assert_eq!(service.hits("PUT", "/latest/api/token"), 2);
}

#[test]
fn off_ec2_the_metadata_service_costs_a_short_timeout_and_the_message_lists_the_chain() {
    let stage = Stage::http();
    let source = stage.file("nowhere.bin", 10);
    let mut cmd = command(&stage, &[]);
    cmd.env_remove("AWS_EC2_METADATA_DISABLED").env(
        "AWS_EC2_METADATA_SERVICE_ENDPOINT",
        format!("http://127.0.0.1:{}", common::closed_port()),
    );
    let started = std::time::Instant::now();
    let out = run(cmd, &source, "nowhere.bin");
    assert_failure(
        &out,
        4,
        &[
            "no credentials found",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_CONTAINER_CREDENTIALS",
            "instance metadata",
        ],
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[test]
fn container_credentials_with_an_authorization_token_file() {
    let stage = Stage::http();
    let service = StandIn::start(|r: &Request, _| {
        if r.header("authorization") != Some(CONTAINER_TOKEN) {
            return status("401 Unauthorized");
        }
        match r.path() {
            "/v1/credentials" => {
                json_ok(&metadata_document(3600).replace("\"Code\":\"Success\",", ""))
            }
            _ => status("404 Not Found"),
        }
    });
    let token_file = stage.files.path().join("eks-pod-identity-token");
    std::fs::write(&token_file, format!("{CONTAINER_TOKEN}\n")).unwrap();
    let source = stage.file("container.bin", 200_000);
    let mut cmd = command(&stage, &[]);
    cmd.env(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        format!("{}/v1/credentials", service.endpoint()),
    )
    .env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", &token_file)
    .env("AWS_CONTAINER_AUTHORIZATION_TOKEN", "not-this-one");
    let out = run(cmd, &source, "container.bin");
    stage.assert_stored(&out, "container.bin", &source);
    assert_no_secret(&out);
    assert_eq!(service.hits("GET", "/v1/credentials"), 1);

    // A token the endpoint refuses: exit 4, the status, never the token.
    std::fs::write(
        &token_file,
        "s3push-test-container-auth-token-Zm9vYmFy-stale",
    )
    .unwrap();
    let mut cmd = command(&stage, &[]);
    cmd.env(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        format!("{}/v1/credentials", service.endpoint()),
    )
    .env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", &token_file);
    let out = run(cmd, &source, "container-refused.bin");
    assert_failure(&out, 4, &["container credentials", "401"]);
    assert_no_secret(&out);
}

#[test]
fn container_full_uri_over_http_to_another_host_is_refused() {
    let stage = Stage::http();
    let source = stage.file("container-far.bin", 10);
    let mut cmd = command(&stage, &[]);
    cmd.env(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "http://192.0.2.10/creds",
    )
    .env("AWS_CONTAINER_AUTHORIZATION_TOKEN", CONTAINER_TOKEN);
    let out = run(cmd, &source, "container-far.bin");
    assert_failure(&out, 4, &["loopback", "https"]);
    assert_no_secret(&out);
}

#[test]
fn web_identity_assumes_the_role_with_an_unsigned_call() {
    let stage = Stage::http();
    let sts = StandIn::start(|r: &Request, _| {
        let ok = r.method == "POST"
            && r.form("Action").as_deref() == Some("AssumeRoleWithWebIdentity")
            && r.form("Version").as_deref() == Some("2011-06-15")
            && r.form("RoleArn").as_deref() == Some(ROLE_ARN)
            && r.form("RoleSessionName").as_deref() == Some("ci-session")
            && r.form("WebIdentityToken").as_deref() == Some(WEB_IDENTITY_TOKEN)
            && r.header("authorization").is_none();
        if ok {
            sts_answer("AssumeRoleWithWebIdentity")
        } else {
            // STS echoes nothing secret, but a stand-in that does shows the redaction.
            sts_error(
                "403 Forbidden",
                "AccessDenied",
                &format!(
                    "Not authorized: token {}",
                    r.form("WebIdentityToken").unwrap_or_default()
                ),
            )
        }
    });
    let token_file = stage.files.path().join("web-identity-token");
    std::fs::write(&token_file, WEB_IDENTITY_TOKEN).unwrap();
    let source = stage.file("web-identity.bin", 100_000);
    let with_env = |cmd: &mut Command| {
        cmd.env("AWS_WEB_IDENTITY_TOKEN_FILE", &token_file)
            .env("AWS_ROLE_ARN", ROLE_ARN)
            .env("AWS_ROLE_SESSION_NAME", "ci-session")
            .env("AWS_ENDPOINT_URL_STS", sts.endpoint());
    };
    let mut cmd = command(&stage, &[]);
    with_env(&mut cmd);
    let out = run(cmd, &source, "web-identity.bin");
    stage.assert_stored(&out, "web-identity.bin", &source);
    assert_no_secret(&out);
    assert_eq!(sts.hits("POST", "/"), 1);

    // Refused (another token): STS's code and message, the token in it masked.
    std::fs::write(&token_file, format!("{WEB_IDENTITY_TOKEN}-other")).unwrap();
    let mut cmd = command(&stage, &[]);
    with_env(&mut cmd);
    let out = run(cmd, &source, "web-identity-refused.bin");
    assert_failure(&out, 4, &["AccessDenied", ROLE_ARN, "***"]);
    assert_no_secret(&out);
}

#[test]
fn sts_goes_through_the_proxy_and_the_metadata_services_go_direct() {
    let stage = Stage::http();
    let s3_port = stage.server.port();
    let sts = StandIn::start(|r: &Request, _| {
        if r.form("WebIdentityToken").as_deref() == Some(WEB_IDENTITY_TOKEN) {
            sts_answer("AssumeRoleWithWebIdentity")
        } else {
            sts_error("403 Forbidden", "AccessDenied", "wrong token")
        }
    });
    let sts_port = sts.endpoint().rsplit(':').next().unwrap().to_string();
    let token_file = stage.files.path().join("web-identity-token");
    std::fs::write(&token_file, WEB_IDENTITY_TOKEN).unwrap();
    let source = stage.file("via-proxy.bin", 50_000);
    // The store itself is kept off the proxy, so what the proxy sees is STS alone.
    let web_identity = |proxy: &TestProxy, no_proxy: &str| {
        let mut cmd = command(&stage, &[]);
        cmd.env("AWS_WEB_IDENTITY_TOKEN_FILE", &token_file)
            .env("AWS_ROLE_ARN", ROLE_ARN)
            .env("AWS_ENDPOINT_URL_STS", sts.endpoint())
            .env("HTTP_PROXY", proxy.url())
            .env("NO_PROXY", no_proxy);
        cmd
    };

    // STS over plain HTTP: one absolute-form POST forwarded by the proxy.
    let proxy = TestProxy::start(ProxyMode::Open);
    let cmd = web_identity(&proxy, &format!("127.0.0.1:{s3_port}"));
    let out = run(cmd, &source, "via-proxy.bin");
    stage.assert_stored(&out, "via-proxy.bin", &source);
    assert_no_secret(&out);
    let heads = proxy.heads();
    assert_eq!(heads.len(), 1, "{heads:?}");
    assert!(
        heads[0].starts_with(&format!("POST http://127.0.0.1:{sts_port}/ HTTP/1.1\r\n")),
        "not STS in absolute form: {}",
        heads[0]
    );
    assert_eq!(sts.hits("POST", "/"), 1);

    // NO_PROXY naming STS: direct, the proxy sees nothing.
    let proxy = TestProxy::start(ProxyMode::Open);
    let out = run(web_identity(&proxy, "127.0.0.1"), &source, "sts-direct.bin");
    stage.assert_stored(&out, "sts-direct.bin", &source);
    assert_eq!(proxy.connections(), 0);
    assert_eq!(sts.hits("POST", "/"), 2);

    // A proxy demanding credentials it is not given: STS fails naming the 407.
    let proxy = TestProxy::start(ProxyMode::RequireAuth("Basic dTpw".into()));
    let cmd = web_identity(&proxy, &format!("127.0.0.1:{s3_port}"));
    let out = run(cmd, &source, "sts-407.bin");
    assert_failure(&out, 4, &["STS", "407"]);
    assert_eq!(sts.hits("POST", "/"), 2);

    // IMDS and the container endpoint with a proxy set and no NO_PROXY for them: direct.
    let proxy = TestProxy::start(ProxyMode::Open);
    let service = imds(3600);
    let mut cmd = command(&stage, &[]);
    cmd.env_remove("AWS_EC2_METADATA_DISABLED")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", service.endpoint())
        .env("HTTP_PROXY", proxy.url())
        .env("NO_PROXY", format!("127.0.0.1:{s3_port}"));
    let out = run(cmd, &source, "imds-direct.bin");
    stage.assert_stored(&out, "imds-direct.bin", &source);
    assert!(service.hits("PUT", "/latest/api/token") >= 1);
    let container = StandIn::start(|r: &Request, _| match r.path() {
        "/v1/credentials" => json_ok(&metadata_document(3600)),
        _ => status("404 Not Found"),
    });
    let mut cmd = command(&stage, &[]);
    cmd.env(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        format!("{}/v1/credentials", container.endpoint()),
    )
    .env("HTTP_PROXY", proxy.url())
    .env("NO_PROXY", format!("127.0.0.1:{s3_port}"));
    let out = run(cmd, &source, "container-direct.bin");
    stage.assert_stored(&out, "container-direct.bin", &source);
    assert_eq!(container.hits("GET", "/v1/credentials"), 1);
    assert_eq!(proxy.connections(), 0, "{:?}", proxy.heads());
}

/// Checks a request's SigV4 Authorization with the crate's own signer: the signed
/// headers as received, the body's hash, the scope `DATE/REGION/sts/aws4_request`.
fn verify_sts_signature(r: &Request, key: &str, secret: &str, region: &str) -> Result<(), String> {
    let auth = r.header("authorization").ok_or("no Authorization")?;
    let signed_names = auth
        .split("SignedHeaders=")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .ok_or("no SignedHeaders")?;
    let headers: Vec<(String, String)> = signed_names
        .split(';')
        .map(|n| {
            Ok((
                n.to_string(),
                r.header(n)
                    .ok_or(format!("{n} signed but absent"))?
                    .to_string(),
            ))
        })
        .collect::<Result<_, String>>()?;
    if !signed_names.contains("host") || !signed_names.contains("x-amz-date") {
        return Err(format!(
            "host and x-amz-date must be signed: {signed_names}"
        ));
    }
    let d = r.header("x-amz-date").ok_or("no x-amz-date")?;
    let time = Timestamp::parse_iso8601(&format!(
        "{}-{}-{}T{}:{}:{}Z",
        &d[0..4],
        &d[4..6],
        &d[6..8],
        &d[9..11],
        &d[11..13],
        &d[13..15]
    ))
    .ok_or("bad x-amz-date")?;
    let request = v4::V4Request {
        method: &r.method,
        canonical_uri: r.path(),
        query: &[],
        headers: &headers,
        payload_hash: &v4::hex_sha256(&r.body),
    };
    let expected = v4::sign(&request, key, secret, region, "sts", time).authorization;
    if auth != expected {
        return Err(format!(
            "signature differs:\n got  {auth}\n want {expected}"
        ));
    }
    Ok(())
}

#[test]
fn assumed_role_from_a_source_profile_is_signed_for_sts() {
    let stage = Stage::http();
    let sts = StandIn::start(|r: &Request, _| {
        if r.form("Action").as_deref() != Some("AssumeRole")
            || r.form("RoleArn").as_deref() != Some(ROLE_ARN)
            || r.form("ExternalId").as_deref() != Some("ext-42")
        {
            return sts_error(
                "400 Bad Request",
                "InvalidParameterValue",
                "unexpected form",
            );
        }
        match verify_sts_signature(r, SOURCE_KEY, SOURCE_SECRET, "eu-west-3") {
            Ok(()) => sts_answer("AssumeRole"),
            Err(why) => sts_error("403 Forbidden", "SignatureDoesNotMatch", &why),
        }
    });
    let aws = stage.home.path().join(".aws");
    std::fs::create_dir_all(&aws).unwrap();
    std::fs::write(
        aws.join("config"),
        format!(
            "[profile deploy]\nrole_arn = {ROLE_ARN}\nsource_profile = base\nexternal_id = ext-42\n\
             region = eu-west-3\n\n[profile base]\nregion = eu-west-3\n"
        ),
    )
    .unwrap();
    std::fs::write(
        aws.join("credentials"),
        format!(
            "[base]\naws_access_key_id = {SOURCE_KEY}\naws_secret_access_key = {SOURCE_SECRET}\n"
        ),
    )
    .unwrap();
    let source = stage.file("assumed.bin", 150_000);
    let mut cmd = command(&stage, &["--profile", "deploy"]);
    cmd.env_remove("AWS_REGION")
        .env("AWS_ENDPOINT_URL_STS", sts.endpoint());
    let out = run(cmd, &source, "assumed.bin");
    stage.assert_stored(&out, "assumed.bin", &source);
    assert_no_secret(&out);
    let calls = sts.requests();
    assert_eq!(calls.len(), 1);
    let auth = calls[0].header("authorization").unwrap();
    assert!(
        auth.contains(&format!("Credential={SOURCE_KEY}/"))
            && auth.contains("/eu-west-3/sts/aws4_request"),
        "{auth}"
    );

    // The source's secret is wrong: STS refuses; neither secret shows.
    std::fs::write(
        aws.join("credentials"),
        format!("[base]\naws_access_key_id = {SOURCE_KEY}\naws_secret_access_key = {SOURCE_SECRET}-wrong\n"),
    )
    .unwrap();
    let mut cmd = command(&stage, &["--profile", "deploy"]);
    cmd.env_remove("AWS_REGION")
        .env("AWS_ENDPOINT_URL_STS", sts.endpoint());
    let out = run(cmd, &source, "assumed-refused.bin");
    assert_failure(&out, 4, &["SignatureDoesNotMatch", "AssumeRole"]);
    assert_no_secret(&out);
}

/// A credential_process script that prints `document` and appends a line to `count`.
fn process_script(dir: &Path, document: &str, exit: i32) -> std::path::PathBuf {
    let script = dir.join("creds.sh");
    let count = dir.join("process-runs");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho run >> '{}'\ncat <<'JSON'\n{document}\nJSON\nexit {exit}\n",
            count.display()
        ),
    )
    .unwrap();
    script
}

fn process_runs(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("process-runs"))
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

fn write_process_profile(stage: &Stage, script: &Path) {
    let aws = stage.home.path().join(".aws");
    std::fs::create_dir_all(&aws).unwrap();
    std::fs::write(
        aws.join("config"),
        format!("[default]\ncredential_process = sh {}\n", script.display()),
    )
    .unwrap();
}

#[test]
fn credential_process_json() {
    let stage = Stage::http();
    let document = format!(
        r#"{{"Version": 1, "AccessKeyId": "{ACCESS_KEY}", "SecretAccessKey": "{SECRET_KEY}",
  "SessionToken": "{SESSION_TOKEN}", "Expiration": "{}"}}"#,
        iso_in(3600)
    );
    let script = process_script(stage.files.path(), &document, 0);
    write_process_profile(&stage, &script);
    let source = stage.file("process.bin", 120_000);
    let out = run(command(&stage, &[]), &source, "process.bin");
    stage.assert_stored(&out, "process.bin", &source);
    assert_no_secret(&out);
    assert_eq!(process_runs(stage.files.path()), 1);

    // The process fails after printing its secret: exit 4, its status, no secret.
    process_script(stage.files.path(), &document, 3);
    let out = run(command(&stage, &[]), &source, "process-failed.bin");
    assert_failure(&out, 4, &["credential_process", "profile 'default'"]);
    assert_no_secret(&out);

    // It prints a document without Version: which field is wrong, no secret.
    let no_version = document.replace("\"Version\": 1,", "");
    process_script(stage.files.path(), &no_version, 0);
    let out = run(command(&stage, &[]), &source, "process-bad.bin");
    assert_failure(&out, 4, &["no Version"]);
    assert_no_secret(&out);
}

#[test]
fn wrong_handed_out_secret_is_refused_by_the_store_without_showing_it() {
    let stage = Stage::http();
    let service = StandIn::start(|_: &Request, _| {
        json_ok(&metadata_document(3600).replace(SECRET_KEY, SOURCE_SECRET))
    });
    let source = stage.file("refused.bin", 1000);
    let mut cmd = command(&stage, &["--retries", "0"]);
    cmd.env(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        format!("{}/creds", service.endpoint()),
    );
    let out = run(cmd, &source, "refused.bin");
    assert_failure(&out, 7, &["SignatureDoesNotMatch", "container credentials"]);
    assert_no_secret(&out);
}

#[test]
fn temporary_credentials_are_refreshed_during_a_multipart_upload() {
    let stage = Stage::http();
    // Every answer expires in 4 minutes: inside the 5-minute refresh window, so each
    // request of the upload fetches anew before it signs.
    let service = StandIn::start(|r: &Request, n| match r.path() {
        "/creds" => {
            json_ok(&metadata_document(240).replace(SESSION_TOKEN, &format!("{SESSION_TOKEN}-{n}")))
        }
        _ => status("404 Not Found"),
    });
    let parts = 4u64;
    let source = stage.file("refreshed.bin", parts * 5 * 1024 * 1024);
    let mut cmd = command(
        &stage,
        &[
            "--multipart-threshold",
            "5M",
            "--part-size",
            "5M",
            "--jobs",
            "1",
        ],
    );
    cmd.env(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        format!("{}/creds", service.endpoint()),
    );
    let out = run(cmd, &source, "refreshed.bin");
    stage.assert_stored(&out, "refreshed.bin", &source);
    assert_no_secret(&out);
    // The first fetch, then one before each request: create, the parts, complete.
    let hits = service.hits("GET", "/creds");
    assert!(
        hits >= 1 + parts as usize + 2,
        "{hits} fetches for a {parts}-part upload"
    );
}

#[test]
fn credentials_far_from_expiry_are_fetched_once() {
    let stage = Stage::http();
    let service = StandIn::start(|_: &Request, _| json_ok(&metadata_document(3600)));
    let source = stage.file("fetched-once.bin", 3 * 5 * 1024 * 1024);
    let mut cmd = command(
        &stage,
        &[
            "--multipart-threshold",
            "5M",
            "--part-size",
            "5M",
            "--jobs",
            "2",
        ],
    );
    cmd.env(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        format!("{}/creds", service.endpoint()),
    );
    let out = run(cmd, &source, "fetched-once.bin");
    stage.assert_stored(&out, "fetched-once.bin", &source);
    assert_eq!(service.hits("GET", "/creds"), 1);
}

#[test]
fn profile_roles_from_a_web_identity_file_and_from_container_credentials() {
    let stage = Stage::http();
    // Container credentials (with a session token) sign the AssumeRole call.
    let container = StandIn::start(|_: &Request, _| {
        json_ok(
            &metadata_document(3600)
                .replace(ACCESS_KEY, SOURCE_KEY)
                .replace(SECRET_KEY, SOURCE_SECRET),
        )
    });
    let sts = StandIn::start(|r: &Request, _| match r.form("Action").as_deref() {
        Some("AssumeRoleWithWebIdentity")
            if r.form("WebIdentityToken").as_deref() == Some(WEB_IDENTITY_TOKEN) =>
        {
            sts_answer("AssumeRoleWithWebIdentity")
        }
        Some("AssumeRole") => {
            let signed = r
                .header("authorization")
                .is_some_and(|a| a.contains("x-amz-security-token"));
            match verify_sts_signature(r, SOURCE_KEY, SOURCE_SECRET, "us-east-1") {
                Ok(()) if signed && r.header("x-amz-security-token") == Some(SESSION_TOKEN) => {
                    sts_answer("AssumeRole")
                }
                Ok(()) => sts_error("403 Forbidden", "InvalidClientTokenId", "no session token"),
                Err(why) => sts_error("403 Forbidden", "SignatureDoesNotMatch", &why),
            }
        }
        _ => sts_error("400 Bad Request", "InvalidAction", "unexpected"),
    });
    let token_file = stage.files.path().join("web-identity-token");
    std::fs::write(&token_file, WEB_IDENTITY_TOKEN).unwrap();
    let aws = stage.home.path().join(".aws");
    std::fs::create_dir_all(&aws).unwrap();
    std::fs::write(
        aws.join("config"),
        format!(
            "[profile web]\nrole_arn = {ROLE_ARN}\nweb_identity_token_file = {}\n\n\
             [profile task]\nrole_arn = {ROLE_ARN}\ncredential_source = EcsContainer\n",
            token_file.display()
        ),
    )
    .unwrap();
    let source = stage.file("profile-roles.bin", 50_000);
    for (profile, key) in [("web", "profile-web.bin"), ("task", "profile-task.bin")] {
        let mut cmd = command(&stage, &["--profile", profile]);
        cmd.env("AWS_ENDPOINT_URL_STS", sts.endpoint()).env(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            format!("{}/creds", container.endpoint()),
        );
        let out = run(cmd, &source, key);
        stage.assert_stored(&out, key, &source);
        assert_no_secret(&out);
    }
    assert_eq!(container.hits("GET", "/creds"), 1);
    assert_eq!(sts.hits("POST", "/"), 2);
}

#[test]
fn each_attempt_signs_with_the_session_token_just_fetched() {
    // A store stand-in that records what it is sent and answers 503: every retry asks
    // the credential source again; credentials inside the refresh window are fetched
    // anew, so each attempt carries the token of its own fetch, signed.
    let creds = StandIn::start(|_: &Request, n| {
        json_ok(&metadata_document(240).replace(SESSION_TOKEN, &format!("{SESSION_TOKEN}-{n}")))
    });
    let store = StandIn::start(|_: &Request, _| common::s3_error("503 Slow Down", "SlowDown", ""));
    let home = tempfile::tempdir().unwrap();
    let source = common::random_file(home.path(), "tokens.bin", 1000);
    let mut cmd = common::s3push(home.path());
    cmd.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            format!("{}/creds", creds.endpoint()),
        )
        .args(["--endpoint", &store.endpoint()])
        .args(["--retries", "2", "--retry-max-wait", "0.05"])
        .arg(&source)
        .arg(format!("s3://{BUCKET}/tokens.bin"));
    let out = common::stage::run(cmd);
    assert_failure(&out, 7, &["SlowDown"]);
    assert_no_secret(&out);
    let puts = store.requests();
    assert_eq!(puts.len(), 3, "three attempts");
    for (i, put) in puts.iter().enumerate() {
        // Fetch 0 resolved the chain; attempt i signs with fetch i + 1.
        assert_eq!(
            put.header("x-amz-security-token"),
            Some(format!("{SESSION_TOKEN}-{}", i + 1).as_str()),
            "attempt {i}"
        );
        let auth = put.header("authorization").unwrap();
        assert!(
            auth.contains(&format!("Credential={ACCESS_KEY}/"))
                && auth.contains("x-amz-security-token"),
            "{auth}"
        );
    }
    assert_eq!(creds.hits("GET", "/creds"), 4);
}

#[test]
fn imds_that_refuses_the_token_request_is_asked_without_a_token() {
    let stage = Stage::http();
    // An IMDSv1-only service (or emulator): 405 to the PUT, GETs served without a token.
    let service = StandIn::start(|r: &Request, _| {
        if r.header("x-aws-ec2-metadata-token").is_some() {
            return status("400 Bad Request");
        }
        match (r.method.as_str(), r.path()) {
            ("PUT", _) => status("405 Method Not Allowed"),
            ("GET", "/latest/meta-data/iam/security-credentials/") => answer("200 OK", &[], ROLE),
            ("GET", p) if p.ends_with(ROLE) => json_ok(&metadata_document(3600)),
            _ => status("404 Not Found"),
        }
    });
    let source = stage.file("imds-v1.bin", 10_000);
    let mut cmd = command(&stage, &[]);
    cmd.env_remove("AWS_EC2_METADATA_DISABLED")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", service.endpoint());
    let out = run(cmd, &source, "imds-v1.bin");
    stage.assert_stored(&out, "imds-v1.bin", &source);
    assert_no_secret(&out);
    assert_eq!(service.requests().len(), 3);
}

const SSO_ACCOUNT: &str = "123456789012";
const SSO_ROLE: &str = "S3PushBackup";
const SSO_START_URL: &str = "https://d-1234567890.awsapps.com/start";

/// The IAM Identity Center portal's GetRoleCredentials: the role's keys for the cached
/// token (unsigned, in x-amz-sso_bearer_token), a 401 for any other token.
fn sso_portal() -> StandIn {
    StandIn::start(|r: &Request, _| {
        let query = r.target.split_once('?').map_or("", |(_, q)| q);
        let ok = r.method == "GET"
            && r.path() == "/federation/credentials"
            && query == format!("account_id={SSO_ACCOUNT}&role_name={SSO_ROLE}")
            && r.header("x-amz-sso_bearer_token") == Some(SSO_TOKEN)
            && r.header("authorization").is_none();
        if !ok {
            return answer(
                "401 Unauthorized",
                &[("Content-Type", "application/json")],
                r#"{"message":"Session token not found or invalid"}"#,
            );
        }
        let expires_ms = (Timestamp::now().unix() + 3600) * 1000;
        json_ok(&format!(
            r#"{{"roleCredentials":{{"accessKeyId":"{ACCESS_KEY}","secretAccessKey":"{SECRET_KEY}","sessionToken":"{SESSION_TOKEN}","expiration":{expires_ms}}}}}"#
        ))
    })
}

/// `~/.aws/sso/cache/SHA1(key).json` as `aws sso login` writes it.
fn write_sso_cache(stage: &Stage, key: &str, token: &str, expires_at: &str) -> std::path::PathBuf {
    use sha1::{Digest, Sha1};
    let dir = stage.home.path().join(".aws/sso/cache");
    std::fs::create_dir_all(&dir).unwrap();
    let name: String = Sha1::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let path = dir.join(format!("{name}.json"));
    std::fs::write(
        &path,
        format!(
            r#"{{"startUrl": "{SSO_START_URL}", "region": "eu-west-1", "accessToken": "{token}",
  "expiresAt": "{expires_at}", "clientId": "s3push-test-client", "clientSecret": "{SSO_REFRESH}",
  "registrationExpiresAt": "{expires_at}", "refreshToken": "{SSO_REFRESH}"}}"#
        ),
    )
    .unwrap();
    path
}

#[test]
fn sso_profiles_trade_the_cached_token_for_role_credentials() {
    let stage = Stage::http();
    let portal = sso_portal();
    let aws = stage.home.path().join(".aws");
    std::fs::create_dir_all(&aws).unwrap();
    std::fs::write(
        aws.join("config"),
        format!(
            "[profile dev]\nsso_session = corp\nsso_account_id = {SSO_ACCOUNT}\nsso_role_name = {SSO_ROLE}\n\
             [sso-session corp]\nsso_start_url = {SSO_START_URL}\nsso_region = eu-west-1\n\
             sso_registration_scopes = sso:account:access\n\
             [profile legacy]\nsso_start_url = {SSO_START_URL}\nsso_region = eu-west-1\n\
             sso_account_id = {SSO_ACCOUNT}\nsso_role_name = {SSO_ROLE}\n\
             [profile half]\nsso_session = corp\nsso_account_id = {SSO_ACCOUNT}\n"
        ),
    )
    .unwrap();
    let source = stage.file("sso.bin", 150_000);
    let sso = |profile: &str| {
        let mut cmd = command(&stage, &["--profile", profile]);
        cmd.env("AWS_ENDPOINT_URL_SSO", portal.endpoint());
        cmd
    };

    // The sso-session form: the token cached under SHA-1 of the session name.
    let session_cache = write_sso_cache(&stage, "corp", SSO_TOKEN, &iso_in(3600));
    let out = run(sso("dev"), &source, "sso.bin");
    stage.assert_stored(&out, "sso.bin", &source);
    assert_no_secret(&out);
    assert_eq!(portal.hits("GET", "/federation/credentials"), 1);

    // The legacy form: under SHA-1 of the start URL.
    write_sso_cache(&stage, SSO_START_URL, SSO_TOKEN, &iso_in(3600));
    let out = run(sso("legacy"), &source, "sso-legacy.bin");
    stage.assert_stored(&out, "sso-legacy.bin", &source);
    assert_no_secret(&out);
    assert_eq!(portal.hits("GET", "/federation/credentials"), 2);

    // An expired token: exit 4, the login command, and the portal is not asked.
    write_sso_cache(&stage, "corp", SSO_TOKEN, "2020-01-01T00:00:00Z");
    let out = run(sso("dev"), &source, "sso-expired.bin");
    assert_failure(&out, 4, &["expired", "aws sso login --profile dev"]);
    assert_no_secret(&out);
    assert_eq!(portal.hits("GET", "/federation/credentials"), 2);

    // No token cached at all: the same.
    std::fs::remove_file(&session_cache).unwrap();
    let out = run(sso("dev"), &source, "sso-missing.bin");
    assert_failure(&out, 4, &["no SSO token", "aws sso login --profile dev"]);

    // A token the portal refuses (signed out elsewhere): the status, never the token.
    write_sso_cache(
        &stage,
        "corp",
        &format!("{SSO_TOKEN}-revoked"),
        &iso_in(3600),
    );
    let out = run(sso("dev"), &source, "sso-revoked.bin");
    assert_failure(&out, 4, &["401", "aws sso login --profile dev"]);
    assert_no_secret(&out);

    // A profile missing its role: which setting, before any call.
    let out = run(sso("half"), &source, "sso-half.bin");
    assert_failure(&out, 4, &["sso_role_name", "profile 'half'"]);
    assert_eq!(portal.hits("GET", "/federation/credentials"), 3);
}
