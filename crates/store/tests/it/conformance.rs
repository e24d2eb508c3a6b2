//! One suite, run against every backend: SQLite always, PostgreSQL when
//! `RAMPART_TEST_POSTGRES_URL` is set (CI sets it, so there it always runs).

use base::{Name, Organization, OrganizationId, OrganizationKind, Project, ProjectId};
use store::{
    AccessReviewRepository, AuditEntryRow, AuditFilter, AuditLogRepository, OrganizationRepository,
    ProjectRepository, Store, StoreError, StoreOptions, Transaction,
};
use time::macros::datetime;

use crate::backends::with_each_backend;

fn organization(n: u64, name: &str, kind: OrganizationKind) -> Organization {
    let at = datetime!(2026-01-01 00:00:00.123456 UTC);
    Organization {
        id: OrganizationId::new(1_000 + n, [n as u8; 10]),
        name: Name::parse(name).unwrap(),
        kind,
        mfa_required: false,
        created_at: at,
        updated_at: at,
    }
}

fn project(organization_id: OrganizationId, n: u64, name: &str) -> Project {
    let at = datetime!(2026-01-02 00:00:00 UTC);
    Project {
        id: ProjectId::new(5_000 + n, [n as u8; 10]),
        organization_id,
        name: Name::parse(name).unwrap(),
        created_at: at,
        updated_at: at,
    }
}

/// Record one audit entry the way the application does: reserve an index, store the row and
/// the tile it changed. Leaf and tile bytes here are stand-ins; hashing is not the store's
/// business.
async fn record(
    transaction: &mut Transaction,
    organization_id: OrganizationId,
    action: &str,
) -> u64 {
    let index = transaction.reserve_audit_indices(organization_id, 1).await.unwrap();
    let row = entry_row(organization_id, index, action);
    let tile = ((0u8, 0u64), vec![index as u8; 32]);
    transaction.insert_audit_entries(&[row], &[tile]).await.unwrap();
    index
}

fn entry_row(organization_id: OrganizationId, index: u64, action: &str) -> AuditEntryRow {
    AuditEntryRow {
        organization_id,
        index,
        time: datetime!(2026-01-03 10:00:00.5 UTC),
        actor_id: Some("actor-1".into()),
        action: action.to_owned(),
        resource_kind: "organization".into(),
        resource_id: Some(organization_id.to_string()),
        outcome: if action.ends_with(".denied") { "denied".into() } else { "success".into() },
        privileged: action.starts_with("iam."),
        leaf: format!("leaf-{index}").into_bytes(),
        personal: serde_json::Map::from_iter([(
            "source_ip".to_owned(),
            serde_json::json!({"value": "192.0.2.7", "salt": "AAAAAAAAAAAAAAAAAAAAAA=="}),
        )]),
    }
}

fn everything(limit: u32) -> AuditFilter {
    AuditFilter { limit, ..AuditFilter::default() }
}

async fn create(store: &Store, organization: &Organization) {
    let mut transaction = store.begin().await.unwrap();
    transaction.insert_organization(organization).await.unwrap();
    record(&mut transaction, organization.id, "organization.create").await;
    transaction.commit().await.unwrap();
}

#[tokio::test]
async fn organizations_round_trip_and_list_in_creation_order() {
    with_each_backend(|store| async move {
        let acme = organization(1, "Acme", OrganizationKind::Provider);
        let globex = organization(2, "Globex", OrganizationKind::Customer);
        create(&store, &globex).await;
        create(&store, &acme).await;

        let mut read = store.read().await.unwrap();
        assert_eq!(read.get_organization(acme.id).await.unwrap(), Some(acme.clone()));
        assert_eq!(read.provider_organization().await.unwrap(), Some(acme.clone()));
        let all = read.list_organizations(None, 10).await.unwrap();
        assert_eq!(all, vec![acme.clone(), globex.clone()]);
        let page = read.list_organizations(Some(acme.id), 10).await.unwrap();
        assert_eq!(page, vec![globex]);
        let missing = OrganizationId::new(9, [9; 10]);
        assert_eq!(read.get_organization(missing).await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn names_are_unique_case_insensitively_and_a_second_provider_is_refused() {
    with_each_backend(|store| async move {
        create(&store, &organization(1, "Acme", OrganizationKind::Provider)).await;

        let mut transaction = store.begin().await.unwrap();
        let duplicate = organization(2, "ACME", OrganizationKind::Customer);
        let error = transaction.insert_organization(&duplicate).await.unwrap_err();
        assert!(matches!(error, StoreError::Conflict(rule) if rule.contains("name")), "{error}");
        transaction.rollback().await.unwrap();

        let mut transaction = store.begin().await.unwrap();
        let second = organization(3, "Other", OrganizationKind::Provider);
        assert!(matches!(
            transaction.insert_organization(&second).await,
            Err(StoreError::Conflict(_))
        ));
    })
    .await;
}

#[tokio::test]
async fn an_organization_with_projects_cannot_be_deleted() {
    with_each_backend(|store| async move {
        let acme = organization(1, "Acme", OrganizationKind::Customer);
        create(&store, &acme).await;
        let web = project(acme.id, 1, "web");

        let mut transaction = store.begin().await.unwrap();
        transaction.insert_project(&web).await.unwrap();
        record(&mut transaction, acme.id, "project.create").await;
        transaction.commit().await.unwrap();

        let mut transaction = store.begin().await.unwrap();
        let error = transaction.delete_organization(acme.id).await.unwrap_err();
        assert!(
            matches!(error, StoreError::Conflict(rule) if rule.contains("projects")),
            "{error:?}"
        );
        transaction.rollback().await.unwrap();

        let mut transaction = store.begin().await.unwrap();
        transaction.delete_project(acme.id, web.id).await.unwrap();
        transaction.delete_organization(acme.id).await.unwrap();
        record(&mut transaction, acme.id, "organization.delete").await;
        transaction.commit().await.unwrap();

        let mut read = store.read().await.unwrap();
        assert_eq!(read.get_organization(acme.id).await.unwrap(), None);
        // The trail outlives the organisation.
        assert_eq!(read.list_audit_entries(acme.id, &everything(10)).await.unwrap().len(), 3);
    })
    .await;
}

#[tokio::test]
async fn projects_are_confined_to_their_organization() {
    with_each_backend(|store| async move {
        let acme = organization(1, "Acme", OrganizationKind::Customer);
        let globex = organization(2, "Globex", OrganizationKind::Customer);
        create(&store, &acme).await;
        create(&store, &globex).await;
        let web = project(acme.id, 1, "web");

        let mut transaction = store.begin().await.unwrap();
        transaction.insert_project(&web).await.unwrap();
        // The same name in another organisation is fine; in the same one it is not.
        transaction.insert_project(&project(globex.id, 2, "WEB")).await.unwrap();
        let error = transaction.insert_project(&project(acme.id, 3, "Web")).await.unwrap_err();
        assert!(matches!(error, StoreError::Conflict(_)));
        transaction.rollback().await.unwrap();

        let mut transaction = store.begin().await.unwrap();
        transaction.insert_project(&web).await.unwrap();
        let renamed = Name::parse("www").unwrap();
        let at = datetime!(2026-02-01 00:00:00 UTC);
        transaction.rename_project(acme.id, web.id, &renamed, at).await.unwrap();
        assert!(matches!(
            transaction.rename_project(globex.id, web.id, &renamed, at).await,
            Err(StoreError::NotFound(_))
        ));
        record(&mut transaction, acme.id, "project.create").await;
        transaction.commit().await.unwrap();

        let mut read = store.read().await.unwrap();
        assert_eq!(read.get_project(globex.id, web.id).await.unwrap(), None);
        let stored = read.get_project(acme.id, web.id).await.unwrap().unwrap();
        assert_eq!((stored.name.as_str(), stored.updated_at), ("www", at));
        assert_eq!(read.list_projects(acme.id, None, 10).await.unwrap(), vec![stored]);
    })
    .await;
}

#[tokio::test]
async fn a_change_without_an_audit_event_does_not_commit() {
    with_each_backend(|store| async move {
        let acme = organization(1, "Acme", OrganizationKind::Customer);
        let mut transaction = store.begin().await.unwrap();
        transaction.insert_organization(&acme).await.unwrap();
        assert!(matches!(transaction.commit().await, Err(StoreError::UnauditedChange)));

        let mut read = store.read().await.unwrap();
        assert_eq!(read.get_organization(acme.id).await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn a_rolled_back_change_leaves_no_audit_event() {
    with_each_backend(|store| async move {
        let acme = organization(1, "Acme", OrganizationKind::Customer);
        let mut transaction = store.begin().await.unwrap();
        transaction.insert_organization(&acme).await.unwrap();
        record(&mut transaction, acme.id, "organization.create").await;
        drop(transaction);

        let mut read = store.read().await.unwrap();
        assert_eq!(read.get_organization(acme.id).await.unwrap(), None);
        assert!(read.list_audit_entries(acme.id, &everything(10)).await.unwrap().is_empty());
        assert_eq!(read.audit_size(acme.id).await.unwrap(), 0);
    })
    .await;
}

#[tokio::test]
async fn audit_entries_read_back_whole_newest_first_and_filter() {
    with_each_backend(|store| async move {
        let acme = organization(1, "Acme", OrganizationKind::Customer);
        create(&store, &acme).await;
        for action in ["iam.user.create", "iam.user.delete", "project.create", "iam_x.denied"] {
            let mut transaction = store.begin().await.unwrap();
            record(&mut transaction, acme.id, action).await;
            transaction.commit().await.unwrap();
        }
        let mut read = store.read().await.unwrap();
        assert_eq!(read.audit_size(acme.id).await.unwrap(), 5);
        let newest = read.list_audit_entries(acme.id, &everything(2)).await.unwrap();
        assert_eq!(newest.iter().map(|row| row.index).collect::<Vec<_>>(), vec![4, 3]);
        assert_eq!(newest[0], entry_row(acme.id, 4, "iam_x.denied"));
        let older = AuditFilter { before_index: Some(3), ..everything(10) };
        let older = read.list_audit_entries(acme.id, &older).await.unwrap();
        assert_eq!(older.iter().map(|row| row.index).collect::<Vec<_>>(), vec![2, 1, 0]);

        let prefix = AuditFilter { action_prefix: Some("iam.".into()), ..everything(10) };
        let iam = read.list_audit_entries(acme.id, &prefix).await.unwrap();
        assert_eq!(iam.iter().map(|row| row.index).collect::<Vec<_>>(), vec![2, 1]);
        let denied = AuditFilter { outcome: Some("denied".into()), ..everything(10) };
        assert_eq!(read.list_audit_entries(acme.id, &denied).await.unwrap().len(), 1);
        let privileged = AuditFilter { privileged: Some(true), ..everything(10) };
        assert_eq!(read.list_audit_entries(acme.id, &privileged).await.unwrap().len(), 2);
        let late = AuditFilter { since: Some(datetime!(2026-01-04 00:00 UTC)), ..everything(10) };
        assert!(read.list_audit_entries(acme.id, &late).await.unwrap().is_empty());
        let between = read.audit_entries_between(acme.id, 1, 3).await.unwrap();
        assert_eq!(between.iter().map(|row| row.index).collect::<Vec<_>>(), vec![1, 2]);
        // Each append replaced the tile: the last one wrote it.
        let tiles = read.audit_tiles(acme.id, &[(0, 0), (0, 9), (1, 0)]).await.unwrap();
        assert_eq!(tiles, vec![((0, 0), vec![4; 32])]);
    })
    .await;
}

/// An append stores its entries, tiles and actors' activity together, whether small or large
/// (several statements of many rows), and an index is written once.
#[tokio::test]
async fn an_append_stores_entries_tiles_and_activity_and_an_index_once() {
    with_each_backend(|store| async move {
        let acme = organization(1, "Acme", OrganizationKind::Customer);
        create(&store, &acme).await;
        let at = |minutes: i64| datetime!(2026-01-03 10:00 UTC) + time::Duration::minutes(minutes);
        // The small append's actors act only there; the large one's take turns.
        let actor = |n: u64| if n < 3 { format!("early-{n}") } else { format!("actor-{}", n % 3) };
        for (first, n) in [(1, 2), (3, 700)] {
            let mut transaction = store.begin().await.unwrap();
            assert_eq!(transaction.reserve_audit_indices(acme.id, n).await.unwrap(), first);
            let rows: Vec<AuditEntryRow> = (first..first + n)
                .map(|index| AuditEntryRow {
                    actor_id: Some(actor(index)),
                    time: at(index as i64),
                    ..entry_row(acme.id, index, "project.create")
                })
                .collect();
            let tiles = [((0u8, first), vec![1; 32]), ((1u8, first), vec![2; 32])];
            transaction.insert_audit_entries(&rows, &tiles).await.unwrap();
            transaction.commit().await.unwrap();
        }
        let mut read = store.read().await.unwrap();
        assert_eq!(read.audit_size(acme.id).await.unwrap(), 703);
        let stored = read.audit_entries_between(acme.id, 0, 703).await.unwrap();
        assert_eq!(stored.len(), 703);
        assert_eq!(stored[2].actor_id.as_deref(), Some("early-2"));
        let tiles = read.audit_tiles(acme.id, &[(0, 1), (1, 1), (0, 3), (1, 3)]).await.unwrap();
        assert_eq!(tiles.len(), 4);
        let actors: Vec<String> = (1..6).map(actor).collect();
        let activity = read.last_activity(&actors).await.unwrap();
        assert_eq!(activity.get("early-1"), Some(&at(1)));
        assert_eq!(activity.get("early-2"), Some(&at(2)));
        assert_eq!(activity.get("actor-0"), Some(&at(702)));
        assert_eq!(activity.get("actor-1"), Some(&at(700)));
        assert_eq!(activity.get("actor-2"), Some(&at(701)));
        read.commit().await.unwrap();

        let mut transaction = store.begin().await.unwrap();
        let again =
            transaction.insert_audit_entries(&[entry_row(acme.id, 2, "project.create")], &[]).await;
        assert!(
            matches!(again, Err(StoreError::Conflict("this audit index is already taken"))),
            "{again:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn checkpoints_and_signing_keys_are_kept() {
    with_each_backend(|store| async move {
        let acme = organization(1, "Acme", OrganizationKind::Customer);
        create(&store, &acme).await;
        let mut transaction = store.begin().await.unwrap();
        assert_eq!(transaction.uncheckpointed_trees().await.unwrap(), vec![(acme.id, 1)]);
        let checkpoint = store::CheckpointRow {
            organization_id: acme.id,
            size: 1,
            root: vec![7; 32],
            note: "note".into(),
            created_at: datetime!(2026-01-05 00:00 UTC),
        };
        transaction.insert_checkpoint(&checkpoint).await.unwrap();
        transaction.insert_checkpoint(&checkpoint).await.unwrap(); // idempotent
        assert!(transaction.uncheckpointed_trees().await.unwrap().is_empty());
        assert_eq!(transaction.latest_checkpoint(acme.id).await.unwrap(), Some(checkpoint));
        let key = store::SigningKeyRow {
            key_id: vec![1, 2, 3, 4],
            name: "rampart".into(),
            public_key: vec![9; 32],
            sealed_seed: vec![5; 60],
            created_at: datetime!(2026-01-05 00:00 UTC),
            retired_at: None,
        };
        transaction.insert_signing_key(&key).await.unwrap();
        record(&mut transaction, acme.id, "audit.signing_key.rotate").await;
        transaction.commit().await.unwrap();
        let mut transaction = store.begin().await.unwrap();
        transaction.retire_signing_keys(datetime!(2026-02-01 00:00 UTC)).await.unwrap();
        record(&mut transaction, acme.id, "audit.signing_key.rotate").await;
        transaction.commit().await.unwrap();
        let mut read = store.read().await.unwrap();
        let keys = read.signing_keys().await.unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].retired_at, Some(datetime!(2026-02-01 00:00 UTC)));
        assert_eq!(read.audited_organizations().await.unwrap(), vec![acme.id]);
    })
    .await;
}

#[tokio::test]
async fn erasing_personal_values_is_a_change_and_keeps_the_leaf() {
    with_each_backend(|store| async move {
        let acme = organization(1, "Acme", OrganizationKind::Customer);
        create(&store, &acme).await;
        let mut transaction = store.begin().await.unwrap();
        transaction.set_audit_personal(acme.id, 0, &serde_json::Map::new()).await.unwrap();
        assert!(matches!(transaction.commit().await, Err(StoreError::UnauditedChange)));
        let mut transaction = store.begin().await.unwrap();
        transaction.set_audit_personal(acme.id, 0, &serde_json::Map::new()).await.unwrap();
        record(&mut transaction, acme.id, "audit.personal.erase").await;
        transaction.commit().await.unwrap();
        let mut read = store.read().await.unwrap();
        let rows = read.audit_entries_between(acme.id, 0, 1).await.unwrap();
        assert!(rows[0].personal.is_empty());
        assert_eq!(rows[0].leaf, b"leaf-0");
    })
    .await;
}

#[tokio::test]
async fn concurrent_writers_to_one_organization_get_distinct_indices() {
    with_each_backend(|store| async move {
        let acme = organization(1, "Acme", OrganizationKind::Customer);
        create(&store, &acme).await;
        let mut tasks = Vec::new();
        for n in 0..16 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut transaction = store.begin().await.unwrap();
                record(&mut transaction, acme.id, &format!("c.{n}")).await;
                transaction.commit().await.unwrap();
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let mut read = store.read().await.unwrap();
        let all = read.list_audit_entries(acme.id, &everything(100)).await.unwrap();
        let mut indices: Vec<u64> = all.iter().map(|row| row.index).collect();
        indices.sort();
        assert_eq!(indices, (0..17).collect::<Vec<_>>());
    })
    .await;
}

#[tokio::test]
async fn migrations_are_idempotent() {
    with_each_backend(|store| async move {
        store.migrate().await.unwrap();
        store.ping().await.unwrap();
        assert!(store.pool_status().max >= 1);
    })
    .await;
}

#[tokio::test]
async fn a_bad_postgres_url_is_a_clear_error() {
    let error = Store::open_postgres("postgres://[::1", &StoreOptions::default()).await;
    assert!(matches!(error, Err(StoreError::Open(message)) if message.contains("URL")));
}

/// On SQLite, transactions that may write take turns on one connection of their own, while
/// reads go on meanwhile on the others and see only what is committed.
#[tokio::test]
async fn sqlite_reads_go_on_while_a_writer_holds_the_database() {
    let directory = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(&directory.path().join("rampart.db"), &StoreOptions::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let acme = organization(1, "Acme", OrganizationKind::Customer);
    let mut writer = store.begin().await.unwrap();
    writer.insert_organization(&acme).await.unwrap();
    record(&mut writer, acme.id, "organization.create").await;

    let second_writer = tokio::spawn({
        let store = store.clone();
        async move {
            let mut second = store.begin().await.unwrap();
            let seen = second.get_organization(acme.id).await.unwrap();
            second.commit().await.unwrap();
            seen
        }
    });
    let patience = std::time::Duration::from_secs(2);
    for _ in 0..3 {
        let mut read = tokio::time::timeout(patience, store.read_latest())
            .await
            .expect("a read waited for the writer")
            .unwrap();
        assert_eq!(read.get_organization(acme.id).await.unwrap(), None, "read before commit");
        read.commit().await.unwrap();
        let mut snapshot =
            tokio::time::timeout(patience, store.read()).await.expect("a read waited").unwrap();
        assert_eq!(snapshot.get_organization(acme.id).await.unwrap(), None);
        snapshot.commit().await.unwrap();
    }
    assert!(!second_writer.is_finished(), "two writers were in at once");
    writer.commit().await.unwrap();
    let seen = tokio::time::timeout(patience, second_writer).await.unwrap().unwrap();
    assert_eq!(seen, Some(acme), "the second writer starts from the first one's commit");
    let readers = StoreOptions::default().max_connections;
    assert_eq!(store.pool_status().max, readers + 1, "the writer's connection beside the readers'");
    store.close().await;
}
