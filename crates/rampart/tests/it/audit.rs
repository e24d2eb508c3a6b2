//! An export and checkpoint taken from a running server verify with `rampart audit verify`,
//! offline; tampering is reported with the index and field of the first discrepancy.

use crate::testkit::{Instance, client};

struct Downloaded {
    directory: tempfile::TempDir,
    public_key: String,
}

impl Downloaded {
    fn path(&self, name: &str) -> String {
        self.directory.path().join(name).display().to_string()
    }

    fn write(&self, name: &str, text: &str) -> String {
        std::fs::write(self.path(name), text).unwrap();
        self.path(name)
    }
}

async fn download(instance: &Instance) -> Downloaded {
    let (organization_id, secret) = instance.init();
    let server = instance.serve();
    let http = client();
    for name in ["alpha", "beta", "gamma"] {
        let response = http
            .post(server.url(&format!("/v1/organizations/{organization_id}/projects")))
            .bearer_auth(&secret)
            .json(&serde_json::json!({"name": name}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
    let get = |path: String| {
        let request = http.get(server.url(&path)).bearer_auth(&secret);
        async move { request.send().await.unwrap().text().await.unwrap() }
    };
    let base = format!("/v1/organizations/{organization_id}/audit");
    let directory = tempfile::tempdir().unwrap();
    let downloaded = Downloaded {
        directory,
        public_key: get("/v1/audit/public-key".into()).await.trim().to_owned(),
    };
    downloaded.write("old-checkpoint.txt", &get(format!("{base}/checkpoint")).await);
    downloaded.write("export.jsonl", &get(format!("{base}/export")).await);
    let last = std::fs::read_to_string(downloaded.path("export.jsonl")).unwrap();
    let trailer: serde_json::Value = serde_json::from_str(last.lines().last().unwrap()).unwrap();
    downloaded.write("checkpoint.txt", trailer["checkpoint"].as_str().unwrap());
    downloaded
}

fn verify(instance: &Instance, arguments: &[&str]) -> (bool, String) {
    let mut all = vec!["audit", "verify"];
    all.extend_from_slice(arguments);
    let output = instance.run(&all, None);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[tokio::test]
async fn an_export_from_a_running_server_verifies_offline_and_tampering_is_named() {
    let instance = Instance::sqlite();
    let files = download(&instance).await;
    let export = files.path("export.jsonl");
    let checkpoint = files.path("checkpoint.txt");
    let key = files.public_key.clone();

    let (ok, text) = verify(
        &instance,
        &["--export", &export, "--checkpoint", &checkpoint, "--public-key", &key],
    );
    assert!(ok, "{text}");
    assert!(text.starts_with("ok: "), "{text}");
    // The checkpoint defaults to the trailer's, and an older one the customer kept is checked.
    let old = files.path("old-checkpoint.txt");
    let (ok, text) = verify(
        &instance,
        &["--export", &export, "--public-key", &key, "--previous-checkpoint", &old],
    );
    assert!(ok, "{text}");

    let original = std::fs::read_to_string(&export).unwrap();
    let tampered =
        original.replacen("\"action\":\"project.create\"", "\"action\":\"project.delete\"", 1);
    let tampered = files.write("tampered.jsonl", &tampered);
    let (ok, text) = verify(&instance, &["--export", &tampered, "--public-key", &key]);
    assert!(!ok);
    assert!(text.contains("field action") && text.contains("entry "), "{text}");

    let mut lines: Vec<&str> = original.lines().collect();
    lines.swap(2, 3);
    let reordered = files.write("reordered.jsonl", &(lines.join("\n") + "\n"));
    let (ok, text) = verify(&instance, &["--export", &reordered, "--public-key", &key]);
    assert!(!ok, "{text}");

    let truncated = files.write("truncated.jsonl", &original[..original.len() / 2]);
    let (ok, text) = verify(
        &instance,
        &["--export", &truncated, "--checkpoint", &checkpoint, "--public-key", &key],
    );
    assert!(!ok && text.contains("verification failed"), "{text}");

    let other =
        audit::NoteSigner::generate("rampart", &mut rand::rngs::OsRng).unwrap().verifier_key();
    let (ok, text) = verify(&instance, &["--export", &export, "--public-key", &other]);
    assert!(!ok, "{text}");
    assert!(text.contains("checkpoint"), "{text}");
}

/// A verifier written from `docs/design/0002-audit-log-format.md` alone, without reading this
/// code (`tests/independent/verify_export.py`), agrees with `rampart audit verify`.
#[tokio::test]
async fn an_independent_verifier_written_from_the_document_agrees() {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/independent/verify_export.py");
    if std::process::Command::new("python3").arg("--version").output().is_err() {
        eprintln!("python3 is not installed: independent verifier check skipped");
        return;
    }
    let instance = Instance::sqlite();
    let files = download(&instance).await;
    let export = files.path("export.jsonl");
    let key_file = files.write("key.txt", &files.public_key);
    let run = |export: &str| {
        std::process::Command::new("python3")
            .arg(&script)
            .arg(export)
            .arg(&key_file)
            .output()
            .unwrap()
    };
    let independent = run(&export);
    let independent_text = String::from_utf8_lossy(&independent.stdout).to_string();
    assert!(
        independent.status.success(),
        "{independent_text}{}",
        String::from_utf8_lossy(&independent.stderr)
    );
    let (ok, ours) = verify(&instance, &["--export", &export, "--public-key", &files.public_key]);
    assert!(ok, "{ours}");
    let root_of = |text: &str| {
        text.split("root ")
            .nth(1)
            .and_then(|rest| rest.split([',', ' ', '\n']).next())
            .map(str::to_owned)
    };
    assert_eq!(root_of(&independent_text), root_of(&ours), "{independent_text} / {ours}");

    let original = std::fs::read_to_string(&export).unwrap();
    let tampered = files.write(
        "tampered.jsonl",
        &original.replacen("\"action\":\"project.create\"", "\"action\":\"project.delete\"", 1),
    );
    assert!(!run(&tampered).status.success());
}

/// A database written before tiles kept one row per node: `rampart migrate` moves them into
/// exactly the tiles an append would have written, and empties the old table.
#[tokio::test]
async fn node_rows_from_before_tiles_are_moved_into_tiles() {
    use audit::merkle::{CompactRange, leaf_hash};
    use audit::tiles::{Tile, TileId};
    use std::collections::BTreeMap;

    let instance = Instance::sqlite();
    instance.init();
    let organization = uuid::Uuid::new_v4();
    let mut tree = CompactRange::new_empty(0);
    let mut nodes = Vec::new();
    let mut expected: BTreeMap<TileId, Tile> = BTreeMap::new();
    for index in 0..1_000u64 {
        tree.append(leaf_hash(&index.to_be_bytes()), &mut |node, hash| {
            let id = TileId::of(node);
            expected.entry(id).or_default().push(id, node, hash).unwrap();
            nodes.push((node, hash));
        })
        .unwrap();
    }
    let url = format!("sqlite://{}", instance.database_path().display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    for (node, hash) in &nodes {
        sqlx::query(
            "INSERT INTO audit_nodes (organization_id, level, idx, hash) VALUES (?, ?, ?, ?)",
        )
        .bind(organization)
        .bind(i64::from(node.level))
        .bind(node.index as i64)
        .bind(hash.as_slice())
        .execute(&pool)
        .await
        .unwrap();
    }
    pool.close().await;

    let output = instance.run(&["migrate"], None);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let left: (i64,) =
        sqlx::query_as("SELECT count(*) FROM audit_nodes").fetch_one(&pool).await.unwrap();
    assert_eq!(left.0, 0, "the node rows are gone");
    let rows: Vec<(i64, i64, Vec<u8>)> = sqlx::query_as(
        "SELECT level, idx, hashes FROM audit_tiles WHERE organization_id = ? ORDER BY level, idx",
    )
    .bind(organization)
    .fetch_all(&pool)
    .await
    .unwrap();
    let moved: BTreeMap<TileId, Vec<u8>> = rows
        .into_iter()
        .map(|(level, index, bytes)| (TileId { level: level as u8, index: index as u64 }, bytes))
        .collect();
    let expected: BTreeMap<TileId, Vec<u8>> =
        expected.iter().map(|(id, tile)| (*id, tile.to_bytes())).collect();
    assert!(moved.len() > 1, "several tiles");
    assert_eq!(moved, expected);
}
