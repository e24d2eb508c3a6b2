//! RFC 9162 Merkle tree hashing, proof verification, the append-only
//! compact range, and proof *plans* that let a store build proofs from the
//! complete subtree hashes it persisted, without rebuilding the tree.
//!
//! Storage model: every complete, aligned subtree is a [`NodeId`]
//! `(level, index)` covering leaves `[index·2^level, (index+1)·2^level)`.
//! Level 0 holds the leaf hashes. Nodes on the right edge of a tree whose size
//! is not a power of two are never stored: they change as the tree grows, so
//! plans list the complete nodes that make them up and hash them on assembly.

use sha2::{Digest, Sha256};

/// A SHA-256 output: leaf, node or root hash.
pub type Hash = [u8; 32];

/// Errors from proof verification, compact ranges and proof plans.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MerkleError {
    /// An inclusion proof was asked for a leaf that is not in the tree.
    #[error("leaf index {index} is out of range for tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    /// A proof has the wrong number of hashes for the sizes involved.
    #[error("proof has {got} hashes, expected {expected}")]
    ProofLength { expected: usize, got: usize },
    /// The root recomputed from an inclusion proof differs from the given root.
    #[error("root computed from the inclusion proof does not match the expected root")]
    InclusionRootMismatch,
    /// The old root recomputed from a consistency proof differs from `root1`.
    #[error("first root computed from the consistency proof does not match root1")]
    ConsistencyRoot1Mismatch,
    /// The new root recomputed from a consistency proof differs from `root2`.
    #[error("second root computed from the consistency proof does not match root2")]
    ConsistencyRoot2Mismatch,
    /// Trees of equal size must have equal roots.
    #[error("sizes are equal ({size}) but the roots differ")]
    EqualSizeRootMismatch { size: u64 },
    /// A tree cannot shrink.
    #[error("size1 ({size1}) is greater than size2 ({size2})")]
    SizeDecreased { size1: u64, size2: u64 },
    /// RFC 9162 defines consistency proofs only from a non-empty tree; any tree
    /// extends the empty one, so such a check proves nothing and is refused.
    #[error("consistency proof from an empty tree is not defined")]
    EmptyFirstTree,
    /// Compact range bounds are reversed.
    #[error("invalid range [{begin}, {end}): begin is after end")]
    InvalidRange { begin: u64, end: u64 },
    /// A compact range was given the wrong number of hashes.
    #[error("compact range [{begin}, {end}) needs {expected} hashes, got {got}")]
    RangeHashCount { begin: u64, end: u64, expected: usize, got: usize },
    /// Two compact ranges that do not touch were merged.
    #[error(
        "cannot merge [{left_begin}, {left_end}) with [{right_begin}, {right_end}): ranges are not adjacent"
    )]
    NotAdjacent { left_begin: u64, left_end: u64, right_begin: u64, right_end: u64 },
    /// A tree root was asked of a range that does not start at leaf 0.
    #[error("range [{begin}, {end}) does not start at 0, so it has no tree root")]
    NotATree { begin: u64, end: u64 },
    /// The range would exceed 2^64 - 1 leaves.
    /// A stored tile's length is that of no tile width.
    #[error("a stored tile of {length} bytes has no valid width")]
    InvalidTile { length: usize },
    /// A node was put in a tile out of order, or in a tile that does not hold it.
    #[error("node (level {level}, index {index}) does not come next in this tile")]
    TileOrder { level: u8, index: u64 },
    #[error("tree size overflow")]
    Overflow,
    /// A plan's node lookup returned nothing.
    #[error("node (level {}, index {}) is missing from the store", .0.level, .0.index)]
    MissingNode(NodeId),
}

/// A complete, aligned subtree: leaves `[index·2^level, (index+1)·2^level)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    /// Height above the leaves; 0 is a leaf hash.
    pub level: u8,
    /// Position among the nodes of this level, from the left.
    pub index: u64,
}

impl NodeId {
    /// Node `(level, index)`.
    pub fn new(level: u8, index: u64) -> Self {
        Self { level, index }
    }

    /// First leaf covered by this node, if it fits in a u64.
    pub fn first_leaf(self) -> Option<u64> {
        self.index.checked_shl(u32::from(self.level)).filter(|v| v >> self.level == self.index)
    }

    /// Number of leaves under this node (2^level), `None` when it overflows.
    pub fn width(self) -> Option<u64> {
        1u64.checked_shl(u32::from(self.level))
    }
}

/// `SHA-256(0x00 ‖ data)`: the hash of one leaf.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    h.finalize().into()
}

/// `SHA-256(0x01 ‖ left ‖ right)`: the hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// `SHA-256("")`: the root of the empty tree.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Floor of log2 for a non-zero value.
fn floor_log2(v: u64) -> u32 {
    63 - v.leading_zeros()
}

/// Largest power of two strictly smaller than `n` (RFC 9162's `k`), for n ≥ 2.
fn split_point(n: u64) -> u64 {
    1u64 << floor_log2(n - 1)
}

/// Number of hashes in an inclusion proof of `index` in a tree of `size`
/// leaves (index < size): the levels where the path has a sibling.
fn inclusion_proof_len(index: u64, size: u64) -> usize {
    let last = size - 1;
    // Below the level where the paths to `index` and to the last leaf meet,
    // every level has a sibling; above it, only levels where `index` is a
    // right child do (the left edge of a right-incomplete subtree is skipped).
    let inner = (u64::BITS - (index ^ last).leading_zeros()) as usize;
    let border = (index >> inner).count_ones() as usize;
    inner + border
}

/// Verifies that `leaf` is at `index` in the tree of `size` leaves with
/// `root`, per RFC 9162 §2.1.3.2.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), MerkleError> {
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size });
    }
    let expected = inclusion_proof_len(index, size);
    if proof.len() != expected {
        return Err(MerkleError::ProofLength { expected, got: proof.len() });
    }
    let mut f_n = index;
    let mut s_n = size - 1;
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return Err(MerkleError::ProofLength { expected, got: proof.len() });
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                // Skip the levels where this node is a lone left child on the
                // right edge: it is promoted unchanged.
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(MerkleError::ProofLength { expected, got: proof.len() });
    }
    if &r != root {
        return Err(MerkleError::InclusionRootMismatch);
    }
    Ok(())
}

/// Number of hashes in a consistency proof between sizes 0 < size1 < size2.
fn consistency_proof_len(size1: u64, size2: u64) -> usize {
    // The proof is the inclusion path of the node holding the last leaf of
    // size1 at the level of size1's lowest set bit, plus that node itself
    // unless it is the whole old tree (size1 a power of two).
    let shift = size1.trailing_zeros();
    let index = (size1 - 1) >> shift;
    let last = (size2 - 1) >> shift;
    let inner = (u64::BITS - (index ^ last).leading_zeros()) as usize;
    let border = (index >> inner).count_ones() as usize;
    usize::from(index != 0) + inner + border
}

/// Verifies that the tree of `size2` leaves with `root2` extends the tree of
/// `size1` leaves with `root1`, per RFC 9162 §2.1.4.2.
///
/// Equal sizes need an empty proof and equal roots. A first size of 0 is an
/// error: the check would prove nothing, and RFC 9162 does not define it.
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    proof: &[Hash],
    root1: &Hash,
    root2: &Hash,
) -> Result<(), MerkleError> {
    if size1 > size2 {
        return Err(MerkleError::SizeDecreased { size1, size2 });
    }
    if size1 == 0 {
        return Err(MerkleError::EmptyFirstTree);
    }
    if size1 == size2 {
        if !proof.is_empty() {
            return Err(MerkleError::ProofLength { expected: 0, got: proof.len() });
        }
        if root1 != root2 {
            return Err(MerkleError::EqualSizeRootMismatch { size: size1 });
        }
        return Ok(());
    }
    let expected = consistency_proof_len(size1, size2);
    if proof.len() != expected {
        return Err(MerkleError::ProofLength { expected, got: proof.len() });
    }
    let (seed, rest) = if size1.is_power_of_two() {
        (root1, proof)
    } else {
        match proof.split_first() {
            Some((first, rest)) => (first, rest),
            None => return Err(MerkleError::ProofLength { expected, got: 0 }),
        }
    };
    let mut f_n = size1 - 1;
    let mut s_n = size2 - 1;
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let mut fr = *seed;
    let mut sr = *seed;
    for c in rest {
        if s_n == 0 {
            return Err(MerkleError::ProofLength { expected, got: proof.len() });
        }
        if f_n & 1 == 1 || f_n == s_n {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(MerkleError::ProofLength { expected, got: proof.len() });
    }
    if &fr != root1 {
        return Err(MerkleError::ConsistencyRoot1Mismatch);
    }
    if &sr != root2 {
        return Err(MerkleError::ConsistencyRoot2Mismatch);
    }
    Ok(())
}

/// The stored nodes that make up the compact range `[begin, end)`, left to
/// right: the fewest complete aligned subtrees covering exactly that range
/// (sizes rise, then fall). Empty when `begin >= end`.
pub fn compact_range_node_ids(begin: u64, end: u64) -> Vec<NodeId> {
    let mut ids = Vec::new();
    for_each_range_node(begin, end, |id| ids.push(id));
    ids
}

fn for_each_range_node(begin: u64, end: u64, mut f: impl FnMut(NodeId)) {
    let mut pos = begin;
    while pos < end {
        // The largest block that starts at `pos`, is aligned to its own size
        // and does not pass `end`.
        let fit = floor_log2(end - pos);
        let level = if pos == 0 { fit } else { fit.min(pos.trailing_zeros()) };
        f(NodeId::new(level as u8, pos >> level));
        pos += 1u64 << level;
    }
}

/// The right-edge frontier of the leaf range `[begin, end)`: the hashes of
/// the nodes listed by [`compact_range_node_ids`], left to right.
///
/// With `begin = 0` it is the state an appending log needs: O(log n) hashes
/// from which the root and every newly completed node follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactRange {
    begin: u64,
    end: u64,
    hashes: Vec<Hash>,
}

impl CompactRange {
    /// The empty range `[begin, begin)`.
    pub fn new_empty(begin: u64) -> Self {
        Self { begin, end: begin, hashes: Vec::new() }
    }

    /// Rebuilds a range from stored node hashes, in the order of
    /// [`compact_range_node_ids`]`(begin, end)`.
    pub fn from_parts(begin: u64, end: u64, hashes: Vec<Hash>) -> Result<Self, MerkleError> {
        if begin > end {
            return Err(MerkleError::InvalidRange { begin, end });
        }
        let expected = compact_range_node_ids(begin, end).len();
        if hashes.len() != expected {
            return Err(MerkleError::RangeHashCount { begin, end, expected, got: hashes.len() });
        }
        Ok(Self { begin, end, hashes })
    }

    /// First leaf of the range.
    pub fn begin(&self) -> u64 {
        self.begin
    }

    /// One past the last leaf of the range.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// The frontier hashes, left to right.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// The node ids matching [`Self::hashes`].
    pub fn node_ids(&self) -> Vec<NodeId> {
        compact_range_node_ids(self.begin, self.end)
    }

    /// Appends the leaf at position `end` and reports every node this
    /// completes (the leaf itself at level 0, then each finished parent) so
    /// the caller can persist it. Parents whose left half lies before
    /// `begin` cannot be computed here and are not reported.
    pub fn append(
        &mut self,
        leaf_hash: Hash,
        on_node: &mut impl FnMut(NodeId, Hash),
    ) -> Result<(), MerkleError> {
        self.push_node(NodeId::new(0, self.end), leaf_hash, on_node)
    }

    /// Pushes a complete node that starts exactly at `end`, merging it with
    /// its left siblings while they are inside the range.
    fn push_node(
        &mut self,
        id: NodeId,
        hash: Hash,
        on_node: &mut impl FnMut(NodeId, Hash),
    ) -> Result<(), MerkleError> {
        let width = id.width().ok_or(MerkleError::Overflow)?;
        let new_end = self.end.checked_add(width).ok_or(MerkleError::Overflow)?;
        on_node(id, hash);
        let (mut level, mut index, mut acc) = (id.level, id.index, hash);
        // An odd index is a right child; its sibling is the last node of the
        // range exactly when the sibling starts at or after `begin`, because
        // the canonical decomposition ends with the largest aligned block
        // that fits before this node.
        while index & 1 == 1 && ((index - 1) << level) >= self.begin {
            let Some(left) = self.hashes.pop() else {
                // Unreachable: the sibling is the range's last node whenever
                // it lies inside the range; kept as an error, not a panic.
                return Err(MerkleError::Overflow);
            };
            acc = node_hash(&left, &acc);
            level += 1;
            index >>= 1;
            on_node(NodeId::new(level, index), acc);
        }
        self.hashes.push(acc);
        self.end = new_end;
        Ok(())
    }

    /// Appends the adjacent range `[self.end, right.end)`, reporting nodes
    /// completed by the join.
    pub fn extend(
        &mut self,
        right: &CompactRange,
        on_node: &mut impl FnMut(NodeId, Hash),
    ) -> Result<(), MerkleError> {
        if right.begin != self.end {
            return Err(MerkleError::NotAdjacent {
                left_begin: self.begin,
                left_end: self.end,
                right_begin: right.begin,
                right_end: right.end,
            });
        }
        let ids = right.node_ids();
        for (id, hash) in ids.into_iter().zip(right.hashes.iter()) {
            // Nodes of `right` are already stored; only report the new joins.
            let mut first = true;
            self.push_node(id, *hash, &mut |nid, h| {
                if !first {
                    on_node(nid, h);
                }
                first = false;
            })?;
        }
        Ok(())
    }

    /// Joins `[a, b)` and `[b, c)` into `[a, c)`.
    pub fn merge(left: CompactRange, right: CompactRange) -> Result<CompactRange, MerkleError> {
        let mut out = left;
        out.extend(&right, &mut |_, _| {})?;
        Ok(out)
    }

    /// The root hash of the tree `[0, end)`; the empty root when `end = 0`.
    pub fn root(&self) -> Result<Hash, MerkleError> {
        if self.begin != 0 {
            return Err(MerkleError::NotATree { begin: self.begin, end: self.end });
        }
        Ok(fold_right(&self.hashes))
    }
}

/// Hashes a list of adjacent perfect subtrees right to left, which is how
/// RFC 9162 hashes an incomplete right edge. The empty list is the empty root.
fn fold_right(hashes: &[Hash]) -> Hash {
    let mut iter = hashes.iter().rev();
    let Some(last) = iter.next() else {
        return empty_root();
    };
    let mut acc = *last;
    for h in iter {
        acc = node_hash(h, &acc);
    }
    acc
}

/// How to build a proof from stored nodes: one entry per proof hash, each a
/// run of complete nodes to fold right to left (a single node for complete
/// subtrees, several for an incomplete right-edge subtree).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofPlan {
    // Flattened for fewer allocations: element i uses
    // nodes[bounds[i]..bounds[i + 1]].
    nodes: Vec<NodeId>,
    bounds: Vec<usize>,
}

impl ProofPlan {
    fn new() -> Self {
        let mut bounds = Vec::with_capacity(66);
        bounds.push(0);
        Self { nodes: Vec::with_capacity(128), bounds }
    }

    fn push_range(&mut self, begin: u64, end: u64) {
        for_each_range_node(begin, end, |id| self.nodes.push(id));
        self.bounds.push(self.nodes.len());
    }

    /// Number of hashes the assembled proof will have.
    pub fn len(&self) -> usize {
        self.bounds.len() - 1
    }

    /// True when the assembled proof is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The distinct stored nodes needed, sorted, for one batched fetch.
    pub fn node_ids(&self) -> Vec<NodeId> {
        let mut ids = self.nodes.clone();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Builds the proof, fetching each needed node through `lookup`.
    pub fn assemble(
        &self,
        mut lookup: impl FnMut(NodeId) -> Option<Hash>,
    ) -> Result<Vec<Hash>, MerkleError> {
        let mut out = Vec::with_capacity(self.len());
        let mut parts: Vec<Hash> = Vec::new();
        for w in self.bounds.windows(2) {
            let ids = self.nodes.get(w[0]..w[1]).unwrap_or(&[]);
            parts.clear();
            for id in ids {
                parts.push(lookup(*id).ok_or(MerkleError::MissingNode(*id))?);
            }
            out.push(fold_right(&parts));
        }
        Ok(out)
    }
}

/// Plan for the inclusion proof of leaf `index` in the tree of `size`
/// leaves (RFC 9162 §2.1.3.1), ordered from the leaf upwards.
pub fn inclusion_proof_plan(index: u64, size: u64) -> Result<ProofPlan, MerkleError> {
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size });
    }
    let mut plan = ProofPlan::new();
    // Walk down from the root collecting siblings, then reverse so the
    // proof runs leaf-upwards; each sibling is the subtree [a, b).
    let mut siblings: Vec<(u64, u64)> = Vec::new();
    let (mut lo, mut hi, mut m) = (0u64, size, index);
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if m < k {
            siblings.push((lo + k, hi));
            hi = lo + k;
        } else {
            siblings.push((lo, lo + k));
            lo += k;
            m -= k;
        }
    }
    for (a, b) in siblings.into_iter().rev() {
        plan.push_range(a, b);
    }
    Ok(plan)
}

/// Plan for the consistency proof from `size1` to `size2` leaves
/// (RFC 9162 §2.1.4.1). Equal sizes give an empty plan.
pub fn consistency_proof_plan(size1: u64, size2: u64) -> Result<ProofPlan, MerkleError> {
    if size1 > size2 {
        return Err(MerkleError::SizeDecreased { size1, size2 });
    }
    if size1 == 0 {
        return Err(MerkleError::EmptyFirstTree);
    }
    let mut plan = ProofPlan::new();
    if size1 == size2 {
        return Ok(plan);
    }
    // SUBPROOF(m, D[lo:hi], complete) unrolled: descend, remembering the
    // sibling ranges, and emit them innermost first.
    let mut siblings: Vec<(u64, u64)> = Vec::new();
    let (mut lo, mut hi, mut m, mut whole) = (0u64, size2, size1, true);
    loop {
        let n = hi - lo;
        if m == n {
            if !whole {
                siblings.push((lo, hi));
            }
            break;
        }
        let k = split_point(n);
        if m <= k {
            siblings.push((lo + k, hi));
            hi = lo + k;
        } else {
            siblings.push((lo, lo + k));
            lo += k;
            m -= k;
            whole = false;
        }
    }
    for (a, b) in siblings.into_iter().rev() {
        plan.push_range(a, b);
    }
    Ok(plan)
}

/// Plan whose single assembled hash is the root of the tree of `size`
/// leaves (the empty root for size 0).
pub fn root_plan(size: u64) -> ProofPlan {
    let mut plan = ProofPlan::new();
    plan.push_range(0, size);
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inclusion_len_matches_small_cases() {
        assert_eq!(inclusion_proof_len(0, 1), 0);
        assert_eq!(inclusion_proof_len(0, 8), 3);
        assert_eq!(inclusion_proof_len(6, 7), 2);
        assert_eq!(inclusion_proof_len(4, 5), 1);
    }

    #[test]
    fn compact_ids_cover_range() {
        for begin in 0..40u64 {
            for end in begin..80u64 {
                let mut pos = begin;
                for id in compact_range_node_ids(begin, end) {
                    assert_eq!(id.first_leaf(), Some(pos));
                    pos += id.width().unwrap();
                }
                assert_eq!(pos, end);
            }
        }
    }
}
