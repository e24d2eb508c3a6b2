//! The action catalogue and the permission sets that bundle actions.
//!
//! Rampart's own actions and built-in permission sets are data (the two tables below); an
//! organisation adds custom actions in its own services and custom permission sets with
//! [`Catalogue::with_custom`].

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::error::PolicyError;

/// Services whose actions only Rampart defines; custom actions may not use them.
pub const RESERVED_SERVICES: &[&str] = &[
    "iam",
    "audit",
    "organizations",
    "projects",
    "authz",
    "compliance",
    "detection",
    "detect",
    "privacy",
    "assets",
    "vuln",
];

/// One row of the built-in action table.
struct BuiltinAction {
    name: &'static str,
    privileged: bool,
    description: &'static str,
}

const fn action(name: &'static str, privileged: bool, description: &'static str) -> BuiltinAction {
    BuiltinAction { name, privileged, description }
}

/// Rampart's own actions: every endpoint of its API declares one of these.
///
/// Privileged: anything that changes IAM (users, sessions, passwords, applications, keys,
/// groups, policies, reviews, the organisation's MFA setting), reads the audit trail's content
/// (events, export), erases, or deletes the organisation. Checkpoints and proofs carry only
/// hashes and are not privileged.
const RAMPART_ACTIONS: &[BuiltinAction] = &[
    action("organizations:organization:read", false, "Read the organisation"),
    action("organizations:organization:write", false, "Update the organisation's details"),
    action("organizations:organization:delete", true, "Delete the organisation"),
    action(
        "organizations:organizations:create",
        true,
        "Create customer organisations (held on the provider organisation)",
    ),
    action(
        "organizations:organizations:list",
        false,
        "List every organisation (held on the provider organisation)",
    ),
    action(
        "organizations:settings:read",
        false,
        "Read the organisation's settings, such as the MFA requirement",
    ),
    action(
        "organizations:settings:write",
        true,
        "Change the organisation's settings, such as the MFA requirement",
    ),
    action("projects:projects:read", false, "List and read projects"),
    action("projects:projects:write", false, "Create and update projects"),
    action("projects:projects:delete", false, "Delete projects"),
    action("iam:users:read", false, "List and read users"),
    action("iam:users:write", true, "Invite, suspend and reactivate users"),
    action("iam:users:delete", true, "Delete users"),
    action("iam:sessions:revoke", true, "Revoke a user's sessions"),
    action("iam:passwords:reset", true, "Reset a user's password as an administrator"),
    action("iam:applications:read", false, "List and read applications"),
    action("iam:applications:write", true, "Create applications"),
    action("iam:applications:delete", true, "Delete applications"),
    action("iam:api-keys:write", true, "Create an application's API keys"),
    action("iam:groups:read", false, "List groups and their members"),
    action("iam:groups:write", true, "Create groups, add and remove their members"),
    action("iam:groups:delete", true, "Delete groups"),
    action("iam:policies:read", false, "Read policies and permission sets"),
    action("iam:policies:write", true, "Create, change and delete policies and permission sets"),
    action("iam:reviews:read", false, "Read access reviews"),
    action("iam:reviews:write", true, "Start, answer and close access reviews"),
    action(
        "iam:authorization:check",
        false,
        "Ask whether a principal may perform an action (the check API)",
    ),
    action("audit:events:read", true, "List audit events"),
    action("audit:checkpoints:read", false, "Read signed checkpoints of the audit log"),
    action("audit:proofs:read", false, "Read inclusion and consistency proofs of the audit log"),
    action("audit:export:read", true, "Export the audit trail"),
    action("audit:entries:erase", true, "Erase a personal field of an audit entry"),
    action("assets:assets:read", false, "List, read and export assets and device posture"),
    action(
        "assets:assets:write",
        false,
        "Create, update and import assets; set the posture policy",
    ),
    action("assets:assets:delete", false, "Delete assets recorded by mistake"),
    action(
        "assets:assets:dispose",
        true,
        "Record the secure erasure or destruction of a retired asset",
    ),
    action("assets:posture:report", false, "Report a device's security posture"),
    action("privacy:domains:read", false, "List pseudonymisation domains and their key versions"),
    action("privacy:domains:write", true, "Create pseudonymisation domains and rotate their keys"),
    action(
        "privacy:pseudonyms:write",
        false,
        "Pseudonymise values: keyed pseudonyms, format-preserving encryption, tokens",
    ),
    action(
        "privacy:tokens:reidentify",
        true,
        "Read tokens back to their values (needs a recent authentication)",
    ),
    action("privacy:pii:scan", false, "Scan text and column samples for personal data"),
    action("assets:sboms:write", false, "Import an asset's software bill of materials"),
    action(
        "vuln:advisories:write",
        true,
        "Import vulnerability advisories (held on the provider organisation)",
    ),
    action("vuln:advisories:read", false, "List the imported advisory sources"),
    action("vuln:findings:read", false, "List and read vulnerability findings, trend and VEX"),
    action(
        "vuln:findings:write",
        false,
        "Triage vulnerability findings and set the remediation deadlines",
    ),
    action("detect:alerts:read", false, "List and read alerts and the per-rule noise report"),
    action("detect:alerts:write", false, "Acknowledge, assign and close alerts"),
    action("detect:rules:read", false, "Read the detection rules loaded (provider staff)"),
    action("compliance:registers:read", false, "List, read and export the compliance registers"),
    action("compliance:registers:write", false, "Create, update and delete register records"),
    action("compliance:evidence:read", false, "Read evidence results and the live annex"),
    action("compliance:evidence:run", false, "Run the evidence checks on demand"),
    action("privacy:classification:read", false, "Read the organisation's classification scheme"),
    action(
        "privacy:classification:write",
        false,
        "Replace the classification scheme and the level of each export",
    ),
    action("privacy:categories:read", false, "List, read and export the data category catalogue"),
    action("privacy:categories:write", false, "Create, update and delete data categories"),
    action("privacy:retention:read", false, "Read retention rules, legal holds and past runs"),
    action("privacy:retention:write", false, "Create and delete retention rules"),
    action(
        "privacy:retention:run",
        false,
        "Run retention now, or as a dry run that changes nothing",
    ),
    action("privacy:holds:write", true, "Place and release legal holds that stop retention"),
    action("detect:incidents:read", false, "List and read incidents and their timelines"),
    action(
        "detect:incidents:write",
        false,
        "Open and run incidents: status, tasks, breach notifications, review",
    ),
    action("detect:reports:read", false, "Read the reports received from the public"),
    action("detect:reports:write", false, "Triage public reports: dismiss or open as incidents"),
    action(
        "detect:notifications:read",
        false,
        "Read the notification channels of alerts (never their secrets) and the delivery log",
    ),
    action(
        "detect:notifications:manage",
        true,
        "Create, change and delete the channels alerts are notified to (webhooks, email)",
    ),
    action("detect:events:write", false, "Send events (NDJSON batches) to detection"),
    action("detect:events:read", false, "Search the events sent to detection"),
    action("iam:guests:read", false, "List the organisation's guests (accounts of others)"),
    action(
        "iam:guests:write",
        true,
        "Invite accounts of other organisations as guests and end their membership",
    ),
];

/// One row of the built-in permission set table.
struct BuiltinSet {
    name: &'static str,
    description: &'static str,
    actions: &'static [&'static str],
}

const ORG_READ: &str = "organizations:organization:read";

const BUILTIN_SETS: &[BuiltinSet] = &[
    BuiltinSet {
        name: "OrganizationManager",
        description: "Manage the organisation's details, settings and projects (not its deletion)",
        actions: &[
            ORG_READ,
            "organizations:organization:write",
            "organizations:settings:read",
            "organizations:settings:write",
            "projects:projects:read",
            "projects:projects:write",
            "projects:projects:delete",
        ],
    },
    BuiltinSet {
        name: "IAMManager",
        description: "Manage users, sessions, applications, keys, groups, policies and access reviews",
        actions: &[
            ORG_READ,
            "iam:users:read",
            "iam:users:write",
            "iam:users:delete",
            "iam:sessions:revoke",
            "iam:passwords:reset",
            "iam:applications:read",
            "iam:applications:write",
            "iam:applications:delete",
            "iam:api-keys:write",
            "iam:groups:read",
            "iam:groups:write",
            "iam:groups:delete",
            "iam:policies:read",
            "iam:policies:write",
            "iam:reviews:read",
            "iam:reviews:write",
            "iam:authorization:check",
            "iam:guests:read",
            "iam:guests:write",
        ],
    },
    BuiltinSet {
        name: "IAMReadOnly",
        description: "Read users, applications, groups, policies and access reviews",
        actions: &[
            ORG_READ,
            "iam:users:read",
            "iam:applications:read",
            "iam:groups:read",
            "iam:policies:read",
            "iam:reviews:read",
            "iam:guests:read",
        ],
    },
    BuiltinSet {
        name: "AuditTrailReadOnly",
        description: "Read, verify and export the audit trail",
        actions: &[
            ORG_READ,
            "audit:events:read",
            "audit:checkpoints:read",
            "audit:proofs:read",
            "audit:export:read",
        ],
    },
    BuiltinSet {
        name: "SecurityAnalyst",
        description: "Investigate: read the audit trail, identities, policies and settings, check access, triage alerts",
        actions: &[
            ORG_READ,
            "organizations:settings:read",
            "projects:projects:read",
            "iam:users:read",
            "iam:applications:read",
            "iam:groups:read",
            "iam:policies:read",
            "iam:reviews:read",
            "iam:authorization:check",
            "audit:events:read",
            "audit:checkpoints:read",
            "audit:proofs:read",
            "audit:export:read",
            "assets:assets:read",
            "vuln:findings:read",
            "detect:alerts:read",
            "detect:alerts:write",
            "detect:rules:read",
            "detect:incidents:read",
            "detect:reports:read",
            "detect:notifications:read",
            "detect:events:read",
        ],
    },
    BuiltinSet {
        name: "ComplianceManager",
        description: "Run access reviews and gather evidence from identities, policies and the audit trail",
        actions: &[
            ORG_READ,
            "organizations:settings:read",
            "projects:projects:read",
            "iam:users:read",
            "iam:applications:read",
            "iam:groups:read",
            "iam:policies:read",
            "iam:reviews:read",
            "iam:reviews:write",
            "audit:events:read",
            "audit:checkpoints:read",
            "audit:proofs:read",
            "audit:export:read",
            "assets:assets:read",
            "privacy:domains:read",
            "compliance:registers:read",
            "compliance:registers:write",
            "compliance:evidence:read",
            "compliance:evidence:run",
            "privacy:classification:read",
            "privacy:categories:read",
            "privacy:retention:read",
        ],
    },
    BuiltinSet {
        name: "AssetManager",
        description: "Keep the asset inventory: create, update, import, dispose of assets",
        actions: &[
            ORG_READ,
            "assets:assets:read",
            "assets:assets:write",
            "assets:assets:delete",
            "assets:assets:dispose",
            "assets:sboms:write",
        ],
    },
    BuiltinSet {
        name: "VulnerabilityManager",
        description: "Manage vulnerabilities: import SBOMs, read and triage findings, set deadlines",
        actions: &[
            ORG_READ,
            "assets:assets:read",
            "assets:sboms:write",
            "vuln:advisories:read",
            "vuln:findings:read",
            "vuln:findings:write",
        ],
    },
    BuiltinSet {
        name: "DeviceReporter",
        description: "Report device posture (for a device's or a fleet's API key)",
        actions: &["assets:posture:report"],
    },
    BuiltinSet {
        name: "PrivacyOfficer",
        description: "Run information protection: pseudonymisation domains and keys, pseudonyms, re-identification, PII detection",
        actions: &[
            ORG_READ,
            "privacy:domains:read",
            "privacy:domains:write",
            "privacy:pseudonyms:write",
            "privacy:tokens:reidentify",
            "privacy:pii:scan",
            "privacy:classification:read",
            "privacy:classification:write",
            "privacy:categories:read",
            "privacy:categories:write",
            "privacy:retention:read",
            "privacy:retention:write",
            "privacy:retention:run",
            "privacy:holds:write",
            "compliance:registers:read",
        ],
    },
    BuiltinSet {
        name: "ProjectManager",
        description: "Create, update and delete projects",
        actions: &[
            ORG_READ,
            "projects:projects:read",
            "projects:projects:write",
            "projects:projects:delete",
        ],
    },
    BuiltinSet {
        name: "ReadOnly",
        description: "Read everything that is not privileged",
        actions: &[
            ORG_READ,
            "organizations:settings:read",
            "projects:projects:read",
            "iam:users:read",
            "iam:applications:read",
            "iam:groups:read",
            "iam:policies:read",
            "iam:reviews:read",
            "audit:checkpoints:read",
            "audit:proofs:read",
            "assets:assets:read",
            "compliance:registers:read",
            "compliance:evidence:read",
            "privacy:classification:read",
            "privacy:categories:read",
            "privacy:retention:read",
        ],
    },
    BuiltinSet {
        name: "IncidentResponder",
        description: "Run the CSIRT: triage alerts and public reports, open and run incidents to closure",
        actions: &[
            ORG_READ,
            "audit:events:read",
            "assets:assets:read",
            "detect:alerts:read",
            "detect:alerts:write",
            "detect:rules:read",
            "detect:incidents:read",
            "detect:incidents:write",
            "detect:reports:read",
            "detect:reports:write",
            "detect:notifications:read",
            "detect:notifications:manage",
        ],
    },
    BuiltinSet {
        name: "EventSender",
        description: "Send events to detection (for a log shipper's or an application's API key)",
        actions: &["detect:events:write"],
    },
];

/// An action of the catalogue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Action {
    /// `service:resource:verb`.
    pub name: String,
    /// Privileged actions change IAM, read the audit trail, erase, or delete an organisation.
    pub privileged: bool,
    /// One line for people.
    pub description: String,
    /// Defined by Rampart (as opposed to an organisation's custom action).
    pub builtin: bool,
}

/// A named bundle of actions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PermissionSet {
    /// The set's name, e.g. `IAMManager`.
    pub name: String,
    /// One line for people.
    pub description: String,
    /// The actions, sorted.
    pub actions: BTreeSet<String>,
    /// Defined by Rampart (as opposed to an organisation's custom set).
    pub builtin: bool,
}

/// A custom action an organisation defines for one of its own services.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomAction {
    /// `service:resource:verb`, in a service that is not reserved.
    pub name: String,
    /// One line for people.
    #[serde(default)]
    pub description: String,
    /// Whether the organisation considers the action privileged.
    #[serde(default)]
    pub privileged: bool,
}

/// A custom permission set; its actions may be Rampart's or the organisation's own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomPermissionSet {
    /// Letters, digits, `-` and `_`, starting with a letter; distinct from the built-in names.
    pub name: String,
    /// One line for people.
    #[serde(default)]
    pub description: String,
    /// Action names, at least one.
    pub actions: Vec<String>,
}

/// The actions and permission sets one organisation can use.
#[derive(Clone, Debug)]
pub struct Catalogue {
    actions: BTreeMap<String, Action>,
    sets: BTreeMap<String, PermissionSet>,
}

impl Default for Catalogue {
    fn default() -> Self {
        Self::rampart()
    }
}

impl Catalogue {
    /// Rampart's built-in actions and permission sets.
    pub fn rampart() -> Self {
        let actions = RAMPART_ACTIONS
            .iter()
            .map(|a| {
                (
                    a.name.to_owned(),
                    Action {
                        name: a.name.to_owned(),
                        privileged: a.privileged,
                        description: a.description.to_owned(),
                        builtin: true,
                    },
                )
            })
            .collect();
        let sets = BUILTIN_SETS
            .iter()
            .map(|s| {
                (
                    s.name.to_owned(),
                    PermissionSet {
                        name: s.name.to_owned(),
                        description: s.description.to_owned(),
                        actions: s.actions.iter().map(|a| (*a).to_owned()).collect(),
                        builtin: true,
                    },
                )
            })
            .collect();
        Self { actions, sets }
    }

    /// This catalogue plus an organisation's custom actions and permission sets.
    ///
    /// Custom action names must parse and must not use a reserved service; custom set names
    /// must be valid and new; each set needs at least one known action.
    pub fn with_custom(
        &self,
        actions: &[CustomAction],
        sets: &[CustomPermissionSet],
    ) -> Result<Self, PolicyError> {
        let mut out = self.clone();
        for custom in actions {
            let (service, _, _) = parse_action_name(&custom.name)?;
            if RESERVED_SERVICES.contains(&service) {
                return Err(PolicyError::ReservedService {
                    action: custom.name.clone(),
                    service: service.to_owned(),
                });
            }
            if out.actions.contains_key(&custom.name) {
                return Err(PolicyError::Duplicate { what: "action", name: custom.name.clone() });
            }
            out.actions.insert(
                custom.name.clone(),
                Action {
                    name: custom.name.clone(),
                    privileged: custom.privileged,
                    description: custom.description.clone(),
                    builtin: false,
                },
            );
        }
        for custom in sets {
            check_set_name(&custom.name)?;
            if out.sets.contains_key(&custom.name) {
                return Err(PolicyError::Duplicate {
                    what: "permission set",
                    name: custom.name.clone(),
                });
            }
            if custom.actions.is_empty() {
                return Err(PolicyError::EmptyPermissionSet { name: custom.name.clone() });
            }
            let mut members = BTreeSet::new();
            for name in &custom.actions {
                if !out.actions.contains_key(name) {
                    return Err(PolicyError::UnknownAction {
                        action: name.clone(),
                        location: format!("permission set `{}`", custom.name),
                    });
                }
                members.insert(name.clone());
            }
            out.sets.insert(
                custom.name.clone(),
                PermissionSet {
                    name: custom.name.clone(),
                    description: custom.description.clone(),
                    actions: members,
                    builtin: false,
                },
            );
        }
        Ok(out)
    }

    /// The action of that name.
    pub fn action(&self, name: &str) -> Option<&Action> {
        self.actions.get(name)
    }

    /// Every action, sorted by name.
    pub fn actions(&self) -> impl Iterator<Item = &Action> {
        self.actions.values()
    }

    /// Whether the action exists and is privileged.
    pub fn is_privileged(&self, name: &str) -> bool {
        self.actions.get(name).is_some_and(|a| a.privileged)
    }

    /// The permission set of that name.
    pub fn permission_set(&self, name: &str) -> Option<&PermissionSet> {
        self.sets.get(name)
    }

    /// Every permission set, sorted by name.
    pub fn permission_sets(&self) -> impl Iterator<Item = &PermissionSet> {
        self.sets.values()
    }

    /// The names of Rampart's own actions, sorted.
    pub(crate) fn builtin_action_names(&self) -> impl Iterator<Item = &str> {
        self.actions.values().filter(|a| a.builtin).map(|a| a.name.as_str())
    }
}

const MAX_SEGMENT: usize = 64;

/// Splits `service:resource:verb`, each part a lowercase ASCII letter followed by lowercase
/// letters, digits or `-`, at most 64 characters.
pub fn parse_action_name(name: &str) -> Result<(&str, &str, &str), PolicyError> {
    let invalid = |reason: &str| PolicyError::InvalidActionName {
        action: name.to_owned(),
        reason: reason.to_owned(),
    };
    let mut parts = name.split(':');
    let (Some(service), Some(resource), Some(verb), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("expected three parts separated by `:` (service:resource:verb)"));
    };
    for (label, part) in [("service", service), ("resource", resource), ("verb", verb)] {
        if part.is_empty() {
            return Err(invalid(&format!("the {label} is empty")));
        }
        if part.len() > MAX_SEGMENT {
            return Err(invalid(&format!("the {label} is longer than {MAX_SEGMENT} characters")));
        }
        if !part.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(invalid(&format!("the {label} must start with a lowercase letter")));
        }
        if !part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
            return Err(invalid(&format!(
                "the {label} may contain only lowercase letters, digits and `-`"
            )));
        }
    }
    Ok((service, resource, verb))
}

fn check_set_name(name: &str) -> Result<(), PolicyError> {
    let invalid = |reason: &str| PolicyError::InvalidPermissionSetName {
        name: name.to_owned(),
        reason: reason.to_owned(),
    };
    if name.is_empty() || name.len() > MAX_SEGMENT {
        return Err(invalid("must be 1 to 64 characters"));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(invalid("must start with a letter"));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(invalid("may contain only letters, digits, `-` and `_`"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_action_parses_and_is_in_a_reserved_service() {
        for a in RAMPART_ACTIONS {
            let (service, _, _) = parse_action_name(a.name).unwrap();
            assert!(RESERVED_SERVICES.contains(&service), "{}", a.name);
        }
    }

    #[test]
    fn builtin_action_names_are_unique() {
        let names: BTreeSet<_> = RAMPART_ACTIONS.iter().map(|a| a.name).collect();
        assert_eq!(names.len(), RAMPART_ACTIONS.len());
    }

    #[test]
    fn every_builtin_set_names_known_actions() {
        let catalogue = Catalogue::rampart();
        for set in BUILTIN_SETS {
            check_set_name(set.name).unwrap();
            assert!(!set.actions.is_empty());
            for a in set.actions {
                assert!(catalogue.action(a).is_some(), "{} names {a}", set.name);
            }
            assert_eq!(
                catalogue.permission_set(set.name).unwrap().actions.len(),
                set.actions.len(),
                "{} lists an action twice",
                set.name
            );
        }
    }

    #[test]
    fn read_only_sets_hold_no_write() {
        let catalogue = Catalogue::rampart();
        for name in ["IAMReadOnly", "AuditTrailReadOnly", "ReadOnly"] {
            for a in &catalogue.permission_set(name).unwrap().actions {
                assert!(a.ends_with(":read"), "{name} holds {a}");
            }
        }
        for a in &catalogue.permission_set("ReadOnly").unwrap().actions {
            assert!(!catalogue.is_privileged(a), "ReadOnly holds privileged {a}");
        }
    }

    #[test]
    fn privileged_marks() {
        let c = Catalogue::rampart();
        for a in [
            "iam:users:write",
            "iam:guests:write",
            "iam:policies:write",
            "audit:events:read",
            "audit:export:read",
            "audit:entries:erase",
            "organizations:organization:delete",
            "privacy:tokens:reidentify",
            "privacy:domains:write",
            "detect:notifications:manage",
        ] {
            assert!(c.is_privileged(a), "{a}");
        }
        for a in ["iam:users:read", "organizations:organization:read", "audit:checkpoints:read"] {
            assert!(!c.is_privileged(a), "{a}");
        }
        assert!(!c.is_privileged("nope:nope:nope"));
    }

    #[test]
    fn action_name_grammar() {
        assert!(parse_action_name("instances:servers:read").is_ok());
        assert!(parse_action_name("svc-2:a1:do-it").is_ok());
        for bad in ["", "iam:authorize", "a:b:c:d", "a::c", "A:b:c", "1a:b:c", "a:b c:d", "a:b:é"]
        {
            assert!(
                matches!(parse_action_name(bad), Err(PolicyError::InvalidActionName { .. })),
                "{bad:?}"
            );
        }
        let long = format!("{}:b:c", "a".repeat(65));
        assert!(parse_action_name(&long).is_err());
    }
}
