//! Shared builders: sample entries, an in-memory log that keeps every
//! complete node like the server's store would, and export assembly.

use std::collections::HashMap;

use audit::entry::canonical_time;
use audit::merkle::{CompactRange, Hash, NodeId, compact_range_node_ids, leaf_hash, node_hash};
use audit::{
    ActorKind, Checkpoint, Entry, ExportHeader, ExportLine, ExportTrailer, NoteSigner, Outcome,
    PersonalField,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use time::OffsetDateTime;
use uuid::Uuid;

pub const ORIGIN: &str = "rampart.test/audit/0192a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";

pub fn org() -> Uuid {
    Uuid::parse_str("0192a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b").unwrap()
}

pub fn signer() -> NoteSigner {
    NoteSigner::from_seed(ORIGIN, [7u8; 32]).unwrap()
}

/// Strings that exercise escaping: quotes, backslashes, control characters,
/// non-ASCII and astral characters.
const AWKWARD: &[&str] =
    &["plain", "with \"quotes\"", "back\\slash", "tab\tnew\nline\u{1}\u{1f}", "é ü 漢字 🎉", ""];

pub fn sample_entry(org: Uuid, index: u64, rng: &mut StdRng) -> Entry {
    let base = OffsetDateTime::from_unix_timestamp(1_717_000_000).unwrap();
    let time = canonical_time(
        base + time::Duration::seconds(index as i64)
            + time::Duration::nanoseconds(rng.gen_range(0..1_000_000_000)),
    );
    let opt = |rng: &mut StdRng, p: f64, s: String| rng.gen_bool(p).then_some(s);
    let awkward = |rng: &mut StdRng| AWKWARD[rng.gen_range(0..AWKWARD.len())].to_owned();
    let mut salt = || {
        let mut s = [0u8; 16];
        rng.fill(&mut s);
        s
    };
    let salts = [salt(), salt(), salt(), salt()];
    let personal = |rng: &mut StdRng, v: String, salt: [u8; 16]| {
        if rng.gen_bool(0.8) { PersonalField::present(v, salt) } else { PersonalField::Absent }
    };
    let details = if rng.gen_bool(0.7) {
        let v = serde_json::json!({
            "zeta": rng.gen_range(-5i64..1_000_000),
            "alpha": [true, null, "x\u{2}y", {"nested": "é", "b": 1, "a": u64::MAX}],
            "mid": awkward(rng),
        });
        PersonalField::details(&v, salts[3]).unwrap()
    } else {
        PersonalField::Absent
    };
    let a1 = awkward(rng);
    let a2 = awkward(rng);
    let ua = awkward(rng);
    let uid = format!("user-{}", rng.gen_range(0..100));
    let key = format!("api_key:{}", rng.gen_range(0..10));
    Entry {
        organization_id: org,
        index,
        time,
        actor_kind: ActorKind::ALL[rng.gen_range(0..4)],
        actor_id: opt(rng, 0.8, uid),
        credential: opt(rng, 0.7, key),
        action: ["iam.user.create", "iam.role.grant", "secrets.read"][rng.gen_range(0..3)]
            .to_owned(),
        resource_type: "user".to_owned(),
        resource_id: opt(rng, 0.6, a1),
        outcome: Outcome::ALL[rng.gen_range(0..3)],
        reason: opt(rng, 0.4, a2),
        request_id: opt(rng, 0.5, format!("req-{index}")),
        privileged: rng.gen_bool(0.3),
        actor_label: personal(rng, format!("person{index}@example.com"), salts[0]),
        source_ip: personal(rng, "192.0.2.10".to_owned(), salts[1]),
        user_agent: personal(rng, ua, salts[2]),
        details,
    }
}

/// A log as the server keeps it: every complete node in a map.
pub struct Log {
    pub entries: Vec<Entry>,
    pub nodes: HashMap<NodeId, Hash>,
    pub range: CompactRange,
}

impl Log {
    pub fn new() -> Self {
        Self { entries: Vec::new(), nodes: HashMap::new(), range: CompactRange::new_empty(0) }
    }

    pub fn with_entries(n: u64, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut log = Self::new();
        for i in 0..n {
            log.push(sample_entry(org(), i, &mut rng));
        }
        log
    }

    pub fn push(&mut self, entry: Entry) {
        let hash = entry.leaf_hash().unwrap();
        let nodes = &mut self.nodes;
        self.range
            .append(hash, &mut |id, h| {
                nodes.insert(id, h);
            })
            .unwrap();
        self.entries.push(entry);
    }

    pub fn root_at(&self, size: u64) -> Hash {
        audit::merkle::root_plan(size).assemble(|id| self.nodes.get(&id).copied()).unwrap()[0]
    }

    pub fn range_hashes(&self, begin: u64, end: u64) -> Vec<Hash> {
        compact_range_node_ids(begin, end).into_iter().map(|id| self.nodes[&id]).collect()
    }

    pub fn checkpoint(&self, size: u64) -> String {
        let cp = Checkpoint {
            origin: ORIGIN.to_owned(),
            size,
            root: self.root_at(size),
            extensions: vec![],
        };
        signer().sign_checkpoint(&cp).unwrap()
    }

    /// Export of entries [from, to) against the checkpoint at `size`.
    pub fn export(&self, from: u64, to: u64, size: u64) -> (String, String) {
        let checkpoint = self.checkpoint(size);
        let mut out = ExportHeader {
            organization_id: org(),
            origin: ORIGIN.to_owned(),
            from_index: from,
            to_index: to,
            left: self.range_hashes(0, from),
        }
        .to_line();
        for e in &self.entries[from as usize..to as usize] {
            out.push_str(ExportLine::entry(e).unwrap().as_str());
        }
        out.push_str(
            &ExportTrailer { right: self.range_hashes(to, size), checkpoint: checkpoint.clone() }
                .to_line(),
        );
        (out, checkpoint)
    }
}

/// Naive RFC 9162 reference, written straight from the recursive
/// definitions, to check the iterative code against.
pub mod reference {
    use super::*;

    fn split(n: usize) -> usize {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        k
    }

    pub fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => audit::merkle::empty_root(),
            1 => leaves[0],
            n => {
                let k = split(n);
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    pub fn path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
        let n = leaves.len();
        if n <= 1 {
            return vec![];
        }
        let k = split(n);
        if m < k {
            let mut p = path(m, &leaves[..k]);
            p.push(mth(&leaves[k..]));
            p
        } else {
            let mut p = path(m - k, &leaves[k..]);
            p.push(mth(&leaves[..k]));
            p
        }
    }

    pub fn proof(m: usize, leaves: &[Hash]) -> Vec<Hash> {
        subproof(m, leaves, true)
    }

    fn subproof(m: usize, leaves: &[Hash], whole: bool) -> Vec<Hash> {
        let n = leaves.len();
        if m == n {
            return if whole { vec![] } else { vec![mth(leaves)] };
        }
        let k = split(n);
        if m <= k {
            let mut p = subproof(m, &leaves[..k], whole);
            p.push(mth(&leaves[k..]));
            p
        } else {
            let mut p = subproof(m - k, &leaves[k..], false);
            p.push(mth(&leaves[..k]));
            p
        }
    }

    pub fn leaves(n: usize) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(format!("leaf {i}").as_bytes())).collect()
    }
}
