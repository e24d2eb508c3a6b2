//! Rampart audit entries as OCSF-shaped events.
//!
//! Each [`audit::Entry`] becomes one JSON event in the shape of an OCSF 1.3
//! class, chosen from the action:
//!
//! | actions | class | category (Sigma) |
//! |---|---|---|
//! | `auth.login.*`, `auth.step_up`, `auth.session.end`, `auth.mfa.recovery_code.use` | Authentication (3002) | `authentication` |
//! | `auth.signup*`, `auth.account.lock`, `auth.mfa.*` (other), `auth.passkey.*`, `user.*`, `api_key.*` | Account Change (3001) | `account_change` |
//! | `iam.*` | User Access Management (3005) | `user_access` |
//! | `group.*` | Group Management (3006) | `group_management` |
//! | anything else (`application.*`, `project.*`, `organization.*`, `audit.*`, …) | API Activity (6003) | `api_activity` |
//!
//! Every event has the Sigma logsource `product: rampart`, `service: audit`
//! and the category above. The fields Sigma rules use:
//!
//! | field | from the entry |
//! |---|---|
//! | `class_uid`, `class_name`, `category_uid`, `activity_id`, `activity_name`, `type_uid` | the class and activity for the action |
//! | `time` | `time`, Unix milliseconds |
//! | `status` (`Success` / `Failure`), `status_id` (1 / 2), `status_detail` | `outcome`, `reason` |
//! | `api.operation` | `action` (dotted, e.g. `auth.login.password`) |
//! | `api.request.uid`, `metadata.correlation_uid` | `request_id` |
//! | `actor.user.uid`, `actor.user.type`, `actor.user.email_addr`, `actor.user.credential_uid` | `actor_id`, `actor_kind`, `actor_label`, `credential` |
//! | `user.uid` | the account acted on: the resource for `user` resources, else the actor for `auth.*` actions |
//! | `user.email_addr` | for `auth.*` actions, `actor_label` in lower case (the sign-in name given, even for an unknown account) |
//! | `src_endpoint.ip`, `http_request.user_agent` | `source_ip`, `user_agent` |
//! | `resources` (`[{type, uid}]`) | `resource_type`, `resource_id` |
//! | `metadata.uid`, `metadata.product.name` | `organization_id:index`, `Rampart` |
//! | `unmapped.outcome` | `success`, `denied` or `failed` (OCSF status cannot tell denied from failed) |
//! | `unmapped.privileged` | `privileged` |
//! | `unmapped.resource_type`, `unmapped.resource_id` | the same, flat, for rules |
//! | `unmapped.organization_id`, `unmapped.actor_kind` | the same |
//! | `unmapped.api_key_id` | the key's id: the resource of `api_key.*` actions, or the id in an `api_key:<id>` credential |
//! | `unmapped.email_domain` | the domain of `actor_label` when it is an email address, lower-case |
//! | `unmapped.details` | `details`, the JSON object as recorded |
//!
//! Personal fields that were never recorded or have been erased are left out.

use audit::{ActorKind, Entry, Outcome, PersonalField};
use serde_json::{Map, Value, json};

use crate::event::{Event, EventSource};

/// OCSF schema version the events follow.
pub const OCSF_VERSION: &str = "1.3.0";

/// An OCSF class with its category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OcsfClass {
    /// `class_uid`.
    pub uid: u32,
    /// `class_name`.
    pub name: &'static str,
    /// `category_uid`.
    pub category_uid: u32,
    /// The Sigma category the event is routed under.
    pub sigma_category: &'static str,
}

/// Authentication (3002).
pub const AUTHENTICATION: OcsfClass = OcsfClass {
    uid: 3002,
    name: "Authentication",
    category_uid: 3,
    sigma_category: "authentication",
};
/// Account Change (3001).
pub const ACCOUNT_CHANGE: OcsfClass = OcsfClass {
    uid: 3001,
    name: "Account Change",
    category_uid: 3,
    sigma_category: "account_change",
};
/// User Access Management (3005).
pub const USER_ACCESS: OcsfClass = OcsfClass {
    uid: 3005,
    name: "User Access Management",
    category_uid: 3,
    sigma_category: "user_access",
};
/// Group Management (3006).
pub const GROUP_MANAGEMENT: OcsfClass = OcsfClass {
    uid: 3006,
    name: "Group Management",
    category_uid: 3,
    sigma_category: "group_management",
};
/// API Activity (6003).
pub const API_ACTIVITY: OcsfClass =
    OcsfClass { uid: 6003, name: "API Activity", category_uid: 6, sigma_category: "api_activity" };

/// The OCSF class and activity (id, name) for an action.
pub fn classify(action: &str) -> (OcsfClass, u32, &'static str) {
    match action {
        a if a.starts_with("auth.login.") => (AUTHENTICATION, 1, "Logon"),
        "auth.step_up" | "auth.mfa.recovery_code.use" => (AUTHENTICATION, 1, "Logon"),
        "auth.session.end" => (AUTHENTICATION, 2, "Logoff"),
        "auth.signup" | "user.create" | "user.invite" | "api_key.create" => {
            (ACCOUNT_CHANGE, 1, "Create")
        }
        "auth.signup.verify" => (ACCOUNT_CHANGE, 2, "Enable"),
        "user.password.reset" => (ACCOUNT_CHANGE, 4, "Password Reset"),
        "api_key.revoke" => (ACCOUNT_CHANGE, 6, "Delete"),
        "auth.account.lock" => (ACCOUNT_CHANGE, 9, "Lock"),
        "auth.mfa.totp.enrol" | "auth.mfa.totp.confirm" | "auth.passkey.register" => {
            (ACCOUNT_CHANGE, 10, "MFA Factor Enable")
        }
        "auth.mfa.remove" | "auth.passkey.delete" => (ACCOUNT_CHANGE, 11, "MFA Factor Disable"),
        a if a.starts_with("auth.") || a.starts_with("user.") || a.starts_with("api_key.") => {
            (ACCOUNT_CHANGE, 99, "Other")
        }
        a if a.starts_with("iam.") && a.ends_with(".delete") => {
            (USER_ACCESS, 2, "Revoke Privileges")
        }
        a if a.starts_with("iam.") => (USER_ACCESS, 1, "Assign Privileges"),
        "group.delete" => (GROUP_MANAGEMENT, 5, "Delete"),
        "group.create" => (GROUP_MANAGEMENT, 6, "Create"),
        a if a.starts_with("group.") => (GROUP_MANAGEMENT, 99, "Other"),
        a if a.ends_with(".create") => (API_ACTIVITY, 1, "Create"),
        a if a.ends_with(".read") => (API_ACTIVITY, 2, "Read"),
        a if a.ends_with(".update") || a.ends_with(".put") => (API_ACTIVITY, 3, "Update"),
        a if a.ends_with(".delete") || a.ends_with(".erase") => (API_ACTIVITY, 4, "Delete"),
        _ => (API_ACTIVITY, 99, "Other"),
    }
}

fn clear(field: &PersonalField) -> Option<&str> {
    match field {
        PersonalField::Present { value, .. } => Some(value),
        PersonalField::Absent | PersonalField::Erased { .. } => None,
    }
}

fn insert_opt(map: &mut Map<String, Value>, key: &str, value: Option<&str>) {
    if let Some(v) = value {
        map.insert(key.to_owned(), Value::String(v.to_owned()));
    }
}

/// The id of the API key an entry is about: the resource of `api_key.*`
/// actions, or the key an `api_key:<id>` credential names.
pub fn api_key_id(entry: &Entry) -> Option<&str> {
    if entry.action.starts_with("api_key.")
        && entry.resource_type == "api_key"
        && let Some(id) = entry.resource_id.as_deref()
    {
        return Some(id);
    }
    entry.credential.as_deref().and_then(|c| c.strip_prefix("api_key:"))
}

/// The lower-case domain of an email address, if `label` looks like one.
pub fn email_domain(label: &str) -> Option<String> {
    let (local, domain) = label.rsplit_once('@')?;
    if local.is_empty() || domain.is_empty() || !domain.contains('.') {
        return None;
    }
    Some(domain.trim().trim_end_matches('.').to_ascii_lowercase())
}

/// The OCSF-shaped JSON object for an entry.
pub fn to_ocsf(entry: &Entry) -> Map<String, Value> {
    let (class, activity_id, activity_name) = classify(&entry.action);
    let success = entry.outcome == Outcome::Success;
    let actor_label = clear(&entry.actor_label);
    let mut out = Map::new();
    out.insert("class_uid".into(), json!(class.uid));
    out.insert("class_name".into(), json!(class.name));
    out.insert("category_uid".into(), json!(class.category_uid));
    out.insert("activity_id".into(), json!(activity_id));
    out.insert("activity_name".into(), json!(activity_name));
    out.insert("type_uid".into(), json!(u64::from(class.uid) * 100 + u64::from(activity_id)));
    out.insert("time".into(), json!(entry.time.unix_timestamp_nanos() / 1_000_000));
    out.insert("severity_id".into(), json!(if success { 1 } else { 2 }));
    out.insert("status".into(), json!(if success { "Success" } else { "Failure" }));
    out.insert("status_id".into(), json!(if success { 1 } else { 2 }));
    if let Some(reason) = &entry.reason {
        out.insert("status_detail".into(), json!(reason));
    }
    out.insert(
        "metadata".into(),
        json!({
            "version": OCSF_VERSION,
            "uid": format!("{}:{}", entry.organization_id, entry.index),
            "product": { "name": "Rampart", "vendor_name": "Rampart" },
            "correlation_uid": entry.request_id,
        }),
    );
    let mut api = Map::new();
    api.insert("operation".into(), json!(entry.action));
    if let Some(request) = &entry.request_id {
        api.insert("request".into(), json!({ "uid": request }));
    }
    out.insert("api".into(), Value::Object(api));

    let mut actor_user = Map::new();
    insert_opt(&mut actor_user, "uid", entry.actor_id.as_deref());
    actor_user.insert("type".into(), json!(entry.actor_kind.as_str()));
    insert_opt(&mut actor_user, "email_addr", actor_label);
    insert_opt(&mut actor_user, "credential_uid", entry.credential.as_deref());
    out.insert("actor".into(), json!({ "user": actor_user }));

    // The account acted on.
    let mut user = Map::new();
    let is_auth = entry.action.starts_with("auth.");
    if entry.resource_type == "user" {
        insert_opt(&mut user, "uid", entry.resource_id.as_deref());
    } else if is_auth && entry.actor_kind == ActorKind::User {
        insert_opt(&mut user, "uid", entry.actor_id.as_deref());
    }
    if is_auth {
        // The sign-in name typed, folded to lower case as sign-in folds it: the actor's label,
        // or for a name without an account (recorded by the system) the attempted email.
        let attempted = clear(&entry.details)
            .and_then(|details| serde_json::from_str::<Value>(details).ok())
            .and_then(|details| details["attempted_email"].as_str().map(str::to_owned));
        let name = match entry.actor_kind {
            ActorKind::System => attempted,
            _ => actor_label.map(str::to_owned),
        };
        insert_opt(&mut user, "email_addr", name.map(|name| name.to_lowercase()).as_deref());
    }
    if !user.is_empty() {
        out.insert("user".into(), Value::Object(user));
    }
    if let Some(ip) = clear(&entry.source_ip) {
        out.insert("src_endpoint".into(), json!({ "ip": ip }));
    }
    if let Some(agent) = clear(&entry.user_agent) {
        out.insert("http_request".into(), json!({ "user_agent": agent }));
    }
    out.insert(
        "resources".into(),
        json!([{ "type": entry.resource_type, "uid": entry.resource_id }]),
    );

    let mut unmapped = Map::new();
    unmapped.insert("outcome".into(), json!(entry.outcome.as_str()));
    unmapped.insert("privileged".into(), json!(entry.privileged));
    unmapped.insert("organization_id".into(), json!(entry.organization_id.to_string()));
    unmapped.insert("actor_kind".into(), json!(entry.actor_kind.as_str()));
    unmapped.insert("resource_type".into(), json!(entry.resource_type));
    insert_opt(&mut unmapped, "resource_id", entry.resource_id.as_deref());
    insert_opt(&mut unmapped, "api_key_id", api_key_id(entry));
    if let Some(domain) = actor_label.and_then(email_domain) {
        unmapped.insert("email_domain".into(), json!(domain));
    }
    if let Some(details) = clear(&entry.details) {
        // Details are stored as canonical JSON; keep the text if it is not.
        let value = serde_json::from_str::<Value>(details).unwrap_or_else(|_| json!(details));
        unmapped.insert("details".into(), value);
    }
    out.insert("unmapped".into(), Value::Object(unmapped));
    out
}

/// The Sigma logsource of an entry's event.
pub fn source_of(entry: &Entry) -> EventSource {
    let (class, _, _) = classify(&entry.action);
    EventSource::new("rampart", Some("audit")).with_category(class.sigma_category)
}

/// The entry as an [`Event`] ready for the engine.
pub fn event_from_entry(entry: &Entry) -> Event {
    Event::new(source_of(entry), entry.time, to_ocsf(entry))
}

#[cfg(test)]
mod tests {
    use super::*;
    use audit::PersonalField;
    use time::macros::datetime;
    use uuid::Uuid;

    fn entry(action: &str, outcome: Outcome) -> Entry {
        Entry {
            organization_id: Uuid::from_u128(7),
            index: 42,
            time: datetime!(2026-01-02 03:04:05.678 UTC),
            actor_kind: ActorKind::User,
            actor_id: Some("u-1".into()),
            credential: Some("session".into()),
            action: action.into(),
            resource_type: "user".into(),
            resource_id: Some("u-1".into()),
            outcome,
            reason: Some("wrong password".into()),
            request_id: Some("req-9".into()),
            privileged: false,
            actor_label: PersonalField::present("Alice@Example.COM", [0; 16]),
            source_ip: PersonalField::present("192.0.2.1", [0; 16]),
            user_agent: PersonalField::Absent,
            details: PersonalField::Absent,
        }
    }

    #[test]
    fn failed_password_login_is_an_authentication_failure() {
        let e = to_ocsf(&entry("auth.login.password", Outcome::Failed));
        assert_eq!(e["class_uid"], 3002);
        assert_eq!(e["category_uid"], 3);
        assert_eq!(e["activity_id"], 1);
        assert_eq!(e["type_uid"], 300201);
        assert_eq!(e["status"], "Failure");
        assert_eq!(e["status_id"], 2);
        assert_eq!(e["status_detail"], "wrong password");
        assert_eq!(e["time"], 1_767_323_045_678_i64);
        assert_eq!(e["api"]["operation"], "auth.login.password");
        assert_eq!(e["actor"]["user"]["uid"], "u-1");
        assert_eq!(e["actor"]["user"]["credential_uid"], "session");
        assert_eq!(e["user"]["uid"], "u-1");
        assert_eq!(e["user"]["email_addr"], "alice@example.com", "folded as sign-in folds it");
        assert_eq!(e["actor"]["user"]["email_addr"], "Alice@Example.COM", "as typed");
        assert_eq!(e["src_endpoint"]["ip"], "192.0.2.1");
        assert!(e.get("http_request").is_none(), "absent personal fields are left out");
        assert_eq!(e["unmapped"]["outcome"], "failed");
        assert_eq!(e["unmapped"]["email_domain"], "example.com");
        assert_eq!(e["metadata"]["uid"], format!("{}:42", Uuid::from_u128(7)));
        let source = source_of(&entry("auth.login.password", Outcome::Failed));
        assert_eq!(source.categories, vec!["authentication"]);
    }

    #[test]
    fn classes_for_the_action_families() {
        let cases = [
            ("auth.session.end", 3002, 2),
            ("auth.mfa.remove", 3001, 11),
            ("auth.passkey.delete", 3001, 11),
            ("auth.passkey.register", 3001, 10),
            ("auth.login.passkey", 3002, 1),
            ("auth.account.lock", 3001, 9),
            ("user.password.reset", 3001, 4),
            ("api_key.revoke", 3001, 6),
            ("iam.policy.delete", 3005, 2),
            ("iam.permission_set.put", 3005, 1),
            ("group.create", 3006, 6),
            ("project.delete", 6003, 4),
            ("audit.events.read", 6003, 2),
            ("audit.integrity.failure", 6003, 99),
        ];
        for (action, class, activity) in cases {
            let (c, a, _) = classify(action);
            assert_eq!((c.uid, a), (class, activity), "{action}");
        }
    }

    #[test]
    fn erased_fields_and_api_keys() {
        let mut e = entry("projects.read", Outcome::Denied);
        e.erase_personal();
        e.credential = Some("api_key:k-5".into());
        e.actor_kind = ActorKind::Application;
        e.resource_type = "project".into();
        let out = to_ocsf(&e);
        assert!(out.get("src_endpoint").is_none());
        assert!(out["actor"]["user"].get("email_addr").is_none());
        assert!(out.get("user").is_none(), "no account is acted on");
        assert_eq!(out["unmapped"]["api_key_id"], "k-5");
        assert_eq!(out["unmapped"]["outcome"], "denied");
        let mut created = entry("api_key.create", Outcome::Success);
        created.resource_type = "api_key".into();
        created.resource_id = Some("k-6".into());
        assert_eq!(api_key_id(&created), Some("k-6"));
    }

    #[test]
    fn a_failed_sign_in_without_an_account_names_the_attempted_email() {
        let mut e = entry("auth.login.password", Outcome::Failed);
        e.actor_kind = ActorKind::System;
        e.actor_id = None;
        e.actor_label = PersonalField::Absent;
        e.resource_id = None;
        e.details = PersonalField::details(
            &serde_json::json!({"attempted_email": "Nobody@Example.com"}),
            [1; 16],
        )
        .unwrap();
        let event = to_ocsf(&e);
        assert_eq!(event["user"]["email_addr"], "nobody@example.com");
        assert!(event["user"].get("uid").is_none(), "{event:?}");
    }

    #[test]
    fn details_are_kept_as_json() {
        let mut e = entry("user.invite", Outcome::Success);
        e.details = PersonalField::details(&serde_json::json!({"role": "owner"}), [1; 16]).unwrap();
        assert_eq!(to_ocsf(&e)["unmapped"]["details"]["role"], "owner");
    }

    #[test]
    fn email_domains() {
        assert_eq!(email_domain("a@Mail.Example.org").as_deref(), Some("mail.example.org"));
        assert_eq!(email_domain("@example.org"), None);
        assert_eq!(email_domain("alice"), None);
        assert_eq!(email_domain("a@localhost"), None);
    }
}
