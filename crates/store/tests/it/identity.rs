//! Sessions, second factors, invitations and throttling state, on every backend.

use base::{Name, Organization, OrganizationId, OrganizationKind, UserId};
use store::{
    ApiKeyRecord, ApiKeyRepository, AuditEntryRow, AuditLogRepository, FactorRepository,
    InvitationRecord, InvitationRepository, OrganizationRepository, PasskeyRecord,
    PasskeyRepository, PasswordPolicyRepository, PasswordResetRepository, SessionRecord,
    SessionRepository, SignInFacts, StoredThrottle, ThrottleRepository, TotpRecord, Transaction,
    UserRecord, UserRepository, UserRole, UserStatus,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use crate::backends::with_each_backend;

pub const T0: OffsetDateTime = datetime!(2026-05-01 08:00 UTC);

pub async fn audited(transaction: &mut Transaction, organization_id: OrganizationId) {
    let index = transaction.reserve_audit_indices(organization_id, 1).await.unwrap();
    let row = AuditEntryRow {
        organization_id,
        index,
        time: T0,
        actor_id: None,
        action: "test".into(),
        resource_kind: "test".into(),
        resource_id: None,
        outcome: "success".into(),
        privileged: false,
        leaf: vec![index as u8],
        personal: serde_json::Map::new(),
    };
    transaction.insert_audit_entries(&[row], &[((0, 0), vec![1; 32])]).await.unwrap();
}

pub async fn setup(transaction: &mut Transaction) -> UserRecord {
    let organization = Organization {
        id: OrganizationId::new(1, [1; 10]),
        name: Name::parse("Acme").unwrap(),
        kind: OrganizationKind::Customer,
        mfa_required: false,
        created_at: T0,
        updated_at: T0,
    };
    transaction.insert_organization(&organization).await.unwrap();
    let user = UserRecord {
        id: UserId::new(2, [2; 10]),
        organization_id: organization.id,
        email: "Ada@Acme.example".into(),
        display_name: "Ada".into(),
        status: UserStatus::Active,
        role: UserRole::Member,
        password_hash: Some("$argon2id$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA".into()),
        setup_token_hash: None,
        setup_token_expires_at: None,
        created_at: T0,
    };
    transaction.insert_user(&user).await.unwrap();
    audited(transaction, organization.id).await;
    user
}

fn session(user: &UserRecord, n: u8) -> SessionRecord {
    SessionRecord {
        id: uuid::Uuid::from_bytes([n; 16]),
        user_id: user.id,
        token_hash: vec![n; 32],
        created_at: T0,
        last_seen_at: T0,
        authenticated_at: T0,
        mfa_at: None,
        source_ip: Some("192.0.2.1".into()),
        user_agent: None,
        restricted: n == 2,
        ended_at: None,
    }
}

#[tokio::test]
async fn sessions_are_found_by_token_hash_and_end() {
    with_each_backend(|store| async move {
        let mut transaction = store.begin().await.unwrap();
        let user = setup(&mut transaction).await;
        transaction.insert_session(&session(&user, 1)).await.unwrap();
        transaction.insert_session(&session(&user, 2)).await.unwrap();
        audited(&mut transaction, user.organization_id).await;
        transaction.commit().await.unwrap();

        let mut transaction = store.begin().await.unwrap();
        let found = transaction.find_session(&[2; 32]).await.unwrap().unwrap();
        assert_eq!(found.session, session(&user, 2));
        assert_eq!(found.user, user);
        assert_eq!(found.organization_kind, OrganizationKind::Customer);
        assert_eq!(
            transaction.find_user_by_email("ada@ACME.example").await.unwrap(),
            Some(user.clone())
        );
        let later = T0 + Duration::minutes(5);
        transaction.reauthenticate_session(found.session.id, later, true).await.unwrap();
        transaction.unrestrict_session(found.session.id, later).await.unwrap();
        let again = transaction.find_session(&[2; 32]).await.unwrap().unwrap().session;
        assert_eq!(
            (again.authenticated_at, again.mfa_at, again.restricted),
            (later, Some(later), false)
        );
        transaction.end_session(user.id, found.session.id, later).await.unwrap();
        assert_eq!(transaction.list_sessions(user.id).await.unwrap().len(), 1);
        assert_eq!(transaction.end_user_sessions(user.id, later).await.unwrap(), 1);
        assert!(transaction.list_sessions(user.id).await.unwrap().is_empty());
        audited(&mut transaction, user.organization_id).await;
        transaction.commit().await.unwrap();

        let mut transaction = store.begin().await.unwrap();
        transaction
            .insert_login_challenge(&[9; 32], user.id, T0, T0 + Duration::minutes(5))
            .await
            .unwrap();
        assert_eq!(transaction.take_login_challenge(&[9; 32], T0).await.unwrap(), Some(user.id));
        assert_eq!(
            transaction.take_login_challenge(&[9; 32], T0).await.unwrap(),
            None,
            "single use"
        );
        transaction
            .insert_login_challenge(&[8; 32], user.id, T0, T0 + Duration::minutes(5))
            .await
            .unwrap();
        let late = T0 + Duration::minutes(6);
        assert_eq!(
            transaction.take_login_challenge(&[8; 32], late).await.unwrap(),
            None,
            "expired"
        );
    })
    .await;
}

#[tokio::test]
async fn suspension_state_and_credentials_are_kept() {
    with_each_backend(|store| async move {
        let mut transaction = store.begin().await.unwrap();
        let user = setup(&mut transaction).await;
        let key = ApiKeyRecord {
            id: base::ApiKeyId::new(3, [3; 10]),
            holder: store::KeyHolder::User(user.id),
            secret_hash: vec![3; 32],
            description: "k".into(),
            created_at: T0,
            expires_at: None,
            last_used_at: None,
            last_used_ip: None,
            default_project: None,
            revoked_at: None,
        };
        transaction.insert_api_key(&key).await.unwrap();
        // Use is recorded with its address; a use with no known address keeps the last one.
        transaction.touch_api_key(key.id, T0, Some("192.0.2.9")).await.unwrap();
        transaction.touch_api_key(key.id, T0 + time::Duration::minutes(1), None).await.unwrap();
        let listed = transaction.list_api_keys(key.holder).await.unwrap();
        assert_eq!(listed[0].last_used_ip.as_deref(), Some("192.0.2.9"));
        assert_eq!(listed[0].last_used_at, Some(T0 + time::Duration::minutes(1)));
        transaction.set_user_status(user.id, UserStatus::Suspended).await.unwrap();
        assert_eq!(transaction.revoke_user_api_keys(user.id, T0).await.unwrap(), 1);
        assert_eq!(transaction.revoke_user_api_keys(user.id, T0).await.unwrap(), 0);
        let found = transaction.find_api_key_by_secret_hash(&[3; 32]).await.unwrap().unwrap();
        assert!(matches!(
            found.holder,
            store::AuthenticatedHolder::User { status: UserStatus::Suspended, .. }
        ));
        assert_eq!(found.key.revoked_at, Some(T0));
        transaction.erase_user_personal_data(user.id).await.unwrap();
        let erased = transaction.get_user(user.id).await.unwrap().unwrap();
        assert!(erased.email.ends_with("@erased.invalid") && erased.display_name.is_empty());
        assert_eq!(transaction.list_users(user.organization_id, None, 10).await.unwrap().len(), 1);
        audited(&mut transaction, user.organization_id).await;
        transaction.commit().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn second_factors_refuse_replays_and_reuse() {
    with_each_backend(|store| async move {
        let mut transaction = store.begin().await.unwrap();
        let user = setup(&mut transaction).await;
        let pending = TotpRecord {
            user_id: user.id,
            sealed_seed: vec![1; 40],
            created_at: T0,
            confirmed_at: None,
            last_step: None,
        };
        transaction.put_pending_totp(&pending).await.unwrap();
        transaction.put_pending_totp(&pending).await.unwrap(); // a restart replaces it
        transaction.confirm_totp(user.id, T0, 100).await.unwrap();
        audited(&mut transaction, user.organization_id).await;
        transaction.commit().await.unwrap();
        // (A failed statement aborts a PostgreSQL transaction: try it in one of its own.)
        let mut attempt = store.begin().await.unwrap();
        assert!(
            attempt.put_pending_totp(&pending).await.is_err(),
            "a confirmed factor is not replaced"
        );
        attempt.rollback().await.unwrap();

        let mut transaction = store.begin().await.unwrap();
        assert!(!transaction.advance_totp_step(user.id, 100).await.unwrap(), "replay");
        assert!(transaction.advance_totp_step(user.id, 101).await.unwrap());
        assert_eq!(transaction.get_totp(user.id).await.unwrap().unwrap().last_step, Some(101));

        transaction.replace_recovery_codes(user.id, &[vec![1; 32], vec![2; 32]]).await.unwrap();
        assert!(transaction.use_recovery_code(user.id, &[1; 32], T0).await.unwrap());
        assert!(!transaction.use_recovery_code(user.id, &[1; 32], T0).await.unwrap(), "single use");
        assert_eq!(transaction.unused_recovery_codes(user.id).await.unwrap(), vec![vec![2; 32]]);
        transaction.delete_totp(user.id).await.unwrap();
        assert_eq!(transaction.get_totp(user.id).await.unwrap(), None);
        audited(&mut transaction, user.organization_id).await;
        transaction.commit().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn invitations_work_once_and_throttle_state_round_trips() {
    with_each_backend(|store| async move {
        let mut transaction = store.begin().await.unwrap();
        let user = setup(&mut transaction).await;
        let invitation = InvitationRecord {
            token_hash: vec![7; 32],
            organization_id: user.organization_id,
            email: "bob@acme.example".into(),
            role: UserRole::Member,
            invited_by: user.id,
            created_at: T0,
            expires_at: T0 + Duration::hours(72),
            accepted_at: None,
        };
        transaction.insert_invitation(&invitation).await.unwrap();
        assert_eq!(transaction.find_invitation(&[7; 32]).await.unwrap(), Some(invitation));
        assert!(transaction.accept_invitation(&[7; 32], T0).await.unwrap());
        assert!(!transaction.accept_invitation(&[7; 32], T0).await.unwrap());
        // A throttle is written only over the version read: none at first, then each write's.
        let account = "ada@acme.example";
        assert!(transaction.replace_throttle(account, None, "{\"n\":1}", T0).await.unwrap());
        assert!(!transaction.replace_throttle(account, None, "{\"n\":9}", T0).await.unwrap());
        assert!(transaction.replace_throttle(account, Some(1), "{\"n\":2}", T0).await.unwrap());
        assert!(!transaction.replace_throttle(account, Some(1), "{\"n\":9}", T0).await.unwrap());
        assert!(!transaction.replace_throttle(account, Some(3), "{\"n\":9}", T0).await.unwrap());
        let stored = StoredThrottle { state: "{\"n\":2}".into(), version: 2 };
        assert_eq!(transaction.get_throttle(account).await.unwrap(), Some(stored.clone()));
        assert_eq!(transaction.get_throttle_for_update(account).await.unwrap(), Some(stored));
        assert_eq!(transaction.get_throttle("nobody").await.unwrap(), None);
        assert_eq!(transaction.get_throttle_for_update("nobody").await.unwrap(), None);
        let expires = T0 + Duration::minutes(30);
        transaction.insert_password_reset(&[5; 32], user.id, T0, expires).await.unwrap();
        transaction.insert_password_reset(&[6; 32], user.id, T0, expires).await.unwrap();
        assert_eq!(transaction.use_password_reset(&[5; 32], T0).await.unwrap(), Some(user.id));
        assert_eq!(transaction.use_password_reset(&[5; 32], T0).await.unwrap(), None, "single use");
        assert_eq!(
            transaction.use_password_reset(&[6; 32], expires).await.unwrap(),
            None,
            "expired"
        );
        audited(&mut transaction, user.organization_id).await;
        transaction.commit().await.unwrap();
    })
    .await;
}

/// A throttle read for update holds the account until its transaction ends: a second
/// attempt's read waits, so neither count is lost.
#[tokio::test]
async fn a_throttle_read_for_update_waits_for_the_one_before() {
    with_each_backend(|store| async move {
        let account = "ada@acme.example";
        let mut transaction = store.begin().await.unwrap();
        assert!(transaction.replace_throttle(account, None, "0", T0).await.unwrap());
        transaction.commit().await.unwrap();

        let mut first = store.begin().await.unwrap();
        let seen = first.get_throttle_for_update(account).await.unwrap().unwrap();
        let second = tokio::spawn({
            let store = store.clone();
            async move {
                let mut second = store.begin().await.unwrap();
                let stored = second.get_throttle_for_update(account).await.unwrap().unwrap();
                let n = stored.state.parse::<i64>().unwrap() + 1;
                let written = second
                    .replace_throttle(account, Some(stored.version), &n.to_string(), T0)
                    .await
                    .unwrap();
                assert!(written, "the row was held for this attempt");
                second.commit().await.unwrap();
            }
        });
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(!second.is_finished(), "the second attempt read while the first held the row");
        assert!(first.replace_throttle(account, Some(seen.version), "1", T0).await.unwrap());
        first.commit().await.unwrap();
        second.await.unwrap();
        let mut read = store.read().await.unwrap();
        let stored = read.get_throttle(account).await.unwrap().unwrap();
        assert_eq!((stored.state.as_str(), stored.version), ("2", 3), "both attempts counted");
        read.commit().await.unwrap();
    })
    .await;
}

/// A write from a state read earlier, outside the transaction, is refused once another
/// attempt has written in between, on either backend (PostgreSQL re-checks the version of
/// the row the other transaction committed).
#[tokio::test]
async fn a_throttle_write_from_a_stale_read_is_refused() {
    with_each_backend(|store| async move {
        let account = "ada@acme.example";
        let mut transaction = store.begin().await.unwrap();
        assert!(transaction.replace_throttle(account, None, "0", T0).await.unwrap());
        transaction.commit().await.unwrap();
        let mut read = store.read_latest().await.unwrap();
        let seen = read.get_throttle(account).await.unwrap().unwrap();
        read.commit().await.unwrap();

        let mut first = store.begin().await.unwrap();
        assert!(first.replace_throttle(account, Some(seen.version), "1", T0).await.unwrap());
        let late = tokio::spawn({
            let store = store.clone();
            async move {
                let mut late = store.begin().await.unwrap();
                let written =
                    late.replace_throttle(account, Some(seen.version), "9", T0).await.unwrap();
                late.commit().await.unwrap();
                written
            }
        });
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        first.commit().await.unwrap();
        assert!(!late.await.unwrap(), "the late write saw the state it read replaced");
        let mut read = store.read_latest().await.unwrap();
        assert_eq!(read.get_throttle(account).await.unwrap().unwrap().state, "1");
        read.commit().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn applications_hold_keys_and_groups_hold_members() {
    with_each_backend(|store| async move {
        use store::{ApplicationRecord, GroupMember, GroupRecord, KeyHolder, PrincipalRepository};
        let mut transaction = store.begin().await.unwrap();
        let user = setup(&mut transaction).await;
        let application = ApplicationRecord {
            id: base::ApplicationId::new(4, [4; 10]),
            organization_id: user.organization_id,
            name: "Billing".into(),
            description: "the billing service".into(),
            created_at: T0,
        };
        transaction.insert_application(&application).await.unwrap();
        let key = ApiKeyRecord {
            id: base::ApiKeyId::new(5, [5; 10]),
            holder: KeyHolder::Application(application.id),
            secret_hash: vec![5; 32],
            description: "deploy".into(),
            created_at: T0,
            expires_at: None,
            last_used_at: None,
            last_used_ip: None,
            default_project: None,
            revoked_at: None,
        };
        transaction.insert_api_key(&key).await.unwrap();
        let found = transaction.find_api_key_by_secret_hash(&[5; 32]).await.unwrap().unwrap();
        assert_eq!(
            found.holder,
            store::AuthenticatedHolder::Application { name: "Billing".into() }
        );
        assert_eq!(found.organization_id, user.organization_id);
        assert_eq!(
            transaction.api_key_holder(key.id).await.unwrap(),
            Some(KeyHolder::Application(application.id))
        );
        assert_eq!(
            transaction.list_api_keys(KeyHolder::Application(application.id)).await.unwrap(),
            vec![key.clone()]
        );

        let group = GroupRecord {
            id: base::GroupId::new(6, [6; 10]),
            organization_id: user.organization_id,
            name: "Ops".into(),
            created_at: T0,
        };
        transaction.insert_group(&group).await.unwrap();
        assert!(
            transaction.add_group_member(group.id, GroupMember::User(user.id), T0).await.unwrap()
        );
        assert!(
            transaction
                .add_group_member(group.id, GroupMember::Application(application.id), T0)
                .await
                .unwrap()
        );
        assert!(
            !transaction.add_group_member(group.id, GroupMember::User(user.id), T0).await.unwrap()
        );
        assert_eq!(transaction.group_members(group.id).await.unwrap().len(), 2);
        assert_eq!(
            transaction.groups_of(GroupMember::User(user.id)).await.unwrap(),
            vec![group.id]
        );
        assert!(
            transaction.remove_group_member(group.id, GroupMember::User(user.id)).await.unwrap()
        );
        assert!(
            !transaction.remove_group_member(group.id, GroupMember::User(user.id)).await.unwrap()
        );

        transaction.delete_application(user.organization_id, application.id).await.unwrap();
        assert_eq!(transaction.find_api_key_by_secret_hash(&[5; 32]).await.unwrap(), None);
        assert!(transaction.group_members(group.id).await.unwrap().is_empty());
        transaction.delete_group(user.organization_id, group.id).await.unwrap();
        assert_eq!(transaction.list_groups(user.organization_id).await.unwrap(), vec![]);
        audited(&mut transaction, user.organization_id).await;
        transaction.commit().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn password_ages_are_kept_per_account_and_maxima_per_organization() {
    with_each_backend(|store| async move {
        let mut transaction = store.begin().await.unwrap();
        let user = setup(&mut transaction).await;
        let organization_id = user.organization_id;
        assert_eq!(transaction.password_max_age_days(organization_id).await.unwrap(), None);
        assert_eq!(transaction.password_changed_at(user.id).await.unwrap(), None);
        transaction.set_password_max_age_days(organization_id, Some(90), T0).await.unwrap();
        transaction.set_password_max_age_days(organization_id, Some(30), T0).await.unwrap();
        transaction.record_password_change(user.id, T0).await.unwrap();
        let later = T0 + Duration::days(3);
        transaction.record_password_change(user.id, later).await.unwrap();
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();

        let mut transaction = store.begin().await.unwrap();
        assert_eq!(transaction.password_max_age_days(organization_id).await.unwrap(), Some(30));
        assert_eq!(transaction.password_changed_at(user.id).await.unwrap(), Some(later));
        transaction.set_password_max_age_days(organization_id, None, later).await.unwrap();
        assert_eq!(transaction.password_max_age_days(organization_id).await.unwrap(), None);
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_password_sign_in_reads_the_account_its_facts_and_the_throttle_at_once() {
    with_each_backend(|store| async move {
        let mut transaction = store.begin().await.unwrap();
        let user = setup(&mut transaction).await;
        let (user_id, organization_id) = (user.id, user.organization_id);
        let other = UserRecord {
            id: UserId::new(3, [3; 10]),
            email: "bob@acme.example".into(),
            display_name: "Bob".into(),
            ..user.clone()
        };
        transaction.insert_user(&other).await.unwrap();
        audited(&mut transaction, organization_id).await;
        let none = SignInFacts {
            totp_confirmed: false,
            has_passkey: false,
            organization_kind: Some(OrganizationKind::Customer),
            organization_mfa_required: false,
            password_max_age_days: None,
            password_changed_at: None,
        };
        let found = transaction.password_sign_in("ada@acme.example").await.unwrap();
        assert_eq!(found.account, Some((user.clone(), none)));
        assert_eq!(found.throttle, None);

        // A pending authenticator app is not a factor yet.
        let pending = TotpRecord {
            user_id,
            sealed_seed: vec![1; 40],
            created_at: T0,
            confirmed_at: None,
            last_step: None,
        };
        transaction.put_pending_totp(&pending).await.unwrap();
        let found = transaction.password_sign_in("ada@acme.example").await.unwrap();
        assert!(!found.account.unwrap().1.totp_confirmed);
        transaction.confirm_totp(user_id, T0, 1).await.unwrap();
        transaction
            .insert_passkey(&PasskeyRecord {
                id: uuid::Uuid::from_bytes([7; 16]),
                user_id,
                credential_id: vec![7; 32],
                passkey: "{}".into(),
                name: "key".into(),
                transports: Vec::new(),
                created_at: T0,
                last_used_at: None,
            })
            .await
            .unwrap();
        transaction.set_organization_mfa_required(organization_id, true, T0).await.unwrap();
        transaction.set_password_max_age_days(organization_id, Some(90), T0).await.unwrap();
        let changed = T0 + Duration::days(2);
        transaction.record_password_change(user_id, changed).await.unwrap();
        assert!(transaction.replace_throttle("ada@acme.example", None, "{}", T0).await.unwrap());
        assert!(transaction.replace_throttle("eve@acme.example", None, "[]", T0).await.unwrap());
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();

        let mut read = store.read_latest().await.unwrap();
        let found = read.password_sign_in("ada@acme.example").await.unwrap();
        let facts = SignInFacts {
            totp_confirmed: true,
            has_passkey: true,
            organization_kind: Some(OrganizationKind::Customer),
            organization_mfa_required: true,
            password_max_age_days: Some(90),
            password_changed_at: Some(changed),
        };
        assert_eq!(found.account, Some((user, facts)));
        assert_eq!(found.throttle, Some(StoredThrottle { state: "{}".into(), version: 1 }));
        // Another account of the organisation has none of this one's factors.
        let (bob, facts) =
            read.password_sign_in("bob@acme.example").await.unwrap().account.unwrap();
        assert_eq!(bob, other);
        assert!(!facts.totp_confirmed && !facts.has_passkey && facts.password_changed_at.is_none());
        assert!(facts.organization_mfa_required);
        // An email with no account still has its throttle, and one with neither has nothing.
        let eve = read.password_sign_in("eve@acme.example").await.unwrap();
        assert_eq!(eve.account, None);
        assert_eq!(eve.throttle, Some(StoredThrottle { state: "[]".into(), version: 1 }));
        let nobody = read.password_sign_in("nobody@acme.example").await.unwrap();
        assert_eq!((nobody.account, nobody.throttle), (None, None));
        read.commit().await.unwrap();
    })
    .await;
}
