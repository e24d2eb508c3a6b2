//! Typed identifiers. Each aggregate has its own type so that an organisation id can never be
//! passed where a project id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An identifier string that is not a UUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid {kind} id {input:?}: expected a UUID such as 0190a5e2-7c3b-7d4e-8f00-112233445566"
)]
pub struct IdParseError {
    pub kind: &'static str,
    pub input: String,
}

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// The kind of object this id names, as used in messages and audit resources.
            pub const KIND: &'static str = $kind;

            /// A new id; `unix_millis` and `random` come from the caller's clock and RNG.
            pub fn new(unix_millis: u64, random: [u8; 10]) -> Self {
                Self(uuid::Builder::from_unix_timestamp_millis(unix_millis, &random).into_uuid())
            }

            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;
            fn from_str(input: &str) -> Result<Self, Self::Err> {
                Uuid::try_parse(input)
                    .map(Self)
                    .map_err(|_| IdParseError { kind: $kind, input: input.chars().take(64).collect() })
            }
        }
    };
}

typed_id!(
    /// An organisation: the tenant boundary.
    OrganizationId,
    "organization"
);
typed_id!(
    /// A project inside an organisation.
    ProjectId,
    "project"
);
typed_id!(
    /// A human account.
    UserId,
    "user"
);
typed_id!(
    /// An API key (its public identifier, never its secret).
    ApiKeyId,
    "api_key"
);
typed_id!(
    /// A non-human principal of an organisation: it holds API keys, never a password.
    ApplicationId,
    "application"
);
typed_id!(
    /// A group of users and applications in an organisation.
    GroupId,
    "group"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_sort_by_time() {
        let first = ProjectId::new(1_000, [1; 10]);
        let second = ProjectId::new(2_000, [0; 10]);
        assert!(first < second);
        assert_eq!(first.to_string().parse::<ProjectId>(), Ok(first));
    }

    #[test]
    fn bad_id_names_its_kind() {
        let error = "not-a-uuid".parse::<OrganizationId>().unwrap_err();
        assert!(error.to_string().contains("invalid organization id \"not-a-uuid\""));
    }
}
