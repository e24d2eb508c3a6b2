//! How a tree's complete subtree hashes are stored: in tiles.
//!
//! A tile is a [`TILE_HEIGHT`]-level slice of the tree (H = 5 levels) under [`TILE_WIDTH`]
//! (W = 2^H = 32) consecutive nodes of its base level. Tile `(level T, index N)` holds, for each
//! `k` in `0..H`, the complete nodes of tree level `H·T + k` whose leaves fall under base nodes
//! `N·W .. N·W + W − 1` (base level `H·T`). A tile of width `w` (how many base nodes it has so
//! far, 1 to W) therefore holds `w >> k` hashes at each `k`, and a full tile's top node (level
//! `H·T + H`) is a base node of tile `(T + 1, N / W)`.
//!
//! Storing tiles instead of single nodes makes a log of `n` entries about `n / 16` rows
//! instead of `2n`; an append rewrites only the right edge's tiles, and a proof reads at most
//! one tile per tile level (five for a tree of 33 million entries). A full tile is 63 hashes,
//! 2,016 bytes: it fits in one 4 KiB database page without overflow pages, so each tile read
//! is one page at the bottom of a B-tree. The layout is internal to the server: exports and
//! proofs carry hashes, never tiles.
//!
//! Serialised, a tile is its hashes level by level (`k = 0` first), each level left to right;
//! its width follows from its length.

use crate::merkle::{Hash, MerkleError, NodeId};

/// Tree levels per tile.
pub const TILE_HEIGHT: u8 = 5;
/// Base nodes per full tile.
pub const TILE_WIDTH: usize = 1 << TILE_HEIGHT;

/// A tile's position: its tile level (tree levels `TILE_HEIGHT·level ..`) and its index there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileId {
    pub level: u8,
    pub index: u64,
}

impl TileId {
    /// The tile that holds `node`.
    pub fn of(node: NodeId) -> Self {
        let k = node.level % TILE_HEIGHT;
        Self { level: node.level / TILE_HEIGHT, index: node.index >> (TILE_HEIGHT - k) }
    }

    /// The distinct tiles holding `nodes`, sorted.
    pub fn covering(nodes: &[NodeId]) -> Vec<Self> {
        let mut tiles: Vec<Self> = nodes.iter().copied().map(Self::of).collect();
        tiles.sort_unstable();
        tiles.dedup();
        tiles
    }

    /// Where `node` sits in this tile: its level within the tile and its position there, or
    /// `None` when the tile does not hold it.
    fn slot(self, node: NodeId) -> Option<(usize, usize)> {
        if Self::of(node) != self {
            return None;
        }
        let k = node.level % TILE_HEIGHT;
        let per_level = TILE_WIDTH >> k;
        let first = self.index.checked_mul(per_level as u64)?;
        let position = usize::try_from(node.index - first).ok()?;
        Some((usize::from(k), position))
    }
}

/// The hashes of one tile, by level within the tile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tile {
    levels: [Vec<Hash>; TILE_HEIGHT as usize],
}

/// Hashes a tile of width `w` holds: `w + w/2 + … + w/2^(H−1)`.
fn hash_count(width: usize) -> usize {
    (0..TILE_HEIGHT).map(|k| width >> k).sum()
}

impl Default for Tile {
    fn default() -> Self {
        Self::empty()
    }
}

impl Tile {
    /// A tile with no node yet.
    pub fn empty() -> Self {
        Self { levels: Default::default() }
    }

    /// Base nodes the tile holds (0 to [`TILE_WIDTH`]).
    pub fn width(&self) -> usize {
        self.levels[0].len()
    }

    /// Parse a stored tile; its length must be that of some width from 1 to [`TILE_WIDTH`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, MerkleError> {
        let invalid = || MerkleError::InvalidTile { length: bytes.len() };
        if !bytes.len().is_multiple_of(32) {
            return Err(invalid());
        }
        let count = bytes.len() / 32;
        let width = (1..=TILE_WIDTH).find(|&w| hash_count(w) >= count).ok_or_else(invalid)?;
        if hash_count(width) != count {
            return Err(invalid());
        }
        let mut hashes = bytes.chunks_exact(32).map(|chunk| {
            let mut hash = [0u8; 32];
            hash.copy_from_slice(chunk);
            hash
        });
        let mut tile = Self::empty();
        for (k, level) in tile.levels.iter_mut().enumerate() {
            level.extend(hashes.by_ref().take(width >> k));
        }
        Ok(tile)
    }

    /// The stored form.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.levels.iter().flatten().flat_map(|hash| hash.iter().copied()).collect()
    }

    /// The hash of `node`, if this tile (at `id`) holds it.
    pub fn get(&self, id: TileId, node: NodeId) -> Option<Hash> {
        let (k, position) = id.slot(node)?;
        self.levels[k].get(position).copied()
    }

    /// Record `node`, which must be the next node of its level in this tile (nodes are
    /// completed left to right).
    pub fn push(&mut self, id: TileId, node: NodeId, hash: Hash) -> Result<(), MerkleError> {
        let misplaced = || MerkleError::TileOrder { level: node.level, index: node.index };
        let (k, position) = id.slot(node).ok_or_else(misplaced)?;
        if self.levels[k].len() != position {
            return Err(misplaced());
        }
        self.levels[k].push(hash);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{CompactRange, leaf_hash};
    use std::collections::BTreeMap;

    const W: u64 = TILE_WIDTH as u64;
    const H: u8 = TILE_HEIGHT;

    #[test]
    fn nodes_map_to_their_tiles() {
        assert_eq!(TileId::of(NodeId::new(0, W - 1)), TileId { level: 0, index: 0 });
        assert_eq!(TileId::of(NodeId::new(0, W)), TileId { level: 0, index: 1 });
        // The top level of a tile holds two nodes: indices 0 and 1 are in tile 0.
        assert_eq!(TileId::of(NodeId::new(H - 1, 1)), TileId { level: 0, index: 0 });
        assert_eq!(TileId::of(NodeId::new(H - 1, 2)), TileId { level: 0, index: 1 });
        assert_eq!(TileId::of(NodeId::new(H, 0)), TileId { level: 1, index: 0 });
        assert_eq!(TileId::of(NodeId::new(H + 1, W / 2 + 3)), TileId { level: 1, index: 1 });
        assert_eq!(TileId::of(NodeId::new(2 * H, W + 5)), TileId { level: 2, index: 1 });
    }

    #[test]
    fn every_node_of_a_tree_round_trips_through_its_tile() {
        let size = 70_000u64;
        let mut tiles: BTreeMap<TileId, Tile> = BTreeMap::new();
        let mut nodes = Vec::new();
        let mut tree = CompactRange::new_empty(0);
        for i in 0..size {
            tree.append(leaf_hash(&i.to_be_bytes()), &mut |node, hash| {
                let id = TileId::of(node);
                tiles.entry(id).or_default().push(id, node, hash).unwrap();
                nodes.push((node, hash));
            })
            .unwrap();
        }
        let stored: BTreeMap<TileId, Tile> = tiles
            .iter()
            .map(|(id, tile)| (*id, Tile::from_bytes(&tile.to_bytes()).unwrap()))
            .collect();
        for (node, hash) in nodes {
            let id = TileId::of(node);
            assert_eq!(stored[&id].get(id, node), Some(hash), "{node:?}");
        }
        // Base tiles: one per W leaves, the last partial; each level up, W times fewer.
        let base_tiles = size.div_ceil(W);
        assert_eq!(stored.keys().filter(|id| id.level == 0).count() as u64, base_tiles);
        let last = TileId { level: 0, index: base_tiles - 1 };
        assert_eq!(stored[&last].width() as u64, size - (base_tiles - 1) * W);
        let level_one = (size / W).div_ceil(W);
        assert_eq!(stored.keys().filter(|id| id.level == 1).count() as u64, level_one);
        // A full tile fits in one 4 KiB page with room for the row's key.
        assert!(stored[&TileId { level: 0, index: 0 }].to_bytes().len() <= 2_048);
    }

    #[test]
    fn a_node_out_of_order_or_in_another_tile_is_refused() {
        let id = TileId { level: 0, index: 0 };
        let mut tile = Tile::empty();
        assert!(tile.push(id, NodeId::new(0, 1), [1; 32]).is_err());
        assert!(tile.push(id, NodeId::new(0, W), [1; 32]).is_err());
        tile.push(id, NodeId::new(0, 0), [1; 32]).unwrap();
        assert_eq!(tile.get(id, NodeId::new(0, 0)), Some([1; 32]));
        assert_eq!(tile.get(id, NodeId::new(0, 1)), None);
        assert_eq!(tile.get(TileId { level: 0, index: 1 }, NodeId::new(0, 0)), None);
    }

    #[test]
    fn lengths_of_no_width_are_refused() {
        assert!(Tile::from_bytes(&[]).is_err());
        assert!(Tile::from_bytes(&[0; 31]).is_err());
        assert!(Tile::from_bytes(&[0; 32]).is_ok()); // width 1
        assert!(Tile::from_bytes(&[0; 64]).is_err()); // no width has 2 hashes
        assert!(Tile::from_bytes(&[0; 96]).is_ok()); // width 2: 2 + 1
        assert!(Tile::from_bytes(&vec![0; 32 * hash_count(TILE_WIDTH)]).is_ok());
        assert!(Tile::from_bytes(&vec![0; 32 * (hash_count(TILE_WIDTH) + 1)]).is_err());
    }
}
