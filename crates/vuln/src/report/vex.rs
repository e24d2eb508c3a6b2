//! OpenVEX documents (v0.2.0): statements about whether products are affected by
//! vulnerabilities.

use serde_json::{Value, json};

/// The OpenVEX status of a product with respect to a vulnerability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VexStatus {
    NotAffected,
    Affected,
    Fixed,
    UnderInvestigation,
}

impl VexStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::NotAffected => "not_affected",
            Self::Affected => "affected",
            Self::Fixed => "fixed",
            Self::UnderInvestigation => "under_investigation",
        }
    }
}

/// Why a product is not affected (OpenVEX's five justifications).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VexJustification {
    ComponentNotPresent,
    VulnerableCodeNotPresent,
    VulnerableCodeNotInExecutePath,
    VulnerableCodeCannotBeControlledByAdversary,
    InlineMitigationsAlreadyExist,
}

impl VexJustification {
    fn as_str(self) -> &'static str {
        match self {
            Self::ComponentNotPresent => "component_not_present",
            Self::VulnerableCodeNotPresent => "vulnerable_code_not_present",
            Self::VulnerableCodeNotInExecutePath => "vulnerable_code_not_in_execute_path",
            Self::VulnerableCodeCannotBeControlledByAdversary => {
                "vulnerable_code_cannot_be_controlled_by_adversary"
            }
            Self::InlineMitigationsAlreadyExist => "inline_mitigations_already_exist",
        }
    }
}

/// One statement: `products` have `status` for `vulnerability`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VexStatement {
    /// The vulnerability id (CVE, GHSA, RUSTSEC, ...).
    pub vulnerability: String,
    /// Product identifiers, usually package URLs.
    pub products: Vec<String>,
    pub status: VexStatus,
    /// Required for `not_affected` unless an impact statement is given.
    pub justification: Option<VexJustification>,
    pub impact_statement: Option<String>,
    /// Required for `affected`: what users should do.
    pub action_statement: Option<String>,
}

/// A statement the OpenVEX specification does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("statements[{index}]: {message}")]
pub struct VexError {
    pub index: usize,
    pub message: String,
}

/// Renders an OpenVEX document. `document_id` is its IRI, `author` who issues it, and
/// `timestamp` an RFC 3339 time supplied by the caller (this crate never reads the clock).
pub fn render_openvex(
    document_id: &str,
    author: &str,
    timestamp: &str,
    statements: &[VexStatement],
) -> Result<String, VexError> {
    let mut rendered = Vec::with_capacity(statements.len());
    for (index, s) in statements.iter().enumerate() {
        let error = |message: &str| VexError { index, message: message.to_owned() };
        if s.vulnerability.trim().is_empty() {
            return Err(error("the vulnerability id is empty"));
        }
        if s.products.is_empty() {
            return Err(error("a statement needs at least one product"));
        }
        if s.status == VexStatus::NotAffected
            && s.justification.is_none()
            && s.impact_statement.is_none()
        {
            return Err(error("`not_affected` requires a justification or an impact statement"));
        }
        if s.status == VexStatus::Affected && s.action_statement.is_none() {
            return Err(error("`affected` requires an action statement"));
        }
        if s.justification.is_some() && s.status != VexStatus::NotAffected {
            return Err(error("a justification is only allowed with `not_affected`"));
        }
        let mut statement = json!({
            "vulnerability": { "name": s.vulnerability },
            "products": s.products.iter().map(|p| json!({ "@id": p })).collect::<Vec<Value>>(),
            "status": s.status.as_str(),
        });
        if let Some(j) = s.justification {
            statement["justification"] = json!(j.as_str());
        }
        if let Some(text) = &s.impact_statement {
            statement["impact_statement"] = json!(text);
        }
        if let Some(text) = &s.action_statement {
            statement["action_statement"] = json!(text);
        }
        rendered.push(statement);
    }
    let document = json!({
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": document_id,
        "author": author,
        "timestamp": timestamp,
        "version": 1,
        "statements": rendered,
    });
    Ok(serde_json::to_string_pretty(&document).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statement(status: VexStatus) -> VexStatement {
        VexStatement {
            vulnerability: "CVE-2099-0001".into(),
            products: vec!["pkg:cargo/demo@1.0.0".into()],
            status,
            justification: None,
            impact_statement: None,
            action_statement: None,
        }
    }

    #[test]
    fn renders_statements_with_their_justifications() {
        let mut s = statement(VexStatus::NotAffected);
        s.justification = Some(VexJustification::VulnerableCodeNotInExecutePath);
        let text = render_openvex(
            "https://rampart.example/vex/1",
            "Rampart",
            "2026-01-01T00:00:00Z",
            &[s],
        )
        .unwrap();
        let doc: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["@context"], "https://openvex.dev/ns/v0.2.0");
        assert_eq!(doc["timestamp"], "2026-01-01T00:00:00Z");
        assert_eq!(doc["statements"][0]["status"], "not_affected");
        assert_eq!(doc["statements"][0]["justification"], "vulnerable_code_not_in_execute_path");
        assert_eq!(doc["statements"][0]["products"][0]["@id"], "pkg:cargo/demo@1.0.0");
    }

    #[test]
    fn refuses_statements_the_specification_forbids() {
        let err = render_openvex(
            "id",
            "a",
            "t",
            &[statement(VexStatus::Fixed), statement(VexStatus::NotAffected)],
        )
        .unwrap_err();
        assert_eq!(err.index, 1);
        assert!(render_openvex("id", "a", "t", &[statement(VexStatus::Affected)]).is_err());
        let mut wrong = statement(VexStatus::Fixed);
        wrong.justification = Some(VexJustification::ComponentNotPresent);
        assert!(render_openvex("id", "a", "t", &[wrong]).is_err());
        let mut no_products = statement(VexStatus::Fixed);
        no_products.products.clear();
        assert!(render_openvex("id", "a", "t", &[no_products]).is_err());
    }
}
