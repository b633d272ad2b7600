//! Presigned URLs: the signature goes in the query string, so whoever holds the URL can
//! make that one request until it expires, with no credentials of their own.
//! SigV4: S3 API reference, "Authenticating Requests: Using Query Parameters (AWS
//! Signature Version 4)"; SigV2: S3 developer guide, "Query string request
//! authentication alternative". Pure: the time is passed in.

use super::time::Timestamp;
use super::uri::encode_component;
use super::{v2, v4};

/// The longest validity S3 accepts for a SigV4 presigned URL (X-Amz-Expires): 7 days.
pub const MAX_EXPIRES_SECS: u64 = 7 * 24 * 3600;

/// The keys a URL is signed with. No Debug: it holds the secret.
#[derive(Clone, Copy)]
pub struct Signer<'a> {
    pub access_key_id: &'a str,
    pub secret: &'a str,
    /// Temporary credentials' token: carried in the URL, and signed.
    pub session_token: Option<&'a str>,
}

/// One request to presign with SigV4.
#[derive(Debug, Clone, Copy)]
pub struct V4Presign<'a> {
    pub method: &'a str,
    /// The path as it will be sent, already encoded ([`super::uri::encode_path`]).
    pub canonical_uri: &'a str,
    /// The Host header the request will carry.
    pub host: &'a str,
    /// Headers the request must then carry with exactly these values, besides `host`
    /// (`content-type`...), names lowercase: they are signed.
    pub headers: &'a [(String, String)],
    /// Settings carried in the query itself and signed with it (`x-amz-acl`), decoded.
    pub query: &'a [(String, String)],
    /// Seconds the URL stays valid from `time` (X-Amz-Expires).
    pub expires: u64,
}

/// A SigV4 presigned query and the steps that made it (for the published vectors).
/// Debug masks the query and the signature: the URL is a credential until it expires.
#[derive(Clone, PartialEq, Eq)]
pub struct V4Presigned {
    /// The query string, without `?`: the canonical query, then `X-Amz-Signature`.
    pub query: String,
    pub canonical_request: String,
    pub string_to_sign: String,
    pub signature: String,
    /// `X-Amz-SignedHeaders`: `host`, and the names of `headers`.
    pub signed_headers: String,
}

impl std::fmt::Debug for V4Presigned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("V4Presigned")
            .field("query", &"***")
            .field("signature", &"***")
            .field("signed_headers", &self.signed_headers)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for V2Presigned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("V2Presigned")
            .field("query", &"***")
            .field("signature", &"***")
            .finish_non_exhaustive()
    }
}

/// Signs `req` for `region` at `time`: the payload is `UNSIGNED-PAYLOAD` (the body is
/// not known when the URL is made), and the query carries the algorithm, credential
/// scope, date, validity, signed header names and session token, all signed.
pub fn v4(req: &V4Presign, signer: Signer<'_>, region: &str, time: Timestamp) -> V4Presigned {
    let mut headers = vec![("host".to_string(), req.host.to_string())];
    headers.extend(req.headers.iter().cloned());
    let mut names: Vec<String> = headers
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .collect();
    names.sort();
    names.dedup();
    let signed_headers = names.join(";");

    let scope = v4::credential_scope(time, region, "s3");
    let mut query = req.query.to_vec();
    let mut add = |name: &str, value: String| query.push((name.to_string(), value));
    add("X-Amz-Algorithm", v4::ALGORITHM.to_string());
    add(
        "X-Amz-Credential",
        format!("{}/{scope}", signer.access_key_id),
    );
    add("X-Amz-Date", time.amz_date());
    add("X-Amz-Expires", req.expires.to_string());
    add("X-Amz-SignedHeaders", signed_headers.clone());
    if let Some(token) = signer.session_token {
        add("X-Amz-Security-Token", token.to_string());
    }
    let request = v4::V4Request {
        method: req.method,
        canonical_uri: req.canonical_uri,
        query: &query,
        headers: &headers,
        payload_hash: v4::UNSIGNED_PAYLOAD,
    };
    let signed = v4::sign(
        &request,
        signer.access_key_id,
        signer.secret,
        region,
        "s3",
        time,
    );
    V4Presigned {
        query: format!(
            "{}&X-Amz-Signature={}",
            v4::canonical_query(&query),
            signed.signature
        ),
        canonical_request: signed.canonical_request,
        string_to_sign: signed.string_to_sign,
        signature: signed.signature,
        signed_headers,
    }
}

/// One request to presign with SigV2.
#[derive(Debug, Clone, Copy)]
pub struct V2Presign<'a> {
    pub method: &'a str,
    /// The CanonicalizedResource: `/bucket/key` as encoded on the wire.
    pub resource: &'a str,
    /// The Content-Type the request will carry ("" for none): it is signed.
    pub content_type: &'a str,
    /// x-amz-* headers the request will carry (`x-amz-acl`): they are signed.
    pub amz_headers: &'a [(String, String)],
    /// The instant the URL stops working, in seconds since the epoch (Expires).
    pub expires_at: u64,
}

/// A SigV2 presigned query. Debug masks the query and the signature.
#[derive(Clone, PartialEq, Eq)]
pub struct V2Presigned {
    /// `AWSAccessKeyId=...&Expires=...&Signature=...` (+ the session token).
    pub query: String,
    pub string_to_sign: String,
    /// Base64, as signed (the query carries it percent-encoded).
    pub signature: String,
}

/// Signs `req`: the string to sign is the header form's with Expires on the Date line.
/// A session token goes in the query as `x-amz-security-token` and is signed among the
/// x-amz-* headers, as botocore's query signer does.
pub fn v2(req: &V2Presign, signer: Signer<'_>) -> V2Presigned {
    let expires = req.expires_at.to_string();
    let mut amz = req.amz_headers.to_vec();
    if let Some(token) = signer.session_token {
        amz.push(("x-amz-security-token".into(), token.to_string()));
    }
    let string_to_sign = v2::string_to_sign(&v2::V2Request {
        method: req.method,
        content_md5: "",
        content_type: req.content_type,
        date: &expires,
        headers: &amz,
        resource: req.resource,
    });
    let signature = v2::signature(signer.secret, &string_to_sign);
    let mut query = format!(
        "AWSAccessKeyId={}&Expires={expires}&Signature={}",
        encode_component(signer.access_key_id),
        encode_component(&signature)
    );
    if let Some(token) = signer.session_token {
        query.push_str("&x-amz-security-token=");
        query.push_str(&encode_component(token));
    }
    V2Presigned {
        query,
        string_to_sign,
        signature,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::uri::encode_path;

    const ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    fn signer(token: Option<&str>) -> Signer<'_> {
        Signer {
            access_key_id: ACCESS_KEY,
            secret: SECRET,
            session_token: token,
        }
    }

    /// The S3 API reference's example, "Authenticating Requests: Using Query Parameters
    /// (AWS Signature Version 4)" (sigv4-query-string-auth.html, "An Example"): GET
    /// examplebucket/test.txt, us-east-1, 20130524T000000Z, valid 86400 s.
    #[test]
    fn s3_api_reference_query_example() {
        let uri = encode_path("/test.txt");
        let req = V4Presign {
            method: "GET",
            canonical_uri: &uri,
            host: "examplebucket.s3.amazonaws.com",
            headers: &[],
            query: &[],
            expires: 86_400,
        };
        let p = v4(
            &req,
            signer(None),
            "us-east-1",
            Timestamp::from_unix(1_369_353_600),
        );
        assert_eq!(
            p.canonical_request,
            "GET\n/test.txt\n\
             X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\n\
             host:examplebucket.s3.amazonaws.com\n\nhost\nUNSIGNED-PAYLOAD"
        );
        assert_eq!(
            p.string_to_sign,
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n\
             3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04"
        );
        assert_eq!(
            p.signature,
            "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
        assert_eq!(
            p.query,
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
             &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
             &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
    }

    /// A PUT with a signed Content-Type, an ACL in the query and a session token: every
    /// one of them is in the canonical request, so none can be changed by the holder.
    #[test]
    fn put_signs_content_type_acl_and_token() {
        let uri = encode_path("/b/a key+1.txt");
        let headers = vec![("content-type".to_string(), "text/plain".to_string())];
        let query = vec![("x-amz-acl".to_string(), "public-read".to_string())];
        let req = V4Presign {
            method: "PUT",
            canonical_uri: &uri,
            host: "127.0.0.1:9000",
            headers: &headers,
            query: &query,
            expires: 3600,
        };
        let p = v4(
            &req,
            signer(Some("tok/en+=")),
            "eu-west-1",
            Timestamp::from_unix(0),
        );
        assert_eq!(p.signed_headers, "content-type;host");
        assert_eq!(
            p.canonical_request,
            "PUT\n/b/a%20key%2B1.txt\n\
             X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F19700101%2Feu-west-1%2Fs3%2Faws4_request\
             &X-Amz-Date=19700101T000000Z&X-Amz-Expires=3600&X-Amz-Security-Token=tok%2Fen%2B%3D\
             &X-Amz-SignedHeaders=content-type%3Bhost&x-amz-acl=public-read\n\
             content-type:text/plain\nhost:127.0.0.1:9000\n\ncontent-type;host\nUNSIGNED-PAYLOAD"
        );
        let (head, signature) = p.query.rsplit_once("&X-Amz-Signature=").unwrap();
        assert_eq!(signature, p.signature);
        assert!(p.canonical_request.contains(&format!("\n{head}\n")));
    }

    /// The S3 developer guide's "Query string request authentication" example (the
    /// `johnsmith` version of RESTAuthentication.md; see sign::v2's tests): the URL is
    /// http://johnsmith.s3.amazonaws.com/photos/puppy.jpg?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE
    /// &Expires=1175139620&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D.
    #[test]
    fn s3_developer_guide_v2_query_example() {
        let req = V2Presign {
            method: "GET",
            resource: "/johnsmith/photos/puppy.jpg",
            content_type: "",
            amz_headers: &[],
            expires_at: 1_175_139_620,
        };
        let p = v2(&req, signer(None));
        assert_eq!(
            p.string_to_sign,
            "GET\n\n\n1175139620\n/johnsmith/photos/puppy.jpg"
        );
        assert_eq!(p.signature, "NpgCjnDzrM+WFzoENXmpNDUsSn8=");
        assert_eq!(
            p.query,
            "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1175139620&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D"
        );
    }

    #[test]
    fn v2_put_signs_content_type_acl_and_token() {
        let amz = vec![("x-amz-acl".to_string(), "public-read".to_string())];
        let req = V2Presign {
            method: "PUT",
            resource: "/b/k%20x",
            content_type: "image/jpeg",
            amz_headers: &amz,
            expires_at: 60,
        };
        let p = v2(&req, signer(Some("T+1")));
        assert_eq!(
            p.string_to_sign,
            "PUT\n\nimage/jpeg\n60\nx-amz-acl:public-read\nx-amz-security-token:T+1\n/b/k%20x"
        );
        assert!(
            p.query.ends_with("&x-amz-security-token=T%2B1"),
            "{}",
            p.query
        );
        assert_eq!(p.signature, v2::signature(SECRET, &p.string_to_sign));
    }
}
