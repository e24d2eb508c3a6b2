//! Tenancy: organisations (the tenant boundary) and the names people give things.

use serde::{Deserialize, Serialize};

/// Whether an organisation is the provider's own (its members are staff) or a customer's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrganizationKind {
    Provider,
    Customer,
}

impl OrganizationKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Provider => "provider",
            Self::Customer => "customer",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "provider" => Some(Self::Provider),
            "customer" => Some(Self::Customer),
            _ => None,
        }
    }
}

/// Why a display name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("name must not be empty or only spaces")]
    Empty,
    #[error("name is {length} characters long; the limit is {max}")]
    TooLong { length: usize, max: usize },
    #[error("name must not contain control characters")]
    ControlCharacter,
}

/// A display name for an organisation or project: trimmed, 1 to 100 characters, no control
/// characters. Names are unique case-insensitively within their parent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Name(String);

impl Name {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(input: &str) -> Result<Self, NameError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(NameError::Empty);
        }
        let length = trimmed.chars().count();
        if length > Self::MAX_CHARS {
            return Err(NameError::TooLong { length, max: Self::MAX_CHARS });
        }
        if trimmed.chars().any(char::is_control) {
            return Err(NameError::ControlCharacter);
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form uniqueness is checked on.
    pub fn folded(&self) -> String {
        self.0.to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(Name::parse("  Acme ").unwrap().as_str(), "Acme");
        assert_eq!(Name::parse("   "), Err(NameError::Empty));
        assert!(matches!(Name::parse(&"x".repeat(101)), Err(NameError::TooLong { .. })));
        assert_eq!(Name::parse("a\u{0}b"), Err(NameError::ControlCharacter));
    }
}

/// An organisation: the tenant boundary. Its members are customers, or staff when it is the
/// provider's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    pub id: crate::OrganizationId,
    pub name: Name,
    pub kind: OrganizationKind,
    /// Every member must use a second factor (staff and owners always must).
    pub mfa_required: bool,
    pub created_at: time::OffsetDateTime,
    pub updated_at: time::OffsetDateTime,
}

/// A project: a scope inside an organisation that resources and permissions attach to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub id: crate::ProjectId,
    pub organization_id: crate::OrganizationId,
    pub name: Name,
    pub created_at: time::OffsetDateTime,
    pub updated_at: time::OffsetDateTime,
}
