//! Each organisation's classification scheme and the marking of everything Rampart exports.
//!
//! - A scheme is an ordered list of levels (least restricted first), each with a name, a
//!   TLP 2.0 label and a description, and the level of each export kind ([`EXPORT_KINDS`]).
//!   An organisation that never set one uses the default: Public (TLP:CLEAR), Internal
//!   (TLP:GREEN), Confidential (TLP:AMBER), Restricted (TLP:RED).
//! - Replacing a scheme is refused while a level that disappears is still used by an asset or
//!   a data category; the refusal names where.
//! - Every export is marked with its level ([`ExportMarking`]): a first comment line in CSV, a
//!   top-level `classification` object in JSON, the banner of the annex, and the
//!   `Rampart-Classification` header; and every export is an audit event
//!   ([`App::record_export`]).

use std::collections::BTreeMap;

use base::{OrganizationId, RequestContext, Resource};
use privacy::classification::{ClassificationScheme, Level, Rank, TlpLabel};
use serde::{Deserialize, Serialize};
use store::{ClassificationSchemeRecord, InformationProtectionRepository as _, Transaction};
use time::OffsetDateTime;

use crate::AuditTrail as _;
use crate::{App, AppError, Principal};

/// Levels a scheme may have.
pub const MAX_CLASSIFICATION_LEVELS: usize = 12;
const MAX_LEVEL_NAME_CHARS: usize = 60;
const MAX_LEVEL_DESCRIPTION_CHARS: usize = 1_000;

/// The export kinds and their default level (a name of the default scheme). Registers are
/// `registers.<register>`.
pub const EXPORT_KINDS: &[(&str, &str)] = &[
    ("assets", "Internal"),
    ("annex", "Confidential"),
    ("audit_log", "Confidential"),
    ("vulnerabilities", "Confidential"),
    ("data_categories", "Internal"),
    ("retention_runs", "Internal"),
    ("detection_reports", "Confidential"),
    ("privacy_answers", "Confidential"),
    ("reidentification", "Restricted"),
    ("registers.policies", "Confidential"),
    ("registers.roles", "Confidential"),
    ("registers.risks", "Confidential"),
    ("registers.applicability", "Confidential"),
    ("registers.people", "Confidential"),
    ("registers.audits", "Confidential"),
    ("registers.certifications", "Confidential"),
    ("registers.subprocessors", "Confidential"),
    ("registers.dpias", "Confidential"),
    ("registers.changes", "Confidential"),
    ("registers.continuity", "Confidential"),
    ("registers.processing", "Confidential"),
];

/// The export kind of a register.
pub fn register_export_kind(register: &str) -> String {
    format!("registers.{register}")
}

/// One level as clients send and read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelInput {
    pub name: String,
    /// `CLEAR`, `GREEN`, `AMBER`, `AMBER+STRICT` or `RED`.
    pub tlp: TlpLabel,
    #[serde(default)]
    pub description: String,
}

/// A scheme as clients send it: levels least restricted first, and the level of each export
/// kind (kinds left out take their default, or the most restricted level when the scheme has
/// no level of the default's name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemeInput {
    pub levels: Vec<LevelInput>,
    #[serde(default)]
    pub exports: BTreeMap<String, String>,
}

/// An organisation's scheme, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationScheme {
    scheme: ClassificationScheme,
    /// Every export kind with the name of its level, as spelled in the scheme.
    exports: BTreeMap<String, String>,
    /// When it was last replaced; none for the default.
    pub updated_at: Option<OffsetDateTime>,
}

impl Default for OrganizationScheme {
    fn default() -> Self {
        let default = SchemeInput {
            levels: ClassificationScheme::default()
                .levels()
                .iter()
                .map(|level| LevelInput {
                    name: level.name.clone(),
                    tlp: level.tlp,
                    description: level.description.clone().unwrap_or_default(),
                })
                .collect(),
            exports: BTreeMap::new(),
        };
        // The default levels are valid by construction; fall back to the bare scheme anyway.
        Self::check(&default).unwrap_or_else(|_| Self {
            scheme: ClassificationScheme::default(),
            exports: BTreeMap::new(),
            updated_at: None,
        })
    }
}

fn invalid(message: impl Into<String>) -> AppError {
    AppError::InvalidInput(message.into())
}

impl OrganizationScheme {
    /// Check a scheme sent by a client.
    pub fn check(input: &SchemeInput) -> Result<Self, AppError> {
        if input.levels.len() > MAX_CLASSIFICATION_LEVELS {
            return Err(invalid(format!("levels: at most {MAX_CLASSIFICATION_LEVELS}")));
        }
        for (index, level) in input.levels.iter().enumerate() {
            if level.name.trim() != level.name || level.name.chars().count() > MAX_LEVEL_NAME_CHARS
            {
                return Err(invalid(format!(
                    "levels[{index}].name: 1 to {MAX_LEVEL_NAME_CHARS} characters, no surrounding \
                     spaces"
                )));
            }
            if level.description.chars().count() > MAX_LEVEL_DESCRIPTION_CHARS
                || level.description.chars().any(|c| c.is_control() && c != '\n')
            {
                return Err(invalid(format!(
                    "levels[{index}].description: at most {MAX_LEVEL_DESCRIPTION_CHARS} \
                     characters, no control characters"
                )));
            }
        }
        let levels: Vec<Level> = input
            .levels
            .iter()
            .map(|level| Level {
                name: level.name.clone(),
                tlp: level.tlp,
                description: Some(level.description.clone()).filter(|text| !text.is_empty()),
            })
            .collect();
        let scheme = ClassificationScheme::from_levels(levels).map_err(|error| {
            if error.line == 0 {
                invalid(format!("levels: {}", error.message))
            } else {
                invalid(format!("levels[{}]: {}", error.line - 1, error.message))
            }
        })?;
        for kind in input.exports.keys() {
            if !EXPORT_KINDS.iter().any(|(known, _)| known == kind) {
                let known: Vec<&str> = EXPORT_KINDS.iter().map(|(known, _)| *known).collect();
                return Err(invalid(format!(
                    "exports: unknown export kind {kind:?}; expected one of {}",
                    known.join(", ")
                )));
            }
        }
        let most_restricted = scheme.levels().last().map(|level| level.name.clone());
        let mut exports = BTreeMap::new();
        for (kind, default) in EXPORT_KINDS {
            let name = match input.exports.get(*kind) {
                Some(name) => {
                    let rank = scheme.rank(name).ok_or_else(|| {
                        invalid(format!("exports.{kind}: {name:?} is not a level of the scheme"))
                    })?;
                    scheme.level(rank).map(|level| level.name.clone())
                }
                None => scheme
                    .rank(default)
                    .and_then(|rank| scheme.level(rank))
                    .map(|level| level.name.clone())
                    .or_else(|| most_restricted.clone()),
            };
            if let Some(name) = name {
                exports.insert((*kind).to_owned(), name);
            }
        }
        Ok(Self { scheme, exports, updated_at: None })
    }

    /// The levels, least restricted first.
    pub fn levels(&self) -> &[Level] {
        self.scheme.levels()
    }

    /// The level of each export kind.
    pub fn exports(&self) -> &BTreeMap<String, String> {
        &self.exports
    }

    /// The scheme as a client would send it back.
    pub fn input(&self) -> SchemeInput {
        SchemeInput {
            levels: self
                .levels()
                .iter()
                .map(|level| LevelInput {
                    name: level.name.clone(),
                    tlp: level.tlp,
                    description: level.description.clone().unwrap_or_default(),
                })
                .collect(),
            exports: self.exports.clone(),
        }
    }

    /// The rank of a level (case-insensitive name).
    pub fn rank(&self, name: &str) -> Option<Rank> {
        self.scheme.rank(name)
    }

    /// The stored form of a level, as assets and data categories keep it (lowercase).
    pub fn key_of(&self, name: &str) -> Option<String> {
        let rank = self.rank(name.trim())?;
        self.scheme.level(rank).map(|level| level.name.to_lowercase())
    }

    /// The level given to an asset or category that names none: `internal` when the scheme
    /// has it, else its least restricted level.
    pub fn default_key(&self) -> String {
        self.key_of("internal")
            .or_else(|| self.levels().first().map(|level| level.name.to_lowercase()))
            .unwrap_or_else(|| "internal".to_owned())
    }

    /// The names of the levels, for error messages.
    pub fn names(&self) -> String {
        self.levels().iter().map(|level| level.name.to_lowercase()).collect::<Vec<_>>().join(", ")
    }

    /// The marking of a level.
    pub fn marking_of(&self, rank: Rank) -> Option<ExportMarking> {
        let level = self.scheme.level(rank)?;
        Some(ExportMarking { level: level.name.clone(), tlp: level.tlp, rank: rank.0 })
    }

    /// The marking of an export kind, raised to `floor` when that is more restricted (an
    /// export is as sensitive as its most sensitive row).
    pub fn marking(&self, kind: &str, floor: Option<Rank>) -> ExportMarking {
        let configured = self.exports.get(kind).and_then(|name| self.rank(name));
        let rank = [configured, floor]
            .into_iter()
            .flatten()
            .max()
            .or_else(|| self.levels().len().checked_sub(1).map(Rank))
            .unwrap_or(Rank(0));
        self.marking_of(rank).unwrap_or(ExportMarking {
            level: "Restricted".to_owned(),
            tlp: TlpLabel::Red,
            rank: rank.0,
        })
    }
}

/// The classification an export carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportMarking {
    /// The level's name as spelled in the scheme.
    pub level: String,
    pub tlp: TlpLabel,
    /// Its position in the scheme, 0 the least restricted.
    pub rank: usize,
}

impl ExportMarking {
    /// `CONFIDENTIAL (TLP:AMBER)`: the value of the `Rampart-Classification` header.
    pub fn header_value(&self) -> String {
        let name: String = self.level.chars().filter(|c| !c.is_control()).collect();
        format!("{} ({})", name.to_uppercase(), self.tlp)
    }

    /// The first line of a CSV export.
    pub fn csv_line(&self) -> String {
        format!("# classification: {}\n", self.header_value())
    }

    /// The `classification` object of a JSON export.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "level": self.level,
            "tlp": self.tlp.to_string(),
            "rank": self.rank,
        })
    }
}

/// The organisation's scheme, or the default when it never set one.
pub(crate) async fn load_scheme(
    transaction: &mut Transaction,
    organization_id: OrganizationId,
) -> Result<OrganizationScheme, AppError> {
    let Some(record) = transaction.get_classification_scheme(organization_id).await? else {
        return Ok(OrganizationScheme::default());
    };
    let input: SchemeInput = serde_json::from_str(&record.document)
        .map_err(|error| AppError::Internal(format!("stored classification scheme: {error}")))?;
    let mut scheme = OrganizationScheme::check(&input)
        .map_err(|error| AppError::Internal(format!("stored classification scheme: {error}")))?;
    scheme.updated_at = Some(record.updated_at);
    Ok(scheme)
}

impl App {
    /// The organisation's classification scheme (the default until one is set).
    pub async fn classification_scheme(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        context: &RequestContext,
    ) -> Result<OrganizationScheme, AppError> {
        self.authorize_in(principal, organization_id, "privacy:classification:read", context)
            .await?;
        let mut read = self.store.read().await?;
        let scheme = load_scheme(&mut read, organization_id).await?;
        read.commit().await?;
        Ok(scheme)
    }

    /// Replace the organisation's scheme. A level that the new scheme no longer has must not
    /// be in use by an asset or a data category. The change is audited with the levels before
    /// and after.
    pub async fn replace_classification_scheme(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        input: &SchemeInput,
        context: &RequestContext,
    ) -> Result<OrganizationScheme, AppError> {
        self.authorize_in(principal, organization_id, "privacy:classification:write", context)
            .await?;
        let mut scheme = OrganizationScheme::check(input)?;
        let mut transaction = self.store.begin().await?;
        let before = load_scheme(&mut transaction, organization_id).await?;
        for level in before.levels() {
            if scheme.rank(&level.name).is_some() {
                continue;
            }
            let key = level.name.to_lowercase();
            let n_assets = transaction.count_assets_classified(organization_id, &key).await?;
            let n_categories =
                transaction.count_data_categories_classified(organization_id, &key).await?;
            if n_assets + n_categories > 0 {
                let mut uses = Vec::new();
                if n_assets > 0 {
                    uses.push(format!("{n_assets} asset(s)"));
                }
                if n_categories > 0 {
                    uses.push(format!("{n_categories} data categor(y/ies)"));
                }
                return Err(AppError::Conflict(format!(
                    "level {:?} is in use by {}; reclassify them before removing it",
                    level.name,
                    uses.join(" and ")
                )));
            }
        }
        let now = self.clock.now();
        let document = serde_json::to_string(&scheme.input())
            .map_err(|error| AppError::Internal(error.to_string()))?;
        transaction
            .put_classification_scheme(&ClassificationSchemeRecord {
                organization_id,
                document,
                updated_at: now,
            })
            .await?;
        let mut event = self.success_event(
            principal,
            organization_id,
            "privacy.classification_scheme.replace",
            Resource::kind_only("classification_scheme"),
            context,
        );
        let names = |scheme: &OrganizationScheme| -> Vec<serde_json::Value> {
            scheme
                .levels()
                .iter()
                .map(|level| format!("{} ({})", level.name, level.tlp).into())
                .collect()
        };
        event.details.insert("levels_before".into(), names(&before).into());
        event.details.insert("levels".into(), names(&scheme).into());
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        scheme.updated_at = Some(now);
        Ok(scheme)
    }

    /// The marking of an export kind in the organisation's scheme, raised to the level named
    /// `floor` when that is more restricted. Callers ask it after the export's own use case
    /// authorised the principal.
    pub async fn export_marking(
        &self,
        organization_id: OrganizationId,
        kind: &str,
        floor: Option<&str>,
    ) -> Result<ExportMarking, AppError> {
        let mut read = self.store.read().await?;
        let scheme = load_scheme(&mut read, organization_id).await?;
        read.commit().await?;
        Ok(scheme.marking(kind, floor.and_then(|name| scheme.rank(name))))
    }

    /// The organisation's findings as an OpenVEX document with its marking; the export is
    /// an audit event. The document keeps the OpenVEX schema, so the marking travels in the
    /// `Rampart-Classification` header only.
    pub async fn export_vulnerability_vex(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        context: &RequestContext,
    ) -> Result<(String, ExportMarking), AppError> {
        let document = self.vulnerability_vex(principal, organization_id, context).await?;
        let marking = self.export_marking(organization_id, "vulnerabilities", None).await?;
        let n_statements = serde_json::from_str::<serde_json::Value>(&document)
            .ok()
            .and_then(|value| value["statements"].as_array().map(Vec::len))
            .unwrap_or(0);
        self.record_export(
            principal,
            organization_id,
            "vulnerability.vex.export",
            Resource::kind_only("vulnerability_findings"),
            "openvex",
            n_statements,
            &marking,
            context,
        )
        .await?;
        Ok((document, marking))
    }

    /// Record an export as an audit event: what was exported, how many rows, in which
    /// format, and its classification.
    #[allow(clippy::too_many_arguments, reason = "one audit event's fields")]
    pub(crate) async fn record_export(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        action: &str,
        resource: Resource,
        format: &str,
        rows: usize,
        marking: &ExportMarking,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        let mut event = self.success_event(principal, organization_id, action, resource, context);
        event.details.insert("format".into(), format.into());
        event.details.insert("rows".into(), rows.into());
        event.details.insert("classification".into(), marking.header_value().into());
        let mut transaction = self.store.begin().await?;
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(name: &str, tlp: TlpLabel) -> LevelInput {
        LevelInput { name: name.into(), tlp, description: String::new() }
    }

    #[test]
    fn the_default_scheme_marks_every_export_kind() {
        let scheme = OrganizationScheme::default();
        assert_eq!(scheme.names(), "public, internal, confidential, restricted");
        assert_eq!(scheme.exports().len(), EXPORT_KINDS.len());
        assert_eq!(scheme.marking("annex", None).header_value(), "CONFIDENTIAL (TLP:AMBER)");
        let raised = scheme.marking("assets", scheme.rank("restricted"));
        assert_eq!(raised.header_value(), "RESTRICTED (TLP:RED)");
        assert_eq!(raised.json()["rank"], 3);
        assert_eq!(scheme.marking("assets", scheme.rank("public")).level, "Internal");
    }

    #[test]
    fn a_custom_scheme_falls_back_to_its_most_restricted_level() {
        let input = SchemeInput {
            levels: vec![level("Open", TlpLabel::Clear), level("Partners", TlpLabel::AmberStrict)],
            exports: BTreeMap::from([("assets".to_owned(), "open".to_owned())]),
        };
        let scheme = OrganizationScheme::check(&input).unwrap();
        assert_eq!(scheme.exports()["assets"], "Open");
        assert_eq!(scheme.exports()["annex"], "Partners");
        assert_eq!(scheme.default_key(), "open");
        assert_eq!(scheme.marking("annex", None).header_value(), "PARTNERS (TLP:AMBER+STRICT)");
    }

    #[test]
    fn bad_schemes_are_refused_with_the_field_named() {
        let refused = |input: SchemeInput, field: &str| {
            let error = OrganizationScheme::check(&input).unwrap_err().to_string();
            assert!(error.contains(field), "{error}");
        };
        refused(SchemeInput { levels: vec![], exports: BTreeMap::new() }, "levels");
        refused(
            SchemeInput {
                levels: vec![level("A", TlpLabel::Red), level("B", TlpLabel::Green)],
                exports: BTreeMap::new(),
            },
            "levels[1]",
        );
        refused(
            SchemeInput {
                levels: vec![level("A", TlpLabel::Red)],
                exports: BTreeMap::from([("nope".to_owned(), "A".to_owned())]),
            },
            "nope",
        );
        refused(
            SchemeInput {
                levels: vec![level("A", TlpLabel::Red)],
                exports: BTreeMap::from([("annex".to_owned(), "B".to_owned())]),
            },
            "exports.annex",
        );
        refused(
            SchemeInput { levels: vec![level(" A", TlpLabel::Red)], exports: BTreeMap::new() },
            "levels[0].name",
        );
    }
}
