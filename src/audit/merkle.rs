//! RFC 6962 / RFC 9162 Merkle tree hashing, proofs and proof verification for
//! the audit log, computed from a store of *perfect aligned subtree* hashes.
//!
//! Node `(level, index)` is the Merkle Tree Hash (MTH) of leaves
//! `[index·2^level, (index+1)·2^level)`; level 0 is the leaf hash. Such nodes
//! never change once written, so the store is append-only. Roots of any size
//! and proofs against any older size are computed from O(log n) node reads.
//!
//! Responsible for: leaf/node hashing, the growing right edge ([`Frontier`]),
//! roots, inclusion and consistency proofs and their verification.
//! Not responsible for: persisting nodes (the caller stores what
//! [`Frontier::push`] returns and implements [`Nodes`]), encoding entries,
//! or signing tree heads (see the `note` module).
//!
//! Proof index selection and all verification are delegated to the
//! `ct-merkle` crate; this module maps its in-order node indices onto the
//! perfect-subtree store. Trees are limited to [`MAX_SIZE`] leaves, the
//! largest size `ct-merkle` supports.
//!
//! Consistency proofs are defined for `0 < old_size <= new_size` (RFC 9162
//! §2.1.4). From `old_size == new_size` the proof is empty and verification
//! checks that the two roots are equal. From `old_size == 0` no proof is
//! defined (every tree extends the empty tree, so there is nothing to prove);
//! both generation and verification return an `EmptyOldTree` error, as
//! `ct-merkle` and transparency-dev/merkle do.

use ct_merkle::{ConsistencyProof, InclusionProof, RootHash};
use sha2::{Digest, Sha256};

#[cfg(test)]
mod tests;

/// A SHA-256 hash: a leaf, an interior node or a root.
pub type Hash = [u8; 32];

/// The largest supported tree size, 2^63 leaves (the `ct-merkle` limit).
pub const MAX_SIZE: u64 = 1 << 63;

/// Hashes an entry as an RFC 6962 leaf: SHA-256(0x00 ‖ entry).
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(entry);
    hasher.finalize().into()
}

/// Hashes two children as an RFC 6962 interior node: SHA-256(0x01 ‖ left ‖ right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The root of the empty tree: SHA-256 of the empty string (RFC 6962 MTH({})).
pub fn empty_root() -> Hash {
    Sha256::digest(b"").into()
}

/// Source of perfect aligned subtree hashes (a SQLite table in ddc; in memory in tests).
pub trait Nodes {
    /// Why a node could not be read.
    type Error;
    /// Returns the MTH of leaves `[index·2^level, (index+1)·2^level)`.
    fn node(&self, level: u8, index: u64) -> Result<Hash, Self::Error>;
}

/// The right edge of a growing tree: the perfect subtrees of the binary
/// decomposition of its size, largest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    peaks: Vec<Hash>,
}

impl Frontier {
    /// Returns the frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the number of leaves appended so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash; returns every node this append completed, as
    /// `(level, index, hash)`, the leaf (level 0) first. The caller persists them.
    ///
    /// # Panics
    /// If the tree already holds [`MAX_SIZE`] leaves.
    pub fn push(&mut self, leaf: Hash) -> Vec<(u8, u64, Hash)> {
        assert!(self.size < MAX_SIZE, "Merkle tree is full");
        let mut completed = vec![(0, self.size, leaf)];
        let mut hash = leaf;
        let mut index = self.size;
        for level in 1..=self.size.trailing_ones() {
            // Each trailing one bit of the old size is a peak of the same
            // width as `hash`, directly to its left: merge them.
            let Some(left) = self.peaks.pop() else { break };
            hash = node_hash(&left, &hash);
            index >>= 1;
            completed.push((level as u8, index, hash));
        }
        self.peaks.push(hash);
        self.size += 1;
        completed
    }

    /// Returns the root hash; [`empty_root`] for size 0.
    pub fn root(&self) -> Hash {
        fold_right(&self.peaks)
    }

    /// Rebuilds the frontier of a tree of `size` leaves from stored nodes
    /// (O(log n) reads).
    pub fn load<N: Nodes>(nodes: &N, size: u64) -> Result<Self, N::Error> {
        let peaks = decompose(0, size)
            .into_iter()
            .map(|(level, index)| nodes.node(level, index))
            .collect::<Result<_, _>>()?;
        Ok(Frontier { size, peaks })
    }
}

/// Returns the root of the tree of the first `size` leaves; [`empty_root`] for size 0.
pub fn root<N: Nodes>(nodes: &N, size: u64) -> Result<Hash, N::Error> {
    Frontier::load(nodes, size).map(|frontier| frontier.root())
}

/// RFC 9162 §2.1.3.1 inclusion proof of leaf `index` in the tree of the first
/// `size` leaves, lowest sibling first.
pub fn inclusion_proof<N: Nodes>(
    nodes: &N,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, ProofError<N::Error>> {
    inclusion_range(index, size)?;
    // Cannot panic: 0 <= index < size <= MAX_SIZE.
    let ct_indices = ct_merkle::indices_for_inclusion_proof(size, index);
    fetch_ct_nodes(nodes, &ct_indices, size).map_err(ProofError::Nodes)
}

/// RFC 9162 §2.1.4.1 consistency proof between sizes `0 < old_size <= new_size`
/// (empty when the sizes are equal; see the module docs for `old_size == 0`).
pub fn consistency_proof<N: Nodes>(
    nodes: &N,
    old_size: u64,
    new_size: u64,
) -> Result<Vec<Hash>, ProofError<N::Error>> {
    consistency_range(old_size, new_size)?;
    // Cannot panic: 0 < old_size <= new_size <= MAX_SIZE.
    let ct_indices = ct_merkle::indices_for_consistency_proof(old_size, new_size - old_size);
    fetch_ct_nodes(nodes, &ct_indices, new_size).map_err(ProofError::Nodes)
}

/// Verifies that `entry` (the entry bytes, hashed here as a leaf) is leaf
/// `index` of the tree of `size` leaves with `root`.
///
/// As in every RFC 9162 verifier, a proof does not commit to `size` by itself:
/// the root does. Compare `(size, root)` with a signed checkpoint.
pub fn verify_inclusion(
    entry: &[u8],
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), VerifyError> {
    inclusion_range(index, size)?;
    // Cannot panic: 0 <= index < size <= MAX_SIZE.
    let expected = ct_merkle::indices_for_inclusion_proof(size, index).len();
    check_length(expected, proof.len())?;
    let root = ct_root(root, size);
    let proof = InclusionProof::<Sha256>::from_digests(proof.iter().map(Into::into));
    // Range and length were checked above, so the only error left is a
    // hash mismatch; any other would also fail closed here.
    root.verify_inclusion(&entry, index, &proof)
        .map_err(|_| VerifyError::RootMismatch)
}

/// Verifies that the tree of `new_size` leaves with `new_root` extends the
/// tree of `old_size` leaves with `old_root`. For equal sizes the proof must
/// be empty and the roots equal; `old_size == 0` is an error (module docs).
pub fn verify_consistency(
    old_size: u64,
    old_root: &Hash,
    new_size: u64,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), VerifyError> {
    consistency_range(old_size, new_size)?;
    // Cannot panic: 0 < old_size <= new_size <= MAX_SIZE.
    let expected = ct_merkle::indices_for_consistency_proof(old_size, new_size - old_size).len();
    check_length(expected, proof.len())?;
    let old_root = ct_root(old_root, old_size);
    let new_root = ct_root(new_root, new_size);
    let proof = ConsistencyProof::<Sha256>::from_digests(proof.iter().map(Into::into));
    // Sizes and length were checked above, so the only error left is a
    // root mismatch (old or new); any other would also fail closed here.
    new_root
        .verify_consistency(&old_root, &proof)
        .map_err(|_| VerifyError::RootMismatch)
}

/// All perfect nodes of a list of leaves, in memory (for tests and for
/// verifiers that recompute an export).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryNodes {
    /// `levels[l][i]` is node `(l, i)`.
    levels: Vec<Vec<Hash>>,
}

impl MemoryNodes {
    /// Returns an empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Computes every perfect node of `leaves` (leaf hashes).
    pub fn from_leaves(leaves: &[Hash]) -> Self {
        let mut nodes = Self::new();
        for leaf in leaves {
            nodes.push(*leaf);
        }
        nodes
    }

    /// Appends a leaf hash and every node it completes.
    pub fn push(&mut self, leaf: Hash) {
        let mut hash = leaf;
        for level in 0.. {
            if self.levels.len() <= level {
                self.levels.push(Vec::new());
            }
            let Some(row) = self.levels.get_mut(level) else {
                return;
            };
            row.push(hash);
            match row.as_slice() {
                // An even row length means the last two nodes are siblings.
                [.., left, right] if row.len() % 2 == 0 => hash = node_hash(left, right),
                _ => return,
            }
        }
    }

    /// Returns the number of leaves.
    pub fn len(&self) -> u64 {
        self.levels.first().map_or(0, |row| row.len() as u64)
    }

    /// Returns whether the store holds no leaves.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Nodes for MemoryNodes {
    type Error = MissingNode;

    fn node(&self, level: u8, index: u64) -> Result<Hash, MissingNode> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.levels.get(usize::from(level))?.get(i))
            .copied()
            .ok_or(MissingNode { level, index })
    }
}

/// A [`MemoryNodes`] read of a node that is not (yet) in the store.
#[derive(Clone, Copy, Debug, thiserror::Error, PartialEq, Eq)]
#[error("node (level {level}, index {index}) is not in the store")]
pub struct MissingNode {
    /// Level of the missing node.
    pub level: u8,
    /// Index of the missing node within its level.
    pub index: u64,
}

/// Sizes or an index a proof cannot be made or checked for.
#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
pub enum RangeError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is out of range for tree size {size}")]
    IndexOutOfRange {
        /// The leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// The old size of a consistency proof exceeds the new size.
    #[error("old tree size {old_size} exceeds new tree size {new_size}")]
    OldSizeExceedsNew {
        /// The old size.
        old_size: u64,
        /// The new size.
        new_size: u64,
    },
    /// Consistency proofs from the empty tree are not defined.
    #[error("consistency proofs from the empty tree are not defined")]
    EmptyOldTree,
    /// The tree size exceeds [`MAX_SIZE`].
    #[error("tree size {size} exceeds the maximum of 2^63")]
    TooLarge {
        /// The size.
        size: u64,
    },
}

/// Why a proof could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum ProofError<E> {
    /// The sizes or the index are out of range.
    #[error(transparent)]
    Range(#[from] RangeError),
    /// Reading a stored node failed.
    #[error("reading a stored node failed: {0}")]
    Nodes(#[source] E),
}

/// Why a proof was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    /// The sizes or the index are out of range.
    #[error(transparent)]
    Range(#[from] RangeError),
    /// The proof has the wrong number of hashes for the claimed sizes.
    #[error("proof has {actual} hashes, expected {expected}")]
    WrongProofLength {
        /// Number of hashes the sizes require.
        expected: usize,
        /// Number of hashes given.
        actual: usize,
    },
    /// The proof does not lead to the given root(s).
    #[error("proof does not match the root hash")]
    RootMismatch,
}

/// Checks `index < size <= MAX_SIZE`.
fn inclusion_range(index: u64, size: u64) -> Result<(), RangeError> {
    if size > MAX_SIZE {
        return Err(RangeError::TooLarge { size });
    }
    if index >= size {
        return Err(RangeError::IndexOutOfRange { index, size });
    }
    Ok(())
}

/// Checks `0 < old_size <= new_size <= MAX_SIZE`.
fn consistency_range(old_size: u64, new_size: u64) -> Result<(), RangeError> {
    if new_size > MAX_SIZE {
        return Err(RangeError::TooLarge { size: new_size });
    }
    if old_size > new_size {
        return Err(RangeError::OldSizeExceedsNew { old_size, new_size });
    }
    if old_size == 0 {
        return Err(RangeError::EmptyOldTree);
    }
    Ok(())
}

/// Rejects a proof whose length differs from the expected one.
fn check_length(expected: usize, actual: usize) -> Result<(), VerifyError> {
    if expected == actual {
        Ok(())
    } else {
        Err(VerifyError::WrongProofLength { expected, actual })
    }
}

/// Wraps a root hash for `ct-merkle`.
fn ct_root(root: &Hash, size: u64) -> RootHash<Sha256> {
    RootHash::new((*root).into(), size)
}

/// Folds subtree hashes (largest, leftmost first) into their MTH, as RFC 6962
/// does for a range whose size is not a power of two.
fn fold_right(hashes: &[Hash]) -> Hash {
    match hashes.split_last() {
        None => empty_root(),
        Some((last, rest)) => rest
            .iter()
            .rev()
            .fold(*last, |acc, left| node_hash(left, &acc)),
    }
}

/// The perfect subtrees `(level, index)` covering `[start, start+len)`,
/// largest first. `start` must be a multiple of the largest one.
fn decompose(start: u64, len: u64) -> Vec<(u8, u64)> {
    let mut out = Vec::new();
    let mut pos = start;
    for level in (0..64u8).rev() {
        let width = 1u64 << level;
        if len & width != 0 {
            out.push((level, pos >> level));
            pos = pos.wrapping_add(width);
        }
    }
    out
}

/// Reads the hashes of `ct-merkle` in-order node indices in a tree of `size` leaves.
fn fetch_ct_nodes<N: Nodes>(
    nodes: &N,
    ct_indices: &[u64],
    size: u64,
) -> Result<Vec<Hash>, N::Error> {
    ct_indices
        .iter()
        .map(|&ct_index| ct_node_hash(nodes, ct_index, size))
        .collect()
}

/// Hash of `ct-merkle` node `ct_index` in a tree of `size` leaves.
///
/// In ct-merkle's in-order layout leaf `i` is node `2i`, and a node's level is
/// its number of trailing one bits. A node at level `k` covers leaves
/// `[m·2^k, (m+1)·2^k)` with `m = ct_index >> (k+1)`, truncated to `size` on
/// the right edge of a non-perfect tree; a truncated node's hash is the fold of
/// the perfect subtrees of its range. At most one node of a proof is truncated
/// (the right edge is only touched once), so a proof costs O(log n) reads.
fn ct_node_hash<N: Nodes>(nodes: &N, ct_index: u64, size: u64) -> Result<Hash, N::Error> {
    // Proof nodes are never the root, so their level is below 63.
    let level = ct_index.trailing_ones().min(62);
    let index = ct_index >> (level + 1);
    let start = index << level;
    let width = 1u64 << level;
    let len = width.min(size.saturating_sub(start));
    if len == width {
        return nodes.node(level as u8, index);
    }
    let hashes = decompose(start, len)
        .into_iter()
        .map(|(level, index)| nodes.node(level, index))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(fold_right(&hashes))
}
