//! HTTP/1.1 pieces without IO: request head writer, response head parser, body framing,
//! S3 XML fields. Each takes bytes and returns a value or "need more"; the transport
//! owns the sockets.
pub mod body;
pub mod request;
pub mod response;
pub mod xml;
