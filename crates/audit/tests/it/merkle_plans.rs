//! Proof plans assembled from stored complete nodes must equal the proofs of
//! a naive recursive RFC 9162 implementation, and verify.

use std::collections::HashMap;

use audit::merkle::{
    CompactRange, Hash, MerkleError, NodeId, consistency_proof_plan, inclusion_proof_plan,
    root_plan, verify_consistency, verify_inclusion,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::support::reference;

/// Appends all leaves and keeps what the appender reports, as a store would.
fn store(leaves: &[Hash]) -> HashMap<NodeId, Hash> {
    let mut nodes = HashMap::new();
    let mut range = CompactRange::new_empty(0);
    for leaf in leaves {
        range
            .append(*leaf, &mut |id, h| assert!(nodes.insert(id, h).is_none(), "{id:?} twice"))
            .unwrap();
    }
    nodes
}

#[test]
fn appender_reports_every_complete_node_once() {
    let leaves = reference::leaves(300);
    let nodes = store(&leaves);
    // A tree of n leaves has 2n - popcount(n) complete aligned subtrees.
    assert_eq!(nodes.len() as u64, 2 * 300 - u64::from(300u64.count_ones()));
    for (id, h) in &nodes {
        let first = id.first_leaf().unwrap() as usize;
        let width = id.width().unwrap() as usize;
        assert_eq!(*h, reference::mth(&leaves[first..first + width]), "{id:?}");
    }
}

#[test]
fn plans_match_reference_exhaustively_for_small_trees() {
    let leaves = reference::leaves(70);
    let nodes = store(&leaves);
    let lookup = |id: NodeId| nodes.get(&id).copied();
    for n in 1..=70usize {
        let tree = &leaves[..n];
        let root = reference::mth(tree);
        assert_eq!(root_plan(n as u64).assemble(lookup).unwrap(), vec![root]);
        for m in 0..n {
            let plan = inclusion_proof_plan(m as u64, n as u64).unwrap();
            let proof = plan.assemble(lookup).unwrap();
            assert_eq!(proof, reference::path(m, tree), "inclusion {m} in {n}");
            verify_inclusion(m as u64, n as u64, &tree[m], &proof, &root).unwrap();
        }
        for m in 1..=n {
            let plan = consistency_proof_plan(m as u64, n as u64).unwrap();
            let proof = plan.assemble(lookup).unwrap();
            assert_eq!(proof, reference::proof(m, tree), "consistency {m} to {n}");
            verify_consistency(m as u64, n as u64, &proof, &reference::mth(&tree[..m]), &root)
                .unwrap();
        }
    }
}

#[test]
fn plans_match_reference_for_random_trees() {
    let mut rng = StdRng::seed_from_u64(9162);
    let leaves = reference::leaves(400);
    let nodes = store(&leaves);
    for _ in 0..300 {
        let n = rng.gen_range(1..=400usize);
        let tree = &leaves[..n];
        let root = reference::mth(tree);
        let m = rng.gen_range(0..n);
        let plan = inclusion_proof_plan(m as u64, n as u64).unwrap();
        // O(log n) stored nodes: at most one incomplete right-edge element.
        let log = 64 - (n as u64).leading_zeros() as usize;
        assert!(plan.node_ids().len() <= 2 * log, "{} nodes for n={n}", plan.node_ids().len());
        let proof = plan.assemble(|id| nodes.get(&id).copied()).unwrap();
        assert_eq!(proof, reference::path(m, tree));
        verify_inclusion(m as u64, n as u64, &tree[m], &proof, &root).unwrap();

        let m = rng.gen_range(1..=n);
        let plan = consistency_proof_plan(m as u64, n as u64).unwrap();
        assert!(plan.node_ids().len() <= 2 * log + 1);
        let proof = plan.assemble(|id| nodes.get(&id).copied()).unwrap();
        assert_eq!(proof, reference::proof(m, tree));
        verify_consistency(m as u64, n as u64, &proof, &reference::mth(&tree[..m]), &root).unwrap();
    }
}

#[test]
fn plans_only_ask_for_complete_nodes_of_the_tree() {
    for n in 1..200u64 {
        for id in root_plan(n).node_ids() {
            let end = id.first_leaf().unwrap() + id.width().unwrap();
            assert!(end <= n, "{id:?} is not complete in a tree of {n}");
        }
        for m in [0, n / 3, n - 1] {
            for id in inclusion_proof_plan(m, n).unwrap().node_ids() {
                assert!(id.first_leaf().unwrap() + id.width().unwrap() <= n);
            }
        }
    }
}

#[test]
fn plan_errors_are_precise() {
    assert_eq!(inclusion_proof_plan(5, 5), Err(MerkleError::IndexOutOfRange { index: 5, size: 5 }));
    assert_eq!(
        consistency_proof_plan(6, 5),
        Err(MerkleError::SizeDecreased { size1: 6, size2: 5 })
    );
    assert_eq!(consistency_proof_plan(0, 5), Err(MerkleError::EmptyFirstTree));
    assert!(consistency_proof_plan(5, 5).unwrap().is_empty());
    let plan = inclusion_proof_plan(2, 5).unwrap();
    let missing = plan.node_ids()[0];
    assert_eq!(plan.assemble(|_| None), Err(MerkleError::MissingNode(missing)));
    assert_eq!(
        MerkleError::MissingNode(NodeId::new(3, 7)).to_string(),
        "node (level 3, index 7) is missing from the store"
    );
}

#[test]
fn verification_rejects_each_kind_of_bad_proof() {
    let leaves = reference::leaves(13);
    let root = reference::mth(&leaves);
    let proof = reference::path(6, &leaves);
    assert_eq!(
        verify_inclusion(6, 13, &leaves[6], &proof[1..], &root),
        Err(MerkleError::ProofLength { expected: proof.len(), got: proof.len() - 1 })
    );
    assert_eq!(
        verify_inclusion(6, 13, &leaves[5], &proof, &root),
        Err(MerkleError::InclusionRootMismatch)
    );
    let old = reference::mth(&leaves[..5]);
    let cproof = reference::proof(5, &leaves);
    verify_consistency(5, 13, &cproof, &old, &root).unwrap();
    assert_eq!(
        verify_consistency(5, 13, &cproof, &root, &root),
        Err(MerkleError::ConsistencyRoot1Mismatch)
    );
    assert_eq!(
        verify_consistency(5, 13, &cproof, &old, &old),
        Err(MerkleError::ConsistencyRoot2Mismatch)
    );
    assert_eq!(
        verify_consistency(5, 5, &[], &old, &root),
        Err(MerkleError::EqualSizeRootMismatch { size: 5 })
    );
}
