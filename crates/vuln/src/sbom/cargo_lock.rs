//! Cargo's `Cargo.lock`, lockfile versions 1 to 4.
//!
//! Every version lists packages as `[[package]]` tables with `name`, `version` and, for
//! anything not in the workspace, `source`. Only packages from the crates.io registry are
//! crates.io components in the matching sense; git, path and other-registry packages are kept
//! with their source so that they are listed but not matched against crates.io advisories.

use super::{Component, ComponentSource, Inventory, SbomError, SbomFormat};
use crate::ecosystem::Ecosystem;
use crate::purl::PackageUrl;

const FORMAT: SbomFormat = SbomFormat::CargoLock;
const CRATES_IO_SOURCES: [&str; 2] =
    ["registry+https://github.com/rust-lang/crates.io-index", "sparse+https://index.crates.io/"];

/// Reads a `Cargo.lock`.
pub fn parse_cargo_lock(bytes: &[u8]) -> Result<Inventory, SbomError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| SbomError::new(FORMAT, format!("byte {}", e.valid_up_to()), "not UTF-8"))?;
    let doc: toml::Table = toml::from_str(text).map_err(|e| {
        let location = e
            .span()
            .map(|span| format!("line {}", line_of(text, span.start)))
            .unwrap_or_else(|| "document".to_owned());
        SbomError::new(FORMAT, location, e.message().to_owned())
    })?;
    if let Some(version) = doc.get("version") {
        match version.as_integer() {
            Some(3 | 4) => {}
            _ => {
                return Err(SbomError::new(
                    FORMAT,
                    "version",
                    format!("unsupported lockfile version {version}; 1 to 4 are read"),
                ));
            }
        }
    }
    let packages = match doc.get("package") {
        None => &Vec::new(),
        Some(toml::Value::Array(items)) => items,
        Some(_) => return Err(SbomError::new(FORMAT, "package", "expected an array of tables")),
    };
    let mut inventory = Inventory::new(FORMAT);
    for (i, package) in packages.iter().enumerate() {
        let path = format!("package[{i}]");
        let table =
            package.as_table().ok_or_else(|| SbomError::new(FORMAT, &path, "expected a table"))?;
        let field = |key: &str| -> Result<Option<&str>, SbomError> {
            match table.get(key) {
                None => Ok(None),
                Some(toml::Value::String(s)) => Ok(Some(s)),
                Some(_) => {
                    Err(SbomError::new(FORMAT, format!("{path}.{key}"), "expected a string"))
                }
            }
        };
        let name = field("name")?
            .ok_or_else(|| SbomError::new(FORMAT, format!("{path}.name"), "missing"))?;
        let version = field("version")?
            .ok_or_else(|| SbomError::new(FORMAT, format!("{path}.version"), "missing"))?;
        let location = format!("{path} ({name} {version})");
        let source = match field("source")? {
            None => ComponentSource::Path("workspace or path dependency".to_owned()),
            Some(s) if CRATES_IO_SOURCES.contains(&s) => ComponentSource::Registry,
            Some(s) if s.starts_with("git+") => ComponentSource::Git(s["git+".len()..].to_owned()),
            Some(s) if s.starts_with("path+") => {
                ComponentSource::Path(s["path+".len()..].to_owned())
            }
            Some(s) => ComponentSource::OtherRegistry(s.to_owned()),
        };
        if source != ComponentSource::Registry {
            inventory.note(
                &location,
                format!("`{name}` {version} is not from crates.io ({source:?}); not matched"),
            );
        }
        let purl = PackageUrl::new("cargo", None, name, Some(version), [], None)
            .map_err(|e| SbomError::new(FORMAT, format!("{path}.name"), e.to_string()))?;
        inventory.components.push(Component {
            ecosystem: Ecosystem::CratesIo,
            name: name.to_owned(),
            version: version.to_owned(),
            purl: Some(purl),
            source,
            location,
        });
    }
    Ok(inventory)
}

/// The 1-based line number of a byte offset.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes().iter().take(offset).filter(|&&b| b == b'\n').count() + 1
}
