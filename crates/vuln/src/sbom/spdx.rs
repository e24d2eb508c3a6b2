//! SPDX 2.3 JSON: `packages` with a `purl` external reference.

use super::json_path::{At, parse_json};
use super::{Inventory, SbomError, SbomFormat, component_from_purl};
use crate::purl::PackageUrl;

const FORMAT: SbomFormat = SbomFormat::SpdxJson;

/// Reads an SPDX 2.x JSON document. Packages without a purl external reference are noted.
pub fn parse_spdx_json(bytes: &[u8]) -> Result<Inventory, SbomError> {
    let doc = parse_json(bytes, FORMAT)?;
    let root = At { value: &doc, path: "", format: FORMAT };
    root.require_object()?;
    match root.opt_str("spdxVersion")? {
        Some(v) if v.starts_with("SPDX-2.") => {}
        Some(v) => {
            return Err(SbomError::new(FORMAT, "spdxVersion", format!("unsupported version {v}")));
        }
        None => return Err(SbomError::new(FORMAT, "spdxVersion", "missing")),
    }
    let mut inventory = Inventory::new(FORMAT);
    for (i, package) in root.opt_array("packages")?.iter().enumerate() {
        let path = format!("packages[{i}]");
        let at = At { value: package, path: &path, format: FORMAT };
        at.require_object()?;
        let name = at.opt_str("name")?;
        let version = at.opt_str("versionInfo")?;
        let mut found = false;
        for (j, reference) in at.opt_array("externalRefs")?.iter().enumerate() {
            let ref_path = format!("{path}.externalRefs[{j}]");
            let r = At { value: reference, path: &ref_path, format: FORMAT };
            r.require_object()?;
            if r.opt_str("referenceType")? != Some("purl") {
                continue;
            }
            let locator = r.opt_str("referenceLocator")?.ok_or_else(|| {
                SbomError::new(FORMAT, format!("{ref_path}.referenceLocator"), "missing purl")
            })?;
            let purl = PackageUrl::parse(locator).map_err(|e| {
                SbomError::new(
                    FORMAT,
                    format!("{ref_path}.referenceLocator"),
                    format!("invalid purl `{locator}`: {e}"),
                )
            })?;
            found = true;
            match component_from_purl(purl, version, ref_path.clone()) {
                Some(c) => inventory.components.push(c),
                None => inventory.note(ref_path, format!("purl `{locator}` has no version")),
            }
        }
        if !found {
            inventory.note(
                path,
                format!(
                    "package `{}` has no purl external reference and cannot be matched",
                    name.unwrap_or("?")
                ),
            );
        }
    }
    Ok(inventory)
}
