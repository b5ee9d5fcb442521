use super::*;
use ct_merkle::mem_backed_tree::MemoryBackedTree;
use proptest::prelude::*;
use std::collections::HashMap;
use std::convert::Infallible;

fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn h(s: &str) -> Hash {
    hex(s).try_into().expect("32-byte hash")
}

fn hashes(list: &[&str]) -> Vec<Hash> {
    list.iter().map(|s| h(s)).collect()
}

// Known-answer vectors. Leaf inputs, node hashes and roots:
// transparency-dev/merkle, testonly/constants.go (LeafInputs, NodeHashes,
// RootHashes). Inclusion proofs: transparency-dev/merkle,
// testonly/reference_test.go (TestRefInclusionProof, 0-based indices).
// Consistency proofs: transparency-dev/merkle, proof/verify_test.go
// (consistencyProofs). These are the RFC 6962 reference vectors also used by
// Certificate Transparency's own tests.
const LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

const ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

const NODE_HASHES: [&[&str]; 4] = [
    &[
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    &[
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    &[
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    &["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
];

/// (index, size, proof) from testonly/reference_test.go.
const INCLUSION: [(u64, u64, &[&str]); 7] = [
    (0, 1, &[]),
    (
        0,
        2,
        &["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"],
    ),
    (
        1,
        2,
        &["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"],
    ),
    (
        2,
        3,
        &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    ),
    (
        1,
        5,
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        0,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        &[
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
];

/// (old size, new size, proof) from proof/verify_test.go.
const CONSISTENCY: [(u64, u64, &[&str]); 5] = [
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        &[
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
];

fn kat_entries() -> Vec<Vec<u8>> {
    LEAVES.iter().map(|s| hex(s)).collect()
}

fn kat_nodes() -> MemoryNodes {
    let leaves: Vec<Hash> = kat_entries().iter().map(|e| leaf_hash(e)).collect();
    MemoryNodes::from_leaves(&leaves)
}

/// A node store backed by a map, filled only from `Frontier::push` output.
#[derive(Default)]
struct MapNodes(HashMap<(u8, u64), Hash>);

impl Nodes for MapNodes {
    type Error = MissingNode;
    fn node(&self, level: u8, index: u64) -> Result<Hash, MissingNode> {
        self.0
            .get(&(level, index))
            .copied()
            .ok_or(MissingNode { level, index })
    }
}

/// A store that answers every read with the same hash (for huge sizes).
struct ConstNodes;

impl Nodes for ConstNodes {
    type Error = Infallible;
    fn node(&self, _level: u8, _index: u64) -> Result<Hash, Infallible> {
        Ok([7; 32])
    }
}

#[test]
fn kat_hashing() {
    assert_eq!(empty_root(), h(ROOTS[0]));
    assert_eq!(leaf_hash(b""), h(NODE_HASHES[0][0]));
    let (l0, l1) = (h(NODE_HASHES[0][0]), h(NODE_HASHES[0][1]));
    assert_eq!(node_hash(&l0, &l1), h(NODE_HASHES[1][0]));
}

#[test]
fn kat_node_hashes() {
    let nodes = kat_nodes();
    for (level, row) in NODE_HASHES.iter().enumerate() {
        for (index, want) in row.iter().enumerate() {
            assert_eq!(nodes.node(level as u8, index as u64), Ok(h(want)));
        }
    }
    assert!(nodes.node(0, 8).is_err());
    assert!(nodes.node(4, 0).is_err());
}

#[test]
fn kat_roots() {
    let nodes = kat_nodes();
    let mut frontier = Frontier::new();
    for (size, want) in ROOTS.iter().enumerate() {
        assert_eq!(root(&nodes, size as u64), Ok(h(want)), "size {size}");
        assert_eq!(frontier.root(), h(want), "frontier size {size}");
        if let Some(entry) = kat_entries().get(size) {
            frontier.push(leaf_hash(entry));
        }
    }
}

#[test]
fn kat_inclusion() {
    let nodes = kat_nodes();
    let entries = kat_entries();
    for (index, size, want) in INCLUSION {
        let proof = inclusion_proof(&nodes, index, size).expect("proof");
        assert_eq!(proof, hashes(want), "index {index} size {size}");
        let root = h(ROOTS[size as usize]);
        verify_inclusion(&entries[index as usize], index, size, &proof, &root).expect("verify");
    }
}

#[test]
fn kat_consistency() {
    let nodes = kat_nodes();
    for (old, new, want) in CONSISTENCY {
        let proof = consistency_proof(&nodes, old, new).expect("proof");
        assert_eq!(proof, hashes(want), "{old} -> {new}");
        let (old_root, new_root) = (h(ROOTS[old as usize]), h(ROOTS[new as usize]));
        verify_consistency(old, &old_root, new, &new_root, &proof).expect("verify");
    }
}

fn entry(i: u64) -> Vec<u8> {
    format!("entry {i}").into_bytes()
}

fn flat(proof: &[Hash]) -> Vec<u8> {
    proof.concat()
}

/// Byte positions to flip in a proof of `len` hashes: every byte for short
/// proofs, otherwise the first, the last and one varying byte of each hash
/// (flipping every byte of every proof up to size 70 is too slow unoptimized).
fn flip_positions(len: usize, exhaustive: bool) -> Vec<usize> {
    if exhaustive {
        return (0..len * 32).collect();
    }
    (0..len)
        .flat_map(|j| [j * 32, j * 32 + 31, j * 32 + (j * 7 + 3) % 32])
        .collect()
}

fn flipped(proof: &[Hash], pos: usize) -> Vec<Hash> {
    let mut out = proof.to_vec();
    out[pos / 32][pos % 32] ^= 0x01;
    out
}

fn flip(hash: &Hash, pos: usize) -> Hash {
    let mut out = *hash;
    out[pos] ^= 0x80;
    out
}

const CROSS_MAX: u64 = 70;

type CtTree = MemoryBackedTree<Sha256, Vec<u8>>;

/// Our nodes, ct-merkle's trees and our roots for sizes 0..=CROSS_MAX over
/// the same entries.
struct Fixture {
    nodes: MemoryNodes,
    trees: Vec<CtTree>,
    roots: Vec<Hash>,
}

fn cross_fixture() -> Fixture {
    let mut nodes = MemoryNodes::new();
    let mut tree = CtTree::new();
    let mut trees = vec![tree.clone()];
    for i in 0..CROSS_MAX {
        nodes.push(leaf_hash(&entry(i)));
        tree.push(entry(i));
        trees.push(tree.clone());
    }
    let roots = (0..=CROSS_MAX)
        .map(|size| root(&nodes, size).expect("root"))
        .collect();
    Fixture {
        nodes,
        trees,
        roots,
    }
}

#[test]
fn cross_check_roots_with_ct_merkle() {
    let Fixture { trees, roots, .. } = cross_fixture();
    for (size, tree) in trees.iter().enumerate() {
        assert_eq!(
            tree.root().as_bytes().as_slice(),
            roots[size],
            "size {size}"
        );
    }
}

#[test]
fn cross_check_inclusion_with_ct_merkle() {
    let Fixture {
        nodes,
        trees,
        roots,
    } = cross_fixture();
    for size in 1..=CROSS_MAX {
        let tree = &trees[size as usize];
        let root = roots[size as usize];
        for index in 0..size {
            let proof = inclusion_proof(&nodes, index, size).expect("proof");
            let ct_proof = tree.prove_inclusion(index as usize);
            assert_eq!(
                flat(&proof),
                ct_proof.as_bytes(),
                "index {index} size {size}"
            );
            let e = entry(index);
            assert_eq!(verify_inclusion(&e, index, size, &proof, &root), Ok(()));
            check_inclusion_tampering(&e, index, size, &proof, &roots);
        }
    }
}

fn check_inclusion_tampering(e: &[u8], index: u64, size: u64, proof: &[Hash], roots: &[Hash]) {
    let root = roots[size as usize];
    let bad = |p: &[Hash], r: &Hash, i: u64, s: u64, e: &[u8]| verify_inclusion(e, i, s, p, r);
    for pos in flip_positions(proof.len(), size <= 16) {
        assert!(bad(&flipped(proof, pos), &root, index, size, e).is_err());
    }
    for pos in 0..32 {
        assert!(bad(proof, &flip(&root, pos), index, size, e).is_err());
    }
    for pos in 0..e.len() {
        let mut e2 = e.to_vec();
        e2[pos] ^= 0x01;
        assert!(bad(proof, &root, index, size, &e2).is_err());
    }
    if index > 0 {
        assert!(bad(proof, &root, index - 1, size, e).is_err());
    }
    assert!(bad(proof, &root, index + 1, size, e).is_err());
    // Another size is judged against that size's root: the proof for `size`
    // must not verify there. (A proof alone does not commit to the size; the
    // root does, see `verify_inclusion`.)
    if index < size - 1 {
        assert!(bad(proof, &roots[size as usize - 1], index, size - 1, e).is_err());
    }
    if let Some(next_root) = roots.get(size as usize + 1) {
        assert!(bad(proof, next_root, index, size + 1, e).is_err());
    }
    let mut longer = proof.to_vec();
    longer.push(root);
    assert!(bad(&longer, &root, index, size, e).is_err());
    if !proof.is_empty() {
        assert!(bad(&proof[1..], &root, index, size, e).is_err());
    }
}

#[test]
fn cross_check_consistency_with_ct_merkle() {
    let Fixture {
        nodes,
        trees,
        roots,
    } = cross_fixture();
    for new in 1..=CROSS_MAX {
        let tree = &trees[new as usize];
        for old in 1..=new {
            let proof = consistency_proof(&nodes, old, new).expect("proof");
            let ct_proof = tree.prove_consistency((new - old) as usize);
            assert_eq!(flat(&proof), ct_proof.as_bytes(), "{old} -> {new}");
            let (r1, r2) = (roots[old as usize], roots[new as usize]);
            assert_eq!(verify_consistency(old, &r1, new, &r2, &proof), Ok(()));
            check_consistency_tampering(old, new, &proof, &roots);
        }
    }
}

fn check_consistency_tampering(old: u64, new: u64, proof: &[Hash], roots: &[Hash]) {
    let (r1, r2) = (roots[old as usize], roots[new as usize]);
    for pos in flip_positions(proof.len(), new <= 16) {
        assert!(verify_consistency(old, &r1, new, &r2, &flipped(proof, pos)).is_err());
    }
    for pos in 0..32 {
        assert!(verify_consistency(old, &flip(&r1, pos), new, &r2, proof).is_err());
        assert!(verify_consistency(old, &r1, new, &flip(&r2, pos), proof).is_err());
    }
    // Neighbouring sizes, each with its own true root.
    let others = [
        (old - 1, new),
        (old + 1, new),
        (old, new - 1),
        (old, new + 1),
    ];
    for (o, n) in others {
        if (o, n) == (old, new) || o == 0 || o > n || n > CROSS_MAX {
            continue;
        }
        let result = verify_consistency(o, &roots[o as usize], n, &roots[n as usize], proof);
        assert!(result.is_err(), "{old}->{new} proof accepted for {o}->{n}");
    }
    let mut longer = proof.to_vec();
    longer.push(r2);
    assert!(verify_consistency(old, &r1, new, &r2, &longer).is_err());
    if !proof.is_empty() {
        assert!(verify_consistency(old, &r1, new, &r2, &proof[1..]).is_err());
    }
}

#[test]
fn equal_sizes_need_equal_roots_and_empty_proof() {
    let nodes = kat_nodes();
    let r5 = root(&nodes, 5).expect("root");
    let r6 = root(&nodes, 6).expect("root");
    assert!(consistency_proof(&nodes, 5, 5).expect("proof").is_empty());
    assert_eq!(verify_consistency(5, &r5, 5, &r5, &[]), Ok(()));
    assert_eq!(
        verify_consistency(5, &r5, 5, &r6, &[]),
        Err(VerifyError::RootMismatch)
    );
    assert_eq!(
        verify_consistency(5, &r5, 5, &r5, &[r5]),
        Err(VerifyError::WrongProofLength {
            expected: 0,
            actual: 1
        })
    );
}

#[test]
fn empty_old_tree_is_rejected() {
    let nodes = kat_nodes();
    let empty = empty_root();
    assert!(matches!(
        consistency_proof(&nodes, 0, 3),
        Err(ProofError::Range(RangeError::EmptyOldTree))
    ));
    assert!(matches!(
        consistency_proof(&nodes, 0, 0),
        Err(ProofError::Range(RangeError::EmptyOldTree))
    ));
    let r3 = root(&nodes, 3).expect("root");
    assert_eq!(
        verify_consistency(0, &empty, 3, &r3, &[]),
        Err(VerifyError::Range(RangeError::EmptyOldTree))
    );
    assert_eq!(
        verify_consistency(0, &empty, 0, &empty, &[]),
        Err(VerifyError::Range(RangeError::EmptyOldTree))
    );
}

#[test]
fn forked_log_is_inconsistent() {
    for shared in 1..=12u64 {
        for new in shared + 1..=20 {
            let a: Vec<Hash> = (0..new).map(|i| leaf_hash(&entry(i))).collect();
            let mut b = a.clone();
            for (i, leaf) in b.iter_mut().enumerate().skip(shared as usize) {
                *leaf = leaf_hash(format!("fork {i}").as_bytes());
            }
            let (na, nb) = (MemoryNodes::from_leaves(&a), MemoryNodes::from_leaves(&b));
            for old in 1..=new {
                let proof_a = consistency_proof(&na, old, new).expect("proof");
                let old_a = root(&na, old).expect("root");
                let new_b = root(&nb, new).expect("root");
                let result = verify_consistency(old, &old_a, new, &new_b, &proof_a);
                // Only a shared prefix that is the whole old tree AND an equal
                // new tree could pass; the forks differ at `new`, so never.
                assert_eq!(
                    result,
                    Err(VerifyError::RootMismatch),
                    "{shared} {old} {new}"
                );
                if old > shared {
                    // The fork's own old root is not a prefix of the other fork.
                    let old_b = root(&nb, old).expect("root");
                    let new_a = root(&na, new).expect("root");
                    let result = verify_consistency(old, &old_b, new, &new_a, &proof_a);
                    assert_eq!(result, Err(VerifyError::RootMismatch));
                }
            }
        }
    }
}

#[test]
fn frontier_push_and_load_match_memory_nodes() {
    let leaves: Vec<Hash> = (0..130).map(|i| leaf_hash(&entry(i))).collect();
    let mut frontier = Frontier::new();
    let mut store = MapNodes::default();
    assert_eq!(Frontier::load(&store, 0), Ok(Frontier::new()));
    for (n, leaf) in leaves.iter().enumerate() {
        let n = n as u64;
        let completed = frontier.push(*leaf);
        let expected: Vec<(u8, u64)> = (0..=n.trailing_ones())
            .map(|level| (level as u8, n >> level))
            .collect();
        let got: Vec<(u8, u64)> = completed.iter().map(|&(l, i, _)| (l, i)).collect();
        assert_eq!(got, expected, "completed nodes of leaf {n}");
        for (level, index, hash) in completed {
            assert!(store.0.insert((level, index), hash).is_none(), "rewrite");
        }
        let size = n + 1;
        let memory = MemoryNodes::from_leaves(&leaves[..size as usize]);
        assert_eq!(frontier.size(), size);
        assert_eq!(Frontier::load(&store, size).as_ref(), Ok(&frontier));
        assert_eq!(Frontier::load(&memory, size).as_ref(), Ok(&frontier));
        assert_eq!(root(&memory, size), Ok(frontier.root()));
        assert_eq!(root(&store, size), Ok(frontier.root()));
    }
    // The persisted nodes are exactly the perfect nodes of the whole list.
    let memory = MemoryNodes::from_leaves(&leaves);
    let mut count = 0;
    for level in 0..8u8 {
        for index in 0..(130u64 >> level) {
            assert_eq!(store.node(level, index), memory.node(level, index));
            count += 1;
        }
    }
    assert_eq!(count, store.0.len());
}

#[test]
fn generation_rejects_bad_ranges() {
    let nodes = kat_nodes();
    let cases = [(0, 0), (8, 8), (9, 8), (u64::MAX, u64::MAX), (0, u64::MAX)];
    for (index, size) in cases {
        assert!(
            inclusion_proof(&nodes, index, size).is_err(),
            "{index} {size}"
        );
    }
    assert!(matches!(
        inclusion_proof(&nodes, 3, MAX_SIZE + 1),
        Err(ProofError::Range(RangeError::TooLarge { .. }))
    ));
    assert!(matches!(
        inclusion_proof(&nodes, 8, 8),
        Err(ProofError::Range(RangeError::IndexOutOfRange {
            index: 8,
            size: 8
        }))
    ));
    assert!(matches!(
        consistency_proof(&nodes, 5, 4),
        Err(ProofError::Range(RangeError::OldSizeExceedsNew { .. }))
    ));
    assert!(matches!(
        consistency_proof(&nodes, 1, u64::MAX),
        Err(ProofError::Range(RangeError::TooLarge { .. }))
    ));
    // Sizes beyond what the store holds surface the store's error.
    assert!(matches!(
        inclusion_proof(&nodes, 0, 9),
        Err(ProofError::Nodes(_))
    ));
    assert!(matches!(
        consistency_proof(&nodes, 3, 12),
        Err(ProofError::Nodes(_))
    ));
    assert!(root(&nodes, 9).is_err());
}

#[test]
fn huge_sizes_do_not_panic() {
    let sizes = [MAX_SIZE, MAX_SIZE - 1, (1 << 62) + 1, u64::MAX / 3];
    for size in sizes {
        for index in [0, 1, size / 2, size - 2, size - 1] {
            let proof = inclusion_proof(&ConstNodes, index, size).expect("proof");
            assert!(proof.len() <= 63);
            let result = verify_inclusion(b"x", index, size, &proof, &[0; 32]);
            assert_eq!(result, Err(VerifyError::RootMismatch));
        }
        for old in [1, 2, size / 2, size - 1, size] {
            let proof = consistency_proof(&ConstNodes, old, size).expect("proof");
            let result = verify_consistency(old, &[1; 32], size, &[2; 32], &proof);
            assert_eq!(result, Err(VerifyError::RootMismatch));
        }
    }
    assert!(root(&ConstNodes, u64::MAX).is_ok());
}

#[test]
fn verification_rejects_malformed_input() {
    let r = [0u8; 32];
    let p = vec![[1u8; 32]; 3];
    assert_eq!(
        verify_inclusion(b"", 0, 0, &[], &r),
        Err(VerifyError::Range(RangeError::IndexOutOfRange {
            index: 0,
            size: 0
        }))
    );
    assert_eq!(
        verify_inclusion(b"", 8, 8, &p, &r),
        Err(VerifyError::Range(RangeError::IndexOutOfRange {
            index: 8,
            size: 8
        }))
    );
    assert_eq!(
        verify_inclusion(b"", u64::MAX - 1, u64::MAX, &p, &r),
        Err(VerifyError::Range(RangeError::TooLarge { size: u64::MAX }))
    );
    assert_eq!(
        verify_inclusion(b"", 0, 8, &p[..2], &r),
        Err(VerifyError::WrongProofLength {
            expected: 3,
            actual: 2
        })
    );
    assert!(verify_inclusion(b"", 0, 8, &vec![r; 10_000], &r).is_err());
    assert_eq!(
        verify_consistency(3, &r, 2, &r, &p),
        Err(VerifyError::Range(RangeError::OldSizeExceedsNew {
            old_size: 3,
            new_size: 2
        }))
    );
    assert_eq!(
        verify_consistency(u64::MAX, &r, u64::MAX, &r, &[]),
        Err(VerifyError::Range(RangeError::TooLarge { size: u64::MAX }))
    );
    assert_eq!(
        verify_consistency(1, &r, 2, &r, &[]),
        Err(VerifyError::WrongProofLength {
            expected: 1,
            actual: 0
        })
    );
}

proptest! {
    #[test]
    fn verifiers_never_panic(
        index in any::<u64>(),
        size in prop_oneof![any::<u64>(), 0..100u64, (MAX_SIZE - 100)..=MAX_SIZE],
        old in prop_oneof![any::<u64>(), 0..100u64],
        len in 0..70usize,
        fill in any::<u8>(),
    ) {
        let proof = vec![[fill; 32]; len];
        let _ = verify_inclusion(b"entry", index % size.max(1), size, &proof, &[fill; 32]);
        let _ = verify_inclusion(b"entry", index, size, &proof, &[fill; 32]);
        let _ = verify_consistency(old, &[fill; 32], size, &[fill; 32], &proof);
        let _ = verify_consistency(old % size.max(1), &[0; 32], size, &[1; 32], &proof);
        let _ = inclusion_proof(&ConstNodes, index % size.max(1), size);
        let _ = consistency_proof(&ConstNodes, old % size.max(1), size);
    }
}
