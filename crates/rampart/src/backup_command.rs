//! `rampart backup …`: consistent, encrypted, verifiable copies of Rampart's database, their
//! restore, and recorded restore tests (docs/backup.md).

use std::fs::File;
use std::io::{BufWriter, Read, Write as _};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, bail};
use clap::Subcommand;
use sha2::{Digest as _, Sha256};
use store::{Backend, RowCounts, Store, StoreOptions, TableFrame};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::backup_file::{BackupReader, BackupWriter, FrameKind, Manifest, SEGMENT_SIZE, Summary};
use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Write an encrypted, consistent copy of the database to a new file (Rampart may keep
    /// serving meanwhile).
    Create {
        /// The backup file to write; it must not exist.
        #[arg(long, value_name = "FILE")]
        output: PathBuf,
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Check a backup without restoring it: every segment authenticated with the master key,
    /// every table's rows counted against the backup's summary.
    Verify {
        /// The backup file.
        file: PathBuf,
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Restore a backup into the configured database, which must not exist yet (SQLite) or be
    /// empty (PostgreSQL). With `--test`, restore into a scratch database instead, check it,
    /// discard it and record the test as evidence.
    Restore {
        /// The backup file.
        file: PathBuf,
        /// Restore into a scratch database, check it, and record the result.
        #[arg(long)]
        test: bool,
        /// With `--test`: the business-continuity record (its id) the test is recorded on.
        #[arg(long, value_name = "ID", requires = "test")]
        record: Option<uuid::Uuid>,
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

pub async fn run(command: BackupCommand) -> anyhow::Result<()> {
    match command {
        BackupCommand::Create { output, config } => {
            create(&crate::load_config(config)?, &output).await
        }
        BackupCommand::Verify { file, config } => {
            let config = crate::load_config(config)?;
            let contents = verify(&file, &master_key(&config)?)?;
            println!(
                "backup {} is intact: {} backup of {}, schema version {}, {} tables, {} rows",
                file.display(),
                contents.manifest.backend,
                contents.manifest.created_at,
                contents.manifest.schema_version,
                contents.summary.row_counts.len(),
                contents.summary.row_counts.values().sum::<u64>(),
            );
            Ok(())
        }
        BackupCommand::Restore { file, test: false, config, .. } => {
            restore(&crate::load_config(config)?, &file).await
        }
        BackupCommand::Restore { file, test: true, record, config } => {
            restore_test(&crate::load_config(config)?, &file, record).await
        }
    }
}

fn master_key(config: &Config) -> anyhow::Result<[u8; 32]> {
    let key = crate::master_key::load_existing(
        std::env::var("RAMPART_MASTER_KEY").ok(),
        &config.master_key_file(),
    )?;
    Ok(key.to_bytes())
}

fn store_options(schema: Option<String>) -> StoreOptions {
    StoreOptions { max_connections: 2, postgres_schema: schema, ..StoreOptions::default() }
}

/// The SQLite file the configuration names, or `None` on PostgreSQL.
fn sqlite_path(config: &Config) -> Option<PathBuf> {
    match &config.database_url {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => None,
        Some(url) => {
            let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"));
            Some(PathBuf::from(path.unwrap_or(url)))
        }
        None => Some(config.data_dir.join("rampart.db")),
    }
}

/// A new file only the owner can read, never an existing one.
fn create_private(path: &Path) -> anyhow::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).with_context(|| format!("cannot create {}", path.display()))
}

fn sha256_file(path: &Path) -> anyhow::Result<String> {
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0_u8; SEGMENT_SIZE];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            return Ok(hex::encode(hasher.finalize()));
        }
        hasher.update(&buffer[..n]);
    }
}

async fn create(config: &Config, output: &Path) -> anyhow::Result<()> {
    if output.exists() {
        bail!("{} already exists; choose a new file name", output.display());
    }
    let key = master_key(config)?;
    let store = crate::open_store(config).await?;
    let partial = output.with_extension("partial");
    let written = write_backup(&store, &key, &partial).await;
    store.close().await;
    let (size, summary) = match written {
        Ok(done) => done,
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            return Err(error);
        }
    };
    std::fs::rename(&partial, output)
        .with_context(|| format!("cannot move the backup to {}", output.display()))?;
    println!(
        "backup written to {}: {} tables, {} rows, {size} bytes, sha256 {}",
        output.display(),
        summary.row_counts.len(),
        summary.row_counts.values().sum::<u64>(),
        sha256_file(output)?,
    );
    Ok(())
}

async fn write_backup(
    store: &Store,
    key: &[u8; 32],
    path: &Path,
) -> anyhow::Result<(u64, Summary)> {
    let file = create_private(path)?;
    let mut writer = BackupWriter::new(BufWriter::new(file), key)?;
    #[allow(clippy::disallowed_methods, reason = "the command line reads the wall clock")]
    let created_at = OffsetDateTime::now_utc().format(&Rfc3339)?;
    let backend = match store.backend() {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let manifest = Manifest {
        format: 1,
        backend: backend.to_owned(),
        schema_version: store.schema_version().await?,
        created_at,
        rampart_version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    writer.json_frame(FrameKind::Manifest, &manifest)?;
    let summary = match store.backend() {
        Backend::Sqlite => {
            // The snapshot is written next to the backup, in a private folder, then removed.
            let parent = path.parent().filter(|parent| !parent.as_os_str().is_empty());
            let scratch = tempfile::Builder::new()
                .prefix(".rampart-backup-")
                .tempdir_in(parent.unwrap_or(Path::new(".")))
                .context("cannot create a scratch folder next to the backup")?;
            let snapshot = scratch.path().join("snapshot.db");
            store.snapshot_sqlite_into(&snapshot).await?;
            let copy = Store::open_sqlite(&snapshot, &store_options(None)).await?;
            let row_counts = copy.row_counts().await;
            copy.close().await;
            let row_counts = row_counts?;
            let mut file = File::open(&snapshot)?;
            let mut hasher = Sha256::new();
            let mut buffer = vec![0_u8; SEGMENT_SIZE];
            loop {
                let n = file.read(&mut buffer)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buffer[..n]);
                writer.frame(FrameKind::SqliteFile, &buffer[..n])?;
            }
            Summary { row_counts, sqlite_sha256: Some(hex::encode(hasher.finalize())) }
        }
        Backend::Postgres => {
            let row_counts = store
                .dump_postgres(|frame| match frame {
                    TableFrame::Start(table) => {
                        writer.frame(FrameKind::TableStart, table.as_bytes())
                    }
                    TableFrame::Rows(rows) => writer.frame(FrameKind::TableRows, &rows),
                    TableFrame::End(rows) => writer.frame(FrameKind::TableEnd, &rows.to_be_bytes()),
                })
                .await?;
            Summary { row_counts, sqlite_sha256: None }
        }
    };
    writer.json_frame(FrameKind::Summary, &summary)?;
    let (out, size) = writer.finish()?;
    let file = out.into_inner().map_err(|error| error.into_error())?;
    file.sync_all()?;
    Ok((size, summary))
}

/// A backup read from its file: what it says it holds, checked against what it holds.
pub struct Contents {
    pub manifest: Manifest,
    pub summary: Summary,
}

/// Reads a backup's frames in order and checks them as they pass.
struct Opened {
    reader: BackupReader<std::io::BufReader<File>>,
    manifest: Manifest,
    summary: Option<Summary>,
    seen: RowCounts,
    table: Option<(String, u64)>,
    sqlite: Sha256,
}

fn malformed(what: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, format!("the backup is damaged: {what}"))
}

impl Opened {
    fn open(path: &Path, key: &[u8; 32]) -> anyhow::Result<Self> {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let mut reader = BackupReader::new(std::io::BufReader::new(file), key)?;
        let first = reader.next_frame()?.ok_or_else(|| malformed("it holds nothing"))?;
        if first.kind != FrameKind::Manifest {
            bail!(malformed("it does not start with its manifest"));
        }
        let manifest: Manifest = serde_json::from_slice(&first.bytes).map_err(malformed)?;
        if manifest.format != 1 {
            bail!("backup format {} is not supported by this Rampart", manifest.format);
        }
        Ok(Self {
            reader,
            manifest,
            summary: None,
            seen: RowCounts::new(),
            table: None,
            sqlite: Sha256::new(),
        })
    }

    fn next(&mut self) -> std::io::Result<Option<crate::backup_file::Frame>> {
        if self.summary.is_some() {
            return match self.reader.next_frame().map_err(std::io::Error::other)? {
                None => Ok(None),
                Some(_) => Err(malformed("frames follow its summary")),
            };
        }
        let frame = self
            .reader
            .next_frame()
            .map_err(std::io::Error::other)?
            .ok_or_else(|| malformed("it ends without its summary (truncated)"))?;
        if frame.kind == FrameKind::Summary {
            if self.table.is_some() {
                return Err(malformed("a table is not complete"));
            }
            let summary: Summary = serde_json::from_slice(&frame.bytes).map_err(malformed)?;
            self.summary = Some(summary);
            return self.next();
        }
        Ok(Some(frame))
    }

    /// PostgreSQL backups: the next table frame, counted and checked.
    fn next_table_frame(&mut self) -> std::io::Result<Option<TableFrame>> {
        let Some(frame) = self.next()? else { return Ok(None) };
        match (frame.kind, &mut self.table) {
            (FrameKind::TableStart, None) => {
                let name = String::from_utf8(frame.bytes).map_err(malformed)?;
                if self.seen.contains_key(&name) {
                    return Err(malformed(format!("table {name} appears twice")));
                }
                self.table = Some((name.clone(), 0));
                Ok(Some(TableFrame::Start(name)))
            }
            (FrameKind::TableRows, Some((_, rows))) => {
                *rows += frame.bytes.iter().filter(|byte| **byte == b'\n').count() as u64;
                Ok(Some(TableFrame::Rows(frame.bytes)))
            }
            (FrameKind::TableEnd, Some((name, rows))) => {
                let declared = <[u8; 8]>::try_from(frame.bytes.as_slice())
                    .map(u64::from_be_bytes)
                    .map_err(|_| malformed("a table end is not a row count"))?;
                if declared != *rows {
                    return Err(malformed(format!(
                        "table {name} declares {declared} rows but holds {rows}"
                    )));
                }
                self.seen.insert(std::mem::take(name), declared);
                self.table = None;
                Ok(Some(TableFrame::End(declared)))
            }
            (kind, _) => {
                Err(malformed(format!("unexpected {kind:?} frame in a PostgreSQL backup")))
            }
        }
    }

    /// SQLite backups: the next piece of the database file.
    fn next_sqlite_chunk(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        let Some(frame) = self.next()? else { return Ok(None) };
        if frame.kind != FrameKind::SqliteFile {
            return Err(malformed(format!("unexpected {:?} frame in a SQLite backup", frame.kind)));
        }
        self.sqlite.update(&frame.bytes);
        Ok(Some(frame.bytes))
    }

    /// After the last frame: the summary, checked against what was read.
    fn finish(self) -> anyhow::Result<Contents> {
        let summary = self.summary.ok_or_else(|| malformed("it has no summary"))?;
        match self.manifest.backend.as_str() {
            "sqlite" => {
                let actual = hex::encode(self.sqlite.finalize());
                if summary.sqlite_sha256.as_deref() != Some(actual.as_str()) {
                    bail!(malformed("the database file's SHA-256 does not match its summary"));
                }
            }
            _ => {
                if self.seen != summary.row_counts {
                    bail!(malformed("the tables' row counts do not match its summary"));
                }
            }
        }
        Ok(Contents { manifest: self.manifest, summary })
    }
}

/// Read the whole backup, authenticating and counting everything.
pub fn verify(path: &Path, key: &[u8; 32]) -> anyhow::Result<Contents> {
    let mut opened = Opened::open(path, key)?;
    match opened.manifest.backend.as_str() {
        "sqlite" => while opened.next_sqlite_chunk()?.is_some() {},
        "postgres" => while opened.next_table_frame()?.is_some() {},
        other => bail!(malformed(format!("unknown backend {other:?}"))),
    }
    opened.finish()
}

/// Write a SQLite backup's database file to `target` (which must not exist) and check it.
async fn restore_sqlite_file(mut opened: Opened, target: &Path) -> anyhow::Result<Contents> {
    let mut file = BufWriter::new(create_private(target)?);
    while let Some(chunk) = opened.next_sqlite_chunk()? {
        file.write_all(&chunk)?;
    }
    let file = file.into_inner().map_err(|error| error.into_error())?;
    file.sync_all()?;
    let contents = opened.finish()?;
    let restored = Store::open_sqlite(target, &store_options(None)).await?;
    let checked = check_restored(&restored, &contents).await;
    restored.close().await;
    checked?;
    Ok(contents)
}

/// The restored database holds what the backup says, and this Rampart can run on it.
async fn check_restored(restored: &Store, contents: &Contents) -> anyhow::Result<()> {
    restored.check_integrity().await?;
    let version = restored.schema_version().await?;
    if version != contents.manifest.schema_version {
        bail!(
            "the restored schema is at version {version}, the backup says {}",
            contents.manifest.schema_version
        );
    }
    let counts = restored.row_counts().await?;
    if counts != contents.summary.row_counts {
        bail!("the restored tables' row counts differ from the backup's summary");
    }
    Ok(())
}

fn check_versions(manifest: &Manifest, latest: i64) -> anyhow::Result<()> {
    if manifest.schema_version > latest {
        bail!(
            "this backup's schema (version {}) is newer than this Rampart knows ({latest}); \
             restore it with Rampart {} or later",
            manifest.schema_version,
            manifest.rampart_version
        );
    }
    Ok(())
}

async fn restore(config: &Config, path: &Path) -> anyhow::Result<()> {
    let key = master_key(config)?;
    let opened = Opened::open(path, &key)?;
    let contents = match (opened.manifest.backend.as_str(), sqlite_path(config)) {
        ("sqlite", Some(target)) => {
            if target.exists() {
                bail!(
                    "{} already exists: stop Rampart, move the database away, and run the \
                     restore again",
                    target.display()
                );
            }
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            check_versions(&opened.manifest, Store::latest_schema_version(Backend::Sqlite))?;
            let restoring = target.with_extension("restoring");
            let _ = std::fs::remove_file(&restoring);
            match restore_sqlite_file(opened, &restoring).await {
                Ok(contents) => {
                    std::fs::rename(&restoring, &target)?;
                    contents
                }
                Err(error) => {
                    let _ = std::fs::remove_file(&restoring);
                    return Err(error);
                }
            }
        }
        ("postgres", None) => {
            let url = config.database_url.clone().unwrap_or_default();
            let target = Store::open_url(&url, &store_options(None)).await?;
            let restored = restore_postgres_into(&target, opened).await;
            target.close().await;
            restored?
        }
        (backend, _) => bail!(
            "this is a {backend} backup and the configuration names a {} database; restore it \
             with a configuration of the same kind",
            if sqlite_path(config).is_some() { "SQLite" } else { "PostgreSQL" }
        ),
    };
    println!(
        "restored {} tables, {} rows from the backup of {} into {}",
        contents.summary.row_counts.len(),
        contents.summary.row_counts.values().sum::<u64>(),
        contents.manifest.created_at,
        crate::describe(config),
    );
    Ok(())
}

/// Migrate an empty PostgreSQL schema to the backup's version and load its tables.
async fn restore_postgres_into(target: &Store, mut opened: Opened) -> anyhow::Result<Contents> {
    if !target.table_names().await?.is_empty() {
        bail!("the target database already has tables; restore into an empty database");
    }
    let latest = Store::latest_schema_version(target.backend());
    check_versions(&opened.manifest, latest)?;
    if opened.manifest.schema_version != latest {
        bail!(
            "this backup's schema is at version {} and this Rampart's at {latest}; restore it \
             with Rampart {}, then upgrade",
            opened.manifest.schema_version,
            opened.manifest.rampart_version
        );
    }
    target.migrate().await?;
    target.restore_postgres(|| opened.next_table_frame()).await?;
    let contents = opened.finish()?;
    check_restored(target, &contents).await?;
    Ok(contents)
}

async fn restore_test(
    config: &Config,
    path: &Path,
    record: Option<uuid::Uuid>,
) -> anyhow::Result<()> {
    let key = master_key(config)?;
    let started = Instant::now();
    let backup_sha256 = sha256_file(path)?;
    let opened = Opened::open(path, &key)?;
    let created_at = opened.manifest.created_at.clone();
    let mut failures = Vec::new();
    let contents = match restore_into_scratch(config, opened).await {
        Ok(contents) => Some(contents),
        Err(error) => {
            failures.push(format!("{error:#}"));
            None
        }
    };
    let (tables, rows) = contents.as_ref().map_or((0, 0), |contents| {
        (contents.summary.row_counts.len(), contents.summary.row_counts.values().sum())
    });
    let report = app::RestoreTestReport {
        backup_sha256,
        backup_created_at: created_at,
        tables,
        rows,
        failures,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    let store = crate::open_store(config).await?;
    let app = crate::build_app(config, store.clone())?;
    let recorded = app.record_restore_test(&report, record).await;
    store.close().await;
    recorded.context("the restore test ran but could not be recorded")?;
    if report.passed() {
        println!(
            "restore test passed: {tables} tables, {rows} rows restored and checked in {} ms; \
             recorded{}",
            report.duration_ms,
            record.map(|id| format!(" on continuity record {id}")).unwrap_or_default(),
        );
        Ok(())
    } else {
        bail!("restore test failed (recorded): {}", report.failures.join("; "))
    }
}

/// Restore into a scratch database, check it (row counts, structure, every organisation's
/// audit log), and discard it.
async fn restore_into_scratch(config: &Config, opened: Opened) -> anyhow::Result<Contents> {
    match (opened.manifest.backend.as_str(), sqlite_path(config)) {
        ("sqlite", _) => {
            let scratch = tempfile::Builder::new().prefix("rampart-restore-test-").tempdir()?;
            let target = scratch.path().join("rampart.db");
            let contents = restore_sqlite_file(opened, &target).await?;
            let restored = Store::open_sqlite(&target, &store_options(None)).await?;
            let audited = check_audit_logs(config, &restored).await;
            restored.close().await;
            audited?;
            Ok(contents)
        }
        ("postgres", None) => {
            let url = config.database_url.clone().unwrap_or_default();
            let live = Store::open_url(&url, &store_options(None)).await?;
            let schema = format!("rampart_restore_test_{}", uuid::Uuid::now_v7().simple());
            live.create_schema(&schema).await?;
            let checked = async {
                let scratch = Store::open_url(&url, &store_options(Some(schema.clone()))).await?;
                let restored = restore_postgres_into(&scratch, opened).await;
                let audited = match &restored {
                    Ok(_) => check_audit_logs(config, &scratch).await,
                    Err(_) => Ok(()),
                };
                scratch.close().await;
                audited?;
                restored
            }
            .await;
            let dropped = live.drop_schema(&schema).await;
            live.close().await;
            let contents = checked?;
            dropped?;
            Ok(contents)
        }
        ("postgres", Some(_)) => {
            bail!("a PostgreSQL backup is tested with a PostgreSQL configuration (database_url)")
        }
        (other, _) => bail!(malformed(format!("unknown backend {other:?}"))),
    }
}

async fn check_audit_logs(config: &Config, restored: &Store) -> anyhow::Result<()> {
    let app = crate::build_app(config, restored.clone())?;
    let failures = app.check_audit_integrity(1_000).await?;
    if !failures.is_empty() {
        let list: Vec<String> = failures
            .iter()
            .map(|failure| format!("organisation {}: {}", failure.organization_id, failure.reason))
            .collect();
        bail!("the restored audit logs do not verify: {}", list.join("; "));
    }
    Ok(())
}
