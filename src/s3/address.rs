//! Where an S3 request goes: the path of the object or its bucket, path-style or
//! virtual-hosted, and the query, each byte encoded once (SigV4: "canonical URI").

use crate::sign::uri;

/// The query parameters SigV2 signs (S3 developer guide, "Constructing the
/// CanonicalizedResource Element"), sorted.
const V2_SUBRESOURCES: &[&str] = &[
    "acl",
    "delete",
    "lifecycle",
    "location",
    "logging",
    "notification",
    "partNumber",
    "policy",
    "requestPayment",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
];

/// What a request acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// The object at the key.
    Object,
    /// The bucket itself (ListMultipartUploads).
    Bucket,
}

/// A bucket and key; path-style puts the bucket in the path, virtual-hosted in the host
/// name.
#[derive(Debug, Clone, Copy)]
pub struct Address<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub path_style: bool,
}

impl Address<'_> {
    /// The request path, encoded: `/KEY` or `/BUCKET/KEY` (`/BUCKET/` for the bucket).
    pub fn encoded_path(&self, resource: Resource) -> String {
        let key = self.key_of(resource);
        let path = if self.path_style {
            format!("/{}/{key}", self.bucket)
        } else {
            format!("/{key}")
        };
        uri::encode_path(&path)
    }

    /// The origin-form request target: the encoded path and the query (sorted pairs).
    pub fn target(&self, resource: Resource, sorted_query: &[(String, String)]) -> String {
        let path = self.encoded_path(resource);
        match query_string(sorted_query) {
            q if q.is_empty() => path,
            q => format!("{path}?{q}"),
        }
    }

    /// SigV2's CanonicalizedResource: always `/BUCKET/KEY`, also for virtual-hosted
    /// requests, then only S3's sub-resources, sorted, values as they are, a bare name
    /// when empty: `?partNumber=2&uploadId=ID`, `?uploads`.
    pub fn v2_resource(&self, resource: Resource, sorted_query: &[(String, String)]) -> String {
        let key = self.key_of(resource);
        let mut out = uri::encode_path(&format!("/{}/{key}", self.bucket));
        let mut separator = '?';
        for (name, value) in sorted_query {
            if V2_SUBRESOURCES.contains(&name.as_str()) {
                out.push(separator);
                out.push_str(name);
                if !value.is_empty() {
                    out.push('=');
                    out.push_str(value);
                }
                separator = '&';
            }
        }
        out
    }

    fn key_of(&self, resource: Resource) -> &str {
        match resource {
            Resource::Object => self.key,
            Resource::Bucket => "",
        }
    }
}

/// `name=value&...` with names and values encoded, in the order given (SigV4 signs the
/// pairs sorted: sort them first). An empty value keeps its `=`.
pub fn query_string(query: &[(String, String)]) -> String {
    query
        .iter()
        .map(|(k, v)| format!("{}={}", uri::encode_component(k), uri::encode_component(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn paths_encode_each_byte_once() {
        let a = Address {
            bucket: "b",
            key: "a b/+%=&~/ü//x",
            path_style: true,
        };
        let query = pairs(&[("partNumber", "2"), ("uploadId", "a/b")]);
        assert_eq!(
            a.target(Resource::Object, &query),
            "/b/a%20b/%2B%25%3D%26~/%C3%BC//x?partNumber=2&uploadId=a%2Fb"
        );
        assert_eq!(a.target(Resource::Bucket, &[]), "/b/");
        let hosted = Address {
            path_style: false,
            ..a
        };
        assert_eq!(
            hosted.encoded_path(Resource::Object),
            "/a%20b/%2B%25%3D%26~/%C3%BC//x"
        );
    }

    #[test]
    fn v2_resource_keeps_only_subresources() {
        let a = Address {
            bucket: "bucket",
            key: "k",
            path_style: false,
        };
        let query = pairs(&[("prefix", "k"), ("uploads", "")]);
        assert_eq!(a.v2_resource(Resource::Bucket, &query), "/bucket/?uploads");
        let query = pairs(&[("partNumber", "2"), ("uploadId", "a/b")]);
        assert_eq!(
            a.v2_resource(Resource::Object, &query),
            "/bucket/k?partNumber=2&uploadId=a/b"
        );
    }
}
