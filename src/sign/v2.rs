//! The legacy S3 signature (S3 developer guide, "Signing and Authenticating REST
//! Requests"), as the 2010 script signed its PUT: HMAC-SHA1 over method, Content-MD5,
//! Content-Type, Date, the canonicalized x-amz-* headers and the resource.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

/// What is signed. `resource` is the CanonicalizedResource: `/bucket` + the path as
/// encoded on the wire (+ `?subresource`). `headers` may hold every request header; only
/// x-amz-* ones are used. When an `x-amz-date` header is sent, pass "" as `date`.
#[derive(Debug, Clone, Copy)]
pub struct V2Request<'a> {
    pub method: &'a str,
    pub content_md5: &'a str,
    pub content_type: &'a str,
    pub date: &'a str,
    pub headers: &'a [(String, String)],
    pub resource: &'a str,
}

pub fn string_to_sign(req: &V2Request) -> String {
    // CanonicalizedAmzHeaders: lowercase names, sorted, values of repeated names joined
    // by ',', whitespace around values trimmed and folding collapsed.
    let mut amz: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(n, v)| {
            (
                n.to_ascii_lowercase(),
                v.split_whitespace().collect::<Vec<_>>().join(" "),
            )
        })
        .filter(|(n, _)| n.starts_with("x-amz-"))
        .collect();
    amz.sort_by(|a, b| a.0.cmp(&b.0));
    let mut canonical = String::new();
    let mut last: Option<String> = None;
    for (name, value) in amz {
        if last.as_deref() == Some(name.as_str()) {
            canonical.pop();
            canonical.push(',');
        } else {
            canonical.push_str(&name);
            canonical.push(':');
        }
        canonical.push_str(&value);
        canonical.push('\n');
        last = Some(name);
    }
    format!(
        "{}\n{}\n{}\n{}\n{canonical}{}",
        req.method, req.content_md5, req.content_type, req.date, req.resource
    )
}

/// Base64 of HMAC-SHA1(secret, string to sign).
pub fn signature(secret: &str, string_to_sign: &str) -> String {
    // HMAC takes keys of any length (RFC 2104); an empty signature would be refused.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// `AWS ACCESS_KEY:SIGNATURE`.
pub fn authorization(access_key_id: &str, signature: &str) -> String {
    format!("AWS {access_key_id}:{signature}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    /// The S3 developer guide's REST authentication examples ("Signing and
    /// Authenticating REST Requests", Examples), key AKIAIOSFODNN7EXAMPLE.
    #[test]
    #[allow(clippy::type_complexity)] // a table of the guide's examples, read row by row
    fn s3_developer_guide_examples() {
        let upload_headers = headers(&[
            ("x-amz-acl", "public-read"),
            ("X-Amz-Meta-ReviewedBy", "joe@johnsmith.net"),
            ("X-Amz-Meta-ReviewedBy", "jane@johnsmith.net"),
            ("X-Amz-Meta-FileChecksum", "0x02661779"),
            ("X-Amz-Meta-ChecksumAlgorithm", "crc32"),
            ("Content-Disposition", "attachment; filename=database.dat"),
        ]);
        let none = Vec::new();
        #[rustfmt::skip]
        let cases: [(&str, &str, &str, &str, &[(String, String)], &str, &str); 8] = [
            ("GET", "", "", "Tue, 27 Mar 2007 19:36:42 +0000", &none, "/johnsmith/photos/puppy.jpg", "bWq2s1WEIj+Ydj0vQ697zp+IXMU="),
            ("PUT", "", "image/jpeg", "Tue, 27 Mar 2007 21:15:45 +0000", &none, "/johnsmith/photos/puppy.jpg", "MyyxeRY7whkBe+bq8fHCL/2kKUg="),
            ("GET", "", "", "Tue, 27 Mar 2007 19:42:41 +0000", &none, "/johnsmith/", "htDYFYduRNen8P9ZfE/s9SuKy0U="),
            ("GET", "", "", "Tue, 27 Mar 2007 19:44:46 +0000", &none, "/johnsmith/?acl", "c2WLPFtWHVgbEmeEG93a4cG37dM="),
            ("DELETE", "", "", "Tue, 27 Mar 2007 21:20:26 +0000", &none, "/johnsmith/photos/puppy.jpg", "lx3byBScXR6KzyMaifNkardMwNk="),
            ("PUT", "4gJE4saaMU4BqNR0kLY+lw==", "application/x-download", "Tue, 27 Mar 2007 21:06:08 +0000", &upload_headers, "/static.johnsmith.net/db-backup.dat.gz", "ilyl83RwaSoYIEdixDQcA4OnAnc="),
            ("GET", "", "", "Wed, 28 Mar 2007 01:29:59 +0000", &none, "/", "qGdzdERIC03wnaRNKh6OqZehG9s="),
            ("GET", "", "", "Wed, 28 Mar 2007 01:49:49 +0000", &none, "/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re", "DNEZGsoieTZ92F3bUfSPQcbGmlM="),
        ];
        for (method, md5, ctype, date, hdrs, resource, expected) in cases {
            let req = V2Request {
                method,
                content_md5: md5,
                content_type: ctype,
                date,
                headers: hdrs,
                resource,
            };
            let to_sign = string_to_sign(&req);
            assert_eq!(signature(SECRET, &to_sign), expected, "{method} {resource}");
        }
        let upload = V2Request {
            method: "PUT",
            content_md5: "4gJE4saaMU4BqNR0kLY+lw==",
            content_type: "application/x-download",
            date: "Tue, 27 Mar 2007 21:06:08 +0000",
            headers: &upload_headers,
            resource: "/static.johnsmith.net/db-backup.dat.gz",
        };
        assert_eq!(
            string_to_sign(&upload),
            "PUT\n4gJE4saaMU4BqNR0kLY+lw==\napplication/x-download\nTue, 27 Mar 2007 21:06:08 +0000\n\
             x-amz-acl:public-read\nx-amz-meta-checksumalgorithm:crc32\nx-amz-meta-filechecksum:0x02661779\n\
             x-amz-meta-reviewedby:joe@johnsmith.net,jane@johnsmith.net\n/static.johnsmith.net/db-backup.dat.gz"
        );
        assert_eq!(
            authorization("AKIAIOSFODNN7EXAMPLE", "bWq2s1WEIj+Ydj0vQ697zp+IXMU="),
            "AWS AKIAIOSFODNN7EXAMPLE:bWq2s1WEIj+Ydj0vQ697zp+IXMU="
        );
    }

    /// What the 2010 reference script signed: "PUT\n\n%s\n%s\nx-amz-acl:public-read\n%s"
    /// with content type, date and /bucket/filename.
    #[test]
    fn the_2010_script_string_to_sign() {
        let h = headers(&[("Content-Type", "image/jpeg"), ("x-amz-acl", "public-read")]);
        let req = V2Request {
            method: "PUT",
            content_md5: "",
            content_type: "image/jpeg",
            date: "Mon, 25 Jan 2010 10:07:00 GMT",
            headers: &h,
            resource: "/holiday_photos/meonthebeach.jpg",
        };
        assert_eq!(
            string_to_sign(&req),
            "PUT\n\nimage/jpeg\nMon, 25 Jan 2010 10:07:00 GMT\nx-amz-acl:public-read\n/holiday_photos/meonthebeach.jpg"
        );
    }
}
