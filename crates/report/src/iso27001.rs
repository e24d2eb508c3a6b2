//! ISO/IEC 27001:2022 Annex A: the 93 controls (identifier, theme and a short title of our
//! own), the mapping of each annex measure to the controls it implements, and the Statement of
//! Applicability with its CSV and JSON exports.

use serde::{Deserialize, Serialize};

use crate::annex;
use crate::error::ReportError;
use crate::escape;

/// The four themes Annex A groups its controls by (clauses 5 to 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    Organisational,
    People,
    Physical,
    Technological,
}

impl Theme {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Organisational => "organisational",
            Self::People => "people",
            Self::Physical => "physical",
            Self::Technological => "technological",
        }
    }
}

/// One Annex A control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Control {
    /// `5.1` … `8.34`.
    pub id: &'static str,
    pub theme: Theme,
    /// A short title in our own words.
    pub title: &'static str,
}

const fn organisational(id: &'static str, title: &'static str) -> Control {
    Control { id, theme: Theme::Organisational, title }
}
const fn people(id: &'static str, title: &'static str) -> Control {
    Control { id, theme: Theme::People, title }
}
const fn physical(id: &'static str, title: &'static str) -> Control {
    Control { id, theme: Theme::Physical, title }
}
const fn technological(id: &'static str, title: &'static str) -> Control {
    Control { id, theme: Theme::Technological, title }
}

/// The 93 controls, in clause order.
pub static CONTROLS: &[Control] = &[
    organisational("5.1", "Security policies set, approved and reviewed"),
    organisational("5.2", "Security roles assigned and documented"),
    organisational("5.3", "Conflicting duties kept apart"),
    organisational("5.4", "Management requires staff to apply security"),
    organisational("5.5", "Contacts with authorities maintained"),
    organisational("5.6", "Contacts with security forums and specialist groups"),
    organisational("5.7", "Threat intelligence gathered and analysed"),
    organisational("5.8", "Security built into projects"),
    organisational("5.9", "Inventory of information and assets, each with an owner"),
    organisational("5.10", "Rules for acceptable use of assets"),
    organisational("5.11", "Assets handed back on departure"),
    organisational("5.12", "Information classified by need for protection"),
    organisational("5.13", "Information labelled by its classification"),
    organisational("5.14", "Rules and agreements for transferring information"),
    organisational("5.15", "Access control rules set from business needs"),
    organisational("5.16", "Identities managed through their whole life"),
    organisational("5.17", "Secrets used to authenticate are handled safely"),
    organisational("5.18", "Access rights granted, reviewed and removed"),
    organisational("5.19", "Supplier risks managed"),
    organisational("5.20", "Security requirements written into supplier contracts"),
    organisational("5.21", "Supply chain risks of ICT products and services managed"),
    organisational("5.22", "Supplier services monitored and their changes reviewed"),
    organisational("5.23", "Security of the cloud services we use"),
    organisational("5.24", "Incident response planned and prepared"),
    organisational("5.25", "Security events assessed and classified"),
    organisational("5.26", "Incidents answered by documented procedure"),
    organisational("5.27", "Lessons drawn from incidents"),
    organisational("5.28", "Evidence collected and preserved"),
    organisational("5.29", "Security kept up during disruption"),
    organisational("5.30", "ICT ready for business continuity"),
    organisational("5.31", "Legal, regulatory and contractual duties identified"),
    organisational("5.32", "Intellectual property respected"),
    organisational("5.33", "Records protected"),
    organisational("5.34", "Privacy and personal data protected"),
    organisational("5.35", "Security reviewed independently"),
    organisational("5.36", "Conformance with policies and standards checked"),
    organisational("5.37", "Operating procedures written down"),
    people("6.1", "Candidates screened before joining"),
    people("6.2", "Security duties in employment contracts"),
    people("6.3", "Security awareness and training for staff"),
    people("6.4", "Disciplinary process for policy breaches"),
    people("6.5", "Duties that outlast departure or role change"),
    people("6.6", "Confidentiality and non-disclosure agreements"),
    people("6.7", "Security when working remotely"),
    people("6.8", "Staff report security events"),
    physical("7.1", "Secure perimeters defined"),
    physical("7.2", "Entry to secure areas controlled"),
    physical("7.3", "Offices, rooms and facilities secured"),
    physical("7.4", "Premises monitored for intrusion"),
    physical("7.5", "Protection from physical and environmental threats"),
    physical("7.6", "Rules for working in secure areas"),
    physical("7.7", "Clear desks and locked screens"),
    physical("7.8", "Equipment placed and protected"),
    physical("7.9", "Assets protected when off site"),
    physical("7.10", "Storage media handled through their life"),
    physical("7.11", "Power and other utilities protected"),
    physical("7.12", "Cables protected"),
    physical("7.13", "Equipment maintained"),
    physical("7.14", "Equipment wiped or destroyed before disposal or reuse"),
    technological("8.1", "Endpoint devices protected"),
    technological("8.2", "Privileged access restricted and managed"),
    technological("8.3", "Access to information restricted by policy"),
    technological("8.4", "Source code access controlled"),
    technological("8.5", "Strong authentication"),
    technological("8.6", "Capacity monitored and planned"),
    technological("8.7", "Malware prevented and detected"),
    technological("8.8", "Technical vulnerabilities found and fixed"),
    technological("8.9", "Configurations set, recorded and kept"),
    technological("8.10", "Information deleted when no longer needed"),
    technological("8.11", "Data masked where policy requires"),
    technological("8.12", "Leakage of data prevented"),
    technological("8.13", "Backups taken and tested"),
    technological("8.14", "Redundant processing facilities"),
    technological("8.15", "Activity logged and logs protected"),
    technological("8.16", "Systems watched for anomalies"),
    technological("8.17", "Clocks synchronised"),
    technological("8.18", "Powerful utility programs restricted"),
    technological("8.19", "Software installation on production controlled"),
    technological("8.20", "Networks secured"),
    technological("8.21", "Network services secured"),
    technological("8.22", "Networks segregated"),
    technological("8.23", "Web access filtered"),
    technological("8.24", "Cryptography used by rule, keys managed"),
    technological("8.25", "Secure development life cycle"),
    technological("8.26", "Security requirements for applications"),
    technological("8.27", "Secure architecture and engineering principles"),
    technological("8.28", "Secure coding practices"),
    technological("8.29", "Security tested during development and acceptance"),
    technological("8.30", "Outsourced development supervised"),
    technological("8.31", "Development, test and production kept apart"),
    technological("8.32", "Changes controlled"),
    technological("8.33", "Test information chosen and protected"),
    technological("8.34", "Systems protected while being audited"),
];

/// The control with this identifier.
pub fn control(id: &str) -> Option<&'static Control> {
    CONTROLS.iter().find(|control| control.id == id)
}

/// The controls one annex measure implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeasureControls {
    pub measure_id: &'static str,
    pub controls: &'static [&'static str],
}

/// Every annex measure with the Annex A controls it implements.
pub static MEASURE_CONTROLS: &[MeasureControls] = &[
    MeasureControls { measure_id: "governance.policy", controls: &["5.1", "5.36"] },
    MeasureControls { measure_id: "governance.roles", controls: &["5.2", "5.3", "5.4", "5.34"] },
    MeasureControls { measure_id: "audits.programme", controls: &["5.35", "5.36"] },
    MeasureControls { measure_id: "audits.certifications", controls: &["5.31", "5.35"] },
    MeasureControls {
        measure_id: "personnel.confidentiality",
        controls: &["6.2", "6.5", "6.6", "5.10"],
    },
    MeasureControls { measure_id: "personnel.training", controls: &["6.3"] },
    MeasureControls { measure_id: "asset.inventory", controls: &["5.9", "5.11"] },
    MeasureControls {
        measure_id: "asset.workplace",
        controls: &["8.1", "8.7", "7.7", "6.7", "7.10", "8.13"],
    },
    MeasureControls { measure_id: "asset.end_of_life", controls: &["7.14", "7.10", "8.10"] },
    MeasureControls { measure_id: "information.classification", controls: &["5.12", "5.13"] },
    MeasureControls { measure_id: "information.transfer", controls: &["5.14", "6.6", "8.24"] },
    MeasureControls { measure_id: "information.retention", controls: &["8.10", "5.33", "5.34"] },
    MeasureControls { measure_id: "information.masking", controls: &["8.11"] },
    MeasureControls { measure_id: "information.test_data", controls: &["8.33", "8.31"] },
    MeasureControls {
        measure_id: "physical.premises",
        controls: &["7.1", "7.2", "7.3", "7.4", "7.5", "7.6", "7.8", "7.11", "7.12", "7.13"],
    },
    MeasureControls { measure_id: "systems.authentication", controls: &["8.5", "5.17"] },
    MeasureControls { measure_id: "systems.privileged_rights", controls: &["8.2", "8.18", "8.15"] },
    MeasureControls { measure_id: "systems.network", controls: &["8.20", "8.21", "8.22", "5.3"] },
    MeasureControls { measure_id: "systems.exchanges", controls: &["5.14", "8.24", "8.21"] },
    MeasureControls { measure_id: "systems.change", controls: &["8.32", "8.9", "8.19"] },
    MeasureControls { measure_id: "systems.intrusion_tests", controls: &["8.34", "8.8"] },
    MeasureControls {
        measure_id: "privacy_by_design.lifecycle",
        controls: &["8.25", "8.26", "8.27", "8.29", "8.31", "5.8"],
    },
    MeasureControls {
        measure_id: "privacy_by_design.secure_coding",
        controls: &["8.28", "8.29", "8.4"],
    },
    MeasureControls {
        measure_id: "privacy_by_design.impact_assessment",
        controls: &["5.34", "5.8"],
    },
    MeasureControls {
        measure_id: "staff_iam.access",
        controls: &["5.15", "5.16", "5.18", "8.2", "8.3", "8.15", "6.5", "5.11"],
    },
    MeasureControls {
        measure_id: "customer_iam.controls",
        controls: &["5.15", "5.17", "8.5", "8.3", "8.15"],
    },
    MeasureControls {
        measure_id: "monitoring.detection",
        controls: &["8.16", "8.15", "8.6", "8.17"],
    },
    MeasureControls { measure_id: "vulnerability.management", controls: &["5.7", "5.6", "8.8"] },
    MeasureControls {
        measure_id: "continuity.plan",
        controls: &["5.29", "5.30", "8.13", "8.14", "8.6"],
    },
    MeasureControls {
        measure_id: "subprocessors.assurance",
        controls: &["5.19", "5.20", "5.21", "5.22", "5.23"],
    },
    MeasureControls {
        measure_id: "incidents.response",
        controls: &["5.24", "5.25", "5.26", "5.27", "5.28", "6.8", "5.5"],
    },
];

/// The controls an annex measure implements; empty for an unknown measure id.
pub fn controls_for_measure(measure_id: &str) -> &'static [&'static str] {
    MEASURE_CONTROLS
        .iter()
        .find(|entry| entry.measure_id == measure_id)
        .map_or(&[], |entry| entry.controls)
}

/// The annex measures that implement a control.
pub fn measures_for_control(control_id: &str) -> Vec<&'static str> {
    MEASURE_CONTROLS
        .iter()
        .filter(|entry| entry.controls.contains(&control_id))
        .map(|entry| entry.measure_id)
        .collect()
}

/// Where an applicable control stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImplementationStatus {
    Planned,
    PartiallyImplemented,
    Implemented,
}

impl ImplementationStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Planned => "planned",
            Self::PartiallyImplemented => "partially_implemented",
            Self::Implemented => "implemented",
        }
    }
}

/// Whether a control applies, and if so how far it is implemented. An excluded control has no
/// implementation status, so the two can never disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "applicability", rename_all = "snake_case")]
pub enum Applicability {
    Applicable { status: ImplementationStatus },
    Excluded,
}

/// One line of the Statement of Applicability. (`deny_unknown_fields` cannot be combined with
/// the flattened applicability, so unknown keys inside an entry are ignored.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicabilityEntry {
    pub control_id: String,
    #[serde(flatten)]
    pub applicability: Applicability,
    /// Why the control is included or excluded (required, never blank).
    pub justification: String,
}

/// The Statement of Applicability: one entry per Annex A control, in clause order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementOfApplicability {
    entries: Vec<ApplicabilityEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatementOfApplicabilityDocument {
    entries: Vec<ApplicabilityEntry>,
}

/// Longest justification accepted, in characters.
pub const MAX_JUSTIFICATION_CHARS: usize = 4_000;

impl StatementOfApplicability {
    /// Validates and orders the entries: every control exactly once, known ids, a justification
    /// that is not blank and not longer than [`MAX_JUSTIFICATION_CHARS`].
    pub fn new(mut entries: Vec<ApplicabilityEntry>) -> Result<Self, ReportError> {
        let mut position_of = Vec::with_capacity(entries.len());
        for (index, entry) in entries.iter().enumerate() {
            let location = format!("entry {} (control {:?})", index + 1, entry.control_id);
            let Some(position) = CONTROLS.iter().position(|control| control.id == entry.control_id)
            else {
                return Err(ReportError::Applicability {
                    location,
                    problem: "not an ISO/IEC 27001:2022 Annex A control".to_owned(),
                });
            };
            if position_of.contains(&position) {
                return Err(ReportError::Applicability {
                    location,
                    problem: "the control appears more than once".to_owned(),
                });
            }
            if entry.justification.trim().is_empty() {
                return Err(ReportError::Applicability {
                    location,
                    problem: "the justification is blank".to_owned(),
                });
            }
            if entry.justification.chars().count() > MAX_JUSTIFICATION_CHARS {
                return Err(ReportError::Applicability {
                    location,
                    problem: format!(
                        "the justification is longer than {MAX_JUSTIFICATION_CHARS} characters"
                    ),
                });
            }
            position_of.push(position);
        }
        if let Some(missing) = (0..CONTROLS.len()).find(|position| !position_of.contains(position))
        {
            let id = CONTROLS.get(missing).map_or("?", |control| control.id);
            return Err(ReportError::Applicability {
                location: format!("control {id}"),
                problem: "no entry: every Annex A control needs one".to_owned(),
            });
        }
        let mut keyed: Vec<(usize, ApplicabilityEntry)> =
            position_of.into_iter().zip(entries.drain(..)).collect();
        keyed.sort_by_key(|(position, _)| *position);
        Ok(Self { entries: keyed.into_iter().map(|(_, entry)| entry).collect() })
    }

    /// A starting point: every control applicable and planned, the justification naming the
    /// annex measures that rely on it (or saying that none does).
    pub fn draft_from_annex() -> Self {
        let entries = CONTROLS
            .iter()
            .map(|control| {
                let measures = measures_for_control(control.id);
                let justification = if measures.is_empty() {
                    "No annex measure relies on this control; applicability to be decided."
                        .to_owned()
                } else {
                    format!("Required by annex measures: {}.", measures.join(", "))
                };
                ApplicabilityEntry {
                    control_id: control.id.to_owned(),
                    applicability: Applicability::Applicable {
                        status: ImplementationStatus::Planned,
                    },
                    justification,
                }
            })
            .collect();
        Self { entries }
    }

    /// The entries, in clause order.
    pub fn entries(&self) -> &[ApplicabilityEntry] {
        &self.entries
    }

    /// Reads and validates the JSON form written by [`Self::to_json`].
    pub fn from_json(json: &str) -> Result<Self, ReportError> {
        let document: StatementOfApplicabilityDocument =
            serde_json::from_str(json).map_err(|error| ReportError::Applicability {
                location: format!("JSON line {} column {}", error.line(), error.column()),
                problem: error.to_string(),
            })?;
        Self::new(document.entries)
    }

    /// JSON: `{"entries": [{"control_id", "applicability", "status"?, "justification"}]}`.
    pub fn to_json(&self) -> String {
        // Serialising plain strings and enums cannot fail; fall back to an empty document
        // rather than panicking should that ever change.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// CSV (RFC 4180, CRLF line ends) with a header row:
    /// `control_id,theme,title,applicable,implementation_status,justification,annex_measures`.
    /// Cells a spreadsheet would run as formulas are neutralised.
    pub fn to_csv(&self) -> String {
        let mut csv = String::from(
            "control_id,theme,title,applicable,implementation_status,justification,annex_measures\r\n",
        );
        for entry in &self.entries {
            let (theme, title) = control(&entry.control_id)
                .map_or(("", ""), |control| (control.theme.as_str(), control.title));
            let (applicable, status) = match entry.applicability {
                Applicability::Applicable { status } => ("yes", status.as_str()),
                Applicability::Excluded => ("no", ""),
            };
            let measures = measures_for_control(&entry.control_id).join(" ");
            let row = [
                entry.control_id.as_str(),
                theme,
                title,
                applicable,
                status,
                entry.justification.as_str(),
                measures.as_str(),
            ];
            let cells: Vec<String> = row.iter().map(|cell| escape::csv_field(cell)).collect();
            csv.push_str(&cells.join(","));
            csv.push_str("\r\n");
        }
        csv
    }
}

/// Annex measures that map to no control, or to an id that is not a control; empty when the
/// mapping is sound.
pub fn mapping_problems() -> Vec<String> {
    let mut problems = Vec::new();
    for (_, measure) in annex::measures() {
        let controls = controls_for_measure(measure.id);
        if controls.is_empty() {
            problems.push(format!("measure {} maps to no control", measure.id));
        }
        for id in controls {
            if control(id).is_none() {
                problems.push(format!("measure {} maps to unknown control {id}", measure.id));
            }
        }
    }
    for entry in MEASURE_CONTROLS {
        if annex::measure_by_id(entry.measure_id).is_none() {
            problems.push(format!("mapping names unknown measure {}", entry.measure_id));
        }
    }
    problems
}
