//! Stores for the conformance suite: a fresh SQLite file, and a fresh PostgreSQL schema when
//! `RAMPART_TEST_POSTGRES_URL` is set, so that runs never collide.

use std::future::Future;

use store::{Store, StoreOptions};

/// Run `check` against a fresh, migrated store of every available backend.
pub async fn with_each_backend<F, Fut>(check: F)
where
    F: Fn(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let directory = tempfile::tempdir().unwrap();
    let sqlite = Store::open_sqlite(&directory.path().join("rampart.db"), &StoreOptions::default())
        .await
        .unwrap();
    sqlite.migrate().await.unwrap();
    check(sqlite.clone()).await;
    sqlite.close().await;

    match std::env::var("RAMPART_TEST_POSTGRES_URL") {
        Ok(url) => {
            let (store, schema) = fresh_postgres_schema(&url).await;
            check(store.clone()).await;
            store.close().await;
            drop_schema(&url, &schema).await;
        }
        Err(_) => eprintln!("RAMPART_TEST_POSTGRES_URL is not set: PostgreSQL part skipped"),
    }
}

async fn fresh_postgres_schema(url: &str) -> (Store, String) {
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let admin = Store::open_postgres(url, &StoreOptions::default()).await.unwrap();
    let Store::Postgres(pool) = &admin else { unreachable!() };
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(pool)
        .await
        .unwrap();
    admin.close().await;
    let options = StoreOptions { postgres_schema: Some(schema.clone()), ..StoreOptions::default() };
    let store = Store::open_postgres(url, &options).await.unwrap();
    store.migrate().await.unwrap();
    (store, schema)
}

async fn drop_schema(url: &str, schema: &str) {
    let admin = Store::open_postgres(url, &StoreOptions::default()).await.unwrap();
    let Store::Postgres(pool) = &admin else { unreachable!() };
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(pool)
        .await
        .unwrap();
    admin.close().await;
}
