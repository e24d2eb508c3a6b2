//! `rampart`: the server and its command line. The only crate that reads the environment,
//! the config file and the wall clock.

mod audit_command;
mod backup_command;
mod backup_file;
mod config;
mod intake_config;
mod mask_command;
mod master_key;
mod outbox;
mod pepper_file;
mod smtp;
mod vuln_command;
mod webhook;

use std::io::{IsTerminal as _, Read as _};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use api::{ApiLimits, ApiState, Metrics};
use app::{App, InitializeRequest, PasswordHasher};
use base::Clock;
use clap::{Parser, Subcommand};
use config::Config;
use store::{Store, StoreOptions};
use time::OffsetDateTime;

/// jemalloc instead of the system allocator: event intake and detection allocate and free
/// small JSON values per event, where the system allocator's locking and consolidation
/// showed in profiles of the server. The events of a batch are parsed on one thread and
/// freed on another once evaluated; there jemalloc gave the detection benchmark 10 % more
/// events per CPU-second than mimalloc (which zeroed fresh huge pages for each batch), and
/// the same rate where one thread parses, evaluates and frees (the `throughput` example).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Rampart enforces and evidences the security measures of a GDPR TOM annex: identities and
/// access, a tamper-evident audit log, monitoring, information protection and assets.
#[derive(Debug, Parser)]
#[command(name = "rampart", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTTP API (applies pending migrations first; sets Rampart up on a first start).
    Serve {
        /// TOML configuration file (see docs/configuration.md).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Create the provider organisation, its owner and a first API key, for scripted set-up.
    Init {
        /// Name of the provider's own organisation (its members are the staff).
        #[arg(long, value_name = "NAME")]
        organization: String,
        /// Email address of the owner account.
        #[arg(long, value_name = "EMAIL")]
        email: String,
        /// Read the owner's password (15 to 128 characters) from standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Apply pending schema migrations and exit.
    Migrate {
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// The tamper-evident audit log: offline verification, signing key rotation.
    Audit {
        #[command(subcommand)]
        command: audit_command::AuditCommand,
    },
    /// Backups of Rampart's database: create (consistent, encrypted), verify, restore, and
    /// recorded restore tests.
    Backup {
        #[command(subcommand)]
        command: backup_command::BackupCommand,
    },
    /// Vulnerabilities: scan an SBOM or lockfile offline (a CI gate).
    Vuln {
        #[command(subcommand)]
        command: vuln_command::VulnCommand,
    },
    /// Mask a production extract (pg_dump plain SQL, CSV, JSON Lines) into safe test data.
    Mask(mask_command::MaskArgs),
}

/// The wall clock, to the microsecond (what both databases store).
struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods, reason = "the binary is where the wall clock is read")]
    fn now(&self) -> OffsetDateTime {
        let now = OffsetDateTime::now_utc();
        now.replace_nanosecond(now.nanosecond() / 1_000 * 1_000).unwrap_or(now)
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // Offline tools with exit statuses of their own, no runtime needed.
    let cli = match cli.command {
        Command::Vuln { command } => return vuln_command::run(command),
        Command::Mask(args) => return mask_command::run(args),
        command => Cli { command },
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { config } => serve(load_config(config)?).await,
        Command::Init { organization, email, password_stdin, json, config } => {
            let config = load_config(config)?;
            let password = if password_stdin { Some(read_password()?) } else { None };
            init(config, organization, email, password, json).await
        }
        Command::Audit { command } => audit_command::run(command).await,
        Command::Backup { command } => backup_command::run(command).await,
        Command::Vuln { .. } | Command::Mask(_) => {
            anyhow::bail!("this command runs without the server runtime")
        }
        Command::Migrate { config } => {
            let config = load_config(config)?;
            let store = open_store(&config).await?;
            store.close().await;
            println!("migrations applied to {}", describe(&config));
            Ok(())
        }
    }
}

pub(crate) fn load_config(file: Option<PathBuf>) -> anyhow::Result<Config> {
    Config::load(file.as_deref(), |name| std::env::var(name).ok())
}

pub(crate) fn describe(config: &Config) -> String {
    match &config.database_url {
        Some(_) => "the configured database".to_owned(),
        None => config.database_location(),
    }
}

fn read_password() -> anyhow::Result<String> {
    let mut input = String::new();
    std::io::stdin()
        .take(4096)
        .read_to_string(&mut input)
        .context("cannot read the password from standard input")?;
    Ok(input.trim_end_matches(['\r', '\n']).to_owned())
}

/// Open the configured database and bring its schema up to date.
pub(crate) async fn open_store(config: &Config) -> anyhow::Result<Store> {
    let options = StoreOptions {
        max_connections: config.database.max_connections,
        busy_timeout: Duration::from_millis(config.database.busy_timeout_ms),
        postgres_schema: None,
    };
    let store = match &config.database_url {
        Some(url) => Store::open_url(url, &options).await?,
        None => {
            std::fs::create_dir_all(&config.data_dir).with_context(|| {
                format!("cannot create the data directory {}", config.data_dir.display())
            })?;
            Store::open_sqlite(&config.data_dir.join("rampart.db"), &options).await?
        }
    };
    store.migrate().await?;
    let moved = app::move_audit_nodes_to_tiles(&store).await?;
    if moved > 0 {
        tracing::info!(organizations = moved, "audit subtree hashes moved into tiles");
    }
    Ok(store)
}

pub(crate) fn build_app(config: &Config, store: Store) -> anyhow::Result<App> {
    let passwords = PasswordHasher::new(
        config.passwords.argon2_memory_kib,
        config.passwords.argon2_iterations,
        config.passwords.argon2_parallelism,
        config.passwords.max_concurrent_hashes,
    )?;
    let passwords = match &config.passwords.pepper_file {
        Some(file) => passwords.with_peppers(pepper_file::load(file)?)?,
        None => passwords,
    };
    let passwords = match &config.passwords.breached_ranges_dir {
        Some(folder) => passwords.with_breached_ranges(folder.clone()),
        None => passwords,
    };
    let cache = Duration::from_secs(config.auth.api_key_cache_seconds);
    let master_key = master_key::load_or_create(
        std::env::var("RAMPART_MASTER_KEY").ok(),
        &config.master_key_file(),
    )?;
    let policy = app::SessionPolicy {
        idle_timeout: time::Duration::minutes(to_i64(config.auth.session_idle_minutes)),
        absolute_lifetime: time::Duration::hours(to_i64(config.auth.session_lifetime_hours)),
        step_up_window: time::Duration::minutes(to_i64(config.auth.step_up_minutes)),
        ..app::SessionPolicy::default()
    };
    let mailer: Arc<dyn app::Mailer> = match (config.auth.mail.as_str(), &config.smtp) {
        ("smtp", Some(smtp)) => {
            let password = smtp.password(|name| std::env::var(name).ok())?;
            Arc::new(smtp::SmtpMailer::new(smtp, password)?)
        }
        _ => Arc::new(outbox::OutboxMailer::new(config.data_dir.join("outbox"))),
    };
    let notifications = &config.notifications;
    let transport = Arc::new(webhook::HttpWebhookTransport::new(
        notifications.allow_private_targets,
        Duration::from_secs(notifications.timeout_seconds),
    ));
    let settings = app::NotificationSettings {
        allow_http: notifications.allow_http,
        max_attempts: notifications.max_attempts,
        retry_after: time::Duration::seconds(to_i64(notifications.retry_seconds)),
    };
    let app = App::new(store, Arc::new(SystemClock), passwords)
        .with_api_key_cache(cache)
        .with_audit_signing(&config.audit.deployment_name, master_key)
        .with_identity(policy, mailer, &config.auth.public_url, config.auth.signup == "open")
        .with_event_intake(config.intake.settings())
        .with_notifications(transport, settings);
    Ok(match config.relying_party()? {
        Some(relying_party) => app.with_passkeys(relying_party),
        None => app,
    })
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn init_logging(config: &Config) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log.level)
        .with_context(|| format!("invalid value for `log.level` ({:?})", config.log.level))?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let installed = if config.log.format == "json" {
        builder.json().flatten_event(true).with_current_span(true).try_init()
    } else {
        builder.with_ansi(std::io::stderr().is_terminal()).try_init()
    };
    installed.map_err(|error| anyhow::anyhow!("cannot install the logger: {error}"))
}

async fn init(
    config: Config,
    organization_name: String,
    owner_email: String,
    owner_password: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    let store = open_store(&config).await?;
    let app = build_app(&config, store.clone())?;
    let result =
        app.initialize(InitializeRequest { organization_name, owner_email, owner_password }).await;
    store.close().await;
    let done = result?;
    if json {
        let output = serde_json::json!({
            "organization": { "id": done.organization.id, "name": done.organization.name.as_str() },
            "owner": { "id": done.owner_id, "email": done.owner_email },
            "api_key": { "access_key": done.api_key.id, "secret": done.api_key.secret },
        });
        println!("{output}");
    } else {
        println!(
            "Initialized organization {:?} ({})",
            done.organization.name.as_str(),
            done.organization.id
        );
        println!("Owner: {} ({})", done.owner_email, done.owner_id);
        println!("API key (shown once; Rampart keeps only its hash):");
        println!("  access key: {}", done.api_key.id);
        println!("  secret:     {}", done.api_key.secret);
        println!("Use it as: Authorization: Bearer <secret>");
    }
    Ok(())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    init_logging(&config)?;
    let address = config.listen_address()?;
    let store = open_store(&config).await?;
    let app = build_app(&config, store.clone())?;
    let app = match &config.security_txt {
        Some(security_txt) => app.with_security_txt(security_txt.record(SystemClock.now())?),
        None => app,
    };
    let app = app.with_report_limits(app::ReportLimits {
        per_client: config.incidents.reports_per_client_per_hour,
        global: config.incidents.reports_per_hour,
        window: time::Duration::hours(1),
    });

    let bootstrap = app
        .bootstrap_if_empty(&config.bootstrap.organization_name, &config.bootstrap.owner_email)
        .await?;

    let verifier_key = app.ensure_audit_signing_key().await?;
    tracing::info!(%verifier_key, "audit checkpoints are signed with this key");
    match app.relying_party() {
        Some(relying_party) => tracing::info!(
            rp_id = relying_party.rp_id(),
            origins = ?relying_party.origins(),
            "passkeys are enabled"
        ),
        None => tracing::warn!(
            public_url = %config.auth.public_url,
            "passkeys are off: `auth.public_url` names no domain and `[passkeys]` is not set"
        ),
    }
    let audit_tasks = tokio::spawn(audit_housekeeping(app.clone(), config.audit.clone()));
    let review_tasks = tokio::spawn(access_review_schedules(app.clone()));
    let detection_task =
        tokio::spawn(app::run_detection_every(app.clone(), Duration::from_secs(2)));
    // Notifications go out apart from detection, so a slow receiver never delays it.
    let notification_task =
        tokio::spawn(app::run_notifications_every(app.clone(), Duration::from_secs(1)));
    let evidence_tasks = tokio::spawn(daily_evidence(app.clone()));
    let retention_tasks = tokio::spawn(daily_retention(app.clone()));
    let incident_tasks = tokio::spawn(incident_deadlines(
        app.clone(),
        Duration::from_secs(config.incidents.deadline_check_seconds),
    ));
    let intake_tasks = start_intake(&app, &config).await?;

    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    let bound = listener.local_addr()?;
    if let Some(bootstrap) = bootstrap {
        print_setup_instructions(&bootstrap, bound);
    }
    let limits = ApiLimits {
        max_body_bytes: config.http.max_body_bytes,
        request_timeout: Duration::from_secs(config.http.request_timeout_seconds),
    };
    let router = api::router(ApiState { app, metrics: Arc::new(Metrics::new()) }, &limits);
    tracing::info!(address = %bound, backend = store.backend().as_str(), "listening");
    println!("listening on http://{bound}");

    let grace = Duration::from_secs(config.http.shutdown_grace_seconds);
    let (stop_sender, stop_receiver) = tokio::sync::oneshot::channel::<()>();
    let stop = shutdown_signal()?;
    let server = tokio::spawn(api::serve(listener, router, async move {
        stop.await;
        tracing::info!("shutting down: finishing in-flight requests");
        let _ = stop_sender.send(());
    }));
    let outcome = tokio::select! {
        served = server => served.context("server task failed")?.context("server failed"),
        () = async {
            let _ = stop_receiver.await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!("in-flight requests did not finish within the grace period");
            Ok(())
        }
    };
    audit_tasks.abort();
    review_tasks.abort();
    detection_task.abort();
    notification_task.abort();
    evidence_tasks.abort();
    retention_tasks.abort();
    incident_tasks.abort();
    for task in intake_tasks {
        task.abort();
    }
    store.close().await;
    tracing::info!("stopped");
    outcome
}

/// Sign a checkpoint for each log that grew, every second; check the logs' integrity at start
/// (after a crash, say) and then at the configured interval.
async fn audit_housekeeping(app: App, config: config::AuditConfig) {
    let mut signing = tokio::time::interval(Duration::from_secs(1));
    signing.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let every = Duration::from_secs(config.integrity_check_seconds.max(1));
    let mut checking = tokio::time::interval(every);
    checking.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = signing.tick() => {
                if let Err(error) = app.sign_pending_checkpoints().await {
                    tracing::error!(%error, "could not sign audit checkpoints");
                }
            }
            _ = checking.tick(), if config.integrity_check_seconds > 0 => {
                match app.check_audit_integrity(config.integrity_recent_entries).await {
                    Ok(failures) if failures.is_empty() => tracing::debug!("audit logs intact"),
                    Ok(failures) => tracing::error!(n = failures.len(), "audit integrity failures"),
                    Err(error) => tracing::error!(%error, "could not check audit integrity"),
                }
            }
        }
    }
}

/// Start the access reviews whose schedule is due and end the guest memberships past their
/// expiry, at start and then hourly; a task of its own, so that snapshotting a large
/// organisation never delays checkpoint signing.
async fn access_review_schedules(app: App) {
    let mut reviewing = tokio::time::interval(Duration::from_secs(60 * 60));
    reviewing.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        reviewing.tick().await;
        match app.start_due_reviews().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(n, "started scheduled access reviews"),
            Err(error) => tracing::error!(%error, "could not start scheduled access reviews"),
        }
        match app.expire_guests().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(n, "ended expired guest memberships"),
            Err(error) => tracing::error!(%error, "could not end expired guest memberships"),
        }
    }
}

/// Evaluate the evidence checks of every organisation that keeps registers, at start and then
/// daily, so that the live annex never rests on results older than its checks allow.
async fn daily_evidence(app: App) {
    let mut running = tokio::time::interval(Duration::from_secs(24 * 60 * 60));
    running.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        running.tick().await;
        match app.run_daily_evidence().await {
            Ok(n) => tracing::info!(n, "evidence checks evaluated"),
            Err(error) => tracing::error!(%error, "could not run the evidence checks"),
        }
    }
}

/// Apply every organisation's retention rules to Rampart's own data, at start and then
/// daily; each run is recorded as evidence.
async fn daily_retention(app: App) {
    let mut running = tokio::time::interval(Duration::from_secs(24 * 60 * 60));
    running.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        running.tick().await;
        match app.run_daily_retention().await {
            Ok(n) => tracing::info!(n, "retention rules applied"),
            Err(error) => tracing::error!(%error, "could not apply the retention rules"),
        }
    }
}

fn print_setup_instructions(bootstrap: &app::Bootstrap, address: std::net::SocketAddr) {
    println!(
        "First start: created the provider organization {:?} and its owner {}.",
        bootstrap.organization.name.as_str(),
        bootstrap.owner_email
    );
    let expires_at = bootstrap
        .expires_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| bootstrap.expires_at.to_string());
    println!("Finish set-up before {expires_at} with this one-time link (15+ character password):");
    println!("  curl -sS -X POST http://{address}/v1/setup -H 'content-type: application/json' \\");
    println!(
        "    -d '{{\"token\":\"{}\",\"password\":\"<your password>\"}}'",
        bootstrap.setup_token
    );
    println!("The answer holds the owner's first API key.");
}

/// Install the SIGINT and SIGTERM handlers now (before the server answers anything, so that
/// a signal sent as soon as it is ready is a graceful stop, not the default kill), and return
/// the future that completes at the first of them.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot install the SIGTERM handler")?;
    #[cfg(unix)]
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context("cannot install the SIGINT handler")?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = terminate.recv() => {},
            _ = interrupt.recv() => {},
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    })
}

/// The GDPR Article 33 notices and the security.txt expiry warning, checked periodically.
async fn incident_deadlines(app: App, every: Duration) {
    loop {
        if let Err(error) = app.check_incident_deadlines().await {
            tracing::error!(%error, "incident deadline check failed");
        }
        if let Err(error) = app.check_security_txt_expiry().await {
            tracing::error!(%error, "security.txt expiry check failed");
        }
        tokio::time::sleep(every).await;
    }
}

/// Detection over ingested events (with the retention purge), the rules directory and its
/// reloads, and the syslog listener when configured.
async fn start_intake(
    app: &App,
    config: &Config,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let mut tasks =
        vec![tokio::spawn(app::run_event_detection_every(app.clone(), Duration::from_secs(2)))];
    if let Some(dir) = &config.rules.dir {
        let source =
            app::RuleDirectory { dir: dir.clone(), pipeline_files: config.rules.pipelines.clone() };
        // A directory that cannot be read at start is an error to fix, not to run without.
        app.reload_rules_directory(&source)
            .await
            .with_context(|| format!("cannot load the rules directory {}", dir.display()))?;
        let every = Duration::from_secs(config.rules.reload_seconds);
        tasks.push(tokio::spawn(app::watch_rules_directory(app.clone(), source, every)));
    }
    let syslog = &config.intake.syslog;
    if syslog.enabled {
        let organization_id = syslog
            .organization_id
            .as_deref()
            .and_then(|id| id.parse().ok())
            .context("invalid value for `intake.syslog.organization_id`")?;
        let settings = app::SyslogSettings {
            organization_id,
            product: syslog.product.clone().unwrap_or_else(|| "linux".to_owned()),
            ..app::SyslogSettings::default()
        };
        let udp = match &syslog.udp {
            Some(address) => Some(
                tokio::net::UdpSocket::bind(address)
                    .await
                    .with_context(|| format!("cannot listen for syslog on udp {address}"))?,
            ),
            None => None,
        };
        let tcp = match &syslog.tcp {
            Some(address) => Some(
                tokio::net::TcpListener::bind(address)
                    .await
                    .with_context(|| format!("cannot listen for syslog on tcp {address}"))?,
            ),
            None => None,
        };
        tracing::info!(udp = ?syslog.udp, tcp = ?syslog.tcp, "listening for syslog");
        let listener = app::SyslogListener::start(app.clone(), settings, udp, tcp);
        tasks.extend(listener.into_tasks());
    }
    Ok(tasks)
}
