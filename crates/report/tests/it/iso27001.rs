//! The Annex A catalogue, the measure mapping and the Statement of Applicability.

use std::collections::{BTreeMap, HashSet};

use proptest::prelude::*;
use report::annex;
use report::iso27001::{
    self, Applicability, ApplicabilityEntry, CONTROLS, ImplementationStatus,
    StatementOfApplicability, Theme,
};

#[test]
fn the_catalogue_has_93_unique_controls_37_8_14_34_by_theme() {
    let ids: HashSet<&str> = CONTROLS.iter().map(|control| control.id).collect();
    assert_eq!(CONTROLS.len(), 93);
    assert_eq!(ids.len(), 93);
    let mut per_theme: BTreeMap<Theme, usize> = BTreeMap::new();
    for control in CONTROLS {
        *per_theme.entry(control.theme).or_default() += 1;
        assert!(!control.title.trim().is_empty(), "control {} has no title", control.id);
    }
    assert_eq!(per_theme.get(&Theme::Organisational), Some(&37));
    assert_eq!(per_theme.get(&Theme::People), Some(&8));
    assert_eq!(per_theme.get(&Theme::Physical), Some(&14));
    assert_eq!(per_theme.get(&Theme::Technological), Some(&34));
}

#[test]
fn identifiers_run_without_gaps_and_match_their_theme_clause() {
    for (clause, count, theme) in [
        (5, 37, Theme::Organisational),
        (6, 8, Theme::People),
        (7, 14, Theme::Physical),
        (8, 34, Theme::Technological),
    ] {
        for number in 1..=count {
            let id = format!("{clause}.{number}");
            let control =
                iso27001::control(&id).unwrap_or_else(|| panic!("control {id} is missing"));
            assert_eq!(control.theme, theme, "control {id}");
        }
    }
}

#[test]
fn every_annex_measure_maps_to_at_least_one_known_control() {
    assert_eq!(iso27001::mapping_problems(), Vec::<String>::new());
    for (_, measure) in annex::measures() {
        let controls = iso27001::controls_for_measure(measure.id);
        assert!(!controls.is_empty(), "measure {} maps to nothing", measure.id);
    }
    assert!(iso27001::controls_for_measure("no.such.measure").is_empty());
    assert!(iso27001::measures_for_control("8.5").contains(&"systems.authentication"));
}

fn entry(control_id: &str, justification: &str) -> ApplicabilityEntry {
    ApplicabilityEntry {
        control_id: control_id.to_owned(),
        applicability: Applicability::Applicable { status: ImplementationStatus::Implemented },
        justification: justification.to_owned(),
    }
}

fn full_entries() -> Vec<ApplicabilityEntry> {
    CONTROLS.iter().map(|control| entry(control.id, "needed")).collect()
}

#[test]
fn the_statement_needs_every_control_once_with_a_justification() {
    assert!(StatementOfApplicability::new(full_entries()).is_ok());

    let mut missing = full_entries();
    missing.retain(|entry| entry.control_id != "7.12");
    let error = StatementOfApplicability::new(missing).unwrap_err().to_string();
    assert!(error.contains("control 7.12"), "{error}");

    let mut duplicated = full_entries();
    duplicated.push(entry("5.3", "again"));
    let error = StatementOfApplicability::new(duplicated).unwrap_err().to_string();
    assert!(error.contains("entry 94") && error.contains("more than once"), "{error}");

    let mut unknown = full_entries();
    unknown[4].control_id = "5.38".to_owned();
    let error = StatementOfApplicability::new(unknown).unwrap_err().to_string();
    assert!(error.contains("entry 5") && error.contains("5.38"), "{error}");

    let mut blank = full_entries();
    blank[10].justification = "  ".to_owned();
    let error = StatementOfApplicability::new(blank).unwrap_err().to_string();
    assert!(error.contains("5.11") && error.contains("blank"), "{error}");
}

#[test]
fn the_statement_is_kept_in_clause_order_whatever_the_input_order() {
    let mut reversed = full_entries();
    reversed.reverse();
    let statement = StatementOfApplicability::new(reversed).unwrap();
    let ids: Vec<&str> =
        statement.entries().iter().map(|entry| entry.control_id.as_str()).collect();
    let catalogue: Vec<&str> = CONTROLS.iter().map(|control| control.id).collect();
    assert_eq!(ids, catalogue);
}

#[test]
fn csv_export_has_one_row_per_control_and_neutralises_formulas() {
    let mut entries = full_entries();
    entries[0].justification = "=cmd|' /C calc'!A0".to_owned();
    entries[1].applicability = Applicability::Excluded;
    entries[1].justification = "not relevant, \"by design\"".to_owned();
    let csv = StatementOfApplicability::new(entries).unwrap().to_csv();
    let rows: Vec<&str> = csv.split("\r\n").filter(|row| !row.is_empty()).collect();
    assert_eq!(rows.len(), 94);
    assert!(rows[0].starts_with("control_id,theme,title,applicable,implementation_status"));
    assert!(rows[1].starts_with("5.1,organisational,"));
    assert!(rows[1].contains(",'=cmd|' /C calc'!A0,"), "{}", rows[1]);
    assert!(rows[2].contains(",no,,\"not relevant, \"\"by design\"\"\","), "{}", rows[2]);
    assert!(rows[93].starts_with("8.34,technological,"));
}

#[test]
fn the_draft_names_the_measures_behind_each_control() {
    let draft = StatementOfApplicability::draft_from_annex();
    assert!(StatementOfApplicability::new(draft.entries().to_vec()).is_ok());
    let authentication = draft.entries().iter().find(|entry| entry.control_id == "8.5").unwrap();
    assert!(authentication.justification.contains("systems.authentication"));
}

fn arbitrary_applicability() -> impl Strategy<Value = Applicability> {
    prop_oneof![
        Just(Applicability::Excluded),
        Just(Applicability::Applicable { status: ImplementationStatus::Planned }),
        Just(Applicability::Applicable { status: ImplementationStatus::PartiallyImplemented }),
        Just(Applicability::Applicable { status: ImplementationStatus::Implemented }),
    ]
}

proptest! {
    #[test]
    fn json_round_trips(choices in prop::collection::vec((arbitrary_applicability(), "[ -~]{1,40}"), 93)) {
        prop_assume!(choices.iter().all(|(_, justification)| !justification.trim().is_empty()));
        let entries = CONTROLS.iter().zip(choices).map(|(control, (applicability, justification))| ApplicabilityEntry {
            control_id: control.id.to_owned(),
            applicability,
            justification,
        }).collect();
        let statement = StatementOfApplicability::new(entries).unwrap();
        prop_assert_eq!(StatementOfApplicability::from_json(&statement.to_json()).unwrap(), statement);
    }

    #[test]
    fn arbitrary_json_gives_a_value_or_an_error_never_a_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = StatementOfApplicability::from_json(&String::from_utf8_lossy(&bytes));
    }
}
