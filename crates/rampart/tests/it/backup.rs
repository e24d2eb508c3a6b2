//! `rampart backup`: a backup restores into a working installation, damage and wrong keys are
//! refused without leaving a database behind, and a restore test is recorded as evidence.

use std::path::Path;

use serde_json::{Value, json};

use crate::testkit::{Instance, client};

fn ok(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn failed(output: &std::process::Output) -> String {
    assert!(!output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The same installation's master key, for a second data directory.
fn share_master_key(from: &Instance, to: &Instance) {
    let key = from.directory.path().join("data").join("master.key");
    std::fs::create_dir_all(to.directory.path().join("data")).unwrap();
    std::fs::copy(key, to.directory.path().join("data").join("master.key")).unwrap();
}

fn path_text(path: &Path) -> &str {
    path.to_str().unwrap()
}

async fn organization_name(instance: &Instance, organization_id: &str, secret: &str) -> Value {
    let server = instance.serve();
    let response = client()
        .get(server.url(&format!("/v1/organizations/{organization_id}")))
        .bearer_auth(secret)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["name"].clone()
}

#[tokio::test]
async fn a_sqlite_backup_restores_into_a_working_installation() {
    let source = Instance::sqlite();
    let (organization_id, secret) = source.init();
    let backup = source.directory.path().join("rampart.backup");

    let created = ok(&source.run(&["backup", "create", "--output", path_text(&backup)], None));
    assert!(created.contains("backup written to"), "{created}");
    let verified = ok(&source.run(&["backup", "verify", path_text(&backup)], None));
    assert!(verified.contains("is intact: sqlite backup"), "{verified}");
    let raw = std::fs::read(&backup).unwrap();
    assert!(
        !raw.windows(b"owner@provider.example".len()).any(|w| w == b"owner@provider.example"),
        "the backup is encrypted"
    );

    // A second machine with the installation's master key gets the same Rampart back.
    let target = Instance::sqlite();
    share_master_key(&source, &target);
    let restored = ok(&target.run(&["backup", "restore", path_text(&backup)], None));
    assert!(restored.contains("restored"), "{restored}");
    assert!(target.database_path().exists());
    assert_eq!(organization_name(&target, &organization_id, &secret).await, "Provider");

    // Restoring over an existing database is refused.
    let refused = failed(&target.run(&["backup", "restore", path_text(&backup)], None));
    assert!(refused.contains("already exists"), "{refused}");
}

#[tokio::test]
async fn damage_and_a_wrong_key_are_refused_and_leave_no_database() {
    let source = Instance::sqlite();
    source.init();
    let backup = source.directory.path().join("rampart.backup");
    ok(&source.run(&["backup", "create", "--output", path_text(&backup)], None));
    // A second backup to the same file is refused: nothing is overwritten.
    let again = failed(&source.run(&["backup", "create", "--output", path_text(&backup)], None));
    assert!(again.contains("already exists"), "{again}");

    let mut bytes = std::fs::read(&backup).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    let damaged = source.directory.path().join("damaged.backup");
    std::fs::write(&damaged, &bytes).unwrap();
    let truncated = source.directory.path().join("truncated.backup");
    std::fs::write(&truncated, &std::fs::read(&backup).unwrap()[..middle]).unwrap();

    let target = Instance::sqlite();
    share_master_key(&source, &target);
    for (file, expected) in [(&damaged, "damaged or was modified"), (&truncated, "truncated")] {
        let refused = failed(&target.run(&["backup", "verify", path_text(file)], None));
        assert!(refused.contains(expected), "{refused}");
        let refused = failed(&target.run(&["backup", "restore", path_text(file)], None));
        assert!(refused.contains(expected), "{refused}");
        assert!(!target.database_path().exists(), "no database is left behind");
        let leftovers: Vec<_> = std::fs::read_dir(target.directory.path().join("data"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .filter(|name| name != "master.key")
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    // Another installation's key cannot open it, and says so.
    let stranger = Instance::sqlite();
    stranger.init();
    let refused = failed(&stranger.run(&["backup", "verify", path_text(&backup)], None));
    assert!(refused.contains("different master key"), "{refused}");

    // Not a backup at all.
    let refused =
        failed(&target.run(&["backup", "verify", path_text(&source.database_path())], None));
    assert!(refused.contains("not a Rampart backup"), "{refused}");
}

#[tokio::test]
async fn a_restore_test_is_recorded_on_its_continuity_record() {
    let instance = Instance::sqlite();
    let (organization_id, secret) = instance.init();
    let records = format!("/v1/organizations/{organization_id}/compliance/continuity");
    let record_id = {
        let server = instance.serve();
        let created: Value = client()
            .post(server.url(&records))
            .bearer_auth(&secret)
            .json(&json!({"title": "Rampart itself", "document": {
                "rto_minutes": 240, "rpo_minutes": 1440,
                "procedure": "rampart backup restore from the nightly backup"}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        created["id"].as_str().unwrap().to_owned()
    };
    let backup = instance.directory.path().join("rampart.backup");
    ok(&instance.run(&["backup", "create", "--output", path_text(&backup)], None));
    let tested = ok(&instance
        .run(&["backup", "restore", path_text(&backup), "--test", "--record", &record_id], None));
    assert!(tested.contains("restore test passed"), "{tested}");

    // A damaged backup is a failed test, recorded as such.
    let mut bytes = std::fs::read(&backup).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    let damaged = instance.directory.path().join("damaged.backup");
    std::fs::write(&damaged, &bytes).unwrap();
    let refused =
        failed(&instance.run(
            &["backup", "restore", path_text(&damaged), "--test", "--record", &record_id],
            None,
        ));
    assert!(refused.contains("restore test failed (recorded)"), "{refused}");

    let server = instance.serve();
    let record: Value = client()
        .get(server.url(&format!("{records}/{record_id}")))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tests = record["document"]["restore_tests"].as_array().unwrap();
    assert_eq!(tests.len(), 2, "{record:#}");
    assert_eq!(tests[0]["result"], "passed");
    assert!(tests[0]["notes"].as_str().unwrap().contains("rows restored"), "{record:#}");
    assert_eq!(tests[1]["result"], "failed");
}

/// A fresh PostgreSQL database; its URL and a handle to drop it.
async fn postgres_database(admin_url: &str) -> (String, String, store::Store) {
    let database = format!("rampart_backup_{}", uuid::Uuid::new_v4().simple());
    let admin =
        store::Store::open_postgres(admin_url, &store::StoreOptions::default()).await.unwrap();
    let store::Store::Postgres(pool) = &admin else { unreachable!() };
    let create = format!("CREATE DATABASE {database}");
    sqlx::query(sqlx::AssertSqlSafe(create)).execute(pool).await.unwrap();
    let url = match admin_url.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{database}"),
        None => panic!("RAMPART_TEST_POSTGRES_URL has no database part"),
    };
    (database, url, admin)
}

async fn drop_database(admin: &store::Store, database: &str) {
    let store::Store::Postgres(pool) = admin else { unreachable!() };
    let statement = format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)");
    sqlx::query(sqlx::AssertSqlSafe(statement)).execute(pool).await.unwrap();
}

#[tokio::test]
async fn a_postgres_backup_restores_into_an_empty_database_and_tests_in_a_scratch_schema() {
    let Ok(admin_url) = std::env::var("RAMPART_TEST_POSTGRES_URL") else {
        eprintln!("RAMPART_TEST_POSTGRES_URL is not set: PostgreSQL backup test skipped");
        return;
    };
    let (source_database, source_url, admin) = postgres_database(&admin_url).await;
    let (target_database, target_url, _) = postgres_database(&admin_url).await;

    let mut source = Instance::sqlite();
    source.environment.push(("RAMPART_DATABASE_URL".into(), source_url.clone()));
    let (organization_id, secret) = source.init();
    let backup = source.directory.path().join("rampart.backup");
    ok(&source.run(&["backup", "create", "--output", path_text(&backup)], None));
    let verified = ok(&source.run(&["backup", "verify", path_text(&backup)], None));
    assert!(verified.contains("postgres backup"), "{verified}");

    let live =
        store::Store::open_postgres(&source_url, &store::StoreOptions::default()).await.unwrap();
    let source_counts = live.row_counts().await.unwrap();
    assert!(source_counts["users"] >= 1 && source_counts["audit_entries"] >= 1);

    let tested = ok(&source.run(&["backup", "restore", path_text(&backup), "--test"], None));
    assert!(tested.contains("restore test passed"), "{tested}");
    let store::Store::Postgres(pool) = &live else { unreachable!() };
    let scratch: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.schemata \
         WHERE schema_name LIKE 'rampart_restore_test_%'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(scratch, 0, "the scratch schema is dropped");
    live.close().await;

    let mut target = Instance::sqlite();
    share_master_key(&source, &target);
    target.environment.push(("RAMPART_DATABASE_URL".into(), target_url.clone()));
    ok(&target.run(&["backup", "restore", path_text(&backup)], None));
    let restored =
        store::Store::open_postgres(&target_url, &store::StoreOptions::default()).await.unwrap();
    assert_eq!(restored.row_counts().await.unwrap(), source_counts);
    restored.close().await;
    assert_eq!(organization_name(&target, &organization_id, &secret).await, "Provider");

    // A second restore into the now-populated database is refused.
    let refused = failed(&target.run(&["backup", "restore", path_text(&backup)], None));
    assert!(refused.contains("already has tables"), "{refused}");

    drop_database(&admin, &source_database).await;
    drop_database(&admin, &target_database).await;
}
