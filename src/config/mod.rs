//! From what the user said (options, environment, shared files) to a resolved [`Plan`]:
//! every check that needs no network happens here, before any connection; then the
//! credential chain, which may call a metadata service or STS, or run a process.

mod checks;
pub mod credentials;
pub mod endpoint;
mod env;
mod fetch;
pub mod json;
pub mod memory;
mod network;
mod options;
mod parts;
mod plan;
pub mod presigned;
pub mod profile;
pub mod protection;
pub mod proxy;
mod resolve;

pub use crate::transport::Trust;
pub use checks::{parse_destination, parse_size, CANNED_ACLS, MAX_KEY_BYTES};
pub use credentials::{CredentialSource, Credentials};
pub use endpoint::{AwsVariant, Endpoint, Scheme};
pub use env::Env;
pub use options::{
    BatchOptions, Condition, MultipartOptions, ObjectHeaders, OnFailure, Options, PayloadMode,
    SignatureVersion,
};
pub use parts::{
    DEFAULT_JOBS, DEFAULT_STDIN_JOBS, DEFAULT_THRESHOLD, MAX_OBJECT, MAX_PART, MAX_PARTS, MIN_PART,
};
pub use plan::{Multipart, Plan, RetryPolicy, Timeouts};
pub use presigned::UrlTarget;
pub use proxy::{NoProxy, Proxy, ProxyRoute};
pub use resolve::{default_checksum, resolve};
