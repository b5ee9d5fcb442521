//! The auditor's check of a whole log: recompute the Merkle tree from the
//! entries, and compare it with checkpoints whose signatures verify under
//! the published key.
//!
//! Never takes a server's word for a root: the roots compared are computed
//! here from the entries, in order. A checkpoint the auditor saved earlier
//! (outside ddc) catches even an attacker who rewrote the log and re-signed
//! a fresh checkpoint with the server's own key; a checkpoint stored in the
//! same database proves nothing against that attacker.

use std::collections::BTreeMap;

use base64::Engine as _;

use super::event::{self, EntryError};
use super::merkle::{self, Frontier, Hash};
use super::note::{self, Checkpoint, NoteError, Verifier};

/// Why a log failed verification. Each names the entry or checkpoint at fault.
#[derive(Debug, thiserror::Error)]
pub enum VerifyFailure {
    /// An entry does not decode, or is not in canonical form.
    #[error("entry {index}: {source}")]
    Entry {
        /// Its index.
        index: u64,
        /// What is wrong.
        source: EntryError,
    },
    /// Entries out of order or with a gap: one was deleted or inserted.
    #[error("entry {found} came where entry {expected} was due: the log is not contiguous")]
    Gap {
        /// The index expected next.
        expected: u64,
        /// The index found.
        found: u64,
    },
    /// A checkpoint's signature or format.
    #[error("checkpoint {label}: {source}")]
    Note {
        /// Which checkpoint (`latest`, a file name).
        label: String,
        /// What is wrong.
        source: NoteError,
    },
    /// The entries give another root than a checkpoint signed.
    #[error(
        "checkpoint {label} signed root {signed} for the first {size} entries, but those entries \
         give {computed}: the log was changed after that checkpoint was signed"
    )]
    RootMismatch {
        /// Which checkpoint.
        label: String,
        /// Its tree size.
        size: u64,
        /// The root it signed (base64).
        signed: String,
        /// The root of the entries (base64).
        computed: String,
    },
    /// A checkpoint covers more entries than the log holds.
    #[error(
        "checkpoint {label} is of {size} entries, but the log holds only {held}: entries were removed"
    )]
    Truncated {
        /// Which checkpoint.
        label: String,
        /// Its tree size.
        size: u64,
        /// Entries in the log.
        held: u64,
    },
    /// Two checkpoints of one size with different roots: a forked log.
    #[error(
        "checkpoints {a} and {b} are both of {size} entries with different roots: the log forked"
    )]
    Fork {
        /// One checkpoint.
        a: String,
        /// The other.
        b: String,
        /// Their size.
        size: u64,
    },
}

/// What a verification established.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// Entries checked.
    pub entries: u64,
    /// The root of all of them.
    pub root: Hash,
    /// The checkpoints matched, by label, with their sizes.
    pub checkpoints: Vec<(String, u64)>,
}

/// Recomputes a log's tree entry by entry and checks it against
/// checkpoints given up front. Memory is O(log n).
#[derive(Debug)]
pub struct LogVerifier {
    verifier: Verifier,
    frontier: Frontier,
    expected: BTreeMap<u64, (String, Hash)>,
    matched: Vec<(String, u64)>,
}

impl LogVerifier {
    /// A verifier of a log signed by `verifier` (the published key).
    pub fn new(verifier: Verifier) -> Self {
        LogVerifier {
            verifier,
            frontier: Frontier::new(),
            expected: BTreeMap::new(),
            matched: Vec::new(),
        }
    }

    /// Adds a checkpoint the entries must agree with; checks its signature
    /// now. Give every checkpoint before the first entry.
    pub fn expect(&mut self, label: &str, signed_note: &str) -> Result<Checkpoint, VerifyFailure> {
        let checkpoint = note::open_checkpoint(signed_note, &self.verifier).map_err(|source| {
            VerifyFailure::Note {
                label: label.to_owned(),
                source,
            }
        })?;
        if let Some((other, root)) = self.expected.get(&checkpoint.size) {
            if *root != checkpoint.root {
                return Err(VerifyFailure::Fork {
                    a: other.clone(),
                    b: label.to_owned(),
                    size: checkpoint.size,
                });
            }
        }
        if checkpoint.size == 0 {
            self.check_root(label, 0, &checkpoint.root, &merkle::empty_root())?;
        } else {
            self.expected
                .insert(checkpoint.size, (label.to_owned(), checkpoint.root));
        }
        Ok(checkpoint)
    }

    /// Adds the next entry, `index` being its position in the log.
    pub fn push(&mut self, index: u64, bytes: &[u8]) -> Result<(), VerifyFailure> {
        let expected = self.frontier.size();
        if index != expected {
            return Err(VerifyFailure::Gap {
                expected,
                found: index,
            });
        }
        event::decode(bytes).map_err(|source| VerifyFailure::Entry { index, source })?;
        self.frontier.push(merkle::leaf_hash(bytes));
        let size = self.frontier.size();
        if let Some((label, root)) = self.expected.remove(&size) {
            self.check_root(&label, size, &root, &self.frontier.root())?;
        }
        Ok(())
    }

    /// Ends the log: every checkpoint must have been reached.
    pub fn finish(self) -> Result<Verified, VerifyFailure> {
        let held = self.frontier.size();
        if let Some((&size, (label, _))) = self.expected.iter().next() {
            return Err(VerifyFailure::Truncated {
                label: label.clone(),
                size,
                held,
            });
        }
        Ok(Verified {
            entries: held,
            root: self.frontier.root(),
            checkpoints: self.matched,
        })
    }

    fn check_root(
        &mut self,
        label: &str,
        size: u64,
        signed: &Hash,
        computed: &Hash,
    ) -> Result<(), VerifyFailure> {
        if signed != computed {
            return Err(VerifyFailure::RootMismatch {
                label: label.to_owned(),
                size,
                signed: b64(signed),
                computed: b64(computed),
            });
        }
        self.matched.push((label.to_owned(), size));
        Ok(())
    }
}

fn b64(hash: &Hash) -> String {
    base64::engine::general_purpose::STANDARD.encode(hash)
}

#[cfg(test)]
mod tests;
