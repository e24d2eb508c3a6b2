//! Classification schemes, data categories and retention on every backend: a scheme is
//! replaced in place, categories are kept per organisation and counted per level, and each
//! retention sweep counts and erases exactly what is past its cutoff, nothing when asked only
//! to count.

use store::{
    AuditEntryRow, AuditLogRepository, ClassificationSchemeRecord, DataCategoryRecord,
    InformationProtectionRepository, LegalHoldRecord, RetentionRunRecord, RetentionTarget,
    RetentionTrigger, SessionRecord, SessionRepository, UserRecord, UserRepository, UserStatus,
};
use time::Duration;
use uuid::Uuid;

use crate::backends::with_each_backend;
use crate::identity::{T0, audited, setup};

fn session(user: &UserRecord, n: u8, last_seen_days_after_t0: i64) -> SessionRecord {
    SessionRecord {
        id: Uuid::from_bytes([n; 16]),
        user_id: user.id,
        token_hash: vec![n; 32],
        created_at: T0,
        last_seen_at: T0 + Duration::days(last_seen_days_after_t0),
        authenticated_at: T0,
        mfa_at: None,
        source_ip: Some(format!("192.0.2.{n}")),
        user_agent: Some("Firefox".into()),
        restricted: false,
        ended_at: None,
    }
}

#[tokio::test]
async fn schemes_are_replaced_in_place_and_categories_counted_per_level() {
    with_each_backend(|store| async move {
        let mut transaction = store.begin().await.unwrap();
        let user = setup(&mut transaction).await;
        let organization_id = user.organization_id;
        assert_eq!(transaction.get_classification_scheme(organization_id).await.unwrap(), None);
        let first = ClassificationSchemeRecord {
            organization_id,
            document: r#"{"levels":[]}"#.into(),
            updated_at: T0,
        };
        transaction.put_classification_scheme(&first).await.unwrap();
        let second = ClassificationSchemeRecord {
            document: r#"{"levels":[1]}"#.into(),
            updated_at: T0 + Duration::hours(1),
            ..first.clone()
        };
        transaction.put_classification_scheme(&second).await.unwrap();
        let category = |path: &str, level: &str| DataCategoryRecord {
            organization_id,
            path: path.into(),
            description: format!("{path} data"),
            classification: level.into(),
            special_category: path.ends_with("health"),
            created_at: T0,
            updated_at: T0,
        };
        transaction.insert_data_category(&category("user", "internal")).await.unwrap();
        transaction.insert_data_category(&category("user.health", "restricted")).await.unwrap();
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();
        let mut transaction = store.begin().await.unwrap();
        let duplicate = transaction.insert_data_category(&category("user", "public")).await;
        assert!(matches!(duplicate, Err(store::StoreError::Conflict(_))), "{duplicate:?}");
        drop(transaction);

        let mut read = store.read().await.unwrap();
        assert_eq!(read.get_classification_scheme(organization_id).await.unwrap(), Some(second));
        let listed = read.list_data_categories(organization_id).await.unwrap();
        assert_eq!(
            listed,
            vec![category("user", "internal"), category("user.health", "restricted")]
        );
        assert!(listed[1].special_category);
        assert_eq!(
            read.count_data_categories_classified(organization_id, "Restricted").await.unwrap(),
            1
        );
        assert_eq!(read.count_assets_classified(organization_id, "internal").await.unwrap(), 0);
    })
    .await;
}

#[tokio::test]
async fn a_session_sweep_erases_exactly_what_is_past_its_time() {
    with_each_backend(|store| async move {
        let mut transaction = store.begin().await.unwrap();
        let user = setup(&mut transaction).await;
        let organization_id = user.organization_id;
        transaction.insert_session(&session(&user, 1, 1)).await.unwrap();
        transaction.insert_session(&session(&user, 2, 10)).await.unwrap();
        transaction.insert_session(&session(&user, 3, 20)).await.unwrap();
        transaction.commit().await.unwrap();

        let cutoff = T0 + Duration::days(10);
        let target = RetentionTarget::SessionNetwork;
        let mut transaction = store.begin().await.unwrap();
        let counted = transaction
            .retention_sweep(organization_id, target, RetentionTrigger::LastActivity, cutoff, false)
            .await
            .unwrap();
        assert_eq!(counted, Some(1), "only the session last seen before the cutoff");
        assert_eq!(
            transaction
                .retention_sweep(
                    organization_id,
                    target,
                    RetentionTrigger::EventDate,
                    cutoff,
                    false
                )
                .await
                .unwrap(),
            None,
            "sessions keep no event date"
        );
        // Counting is not a change: the transaction commits without an audit event.
        transaction.commit().await.unwrap();

        let mut transaction = store.begin().await.unwrap();
        let erased = transaction
            .retention_sweep(organization_id, target, RetentionTrigger::LastActivity, cutoff, true)
            .await
            .unwrap();
        assert_eq!(erased, Some(1));
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();

        let mut read = store.read().await.unwrap();
        let mut sessions = read.list_sessions(user.id).await.unwrap();
        sessions.sort_by_key(|session| session.id);
        assert_eq!(sessions[0].source_ip, None);
        assert_eq!(sessions[0].user_agent, None);
        assert_eq!(sessions[1].source_ip.as_deref(), Some("192.0.2.2"), "at the cutoff: kept");
        assert_eq!(sessions[2].source_ip.as_deref(), Some("192.0.2.3"));
        assert_eq!(sessions[2].user_agent.as_deref(), Some("Firefox"));
        let again = read
            .retention_sweep(organization_id, target, RetentionTrigger::LastActivity, cutoff, false)
            .await
            .unwrap();
        assert_eq!(again, Some(0), "nothing left to erase");
    })
    .await;
}

#[tokio::test]
async fn audit_and_former_user_sweeps_erase_only_old_personal_data() {
    with_each_backend(|store| async move {
        let mut transaction = store.begin().await.unwrap();
        let user = setup(&mut transaction).await;
        let organization_id = user.organization_id;
        for (days, ip) in [(0, "192.0.2.1"), (30, "192.0.2.2")] {
            let index = transaction.reserve_audit_indices(organization_id, 1).await.unwrap();
            let row = AuditEntryRow {
                organization_id,
                index,
                time: T0 + Duration::days(days),
                actor_id: None,
                action: "user.login".into(),
                resource_kind: "user".into(),
                resource_id: None,
                outcome: "success".into(),
                privileged: false,
                leaf: vec![index as u8; 4],
                personal: serde_json::Map::from_iter([(
                    "source_ip".to_owned(),
                    serde_json::json!({"value": ip, "salt": "AAAAAAAAAAAAAAAAAAAAAA=="}),
                )]),
            };
            transaction.insert_audit_entries(&[row], &[((0, 0), vec![1; 32])]).await.unwrap();
        }
        let leaver = UserRecord {
            id: base::UserId::new(3, [3; 10]),
            email: "leaver@acme.example".into(),
            display_name: "Leaver".into(),
            status: UserStatus::Suspended,
            ..user.clone()
        };
        transaction.insert_user(&leaver).await.unwrap();
        transaction.insert_session(&session(&leaver, 4, 5)).await.unwrap();
        transaction.commit().await.unwrap();

        let cutoff = T0 + Duration::days(10);
        let mut transaction = store.begin().await.unwrap();
        let audit = RetentionTarget::AuditPersonal;
        let erased = transaction
            .retention_sweep(organization_id, audit, RetentionTrigger::EventDate, cutoff, true)
            .await
            .unwrap();
        assert_eq!(erased, Some(1));
        let former = RetentionTarget::FormerUsers;
        let too_early = transaction
            .retention_sweep(
                organization_id,
                former,
                RetentionTrigger::LastActivity,
                T0 + Duration::days(5),
                true,
            )
            .await
            .unwrap();
        assert_eq!(too_early, Some(0), "last seen at the cutoff: kept");
        let erased = transaction
            .retention_sweep(organization_id, former, RetentionTrigger::LastActivity, cutoff, true)
            .await
            .unwrap();
        assert_eq!(erased, Some(1), "the active user is never a former user");
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();

        let mut read = store.read().await.unwrap();
        let rows = read.audit_entries_between(organization_id, 0, 10).await.unwrap();
        let login_rows: Vec<&AuditEntryRow> =
            rows.iter().filter(|row| row.action == "user.login").collect();
        assert_eq!(login_rows.len(), 2);
        assert!(login_rows[0].personal.is_empty(), "the old entry's values are erased");
        assert_eq!(login_rows[0].leaf, vec![login_rows[0].index as u8; 4], "its leaf is kept");
        assert!(!login_rows[1].personal.is_empty(), "the recent entry keeps its values");
        let leaver = read.get_user(leaver.id).await.unwrap().unwrap();
        assert_eq!(leaver.status, UserStatus::Deleted);
        assert!(leaver.email.ends_with("@erased.invalid"), "{}", leaver.email);
        assert_eq!(leaver.display_name, "");
        let active = read.get_user(user.id).await.unwrap().unwrap();
        assert_eq!(active.email, user.email);
    })
    .await;
}

#[tokio::test]
async fn holds_and_runs_are_kept() {
    with_each_backend(|store| async move {
        let mut transaction = store.begin().await.unwrap();
        let user = setup(&mut transaction).await;
        let organization_id = user.organization_id;
        let hold = LegalHoldRecord {
            id: Uuid::from_bytes([7; 16]),
            organization_id,
            target: "session_network".into(),
            reason: "litigation".into(),
            placed_at: T0,
            released_at: None,
        };
        transaction.insert_legal_hold(&hold).await.unwrap();
        for n in 1..=3u8 {
            let run = RetentionRunRecord {
                id: Uuid::from_bytes([n; 16]),
                organization_id,
                ran_at: T0 + Duration::days(i64::from(n)),
                dry_run: n == 2,
                actor: "system".into(),
                outcome: "[]".into(),
            };
            transaction.insert_retention_run(&run).await.unwrap();
        }
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();

        let mut transaction = store.begin().await.unwrap();
        let later = T0 + Duration::days(9);
        assert!(transaction.release_legal_hold(organization_id, hold.id, later).await.unwrap());
        assert!(
            !transaction.release_legal_hold(organization_id, hold.id, later).await.unwrap(),
            "a released hold is not released twice"
        );
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();

        let mut read = store.read().await.unwrap();
        let holds = read.list_legal_holds(organization_id).await.unwrap();
        assert_eq!(holds, vec![LegalHoldRecord { released_at: Some(later), ..hold }]);
        let runs = read.list_retention_runs(organization_id, 2).await.unwrap();
        let ids: Vec<u8> = runs.iter().map(|run| run.id.as_bytes()[0]).collect();
        assert_eq!(ids, vec![3, 2], "newest first, limited");
        assert!(runs[1].dry_run && !runs[0].dry_run);
    })
    .await;
}

#[tokio::test]
async fn event_and_report_sweeps_take_only_what_is_old_and_done_with() {
    use store::{EventRepository, IncidentRepository, NewEvent, PublicReportRecord};
    with_each_backend(|store| async move {
        let mut transaction = store.begin().await.unwrap();
        let user = setup(&mut transaction).await;
        let organization_id = user.organization_id;
        let event = NewEvent {
            time: T0,
            product: Some("linux"),
            service: None,
            categories: &[],
            fields: r#"{"message":"sshd: accepted for alice from 192.0.2.9"}"#,
        };
        // Three old events in two batches, detection has evaluated the first batch (two
        // events); one recent event. Events are kept and deleted by batch.
        transaction.append_events(organization_id, T0, &[event, event]).await.unwrap();
        transaction.append_events(organization_id, T0, std::slice::from_ref(&event)).await.unwrap();
        transaction
            .append_events(organization_id, T0 + Duration::days(30), &[event])
            .await
            .unwrap();
        assert!(transaction.advance_event_detection_cursor(organization_id, 0, 2).await.unwrap());
        for (n, state, days) in [(1_u8, "dismissed", 0), (2, "new", 0), (3, "opened", 30)] {
            let report = PublicReportRecord {
                id: Uuid::from_bytes([n; 16]),
                organization_id,
                reference_hash: vec![n; 32],
                received_at: T0 + Duration::days(days),
                subject: format!("report {n}"),
                body: "I found your admin panel at …".into(),
                contact: "finder@example.net".into(),
                state: state.into(),
                incident_id: None,
                triaged_by: None,
                triaged_at: None,
                note: String::new(),
            };
            transaction.insert_public_report(&report).await.unwrap();
        }
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();

        let cutoff = T0 + Duration::days(10);
        let creation = RetentionTrigger::Creation;
        let mut transaction = store.begin().await.unwrap();
        for (target, due) in
            [(RetentionTarget::IngestedEvents, 2), (RetentionTarget::PublicReports, 1)]
        {
            let counted =
                transaction.retention_sweep(organization_id, target, creation, cutoff, false).await;
            assert_eq!(counted.unwrap(), Some(due), "{target:?} counted");
            let other = RetentionTrigger::LastActivity;
            let refused =
                transaction.retention_sweep(organization_id, target, other, cutoff, true).await;
            assert_eq!(refused.unwrap(), None, "{target:?} keeps no last activity");
            let erased =
                transaction.retention_sweep(organization_id, target, creation, cutoff, true).await;
            assert_eq!(erased.unwrap(), Some(due), "{target:?} erased");
            let again =
                transaction.retention_sweep(organization_id, target, creation, cutoff, true).await;
            assert_eq!(again.unwrap(), Some(0), "{target:?} nothing left");
        }
        audited(&mut transaction, organization_id).await;
        transaction.commit().await.unwrap();

        let mut read = store.read().await.unwrap();
        let left: Vec<u64> = read
            .events_between(organization_id, 0, 10)
            .await
            .unwrap()
            .iter()
            .map(|event| event.seq)
            .collect();
        assert_eq!(left, [2, 3], "the unevaluated old event and the recent one stay");
        let reports = read.list_public_reports(organization_id, None, 10).await.unwrap();
        for report in reports {
            let erased = report.id == Uuid::from_bytes([1; 16]);
            assert_eq!(report.body.is_empty(), erased, "{report:?}");
            assert_eq!(report.contact.is_empty(), erased, "{report:?}");
            assert!(report.subject.starts_with("report "), "the subject stays");
        }
    })
    .await;
}
