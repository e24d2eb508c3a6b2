//! Deciding which advisories affect a component, exactly as the OSV schema specifies.
//!
//! * `versions`: the component's version is listed (compared as text, then as parsed versions).
//! * `SEMVER` ranges: events evaluated in SemVer order; `ECOSYSTEM` ranges: in the ecosystem's
//!   order ([`crate::version`]). Events are sorted by version (`introduced: "0"` first) and
//!   walked: `introduced` at or below the version sets "affected", `fixed` at or below clears
//!   it, `last_affected` strictly below clears it. `limit` events, when present, bound the
//!   range from above. `GIT` ranges are not evaluated (the database load reports how many).
//! * RustSec: affected unless a `patched` or an `unaffected` requirement matches.
//!
//! Advisories that share an identifier or alias (a RUSTSEC and the GHSA for the same CVE) are
//! merged into one [`VulnerabilityMatch`] so that a vulnerability is reported once per component.

use std::cmp::Ordering;

use crate::advisory::{
    Advisory, AdvisoryDatabase, Affected, AffectedRule, OsvRange, RangeEvent, RangeKind,
};
use crate::ecosystem::Ecosystem;
use crate::sbom::Component;
use crate::version::{Version, VersionError};

/// An advisory that could not be evaluated for a component (a version in the advisory that
/// does not parse, a range type without an order in this ecosystem).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MatchIssue {
    pub advisory_id: String,
    pub message: String,
}

/// One vulnerability affecting a component: the advisories describing it, primary first.
#[derive(Debug, Clone)]
pub struct VulnerabilityMatch<'db> {
    pub advisories: Vec<(&'db Advisory, &'db Affected)>,
}

impl<'db> VulnerabilityMatch<'db> {
    /// The advisory reported under its id (the ecosystem's own advisory when there is one).
    pub fn primary(&self) -> (&'db Advisory, &'db Affected) {
        self.advisories[0]
    }
}

/// The result of matching one component.
#[derive(Debug, Clone, Default)]
pub struct ComponentMatches<'db> {
    pub vulnerabilities: Vec<VulnerabilityMatch<'db>>,
    pub issues: Vec<MatchIssue>,
}

/// Whether `version` is affected according to one `affected` entry.
///
/// Compiles the entry each time; [`match_component`] uses the forms compiled once when the
/// database was loaded.
pub fn is_affected(
    affected: &Affected,
    version: &Version,
    version_text: &str,
) -> Result<bool, String> {
    CompiledAffected::compile(affected).evaluate(affected, version, version_text)
}

/// An `affected` entry with every version in it parsed once, ready for repeated evaluation.
#[derive(Debug, Clone)]
pub(crate) struct CompiledAffected {
    /// The OSV `versions` list, parsed (entries that do not parse are compared as text only).
    listed: Vec<Version>,
    /// SEMVER and ECOSYSTEM ranges; a range whose versions do not parse is kept as its error.
    ranges: Vec<Result<CompiledRange, String>>,
}

/// Which order a compiled range's bounds are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RangeOrder {
    /// SEMVER ranges: SemVer, whatever the ecosystem.
    SemVer,
    /// ECOSYSTEM ranges: the ecosystem's own order.
    Ecosystem,
}

#[derive(Debug, Clone)]
struct CompiledRange {
    order: RangeOrder,
    /// Events sorted by version; `None` is `introduced: "0"`.
    events: Vec<(Option<Version>, EventKind)>,
    limits: Vec<Version>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EventKind {
    Introduced,
    Fixed,
    LastAffected,
}

impl CompiledAffected {
    pub(crate) fn compile(affected: &Affected) -> Self {
        match &affected.rule {
            AffectedRule::RustSec { .. } => Self { listed: Vec::new(), ranges: Vec::new() },
            AffectedRule::Osv { ranges, versions } => Self {
                listed: versions
                    .iter()
                    .filter_map(|v| Version::parse(&affected.ecosystem, v).ok())
                    .collect(),
                ranges: ranges
                    .iter()
                    .filter_map(|range| compile_range(range, &affected.ecosystem))
                    .collect(),
            },
        }
    }

    pub(crate) fn evaluate(
        &self,
        affected: &Affected,
        version: &Version,
        version_text: &str,
    ) -> Result<bool, String> {
        match &affected.rule {
            AffectedRule::RustSec { patched, unaffected } => {
                let Version::SemVer(v) = version else {
                    return Err(format!("`{version_text}` is not a SemVer version"));
                };
                Ok(!patched.iter().chain(unaffected).any(|req| req.matches(v)))
            }
            AffectedRule::Osv { versions, .. } => {
                if versions.iter().any(|listed| listed == version_text)
                    || self
                        .listed
                        .iter()
                        .any(|listed| listed.compare(version) == Some(Ordering::Equal))
                {
                    return Ok(true);
                }
                let mut errors = Vec::new();
                for range in &self.ranges {
                    match range
                        .as_ref()
                        .map_err(Clone::clone)
                        .and_then(|r| r.contains(version, version_text))
                    {
                        Ok(true) => return Ok(true),
                        Ok(false) => {}
                        Err(e) => errors.push(e),
                    }
                }
                if errors.is_empty() { Ok(false) } else { Err(errors.join("; ")) }
            }
        }
    }
}

/// `None` for range types that are not evaluated (GIT and unknown types).
fn compile_range(range: &OsvRange, ecosystem: &Ecosystem) -> Option<Result<CompiledRange, String>> {
    let (order, order_ecosystem) = match range.kind {
        RangeKind::Git | RangeKind::Other(_) => return None,
        RangeKind::Semver => (RangeOrder::SemVer, Ecosystem::Go),
        RangeKind::Ecosystem => (RangeOrder::Ecosystem, ecosystem.clone()),
    };
    Some((|| {
        if matches!(order_ecosystem, Ecosystem::Maven | Ecosystem::Other(_)) {
            return Err(format!(
                "no version order is known for {ecosystem}; ECOSYSTEM range not evaluated"
            ));
        }
        let parse = |text: &str| {
            Version::parse(&order_ecosystem, text).map_err(|e: VersionError| e.to_string())
        };
        let mut events = Vec::with_capacity(range.events.len());
        let mut limits = Vec::new();
        for event in &range.events {
            match event {
                RangeEvent::Introduced(v) if v == "0" => events.push((None, EventKind::Introduced)),
                RangeEvent::Introduced(v) => events.push((Some(parse(v)?), EventKind::Introduced)),
                RangeEvent::Fixed(v) => events.push((Some(parse(v)?), EventKind::Fixed)),
                RangeEvent::LastAffected(v) => {
                    events.push((Some(parse(v)?), EventKind::LastAffected))
                }
                RangeEvent::Limit(v) if v == "*" => {}
                RangeEvent::Limit(v) => limits.push(parse(v)?),
            }
        }
        events.sort_by(|(a, _), (b, _)| match (a, b) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(a), Some(b)) => a.compare(b).unwrap_or(Ordering::Equal),
        });
        Ok(CompiledRange { order, events, limits })
    })())
}

impl CompiledRange {
    fn contains(&self, version: &Version, version_text: &str) -> Result<bool, String> {
        let converted;
        let subject = match (self.order, version) {
            (RangeOrder::SemVer, Version::SemVer(_)) | (RangeOrder::Ecosystem, _) => version,
            (RangeOrder::SemVer, _) => {
                converted =
                    Version::parse(&Ecosystem::Go, version_text).map_err(|e| e.to_string())?;
                &converted
            }
        };
        let cmp = |bound: &Version| subject.compare(bound).unwrap_or(Ordering::Less);
        let mut affected = false;
        for (bound, kind) in &self.events {
            match (kind, bound) {
                (EventKind::Introduced, None) => affected = true,
                (EventKind::Introduced, Some(b)) if cmp(b) != Ordering::Less => affected = true,
                (EventKind::Fixed, Some(b)) if cmp(b) != Ordering::Less => affected = false,
                (EventKind::LastAffected, Some(b)) if cmp(b) == Ordering::Greater => {
                    affected = false
                }
                _ => {}
            }
        }
        if affected && !self.limits.is_empty() {
            affected = self.limits.iter().any(|l| cmp(l) == Ordering::Less);
        }
        Ok(affected)
    }
}

/// Matches one component against the database.
///
/// Components not from their ecosystem's public registry (path, git, other registries) match
/// nothing. A component version that does not parse in its ecosystem is an error for this
/// component alone.
pub fn match_component<'db>(
    db: &'db AdvisoryDatabase,
    component: &Component,
) -> Result<ComponentMatches<'db>, VersionError> {
    let mut result = ComponentMatches::default();
    if !component.is_from_public_registry() {
        return Ok(result);
    }
    let mut candidates = db.compiled_candidates(&component.ecosystem, &component.name).peekable();
    if candidates.peek().is_none() {
        return Ok(result);
    }
    let version = Version::parse(&component.ecosystem, &component.version)?;
    let mut hits: Vec<(&Advisory, &Affected)> = Vec::new();
    for (advisory, affected, compiled) in candidates {
        match compiled.evaluate(affected, &version, &component.version) {
            Ok(true) => {
                if !hits.iter().any(|(a, _)| a.id == advisory.id) {
                    hits.push((advisory, affected));
                }
            }
            Ok(false) => {}
            Err(message) => {
                result.issues.push(MatchIssue { advisory_id: advisory.id.clone(), message })
            }
        }
    }
    result.vulnerabilities = merge_by_alias(hits);
    Ok(result)
}

/// Groups advisories connected by shared identifiers; in each group the primary advisory is
/// the ecosystem's own (not a GHSA or CVE record), then the smallest id.
fn merge_by_alias<'db>(hits: Vec<(&'db Advisory, &'db Affected)>) -> Vec<VulnerabilityMatch<'db>> {
    let mut groups: Vec<Vec<(&'db Advisory, &'db Affected)>> = Vec::new();
    for hit in hits {
        let connected: Vec<usize> = groups
            .iter()
            .enumerate()
            .filter(|(_, group)| group.iter().any(|(a, _)| shares_id(a, hit.0)))
            .map(|(i, _)| i)
            .collect();
        let mut merged = vec![hit];
        for &i in connected.iter().rev() {
            merged.extend(groups.remove(i));
        }
        groups.push(merged);
    }
    groups
        .into_iter()
        .map(|mut advisories| {
            advisories.sort_by(|(a, _), (b, _)| {
                id_rank(&a.id).cmp(&id_rank(&b.id)).then_with(|| a.id.cmp(&b.id))
            });
            VulnerabilityMatch { advisories }
        })
        .collect()
}

fn shares_id(a: &Advisory, b: &Advisory) -> bool {
    a.all_ids().any(|x| b.all_ids().any(|y| x == y))
}

fn id_rank(id: &str) -> u8 {
    if id.starts_with("CVE-") {
        2
    } else if id.starts_with("GHSA-") {
        1
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advisory::{AdvisoryFormat, LoadReport};
    use crate::sbom::ComponentSource;
    use proptest::prelude::*;

    fn osv_affected(eco: Ecosystem, kind: RangeKind, events: Vec<RangeEvent>) -> Affected {
        Affected {
            ecosystem: eco,
            name: "pkg".into(),
            rule: AffectedRule::Osv { ranges: vec![OsvRange { kind, events }], versions: vec![] },
        }
    }

    fn check(affected: &Affected, version: &str) -> bool {
        let v = Version::parse(&affected.ecosystem, version).unwrap();
        is_affected(affected, &v, version).unwrap()
    }

    use RangeEvent::*;

    #[test]
    fn introduced_fixed_pairs_and_reintroduction() {
        let a = osv_affected(
            Ecosystem::PyPi,
            RangeKind::Ecosystem,
            vec![
                Introduced("1.0".into()),
                Fixed("1.5".into()),
                Introduced("2.0".into()),
                Fixed("2.5".into()),
            ],
        );
        for (v, expected) in [
            ("0.9", false),
            ("1.0", true),
            ("1.4.9", true),
            ("1.5", false),
            ("1.7", false),
            ("2.0rc1", false),
            ("2.0", true),
            ("2.4.post1", true),
            ("2.5", false),
            ("3.0", false),
        ] {
            assert_eq!(check(&a, v), expected, "{v}");
        }
    }

    #[test]
    fn last_affected_is_inclusive_and_zero_means_from_the_start() {
        let a = osv_affected(
            Ecosystem::CratesIo,
            RangeKind::Semver,
            vec![Introduced("0".into()), LastAffected("1.2.3".into())],
        );
        assert!(check(&a, "0.0.1"));
        assert!(check(&a, "1.2.3"));
        assert!(!check(&a, "1.2.4"));
        assert!(check(&a, "1.2.3+build"), "build metadata does not change precedence");
    }

    #[test]
    fn limit_bounds_the_range_from_above() {
        let a = osv_affected(
            Ecosystem::Npm,
            RangeKind::Semver,
            vec![Introduced("0".into()), Limit("2.0.0".into())],
        );
        assert!(check(&a, "1.9.9"));
        assert!(!check(&a, "2.0.0"));
    }

    #[test]
    fn debian_ranges_use_dpkg_order() {
        let a = osv_affected(
            Ecosystem::Debian,
            RangeKind::Ecosystem,
            vec![Introduced("0".into()), Fixed("7.64.0-4+deb10u2".into())],
        );
        assert!(check(&a, "7.64.0-4+deb10u1"));
        assert!(check(&a, "7.64.0-4"));
        assert!(!check(&a, "7.64.0-4+deb10u2"));
        assert!(!check(&a, "1:7.0-1"), "an epoch sorts after every version without one");
    }

    #[test]
    fn git_ranges_are_never_evaluated_and_versions_lists_still_count() {
        let mut a = osv_affected(
            Ecosystem::PyPi,
            RangeKind::Git,
            vec![Introduced("0".into()), Fixed("abc123".into())],
        );
        assert!(!check(&a, "1.0"));
        if let AffectedRule::Osv { versions, .. } = &mut a.rule {
            versions.push("1.0.0".into());
        }
        assert!(check(&a, "1.0"), "PEP 440 equality: 1.0 == 1.0.0");
    }

    fn advisory(id: &str, aliases: &[&str], affected: Affected) -> Advisory {
        Advisory {
            id: id.into(),
            aliases: aliases.iter().map(|s| s.to_string()).collect(),
            summary: String::new(),
            details: String::new(),
            cvss_vectors: vec![],
            informational: None,
            withdrawn: None,
            published: None,
            modified: None,
            references: vec![],
            affected: vec![affected],
            format: AdvisoryFormat::Osv,
            origin: "test".into(),
        }
    }

    fn component(eco: Ecosystem, name: &str, version: &str) -> Component {
        Component {
            ecosystem: eco,
            name: name.into(),
            version: version.into(),
            purl: None,
            source: ComponentSource::Registry,
            location: "test".into(),
        }
    }

    #[test]
    fn aliases_merge_advisories_into_one_vulnerability_with_the_native_id_first() {
        let range = || {
            osv_affected(
                Ecosystem::PyPi,
                RangeKind::Ecosystem,
                vec![Introduced("0".into()), Fixed("2.0".into())],
            )
        };
        let mut db = AdvisoryDatabase::new();
        let mut report = LoadReport::default();
        db.insert(advisory("GHSA-aaaa", &["CVE-2020-1"], range()), &mut report);
        db.insert(advisory("PYSEC-2020-1", &["CVE-2020-1"], range()), &mut report);
        db.insert(advisory("PYSEC-2020-2", &[], range()), &mut report);
        let m = match_component(&db, &component(Ecosystem::PyPi, "PKG", "1.0")).unwrap();
        assert_eq!(m.vulnerabilities.len(), 2);
        let ids: Vec<Vec<&str>> = m
            .vulnerabilities
            .iter()
            .map(|v| v.advisories.iter().map(|(a, _)| a.id.as_str()).collect())
            .collect();
        assert!(ids.contains(&vec!["PYSEC-2020-1", "GHSA-aaaa"]), "{ids:?}");
        assert!(ids.contains(&vec!["PYSEC-2020-2"]), "{ids:?}");
        let none = match_component(&db, &component(Ecosystem::PyPi, "pkg", "2.0")).unwrap();
        assert!(none.vulnerabilities.is_empty());
        assert!(match_component(&db, &component(Ecosystem::PyPi, "pkg", "not-a-version")).is_err());
    }

    proptest! {
        /// A single introduced/fixed pair is exactly the half-open interval [introduced, fixed).
        #[test]
        fn single_pair_is_a_half_open_interval(a in 0u64..20, b in 0u64..20, v in 0u64..20) {
            let (lo, hi) = (a.min(b), a.max(b));
            let affected = osv_affected(Ecosystem::CratesIo, RangeKind::Semver,
                vec![Introduced(format!("{lo}.0.0")), Fixed(format!("{hi}.0.0"))]);
            prop_assert_eq!(check(&affected, &format!("{v}.0.0")), lo <= v && v < hi);
        }
    }
}
