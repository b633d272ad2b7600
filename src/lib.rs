//! s3push: stream a local file into an S3-compatible bucket in constant memory.
//!
//! This file only lists the modules; their layers and the rules between them are in
//! doc/architecture.json (held against the code by `farm-studio draw`): the command line
//! (`cli`, `batch`, `presign`) over `config` (the Plan) and `upload`, over `s3` (typed
//! actions), `sign`, `http` and `transport`; `report` is fed by events; `error` is
//! imported directly.
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
pub mod s3;
pub mod secret;
pub mod sign;
pub mod transport;
pub mod upload;
