//! `ward`: runs the service and operates it.

mod ops;

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use tokio::net::TcpListener;
use uuid::Uuid;
use ward_api::config::{Config, ScannerSetting};
use ward_api::{Claims, Role, Service, server};
use ward_domain::ward_storage::Environment;
use ward_domain::{WorkspaceId, migration};

/// ward keeps protected health information safe at rest.
///
/// Configuration comes from `WARD_*` variables (see `ward check-config`); with none, `ward serve`
/// runs the embedded development default under ./ward-data.
#[derive(Debug, Parser)]
#[command(name = "ward", version, about)]
struct Cli {
    /// Print results as JSON (for scripts).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP service.
    Serve,
    /// Apply or show the database migrations.
    Migrate {
        #[command(subcommand)]
        action: Option<MigrateAction>,
    },
    /// Manage workspaces.
    Workspace {
        #[command(subcommand)]
        action: WorkspaceAction,
    },
    /// Data keys: generate a KEK, list, rotate, rewrap under a new KEK, re-encrypt.
    Keys {
        #[command(subcommand)]
        action: ops::KeysAction,
    },
    /// The object store: create and check the bucket, resolve unfinished uploads, purge.
    Storage {
        #[command(subcommand)]
        action: ops::StorageAction,
    },
    /// Encrypt or decrypt a file outside the service, in ward's stream format under a
    /// workspace's data key.
    File {
        #[command(subcommand)]
        action: ops::FileAction,
    },
    /// Import data from the seed application.
    Import {
        #[command(subcommand)]
        action: ops::ImportAction,
    },
    /// Whole-database backups, encrypted into the object store: create, list, verify, restore.
    Backup {
        #[command(subcommand)]
        action: ops::BackupAction,
    },
    /// The audit log: verify a workspace's hash chain.
    Audit {
        #[command(subcommand)]
        action: ops::AuditAction,
    },
    /// Development helpers (refused outside development).
    Dev {
        #[command(subcommand)]
        action: DevAction,
    },
    /// Check the configuration: names every missing, weak or default setting; exits non-zero
    /// when there is one outside development.
    CheckConfig,
}

#[derive(Debug, Subcommand)]
enum MigrateAction {
    /// Apply every pending migration (the default).
    Up,
    /// List the migrations and whether each is applied.
    Status,
}

#[derive(Debug, Subcommand)]
enum WorkspaceAction {
    /// Create a workspace and print its id.
    Create {
        /// Its name.
        name: String,
        /// Its storage quota in bytes (10 GiB when not given).
        #[arg(long)]
        quota_bytes: Option<u64>,
    },
}

#[derive(Debug, Subcommand)]
enum DevAction {
    /// Print a bearer token for the development service.
    Token {
        /// The workspace (the embedded default's development workspace when not given).
        #[arg(long)]
        workspace: Option<Uuid>,
        /// The user id the token names.
        #[arg(long, default_value = "dev")]
        user: String,
        /// The role.
        #[arg(long, value_enum, default_value = "member")]
        role: RoleArg,
        /// Minutes until the token expires.
        #[arg(long, default_value_t = 60 * 12)]
        minutes: u64,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RoleArg {
    Member,
    Admin,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logs();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ward: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ward: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// JSON log lines on stderr (stdout is for command output), `info` unless `RUST_LOG` says
/// otherwise.
fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::CheckConfig => return Ok(check_config(cli.json)),
        Command::Serve => serve().await?,
        Command::Keys { action } => ops::keys(action, cli.json).await?,
        Command::Storage { action } => ops::storage(action, cli.json).await?,
        Command::File { action } => ops::file(action, cli.json).await?,
        Command::Import { action } => {
            if !ops::import(action, cli.json).await? {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Backup { action } => {
            if !ops::backup(action, cli.json).await? {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Audit { action } => {
            if !ops::audit(action, cli.json).await? {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Migrate { action } => {
            migrate(action.unwrap_or(MigrateAction::Up), cli.json).await?
        }
        Command::Workspace {
            action: WorkspaceAction::Create { name, quota_bytes },
        } => {
            let service = ops::open().await?;
            let ws = service
                .domain()
                .workspaces()
                .create(&name, quota_bytes)
                .await?;
            if cli.json {
                println!(
                    "{}",
                    serde_json::json!({ "workspace_id": ws.id.to_string(), "quota_bytes": ws.quota_bytes })
                );
            } else {
                println!("{}", ws.id);
            }
        }
        Command::Dev {
            action:
                DevAction::Token {
                    workspace,
                    user,
                    role,
                    minutes,
                },
        } => {
            let config = Config::from_env()?;
            if config.environment != Environment::Development {
                bail!(
                    "`ward dev token` works in development only (WARD_ENV is {})",
                    config.environment.as_str()
                );
            }
            let service = Service::open(&config).await?;
            let workspace = match workspace {
                Some(w) => WorkspaceId::from(w),
                None => development_workspace(&service, &config.data_dir).await?,
            };
            let now = ward_api::auth::unix_now();
            let claims = Claims {
                sub: user,
                workspace_id: workspace.as_uuid(),
                role: match role {
                    RoleArg::Member => Role::Member,
                    RoleArg::Admin => Role::Admin,
                },
                exp: now + minutes * 60,
                iat: Some(now),
            };
            let token = service.keys().issue(&claims)?;
            if cli.json {
                println!(
                    "{}",
                    serde_json::json!({ "token": token, "workspace_id": workspace.to_string(), "expires_at": claims.exp })
                );
            } else {
                println!("{token}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn serve() -> Result<()> {
    let config = Config::from_env()?;
    if config.is_embedded() {
        warn_development(&config);
    }
    if config.scanner == ScannerSetting::Off {
        warn_unscanned();
    }
    let service = Service::open(&config).await?;
    if config.is_embedded() {
        let ws = development_workspace(&service, &config.data_dir).await?;
        tracing::info!(workspace = %ws, "development workspace");
    }
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let local = listener.local_addr()?;
    tracing::info!(address = %local, environment = config.environment.as_str(), "ward is serving");
    if config.is_embedded() {
        eprintln!("get a token with:  cargo run -p ward-api -- dev token   (or `ward dev token`)");
        let scheme = if config.tls.is_some() {
            "https"
        } else {
            "http"
        };
        eprintln!("ward is serving on {scheme}://{local}");
    }
    server::serve(
        listener,
        service,
        server::shutdown_signal(),
        server::DRAIN_DEADLINE,
    )
    .await?;
    tracing::info!("ward stopped");
    Ok(())
}

/// The loud warning of a development service that does not scan uploads for malware.
fn warn_unscanned() {
    let line = "=".repeat(78);
    eprintln!("{line}");
    eprintln!("  MALWARE SCANNING IS OFF: uploads are stored without being scanned.");
    eprintln!("  Development only. Set WARD_SCANNER=tcp://127.0.0.1:3310 (clamd) to scan;");
    eprintln!("  outside development ward refuses to start without a scanner.");
    eprintln!("{line}");
    tracing::warn!("malware scanning is off (WARD_SCANNER unset or off, development only)");
}

/// The loud warning of the embedded default.
fn warn_development(config: &Config) {
    let line = "=".repeat(78);
    eprintln!("{line}");
    eprintln!("  DEVELOPMENT MODE: NOT FOR PRODUCTION DATA");
    eprintln!(
        "  ward is running on its embedded default under {}:",
        config.data_dir.display()
    );
    eprintln!("  SQLite, a local object store, and keys generated into files beside the data.");
    eprintln!(
        "  Taken from the embedded default: {}",
        config.defaulted.join(", ")
    );
    eprintln!(
        "  Set WARD_ENV=production and configure these to run for real (`ward check-config`)."
    );
    eprintln!("{line}");
    tracing::warn!(defaulted = ?config.defaulted, "development mode: embedded default in use");
}

/// The embedded default's workspace: made on first use, its id kept in the data directory.
async fn development_workspace(service: &Service, data_dir: &Path) -> Result<WorkspaceId> {
    let file = data_dir.join("development-workspace");
    if let Ok(text) = std::fs::read_to_string(&file) {
        let id: WorkspaceId = text
            .trim()
            .parse()
            .context("reading the development workspace id")?;
        if service.domain().workspaces().get(id).await.is_ok() {
            return Ok(id);
        }
    }
    let ws = service
        .domain()
        .workspaces()
        .create("Development", None)
        .await?;
    std::fs::write(&file, format!("{}\n", ws.id))
        .with_context(|| format!("writing {}", file.display()))?;
    Ok(ws.id)
}

async fn migrate(action: MigrateAction, json: bool) -> Result<()> {
    let config = Config::from_env()?;
    if config.is_embedded() {
        ward_api::config::create_private_dir(&config.data_dir)?;
    }
    let db = ward_domain::connect(&config.database_url).await?;
    match action {
        MigrateAction::Up => {
            let applied = migration::up(&db).await?;
            if json {
                println!("{}", serde_json::json!({ "applied": applied }));
            } else {
                println!("{applied} migration(s) applied");
            }
        }
        MigrateAction::Status => {
            for m in migration::status(&db).await? {
                if json {
                    println!(
                        "{}",
                        serde_json::json!({ "name": m.name, "applied": m.applied })
                    );
                } else {
                    println!(
                        "{} {}",
                        if m.applied { "applied" } else { "pending" },
                        m.name
                    );
                }
            }
        }
    }
    Ok(())
}

/// `ward check-config`: every problem, then the exit status.
fn check_config(json: bool) -> ExitCode {
    let (environment, problems) = match Config::from_env() {
        Ok(c) => {
            let problems: Vec<String> = c
                .defaulted
                .iter()
                .map(|name| format!("{name} is not set: the embedded development default is used"))
                .collect();
            (c.environment, problems)
        }
        Err(ward_api::Error::Config { problems }) => (Environment::Production, problems),
        Err(e) => (Environment::Production, vec![e.to_string()]),
    };
    if json {
        println!(
            "{}",
            serde_json::json!({ "environment": environment.as_str(), "problems": problems })
        );
    } else if problems.is_empty() {
        println!("configuration is complete ({})", environment.as_str());
    } else {
        for p in &problems {
            println!("- {p}");
        }
    }
    if problems.is_empty() || environment == Environment::Development {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
