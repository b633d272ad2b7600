//! The request knobs of one upload job: the Plan as resolved, and what the run learns
//! on the way. The Plan stays as `config::resolve` made it; what a store tells the run
//! (its clock, its region, a refused `Expect`, a refused checksum trailer or checksum,
//! a quoted `If-Match` it cannot take, the algorithm of a resumed upload) changes the
//! `Wire` the requests are built from, never the Plan.

use crate::config::{Condition, Endpoint, Plan, Timeouts};
use std::ops::Deref;
use std::sync::Arc;

/// The Plan and the settings requests are sent with. Each field here starts as the
/// Plan's and is what the request builders read (the Plan's own is the user's choice);
/// everything else is read from the Plan through `Deref`.
#[derive(Debug, Clone)]
pub struct Wire {
    plan: Arc<Plan>,
    /// The region requests are signed for: the Plan's, or the one the store named.
    pub region: String,
    /// The endpoint requests go to: the Plan's, or the named region's for AWS's default.
    pub endpoint: Endpoint,
    /// Seconds added to this host's clock when signing (a skew the store reported).
    pub clock_skew: i64,
    /// Send `Expect: 100-continue` before large bodies (off once the store refused it).
    pub expect: bool,
    /// The checksum the store verifies (`x-amz-checksum-*`), if any.
    pub checksum: Option<crate::checksum::Algorithm>,
    /// A checksum computed while sending may go as an aws-chunked trailer.
    pub checksum_trailer: bool,
    /// Send Content-MD5 (a pass over the body first).
    pub content_md5: bool,
    /// Check the ETag against the MD5 of what was sent.
    pub verify_etag: bool,
    /// How long to wait: the Plan's, or longer for a call the store takes long to answer.
    pub timeouts: Timeouts,
    /// Write only if this holds (`If-Match` bare for a store that refuses it quoted).
    pub condition: Option<Condition>,
}

impl Wire {
    /// The knobs of a job that starts now: the Plan's, nothing learnt yet.
    pub fn new(plan: &Plan) -> Wire {
        Wire {
            plan: Arc::new(plan.clone()),
            region: plan.region.clone(),
            endpoint: plan.endpoint.clone(),
            clock_skew: 0,
            expect: plan.expect,
            checksum: plan.checksum,
            checksum_trailer: plan.checksum_trailer,
            content_md5: plan.content_md5,
            verify_etag: plan.verify_etag,
            condition: plan.condition.clone(),
            timeouts: plan.timeouts,
        }
    }

    /// The host name requests go to (bucket first when virtual-hosted).
    pub fn host(&self) -> String {
        if self.path_style {
            self.endpoint.host.clone()
        } else {
            format!("{}.{}", self.bucket, self.endpoint.host)
        }
    }

    /// Requests from now on signed for `region` (and, for AWS's default endpoint, sent
    /// to that region's endpoint).
    pub fn move_to_region(&mut self, region: &str) {
        self.region = region.to_string();
        if self.plan.endpoint_from_region {
            self.endpoint = Endpoint::aws_variant(region, self.plan.aws_variant);
        }
    }
}

impl Deref for Wire {
    type Target = Plan;

    fn deref(&self) -> &Plan {
        &self.plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{self, Env, Options};

    #[test]
    fn a_region_the_store_names_changes_the_wire_and_leaves_the_plan() {
        let options = Options {
            source: "f".into(),
            destination: "s3://my-bucket/k".into(),
            dualstack: true,
            ..Default::default()
        };
        let pairs = vec![
            ("AWS_ACCESS_KEY_ID".to_string(), "AKID".to_string()),
            ("AWS_SECRET_ACCESS_KEY".to_string(), "secret".to_string()),
        ];
        let plan = config::resolve(options, &Env::from_pairs(pairs)).unwrap();
        let mut wire = Wire::new(&plan);
        assert_eq!(wire.host(), plan.host());
        wire.move_to_region("eu-west-3");
        // The redirect keeps the endpoint's variant; the Plan is as resolved.
        assert_eq!(
            wire.host(),
            "my-bucket.s3.dualstack.eu-west-3.amazonaws.com"
        );
        assert_eq!(wire.region, "eu-west-3");
        assert_eq!(plan.host(), Wire::new(&plan).host());
        assert_ne!(plan.region, "eu-west-3");
    }
}
