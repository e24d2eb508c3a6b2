//! Package ecosystems: the namespace in which a package name and its versions mean something.

use std::fmt;

/// A package ecosystem, named as OSV names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Ecosystem {
    /// crates.io (Rust), SemVer versions.
    CratesIo,
    /// The npm registry, SemVer versions.
    Npm,
    /// The Python Package Index, PEP 440 versions.
    PyPi,
    /// Debian packages, dpkg versions. OSV's `Debian:12`-style release suffixes are dropped.
    Debian,
    /// Go modules (`v`-prefixed SemVer).
    Go,
    /// Maven Central; versions are compared only for equality.
    Maven,
    /// Any other ecosystem, by its OSV name; versions are compared only for equality.
    Other(String),
}

impl Ecosystem {
    /// Maps an OSV `ecosystem` string (`crates.io`, `PyPI`, `Debian:11`, ...) to an ecosystem.
    pub fn from_osv(name: &str) -> Self {
        let base = name.split(':').next().unwrap_or(name);
        match base {
            "crates.io" => Self::CratesIo,
            "npm" => Self::Npm,
            "PyPI" => Self::PyPi,
            "Debian" => Self::Debian,
            "Go" => Self::Go,
            "Maven" => Self::Maven,
            _ => Self::Other(name.to_owned()),
        }
    }

    /// Maps a purl type to an ecosystem (`cargo` → crates.io, `deb` → Debian, ...).
    pub fn from_purl_type(package_type: &str) -> Self {
        match package_type {
            "cargo" => Self::CratesIo,
            "npm" => Self::Npm,
            "pypi" => Self::PyPi,
            "deb" => Self::Debian,
            "golang" => Self::Go,
            "maven" => Self::Maven,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The OSV name of the ecosystem.
    pub fn osv_name(&self) -> &str {
        match self {
            Self::CratesIo => "crates.io",
            Self::Npm => "npm",
            Self::PyPi => "PyPI",
            Self::Debian => "Debian",
            Self::Go => "Go",
            Self::Maven => "Maven",
            Self::Other(name) => name,
        }
    }

    /// The package name in the form used as an index key: PEP 503 normalisation for PyPI
    /// (lower-case, runs of `-`, `_`, `.` collapsed to `-`), lower-case for Debian, unchanged
    /// elsewhere (crates.io and npm names are case-sensitive in advisories).
    pub fn normalise_name(&self, name: &str) -> String {
        match self {
            Self::PyPi => {
                let mut out = String::with_capacity(name.len());
                let mut in_separator_run = false;
                for c in name.trim().chars() {
                    if matches!(c, '-' | '_' | '.') {
                        if !in_separator_run {
                            out.push('-');
                        }
                        in_separator_run = true;
                    } else {
                        out.push(c.to_ascii_lowercase());
                        in_separator_run = false;
                    }
                }
                out
            }
            Self::Debian => name.to_ascii_lowercase(),
            _ => name.to_owned(),
        }
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.osv_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pep_503_normalisation_collapses_separator_runs() {
        let pypi = Ecosystem::PyPi;
        assert_eq!(pypi.normalise_name("Friendly-Bard"), "friendly-bard");
        assert_eq!(pypi.normalise_name("FRIENDLY-BARD"), "friendly-bard");
        assert_eq!(pypi.normalise_name("friendly.bard"), "friendly-bard");
        assert_eq!(pypi.normalise_name("friendly_bard"), "friendly-bard");
        assert_eq!(pypi.normalise_name("friendly--bard"), "friendly-bard");
        assert_eq!(pypi.normalise_name("FrIeNdLy-._.-bArD"), "friendly-bard");
        assert_eq!(Ecosystem::CratesIo.normalise_name("Serde_JSON"), "Serde_JSON");
    }

    #[test]
    fn osv_names_round_trip_and_release_suffixes_are_dropped() {
        for eco in [Ecosystem::CratesIo, Ecosystem::Npm, Ecosystem::PyPi, Ecosystem::Debian] {
            assert_eq!(Ecosystem::from_osv(eco.osv_name()), eco);
        }
        assert_eq!(Ecosystem::from_osv("Debian:12"), Ecosystem::Debian);
        assert_eq!(Ecosystem::from_osv("Hex"), Ecosystem::Other("Hex".into()));
    }
}
