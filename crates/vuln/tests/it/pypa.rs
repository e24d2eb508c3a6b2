//! PyPI matching against the PyPA advisory database, on advisories and versions checked by
//! reading the files under `pypa-osv/vulns/`.

use vuln::advisory::AdvisoryDatabase;
use vuln::sbom::parse_requirements;
use vuln::scan;

use crate::common;

/// The PyPA database, loaded once for the whole test run.
fn load_pypa() -> Option<&'static AdvisoryDatabase> {
    let (db, report) = common::pypa()?;
    assert!(report.errors.is_empty(), "load errors: {:#?}", report.errors);
    Some(db)
}

/// The advisory ids found for `name==version`.
fn ids_for(db: &AdvisoryDatabase, name: &str, version: &str) -> Vec<String> {
    let outcome = scan("requirements.txt", format!("{name}=={version}\n").as_bytes(), db);
    assert!(outcome.input_error.is_none(), "{:?}", outcome.input_error);
    assert!(outcome.problems.is_empty(), "{:?}", outcome.problems);
    let mut ids: Vec<String> = outcome.findings.into_iter().map(|f| f.id).collect();
    ids.sort();
    ids
}

fn affected(db: &AdvisoryDatabase, id: &str, name: &str, version: &str) -> bool {
    ids_for(db, name, version).iter().any(|found| found == id)
}

/// salt PYSEC-2021-73 (CVE-2020-28243): one ECOSYSTEM range of fifteen introduced/fixed pairs,
/// including a pre-release boundary (`introduced: 2018.3.0rc1`, `fixed: 2019.2.0rc1`).
#[test]
fn salt_multi_interval_range() {
    let Some(db) = load_pypa() else { return };
    let id = "PYSEC-2021-73";
    for (version, expected) in [
        ("2015.8.9", true),
        ("2015.8.10", false),
        ("2015.8.11", true),
        ("2015.8.13", false),
        ("2016.3.5", true),
        ("2016.3.6", false),
        ("2018.3.0", true),
        ("2019.2.0rc2", false),
        ("2019.2.0", true),
        ("2019.2.5", false),
        ("2019.2.6", true),
        ("3000.5", true),
        ("3000.6", false),
        ("3002.5", false),
    ] {
        assert_eq!(affected(db, id, "salt", version), expected, "salt {version}");
    }
}

/// py PYSEC-2022-42969 (CVE-2022-42969): `introduced: 0`, `last_affected: 1.11.0` — inclusive.
#[test]
fn py_last_affected_is_inclusive() {
    let Some(db) = load_pypa() else { return };
    assert!(affected(db, "PYSEC-2022-42969", "py", "1.11.0"));
    assert!(affected(db, "PYSEC-2022-42969", "py", "1.4.31"));
    assert!(!affected(db, "PYSEC-2022-42969", "py", "1.11.1"));
}

/// requests PYSEC-2018-28 (CVE-2018-18074): a GIT range (ignored) next to an ECOSYSTEM range
/// fixed in 2.20.0. jinja2 PYSEC-2019-217: fixed in 2.10.1; the name is matched per PEP 503.
#[test]
fn ecosystem_ranges_next_to_git_ranges_and_normalised_names() {
    let Some(db) = load_pypa() else { return };
    assert!(affected(db, "PYSEC-2018-28", "requests", "2.19.1"));
    assert!(!affected(db, "PYSEC-2018-28", "requests", "2.20.0"));
    assert!(affected(db, "PYSEC-2019-217", "Jinja2", "2.10"));
    assert!(!affected(db, "PYSEC-2019-217", "jinja2", "2.10.1"));
}

/// redis PYSEC-2023-73 is withdrawn: it is not loaded, so redis 1.34 (its only listed
/// version) is not reported under it.
#[test]
fn withdrawn_advisories_are_not_reported() {
    let Some(db) = load_pypa() else { return };
    assert!(db.get("PYSEC-2023-73").is_none());
    assert!(!affected(db, "PYSEC-2023-73", "redis", "1.34"));
}

/// django PYSEC-2007-1 (CVE-2007-5712): `introduced: 0`, `fixed: 1.1`.
#[test]
fn django_from_the_start_until_fixed() {
    let Some(db) = load_pypa() else { return };
    assert!(affected(db, "PYSEC-2007-1", "django", "0.96"));
    assert!(affected(db, "PYSEC-2007-1", "Django", "1.0.4"));
    assert!(!affected(db, "PYSEC-2007-1", "django", "1.1"));
}

#[test]
fn requirements_with_markers_extras_and_hashes_are_matched() {
    let Some(db) = load_pypa() else { return };
    let text = "# pinned\nrequests[socks]==2.19.1 ; python_version >= \"3.6\" \\\n    --hash=sha256:aaaa\nflask>=1.0\n";
    let inventory = parse_requirements(text.as_bytes()).unwrap();
    assert_eq!(inventory.components.len(), 1);
    assert_eq!(inventory.notes.len(), 1, "the unpinned flask line is reported");
    let outcome = scan("requirements.txt", text.as_bytes(), db);
    assert!(outcome.findings.iter().any(|f| f.id == "PYSEC-2018-28"));
    assert!(outcome.findings.iter().all(|f| f.component.name == "requests"));
}
