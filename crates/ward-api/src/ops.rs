//! The operator commands of `ward`: keys, storage, files, import and audit. Each opens the configured service
//! (database, store, KEK ring) and calls one job of ward-domain; long jobs report progress.

use std::io::IsTerminal as _;
use std::time::Instant;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::io::AsyncWriteExt as _;
use uuid::Uuid;
use ward_api::config::Config;
use ward_api::{Service, init_store};
use ward_crypto::stream::{StreamDecryptor, StreamEncryptor, read_header};
use ward_crypto::{DataKeySource as _, KeyMaterial, LegacyDecryptor};
use ward_domain::{
    Actor, DEFAULT_RETENTION, LegacyImport, Progress, RestoreOptions, RotationOptions, WorkspaceId,
    audit,
};

/// `ward keys …`
#[derive(Debug, Subcommand)]
pub(crate) enum KeysAction {
    /// Print a fresh 256-bit key in base64, for a KEK ring entry (`<version>:<key>:active`).
    Generate,
    /// List a workspace's data keys: id, wrapping KEK version, state, creation time.
    Status {
        /// The workspace.
        #[arg(long)]
        workspace: Uuid,
    },
    /// Make a new active data key for a workspace (new writes use it; older keys stay readable).
    Rotate {
        /// The workspace.
        #[arg(long)]
        workspace: Uuid,
    },
    /// Rewrap every data key under the KEK ring's active version (after adding a KEK version).
    Rewrap {
        /// Rows per batch.
        #[arg(long, default_value_t = ward_domain::DEFAULT_BATCH_SIZE)]
        batch_size: u32,
    },
    /// Re-encrypt a workspace's sealed fields and objects under its active data key (after
    /// `keys rotate`); resumable, safe to run on several machines at once.
    Reencrypt {
        /// The workspace.
        #[arg(long)]
        workspace: Uuid,
        /// Rows per batch.
        #[arg(long, default_value_t = ward_domain::DEFAULT_BATCH_SIZE)]
        batch_size: u32,
    },
}

/// `ward storage …`
#[derive(Debug, Subcommand)]
pub(crate) enum StorageAction {
    /// Create the bucket (or directory) with default encryption and public access blocked.
    Init,
    /// Check that the store answers and the bucket exists.
    Verify,
    /// Resolve uploads that never committed; with `--sweep`, also delete objects no row names.
    Reconcile {
        /// Also list the store and delete objects that have neither a row nor an upload intent.
        #[arg(long)]
        sweep: bool,
    },
    /// Delete the objects of attachments soft-deleted longer ago than the retention period.
    Purge {
        /// The retention period in days (30 by default).
        #[arg(long)]
        retention_days: Option<u32>,
    },
}

/// `ward file …`
#[derive(Debug, Subcommand)]
pub(crate) enum FileAction {
    /// Encrypt IN into OUT in ward's stream format under the workspace's active data key.
    Encrypt {
        /// The workspace whose key encrypts.
        #[arg(long)]
        workspace: Uuid,
        /// The plaintext file.
        input: PathBuf,
        /// The ward file to write (refused if it exists).
        output: PathBuf,
    },
    /// Decrypt a ward file IN into OUT (every chunk is authenticated; a file altered,
    /// truncated or made for another workspace is refused and OUT removed).
    Decrypt {
        /// The workspace the file was encrypted for.
        #[arg(long)]
        workspace: Uuid,
        /// The ward file.
        input: PathBuf,
        /// The plaintext file to write (refused if it exists).
        output: PathBuf,
    },
}

/// The context every `ward file` stream is bound to: the workspace, so a file only opens
/// under the workspace it was made for (and not as an attachment, nor an attachment as it).
fn file_context(ws: WorkspaceId) -> Vec<u8> {
    format!("ward/v1/cli-file:{ws}").into_bytes()
}

pub(crate) async fn file(action: FileAction, json: bool) -> Result<()> {
    let service = open().await?;
    let (workspace, input, output, encrypt) = match action {
        FileAction::Encrypt {
            workspace,
            input,
            output,
        } => (workspace, input, output, true),
        FileAction::Decrypt {
            workspace,
            input,
            output,
        } => (workspace, input, output, false),
    };
    let ws = WorkspaceId::from(workspace);
    service.domain().workspaces().get(ws).await?;
    let keys = service.domain().keys().source(ws);
    let context = file_context(ws);
    let mut reader = tokio::fs::File::open(&input)
        .await
        .with_context(|| format!("opening {}", input.display()))?;
    let out = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&output)
        .await
        .with_context(|| format!("creating {}", output.display()))?;
    let written: Result<u64> = async {
        if encrypt {
            let dek = keys.active_key().await?;
            let mut enc = StreamEncryptor::new(&dek, out, &context)?;
            let n = tokio::io::copy(&mut reader, &mut enc).await?;
            enc.shutdown().await?;
            Ok(n)
        } else {
            let header = read_header(&mut reader).await?;
            let dek = keys.key(header.key_id()).await?;
            let mut dec = StreamDecryptor::with_header(&dek, &header, reader, &context)?;
            let mut out = out;
            let n = tokio::io::copy(&mut dec, &mut out).await?;
            out.sync_all().await?;
            Ok(n)
        }
    }
    .await;
    match written {
        Ok(n) => {
            say(json, serde_json::json!({ "bytes": n }), || {
                format!(
                    "{} bytes {}",
                    n,
                    if encrypt { "encrypted" } else { "decrypted" }
                )
            });
            Ok(())
        }
        Err(e) => {
            // Nothing half-written is left behind.
            let _ = std::fs::remove_file(&output);
            bail!(
                "{}: {e}",
                if encrypt {
                    "encrypting"
                } else {
                    "decrypting (the file is not ward's for this workspace, or was altered)"
                }
            )
        }
    }
}

/// `ward import …`
#[derive(Debug, Subcommand)]
pub(crate) enum ImportAction {
    /// Import the seed application's clients and sessions from a JSON Lines export (format in
    /// the operator guide), re-sealed under the workspace's keys. Safe to run again: rows made
    /// before are found, not made twice. Refused rows are listed by line; exits non-zero when
    /// there is one.
    Legacy {
        /// The workspace to import into.
        #[arg(long)]
        workspace: Uuid,
        /// The seed's keys, `<version>:<base64 key>` per line, in a file readable by its owner
        /// only.
        #[arg(long)]
        keys: PathBuf,
        /// The export file (`/dev/stdin` reads standard input).
        input: PathBuf,
    },
}

pub(crate) async fn import(action: ImportAction, json: bool) -> Result<bool> {
    let ImportAction::Legacy {
        workspace,
        keys,
        input,
    } = action;
    let legacy = LegacyImport::new(
        LegacyDecryptor::from_file(&keys)
            .with_context(|| format!("loading the legacy keys from {}", keys.display()))?,
    );
    let service = open().await?;
    let ws = WorkspaceId::from(workspace);
    service.domain().workspaces().get(ws).await?;
    let operator = Actor::system("import");
    let file = tokio::fs::File::open(&input)
        .await
        .with_context(|| format!("opening {}", input.display()))?;
    let report = legacy
        .import_file(
            service.domain(),
            &operator,
            ws,
            tokio::io::BufReader::new(file),
            &progress_reporter("import"),
        )
        .await?;
    let failures: Vec<String> = report.failed.iter().map(ToString::to_string).collect();
    say(
        json,
        serde_json::json!({
            "clients_created": report.clients_created, "clients_existing": report.clients_existing,
            "sessions_created": report.sessions_created, "sessions_existing": report.sessions_existing,
            "failed_rows": report.failed_rows, "failed": failures,
        }),
        || {
            let mut text = format!(
                "clients: {} imported, {} found from an earlier run; sessions: {} imported, {} found; {} row(s) refused",
                report.clients_created,
                report.clients_existing,
                report.sessions_created,
                report.sessions_existing,
                report.failed_rows
            );
            for f in &failures {
                text.push_str("\n- ");
                text.push_str(f);
            }
            text
        },
    );
    Ok(report.failed_rows == 0)
}

/// `ward audit …`
#[derive(Debug, Subcommand)]
pub(crate) enum AuditAction {
    /// Check a workspace's audit hash chain; exits non-zero when it is broken.
    Verify {
        /// The workspace.
        #[arg(long)]
        workspace: Uuid,
    },
}

/// `ward backup …`
#[derive(Debug, Subcommand)]
pub(crate) enum BackupAction {
    /// Back up the whole database (every workspace), encrypted, into the object store; prints
    /// the backup id.
    Create,
    /// List the backups in the object store: id, time, engine, size.
    List,
    /// Verify a backup: decrypt it, check it against its manifest, restore it into a scratch
    /// database and check every audit chain there; exits non-zero when any check fails.
    Verify {
        /// The backup id.
        id: Uuid,
    },
    /// Restore a backup into a new database (never the one ward runs on), then check it.
    Restore {
        /// The backup id.
        id: Uuid,
        /// The target: `sqlite://path` (a file that must not exist) or `postgres://…` (an empty
        /// database). Read from WARD_RESTORE_DATABASE_URL when not given, so a password need
        /// not be on the command line.
        #[arg(long, env = "WARD_RESTORE_DATABASE_URL", hide_env_values = true)]
        database_url: String,
        /// Replace what the target holds (an existing SQLite file, or a PostgreSQL database's
        /// tables).
        #[arg(long)]
        force: bool,
    },
}

/// `ward backup …`: returns whether the command succeeded (a failed check is printed, with
/// `--json` as `{"ok": false, "error": …}`).
pub(crate) async fn backup(action: BackupAction, json: bool) -> Result<bool> {
    let config = Config::from_env()?;
    let service = Service::open(&config).await?;
    let backups = service
        .domain()
        .backups(Arc::clone(service.store()), service.proof().clone())
        .with_database_url(&config.database_url);
    let outcome = match action {
        BackupAction::Create => backups.create().await.map(|m| {
            say(
                json,
                serde_json::json!({
                    "ok": true,
                    "backup_id": m.backup_id.to_string(),
                    "created_at": m.created_at.format(&Rfc3339).unwrap_or_default(),
                    "engine": m.engine.as_str(),
                    "plaintext_bytes": m.plaintext_size,
                    "stored_bytes": m.stored_size,
                    "workspaces": m.workspaces.len(),
                }),
                || m.backup_id.to_string(),
            );
        }),
        BackupAction::List => backups.list().await.map(|all| {
            for b in all {
                let m = b.manifest.as_ref();
                let created = m.and_then(|m| m.created_at.format(&Rfc3339).ok());
                say(
                    json,
                    serde_json::json!({
                        "backup_id": b.id.to_string(),
                        "created_at": created,
                        "engine": m.map(|m| m.engine.as_str()),
                        "plaintext_bytes": m.map(|m| m.plaintext_size),
                        "stored_bytes": b.stored_bytes,
                        "workspaces": m.map(|m| m.workspaces.len()),
                        "problem": b.problem,
                    }),
                    || match (m, &b.problem) {
                        (Some(m), None) => format!(
                            "{}  {}  {}  {} bytes",
                            b.id,
                            created.unwrap_or_default(),
                            m.engine,
                            b.stored_bytes.unwrap_or_default()
                        ),
                        (_, problem) => {
                            format!("{}  UNUSABLE: {}", b.id, problem.as_deref().unwrap_or("?"))
                        }
                    },
                );
            }
        }),
        BackupAction::Verify { id } => backups.verify(id).await.map(|c| {
            say(
                json,
                serde_json::json!({
                    "ok": true,
                    "backup_id": c.backup_id.to_string(),
                    "engine": c.engine.as_str(),
                    "plaintext_bytes": c.plaintext_size,
                    "migrations": c.migrations,
                    "workspaces": c.workspaces,
                    "audit_events": c.audit_events,
                }),
                || {
                    format!(
                        "backup {} verified: {} bytes, {} workspace(s), {} audit event(s), chains intact",
                        c.backup_id, c.plaintext_size, c.workspaces, c.audit_events
                    )
                },
            );
        }),
        BackupAction::Restore {
            id,
            database_url,
            force,
        } => {
            let options = RestoreOptions::new().with_replace(force);
            backups.restore(id, &database_url, &options).await.map(|c| {
                say(
                    json,
                    serde_json::json!({
                        "ok": true,
                        "backup_id": c.backup_id.to_string(),
                        "engine": c.engine.as_str(),
                        "workspaces": c.workspaces,
                        "audit_events": c.audit_events,
                    }),
                    || {
                        format!(
                            "backup {} restored and checked: {} workspace(s), {} audit event(s)",
                            c.backup_id, c.workspaces, c.audit_events
                        )
                    },
                );
            })
        }
    };
    match outcome {
        Ok(()) => Ok(true),
        Err(e) if json => {
            println!(
                "{}",
                serde_json::json!({ "ok": false, "error": e.to_string() })
            );
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

/// Prints a result: one JSON line with `--json`, else the text.
fn say(json: bool, value: serde_json::Value, text: impl FnOnce() -> String) {
    if json {
        println!("{value}");
    } else {
        println!("{}", text());
    }
}

/// Progress of a long job: on a terminal a live line (spinner, table, count and rate) that
/// redraws in place; otherwise a plain line per batch, for logs.
fn progress_reporter(job: &'static str) -> impl Fn(Progress) + Send + Sync {
    let started = Instant::now();
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new_spinner();
        if let Ok(style) = ProgressStyle::with_template("{spinner} {prefix}: {msg} [{elapsed}]") {
            bar.set_style(style);
        }
        bar.set_prefix(job);
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    });
    move |p: Progress| {
        let seconds = started.elapsed().as_secs_f64().max(0.001);
        let line = format!(
            "{} {} done ({:.0}/s)",
            p.table,
            p.done,
            p.done as f64 / seconds
        );
        match &bar {
            Some(bar) => bar.set_message(line),
            None => eprintln!("{job}: {line}"),
        }
    }
}

pub(crate) async fn open() -> Result<Service> {
    let config = Config::from_env()?;
    Ok(Service::open(&config).await?)
}

pub(crate) async fn keys(action: KeysAction, json: bool) -> Result<()> {
    let operator = Actor::system("operator");
    match action {
        KeysAction::Generate => {
            let key = KeyMaterial::generate()?;
            say(
                json,
                serde_json::json!({ "key": key.to_base64().as_str() }),
                || key.to_base64().as_str().to_owned(),
            );
        }
        KeysAction::Status { workspace } => {
            let service = open().await?;
            let ws = WorkspaceId::from(workspace);
            service.domain().workspaces().get(ws).await?;
            for k in service.domain().keys().data_keys().list(ws).await? {
                let created = k.created_at.unix_timestamp();
                say(
                    json,
                    serde_json::json!({
                        "id": k.id.0, "kek_version": k.kek_id.0, "state": k.state.as_str(), "created_at": created,
                    }),
                    || {
                        format!(
                            "key {} under KEK {}: {} (created {})",
                            k.id.0, k.kek_id.0, k.state, k.created_at
                        )
                    },
                );
            }
        }
        KeysAction::Rotate { workspace } => {
            let service = open().await?;
            let ws = WorkspaceId::from(workspace);
            service.domain().workspaces().get(ws).await?;
            let id = service.domain().keys().rotate(ws).await?;
            say(json, serde_json::json!({ "active_key": id.0 }), || {
                format!(
                    "workspace {ws}: data key {} is now active; run `ward keys reencrypt --workspace {ws}`",
                    id.0
                )
            });
        }
        KeysAction::Rewrap { batch_size } => {
            let service = open().await?;
            let report = service
                .domain()
                .rotation()
                .rewrap_keys(
                    RotationOptions::new().with_batch_size(batch_size),
                    &progress_reporter("rewrap"),
                )
                .await?;
            say(
                json,
                serde_json::json!({ "rewrapped": report.rewrapped, "skipped": report.skipped }),
                || {
                    format!(
                        "{} data key(s) rewrapped, {} skipped",
                        report.rewrapped, report.skipped
                    )
                },
            );
        }
        KeysAction::Reencrypt {
            workspace,
            batch_size,
        } => {
            let service = open().await?;
            let ws = WorkspaceId::from(workspace);
            service.domain().workspaces().get(ws).await?;
            let options = RotationOptions::new().with_batch_size(batch_size);
            let rows = service
                .domain()
                .rotation()
                .reseal(&operator, ws, options, &progress_reporter("reencrypt"))
                .await?;
            let objects = service
                .attachments()
                .reseal_objects(&operator, ws, options, &progress_reporter("reencrypt"))
                .await?;
            let failed = rows.failed + objects.failed;
            say(
                json,
                serde_json::json!({ "rows": rows.total(), "objects": objects.total(), "failed": failed }),
                || {
                    format!(
                        "{} row(s) and {} object(s) re-encrypted, {failed} failed",
                        rows.total(),
                        objects.total()
                    )
                },
            );
            if failed > 0 {
                bail!("{failed} item(s) could not be re-encrypted (named by id in the log)");
            }
        }
    }
    Ok(())
}

pub(crate) async fn storage(action: StorageAction, json: bool) -> Result<()> {
    match action {
        StorageAction::Init => {
            let config = Config::from_env()?;
            let (lines, complete) = init_store(&config).await?;
            say(
                json,
                serde_json::json!({ "steps": lines, "complete": complete }),
                || lines.join("\n"),
            );
            if !complete {
                bail!("the store is not fully set up (see the steps above)");
            }
        }
        StorageAction::Verify => {
            // Opening the service checks the bucket (or directory) exists and answers.
            let service = open().await?;
            say(json, serde_json::json!({ "store": "ok" }), || {
                format!("the store answers ({:?})", service.store())
            });
        }
        StorageAction::Reconcile { sweep } => {
            let service = open().await?;
            let report = service
                .attachments()
                .reconcile(OffsetDateTime::now_utc(), sweep)
                .await?;
            say(
                json,
                serde_json::json!({
                    "intents_resolved": report.intents_resolved,
                    "bytes_released": report.bytes_released,
                    "orphans_deleted": report.orphans_deleted,
                }),
                || {
                    format!(
                        "{} unfinished upload(s) resolved ({} bytes released), {} orphan object(s) deleted",
                        report.intents_resolved, report.bytes_released, report.orphans_deleted
                    )
                },
            );
        }
        StorageAction::Purge { retention_days } => {
            let service = open().await?;
            let retention =
                retention_days.map_or(DEFAULT_RETENTION, |d| time::Duration::days(i64::from(d)));
            let report = service
                .attachments()
                .purge(OffsetDateTime::now_utc() - retention)
                .await?;
            say(json, serde_json::json!({ "purged": report.purged }), || {
                format!("{} deleted attachment(s) purged", report.purged)
            });
        }
    }
    Ok(())
}

pub(crate) async fn audit(action: AuditAction, json: bool) -> Result<bool> {
    let AuditAction::Verify { workspace } = action;
    let service = open().await?;
    let ws = WorkspaceId::from(workspace);
    service.domain().workspaces().get(ws).await?;
    let report = audit::verify_chain(service.domain().db(), ws).await?;
    let intact = report.is_intact();
    say(
        json,
        serde_json::json!({ "intact": intact, "events": report.events, "first_break": report.first_break.as_ref().map(ToString::to_string) }),
        || match &report.first_break {
            None => format!(
                "workspace {ws}: audit chain intact ({} events)",
                report.events
            ),
            Some(b) => format!("workspace {ws}: audit chain BROKEN: {b}"),
        },
    );
    Ok(intact)
}
