//! Request signing: pure functions, time passed in, so published vectors reproduce.
pub mod chunked;
pub mod presign;
pub mod time;
pub mod uri;
pub mod v2;
pub mod v4;
