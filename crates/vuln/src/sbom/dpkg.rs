//! Debian package lists: `dpkg -l` output and the `/var/lib/dpkg/status` database.
//!
//! Package URLs use the `debian` namespace: neither input says which distribution it is.

use super::{Component, ComponentSource, Inventory, SbomError, SbomFormat};
use crate::ecosystem::Ecosystem;
use crate::purl::PackageUrl;

fn debian_component(
    name: &str,
    version: &str,
    arch: Option<&str>,
    location: String,
    format: SbomFormat,
) -> Result<Component, SbomError> {
    let qualifiers = arch.map(|a| ("arch".to_owned(), a.to_owned()));
    let purl = PackageUrl::new("deb", Some("debian"), name, Some(version), qualifiers, None)
        .map_err(|e| SbomError::new(format, &location, e.to_string()))?;
    Ok(Component {
        ecosystem: Ecosystem::Debian,
        name: name.to_owned(),
        version: version.to_owned(),
        purl: Some(purl),
        source: ComponentSource::Registry,
        location,
    })
}

/// Reads `dpkg -l` output: only packages whose state is `ii` (installed) are components;
/// other states (`rc`: removed, configuration left) are noted.
pub fn parse_dpkg_list(bytes: &[u8]) -> Result<Inventory, SbomError> {
    const FORMAT: SbomFormat = SbomFormat::DpkgList;
    let text = std::str::from_utf8(bytes)
        .map_err(|e| SbomError::new(FORMAT, format!("byte {}", e.valid_up_to()), "not UTF-8"))?;
    let mut inventory = Inventory::new(FORMAT);
    let mut seen_table = false;
    for (index, line) in text.lines().enumerate() {
        let location = format!("line {}", index + 1);
        if line.starts_with("+++-") {
            seen_table = true;
            continue;
        }
        if !seen_table || line.trim().is_empty() {
            continue;
        }
        let mut fields = line.split_whitespace();
        let (Some(state), Some(name), Some(version), arch) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(SbomError::new(
                FORMAT,
                location,
                "expected state, name, version and architecture columns",
            ));
        };
        if state.len() < 2 || !state.is_ascii() {
            return Err(SbomError::new(
                FORMAT,
                location,
                format!("invalid state column `{state}`"),
            ));
        }
        if !state.starts_with("ii") {
            inventory.note(location, format!("`{name}` is in state `{state}`, not installed"));
            continue;
        }
        let (name, arch_from_name) = match name.split_once(':') {
            Some((n, a)) => (n, Some(a)),
            None => (name, None),
        };
        let arch = arch_from_name.or(arch);
        inventory.components.push(debian_component(name, version, arch, location, FORMAT)?);
    }
    if !seen_table {
        return Err(SbomError::new(
            FORMAT,
            "line 1",
            "no `+++-` header line: not `dpkg -l` output",
        ));
    }
    Ok(inventory)
}

/// Reads a dpkg status database: one paragraph per package, fields `Package`, `Status`,
/// `Version`, `Architecture`. Only `install ok installed` packages are components.
pub fn parse_dpkg_status(bytes: &[u8]) -> Result<Inventory, SbomError> {
    const FORMAT: SbomFormat = SbomFormat::DpkgStatus;
    let text = std::str::from_utf8(bytes)
        .map_err(|e| SbomError::new(FORMAT, format!("byte {}", e.valid_up_to()), "not UTF-8"))?;
    let mut inventory = Inventory::new(FORMAT);
    let mut paragraph: Vec<(usize, &str, &str)> = Vec::new();
    let mut paragraph_start = 1;
    let lines: Vec<&str> = text.lines().collect();
    for index in 0..=lines.len() {
        let line = lines.get(index).copied().unwrap_or("");
        if line.trim().is_empty() {
            if !paragraph.is_empty() {
                read_status_paragraph(&paragraph, paragraph_start, &mut inventory)?;
                paragraph.clear();
            }
            paragraph_start = index + 2;
            continue;
        }
        if line.starts_with([' ', '\t']) {
            continue; // continuation of a multi-line field (descriptions, conffiles)
        }
        let (field, value) = line.split_once(':').ok_or_else(|| {
            SbomError::new(
                FORMAT,
                format!("line {}", index + 1),
                format!("expected `Field: value`, found `{line}`"),
            )
        })?;
        paragraph.push((index + 1, field.trim(), value.trim()));
    }
    Ok(inventory)
}

fn read_status_paragraph(
    fields: &[(usize, &str, &str)],
    start_line: usize,
    inventory: &mut Inventory,
) -> Result<(), SbomError> {
    const FORMAT: SbomFormat = SbomFormat::DpkgStatus;
    let get = |name: &str| {
        fields.iter().find(|(_, f, _)| f.eq_ignore_ascii_case(name)).map(|(line, _, v)| (*line, *v))
    };
    let location = format!("line {start_line}");
    let Some((_, package)) = get("Package") else {
        return Err(SbomError::new(FORMAT, location, "paragraph without a `Package` field"));
    };
    let status = get("Status").map(|(_, s)| s).unwrap_or("");
    if !status.ends_with(" installed") {
        inventory.note(location, format!("`{package}` has status `{status}`, not installed"));
        return Ok(());
    }
    let (_, version) = get("Version").ok_or_else(|| {
        SbomError::new(
            FORMAT,
            &location,
            format!("installed package `{package}` has no `Version` field"),
        )
    })?;
    let arch = get("Architecture").map(|(_, a)| a);
    inventory.components.push(debian_component(package, version, arch, location, FORMAT)?);
    Ok(())
}
