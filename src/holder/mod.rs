//! The data holder's side of holder pseudonyms: the holders' key, and the
//! rewrite of an upload file that puts each identifier's holder pseudonym
//! in its place before anything leaves the holder's machine.
//!
//! This runs in the holder's `ddc upload`, never in the server: the
//! server sees 64 hex digits per row and hashes them again under its own
//! key (see [`crate::pseudonym::HolderPseudonym`]). The file is read with
//! the server's own line and field rules (`ingest::lines`), so
//! the identifier is found where the server would look for it and rows
//! are numbered as the server numbers them. Only the identifier column is
//! rewritten; every other byte of a row is sent as it is.

mod key;
mod rewrite;

pub use key::{HoldersKey, HoldersKeyError};
pub use rewrite::{check, HolderRewrite, RewriteError, MAX_LOCAL_PROBLEMS};
