//! Inventory readers: each format on a small document, error locations, format detection, and
//! totality on arbitrary bytes.

use proptest::prelude::*;
use vuln::Ecosystem;
use vuln::sbom::{
    ComponentSource, SbomFormat, detect_and_parse, detect_format, parse_as, parse_cargo_lock,
    parse_cyclonedx_json, parse_dpkg_list, parse_dpkg_status, parse_package_lock,
    parse_requirements, parse_spdx_json,
};

fn names_versions(inventory: &vuln::sbom::Inventory) -> Vec<(String, String)> {
    inventory.components.iter().map(|c| (c.name.clone(), c.version.clone())).collect()
}

const CYCLONEDX: &str = r#"{
  "bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
  "metadata": { "component": { "name": "app", "version": "1.0", "type": "application" } },
  "components": [
    { "type": "library", "name": "serde", "version": "1.0.100", "purl": "pkg:cargo/serde@1.0.100" },
    { "type": "library", "name": "core", "version": "7.0.0", "purl": "pkg:npm/%40angular/core@7.0.0",
      "components": [
        { "type": "library", "name": "Django", "version": "3.2", "purl": "pkg:pypi/Django" }
      ] },
    { "type": "library", "name": "no-purl", "version": "1" }
  ]
}"#;

#[test]
fn cyclonedx_nested_components_and_purl_versions() {
    let inventory = parse_cyclonedx_json(CYCLONEDX.as_bytes()).unwrap();
    assert_eq!(
        names_versions(&inventory),
        [
            ("serde".into(), "1.0.100".into()),
            ("@angular/core".into(), "7.0.0".into()),
            ("django".into(), "3.2".into())
        ]
    );
    assert_eq!(inventory.components[2].location, "components[1].components[0]");
    assert_eq!(inventory.components[2].ecosystem, Ecosystem::PyPi);
    assert_eq!(inventory.components[2].purl.as_ref().unwrap().to_string(), "pkg:pypi/django@3.2");
    let noted: Vec<&str> = inventory.notes.iter().map(|n| n.location.as_str()).collect();
    assert_eq!(noted, ["metadata.component", "components[2]"]);
}

#[test]
fn cyclonedx_errors_name_the_element() {
    let bad_version = CYCLONEDX.replace(r#""version": "7.0.0""#, r#""version": 7"#);
    let err = parse_cyclonedx_json(bad_version.as_bytes()).unwrap_err();
    assert_eq!(err.location, "components[1].version");
    let bad_purl = CYCLONEDX.replace("pkg:pypi/Django", "pypi/Django");
    let err = parse_cyclonedx_json(bad_purl.as_bytes()).unwrap_err();
    assert_eq!(err.location, "components[1].components[0].purl");
    let err =
        parse_cyclonedx_json(b"{\"bomFormat\": \"CycloneDX\",\n \"components\": [}").unwrap_err();
    assert!(err.location.starts_with("line 2"), "{err}");
    let err =
        parse_cyclonedx_json(br#"{"bomFormat":"CycloneDX","specVersion":"1.2"}"#).unwrap_err();
    assert_eq!(err.location, "specVersion");
}

#[test]
fn spdx_packages_with_purl_references() {
    let doc = r#"{ "spdxVersion": "SPDX-2.3", "packages": [
        { "name": "lodash", "versionInfo": "4.17.20", "externalRefs": [
            { "referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": "pkg:npm/lodash@4.17.20" } ] },
        { "name": "internal", "versionInfo": "0.1" },
        { "name": "bad", "externalRefs": [ { "referenceType": "purl", "referenceLocator": 5 } ] } ] }"#;
    let err = parse_spdx_json(doc.as_bytes()).unwrap_err();
    assert_eq!(err.location, "packages[2].externalRefs[0].referenceLocator");
    let fixed =
        doc.replace(r#""referenceLocator": 5"#, r#""referenceLocator": "pkg:cargo/time@0.1.40""#);
    let inventory = parse_spdx_json(fixed.as_bytes()).unwrap();
    assert_eq!(
        names_versions(&inventory),
        [("lodash".into(), "4.17.20".into()), ("time".into(), "0.1.40".into())]
    );
    assert_eq!(inventory.notes[0].location, "packages[1]");
}

#[test]
fn cargo_lock_versions_one_to_four_and_sources() {
    let v1 = "[[package]]\nname = \"app\"\nversion = \"0.1.0\"\ndependencies = [\"smallvec 0.6.9 (registry+https://github.com/rust-lang/crates.io-index)\"]\n\n\
              [[package]]\nname = \"smallvec\"\nversion = \"0.6.9\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n\n\
              [metadata]\n\"checksum smallvec 0.6.9 (registry+https://github.com/rust-lang/crates.io-index)\" = \"abc\"\n";
    let inventory = parse_cargo_lock(v1.as_bytes()).unwrap();
    assert_eq!(inventory.components.len(), 2);
    assert_eq!(
        inventory.components[0].source,
        ComponentSource::Path("workspace or path dependency".into())
    );
    assert!(inventory.components[1].is_from_public_registry());
    let v4 = "version = 4\n\n[[package]]\nname = \"a\"\nversion = \"1.0.0\"\nsource = \"git+https://example.org/a?rev=1#abc\"\n\n\
              [[package]]\nname = \"b\"\nversion = \"2.0.0\"\nsource = \"sparse+https://index.crates.io/\"\n";
    let inventory = parse_cargo_lock(v4.as_bytes()).unwrap();
    assert!(matches!(inventory.components[0].source, ComponentSource::Git(_)));
    assert!(inventory.components[1].is_from_public_registry());
    assert_eq!(inventory.notes.len(), 1);
    let err = parse_cargo_lock(b"version = 4\n[[package]]\nname = \"a\"\n").unwrap_err();
    assert_eq!(err.location, "package[0].version");
    let err = parse_cargo_lock(b"version = 4\n\n[[package]\nname = 1\n").unwrap_err();
    assert_eq!(err.location, "line 3");
    assert_eq!(parse_cargo_lock(b"version = 9\n").unwrap_err().location, "version");
}

#[test]
fn this_repository_lockfile_reads_completely() {
    let text = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock")).unwrap();
    let inventory = detect_and_parse("Cargo.lock", &text).unwrap();
    let from_crates_io =
        inventory.components.iter().filter(|c| c.is_from_public_registry()).count();
    let declared = String::from_utf8_lossy(&text).matches("\n[[package]]").count();
    assert_eq!(inventory.components.len(), declared);
    assert!(from_crates_io > 100, "{from_crates_io}");
    assert!(inventory.components.iter().any(|c| c.name == "vuln" && !c.is_from_public_registry()));
}

#[test]
fn package_lock_nested_node_modules_and_links() {
    let doc = r#"{ "name": "app", "lockfileVersion": 3, "packages": {
        "": { "name": "app", "version": "1.0.0" },
        "node_modules/lodash": { "version": "4.17.20", "resolved": "https://registry.npmjs.org/lodash/-/lodash-4.17.20.tgz" },
        "node_modules/a/node_modules/@scope/b": { "version": "2.0.0" },
        "node_modules/local": { "resolved": "packages/local", "link": true },
        "packages/local": { "version": "0.0.1" } } }"#;
    let inventory = parse_package_lock(doc.as_bytes()).unwrap();
    let mut found = names_versions(&inventory);
    found.sort();
    assert_eq!(found, [("@scope/b".into(), "2.0.0".into()), ("lodash".into(), "4.17.20".into())]);
    let scoped = inventory.components.iter().find(|c| c.name == "@scope/b").unwrap();
    assert_eq!(scoped.purl.as_ref().unwrap().to_string(), "pkg:npm/%40scope/b@2.0.0");
    assert_eq!(inventory.notes.len(), 2);
    let err =
        parse_package_lock(doc.replace(r#""version": "2.0.0""#, r#""version": []"#).as_bytes())
            .unwrap_err();
    assert_eq!(err.location, r#"packages["node_modules/a/node_modules/@scope/b"].version"#);
    let err = parse_package_lock(br#"{"lockfileVersion": 1, "dependencies": {}}"#).unwrap_err();
    assert_eq!(err.location, "lockfileVersion");
}

#[test]
fn requirements_pins_continuations_and_reported_lines() {
    let text = "# comment\n-r base.txt\nDjango[bcrypt]==3.2.1 ; python_version>'3' # web\n\
                requests==2.19.1 \\\n    --hash=sha256:abc \\\n    --hash=sha256:def\n\
                flask>=1.0\nnumpy==1.*\npkg @ https://example.org/pkg.whl\nurllib3===1.24\n";
    let inventory = parse_requirements(text.as_bytes()).unwrap();
    assert_eq!(
        names_versions(&inventory),
        [
            ("Django".into(), "3.2.1".into()),
            ("requests".into(), "2.19.1".into()),
            ("urllib3".into(), "1.24".into())
        ]
    );
    assert_eq!(inventory.components[1].location, "line 4");
    assert_eq!(inventory.components[2].location, "line 10");
    let noted: Vec<&str> = inventory.notes.iter().map(|n| n.location.as_str()).collect();
    assert_eq!(noted, ["line 2", "line 7", "line 8", "line 9"]);
    let err = parse_requirements(b"ok==1\n==2.0\n").unwrap_err();
    assert_eq!(err.location, "line 2");
    let err = parse_requirements(b"a[extra==1\n").unwrap_err();
    assert_eq!(err.location, "line 1");
}

#[test]
fn dpkg_list_and_status() {
    let list = "Desired=Unknown/Install/Remove/Purge/Hold\n| Status=Not/Inst/Conf-files/Unpacked/halF-conf/Half-inst/trig-aWait/Trig-pend\n\
                |/ Err?=(none)/Reinst-required (Status,Err: uppercase=bad)\n||/ Name           Version        Architecture Description\n\
                +++-==============-==============-============-=================================\n\
                ii  curl           7.64.0-4+deb10u1 amd64        command line tool\n\
                ii  libc6:amd64    2.28-10        amd64        GNU C Library\n\
                rc  oldpkg         1.0-1          amd64        removed\n";
    assert_eq!(detect_format("packages.txt", list.as_bytes()), Some(SbomFormat::DpkgList));
    let inventory = parse_dpkg_list(list.as_bytes()).unwrap();
    assert_eq!(
        names_versions(&inventory),
        [("curl".into(), "7.64.0-4+deb10u1".into()), ("libc6".into(), "2.28-10".into())]
    );
    assert_eq!(
        inventory.components[1].purl.as_ref().unwrap().to_string(),
        "pkg:deb/debian/libc6@2.28-10?arch=amd64"
    );
    assert_eq!(inventory.notes[0].location, "line 8");
    let err = parse_dpkg_list(format!("{list}ii  broken\n").as_bytes()).unwrap_err();
    assert_eq!(err.location, "line 9");

    let status = "Package: curl\nStatus: install ok installed\nArchitecture: amd64\nVersion: 7.64.0-4+deb10u1\n\
                  Description: tool\n multi-line description\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n\n\
                  Package: nover\nStatus: install ok installed\n";
    let err = parse_dpkg_status(status.as_bytes()).unwrap_err();
    assert_eq!(err.location, "line 12");
    let inventory = parse_dpkg_status(
        status.replace("Package: nover\nStatus: install ok installed\n", "").as_bytes(),
    )
    .unwrap();
    assert_eq!(names_versions(&inventory), [("curl".into(), "7.64.0-4+deb10u1".into())]);
    assert_eq!(inventory.components[0].ecosystem, Ecosystem::Debian);
    assert_eq!(inventory.notes.len(), 1);
}

#[test]
fn detection_by_name_then_content() {
    assert_eq!(detect_format("x/Cargo.lock", b""), Some(SbomFormat::CargoLock));
    assert_eq!(detect_format("bom.json", CYCLONEDX.as_bytes()), Some(SbomFormat::CycloneDxJson));
    assert_eq!(
        detect_format("sbom.json", br#"{"spdxVersion":"SPDX-2.3"}"#),
        Some(SbomFormat::SpdxJson)
    );
    assert_eq!(
        detect_format("lock.json", br#"{"lockfileVersion":3}"#),
        Some(SbomFormat::NpmPackageLock)
    );
    assert_eq!(
        detect_format("deps.lock", b"version = 3\n\n[[package]]\n"),
        Some(SbomFormat::CargoLock)
    );
    assert_eq!(detect_format("requirements-dev.txt", b"a==1\n"), Some(SbomFormat::PipRequirements));
    assert_eq!(detect_format("var/lib/dpkg/status", b""), Some(SbomFormat::DpkgStatus));
    assert_eq!(detect_format("image.png", b"\x89PNG"), None);
    assert!(detect_and_parse("image.png", b"\x89PNG").is_err());
}

const ALL_FORMATS: [SbomFormat; 7] = [
    SbomFormat::CycloneDxJson,
    SbomFormat::SpdxJson,
    SbomFormat::CargoLock,
    SbomFormat::NpmPackageLock,
    SbomFormat::PipRequirements,
    SbomFormat::DpkgList,
    SbomFormat::DpkgStatus,
];

proptest! {
    #[test]
    fn every_reader_is_total_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        for format in ALL_FORMATS {
            let _ = parse_as(format, &bytes);
        }
        let _ = detect_and_parse("input", &bytes);
    }

    #[test]
    fn every_reader_is_total_on_mutated_documents(position in 0usize..600, byte in any::<u8>()) {
        for document in [CYCLONEDX.as_bytes(), b"version = 3\n[[package]]\nname = \"a\"\nversion = \"1.0.0\"\n".as_slice()] {
            let mut mutated = document.to_vec();
            let index = position % mutated.len();
            mutated[index] = byte;
            for format in ALL_FORMATS {
                let _ = parse_as(format, &mutated);
            }
        }
    }
}
