//! One suite, run against every backend: SQLite always, PostgreSQL when
//! `RAMPART_TEST_POSTGRES_URL` is set (CI sets it, so there it always runs).

use base::{
    Actor, AuditEvent, Name, Organization, OrganizationId, OrganizationKind, Outcome, Project,
    ProjectId, RequestContext, Resource,
};
use store::{
    AuditEventRepository, OrganizationRepository, ProjectRepository, Store, StoreError,
    StoreOptions,
};
use time::macros::datetime;

use crate::backends::with_each_backend;

fn organization(n: u64, name: &str, kind: OrganizationKind) -> Organization {
    let at = datetime!(2026-01-01 00:00:00.123456 UTC);
    Organization {
        id: OrganizationId::new(1_000 + n, [n as u8; 10]),
        name: Name::parse(name).unwrap(),
        kind,
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

fn event(organization_id: OrganizationId, action: &str) -> AuditEvent {
    AuditEvent {
        organization_id,
        time: datetime!(2026-01-03 10:00:00.5 UTC),
        actor: Actor::System,
        action: action.to_owned(),
        resource: Resource::new("organization", organization_id),
        outcome: Outcome::Success,
        context: RequestContext {
            source_ip: Some("192.0.2.7".parse().unwrap()),
            user_agent: Some("test-agent".into()),
            request_id: Some("req-1".into()),
        },
        privileged: false,
        details: serde_json::Map::from_iter([("k".to_owned(), serde_json::json!(1))]),
    }
}

async fn create(store: &Store, organization: &Organization) {
    let mut transaction = store.begin().await.unwrap();
    transaction.insert_organization(organization).await.unwrap();
    transaction.append_audit_event(&event(organization.id, "organization.create")).await.unwrap();
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
        transaction.append_audit_event(&event(acme.id, "project.create")).await.unwrap();
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
        transaction.append_audit_event(&event(acme.id, "organization.delete")).await.unwrap();
        transaction.commit().await.unwrap();

        let mut read = store.read().await.unwrap();
        assert_eq!(read.get_organization(acme.id).await.unwrap(), None);
        // The trail outlives the organisation.
        assert_eq!(read.list_audit_events(acme.id, None, 10).await.unwrap().len(), 3);
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
        transaction.append_audit_event(&event(acme.id, "project.create")).await.unwrap();
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
        transaction.append_audit_event(&event(acme.id, "organization.create")).await.unwrap();
        drop(transaction);

        let mut read = store.read().await.unwrap();
        assert_eq!(read.get_organization(acme.id).await.unwrap(), None);
        assert!(read.list_audit_events(acme.id, None, 10).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn audit_events_read_back_whole_newest_first_with_contiguous_sequences() {
    with_each_backend(|store| async move {
        let acme = organization(1, "Acme", OrganizationKind::Customer);
        create(&store, &acme).await;
        for n in 0..4 {
            let mut transaction = store.begin().await.unwrap();
            transaction.append_audit_event(&event(acme.id, &format!("a.{n}"))).await.unwrap();
            transaction.commit().await.unwrap();
        }
        let mut read = store.read().await.unwrap();
        let newest = read.list_audit_events(acme.id, None, 2).await.unwrap();
        let sequences: Vec<i64> = newest.iter().map(|stored| stored.sequence).collect();
        assert_eq!(sequences, vec![5, 4]);
        assert_eq!(newest[0].event, event(acme.id, "a.3"));
        let older = read.list_audit_events(acme.id, Some(4), 10).await.unwrap();
        assert_eq!(older.iter().map(|stored| stored.sequence).collect::<Vec<_>>(), vec![3, 2, 1]);
    })
    .await;
}

#[tokio::test]
async fn concurrent_writers_to_one_organization_get_distinct_sequences() {
    with_each_backend(|store| async move {
        let acme = organization(1, "Acme", OrganizationKind::Customer);
        create(&store, &acme).await;
        let mut tasks = Vec::new();
        for n in 0..16 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut transaction = store.begin().await.unwrap();
                transaction.append_audit_event(&event(acme.id, &format!("c.{n}"))).await.unwrap();
                transaction.commit().await.unwrap();
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let mut read = store.read().await.unwrap();
        let all = read.list_audit_events(acme.id, None, 100).await.unwrap();
        let mut sequences: Vec<i64> = all.iter().map(|stored| stored.sequence).collect();
        sequences.sort();
        assert_eq!(sequences, (1..=17).collect::<Vec<_>>());
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
