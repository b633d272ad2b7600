//! The command line: pico-args into [`Options`], unknown flags refused, then run.
//! `parse` reads the arguments, `help` holds the texts, this file runs what they ask and
//! reports.

mod help;
mod options;
mod parse;

pub use help::{version, HELP, HELP_ALL, PRESIGN_HELP};
pub use parse::{parse, Parsed};

use crate::config::{self, Options};
use crate::error::exit;
use crate::error::Error;
use crate::{report, upload};
use std::ffi::OsString;
use std::process::ExitCode;

/// Parses `args`, runs the upload, reports, and returns the exit code.
pub fn run(args: Vec<OsString>) -> ExitCode {
    // Known before parsing, so that a usage error is JSON too.
    let json = args.iter().any(|a| a == "--json");
    let failed = |e: Error| {
        let output = report::Output {
            json,
            ..Default::default()
        };
        report::failure(&output, &e, None);
        ExitCode::from(e.exit_code())
    };
    match parse(args) {
        Ok(Parsed::Help) => {
            report::print_stdout(HELP);
            ExitCode::SUCCESS
        }
        Ok(Parsed::HelpAll) => {
            report::print_stdout(HELP_ALL);
            ExitCode::SUCCESS
        }
        Ok(Parsed::Version) => {
            report::print_stdout(&version());
            ExitCode::SUCCESS
        }
        Ok(Parsed::PresignHelp) => {
            report::print_stdout(PRESIGN_HELP);
            ExitCode::SUCCESS
        }
        Ok(Parsed::Presign(options)) => {
            let quiet = options.quiet;
            match crate::presign::run(*options, &config::Env::from_process()) {
                Ok(presigned) => {
                    report::print_stdout(&format!("{}\n", presigned.url));
                    if !presigned.headers.is_empty() {
                        let list: Vec<String> = presigned
                            .headers
                            .iter()
                            .map(|(n, v)| format!("{n}: {v}"))
                            .collect();
                        report::note(
                            quiet,
                            &format!("the PUT must send these headers: {}", list.join(", ")),
                        );
                    }
                    ExitCode::from(exit::OK)
                }
                Err(e) => failed(e),
            }
        }
        Ok(Parsed::Upload(options)) if options.batch.is_batch() => run_batch(&options),
        Ok(Parsed::Upload(options)) => {
            let output = output_of(&options);
            report::trace::set_level(output.verbose);
            crate::interrupt::install();
            match config::resolve(*options, &config::Env::from_process()) {
                Ok(plan) => {
                    for warning in &plan.warnings {
                        report::warning(warning);
                    }
                    ExitCode::from(upload_and_report(&plan, &output))
                }
                Err(e) => {
                    report::failure(&output, &e, None);
                    ExitCode::from(e.exit_code())
                }
            }
        }
        Err(e) => failed(e),
    }
}

/// Several files: each with its progress and its result (text or JSON) as it is done,
/// then the summary on stderr.
fn run_batch(options: &Options) -> ExitCode {
    let output = output_of(options);
    report::trace::set_level(output.verbose);
    crate::interrupt::install();
    let result = crate::batch::run(
        options,
        &config::Env::from_process(),
        |plan, slot| with_progress(plan, &output, || upload::run_on(plan, slot)),
        |plan, result| report_result(&output, plan, result),
    );
    match result {
        Ok(summary) => {
            let trouble = summary.failed > 0 || summary.stopped.is_some();
            if summary.files() != 1 || summary.stopped.is_some() {
                report::note(output.quiet && !trouble, &summary.line());
            }
            ExitCode::from(summary.exit_code())
        }
        Err(e) => {
            report::failure(&output, &e, None);
            ExitCode::from(e.exit_code())
        }
    }
}

/// How results are shown, as the options say.
fn output_of(options: &Options) -> report::Output {
    report::Output {
        quiet: options.quiet,
        json: options.json,
        progress: options.progress,
        verbose: options.verbose,
    }
}

/// Uploads one object with its progress shown, reports its result (text or JSON), and
/// returns its exit code.
pub fn upload_and_report(plan: &config::Plan, output: &report::Output) -> u8 {
    let result = with_progress(plan, output, || upload::run(plan));
    report_result(output, Some(plan), result.as_ref());
    match result {
        Ok(_) => exit::OK,
        Err(e) => e.exit_code(),
    }
}

/// Starts a new object (its meter) and runs `upload` with its progress on stderr (as
/// the output asks).
fn with_progress(
    plan: &config::Plan,
    o: &report::Output,
    upload: impl FnOnce() -> Result<upload::Outcome, Error>,
) -> Result<upload::Outcome, Error> {
    // `--abort` sends no body: nothing to show progress of.
    let quiet = o.quiet || plan.multipart.abort;
    let style = report::progress::Style::choose(quiet, o.progress, o.verbose);
    let progress = report::progress::Progress::start(upload::start_job(), style);
    let result = upload();
    progress.finish();
    result
}

/// One object's result line (or JSON object); a failure names the upload it kept.
fn report_result(
    output: &report::Output,
    plan: Option<&config::Plan>,
    result: Result<&upload::Outcome, &Error>,
) {
    match result {
        Ok(outcome) => report::success(output, outcome),
        Err(e) => {
            let url = plan.map(config::Plan::url);
            let target = plan.zip(url.as_deref()).map(|(plan, url)| report::Target {
                bucket: &plan.bucket,
                key: &plan.key,
                url,
                kept: upload::meter().kept(),
            });
            report::failure(output, e, target.as_ref());
        }
    }
}
