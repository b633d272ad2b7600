//! What a failed multipart upload turns into (aborted, or kept for `--resume`), and the
//! commands that resume or discard an upload left on the store.

use super::super::journal;
use super::{abort, Session, KEEP_FROM};
use crate::config::OnFailure;
use crate::error::Error;
use crate::interrupt;
use crate::report::progress::Kept;
use crate::upload::wire::Wire;
use std::path::Path;

/// What a failed multipart upload turns into, by policy: aborted (the cause's error, and
/// nothing left on the server), or kept (exit 10, with the commands that resume or
/// discard it).
pub fn fail(
    session: &Session,
    cause: Error,
    journal_path: Option<&Path>,
    size: u64,
    stored: usize,
    parts: u32,
) -> Error {
    let plan = &session.wire;
    let id = &session.upload_id;
    if id.is_empty() {
        // Aborted already (send_first_part): nothing to keep or discard.
        if let Some(j) = journal_path {
            let _ = journal::remove(j);
        }
        return cause;
    }
    let stdin = plan.from_stdin();
    let policy = plan
        .multipart
        .on_failure
        .unwrap_or(if stdin || size < KEEP_FROM {
            OnFailure::Abort
        } else {
            OnFailure::Keep
        });
    // Refused at Complete by --no-clobber or --if-match: a resume would be refused the
    // same way, so the parts are never kept.
    let policy = if matches!(cause, Error::Precondition(_)) {
        OnFailure::Abort
    } else {
        policy
    };
    let discard = format!(
        "s3push --abort --upload-id {} {}",
        shell_word(id),
        plan.url()
    );
    if policy == OnFailure::Abort {
        interrupt::begin_cleanup();
        return match abort(session) {
            Ok(()) => {
                if let Some(j) = journal_path {
                    let _ = journal::remove(j);
                }
                if matches!(cause, Error::Precondition(_)) {
                    return cause.with_note(&format!(
                        "the multipart upload {id} was aborted, its parts deleted"
                    ));
                }
                cause.with_note(&format!(
                    "the multipart upload was aborted: nothing of s3://{}/{} is left on the server",
                    plan.bucket, plan.key
                ))
            }
            Err(e) => {
                crate::upload::meter().keep(Kept {
                    upload_id: id.clone(),
                    resume: None,
                    discard: discard.clone(),
                });
                cause.with_note(&format!(
                "aborting upload {id} failed too ({e}): its {stored} stored parts still cost storage; discard them with `{discard}`"
            ))
            }
        };
    }
    crate::upload::meter().keep(Kept {
        upload_id: id.clone(),
        resume: (!stdin).then(|| resume_command(plan)),
        discard: discard.clone(),
    });
    let parts_note = if parts > 0 {
        format!("{stored} of {parts} parts stored")
    } else {
        format!("{stored} parts stored")
    };
    let next = if stdin {
        format!("standard input cannot be resumed: discard it with `{discard}`")
    } else {
        format!(
            "resume with `{}` or discard it with `{discard}`",
            resume_command(plan)
        )
    };
    Error::Kept(format!(
        "{} ({}); upload {id} is kept with {parts_note}: {next}",
        cause,
        cause.kind()
    ))
}

/// `s3push --resume [--endpoint URL] FILE s3://bucket/key`.
fn resume_command(plan: &Wire) -> String {
    let mut cmd = String::from("s3push --resume");
    if !plan.endpoint_from_region {
        cmd.push_str(&format!(" --endpoint {}", plan.endpoint.url()));
    }
    cmd.push_str(&format!(
        " {} {}",
        shell_word(&plan.source.display().to_string()),
        shell_word(&plan.url())
    ));
    cmd
}

/// A word the shell reads back as itself: single-quoted when it has anything special.
pub(super) fn shell_word(text: &str) -> String {
    if !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b))
    {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// From now until it is completed or aborted, a second signal (which ends the process at
/// once) first says which upload is left on the store and how to resume or discard it.
pub(super) fn announce(session: &Session) {
    let plan = &session.wire;
    let id = &session.upload_id;
    let discard = format!(
        "s3push --abort --upload-id {} {}",
        shell_word(id),
        plan.url()
    );
    interrupt::pending_upload(Some(if plan.from_stdin() {
        format!(
            "upload {id} of {} is left on the store (standard input cannot be resumed): discard it with `{discard}`",
            plan.url()
        )
    } else {
        format!(
            "upload {id} of {} is left on the store: resume it with `{}` or discard it with `{discard}`",
            plan.url(),
            resume_command(plan)
        )
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_survive_the_shell() {
        assert_eq!(shell_word("s3://b/k.bin"), "s3://b/k.bin");
        assert_eq!(shell_word("my file"), "'my file'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(shell_word(""), "''");
    }
}
