//! Impossible travel: two successful sign-ins of one user from places so far
//! apart that covering the distance in the time between them would need more
//! than a given speed (1,000 km/h by default, faster than an airliner).
//!
//! Locations come from a [`GeoLocate`] implementation; [`MaxMindLocator`]
//! reads a MaxMind DB (GeoLite2/GeoIP2 City format) when one is configured.
//! Without a database the check is simply not run. Pure: the caller feeds
//! successful sign-ins with their times.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use serde_json::json;
use time::OffsetDateTime;

use crate::engine::{Detection, DetectionKind};

/// A point on Earth, degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoPoint {
    /// Latitude, −90 to 90.
    pub latitude: f64,
    /// Longitude, −180 to 180.
    pub longitude: f64,
    /// Uncertainty radius, km (0 when unknown).
    pub accuracy_km: f64,
}

/// Where an IP address is.
pub trait GeoLocate {
    /// The address's location, or `None` when unknown.
    fn locate(&self, ip: IpAddr) -> Option<GeoPoint>;
}

/// Mean Earth radius, km.
const EARTH_RADIUS_KM: f64 = 6371.0088;

/// Great-circle distance in km (haversine formula).
pub fn distance_km(a: GeoPoint, b: GeoPoint) -> f64 {
    let (lat1, lat2) = (a.latitude.to_radians(), b.latitude.to_radians());
    let dlat = lat2 - lat1;
    let dlon = (b.longitude - a.longitude).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

/// A MaxMind DB (City format) held in memory.
pub struct MaxMindLocator {
    reader: maxminddb::Reader<Vec<u8>>,
}

impl std::fmt::Debug for MaxMindLocator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MaxMindLocator")
            .field("database_type", &self.reader.metadata().database_type)
            .finish()
    }
}

/// A database that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("GeoIP database: {0}")]
pub struct GeoDbError(String);

impl MaxMindLocator {
    /// Reads the database at `path`.
    pub fn open(path: &Path) -> Result<Self, GeoDbError> {
        let bytes =
            std::fs::read(path).map_err(|e| GeoDbError(format!("{}: {e}", path.display())))?;
        Self::from_bytes(bytes)
    }

    /// Uses database bytes already read.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, GeoDbError> {
        let reader =
            maxminddb::Reader::from_source(bytes).map_err(|e| GeoDbError(e.to_string()))?;
        Ok(Self { reader })
    }
}

impl GeoLocate for MaxMindLocator {
    fn locate(&self, ip: IpAddr) -> Option<GeoPoint> {
        let result = self.reader.lookup(ip).ok()?;
        let city: maxminddb::geoip2::City<'_> = result.decode().ok()??;
        let location = city.location;
        Some(GeoPoint {
            latitude: location.latitude?,
            longitude: location.longitude?,
            accuracy_km: f64::from(location.accuracy_radius.unwrap_or(0)),
        })
    }
}

/// Identity and wording of the impossible-travel detection.
pub const RULE_ID: &str = "5c0f3e0e-7a55-4d8e-9f61-2f3b6d1c9a01";
/// Title of the impossible-travel detection.
pub const RULE_TITLE: &str = "Rampart Impossible Travel Between Sign-Ins";

/// The last sign-in seen of each user, and the speed limit.
#[derive(Debug, Clone)]
pub struct ImpossibleTravel {
    max_speed_kmh: f64,
    max_users: usize,
    last: HashMap<String, (OffsetDateTime, IpAddr, GeoPoint)>,
}

impl Default for ImpossibleTravel {
    fn default() -> Self {
        Self::new(1_000.0, 100_000)
    }
}

impl ImpossibleTravel {
    /// A detector flagging speeds over `max_speed_kmh`, remembering at most
    /// `max_users` users (the least recently seen are forgotten first).
    pub fn new(max_speed_kmh: f64, max_users: usize) -> Self {
        Self { max_speed_kmh, max_users: max_users.max(1), last: HashMap::new() }
    }

    /// Users currently remembered.
    pub fn tracked_users(&self) -> usize {
        self.last.len()
    }

    /// Feeds one successful sign-in. Returns a detection when the speed from
    /// the user's previous sign-in exceeds the limit, after subtracting both
    /// locations' uncertainty from the distance. Sign-ins older than the last
    /// one seen for the user, or from unknown places, change nothing.
    pub fn observe(
        &mut self,
        locator: &dyn GeoLocate,
        user: &str,
        ip: IpAddr,
        at: OffsetDateTime,
    ) -> Option<Detection> {
        let here = locator.locate(ip)?;
        let previous = self.last.get(user).copied();
        if previous.is_some_and(|(t, _, _)| at < t) {
            return None;
        }
        if !self.last.contains_key(user) && self.last.len() >= self.max_users {
            self.forget_oldest();
        }
        self.last.insert(user.to_owned(), (at, ip, here));
        let (then, then_ip, there) = previous?;
        let distance = (distance_km(there, here) - there.accuracy_km - here.accuracy_km).max(0.0);
        let hours = (at - then).as_seconds_f64() / 3600.0;
        let speed = if hours > 0.0 {
            distance / hours
        } else if distance > 0.0 {
            f64::INFINITY
        } else {
            0.0
        };
        if speed <= self.max_speed_kmh {
            return None;
        }
        Some(Detection {
            rule_id: Some(RULE_ID.to_owned()),
            title: RULE_TITLE.to_owned(),
            level: Some("high".to_owned()),
            tags: vec!["attack.initial-access".into(), "attack.t1078".into()],
            author: Some("Rampart".to_owned()),
            kind: DetectionKind::Correlation {
                group_key: vec![("user.uid".to_owned(), user.to_owned())],
                value: if speed.is_finite() { speed.round() } else { f64::MAX },
                timespan_secs: u64::try_from((at - then).whole_seconds()).unwrap_or(0),
            },
            event: Arc::new(json!({
                "user": {"uid": user},
                "previous": {"ip": then_ip.to_string(), "time": then.unix_timestamp(),
                             "latitude": there.latitude, "longitude": there.longitude},
                "current": {"ip": ip.to_string(), "time": at.unix_timestamp(),
                            "latitude": here.latitude, "longitude": here.longitude},
                "distance_km": distance.round(),
            })),
            time: at,
        })
    }

    fn forget_oldest(&mut self) {
        if let Some(oldest) =
            self.last.iter().min_by_key(|(_, (t, _, _))| *t).map(|(u, _)| u.clone())
        {
            self.last.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;
    use time::Duration;

    const PARIS: GeoPoint = GeoPoint { latitude: 48.8566, longitude: 2.3522, accuracy_km: 0.0 };
    const NEW_YORK: GeoPoint =
        GeoPoint { latitude: 40.7128, longitude: -74.0060, accuracy_km: 0.0 };
    const VERSAILLES: GeoPoint =
        GeoPoint { latitude: 48.8049, longitude: 2.1204, accuracy_km: 0.0 };

    struct Fake;
    impl GeoLocate for Fake {
        fn locate(&self, ip: IpAddr) -> Option<GeoPoint> {
            match ip {
                IpAddr::V4(v4) => match v4.octets()[0] {
                    1 => Some(PARIS),
                    2 => Some(NEW_YORK),
                    3 => Some(VERSAILLES),
                    _ => None,
                },
                IpAddr::V6(_) => None,
            }
        }
    }

    fn ip(first: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(first, 0, 0, 1))
    }

    fn t(minutes: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap() + Duration::minutes(minutes)
    }

    #[test]
    fn distances() {
        let d = distance_km(PARIS, NEW_YORK);
        assert!((d - 5837.0).abs() < 10.0, "{d}");
        assert!(distance_km(PARIS, PARIS) < 1e-9);
    }

    #[test]
    fn paris_then_new_york_in_an_hour_is_impossible() {
        let mut travel = ImpossibleTravel::default();
        assert!(travel.observe(&Fake, "alice", ip(1), t(0)).is_none(), "first sign-in");
        let d = travel.observe(&Fake, "alice", ip(2), t(60)).expect("about 5,800 km/h");
        assert_eq!(d.author.as_deref(), Some("Rampart"));
        assert_eq!(d.group_key_text().as_deref(), Some("user.uid=alice"));
        assert_eq!(d.event["current"]["ip"], "2.0.0.1");
        match d.kind {
            DetectionKind::Correlation { value, timespan_secs, .. } => {
                assert!(value > 5_000.0 && value < 6_000.0, "{value}");
                assert_eq!(timespan_secs, 3600);
            }
            DetectionKind::Match { .. } => panic!("expected a correlation"),
        }
        // Eight hours later back to Paris: about 730 km/h, allowed.
        assert!(travel.observe(&Fake, "alice", ip(1), t(60 + 8 * 60)).is_none());
    }

    #[test]
    fn nearby_unknown_and_other_users_are_fine() {
        let mut travel = ImpossibleTravel::default();
        travel.observe(&Fake, "bob", ip(1), t(0));
        // About 18 km: in two minutes that is under 1,000 km/h, in one it is over.
        assert!(travel.observe(&Fake, "bob", ip(3), t(2)).is_none());
        assert!(travel.observe(&Fake, "bob", ip(1), t(3)).is_some());
        travel.observe(&Fake, "carol", ip(2), t(0));
        assert!(travel.observe(&Fake, "dave", ip(1), t(1)).is_none(), "another user");
        assert!(travel.observe(&Fake, "carol", ip(9), t(2)).is_none(), "unknown location");
        assert!(travel.observe(&Fake, "carol", ip(1), t(-5)).is_none(), "older than the last one");
        assert!(travel.observe(&Fake, "carol", ip(1), t(3)).is_some());
    }

    #[test]
    fn memory_is_bounded() {
        let mut travel = ImpossibleTravel::new(1_000.0, 3);
        for i in 0..10 {
            travel.observe(&Fake, &format!("u{i}"), ip(1), t(i));
            assert!(travel.tracked_users() <= 3);
        }
    }

    #[test]
    fn garbage_databases_are_refused() {
        assert!(MaxMindLocator::from_bytes(Vec::new()).is_err());
        assert!(MaxMindLocator::from_bytes(b"not a database".to_vec()).is_err());
    }
}
