//! The in-memory advisory database: loading from files, directories and zip bundles, and the
//! (ecosystem, normalised name) index used by matching.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use super::{Advisory, AffectedRule, RangeKind};
use crate::ecosystem::Ecosystem;
use crate::matching::CompiledAffected;

/// A file that could not be read or parsed; the rest of the load goes on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LoadError {
    /// The file, or `archive.zip!member`.
    pub origin: String,
    pub message: String,
}

/// What a load did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LoadReport {
    /// Advisories added to the database.
    pub loaded: usize,
    /// Withdrawn advisories, read and left out.
    pub withdrawn: usize,
    /// Advisories whose id was already loaded (the first one read is kept).
    pub duplicates: usize,
    /// RustSec advisories about the Rust toolchain (`rust/` collection), left out: they do
    /// not describe crates in a lockfile.
    pub toolchain_skipped: usize,
    /// Range types that matching does not evaluate (`GIT`), with how many ranges had them.
    pub unsupported_ranges: Vec<(String, usize)>,
    /// Files that failed, with the reason.
    pub errors: Vec<LoadError>,
}

impl LoadReport {
    fn merge(&mut self, other: LoadReport) {
        self.loaded += other.loaded;
        self.withdrawn += other.withdrawn;
        self.duplicates += other.duplicates;
        self.toolchain_skipped += other.toolchain_skipped;
        for (kind, count) in other.unsupported_ranges {
            self.count_unsupported(&kind, count);
        }
        self.errors.extend(other.errors);
    }

    fn count_unsupported(&mut self, kind: &str, count: usize) {
        match self.unsupported_ranges.iter_mut().find(|(k, _)| k == kind) {
            Some((_, n)) => *n += count,
            None => self.unsupported_ranges.push((kind.to_owned(), count)),
        }
    }
}

/// Advisories held in memory, indexed for lookup by package.
#[derive(Debug, Default, Clone)]
pub struct AdvisoryDatabase {
    advisories: Vec<Advisory>,
    by_id: HashMap<String, usize>,
    /// (ecosystem, normalised name) → (advisory index, affected index).
    by_package: HashMap<(Ecosystem, String), Vec<(usize, usize)>>,
    /// Per advisory, per affected entry: the versions parsed once for matching.
    compiled: Vec<Vec<CompiledAffected>>,
}

/// The kind of advisory file, from its name.
enum FileKind {
    OsvJson,
    OsvYaml,
    RustSec,
    Zip,
}

fn file_kind(name: &str) -> Option<FileKind> {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".json") {
        Some(FileKind::OsvJson)
    } else if lower.ends_with(".yaml") || lower.ends_with(".yml") {
        Some(FileKind::OsvYaml)
    } else if lower.ends_with(".md") {
        let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
        base.starts_with("RUSTSEC-").then_some(FileKind::RustSec)
    } else if lower.ends_with(".zip") {
        Some(FileKind::Zip)
    } else {
        None
    }
}

impl AdvisoryDatabase {
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of advisories held.
    pub fn len(&self) -> usize {
        self.advisories.len()
    }

    pub fn is_empty(&self) -> bool {
        self.advisories.is_empty()
    }

    /// All advisories, in load order.
    pub fn advisories(&self) -> &[Advisory] {
        &self.advisories
    }

    /// The advisory with this id.
    pub fn get(&self, id: &str) -> Option<&Advisory> {
        self.by_id.get(id).map(|&i| &self.advisories[i])
    }

    /// Adds one advisory: withdrawn ones and repeated ids are counted and left out.
    pub fn insert(&mut self, advisory: Advisory, report: &mut LoadReport) {
        if advisory.withdrawn.is_some() {
            report.withdrawn += 1;
            return;
        }
        if self.by_id.contains_key(&advisory.id) {
            report.duplicates += 1;
            return;
        }
        let index = self.advisories.len();
        for (affected_index, affected) in advisory.affected.iter().enumerate() {
            if let AffectedRule::Osv { ranges, .. } = &affected.rule {
                for range in ranges {
                    match &range.kind {
                        RangeKind::Git => report.count_unsupported("GIT", 1),
                        RangeKind::Other(kind) => report.count_unsupported(kind, 1),
                        RangeKind::Semver | RangeKind::Ecosystem => {}
                    }
                }
            }
            let key =
                (affected.ecosystem.clone(), affected.ecosystem.normalise_name(&affected.name));
            let entries = self.by_package.entry(key).or_default();
            if !entries.contains(&(index, affected_index)) {
                entries.push((index, affected_index));
            }
        }
        self.by_id.insert(advisory.id.clone(), index);
        self.compiled.push(advisory.affected.iter().map(CompiledAffected::compile).collect());
        self.advisories.push(advisory);
        report.loaded += 1;
    }

    /// The advisories naming this package, with the index of the matching `affected` entry.
    pub fn candidates<'a>(
        &'a self,
        ecosystem: &Ecosystem,
        name: &str,
    ) -> impl Iterator<Item = (&'a Advisory, &'a super::Affected)> + 'a {
        let key = (ecosystem.clone(), ecosystem.normalise_name(name));
        self.by_package
            .get(&key)
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .map(move |&(a, f)| (&self.advisories[a], &self.advisories[a].affected[f]))
    }

    /// Like [`Self::candidates`], with the compiled form of each entry.
    pub(crate) fn compiled_candidates<'a>(
        &'a self,
        ecosystem: &Ecosystem,
        name: &str,
    ) -> impl Iterator<Item = (&'a Advisory, &'a super::Affected, &'a CompiledAffected)> + 'a {
        let key = (ecosystem.clone(), ecosystem.normalise_name(name));
        self.by_package.get(&key).map(Vec::as_slice).unwrap_or(&[]).iter().map(move |&(a, f)| {
            (&self.advisories[a], &self.advisories[a].affected[f], &self.compiled[a][f])
        })
    }

    /// Reads one advisory file's bytes, its kind told by `name` (`.json`, `.yaml`/`.yml`,
    /// `RUSTSEC-*.md`, `.zip`).
    pub fn load_bytes(&mut self, name: &str, bytes: &[u8]) -> LoadReport {
        let mut report = LoadReport::default();
        self.absorb(parse_file(name, bytes), &mut report);
        report
    }

    /// Adds what [`parse_file`] produced to the database and the report.
    fn absorb(&mut self, parsed: ParsedFile, report: &mut LoadReport) {
        match parsed {
            ParsedFile::Advisory(advisory) => self.insert(*advisory, report),
            ParsedFile::Toolchain => report.toolchain_skipped += 1,
            ParsedFile::Bundle { name, bytes } => report.merge(self.load_zip(&name, &bytes)),
            ParsedFile::Failed(error) => report.errors.push(error),
        }
    }

    /// Reads an OSV bundle: a zip archive of OSV JSON (or YAML) records, as osv.dev's
    /// per-ecosystem `all.zip`. Members of other types are ignored.
    pub fn load_zip(&mut self, name: &str, bytes: &[u8]) -> LoadReport {
        let mut report = LoadReport::default();
        let mut archive = match zip::ZipArchive::new(std::io::Cursor::new(bytes)) {
            Ok(a) => a,
            Err(e) => {
                report.errors.push(LoadError {
                    origin: name.to_owned(),
                    message: format!("not a readable zip archive: {e}"),
                });
                return report;
            }
        };
        for index in 0..archive.len() {
            let mut member = match archive.by_index(index) {
                Ok(m) => m,
                Err(e) => {
                    report.errors.push(LoadError {
                        origin: format!("{name}!#{index}"),
                        message: e.to_string(),
                    });
                    continue;
                }
            };
            if member.is_dir() {
                continue;
            }
            let member_name =
                member.name().map(|n| n.into_owned()).unwrap_or_else(|_| format!("#{index}"));
            let origin = format!("{name}!{member_name}");
            let lower = member_name.to_ascii_lowercase();
            if !(lower.ends_with(".json") || lower.ends_with(".yaml") || lower.ends_with(".yml")) {
                continue;
            }
            let mut content = Vec::new();
            // Bounded read: a member claiming more than 64 MiB is refused, not trusted.
            const MEMBER_LIMIT: u64 = 64 * 1024 * 1024;
            if let Err(e) = member.by_ref().take(MEMBER_LIMIT + 1).read_to_end(&mut content) {
                report
                    .errors
                    .push(LoadError { origin, message: format!("cannot decompress: {e}") });
                continue;
            }
            if content.len() as u64 > MEMBER_LIMIT {
                report
                    .errors
                    .push(LoadError { origin, message: "member larger than 64 MiB".into() });
                continue;
            }
            report.merge(self.load_bytes(&origin, &content));
        }
        report
    }

    /// Loads a file, or every advisory file under a directory (recursively). Files of other
    /// types are skipped silently; files that fail to read or parse are listed in the report.
    /// Files are parsed on all available cores and inserted in sorted path order, so a load is
    /// reproducible.
    pub fn load_path(&mut self, path: &Path) -> LoadReport {
        self.load_selected(path, None)
    }

    /// Like [`Self::load_path`], but in package-per-directory layouts (RustSec's
    /// `crates/<name>/`, PyPA's `vulns/<name>/`) only the directories of the named packages are
    /// read. Names are compared loosely (case, `-`, `_` and `.` ignored), which can only read
    /// more than needed, never less. Everything else (flat folders, zip bundles) is read whole.
    /// A scan that loads for one inventory reads a fraction of the database.
    pub fn load_path_for_packages<'a>(
        &mut self,
        path: &Path,
        package_names: impl IntoIterator<Item = &'a str>,
    ) -> LoadReport {
        let wanted: HashSet<String> = package_names.into_iter().map(loose_name).collect();
        self.load_selected(path, Some(&wanted))
    }

    fn load_selected(&mut self, path: &Path, wanted: Option<&HashSet<String>>) -> LoadReport {
        let mut report = LoadReport::default();
        let files = collect_files(path, wanted, &mut report);
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
        let chunk_size = files.len().div_ceil(workers).max(1);
        let parsed: Vec<Vec<ParsedFile>> = std::thread::scope(|scope| {
            let handles: Vec<_> = files
                .chunks(chunk_size)
                .map(|chunk| {
                    scope.spawn(move || chunk.iter().map(|p| read_and_parse(p)).collect::<Vec<_>>())
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        vec![ParsedFile::Failed(LoadError {
                            origin: path.display().to_string(),
                            message: "a loader thread failed".into(),
                        })]
                    })
                })
                .collect()
        });
        for parsed_file in parsed.into_iter().flatten() {
            self.absorb(parsed_file, &mut report);
        }
        report
    }
}

/// One file's contents, parsed but not yet inserted.
enum ParsedFile {
    Advisory(Box<Advisory>),
    Toolchain,
    /// Zip bundles are expanded when inserted (their members are parsed in order there).
    Bundle {
        name: String,
        bytes: Vec<u8>,
    },
    Failed(LoadError),
}

fn read_and_parse(path: &Path) -> ParsedFile {
    let origin = path.display().to_string();
    match std::fs::read(path) {
        Ok(bytes) => parse_file(&origin, &bytes),
        Err(e) => ParsedFile::Failed(LoadError { origin, message: e.to_string() }),
    }
}

/// Parses one advisory file, its kind told by its name.
fn parse_file(name: &str, bytes: &[u8]) -> ParsedFile {
    let failed =
        |message: String| ParsedFile::Failed(LoadError { origin: name.to_owned(), message });
    let advisory = match file_kind(name) {
        Some(FileKind::OsvJson) => super::parse_osv_json(bytes, name),
        Some(FileKind::OsvYaml) => super::parse_osv_yaml(bytes, name),
        Some(FileKind::RustSec) if is_toolchain_advisory(name) => return ParsedFile::Toolchain,
        Some(FileKind::RustSec) => match std::str::from_utf8(bytes) {
            Ok(text) => super::parse_rustsec_markdown(text, name),
            Err(e) => Err(format!("not UTF-8 at byte {}", e.valid_up_to())),
        },
        Some(FileKind::Zip) => {
            return ParsedFile::Bundle { name: name.to_owned(), bytes: bytes.to_vec() };
        }
        None => Err("not an advisory file (.json, .yaml, .yml, RUSTSEC-*.md, .zip)".into()),
    };
    match advisory {
        Ok(a) => ParsedFile::Advisory(Box::new(a)),
        Err(message) => failed(message),
    }
}

/// The advisory files under `root`, in sorted path order. Hidden entries (`.git`) are
/// skipped; with `wanted`, so are package directories of other packages.
fn collect_files(
    root: &Path,
    wanted: Option<&HashSet<String>>,
    report: &mut LoadReport,
) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(current) = pending.pop() {
        let origin = current.display().to_string();
        let metadata = match std::fs::metadata(&current) {
            Ok(m) => m,
            Err(e) => {
                report.errors.push(LoadError { origin, message: e.to_string() });
                continue;
            }
        };
        if !metadata.is_dir() {
            if current == root || file_kind(&origin).is_some() {
                files.push(current);
            }
            continue;
        }
        let entries = match std::fs::read_dir(&current) {
            Ok(entries) => entries,
            Err(e) => {
                report.errors.push(LoadError { origin, message: e.to_string() });
                continue;
            }
        };
        let is_package_layout = current.file_name().is_some_and(|n| n == "crates" || n == "vulns");
        let mut children: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
            .filter(|p| match (wanted, is_package_layout && p.is_dir()) {
                (Some(wanted), true) => p
                    .file_name()
                    .is_some_and(|n| wanted.contains(&loose_name(&n.to_string_lossy()))),
                _ => true,
            })
            .collect();
        children.sort();
        children.reverse();
        pending.extend(children);
    }
    files
}

/// Lower-case with `-`, `_` and `.` dropped: equal for every spelling an ecosystem treats as
/// the same name (and for a few it does not, which only widens a selective load).
fn loose_name(name: &str) -> String {
    name.chars().filter(|c| !matches!(c, '-' | '_' | '.')).flat_map(char::to_lowercase).collect()
}

/// Whether a RustSec file belongs to the `rust/` (toolchain) collection: `.../rust/<pkg>/RUSTSEC-*.md`.
fn is_toolchain_advisory(origin: &str) -> bool {
    let mut parts = origin.rsplit(['/', '\\']);
    let _file = parts.next();
    let _package = parts.next();
    parts.next() == Some("rust")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toolchain_collection_is_recognised_by_its_folder() {
        assert!(is_toolchain_advisory("/db/rust/std/RUSTSEC-2021-0001.md"));
        assert!(!is_toolchain_advisory("/db/crates/rust/RUSTSEC-2021-0001.md"));
        assert!(!is_toolchain_advisory("/db/crates/hyper/RUSTSEC-2021-0001.md"));
    }
}
