//! Software inventories: components read from SBOMs and lockfiles.
//!
//! Every reader turns its input into an [`Inventory`]: the [`Component`]s found, plus
//! [`InventoryNote`]s for what was deliberately not turned into a matchable component (an
//! unpinned requirement, a path dependency, a removed Debian package). Malformed input is an
//! [`SbomError`] that names the offending element (`components[12].version`) or line.

mod cargo_lock;
mod cyclonedx;
mod detect;
mod dpkg;
mod json_path;
mod npm_lock;
mod requirements;
mod spdx;

use std::fmt;

use crate::ecosystem::Ecosystem;
use crate::purl::PackageUrl;

pub use cargo_lock::parse_cargo_lock;
pub use cyclonedx::parse_cyclonedx_json;
pub use detect::{detect_and_parse, detect_format, parse_as};
pub use dpkg::{parse_dpkg_list, parse_dpkg_status};
pub use npm_lock::parse_package_lock;
pub use requirements::parse_requirements;
pub use spdx::parse_spdx_json;

/// The input formats understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum SbomFormat {
    /// CycloneDX 1.4–1.6, JSON encoding.
    CycloneDxJson,
    /// SPDX 2.3, JSON encoding.
    SpdxJson,
    /// Cargo's `Cargo.lock`, lockfile versions 1 to 4.
    CargoLock,
    /// npm's `package-lock.json` (or `npm-shrinkwrap.json`), lockfile versions 2 and 3.
    NpmPackageLock,
    /// A pip requirements file with pinned (`==`) versions.
    PipRequirements,
    /// The output of `dpkg -l`.
    DpkgList,
    /// Debian's `/var/lib/dpkg/status` database.
    DpkgStatus,
}

impl fmt::Display for SbomFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::CycloneDxJson => "CycloneDX JSON",
            Self::SpdxJson => "SPDX JSON",
            Self::CargoLock => "Cargo.lock",
            Self::NpmPackageLock => "package-lock.json",
            Self::PipRequirements => "requirements.txt",
            Self::DpkgList => "dpkg -l output",
            Self::DpkgStatus => "dpkg status database",
        })
    }
}

/// Where a component came from, as far as the input says.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(tag = "kind", content = "location", rename_all = "snake_case")]
pub enum ComponentSource {
    /// The ecosystem's public registry (crates.io, npm, PyPI, the distribution archive).
    Registry,
    /// Another registry, by URL.
    OtherRegistry(String),
    /// A local path (a workspace member, a `file:` dependency).
    Path(String),
    /// A git repository, by URL.
    Git(String),
}

/// One piece of software in an inventory.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Component {
    /// The ecosystem the name and version belong to.
    pub ecosystem: Ecosystem,
    /// The package name as the ecosystem writes it (npm scopes as `@scope/name`, Maven as
    /// `group:artifact`, Go as the module path).
    pub name: String,
    /// The version text, unparsed (parsing happens at matching time so that an unparsable
    /// version is reported for this component only).
    pub version: String,
    /// The package URL, when the input gave one or it could be built.
    #[serde(serialize_with = "serialize_purl")]
    pub purl: Option<PackageUrl>,
    /// Where the package comes from.
    pub source: ComponentSource,
    /// Where in the input the component was found (element path or `line N`).
    pub location: String,
}

fn serialize_purl<S: serde::Serializer>(
    purl: &Option<PackageUrl>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match purl {
        Some(p) => serializer.serialize_str(&p.to_string()),
        None => serializer.serialize_none(),
    }
}

impl Component {
    /// Whether advisories for the ecosystem's public registry apply to this component.
    pub fn is_from_public_registry(&self) -> bool {
        self.source == ComponentSource::Registry
    }
}

/// Something in the input that was read but not turned into a matchable component.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InventoryNote {
    /// Element path or `line N`.
    pub location: String,
    /// What was found and why it is not a component.
    pub message: String,
}

/// The result of reading one input.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Inventory {
    pub format: SbomFormat,
    pub components: Vec<Component>,
    pub notes: Vec<InventoryNote>,
}

impl Inventory {
    fn new(format: SbomFormat) -> Self {
        Self { format, components: Vec::new(), notes: Vec::new() }
    }

    fn note(&mut self, location: impl Into<String>, message: impl Into<String>) {
        self.notes.push(InventoryNote { location: location.into(), message: message.into() });
    }
}

/// Malformed input: what is wrong and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[error("{}: {location}: {message}", format.map_or_else(|| "input".to_owned(), |f| f.to_string()))]
pub struct SbomError {
    /// The format being read, if it was known.
    pub format: Option<SbomFormat>,
    /// Element path (`components[12].version`) or `line N`.
    pub location: String,
    pub message: String,
}

impl SbomError {
    fn new(format: SbomFormat, location: impl Into<String>, message: impl Into<String>) -> Self {
        Self { format: Some(format), location: location.into(), message: message.into() }
    }
}

/// Splits a package URL into the (ecosystem, name) pair advisories use.
pub fn ecosystem_name_of(purl: &PackageUrl) -> (Ecosystem, String) {
    let ecosystem = Ecosystem::from_purl_type(purl.package_type());
    let name = match (&ecosystem, purl.namespace()) {
        (Ecosystem::Npm | Ecosystem::Go, Some(ns)) => format!("{ns}/{}", purl.name()),
        (Ecosystem::Maven, Some(ns)) => format!("{ns}:{}", purl.name()),
        (Ecosystem::Other(_), Some(ns)) => format!("{ns}/{}", purl.name()),
        _ => purl.name().to_owned(),
    };
    (ecosystem, name)
}

/// A component from a package URL carrying a version (`fallback_version` when it has none).
fn component_from_purl(
    purl: PackageUrl,
    fallback_version: Option<&str>,
    location: String,
) -> Option<Component> {
    let version = purl.version().or(fallback_version)?.to_owned();
    let (ecosystem, name) = ecosystem_name_of(&purl);
    let purl = purl.with_version(Some(&version));
    Some(Component {
        ecosystem,
        name,
        version,
        purl: Some(purl),
        source: ComponentSource::Registry,
        location,
    })
}
