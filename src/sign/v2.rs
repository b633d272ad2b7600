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

/// `METHOD\nContent-MD5\nContent-Type\nDate\n` + CanonicalizedAmzHeaders + resource.
pub fn string_to_sign(req: &V2Request) -> String {
    // CanonicalizedAmzHeaders ("Constructing the CanonicalizedAmzHeaders Element"):
    // lowercase names, sorted (stably, so repeated names keep their order), values of
    // repeated names joined by ',', values trimmed and unfolded.
    let mut amz: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), unfold(v)))
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

/// Trims a value and unfolds it: a line break and the whitespace around it become one
/// space. Other inner whitespace is signed as sent: unlike SigV4, SigV2 does not collapse
/// runs of spaces (S3 guide step 4 of CanonicalizedAmzHeaders; botocore, s3s trim only).
fn unfold(value: &str) -> String {
    value
        .split(['\r', '\n'])
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One of the S3 developer guide's "Authentication examples" (RESTAuthentication.md in
    /// awsdocs/amazon-s3-developer-guide, commit e799f25f, where the bucket is still
    /// `johnsmith`; later copies renamed it `awsexamplebucket1` but kept the signatures,
    /// which only match the `johnsmith` strings). Key pair AKIAIOSFODNN7EXAMPLE /
    /// wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY. `headers` are the request's headers with
    /// the raw text after the colon.
    struct GuideCase {
        name: &'static str,
        method: &'static str,
        content_md5: &'static str,
        content_type: &'static str,
        date: &'static str,
        headers: &'static [(&'static str, &'static str)],
        resource: &'static str,
        string_to_sign: &'static str,
        signature: &'static str,
    }

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    #[rustfmt::skip]
    const GUIDE: &[GuideCase] = &[
        GuideCase {
            name: "Object GET",
            method: "GET",
            content_md5: "",
            content_type: "",
            date: "Tue, 27 Mar 2007 19:36:42 +0000",
            headers: &[("Host", " johnsmith.s3.amazonaws.com"), ("Date", " Tue, 27 Mar 2007 19:36:42 +0000")],
            resource: "/johnsmith/photos/puppy.jpg",
            string_to_sign: "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/johnsmith/photos/puppy.jpg",
            signature: "bWq2s1WEIj+Ydj0vQ697zp+IXMU=",
        },
        GuideCase {
            name: "Object PUT",
            method: "PUT",
            content_md5: "",
            content_type: "image/jpeg",
            date: "Tue, 27 Mar 2007 21:15:45 +0000",
            headers: &[("Content-Type", " image/jpeg"), ("Content-Length", " 94328"), ("Host", " johnsmith.s3.amazonaws.com"), ("Date", " Tue, 27 Mar 2007 21:15:45 +0000")],
            resource: "/johnsmith/photos/puppy.jpg",
            string_to_sign: "PUT\n\nimage/jpeg\nTue, 27 Mar 2007 21:15:45 +0000\n/johnsmith/photos/puppy.jpg",
            signature: "MyyxeRY7whkBe+bq8fHCL/2kKUg=",
        },
        GuideCase {
            name: "List",
            method: "GET",
            content_md5: "",
            content_type: "",
            date: "Tue, 27 Mar 2007 19:42:41 +0000",
            headers: &[("User-Agent", " Mozilla/5.0"), ("Host", " johnsmith.s3.amazonaws.com"), ("Date", " Tue, 27 Mar 2007 19:42:41 +0000")],
            resource: "/johnsmith/",
            string_to_sign: "GET\n\n\nTue, 27 Mar 2007 19:42:41 +0000\n/johnsmith/",
            signature: "htDYFYduRNen8P9ZfE/s9SuKy0U=",
        },
        GuideCase {
            name: "Fetch",
            method: "GET",
            content_md5: "",
            content_type: "",
            date: "Tue, 27 Mar 2007 19:44:46 +0000",
            headers: &[("Host", " johnsmith.s3.amazonaws.com"), ("Date", " Tue, 27 Mar 2007 19:44:46 +0000")],
            resource: "/johnsmith/?acl",
            string_to_sign: "GET\n\n\nTue, 27 Mar 2007 19:44:46 +0000\n/johnsmith/?acl",
            signature: "c2WLPFtWHVgbEmeEG93a4cG37dM=",
        },
        // The guide's request also sends `x-amz-date: Tue, 27 Mar 2007 21:20:26 +0000`, but
        // its printed StringToSign (and signature) put that value on the Date line with no
        // x-amz-date line, against its own rule a paragraph above; we reproduce the printed
        // string, so the x-amz-date header is left out here (see x_amz_date_leaves_the_date_line_empty).
        GuideCase {
            name: "Delete",
            method: "DELETE",
            content_md5: "",
            content_type: "",
            date: "Tue, 27 Mar 2007 21:20:26 +0000",
            headers: &[("User-Agent", " dotnet"), ("Host", " s3.amazonaws.com"), ("Date", " Tue, 27 Mar 2007 21:20:27 +0000")],
            resource: "/johnsmith/photos/puppy.jpg",
            string_to_sign: "DELETE\n\n\nTue, 27 Mar 2007 21:20:26 +0000\n/johnsmith/photos/puppy.jpg",
            signature: "lx3byBScXR6KzyMaifNkardMwNk=",
        },
        GuideCase {
            name: "Upload",
            method: "PUT",
            content_md5: "4gJE4saaMU4BqNR0kLY+lw==",
            content_type: "application/x-download",
            date: "Tue, 27 Mar 2007 21:06:08 +0000",
            headers: &[
                ("User-Agent", " curl/7.15.5"),
                ("Host", " static.johnsmith.net:8080"),
                ("Date", " Tue, 27 Mar 2007 21:06:08 +0000"),
                ("x-amz-acl", " public-read"),
                ("content-type", " application/x-download"),
                ("Content-MD5", " 4gJE4saaMU4BqNR0kLY+lw=="),
                ("X-Amz-Meta-ReviewedBy", " joe@johnsmith.net"),
                ("X-Amz-Meta-ReviewedBy", " jane@johnsmith.net"),
                ("X-Amz-Meta-FileChecksum", " 0x02661779"),
                ("X-Amz-Meta-ChecksumAlgorithm", " crc32"),
                ("Content-Disposition", " attachment; filename=database.dat"),
                ("Content-Encoding", " gzip"),
                ("Content-Length", " 5913339"),
            ],
            resource: "/static.johnsmith.net/db-backup.dat.gz",
            string_to_sign: "PUT\n4gJE4saaMU4BqNR0kLY+lw==\napplication/x-download\nTue, 27 Mar 2007 21:06:08 +0000\nx-amz-acl:public-read\nx-amz-meta-checksumalgorithm:crc32\nx-amz-meta-filechecksum:0x02661779\nx-amz-meta-reviewedby:joe@johnsmith.net,jane@johnsmith.net\n/static.johnsmith.net/db-backup.dat.gz",
            signature: "ilyl83RwaSoYIEdixDQcA4OnAnc=",
        },
        GuideCase {
            name: "List All My Buckets",
            method: "GET",
            content_md5: "",
            content_type: "",
            date: "Wed, 28 Mar 2007 01:29:59 +0000",
            headers: &[("Host", " s3.amazonaws.com"), ("Date", " Wed, 28 Mar 2007 01:29:59 +0000")],
            resource: "/",
            string_to_sign: "GET\n\n\nWed, 28 Mar 2007 01:29:59 +0000\n/",
            signature: "qGdzdERIC03wnaRNKh6OqZehG9s=",
        },
        GuideCase {
            name: "Unicode Keys",
            method: "GET",
            content_md5: "",
            content_type: "",
            date: "Wed, 28 Mar 2007 01:49:49 +0000",
            headers: &[("Host", " s3.amazonaws.com"), ("Date", " Wed, 28 Mar 2007 01:49:49 +0000")],
            resource: "/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re",
            string_to_sign: "GET\n\n\nWed, 28 Mar 2007 01:49:49 +0000\n/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re",
            signature: "DNEZGsoieTZ92F3bUfSPQcbGmlM=",
        },
        // "Query string request authentication": Expires takes the Date line; the guide
        // prints the signature URL-encoded (NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D).
        GuideCase {
            name: "Query string request authentication",
            method: "GET",
            content_md5: "",
            content_type: "",
            date: "1175139620",
            headers: &[("Host", " johnsmith.s3.amazonaws.com")],
            resource: "/johnsmith/photos/puppy.jpg",
            string_to_sign: "GET\n\n\n1175139620\n/johnsmith/photos/puppy.jpg",
            signature: "NpgCjnDzrM+WFzoENXmpNDUsSn8=",
        },
    ];

    #[test]
    fn s3_developer_guide_examples() {
        for case in GUIDE {
            let headers = pairs(case.headers);
            let req = V2Request {
                method: case.method,
                content_md5: case.content_md5,
                content_type: case.content_type,
                date: case.date,
                headers: &headers,
                resource: case.resource,
            };
            let to_sign = string_to_sign(&req);
            assert_eq!(to_sign, case.string_to_sign, "{}", case.name);
            assert_eq!(signature(SECRET, &to_sign), case.signature, "{}", case.name);
        }
        // The Object GET example's header, whole.
        assert_eq!(
            authorization("AKIAIOSFODNN7EXAMPLE", "bWq2s1WEIj+Ydj0vQ697zp+IXMU="),
            "AWS AKIAIOSFODNN7EXAMPLE:bWq2s1WEIj+Ydj0vQ697zp+IXMU="
        );
    }

    /// The guide's rule ("Time stamp requirement"), as S3 and s3s apply it: with an
    /// x-amz-date header the caller passes "" as the date, and x-amz-date is signed among
    /// the x-amz-* headers.
    #[test]
    fn x_amz_date_leaves_the_date_line_empty() {
        let headers = pairs(&[
            ("Date", "Tue, 27 Mar 2007 21:20:27 +0000"),
            ("x-amz-date", "Tue, 27 Mar 2007 21:20:26 +0000"),
        ]);
        let req = V2Request {
            method: "DELETE",
            content_md5: "",
            content_type: "",
            date: "",
            headers: &headers,
            resource: "/johnsmith/photos/puppy.jpg",
        };
        assert_eq!(
            string_to_sign(&req),
            "DELETE\n\n\n\nx-amz-date:Tue, 27 Mar 2007 21:20:26 +0000\n/johnsmith/photos/puppy.jpg"
        );
    }

    /// What the 2010 reference script signed: "PUT\n\n%s\n%s\nx-amz-acl:public-read\n%s"
    /// with content type, date and /bucket/filename (reference/seed-streaming-uploads-to-s3.txt).
    /// The signature is what the script's own lines give (run under Python 3, with
    /// `encodestring` renamed `encodebytes`) for the guide's secret key.
    #[test]
    fn the_2010_script_string_to_sign() {
        let headers = pairs(&[
            ("Date", "Mon, 25 Jan 2010 10:07:00 GMT"),
            ("Content-Type", "image/jpeg"),
            ("Content-Length", "94328"),
            ("x-amz-acl", "public-read"),
        ]);
        let req = V2Request {
            method: "PUT",
            content_md5: "",
            content_type: "image/jpeg",
            date: "Mon, 25 Jan 2010 10:07:00 GMT",
            headers: &headers,
            resource: "/holiday_photos/meonthebeach.jpg",
        };
        assert_eq!(
            string_to_sign(&req),
            "PUT\n\nimage/jpeg\nMon, 25 Jan 2010 10:07:00 GMT\nx-amz-acl:public-read\n/holiday_photos/meonthebeach.jpg"
        );
        assert_eq!(
            signature(SECRET, &string_to_sign(&req)),
            "lUfhH2vcVt7ssg4/Xi7OT/CpAwM="
        );
    }

    #[test]
    fn amz_values_are_trimmed_and_unfolded_but_inner_spaces_kept() {
        let headers = pairs(&[
            ("X-Amz-Meta-Title", "  two  spaces\t"),
            ("x-amz-meta-note", "folded\r\n   line"),
        ]);
        let req = V2Request {
            method: "PUT",
            content_md5: "",
            content_type: "",
            date: "",
            headers: &headers,
            resource: "/b/k",
        };
        assert_eq!(
            string_to_sign(&req),
            "PUT\n\n\n\nx-amz-meta-note:folded line\nx-amz-meta-title:two  spaces\n/b/k"
        );
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}
