//! Conditional writes (`--no-clobber`, `--if-match`): the look before sending, and a
//! refusal in the user's words.

use super::call;
use super::multipart::unquote;
use super::single::tls_for;
use crate::config::Condition;
use crate::error::Error;
use crate::report;
use crate::s3;
use crate::upload::wire::Wire;

/// With `--no-clobber` or `--if-match`, looks at the key (HEAD) before anything is sent:
/// for a multipart upload the store checks the condition only at Complete, after every
/// byte went up, and some stores (Garage 2.5) ignore the condition on PUT altogether. A
/// refusal here costs one round trip; an answer that does not settle it (403 to a user
/// who may not read, an unreachable store) leaves the decision to the store's check of
/// the condition, still sent, which is what makes it safe against a writer racing in
/// between (where the store honours it), and says so.
pub fn condition_holds_now(plan: &Wire) -> Result<(), Error> {
    let Some(condition) = plan.condition.as_ref().filter(|_| !plan.dry_run) else {
        return Ok(());
    };
    let tls = tls_for(plan)?;
    let request = s3::HeadObject {
        checksum_mode: false,
    }
    .request();
    let found = match call::send(plan, tls.as_ref(), request) {
        Ok(answer) => Some(answer.response.head.header("etag").map(str::to_string)),
        Err(Error::Refused(r)) if r.status == 404 => None,
        Err(e) => {
            report::note(
                plan.quiet,
                &format!(
                    "could not look at {} before writing ({e}): the store's own check of {} is then the only guard, \
                     and some stores (Garage) ignore it",
                    plan.url(),
                    condition.flag()
                ),
            );
            return Ok(());
        }
    };
    let holds = match (condition, &found) {
        (Condition::NoneMatch, found) => found.is_none(),
        (Condition::Match(_), None) => false,
        (Condition::Match(etag), Some(Some(theirs))) => {
            etag == "*" || unquote(etag) == unquote(theirs)
        }
        (Condition::Match(_), Some(None)) => true,
    };
    if holds {
        return Ok(());
    }
    Err(not_written(plan, condition).with_note("found before sending: nothing was sent"))
}

/// A 412 to a conditional write, in the user's words (exit 11); any other error as it is.
/// `broke_off`: an earlier attempt of the same request failed on the way, and may have
/// stored the object itself.
pub fn precondition_failed(plan: &Wire, error: Error, broke_off: bool) -> Error {
    let (Error::Refused(r), Some(condition)) = (&error, &plan.condition) else {
        return error;
    };
    if r.status != 412 {
        return error;
    }
    let error = not_written(plan, condition);
    if broke_off {
        return error.with_note(
            "an earlier attempt broke off on the way and may have stored it itself: \
             compare its ETag with the file's MD5",
        );
    }
    error
}

/// The wire with the `--if-match` ETag bare, where it was quoted: Ceph RGW 16.2 refuses
/// `If-Match: "ETAG"` (quoted, as S3 documents it) with 412 and takes `If-Match: ETAG`.
pub fn bare_if_match(wire: &Wire) -> Option<Wire> {
    let Some(Condition::Match(etag)) = &wire.condition else {
        return None;
    };
    let bare = etag.trim_matches('"');
    (bare != etag && bare != "*").then(|| {
        let mut wire = wire.clone();
        wire.condition = Some(Condition::Match(bare.to_string()));
        wire
    })
}

/// The object at the plan's key does not meet `condition`: nothing is written (exit 11).
pub fn not_written(plan: &Wire, condition: &Condition) -> Error {
    let url = plan.url();
    Error::Precondition(match condition {
        Condition::NoneMatch => format!("{url} exists; --no-clobber did not overwrite it"),
        Condition::Match(etag) => format!(
            "{url} is not the object with ETag {etag} (it changed, or is gone); --if-match did not \
             overwrite it: look up its ETag again"
        ),
    })
}
