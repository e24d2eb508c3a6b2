//! pip requirements files with pinned versions (`name[extras]==version ; marker --hash=...`).

use super::{Component, ComponentSource, Inventory, SbomError, SbomFormat};
use crate::ecosystem::Ecosystem;
use crate::purl::PackageUrl;

const FORMAT: SbomFormat = SbomFormat::PipRequirements;

/// Reads a requirements file. Only exact pins (`==` or `===`, no wildcard) become components;
/// other requirement lines, option lines (`-r`, `-e`, `--index-url`) and direct URL references
/// are noted with their line number. Backslash continuations are joined; a line is reported
/// under the number of its first physical line.
pub fn parse_requirements(bytes: &[u8]) -> Result<Inventory, SbomError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| SbomError::new(FORMAT, format!("byte {}", e.valid_up_to()), "not UTF-8"))?;
    let mut inventory = Inventory::new(FORMAT);
    let mut logical = String::new();
    let mut first_line = 0;
    for (index, raw) in text.lines().enumerate() {
        if logical.is_empty() {
            first_line = index + 1;
        }
        let without_comment = strip_comment(raw);
        if let Some(continued) = without_comment.strip_suffix('\\') {
            logical.push_str(continued);
            logical.push(' ');
            continue;
        }
        logical.push_str(without_comment);
        read_line(logical.trim(), first_line, &mut inventory)?;
        logical.clear();
    }
    if !logical.trim().is_empty() {
        read_line(logical.trim(), first_line, &mut inventory)?;
    }
    Ok(inventory)
}

/// A `#` starts a comment at the start of a line or after whitespace.
fn strip_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()) {
            return line[..i].trim_end();
        }
    }
    line.trim_end()
}

fn read_line(line: &str, number: usize, inventory: &mut Inventory) -> Result<(), SbomError> {
    let location = format!("line {number}");
    if line.is_empty() {
        return Ok(());
    }
    if line.starts_with('-') {
        inventory.note(location, format!("option line `{line}` is not followed"));
        return Ok(());
    }
    // Drop per-requirement options (`--hash=...`), then the environment marker.
    let requirement = line.split(" --").next().unwrap_or(line);
    let requirement = requirement.split(';').next().unwrap_or(requirement).trim();
    let name_end = requirement
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        .unwrap_or(requirement.len());
    let name = &requirement[..name_end];
    if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(SbomError::new(
            FORMAT,
            location,
            format!("`{line}` does not start with a package name"),
        ));
    }
    let mut rest = requirement[name_end..].trim_start();
    if let Some(after_bracket) = rest.strip_prefix('[') {
        let close = after_bracket.find(']').ok_or_else(|| {
            SbomError::new(FORMAT, &location, format!("unclosed extras list in `{line}`"))
        })?;
        rest = after_bracket[close + 1..].trim_start();
    }
    if rest.starts_with('@') {
        inventory.note(location, format!("`{name}` is a direct URL reference; not matched"));
        return Ok(());
    }
    let pinned = rest
        .strip_prefix("===")
        .or_else(|| rest.strip_prefix("=="))
        .map(str::trim)
        .filter(|v| !v.is_empty() && !v.contains([',', '*', ' ', '<', '>', '!', '~', '=']));
    let Some(version) = pinned else {
        let spec = if rest.is_empty() { "no version" } else { rest };
        inventory.note(location, format!("`{name}` is not pinned to one version ({spec})"));
        return Ok(());
    };
    let normalised = Ecosystem::PyPi.normalise_name(name);
    let purl = PackageUrl::new("pypi", None, &normalised, Some(version), [], None)
        .map_err(|e| SbomError::new(FORMAT, &location, e.to_string()))?;
    inventory.components.push(Component {
        ecosystem: Ecosystem::PyPi,
        name: name.to_owned(),
        version: version.to_owned(),
        purl: Some(purl),
        source: ComponentSource::Registry,
        location,
    });
    Ok(())
}
