//! The built-in rule pack, exercised with synthetic audit-entry sequences
//! through the OCSF mapping and the engine.

use audit::{ActorKind, Entry, Outcome, PersonalField};
use detect::{Detection, Engine, EngineConfig, RuleSet, ocsf};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

const BRUTE_FORCE: &str = "Rampart Password Brute Force on One Account";
const STUFFING: &str = "Rampart Credential Stuffing From One Address";
const AFTER_BRUTE_FORCE: &str = "Rampart Login Success After Brute Force";
const MFA_REMOVED: &str = "Rampart MFA Removed From a Privileged Account";
const PRIVILEGED_GRANT: &str = "Rampart Privileged Permission Granted";
const OWNER_ADDED: &str = "Rampart Organisation Owner Added";
const API_KEY_NEW_IP: &str = "Rampart API Key Used From a New Address";
const MASS_DELETION: &str = "Rampart Mass Deletion";
const AUDIT_READ: &str = "Rampart Audit Log Read by an Unusual Principal";
const INTEGRITY: &str = "Rampart Audit Log Integrity Failure";
const OUTSIDE_RANGE: &str = "Rampart Access Attempt Outside a Policy's Address Range";
const SIGNUP_BURST: &str = "Rampart Many Sign-Ups From One Address";
const DISPOSABLE: &str = "Rampart Sign-Up With a Disposable Email Domain";

fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

/// A builder for audit entries with sensible defaults.
#[derive(Clone)]
struct E(Entry);

impl E {
    fn new(action: &str, outcome: Outcome, at: Duration) -> Self {
        E(Entry {
            organization_id: Uuid::nil(),
            index: 0,
            time: t0() + at,
            actor_kind: ActorKind::User,
            actor_id: Some("u-alice".into()),
            credential: Some("session".into()),
            action: action.into(),
            resource_type: "user".into(),
            resource_id: Some("u-alice".into()),
            outcome,
            reason: None,
            request_id: Some("req-1".into()),
            privileged: false,
            actor_label: PersonalField::present("alice@example.com", [1; 16]),
            source_ip: PersonalField::present("198.51.100.7", [2; 16]),
            user_agent: PersonalField::present("test-agent", [3; 16]),
            details: PersonalField::Absent,
        })
    }
    fn actor(mut self, kind: ActorKind, id: &str) -> Self {
        self.0.actor_kind = kind;
        self.0.actor_id = Some(id.into());
        self
    }
    fn account(mut self, id: &str, email: &str) -> Self {
        self.0.resource_type = "user".into();
        self.0.resource_id = Some(id.into());
        self.0.actor_label = PersonalField::present(email, [1; 16]);
        self
    }
    fn resource(mut self, kind: &str, id: &str) -> Self {
        self.0.resource_type = kind.into();
        self.0.resource_id = Some(id.into());
        self
    }
    fn ip(mut self, ip: &str) -> Self {
        self.0.source_ip = PersonalField::present(ip, [2; 16]);
        self
    }
    fn credential(mut self, c: &str) -> Self {
        self.0.credential = Some(c.into());
        self
    }
    fn privileged(mut self) -> Self {
        self.0.privileged = true;
        self
    }
    fn reason(mut self, r: &str) -> Self {
        self.0.reason = Some(r.into());
        self
    }
    fn details(mut self, d: Value) -> Self {
        self.0.details = PersonalField::details(&d, [4; 16]).unwrap();
        self
    }
}

fn engine() -> Engine {
    let rules = RuleSet::builtin();
    assert!(rules.report().failed.is_empty(), "{:?}", rules.report().failed);
    let engine = Engine::new(&rules, &EngineConfig::default());
    assert!(engine.skipped().is_empty(), "{:?}", engine.skipped());
    engine
}

/// Feeds the entries in order and returns every detection.
fn run(entries: &[E]) -> Vec<Detection> {
    let mut engine = engine();
    entries.iter().flat_map(|e| engine.evaluate(&ocsf::event_from_entry(&e.0))).collect()
}

fn fired<'a>(detections: &'a [Detection], title: &str) -> Vec<&'a Detection> {
    detections.iter().filter(|d| d.title == title).collect()
}

fn failed_login(i: i64, account: &str) -> E {
    E::new("auth.login.password", Outcome::Failed, Duration::seconds(i * 20))
        .account(account, &format!("{account}@example.com"))
        .reason("wrong password")
}

#[test]
fn builtin_pack_is_complete_and_attributed() {
    let rules = RuleSet::builtin();
    assert!(rules.report().failed.is_empty(), "{:?}", rules.report().failed);
    assert!(rules.len() >= 13);
    for info in rules.infos() {
        assert_eq!(info.author.as_deref(), Some("Rampart"), "{}", info.title);
        assert!(info.id.is_some(), "{}", info.title);
        assert!(info.level.is_some(), "{}", info.title);
        assert!(
            info.tags.iter().any(|t| t.starts_with("attack.t")),
            "{} lacks an ATT&CK technique",
            info.title
        );
    }
    for title in [
        BRUTE_FORCE,
        STUFFING,
        AFTER_BRUTE_FORCE,
        MFA_REMOVED,
        PRIVILEGED_GRANT,
        OWNER_ADDED,
        API_KEY_NEW_IP,
        MASS_DELETION,
        AUDIT_READ,
        INTEGRITY,
        OUTSIDE_RANGE,
        SIGNUP_BURST,
        DISPOSABLE,
    ] {
        assert!(rules.infos().any(|i| i.title == title), "missing {title}");
    }
}

#[test]
fn brute_force_needs_ten_failures_for_one_account_within_five_minutes() {
    let nine: Vec<E> = (0..9).map(|i| failed_login(i, "u-bob")).collect();
    assert!(fired(&run(&nine), BRUTE_FORCE).is_empty());

    let ten: Vec<E> = (0..10).map(|i| failed_login(i, "u-bob")).collect();
    let detections = run(&ten);
    let hits = fired(&detections, BRUTE_FORCE);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].group_key_text().as_deref(), Some("user.uid=u-bob"));
    assert_eq!(hits[0].author.as_deref(), Some("Rampart"));
    assert_eq!(hits[0].attack_techniques(), vec!["T1110.001".to_owned()]);

    // Ten failures spread over more than five minutes.
    let slow: Vec<E> = (0..10)
        .map(|_| failed_login(0, "u-bob").0)
        .enumerate()
        .map(|(i, mut e)| {
            e.time = t0() + Duration::seconds(i as i64 * 40);
            E(e)
        })
        .collect();
    assert!(fired(&run(&slow), BRUTE_FORCE).is_empty());

    // Ten failures across two accounts.
    let split: Vec<E> =
        (0..10).map(|i| failed_login(i, if i % 2 == 0 { "u-bob" } else { "u-carol" })).collect();
    assert!(fired(&run(&split), BRUTE_FORCE).is_empty());

    // Names without an account have no account id: ten of them are not one account, and
    // they are credential stuffing's concern, not this rule's.
    let unknown = |i: i64, name: &str| {
        let mut e = failed_login(i, "x").0;
        e.actor_id = None;
        e.resource_id = None;
        e.actor_label = PersonalField::present(name, [1; 16]);
        E(e)
    };
    let spread: Vec<E> = (0..10).map(|i| unknown(i, &format!("nobody{i}@example.com"))).collect();
    let detections = run(&spread);
    assert!(fired(&detections, BRUTE_FORCE).is_empty(), "{:#?}", titles(&detections));
    assert_eq!(fired(&detections, STUFFING).len(), 1);
    // Sign-in names are folded: one name in two spellings is one name, not two.
    let spellings: Vec<E> = (0..10)
        .map(|i| unknown(i, if i % 2 == 0 { "Nobody@Example.com" } else { "nobody@example.com" }))
        .collect();
    assert!(fired(&run(&spellings), STUFFING).is_empty());
}

#[test]
fn credential_stuffing_counts_distinct_accounts_per_address() {
    let many: Vec<E> = (0..10).map(|i| failed_login(i, &format!("u-{i}"))).collect();
    let detections = run(&many);
    let hits = fired(&detections, STUFFING);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].group_key_text().as_deref(), Some("src_endpoint.ip=198.51.100.7"));

    let same: Vec<E> = (0..10).map(|i| failed_login(i, "u-bob")).collect();
    assert!(fired(&run(&same), STUFFING).is_empty());

    let spread: Vec<E> =
        (0..10).map(|i| failed_login(i, &format!("u-{i}")).ip(&format!("203.0.113.{i}"))).collect();
    assert!(fired(&run(&spread), STUFFING).is_empty());
}

#[test]
fn success_after_brute_force_is_flagged() {
    let mut seq: Vec<E> = (0..10).map(|i| failed_login(i, "u-bob")).collect();
    seq.push(
        E::new("auth.login.password", Outcome::Success, Duration::seconds(400))
            .actor(ActorKind::User, "u-bob")
            .account("u-bob", "u-bob@example.com"),
    );
    let detections = run(&seq);
    assert_eq!(fired(&detections, AFTER_BRUTE_FORCE).len(), 1, "{:#?}", titles(&detections));

    let lone_success = vec![E::new("auth.login.password", Outcome::Success, Duration::ZERO)];
    assert!(fired(&run(&lone_success), AFTER_BRUTE_FORCE).is_empty());

    // A success for another account after the burst does not count.
    let mut other: Vec<E> = (0..10).map(|i| failed_login(i, "u-bob")).collect();
    other.push(
        E::new("auth.login.password", Outcome::Success, Duration::seconds(400))
            .account("u-carol", "carol@example.com"),
    );
    assert!(fired(&run(&other), AFTER_BRUTE_FORCE).is_empty());
}

fn titles(d: &[Detection]) -> Vec<&str> {
    d.iter().map(|d| d.title.as_str()).collect()
}

#[test]
fn mfa_removal_matters_on_privileged_accounts_only() {
    let plain = E::new("auth.mfa.remove", Outcome::Success, Duration::ZERO);
    assert!(fired(&run(std::slice::from_ref(&plain)), MFA_REMOVED).is_empty());
    assert_eq!(fired(&run(&[plain.clone().privileged()]), MFA_REMOVED).len(), 1);
    assert_eq!(
        fired(&run(&[plain.clone().details(json!({"role": "owner"}))]), MFA_REMOVED).len(),
        1
    );
    let failed = E::new("auth.mfa.remove", Outcome::Denied, Duration::ZERO).privileged();
    assert!(fired(&run(&[failed]), MFA_REMOVED).is_empty());
    let passkey = E::new("auth.passkey.delete", Outcome::Success, Duration::ZERO).privileged();
    assert_eq!(fired(&run(&[passkey]), MFA_REMOVED).len(), 1);
}

#[test]
fn privileged_grants_and_owner_additions() {
    let grant =
        E::new("iam.policy.create", Outcome::Success, Duration::ZERO).resource("policy", "p1");
    assert!(fired(&run(std::slice::from_ref(&grant)), PRIVILEGED_GRANT).is_empty());
    assert_eq!(fired(&run(&[grant.clone().privileged()]), PRIVILEGED_GRANT).len(), 1);
    let read = E::new("iam.policy.read", Outcome::Success, Duration::ZERO).privileged();
    assert!(fired(&run(&[read]), PRIVILEGED_GRANT).is_empty());

    let invite = E::new("user.invite", Outcome::Success, Duration::ZERO).resource("user", "u-new");
    assert_eq!(
        fired(&run(&[invite.clone().details(json!({"role": "owner"}))]), OWNER_ADDED).len(),
        1
    );
    assert!(fired(&run(&[invite.details(json!({"role": "member"}))]), OWNER_ADDED).is_empty());
}

#[test]
fn api_key_used_from_a_second_address() {
    let create = E::new("api_key.create", Outcome::Success, Duration::ZERO)
        .resource("api_key", "k1")
        .ip("198.51.100.7");
    let use_same = E::new("projects.read", Outcome::Success, Duration::hours(1))
        .actor(ActorKind::Application, "app-1")
        .credential("api_key:k1")
        .resource("project", "p1")
        .ip("198.51.100.7");
    assert!(fired(&run(&[create.clone(), use_same.clone()]), API_KEY_NEW_IP).is_empty());
    let use_other = use_same.clone().ip("203.0.113.9");
    let detections = run(&[create.clone(), use_same.clone(), use_other.clone()]);
    let hits = fired(&detections, API_KEY_NEW_IP);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].group_key_text().as_deref(), Some("unmapped.api_key_id=k1"));
    // Another key's use from elsewhere is not this key's.
    let other_key = use_other.credential("api_key:k2");
    assert!(fired(&run(&[create, use_same, other_key]), API_KEY_NEW_IP).is_empty());
}

#[test]
fn mass_deletion_needs_twenty_by_one_principal() {
    let delete = |i: i64| {
        E::new("project.delete", Outcome::Success, Duration::seconds(i * 10))
            .resource("project", &format!("p{i}"))
    };
    let nineteen: Vec<E> = (0..19).map(delete).collect();
    assert!(fired(&run(&nineteen), MASS_DELETION).is_empty());
    let twenty: Vec<E> = (0..20).map(delete).collect();
    assert_eq!(fired(&run(&twenty), MASS_DELETION).len(), 1);
}

#[test]
fn audit_reads_and_integrity() {
    let read =
        E::new("audit.events.read", Outcome::Success, Duration::ZERO).resource("audit", "log");
    assert!(fired(&run(std::slice::from_ref(&read)), AUDIT_READ).is_empty());
    let by_app = read.clone().actor(ActorKind::Application, "app-9");
    assert_eq!(fired(&run(&[by_app]), AUDIT_READ).len(), 1);
    let by_staff = read.actor(ActorKind::Staff, "staff-1");
    assert_eq!(fired(&run(&[by_staff]), AUDIT_READ).len(), 1);

    let failure = E::new("audit.integrity.failure", Outcome::Failed, Duration::ZERO)
        .actor(ActorKind::System, "verifier")
        .resource("audit", "log");
    let detections = run(&[failure]);
    let hits = fired(&detections, INTEGRITY);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].level.as_deref(), Some("critical"));
}

#[test]
fn denied_outside_address_range() {
    let denied = E::new("projects.read", Outcome::Denied, Duration::ZERO).resource("project", "p1");
    assert!(fired(&run(&[denied.clone().reason("no policy allows it")]), OUTSIDE_RANGE).is_empty());
    assert_eq!(
        fired(
            &run(&[denied.clone().reason("source_ip 203.0.113.9 outside 10.0.0.0/8")]),
            OUTSIDE_RANGE
        )
        .len(),
        1
    );
    assert_eq!(
        fired(&run(&[denied.details(json!({"condition": "source_ip"}))]), OUTSIDE_RANGE).len(),
        1
    );
    let allowed = E::new("projects.read", Outcome::Success, Duration::ZERO).reason("source_ip ok");
    assert!(fired(&run(&[allowed]), OUTSIDE_RANGE).is_empty());
}

#[test]
fn sign_up_bursts_and_disposable_domains() {
    let signup = |i: i64, email: &str| {
        E::new("auth.signup", Outcome::Success, Duration::minutes(i * 5))
            .actor(ActorKind::User, &format!("u-{i}"))
            .account(&format!("u-{i}"), email)
    };
    let nine: Vec<E> = (0..9).map(|i| signup(i, &format!("p{i}@example.com"))).collect();
    assert!(fired(&run(&nine), SIGNUP_BURST).is_empty());
    let ten: Vec<E> = (0..10).map(|i| signup(i, &format!("p{i}@example.com"))).collect();
    assert_eq!(fired(&run(&ten), SIGNUP_BURST).len(), 1);

    assert_eq!(fired(&run(&[signup(0, "x@Mailinator.com")]), DISPOSABLE).len(), 1);
    assert_eq!(fired(&run(&[signup(0, "x@eu.yopmail.com")]), DISPOSABLE).len(), 1);
    assert!(fired(&run(&[signup(0, "x@example.com")]), DISPOSABLE).is_empty());
    assert!(fired(&run(&[signup(0, "x@notmailinator.com")]), DISPOSABLE).is_empty());
}
