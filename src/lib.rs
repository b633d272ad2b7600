//! s3push: stream a local file into an S3-compatible bucket in constant memory.
//!
//! Layers, top to bottom (data flows down, nothing calls back up):
//! `cli` -> `batch` -> `config` -> `sign` / `http` -> `transport` -> `upload` -> `report`.
#![forbid(unsafe_code)]

pub mod batch;
pub mod checksum;
pub mod cli;
pub mod config;
pub mod error;
pub mod http;
pub mod interrupt;
pub mod presign;
pub mod report;
pub mod secret;
pub mod sign;
pub mod transport;
pub mod upload;

pub use error::Error;

/// Runs s3push with `args` (without the program name) and returns the process exit code.
pub fn main_with_args(args: Vec<std::ffi::OsString>) -> std::process::ExitCode {
    cli::run(args)
}
