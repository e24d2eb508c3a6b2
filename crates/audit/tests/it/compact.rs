//! Compact ranges: append, rebuild from stored parts, merge and extend.

use std::collections::HashMap;

use audit::merkle::{CompactRange, Hash, MerkleError, NodeId, compact_range_node_ids, empty_root};
use proptest::prelude::*;

use crate::support::reference;

fn range_over(leaves: &[Hash], begin: u64, end: u64) -> CompactRange {
    let mut r = CompactRange::new_empty(begin);
    for i in begin..end {
        r.append(leaves[i as usize], &mut |_, _| {}).unwrap();
    }
    r
}

fn all_nodes(leaves: &[Hash]) -> HashMap<NodeId, Hash> {
    let mut nodes = HashMap::new();
    let mut r = CompactRange::new_empty(0);
    for l in leaves {
        r.append(*l, &mut |id, h| {
            nodes.insert(id, h);
        })
        .unwrap();
    }
    nodes
}

proptest! {
    #[test]
    fn merge_equals_direct_build(a in 0u64..300, len1 in 0u64..150, len2 in 0u64..150) {
        let leaves = reference::leaves(600);
        let nodes = all_nodes(&leaves);
        let (b, c) = (a + len1, a + len1 + len2);
        let left = range_over(&leaves, a, b);
        let right = range_over(&leaves, b, c);
        let direct = range_over(&leaves, a, c);
        // Frontier hashes are the stored nodes of the decomposition.
        let expected: Vec<Hash> = compact_range_node_ids(a, c).iter().map(|id| nodes[id]).collect();
        prop_assert_eq!(direct.hashes(), expected.as_slice());
        let merged = CompactRange::merge(left, right).unwrap();
        prop_assert_eq!(&merged, &direct);
        if a == 0 {
            prop_assert_eq!(merged.root().unwrap(), reference::mth(&leaves[..c as usize]));
        } else {
            prop_assert_eq!(merged.root(), Err(MerkleError::NotATree { begin: a, end: c }));
        }
    }

    #[test]
    fn extend_reports_only_real_nodes(b in 0u64..200, len in 0u64..200) {
        let leaves = reference::leaves(400);
        let nodes = all_nodes(&leaves);
        let mut left = range_over(&leaves, 0, b);
        let right = range_over(&leaves, b, b + len);
        let mut reported = Vec::new();
        left.extend(&right, &mut |id, h| reported.push((id, h))).unwrap();
        for (id, h) in reported {
            prop_assert_eq!(nodes.get(&id), Some(&h));
        }
        prop_assert_eq!(left.root().unwrap(), reference::mth(&leaves[..(b + len) as usize]));
    }
}

#[test]
fn frontier_matches_node_ids_after_every_append() {
    let leaves = reference::leaves(130);
    for begin in [0u64, 1, 5, 8, 33] {
        let mut r = CompactRange::new_empty(begin);
        for i in begin..130 {
            r.append(leaves[i as usize], &mut |_, _| {}).unwrap();
            assert_eq!(r.node_ids(), compact_range_node_ids(begin, i + 1));
            assert_eq!(r.hashes().len(), r.node_ids().len());
        }
    }
}

#[test]
fn appends_report_about_two_nodes_per_leaf() {
    let mut r = CompactRange::new_empty(0);
    let mut count = 0u64;
    for i in 0..4096u64 {
        r.append(audit::merkle::leaf_hash(&i.to_be_bytes()), &mut |_, _| count += 1).unwrap();
    }
    assert_eq!(count, 2 * 4096 - 1);
}

#[test]
fn from_parts_validates() {
    let leaves = reference::leaves(20);
    let r = range_over(&leaves, 3, 17);
    let again = CompactRange::from_parts(3, 17, r.hashes().to_vec()).unwrap();
    assert_eq!(again, r);
    assert_eq!(
        CompactRange::from_parts(3, 17, r.hashes()[1..].to_vec()),
        Err(MerkleError::RangeHashCount { begin: 3, end: 17, expected: 4, got: 3 })
    );
    assert_eq!(
        CompactRange::from_parts(5, 4, vec![]),
        Err(MerkleError::InvalidRange { begin: 5, end: 4 })
    );
    assert_eq!(CompactRange::new_empty(0).root().unwrap(), empty_root());
    assert_eq!(
        CompactRange::merge(range_over(&leaves, 0, 3), range_over(&leaves, 4, 6)),
        Err(MerkleError::NotAdjacent { left_begin: 0, left_end: 3, right_begin: 4, right_end: 6 })
    );
}

#[test]
fn node_ids_of_known_ranges() {
    let ids = |b, e| -> Vec<(u8, u64)> {
        compact_range_node_ids(b, e).into_iter().map(|n| (n.level, n.index)).collect()
    };
    assert_eq!(ids(0, 0), vec![]);
    assert_eq!(ids(0, 7), vec![(2, 0), (1, 2), (0, 6)]);
    assert_eq!(ids(3, 13), vec![(0, 3), (2, 1), (2, 2), (0, 12)]);
    assert_eq!(ids(3, 14), vec![(0, 3), (2, 1), (2, 2), (1, 6)]);
    assert_eq!(ids(0, u64::MAX).len(), 64);
}
