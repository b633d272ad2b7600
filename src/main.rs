//! `s3push`: parse the arguments, run the upload, turn the outcome into an exit code.
#![forbid(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    s3push::cli::run(std::env::args_os().skip(1).collect())
}
