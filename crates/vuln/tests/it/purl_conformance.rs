//! The package-url specification's test suite, for the general cases and the supported types.

use crate::common;
use std::collections::BTreeMap;

use serde_json::Value;
use vuln::purl::PackageUrl;

const SUPPORTED_TYPES: [&str; 8] =
    ["cargo", "npm", "pypi", "deb", "generic", "golang", "maven", "github"];

#[derive(Default, Debug)]
struct Tally {
    passed: usize,
    failed: Vec<String>,
}

fn expected_components(value: &Value) -> Option<PackageUrl> {
    let text = |key: &str| value.get(key).and_then(Value::as_str);
    let qualifiers: BTreeMap<String, String> = value
        .get("qualifiers")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())).collect()
        })
        .unwrap_or_default();
    PackageUrl::new(
        text("type")?,
        text("namespace"),
        text("name")?,
        text("version"),
        qualifiers,
        text("subpath"),
    )
    .ok()
}

fn run_case(case: &Value, tally: &mut Tally) {
    let description = case["description"].as_str().unwrap_or_default();
    let test_type = case["test_type"].as_str().unwrap_or_default();
    let must_fail = case["expected_failure"].as_bool().unwrap_or(false);
    let outcome: Result<(), String> = match test_type {
        "parse" => {
            let input = case["input"].as_str().unwrap_or_default();
            match (PackageUrl::parse(input), must_fail) {
                (Err(_), true) => Ok(()),
                (Ok(p), true) => Err(format!("parse {input:?} should fail, got {p}")),
                (Err(e), false) => Err(format!("parse {input:?}: {e}")),
                (Ok(parsed), false) => {
                    let expected = &case["expected_output"];
                    let want = |key: &str| expected.get(key).and_then(Value::as_str);
                    let want_qualifiers: BTreeMap<String, String> = expected
                        .get("qualifiers")
                        .and_then(Value::as_object)
                        .map(|m| {
                            m.iter()
                                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                                .collect()
                        })
                        .unwrap_or_default();
                    let same = Some(parsed.package_type()) == want("type")
                        && parsed.namespace() == want("namespace")
                        && Some(parsed.name()) == want("name")
                        && parsed.version() == want("version")
                        && parsed.subpath() == want("subpath")
                        && *parsed.qualifiers() == want_qualifiers;
                    if same { Ok(()) } else { Err(format!("parse {input:?}: got {parsed:?}")) }
                }
            }
        }
        "validate" | "roundtrip" => {
            let input = case["input"].as_str().unwrap_or_default();
            let expected = case["expected_output"].as_str();
            match (PackageUrl::parse(input), must_fail) {
                (Err(_), true) => Ok(()),
                (Ok(p), true) => Err(format!("validate {input:?} should fail, got {p}")),
                (Err(e), false) => Err(format!("validate {input:?}: {e}")),
                (Ok(p), false) if Some(p.to_string().as_str()) == expected => Ok(()),
                (Ok(p), false) => Err(format!("validate {input:?}: got {p}, want {expected:?}")),
            }
        }
        "build" => {
            let built = expected_components(&case["input"]);
            let expected = case["expected_output"].as_str();
            match (built, must_fail) {
                (None, true) => Ok(()),
                (Some(p), true) => Err(format!("build should fail, got {p}")),
                (None, false) => Err(format!("build {} failed", case["input"])),
                (Some(p), false) if Some(p.to_string().as_str()) == expected => Ok(()),
                (Some(p), false) => Err(format!("build: got {p}, want {expected:?}")),
            }
        }
        other => Err(format!("unknown test type {other}")),
    };
    match outcome {
        Ok(()) => tally.passed += 1,
        Err(why) => tally.failed.push(format!("{description}: {why}")),
    }
}

fn run_file(path: &std::path::Path) -> Tally {
    let text = std::fs::read_to_string(path).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let mut tally = Tally::default();
    for case in doc["tests"].as_array().unwrap() {
        run_case(case, &mut tally);
    }
    tally
}

#[test]
fn specification_and_supported_type_suites_pass() {
    let Some(root) = common::shared_data("purl/tests") else { return };
    let mut files = vec![("specification".to_owned(), root.join("spec/specification-test.json"))];
    for ty in SUPPORTED_TYPES {
        files.push((ty.to_owned(), root.join(format!("types/{ty}-test.json"))));
    }
    let mut all_failures = Vec::new();
    let mut total = 0;
    for (label, path) in files {
        let tally = run_file(&path);
        println!("purl {label}: {} passed, {} failed", tally.passed, tally.failed.len());
        total += tally.passed + tally.failed.len();
        all_failures.extend(tally.failed);
    }
    assert!(total > 150, "the suites should hold well over 150 cases, found {total}");
    assert!(all_failures.is_empty(), "failures:\n{}", all_failures.join("\n"));
}
