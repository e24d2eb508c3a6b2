//! Version parsing and ordering, in each ecosystem's own order.
//!
//! * crates.io, npm and Go: SemVer 2.0 precedence (build metadata ignored; Go's leading `v` is
//!   accepted).
//! * PyPI: PEP 440 (epochs, pre/post/dev releases, local versions), via `pep440_rs`.
//! * Debian: dpkg's algorithm (`epoch:upstream-revision`, `~` sorting before everything).
//! * Other ecosystems have no known order: versions are only compared for equality.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use crate::ecosystem::Ecosystem;

/// A version that could not be parsed in its ecosystem's syntax.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{version}` is not a valid {ecosystem} version: {reason}")]
pub struct VersionError {
    pub ecosystem: Ecosystem,
    pub version: String,
    pub reason: String,
}

/// A version parsed in its ecosystem's syntax. Only versions of the same kind are ordered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Version {
    SemVer(semver::Version),
    Pep440(pep440_rs::Version),
    Dpkg(DpkgVersion),
    /// A version in an ecosystem without a known order: compared for equality only.
    Opaque(String),
}

impl Version {
    /// Parses `text` in the syntax of `ecosystem`.
    pub fn parse(ecosystem: &Ecosystem, text: &str) -> Result<Self, VersionError> {
        let error = |reason: String| VersionError {
            ecosystem: ecosystem.clone(),
            version: text.to_owned(),
            reason,
        };
        match ecosystem {
            Ecosystem::CratesIo | Ecosystem::Npm => {
                semver::Version::parse(text).map(Self::SemVer).map_err(|e| error(e.to_string()))
            }
            Ecosystem::Go => {
                let bare = text.strip_prefix('v').unwrap_or(text);
                semver::Version::parse(bare).map(Self::SemVer).map_err(|e| error(e.to_string()))
            }
            Ecosystem::PyPi => pep440_rs::Version::from_str(text)
                .map(Self::Pep440)
                .map_err(|e| error(e.to_string())),
            Ecosystem::Debian => DpkgVersion::parse(text).map(Self::Dpkg).map_err(error),
            Ecosystem::Maven | Ecosystem::Other(_) => {
                if text.is_empty() {
                    Err(error("empty version".into()))
                } else {
                    Ok(Self::Opaque(text.to_owned()))
                }
            }
        }
    }

    /// Orders two versions of the same kind; `None` when they are of different kinds or
    /// opaque (no order known) and not equal.
    pub fn compare(&self, other: &Self) -> Option<Ordering> {
        match (self, other) {
            (Self::SemVer(a), Self::SemVer(b)) => Some(a.cmp_precedence(b)),
            (Self::Pep440(a), Self::Pep440(b)) => Some(a.cmp(b)),
            (Self::Dpkg(a), Self::Dpkg(b)) => Some(a.cmp(b)),
            (Self::Opaque(a), Self::Opaque(b)) if a == b => Some(Ordering::Equal),
            _ => None,
        }
    }

    /// Whether the ecosystem of this version has an order (ranges can be evaluated).
    pub fn is_ordered(&self) -> bool {
        !matches!(self, Self::Opaque(_))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SemVer(v) => v.fmt(f),
            Self::Pep440(v) => v.fmt(f),
            Self::Dpkg(v) => v.fmt(f),
            Self::Opaque(v) => f.write_str(v),
        }
    }
}

/// A Debian package version: `[epoch:]upstream_version[-debian_revision]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpkgVersion {
    epoch: u64,
    upstream: String,
    revision: String,
}

impl DpkgVersion {
    /// Parses a version as dpkg does (Debian Policy §5.6.12): the epoch is the digits before
    /// the first `:`, the revision is what follows the last `-`; the upstream part must start
    /// with a digit and use only alphanumerics and `. + ~ -` (and `:` when there is an epoch).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("empty version".into());
        }
        let (epoch, rest) = match text.split_once(':') {
            Some((epoch, rest)) => {
                if epoch.is_empty() || !epoch.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(format!("epoch `{epoch}` is not a number"));
                }
                let epoch = epoch.parse::<u64>().map_err(|e| format!("epoch `{epoch}`: {e}"))?;
                (epoch, rest)
            }
            None => (0, text),
        };
        let (upstream, revision) = match rest.rsplit_once('-') {
            Some((upstream, revision)) => (upstream, revision),
            None => (rest, ""),
        };
        if upstream.is_empty() {
            return Err("empty upstream version".into());
        }
        if !upstream.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(format!("upstream version `{upstream}` does not start with a digit"));
        }
        let upstream_ok = upstream
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '~' | '-' | ':'));
        if !upstream_ok {
            return Err(format!(
                "upstream version `{upstream}` has a character outside [A-Za-z0-9.+~-:]"
            ));
        }
        if rest.contains('-') && revision.is_empty() {
            return Err("empty Debian revision after `-`".into());
        }
        let revision_ok =
            revision.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '~'));
        if !revision_ok {
            return Err(format!(
                "Debian revision `{revision}` has a character outside [A-Za-z0-9.+~]"
            ));
        }
        Ok(Self { epoch, upstream: upstream.to_owned(), revision: revision.to_owned() })
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }
    pub fn upstream(&self) -> &str {
        &self.upstream
    }
    pub fn revision(&self) -> &str {
        &self.revision
    }
}

impl fmt::Display for DpkgVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.epoch > 0 {
            write!(f, "{}:", self.epoch)?;
        }
        f.write_str(&self.upstream)?;
        if !self.revision.is_empty() {
            write!(f, "-{}", self.revision)?;
        }
        Ok(())
    }
}

impl Ord for DpkgVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| dpkg_compare_part(&self.upstream, &other.upstream))
            .then_with(|| dpkg_compare_part(&self.revision, &other.revision))
    }
}

impl PartialOrd for DpkgVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The weight of a character in the non-digit part of a dpkg comparison: `~` before the end
/// of the string, the end before letters, letters before everything else.
fn dpkg_char_weight(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp`: alternate runs of non-digits (compared by weight) and digits
/// (compared numerically, leading zeros ignored).
fn dpkg_compare_part(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        // Non-digit run.
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let wa = dpkg_char_weight(a.get(i).copied().filter(|c| !c.is_ascii_digit()));
            let wb = dpkg_char_weight(b.get(j).copied().filter(|c| !c.is_ascii_digit()));
            if wa != wb {
                return wa.cmp(&wb);
            }
            if i < a.len() && !a[i].is_ascii_digit() {
                i += 1;
            }
            if j < b.len() && !b[j].is_ascii_digit() {
                j += 1;
            }
        }
        // Digit run: skip leading zeros, then the longer run is larger, else the first
        // differing digit decides.
        while i < a.len() && a[i] == b'0' {
            i += 1;
        }
        while j < b.len() && b[j] == b'0' {
            j += 1;
        }
        let start_a = i;
        let start_b = j;
        while i < a.len() && a[i].is_ascii_digit() {
            i += 1;
        }
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        let (run_a, run_b) = (&a[start_a..i], &b[start_b..j]);
        let by_length = run_a.len().cmp(&run_b.len());
        if by_length != Ordering::Equal {
            return by_length;
        }
        let by_digits = run_a.cmp(run_b);
        if by_digits != Ordering::Equal {
            return by_digits;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn deb(text: &str) -> DpkgVersion {
        DpkgVersion::parse(text).unwrap()
    }

    /// Each pair is strictly increasing, derived from the Debian Policy rules (§5.6.12):
    /// epochs dominate, `~` sorts before anything including the end, letters sort before
    /// non-letters, digit runs compare numerically, an absent revision is the empty string.
    #[test]
    fn dpkg_order_follows_the_policy_rules() {
        let increasing = [
            ("1.0~rc1", "1.0"),
            ("1.0~~", "1.0~~a"),
            ("1.0~~a", "1.0~"),
            ("1.0~", "1.0"),
            ("1.0", "1.0a"),
            ("1.0a", "1.0+"),
            ("1.0", "1.0.1"),
            ("1.0+1", "1.0.1"),
            ("1.9", "1.10"),
            ("1.009", "1.10"),
            ("2.30", "10.1"),
            ("9.9", "1:0.1"),
            ("1:2.0", "2:1.0"),
            ("1.0", "1.0-1"),
            ("1.0-1", "1.0-2"),
            ("1.0-2", "1.0-10"),
            ("1.0-1~bpo1", "1.0-1"),
            ("1.0-1", "1.0-1+b1"),
            ("1.0-1", "1.0-1.1"),
            ("2.4.47-2", "2.4.47-2+b1"),
            ("7.50.3-1", "7.64.0-4+deb10u1"),
            ("1.2-3-4", "1.2-3-5"),
        ];
        for (lower, higher) in increasing {
            assert_eq!(deb(lower).cmp(&deb(higher)), Ordering::Less, "{lower} < {higher}");
            assert_eq!(deb(higher).cmp(&deb(lower)), Ordering::Greater, "{higher} > {lower}");
        }
    }

    #[test]
    fn dpkg_equal_versions_differ_only_in_zeros_or_zero_epoch() {
        for (a, b) in [("1.01", "1.1"), ("0:1.0", "1.0"), ("1.0-0", "1.0-00"), ("1.0", "1.0-")] {
            match (DpkgVersion::parse(a), DpkgVersion::parse(b)) {
                (Ok(a), Ok(b)) => assert_eq!(a.cmp(&b), Ordering::Equal),
                (_, Err(_)) => assert_eq!(b, "1.0-", "only the empty revision is refused"),
                (Err(e), _) => panic!("{a}: {e}"),
            }
        }
    }

    #[test]
    fn dpkg_parse_splits_epoch_upstream_and_last_revision() {
        let v = deb("1:2.4.47-2+b1");
        assert_eq!((v.epoch(), v.upstream(), v.revision()), (1, "2.4.47", "2+b1"));
        let v = deb("3:1.2-3-4");
        assert_eq!((v.epoch(), v.upstream(), v.revision()), (3, "1.2-3", "4"));
        assert_eq!(v.to_string(), "3:1.2-3-4");
        for bad in ["", "a1.0", "x:1.0", ":1.0", "1.0_1", "1:", "1.0-1_2"] {
            assert!(DpkgVersion::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn pep_440_order_matches_the_specification_example() {
        // The ordering example in PEP 440's "Summary of permitted suffixes and relative ordering".
        let ordered = [
            "1.dev0",
            "1.0.dev456",
            "1.0a1",
            "1.0a2.dev456",
            "1.0a12.dev456",
            "1.0a12",
            "1.0b1.dev456",
            "1.0b2",
            "1.0b2.post345.dev456",
            "1.0b2.post345",
            "1.0rc1.dev456",
            "1.0rc1",
            "1.0",
            "1.0+abc.5",
            "1.0+abc.7",
            "1.0+5",
            "1.0.post456.dev34",
            "1.0.post456",
            "1.0.15",
            "1.1.dev1",
        ];
        let parsed: Vec<Version> =
            ordered.iter().map(|v| Version::parse(&Ecosystem::PyPi, v).unwrap()).collect();
        for pair in parsed.windows(2) {
            assert_eq!(
                pair[0].compare(&pair[1]),
                Some(Ordering::Less),
                "{} < {}",
                pair[0],
                pair[1]
            );
        }
        let v1 = Version::parse(&Ecosystem::PyPi, "1!0.1").unwrap();
        assert_eq!(v1.compare(&parsed[19]), Some(Ordering::Greater), "epoch dominates");
    }

    #[test]
    fn semver_ignores_build_metadata_and_orders_prereleases_first() {
        let v = |s| Version::parse(&Ecosystem::CratesIo, s).unwrap();
        assert_eq!(v("1.0.0+a").compare(&v("1.0.0+b")), Some(Ordering::Equal));
        assert_eq!(v("1.0.0-alpha").compare(&v("1.0.0")), Some(Ordering::Less));
        assert_eq!(v("1.0.0-alpha.1").compare(&v("1.0.0-alpha.beta")), Some(Ordering::Less));
        let go = Version::parse(&Ecosystem::Go, "v1.2.3").unwrap();
        assert_eq!(go.compare(&v("1.2.3")), Some(Ordering::Equal));
        assert!(Version::parse(&Ecosystem::Npm, "1.0").is_err());
        assert!(Version::parse(&Ecosystem::PyPi, "not a version").is_err());
    }

    proptest! {
        #[test]
        fn dpkg_parse_is_total_and_order_is_antisymmetric(
            a in "[0-9]{0,2}:?[0-9a-z.+~-]{0,10}",
            b in "[0-9]{0,2}:?[0-9a-z.+~-]{0,10}",
        ) {
            if let (Ok(a), Ok(b)) = (DpkgVersion::parse(&a), DpkgVersion::parse(&b)) {
                prop_assert_eq!(a.cmp(&b), b.cmp(&a).reverse());
                prop_assert_eq!(a.cmp(&a), Ordering::Equal);
            }
        }

        #[test]
        fn any_text_parses_or_errors_in_every_ecosystem(text in "\\PC{0,30}") {
            for eco in [Ecosystem::CratesIo, Ecosystem::PyPi, Ecosystem::Debian, Ecosystem::Go] {
                let _ = Version::parse(&eco, &text);
            }
        }
    }
}
