//! Records of processing (GDPR Article 30) and the catalogue of personal data categories.
//!
//! - The catalogue holds an organisation's data categories by dotted path
//!   (`user.contact.email`). A category's parent path must be in the catalogue (top-level
//!   paths have none); each has a description, a classification level of the organisation's
//!   scheme, and whether it is a special category of Article 9. A category cannot be deleted
//!   while it has children or a processing activity names it.
//! - A processing activity is a record of the `processing` compliance register: the document
//!   is [`ProcessingDocument`], checked for its shape here and, when saved, for its
//!   references (data categories in the catalogue, supporting assets of the organisation).
//! - Every register, this one included, can be exported as marked JSON
//!   ([`App::export_compliance_json`]).

use base::{OrganizationId, RequestContext, Resource};
use serde::{Deserialize, Serialize};
use store::{
    AssetRepository as _, ComplianceRepository as _, DataCategoryRecord,
    InformationProtectionRepository as _, Transaction,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::AuditTrail as _;
use crate::compliance::{MAX_LIST_ITEMS, check_list_of, check_text, invalid};
use crate::{App, AppError, Principal, RegisterKind};

const MAX_TEXT_CHARS: usize = 8_000;
const MAX_NAME_CHARS: usize = 200;
/// Categories an organisation's catalogue may hold.
pub const MAX_DATA_CATEGORIES: usize = 2_000;
const MAX_PATH_CHARS: usize = 200;
const MAX_PATH_DEPTH: usize = 8;

fn check_list(field: &str, values: &[String], required: bool) -> Result<(), AppError> {
    check_list_of(field, values, required, MAX_NAME_CHARS)
}

/// Check a data category path: lowercase segments of `a-z`, `0-9` and `_`, joined by dots.
pub fn check_category_path(path: &str) -> Result<(), AppError> {
    let fail = || {
        invalid(format!(
            "path: {path:?} is not a dotted path of lowercase segments (a-z, 0-9, _), at most \
             {MAX_PATH_DEPTH} deep and {MAX_PATH_CHARS} characters"
        ))
    };
    if path.is_empty() || path.len() > MAX_PATH_CHARS {
        return Err(fail());
    }
    let segments: Vec<&str> = path.split('.').collect();
    if segments.len() > MAX_PATH_DEPTH {
        return Err(fail());
    }
    for segment in segments {
        let mut bytes = segment.bytes();
        let starts_well = bytes.next().is_some_and(|b| b.is_ascii_lowercase());
        if !starts_well
            || !segment.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(fail());
        }
    }
    Ok(())
}

/// The parent of a path (`user.contact` for `user.contact.email`), none at the top.
fn parent_of(path: &str) -> Option<&str> {
    path.rsplit_once('.').map(|(parent, _)| parent)
}

/// The legal bases of GDPR Article 6(1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LegalBasis {
    Consent,
    Contract,
    LegalObligation,
    VitalInterests,
    PublicTask,
    LegitimateInterests,
}

/// The safeguard of a transfer outside the EEA (GDPR Chapter V).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferSafeguard {
    /// An adequacy decision (Article 45).
    Adequacy,
    /// Standard contractual clauses (Article 46(2)(c)).
    StandardContractualClauses,
    /// Binding corporate rules (Article 47).
    BindingCorporateRules,
    /// A derogation for a specific situation (Article 49).
    Derogation,
}

/// A transfer of personal data outside the EEA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    /// ISO 3166-1 alpha-2 code of the destination.
    pub country: String,
    pub mechanism: TransferSafeguard,
}

/// A processing activity of the record of processing (GDPR Article 30).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessingDocument {
    pub purpose: String,
    pub legal_basis: LegalBasis,
    /// Who the data is about (customers, staff, prospects, …).
    pub data_subjects: Vec<String>,
    /// Paths of the organisation's data category catalogue.
    pub data_categories: Vec<String>,
    #[serde(default)]
    pub recipients: Vec<String>,
    #[serde(default)]
    pub transfers: Vec<Transfer>,
    #[serde(default)]
    pub sub_processors: Vec<String>,
    /// Ids of the organisation's assets that support the processing.
    #[serde(default)]
    pub supporting_assets: Vec<Uuid>,
    /// How long the data is kept, or the rule that decides it.
    pub retention: String,
    #[serde(default)]
    pub security_measures: Vec<String>,
    #[serde(default)]
    pub dpia_needed: bool,
    #[serde(default)]
    pub dpia_done: bool,
}

impl ProcessingDocument {
    /// The checks that need nothing but the document.
    pub(crate) fn check(&self) -> Result<(), AppError> {
        check_text("document.purpose", &self.purpose, MAX_TEXT_CHARS, true)?;
        check_list("document.data_subjects", &self.data_subjects, true)?;
        check_list("document.data_categories", &self.data_categories, true)?;
        for (index, path) in self.data_categories.iter().enumerate() {
            check_category_path(path)
                .map_err(|error| invalid(format!("document.data_categories[{index}]: {error}")))?;
        }
        check_list("document.recipients", &self.recipients, false)?;
        check_list("document.sub_processors", &self.sub_processors, false)?;
        check_list("document.security_measures", &self.security_measures, false)?;
        if self.transfers.len() > MAX_LIST_ITEMS {
            return Err(invalid(format!("document.transfers: at most {MAX_LIST_ITEMS}")));
        }
        for (index, transfer) in self.transfers.iter().enumerate() {
            let country = &transfer.country;
            if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(invalid(format!(
                    "document.transfers[{index}].country: {country:?} is not an ISO 3166-1 \
                     alpha-2 code"
                )));
            }
        }
        if self.supporting_assets.len() > MAX_LIST_ITEMS {
            return Err(invalid(format!("document.supporting_assets: at most {MAX_LIST_ITEMS}")));
        }
        check_text("document.retention", &self.retention, MAX_TEXT_CHARS, true)?;
        if self.dpia_done && !self.dpia_needed {
            return Err(invalid("document.dpia_done: only for a processing that needs a DPIA"));
        }
        Ok(())
    }
}

impl App {
    /// The checks of a processing activity against the organisation's data: every data
    /// category in the catalogue, every supporting asset an asset of the organisation.
    pub(crate) async fn check_processing_references(
        &self,
        transaction: &mut Transaction,
        organization_id: OrganizationId,
        document: &serde_json::Value,
    ) -> Result<(), AppError> {
        let processing: ProcessingDocument = serde_json::from_value(document.clone())
            .map_err(|error| AppError::Internal(error.to_string()))?;
        for (index, path) in processing.data_categories.iter().enumerate() {
            if transaction.get_data_category(organization_id, path).await?.is_none() {
                return Err(invalid(format!(
                    "document.data_categories[{index}]: {path:?} is not in the data category \
                     catalogue"
                )));
            }
        }
        for (index, id) in processing.supporting_assets.iter().enumerate() {
            if transaction.get_asset(organization_id, *id).await?.is_none() {
                return Err(invalid(format!(
                    "document.supporting_assets[{index}]: {id} is not an asset of the \
                     organization"
                )));
            }
        }
        Ok(())
    }
}

/// A data category as a client sends it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataCategoryInput {
    pub description: String,
    /// A level of the organisation's scheme; its default level when absent.
    #[serde(default)]
    pub classification: Option<String>,
    #[serde(default)]
    pub special_category: bool,
}

/// Where a data category is used, for refusals.
async fn processing_using(
    transaction: &mut Transaction,
    organization_id: OrganizationId,
    path: &str,
) -> Result<Vec<String>, AppError> {
    let records = transaction
        .list_compliance_records(organization_id, Some(RegisterKind::Processing.as_str()))
        .await?;
    Ok(records
        .into_iter()
        .filter(|record| {
            serde_json::from_str::<ProcessingDocument>(&record.document)
                .is_ok_and(|document| document.data_categories.iter().any(|used| used == path))
        })
        .map(|record| record.title)
        .collect())
}

impl App {
    fn category_event(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        action: &str,
        category: &DataCategoryRecord,
        context: &RequestContext,
    ) -> base::AuditEvent {
        let mut event = self.success_event(
            principal,
            organization_id,
            action,
            Resource::new("data_category", &category.path),
            context,
        );
        event.details.insert("classification".into(), category.classification.clone().into());
        event.details.insert("special_category".into(), category.special_category.into());
        event
    }

    /// Create (`create`) or replace a data category. A new category's parent must exist.
    pub async fn put_data_category(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        path: &str,
        input: &DataCategoryInput,
        create: bool,
        context: &RequestContext,
    ) -> Result<DataCategoryRecord, AppError> {
        self.authorize_in(principal, organization_id, "privacy:categories:write", context).await?;
        check_category_path(path)?;
        check_text("description", &input.description, MAX_TEXT_CHARS, true)?;
        let mut transaction = self.store.begin().await?;
        let scheme = crate::classification::load_scheme(&mut transaction, organization_id).await?;
        let classification = match input.classification.as_deref().map(str::trim) {
            None | Some("") => scheme.default_key(),
            Some(level) => scheme.key_of(level).ok_or_else(|| {
                invalid(format!(
                    "classification: unknown level {level:?}; expected one of {}",
                    scheme.names()
                ))
            })?,
        };
        let now = self.clock.now();
        let existing = transaction.get_data_category(organization_id, path).await?;
        let (category, action) = match (existing, create) {
            (Some(_), true) => {
                return Err(AppError::Conflict(format!(
                    "the catalogue already has a data category {path:?}"
                )));
            }
            (None, false) => return Err(AppError::NotFound("data category")),
            (None, true) => {
                if let Some(parent) = parent_of(path)
                    && transaction.get_data_category(organization_id, parent).await?.is_none()
                {
                    return Err(invalid(format!(
                        "path: the parent category {parent:?} is not in the catalogue; create \
                         it first"
                    )));
                }
                let n_categories = transaction.list_data_categories(organization_id).await?.len();
                if n_categories >= MAX_DATA_CATEGORIES {
                    return Err(invalid(format!(
                        "the catalogue holds at most {MAX_DATA_CATEGORIES} categories"
                    )));
                }
                let category = DataCategoryRecord {
                    organization_id,
                    path: path.to_owned(),
                    description: input.description.trim().to_owned(),
                    classification,
                    special_category: input.special_category,
                    created_at: now,
                    updated_at: now,
                };
                transaction.insert_data_category(&category).await?;
                (category, "privacy.data_category.create")
            }
            (Some(existing), false) => {
                let category = DataCategoryRecord {
                    description: input.description.trim().to_owned(),
                    classification,
                    special_category: input.special_category,
                    updated_at: now,
                    ..existing
                };
                transaction.update_data_category(&category).await?;
                (category, "privacy.data_category.update")
            }
        };
        let event = self.category_event(principal, organization_id, action, &category, context);
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(category)
    }

    /// Delete a data category that has no children and that no processing activity names.
    pub async fn delete_data_category(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        path: &str,
        context: &RequestContext,
    ) -> Result<(), AppError> {
        self.authorize_in(principal, organization_id, "privacy:categories:write", context).await?;
        let mut transaction = self.store.begin().await?;
        let category = transaction
            .get_data_category(organization_id, path)
            .await?
            .ok_or(AppError::NotFound("data category"))?;
        let prefix = format!("{path}.");
        let children: Vec<String> = transaction
            .list_data_categories(organization_id)
            .await?
            .into_iter()
            .filter(|other| other.path.starts_with(&prefix))
            .map(|other| other.path)
            .collect();
        if let Some(child) = children.first() {
            return Err(AppError::Conflict(format!(
                "data category {path:?} has {} sub-categories ({child:?}, …); delete them first",
                children.len()
            )));
        }
        let users = processing_using(&mut transaction, organization_id, path).await?;
        if !users.is_empty() {
            return Err(AppError::Conflict(format!(
                "data category {path:?} is used by the processing activities {}",
                users.iter().map(|title| format!("{title:?}")).collect::<Vec<_>>().join(", ")
            )));
        }
        transaction.delete_data_category(organization_id, path).await?;
        let event = self.category_event(
            principal,
            organization_id,
            "privacy.data_category.delete",
            &category,
            context,
        );
        transaction.append_audit_event(&event).await?;
        transaction.commit().await?;
        Ok(())
    }

    pub async fn get_data_category(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        path: &str,
        context: &RequestContext,
    ) -> Result<DataCategoryRecord, AppError> {
        self.authorize_in(principal, organization_id, "privacy:categories:read", context).await?;
        let mut read = self.store.read().await?;
        let category = read.get_data_category(organization_id, path).await?;
        read.commit().await?;
        category.ok_or(AppError::NotFound("data category"))
    }

    /// The catalogue, by path.
    pub async fn list_data_categories(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        context: &RequestContext,
    ) -> Result<Vec<DataCategoryRecord>, AppError> {
        self.authorize_in(principal, organization_id, "privacy:categories:read", context).await?;
        let mut read = self.store.read().await?;
        let categories = read.list_data_categories(organization_id).await?;
        read.commit().await?;
        Ok(categories)
    }

    /// A register as JSON: `{"classification": {…}, "register": …, "exported_at": …,
    /// "records": […]}`, marked with the register's level. The export is an audit event.
    pub async fn export_compliance_json(
        &self,
        principal: &Principal,
        organization_id: OrganizationId,
        register: RegisterKind,
        context: &RequestContext,
    ) -> Result<(serde_json::Value, crate::ExportMarking), AppError> {
        let views =
            self.list_compliance_records(principal, organization_id, register, context).await?;
        let kind = crate::register_export_kind(register.as_str());
        let marking = self.export_marking(organization_id, &kind, None).await?;
        let rfc3339 = |at: OffsetDateTime| {
            at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
        };
        let records: Vec<serde_json::Value> = views
            .iter()
            .map(|view| {
                serde_json::json!({
                    "id": view.id.to_string(),
                    "title": view.title,
                    "owner": view.owner.map(|id| id.to_string()),
                    "review_due": view.review_due.map(|date| date.to_string()),
                    "review_overdue": view.review_overdue,
                    "document": view.document,
                    "created_at": rfc3339(view.created_at),
                    "updated_at": rfc3339(view.updated_at),
                })
            })
            .collect();
        let body = serde_json::json!({
            "classification": marking.json(),
            "register": register.as_str(),
            "organization_id": organization_id.to_string(),
            "exported_at": rfc3339(self.clock.now()),
            "records": records,
        });
        self.record_export(
            principal,
            organization_id,
            "compliance.register.export",
            Resource::new("compliance_register", register.as_str()),
            "json",
            views.len(),
            &marking,
            context,
        )
        .await?;
        Ok((body, marking))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_paths() {
        for good in ["user", "user.contact.email", "hr.payroll_2", "a.b.c.d.e.f.g.h"] {
            assert!(check_category_path(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "User",
            "user..email",
            ".user",
            "user.",
            "9user",
            "user.e-mail",
            "a.b.c.d.e.f.g.h.i",
        ] {
            assert!(check_category_path(bad).is_err(), "{bad}");
        }
        assert_eq!(parent_of("user.contact.email"), Some("user.contact"));
        assert_eq!(parent_of("user"), None);
    }

    #[test]
    fn a_processing_activity_is_checked() {
        let document = |changes: serde_json::Value| {
            let mut base = serde_json::json!({
                "purpose": "Run the customer accounts",
                "legal_basis": "contract",
                "data_subjects": ["customers"],
                "data_categories": ["user.contact.email"],
                "transfers": [{"country": "US", "mechanism": "standard_contractual_clauses"}],
                "retention": "3 years after the end of the contract",
            });
            if let (Some(base), Some(changes)) = (base.as_object_mut(), changes.as_object()) {
                for (key, value) in changes {
                    base.insert(key.clone(), value.clone());
                }
            }
            RegisterKind::Processing.validate(&base)
        };
        assert!(document(serde_json::json!({})).is_ok());
        for (changes, field) in [
            (serde_json::json!({"legal_basis": "because"}), "because"),
            (serde_json::json!({"data_subjects": []}), "data_subjects"),
            (serde_json::json!({"data_categories": ["User.Email"]}), "data_categories[0]"),
            (
                serde_json::json!({"transfers": [{"country": "usa", "mechanism": "adequacy"}]}),
                "transfers[0].country",
            ),
            (serde_json::json!({"transfers": [{"country": "US", "mechanism": "hope"}]}), "hope"),
            (serde_json::json!({"dpia_done": true}), "dpia_done"),
            (serde_json::json!({"colour": "blue"}), "colour"),
        ] {
            let error = document(changes.clone()).unwrap_err().to_string();
            assert!(error.contains(field), "{changes}: {error}");
        }
    }
}
