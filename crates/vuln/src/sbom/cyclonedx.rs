//! CycloneDX 1.4–1.6 JSON: `metadata.component` and `components`, nested to any depth.

use serde_json::Value;

use super::json_path::{At, parse_json};
use super::{Inventory, SbomError, SbomFormat, component_from_purl};
use crate::purl::PackageUrl;

const FORMAT: SbomFormat = SbomFormat::CycloneDxJson;

/// Reads a CycloneDX JSON document. Components without a purl cannot be matched and are
/// noted; components whose purl has no version take the component's `version`.
pub fn parse_cyclonedx_json(bytes: &[u8]) -> Result<Inventory, SbomError> {
    let doc = parse_json(bytes, FORMAT)?;
    let root = At { value: &doc, path: "", format: FORMAT };
    root.require_object()?;
    if root.opt_str("bomFormat")? != Some("CycloneDX") {
        return Err(SbomError::new(FORMAT, "bomFormat", "expected \"CycloneDX\""));
    }
    if let Some(spec) = root.opt_str("specVersion")?
        && !matches!(spec, "1.4" | "1.5" | "1.6")
    {
        return Err(SbomError::new(
            FORMAT,
            "specVersion",
            format!("unsupported version {spec}; 1.4 to 1.6 are read"),
        ));
    }
    let mut inventory = Inventory::new(FORMAT);
    let mut stack: Vec<(String, &Value)> = Vec::new();
    if let Some(meta) = doc.get("metadata").and_then(|m| m.get("component")) {
        stack.push(("metadata.component".to_owned(), meta));
    }
    push_children(&root, "components", &mut stack)?;
    // Depth-first, in document order.
    stack.reverse();
    while let Some((path, value)) = stack.pop() {
        let at = At { value, path: &path, format: FORMAT };
        at.require_object()?;
        read_component(&at, &mut inventory)?;
        let mut children = Vec::new();
        push_children(&at, "components", &mut children)?;
        children.reverse();
        stack.extend(children);
    }
    Ok(inventory)
}

fn push_children<'a>(
    at: &At<'a, '_>,
    key: &str,
    out: &mut Vec<(String, &'a Value)>,
) -> Result<(), SbomError> {
    let prefix = super::json_path::child_path(at.path, key);
    for (i, child) in at.opt_array(key)?.iter().enumerate() {
        out.push((format!("{prefix}[{i}]"), child));
    }
    Ok(())
}

fn read_component(at: &At<'_, '_>, inventory: &mut Inventory) -> Result<(), SbomError> {
    let name = at.opt_str("name")?;
    let version = at.opt_str("version")?;
    let Some(purl_text) = at.opt_str("purl")? else {
        inventory.note(
            at.path,
            format!("component `{}` has no purl and cannot be matched", name.unwrap_or("?")),
        );
        return Ok(());
    };
    let purl = PackageUrl::parse(purl_text).map_err(|e| {
        SbomError::new(
            FORMAT,
            format!("{}.purl", at.path),
            format!("invalid purl `{purl_text}`: {e}"),
        )
    })?;
    match component_from_purl(purl, version, at.path.to_owned()) {
        Some(component) => inventory.components.push(component),
        None => inventory.note(at.path, format!("purl `{purl_text}` has no version")),
    }
    Ok(())
}
