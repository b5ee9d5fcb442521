//! Thin tonic adapters: decode a request, identify the caller, call the
//! engine on a blocking thread, encode the answer, map errors in one place.

mod convert;
mod ingest;
mod release;
mod status;

pub use ingest::IngestService;
pub use release::ReleaseService;
