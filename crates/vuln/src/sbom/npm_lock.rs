//! npm's `package-lock.json` / `npm-shrinkwrap.json`, lockfile versions 2 and 3 (the
//! `packages` map keyed by install path, nested `node_modules` included).

use super::json_path::{At, kind, parse_json};
use super::{Component, ComponentSource, Inventory, SbomError, SbomFormat};
use crate::ecosystem::Ecosystem;
use crate::purl::PackageUrl;

const FORMAT: SbomFormat = SbomFormat::NpmPackageLock;

/// Reads a `package-lock.json` (lockfile version 2 or 3).
pub fn parse_package_lock(bytes: &[u8]) -> Result<Inventory, SbomError> {
    let doc = parse_json(bytes, FORMAT)?;
    let root = At { value: &doc, path: "", format: FORMAT };
    root.require_object()?;
    match doc.get("lockfileVersion").and_then(serde_json::Value::as_u64) {
        Some(2 | 3) => {}
        Some(v) => {
            return Err(SbomError::new(
                FORMAT,
                "lockfileVersion",
                format!("unsupported version {v}; 2 and 3 are read"),
            ));
        }
        None => return Err(SbomError::new(FORMAT, "lockfileVersion", "missing or not a number")),
    }
    let packages = match doc.get("packages") {
        Some(serde_json::Value::Object(map)) => map,
        Some(other) => {
            return Err(SbomError::new(
                FORMAT,
                "packages",
                format!("expected an object, found {}", kind(other)),
            ));
        }
        None => return Err(SbomError::new(FORMAT, "packages", "missing")),
    };
    let mut inventory = Inventory::new(FORMAT);
    for (install_path, entry) in packages {
        if install_path.is_empty() {
            continue; // the root project itself
        }
        let path = format!("packages[{install_path:?}]");
        let at = At { value: entry, path: &path, format: FORMAT };
        at.require_object()?;
        if entry.get("link").and_then(serde_json::Value::as_bool) == Some(true) {
            inventory.note(&path, "link to a local package; not matched");
            continue;
        }
        let Some(name) =
            at.opt_str("name")?.map(str::to_owned).or_else(|| name_from_install_path(install_path))
        else {
            inventory.note(&path, "workspace package outside node_modules; not matched");
            continue;
        };
        let version = at
            .opt_str("version")?
            .ok_or_else(|| SbomError::new(FORMAT, format!("{path}.version"), "missing"))?;
        let resolved = at.opt_str("resolved")?.unwrap_or("");
        let source = if resolved.starts_with("git") {
            ComponentSource::Git(resolved.to_owned())
        } else if resolved.starts_with("file:") {
            ComponentSource::Path(resolved.to_owned())
        } else {
            ComponentSource::Registry
        };
        if source != ComponentSource::Registry {
            inventory.note(&path, format!("`{name}` is not from the npm registry; not matched"));
        }
        let (namespace, bare) = match name.split_once('/') {
            Some((scope, bare)) if name.starts_with('@') => (Some(scope), bare),
            _ => (None, name.as_str()),
        };
        let purl = PackageUrl::new("npm", namespace, bare, Some(version), [], None)
            .map_err(|e| SbomError::new(FORMAT, &path, e.to_string()))?;
        inventory.components.push(Component {
            ecosystem: Ecosystem::Npm,
            name: name.clone(),
            version: version.to_owned(),
            purl: Some(purl),
            source,
            location: path,
        });
    }
    Ok(inventory)
}

/// `node_modules/a/node_modules/@s/b` → `@s/b`; `None` outside `node_modules`.
fn name_from_install_path(install_path: &str) -> Option<String> {
    let (_, tail) = install_path.rsplit_once("node_modules/")?;
    if tail.is_empty() { None } else { Some(tail.to_owned()) }
}

#[cfg(test)]
mod tests {
    use super::name_from_install_path;

    #[test]
    fn nested_install_paths_name_the_innermost_package() {
        assert_eq!(name_from_install_path("node_modules/a").as_deref(), Some("a"));
        assert_eq!(
            name_from_install_path("node_modules/a/node_modules/@s/b").as_deref(),
            Some("@s/b")
        );
        assert_eq!(name_from_install_path("packages/local"), None);
    }
}
