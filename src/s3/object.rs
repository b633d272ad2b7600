//! Actions on the object as a whole: PutObject, HeadObject, DeleteObject, GetObjectAcl.

use super::{Request, Resource};
use crate::http::xml;

/// PutObject: `PUT /KEY`, the object's headers, the body streamed by the caller.
pub struct PutObject {
    /// What describes the object (content type, metadata, ACL, encryption...), and the
    /// caller's conditions and integrity headers.
    pub headers: Vec<(String, String)>,
}

impl PutObject {
    pub fn request(self) -> Request {
        Request::new("PutObject", "PUT", Resource::Object).headers(self.headers)
    }
}

/// HeadObject: `HEAD /KEY`; with `checksum_mode`, the object's checksum is asked for
/// (`x-amz-checksum-mode: ENABLED`).
pub struct HeadObject {
    pub checksum_mode: bool,
}

impl HeadObject {
    pub fn request(self) -> Request {
        let request = Request::new("HeadObject", "HEAD", Resource::Object);
        if self.checksum_mode {
            return request.header("x-amz-checksum-mode", "ENABLED");
        }
        request
    }
}

/// DeleteObject: `DELETE /KEY`.
pub struct DeleteObject;

impl DeleteObject {
    pub fn request(self) -> Request {
        Request::new("DeleteObject", "DELETE", Resource::Object)
    }
}

/// GetObjectAcl: `GET /KEY?acl`; the answer is an AccessControlPolicy.
pub struct GetObjectAcl;

impl GetObjectAcl {
    pub fn request(self) -> Request {
        Request::new("GetObjectAcl", "GET", Resource::Object).query("acl", "")
    }

    /// True when the AccessControlPolicy in `body` lets the group whose URI ends with
    /// `group` (`AllUsers`, `AuthenticatedUsers`) read the object: READ or FULL_CONTROL.
    pub fn grants_read_to(body: &[u8], group: &str) -> bool {
        let doc = String::from_utf8_lossy(body);
        xml::elements(&doc, "Grant").iter().any(|g| {
            xml::field(g, "URI").is_some_and(|u| u.ends_with(group))
                && xml::field(g, "Permission")
                    .is_some_and(|p| matches!(p.trim(), "READ" | "FULL_CONTROL"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_actions_know_their_method_and_query() {
        let head = HeadObject {
            checksum_mode: true,
        }
        .request();
        assert_eq!((head.method, head.resource), ("HEAD", Resource::Object));
        assert_eq!(
            head.headers,
            [("x-amz-checksum-mode".to_string(), "ENABLED".to_string())]
        );
        let acl = GetObjectAcl.request();
        assert_eq!(
            (acl.method, acl.query.as_slice()),
            ("GET", &[("acl".to_string(), String::new())][..])
        );
        assert_eq!(DeleteObject.request().method, "DELETE");
    }

    #[test]
    fn acl_grants_are_read_by_group_and_permission() {
        let policy = br#"<AccessControlPolicy><AccessControlList>
            <Grant><Grantee xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>READ</Permission></Grant>
            <Grant><Grantee xsi:type="CanonicalUser"><ID>x</ID></Grantee><Permission>FULL_CONTROL</Permission></Grant>
            </AccessControlList></AccessControlPolicy>"#;
        assert!(GetObjectAcl::grants_read_to(policy, "AllUsers"));
        assert!(!GetObjectAcl::grants_read_to(policy, "AuthenticatedUsers"));
        assert!(!GetObjectAcl::grants_read_to(
            b"<AccessControlPolicy/>",
            "AllUsers"
        ));
    }
}
