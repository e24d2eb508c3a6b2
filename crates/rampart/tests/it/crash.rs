//! SIGKILL in the middle of writes loses no acknowledged change and corrupts nothing.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use store::{AuditFilter, AuditLogRepository as _, ProjectRepository as _, Store, StoreOptions};

use crate::testkit::{Instance, client};

#[tokio::test]
async fn sigkill_during_writes_loses_no_acknowledged_change() {
    let instance = Instance::sqlite();
    let (provider_id, secret) = instance.init();
    let server = instance.serve();
    let http = client();
    let url = server.url(&format!("/v1/organizations/{provider_id}/projects"));

    let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));
    let mut writers = Vec::new();
    for writer in 0..8 {
        let (http, url, secret, acknowledged) =
            (http.clone(), url.clone(), secret.clone(), Arc::clone(&acknowledged));
        writers.push(tokio::spawn(async move {
            for n in 0.. {
                let body = serde_json::json!({"name": format!("w{writer}-{n}")});
                let Ok(response) = http.post(&url).bearer_auth(&secret).json(&body).send().await
                else {
                    return; // the server died under us
                };
                if response.status() != 201 {
                    return;
                }
                let Ok(project) = response.json::<serde_json::Value>().await else { return };
                let id = project["id"].as_str().unwrap().to_owned();
                acknowledged.lock().unwrap().insert(id);
            }
        }));
    }
    // Let writes pile up, then kill without warning.
    while acknowledged.lock().unwrap().len() < 50 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.signal("KILL");
    for writer in writers {
        writer.await.unwrap();
    }
    drop(server);
    let acknowledged = acknowledged.lock().unwrap().clone();

    // Reopen the database as the server would and check every acknowledged change is there,
    // each with exactly one audit event, and the file is sound.
    let store =
        Store::open_sqlite(&instance.database_path(), &StoreOptions::default()).await.unwrap();
    store.check_integrity().await.unwrap();
    let mut read = store.read().await.unwrap();
    let organization_id = provider_id.parse().unwrap();
    let projects = read.list_projects(organization_id, None, 10_000).await.unwrap();
    let stored: BTreeSet<String> = projects.iter().map(|project| project.id.to_string()).collect();
    let lost: Vec<&String> = acknowledged.difference(&stored).collect();
    assert!(lost.is_empty(), "{} acknowledged projects lost: {lost:?}", lost.len());

    let filter = AuditFilter { limit: 100_000, ..AuditFilter::default() };
    let entries = read.list_audit_entries(organization_id, &filter).await.unwrap();
    let created: Vec<String> = entries
        .iter()
        .filter(|row| row.action == "project.create")
        .filter_map(|row| row.resource_id.clone())
        .collect();
    assert_eq!(created.len(), stored.len(), "one project.create entry per stored project");
    assert_eq!(created.iter().collect::<BTreeSet<_>>(), stored.iter().collect::<BTreeSet<_>>());
    let mut indices: Vec<u64> = entries.iter().map(|row| row.index).collect();
    indices.sort();
    assert_eq!(indices, (0..indices.len() as u64).collect::<Vec<_>>(), "no gap in the trail");
    assert_eq!(read.audit_size(organization_id).await.unwrap(), indices.len() as u64);
    read.commit().await.unwrap();
    store.close().await;

    // And the server starts again on it, its audit tree whole: checkpoints sign, the integrity
    // check passes, and a full export verifies.
    let server = instance.serve();
    let ready = client().get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let export = client()
        .get(server.url(&format!("/v1/organizations/{provider_id}/audit/export")))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let key = client()
        .get(server.url("/v1/audit/public-key"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let trailer: serde_json::Value = serde_json::from_str(export.lines().last().unwrap()).unwrap();
    let summary = audit::export::verify_export(
        export.as_bytes(),
        trailer["checkpoint"].as_str().unwrap(),
        key.trim(),
        None,
    )
    .unwrap();
    assert!(summary.entries >= acknowledged.len() as u64);
    drop(server);
    let store =
        Store::open_sqlite(&instance.database_path(), &StoreOptions::default()).await.unwrap();
    let app =
        app::App::new(store, std::sync::Arc::new(SystemTime), app::PasswordHasher::owasp_default());
    assert_eq!(app.check_audit_integrity(100_000).await.unwrap(), vec![]);
}

/// The real time, for a store reopened outside the server.
struct SystemTime;

impl base::Clock for SystemTime {
    #[allow(clippy::disallowed_methods, reason = "a test standing in for the binary's clock")]
    fn now(&self) -> time::OffsetDateTime {
        time::OffsetDateTime::now_utc()
    }
}
