//! Full audit tiles kept in memory for proofs.
//!
//! A full tile (all [`TILE_WIDTH`] base nodes present) holds complete subtree hashes, which
//! never change once written: it can be cached without invalidation. Partial tiles, at the
//! right edge of a growing tree, are always read from the store. A proof at tree size `n`
//! reads one tile per tile level; with the upper levels in memory (a few thousand tiles
//! cover ten million entries), a proof costs at most the one base tile holding its entry.
//!
//! The cache is bounded by a number of tiles and evicts with the CLOCK policy: a hit marks
//! the tile, eviction skips (and unmarks) marked tiles, so the tiles every proof needs stay
//! while the base tiles of scattered entries come and go. Proofs only: the integrity check
//! reads the store, so that it sees what is stored rather than what was read earlier.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use audit::merkle::NodeId;
use audit::tiles::{TILE_WIDTH, Tile, TileId};
use base::OrganizationId;
use store::Transaction;

use crate::AppError;
use crate::audit_trail::{fetch_tiles, parse_tile, tile_keys};

/// Tiles kept by default: about 2 KiB each, so about 36 MiB.
pub const DEFAULT_CACHED_TILES: usize = 16_384;

type Key = (OrganizationId, TileId);

struct Slot {
    key: Key,
    tile: Arc<Tile>,
    referenced: bool,
}

#[derive(Default)]
struct Clock {
    slots: Vec<Slot>,
    positions: HashMap<Key, usize>,
    hand: usize,
}

/// The cache of full tiles, shared by every request.
pub(crate) struct TileCache {
    capacity: usize,
    clock: Mutex<Clock>,
}

impl std::fmt::Debug for TileCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TileCache").field("capacity", &self.capacity).finish_non_exhaustive()
    }
}

impl TileCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self { capacity, clock: Mutex::new(Clock::default()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Clock> {
        self.clock.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self, key: &Key) -> Option<Arc<Tile>> {
        let mut clock = self.lock();
        let position = *clock.positions.get(key)?;
        let slot = &mut clock.slots[position];
        slot.referenced = true;
        Some(Arc::clone(&slot.tile))
    }

    /// Keep `tile` if it is full; a partial tile may still grow and is not kept.
    fn insert(&self, key: Key, tile: Arc<Tile>) {
        if self.capacity == 0 || tile.width() != TILE_WIDTH {
            return;
        }
        let mut clock = self.lock();
        if clock.positions.contains_key(&key) {
            return;
        }
        if clock.slots.len() < self.capacity {
            let position = clock.slots.len();
            clock.slots.push(Slot { key, tile, referenced: false });
            clock.positions.insert(key, position);
            return;
        }
        // Every marked slot passed is unmarked, so this ends within two turns.
        loop {
            let hand = clock.hand;
            clock.hand = (hand + 1) % clock.slots.len();
            let slot = &mut clock.slots[hand];
            if slot.referenced {
                slot.referenced = false;
                continue;
            }
            let evicted = std::mem::replace(slot, Slot { key, tile, referenced: false }).key;
            clock.positions.remove(&evicted);
            clock.positions.insert(key, hand);
            return;
        }
    }

    /// How many tiles are kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().slots.len()
    }

    /// The tiles of `nodes` held here, and the nodes whose tiles are not.
    fn cached(
        &self,
        organization_id: OrganizationId,
        nodes: &[NodeId],
    ) -> (BTreeMap<TileId, Arc<Tile>>, Vec<NodeId>) {
        let mut tiles: BTreeMap<TileId, Arc<Tile>> = BTreeMap::new();
        let mut missing = Vec::new();
        for &node in nodes {
            let id = TileId::of(node);
            if tiles.contains_key(&id) {
                continue;
            }
            match self.get(&(organization_id, id)) {
                Some(tile) => {
                    tiles.insert(id, tile);
                }
                None => missing.push(node),
            }
        }
        (tiles, missing)
    }

    /// Keep the full tiles just read and add them all to `tiles`.
    fn add_read(
        &self,
        organization_id: OrganizationId,
        tiles: &mut BTreeMap<TileId, Arc<Tile>>,
        read: impl IntoIterator<Item = (TileId, Tile)>,
    ) {
        for (id, tile) in read {
            let tile = Arc::new(tile);
            self.insert((organization_id, id), Arc::clone(&tile));
            tiles.insert(id, tile);
        }
    }

    /// The hashes of `nodes` (those that exist): full tiles from memory, the others read
    /// from the store in one query and kept when full.
    pub(crate) async fn fetch_nodes(
        &self,
        transaction: &mut Transaction,
        organization_id: OrganizationId,
        nodes: &[NodeId],
    ) -> Result<HashMap<NodeId, audit::Hash>, AppError> {
        let (mut tiles, missing) = self.cached(organization_id, nodes);
        if !missing.is_empty() {
            let read = fetch_tiles(transaction, organization_id, &missing).await?;
            self.add_read(organization_id, &mut tiles, read);
        }
        Ok(nodes_in(&tiles, nodes))
    }

    /// As [`TileCache::fetch_nodes`], reading what is missing through the SQLite tile
    /// reader on this thread.
    pub(crate) fn read_nodes(
        &self,
        reader: &store::SqliteTileReader,
        organization_id: OrganizationId,
        nodes: &[NodeId],
    ) -> Result<HashMap<NodeId, audit::Hash>, AppError> {
        let (mut tiles, missing) = self.cached(organization_id, nodes);
        if !missing.is_empty() {
            let read = reader
                .audit_tiles(organization_id.as_uuid(), &tile_keys(&missing))?
                .into_iter()
                .map(parse_tile)
                .collect::<Result<Vec<_>, AppError>>()?;
            self.add_read(organization_id, &mut tiles, read);
        }
        Ok(nodes_in(&tiles, nodes))
    }
}

fn nodes_in(tiles: &BTreeMap<TileId, Arc<Tile>>, nodes: &[NodeId]) -> HashMap<NodeId, audit::Hash> {
    nodes
        .iter()
        .filter_map(|&node| {
            let id = TileId::of(node);
            Some((node, tiles.get(&id)?.get(id, node)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full_tile(seed: u8) -> Arc<Tile> {
        let id = TileId { level: 0, index: 0 };
        let mut tile = Tile::empty();
        for k in 0..audit::tiles::TILE_HEIGHT {
            for index in 0..(TILE_WIDTH as u64 >> k) {
                tile.push(id, NodeId::new(k, index), [seed; 32]).unwrap();
            }
        }
        Arc::new(tile)
    }

    fn key(index: u64) -> Key {
        (OrganizationId::from_uuid(uuid::Uuid::nil()), TileId { level: 0, index })
    }

    #[test]
    fn only_full_tiles_are_kept() {
        let cache = TileCache::new(4);
        let mut partial = Tile::empty();
        partial.push(TileId { level: 0, index: 0 }, NodeId::new(0, 0), [1; 32]).unwrap();
        cache.insert(key(0), Arc::new(partial));
        assert_eq!(cache.len(), 0);
        cache.insert(key(0), full_tile(1));
        assert_eq!(cache.get(&key(0)).unwrap().width(), TILE_WIDTH);
    }

    #[test]
    fn eviction_spares_the_tiles_in_use() {
        let cache = TileCache::new(3);
        for index in 0..3 {
            cache.insert(key(index), full_tile(1));
        }
        // Tile 1 is in use; the next two insertions evict 0 and 2, never 1.
        assert!(cache.get(&key(1)).is_some());
        cache.insert(key(10), full_tile(2));
        cache.insert(key(11), full_tile(3));
        assert_eq!(cache.len(), 3);
        assert!(cache.get(&key(1)).is_some(), "the tile in use was evicted");
        assert!(cache.get(&key(0)).is_none() && cache.get(&key(2)).is_none());
        assert!(cache.get(&key(10)).is_some() && cache.get(&key(11)).is_some());
    }

    #[test]
    fn a_zero_capacity_keeps_nothing() {
        let cache = TileCache::new(0);
        cache.insert(key(0), full_tile(1));
        assert_eq!(cache.len(), 0);
    }
}
