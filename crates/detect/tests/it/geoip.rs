//! The MaxMind DB locator against a tiny database written here, following
//! the MaxMind DB format specification (version 2): a binary search tree
//! over address bits with 24-bit records, a data section, and a metadata map
//! after the `\xAB\xCD\xEFMaxMind.com` marker.

use std::net::{IpAddr, Ipv4Addr};

use detect::travel::{GeoLocate, ImpossibleTravel, MaxMindLocator};
use time::{Duration, OffsetDateTime};

/// Data-section encoding of the few types needed.
enum Item<'a> {
    Str(&'a str),
    Double(f64),
    U16(u16),
    U32(u32),
    U64(u64),
    Map(Vec<(&'a str, Item<'a>)>),
    Array(Vec<Item<'a>>),
}

fn control(out: &mut Vec<u8>, type_id: u8, size: usize) {
    assert!(size < 29, "sizes up to 28 are enough here");
    let size = size as u8;
    if type_id <= 7 {
        out.push((type_id << 5) | size);
    } else {
        out.push(size);
        out.push(type_id - 7);
    }
}

fn uint(out: &mut Vec<u8>, type_id: u8, value: u64) {
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    control(out, type_id, 8 - skip);
    out.extend_from_slice(&bytes[skip..]);
}

fn encode(out: &mut Vec<u8>, item: &Item<'_>) {
    match item {
        Item::Str(s) => {
            control(out, 2, s.len());
            out.extend_from_slice(s.as_bytes());
        }
        Item::Double(d) => {
            control(out, 3, 8);
            out.extend_from_slice(&d.to_be_bytes());
        }
        Item::U16(v) => uint(out, 5, u64::from(*v)),
        Item::U32(v) => uint(out, 6, u64::from(*v)),
        Item::U64(v) => uint(out, 9, *v),
        Item::Map(pairs) => {
            control(out, 7, pairs.len());
            for (k, v) in pairs {
                encode(out, &Item::Str(k));
                encode(out, v);
            }
        }
        Item::Array(items) => {
            control(out, 11, items.len());
            for i in items {
                encode(out, i);
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Record {
    Empty,
    Node(u32),
    Data(u32),
}

/// An IPv4 City-style database mapping /8 networks to coordinates.
fn tiny_city_db(networks: &[(u8, f64, f64)]) -> Vec<u8> {
    let mut data = Vec::new();
    let mut nodes: Vec<[Record; 2]> = vec![[Record::Empty, Record::Empty]];
    for (first_octet, lat, lon) in networks {
        let offset = data.len() as u32;
        encode(
            &mut data,
            &Item::Map(vec![(
                "location",
                Item::Map(vec![
                    ("latitude", Item::Double(*lat)),
                    ("longitude", Item::Double(*lon)),
                    ("accuracy_radius", Item::U16(5)),
                ]),
            )]),
        );
        let mut node = 0usize;
        for bit in 0..8 {
            let side = usize::from((first_octet >> (7 - bit)) & 1);
            if bit == 7 {
                nodes[node][side] = Record::Data(offset);
            } else {
                node = match nodes[node][side] {
                    Record::Node(n) => n as usize,
                    _ => {
                        nodes.push([Record::Empty, Record::Empty]);
                        let n = nodes.len() - 1;
                        nodes[node][side] = Record::Node(n as u32);
                        n
                    }
                };
            }
        }
    }
    let node_count = nodes.len() as u32;
    let mut out = Vec::new();
    for pair in &nodes {
        for record in pair {
            let value = match record {
                Record::Empty => node_count,
                Record::Node(n) => *n,
                Record::Data(offset) => node_count + 16 + offset,
            };
            out.extend_from_slice(&value.to_be_bytes()[1..]);
        }
    }
    out.extend_from_slice(&[0u8; 16]);
    out.extend_from_slice(&data);
    out.extend_from_slice(b"\xAB\xCD\xEFMaxMind.com");
    encode(
        &mut out,
        &Item::Map(vec![
            ("binary_format_major_version", Item::U16(2)),
            ("binary_format_minor_version", Item::U16(0)),
            ("build_epoch", Item::U64(1_800_000_000)),
            ("database_type", Item::Str("Rampart-Test-City")),
            ("description", Item::Map(vec![("en", Item::Str("test"))])),
            ("ip_version", Item::U16(4)),
            ("languages", Item::Array(vec![Item::Str("en")])),
            ("node_count", Item::U32(node_count)),
            ("record_size", Item::U16(24)),
        ]),
    );
    out
}

fn v4(a: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, 1, 2, 3))
}

#[test]
fn locator_reads_a_city_database_and_feeds_impossible_travel() {
    let db = tiny_city_db(&[(81, 48.8566, 2.3522), (100, 40.7128, -74.006)]);
    let locator = MaxMindLocator::from_bytes(db).unwrap();
    let paris = locator.locate(v4(81)).expect("81/8 is in the database");
    assert!((paris.latitude - 48.8566).abs() < 1e-9);
    assert!((paris.longitude - 2.3522).abs() < 1e-9);
    assert!((paris.accuracy_km - 5.0).abs() < 1e-9);
    assert!(locator.locate(v4(82)).is_none(), "82/8 is not");
    assert!(locator.locate("2001:db8::1".parse().unwrap()).is_none());

    let mut travel = ImpossibleTravel::default();
    let t0 = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
    assert!(travel.observe(&locator, "alice", v4(81), t0).is_none());
    let detection = travel.observe(&locator, "alice", v4(100), t0 + Duration::hours(2));
    assert!(detection.is_some(), "Paris to New York in two hours");
}
