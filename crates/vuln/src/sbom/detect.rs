//! Recognising an input's format from its file name and content.

use super::{Inventory, SbomError, SbomFormat};

/// Guesses the format from the file name first (`Cargo.lock`, `package-lock.json`,
/// `requirements*.txt`, `status`), then from the content (CycloneDX's `bomFormat`, SPDX's
/// `spdxVersion`, npm's `lockfileVersion`, `[[package]]` tables, `dpkg -l`'s header,
/// `Package:` paragraphs). `None` when nothing fits.
pub fn detect_format(file_name: &str, bytes: &[u8]) -> Option<SbomFormat> {
    let base = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
    match base {
        "Cargo.lock" => return Some(SbomFormat::CargoLock),
        "package-lock.json" | "npm-shrinkwrap.json" => return Some(SbomFormat::NpmPackageLock),
        "status" => return Some(SbomFormat::DpkgStatus),
        _ => {}
    }
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(64 * 1024)]);
    let trimmed = head.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('{') {
        if head.contains("\"bomFormat\"") {
            return Some(SbomFormat::CycloneDxJson);
        }
        if head.contains("\"spdxVersion\"") {
            return Some(SbomFormat::SpdxJson);
        }
        if head.contains("\"lockfileVersion\"") {
            return Some(SbomFormat::NpmPackageLock);
        }
        return None;
    }
    if head.lines().any(|l| l.starts_with("+++-")) && head.contains("Desired=") {
        return Some(SbomFormat::DpkgList);
    }
    if head.lines().any(|l| l.trim() == "[[package]]") {
        return Some(SbomFormat::CargoLock);
    }
    if head.starts_with("Package:") || head.contains("\nPackage:") && head.contains("\nStatus:") {
        return Some(SbomFormat::DpkgStatus);
    }
    let lower = base.to_ascii_lowercase();
    if (lower.contains("requirements") || lower.ends_with(".txt") || lower.ends_with(".in"))
        && !head.contains('\0')
    {
        return Some(SbomFormat::PipRequirements);
    }
    None
}

/// Detects the format of `bytes` (see [`detect_format`]) and reads it.
pub fn detect_and_parse(file_name: &str, bytes: &[u8]) -> Result<Inventory, SbomError> {
    let format = detect_format(file_name, bytes).ok_or_else(|| SbomError {
        format: None,
        location: file_name.to_owned(),
        message:
            "unrecognised format: expected CycloneDX or SPDX JSON, Cargo.lock, package-lock.json, \
                  requirements.txt, dpkg -l output or a dpkg status file"
                .to_owned(),
    })?;
    parse_as(format, bytes)
}

/// Reads `bytes` as the given format.
pub fn parse_as(format: SbomFormat, bytes: &[u8]) -> Result<Inventory, SbomError> {
    match format {
        SbomFormat::CycloneDxJson => super::parse_cyclonedx_json(bytes),
        SbomFormat::SpdxJson => super::parse_spdx_json(bytes),
        SbomFormat::CargoLock => super::parse_cargo_lock(bytes),
        SbomFormat::NpmPackageLock => super::parse_package_lock(bytes),
        SbomFormat::PipRequirements => super::parse_requirements(bytes),
        SbomFormat::DpkgList => super::parse_dpkg_list(bytes),
        SbomFormat::DpkgStatus => super::parse_dpkg_status(bytes),
    }
}
