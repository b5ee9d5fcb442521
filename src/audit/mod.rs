//! The linkage log: what happened to the data, in a form auditors verify
//! themselves.
//!
//! - [`event`]: the typed entry and its canonical, versioned encoding.
//! - [`merkle`]: the RFC 6962 / RFC 9162 Merkle tree over the entries, its
//!   roots and proofs, and their verification.
//! - [`note`]: C2SP signed notes and checkpoints (tree size and root),
//!   signed with Ed25519.
//! - [`digest`]: the keyed digest an upload's content is logged by.
//! - [`verify`]: the auditor's check of a whole log against checkpoints.
//!
//! Storage lives in [`crate::store`] (one commit path, in the action's own
//! transaction); this module does no I/O.

pub mod digest;
pub mod event;
pub mod merkle;
pub mod note;
pub mod verify;

/// What the response to a logged action carries: the entry's index and a
/// signed checkpoint of a tree that includes it. Kept outside ddc, it lets
/// its holder later prove what the log said then.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// The entry's leaf index.
    pub index: u64,
    /// A signed checkpoint (C2SP signed note) of a tree of more than
    /// `index` entries.
    pub checkpoint: String,
}

/// The signer of a log named `origin` whose Ed25519 seed is `key` (the key
/// store's signing key).
pub fn log_signer(
    origin: &str,
    key: &crate::keys::PseudonymKey,
) -> Result<note::Signer, note::NoteError> {
    note::Signer::from_seed(origin, key.expose_array())
}

/// The origin (and key name) of the log's checkpoints unless configured.
pub const DEFAULT_ORIGIN: &str = "ddc.local/log";
