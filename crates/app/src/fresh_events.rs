//! Batches of events just stored, kept in memory until the rules have evaluated them.
//!
//! Ingestion parses every event (and maps Windows records) before storing it; reading the
//! events back from the store and parsing them again would cost the detection pass more
//! than evaluating them. So after a batch commits, its parsed events are offered here, and a
//! detection pass whose cursor is exactly at a batch's first number evaluates that batch from
//! memory. The store stays the truth: the cursor still moves only in the transaction that
//! writes the alerts, a batch that is not here (memory full, a restart, another replica) is
//! read from the store, and a batch the cursor has passed is dropped unread.
//!
//! Memory is bounded by an estimate of what the held batches take once parsed (their raw
//! size times [`PARSED_PER_RAW_BYTE`]); past it a batch is simply not kept.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use base::OrganizationId;
use detect::Event;

/// Estimated bytes of parsed batches held by default.
pub const DEFAULT_FRESH_BYTES: usize = 96 * 1024 * 1024;
/// Parsed JSON takes several times its text: each object member is a key string, a value
/// and an index entry, each string its own allocation. Five times the text is an estimate
/// chosen to err on the large side, not a measurement.
pub const PARSED_PER_RAW_BYTE: usize = 5;

/// A stored batch: events numbered `first_seq..first_seq + events.len()`.
pub(crate) struct FreshBatch {
    pub(crate) first_seq: u64,
    pub(crate) events: Vec<Event>,
    bytes: usize,
    /// The offer's number (see [`FreshEvents::generation`]).
    offered: u64,
}

#[derive(Default)]
struct Held {
    batches: BTreeMap<(OrganizationId, u64), FreshBatch>,
    bytes: usize,
    /// Offers so far.
    offers: u64,
}

impl Held {
    fn remove(&mut self, key: (OrganizationId, u64)) -> Option<FreshBatch> {
        let batch = self.batches.remove(&key)?;
        self.bytes -= batch.bytes;
        Some(batch)
    }
}

pub(crate) struct FreshEvents {
    max_bytes: usize,
    held: Mutex<Held>,
    /// Woken when a batch is offered, so detection follows ingestion closely.
    pub(crate) arrived: tokio::sync::Notify,
    /// Woken when held batches are taken or dropped, for ingestion waiting for room.
    room: tokio::sync::Notify,
}

impl FreshEvents {
    pub(crate) fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            held: Mutex::new(Held::default()),
            arrived: tokio::sync::Notify::new(),
            room: tokio::sync::Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Wait, at most `patience`, until a batch of `raw_bytes` of text would be kept; whether
    /// it would. Ingestion waits here before parsing a batch: when it outruns detection, a
    /// batch that finds no room is evaluated from the store, parsed a second time, so waiting
    /// a little for the rules to catch up costs less than that. A batch too large to be kept
    /// ever does not wait.
    pub(crate) async fn wait_for_room(&self, raw_bytes: usize, patience: Duration) -> bool {
        let bytes = raw_bytes.saturating_mul(PARSED_PER_RAW_BYTE);
        if bytes > self.max_bytes {
            return false;
        }
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            // Registered before looking, so that room made in between still wakes this.
            let freed = self.room.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if self.lock().bytes.saturating_add(bytes) <= self.max_bytes {
                return true;
            }
            if tokio::time::timeout_at(deadline, freed).await.is_err() {
                return false;
            }
        }
    }

    /// Keep a committed batch (`raw_bytes`: the size of its text) if there is room.
    pub(crate) fn offer(
        &self,
        organization_id: OrganizationId,
        first_seq: u64,
        events: Vec<Event>,
        raw_bytes: usize,
    ) {
        let bytes = raw_bytes.saturating_mul(PARSED_PER_RAW_BYTE);
        {
            let mut held = self.lock();
            held.offers += 1;
            if held.bytes.saturating_add(bytes) <= self.max_bytes && !events.is_empty() {
                held.bytes += bytes;
                let offered = held.offers;
                let batch = FreshBatch { first_seq, events, bytes, offered };
                held.batches.insert((organization_id, first_seq), batch);
            }
        }
        self.arrived.notify_one();
    }

    /// The batch starting at `next` for the organisation, if held; batches it holds that
    /// start before `next` were evaluated from the store and are dropped.
    pub(crate) fn take(&self, organization_id: OrganizationId, next: u64) -> Option<FreshBatch> {
        let mut held = self.lock();
        let stale: Vec<(OrganizationId, u64)> = held
            .batches
            .range((organization_id, 0)..(organization_id, next))
            .map(|(key, _)| *key)
            .collect();
        for key in stale {
            held.remove(key);
        }
        let batch = held.remove((organization_id, next));
        drop(held);
        self.room.notify_waiters();
        batch
    }

    /// Drop every batch of the organisation (its stored events changed: a retention purge),
    /// so that detection reads what the store holds.
    pub(crate) fn forget(&self, organization_id: OrganizationId) {
        let mut held = self.lock();
        let keys: Vec<(OrganizationId, u64)> = held
            .batches
            .range((organization_id, 0)..=(organization_id, u64::MAX))
            .map(|(key, _)| *key)
            .collect();
        for key in keys {
            held.remove(key);
        }
        drop(held);
        self.room.notify_waiters();
    }

    /// How many batches were offered so far: read it before listing the organisations with
    /// events to evaluate, and pass it to [`FreshEvents::keep_pending`].
    pub(crate) fn generation(&self) -> u64 {
        self.lock().offers
    }

    /// Drop the batches offered before `generation` of organisations that have nothing left
    /// to evaluate: they were stored before the list was read, so their events have been
    /// evaluated (by another replica, or from the store). Without this, batches another
    /// replica evaluated would stay here.
    pub(crate) fn keep_pending(&self, pending: &[OrganizationId], generation: u64) {
        let mut held = self.lock();
        let stale: Vec<(OrganizationId, u64)> = held
            .batches
            .iter()
            .filter(|((organization_id, _), batch)| {
                batch.offered <= generation && !pending.contains(organization_id)
            })
            .map(|(key, _)| *key)
            .collect();
        for key in stale {
            held.remove(key);
        }
        drop(held);
        self.room.notify_waiters();
    }

    #[cfg(test)]
    fn held_bytes(&self) -> usize {
        self.lock().bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(n: usize) -> Vec<Event> {
        (0..n)
            .map(|i| Event {
                source: detect::EventSource::default(),
                time: time::OffsetDateTime::UNIX_EPOCH,
                fields: serde_json::json!({ "n": i }),
            })
            .collect()
    }

    fn organization(n: u128) -> OrganizationId {
        OrganizationId::from_uuid(uuid::Uuid::from_u128(n))
    }

    // Offers below give raw sizes; what is held is counted five times that.

    #[test]
    fn a_batch_is_taken_once_at_its_first_number() {
        let fresh = FreshEvents::new(1_000);
        fresh.offer(organization(1), 10, events(3), 20);
        assert!(fresh.take(organization(1), 9).is_none());
        assert!(fresh.take(organization(2), 10).is_none());
        let batch = fresh.take(organization(1), 10).unwrap();
        assert_eq!((batch.first_seq, batch.events.len()), (10, 3));
        assert!(fresh.take(organization(1), 10).is_none());
        assert_eq!(fresh.held_bytes(), 0);
    }

    #[test]
    fn batches_the_cursor_passed_are_dropped() {
        let fresh = FreshEvents::new(1_000);
        fresh.offer(organization(1), 0, events(2), 20);
        fresh.offer(organization(1), 2, events(2), 20);
        fresh.offer(organization(2), 0, events(2), 20);
        // The first two were read from the store; the cursor is at 4.
        assert!(fresh.take(organization(1), 4).is_none());
        assert_eq!(fresh.held_bytes(), 100, "only the other organisation's batch is left");
        assert!(fresh.take(organization(2), 0).is_some());
    }

    #[test]
    fn batches_of_organisations_with_nothing_pending_are_dropped_unless_newer() {
        let fresh = FreshEvents::new(1_000);
        fresh.offer(organization(1), 0, events(1), 20);
        fresh.offer(organization(2), 0, events(1), 20);
        let generation = fresh.generation();
        // Offered after the list of pending organisations was read: kept.
        fresh.offer(organization(3), 0, events(1), 20);
        fresh.keep_pending(&[organization(2)], generation);
        assert!(fresh.take(organization(1), 0).is_none(), "evaluated elsewhere: dropped");
        assert!(fresh.take(organization(2), 0).is_some());
        assert!(fresh.take(organization(3), 0).is_some());
    }

    #[test]
    fn a_forgotten_organisation_is_read_from_the_store() {
        let fresh = FreshEvents::new(1_000);
        fresh.offer(organization(1), 0, events(2), 20);
        fresh.offer(organization(2), 0, events(2), 20);
        fresh.forget(organization(1));
        assert!(fresh.take(organization(1), 0).is_none());
        assert!(fresh.take(organization(2), 0).is_some());
        assert_eq!(fresh.held_bytes(), 0);
    }

    #[test]
    fn memory_is_bounded() {
        let fresh = FreshEvents::new(250);
        fresh.offer(organization(1), 0, events(1), 40);
        fresh.offer(organization(1), 1, events(1), 20);
        assert_eq!(fresh.held_bytes(), 200);
        assert!(fresh.take(organization(1), 1).is_none(), "the batch over the bound was not kept");
    }

    #[tokio::test]
    async fn ingestion_waits_for_room_until_detection_takes_a_batch_or_patience_ends() {
        let fresh = std::sync::Arc::new(FreshEvents::new(500));
        fresh.offer(organization(1), 0, events(1), 40);
        let short = Duration::from_millis(50);
        assert!(fresh.wait_for_room(10, short).await, "room for 50 more of the 500 bytes");
        assert!(!fresh.wait_for_room(61, Duration::ZERO).await);
        let started = std::time::Instant::now();
        assert!(!fresh.wait_for_room(61, short).await, "nothing was taken: patience ran out");
        assert!(started.elapsed() >= short);
        let started = std::time::Instant::now();
        assert!(!fresh.wait_for_room(101, Duration::from_secs(60)).await, "never fits");
        assert!(started.elapsed() < Duration::from_secs(1), "and does not wait");

        let waiting = tokio::spawn({
            let fresh = std::sync::Arc::clone(&fresh);
            async move { fresh.wait_for_room(61, Duration::from_secs(60)).await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!waiting.is_finished(), "still waiting while the batch is held");
        let started = std::time::Instant::now();
        assert!(fresh.take(organization(1), 0).is_some());
        assert!(waiting.await.unwrap(), "the batch taken made room");
        assert!(started.elapsed() < Duration::from_secs(10), "woken, not timed out");
    }
}
