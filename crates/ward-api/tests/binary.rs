use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{self, get, jpeg, send};

const WARD: &str = env!("CARGO_BIN_EXE_ward");

/// `ward` in `dir` with no `WARD_*` setting but `extra`.
pub(crate) fn ward(dir: &std::path::Path, args: &[&str], extra: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(WARD);
    cmd.args(args).current_dir(dir);
    for (k, _) in std::env::vars() {
        if k.starts_with("WARD_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(extra.iter().copied());
    cmd
}

/// Stops `child` with SIGTERM and waits for it.
fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        assert!(Instant::now() < deadline, "ward did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_no_configuration_runs_the_embedded_default() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = ward(dir.path(), &["serve"], &[("WARD_LISTEN", "127.0.0.1:0")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ward");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut seen = String::new();
    let base = loop {
        let mut line = String::new();
        if stderr.read_line(&mut line).expect("read") == 0 {
            panic!("ward exited before serving: {seen}");
        }
        seen.push_str(&line);
        if let Some(rest) = line.trim().strip_prefix("ward is serving on ") {
            break rest.to_owned();
        }
    };
    assert!(
        seen.contains("DEVELOPMENT MODE"),
        "the loud warning: {seen}"
    );
    assert!(seen.contains("dev token"), "how to get a token: {seen}");
    // Keep draining the logs so the service never blocks on a full pipe.
    let logs = std::thread::spawn(move || {
        let mut rest = String::new();
        for line in stderr.lines().map_while(Result::ok) {
            rest.push_str(&line);
            rest.push('\n');
        }
        rest
    });

    let data = dir.path().join("ward-data");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        for (file, mode) in [("kek.ring", 0o600), ("token.secret", 0o600), (".", 0o700)] {
            let m = std::fs::metadata(data.join(file))
                .expect("file")
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(m, mode, "{file}: {m:o}");
        }
    }
    let ring_before = std::fs::read(data.join("kek.ring")).expect("ring");

    let token = ward(dir.path(), &["dev", "token"], &[])
        .output()
        .expect("dev token");
    assert!(
        token.status.success(),
        "{}",
        String::from_utf8_lossy(&token.stderr)
    );
    let token = String::from_utf8(token.stdout)
        .expect("utf-8")
        .trim()
        .to_owned();
    let health = get(&format!("{base}/ready"), None).await;
    assert_eq!(
        health.status,
        200,
        "{}",
        String::from_utf8_lossy(&health.body)
    );
    // Every value a caller sends carries a canary; none may reach the logs.
    let client = common::json(
        "POST",
        &format!("{base}/api/v1/clients"),
        Some(&token),
        &serde_json::json!({
            "name": "CANARY-NAME-7781",
            "email": "canary-7781@example.org",
            "phone": "+1 555 7781",
            "notes": "CANARY-NOTES-7781",
        }),
    )
    .await;
    assert_eq!(
        client.status,
        201,
        "{}",
        String::from_utf8_lossy(&client.body)
    );
    let id = client.json()["id"].as_str().expect("id").to_owned();
    let session = common::json(
        "POST",
        &format!("{base}/api/v1/sessions"),
        Some(&token),
        &serde_json::json!({"client_id": id, "session_date": "2026-12-07", "soap_notes": "CANARY-SOAP-7781"}),
    )
    .await;
    assert_eq!(session.status, 201);
    let found = get(
        &format!("{base}/api/v1/clients?email=canary-7781@example.org"),
        Some(&token),
    )
    .await;
    assert_eq!(found.json()["total"], 1);
    let up = send(
        "POST",
        &format!("{base}/api/v1/clients/{id}/attachments"),
        Some(&token),
        Some(&format!(
            "multipart/form-data; boundary={}",
            common::BOUNDARY
        )),
        common::form("CANARY-FILE-7781.jpg", &jpeg(1)),
        &[],
    )
    .await;
    assert_eq!(up.status, 201, "{}", String::from_utf8_lossy(&up.body));
    let file = up.json()["id"].as_str().expect("id").to_owned();
    let link = get(
        &format!("{base}/api/v1/clients/{id}/attachments/{file}/download"),
        Some(&token),
    )
    .await;
    let url = link.json()["download_url"]
        .as_str()
        .expect("url")
        .to_owned();
    assert_eq!(get(&format!("{base}{url}"), None).await.status, 200);
    let renamed = common::json(
        "PATCH",
        &format!("{base}/api/v1/clients/{id}/attachments/{file}"),
        Some(&token),
        &serde_json::json!({"file_name": "CANARY-RENAMED-7781.jpg"}),
    )
    .await;
    assert_eq!(renamed.status, 200);
    let refused = send(
        "POST",
        &format!("{base}/api/v1/clients/{id}/attachments"),
        Some(&token),
        Some(&format!(
            "multipart/form-data; boundary={}",
            common::BOUNDARY
        )),
        common::form("CANARY-BAD-7781.jpg", b"CANARY-BYTES-7781"),
        &[],
    )
    .await;
    assert_eq!(refused.status, 415, "not a JPEG's bytes");
    assert!(
        !String::from_utf8_lossy(&refused.body).contains("7781"),
        "an error echoed the upload"
    );

    let status = terminate(&mut child);
    assert!(status.success(), "ward exits cleanly on SIGTERM: {status}");
    let logs = logs.join().expect("logs");
    assert!(
        logs.contains("\"request_id\""),
        "JSON logs carry request ids: {logs}"
    );
    assert!(
        !logs.contains("Jane Roe") && !logs.contains("x.jpg"),
        "PHI in logs: {logs}"
    );

    // A second start keeps the generated keys and the data.
    let again = ward(dir.path(), &["check-config"], &[])
        .output()
        .expect("check-config");
    assert!(again.status.success(), "development passes check-config");
    assert_eq!(
        std::fs::read(data.join("kek.ring")).expect("ring"),
        ring_before
    );
}

#[test]
fn outside_development_nothing_is_generated_and_every_missing_setting_is_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = ward(dir.path(), &["serve"], &[("WARD_ENV", "production")])
        .output()
        .expect("run ward");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for name in [
        "WARD_DATABASE_URL",
        "WARD_STORE",
        "WARD_KEK",
        "WARD_TOKEN_SECRET",
    ] {
        assert!(err.contains(name), "{name} not named: {err}");
    }
    assert!(
        !dir.path().join("ward-data").exists(),
        "nothing generated in production"
    );
    let check = ward(dir.path(), &["check-config"], &[("WARD_ENV", "production")])
        .output()
        .expect("run ward");
    assert!(
        !check.status.success(),
        "check-config fails outside development"
    );
    let dev = ward(dir.path(), &["dev", "token"], &[("WARD_ENV", "production")])
        .output()
        .expect("run ward");
    assert!(!dev.status.success(), "no development tokens in production");
}

/// Runs `ward` with `env` and `args`, expecting success, and parses its JSON lines.
pub(crate) fn ward_json(
    dir: &std::path::Path,
    env: &[(&str, &str)],
    args: &[&str],
) -> Vec<serde_json::Value> {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = ward(dir, &all, env).output().expect("run ward");
    assert!(
        out.status.success(),
        "ward {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect()
}

#[test]
fn the_operator_commands_run_against_a_configured_service() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ring = format!(
        "1:{}:active",
        ward_crypto::KeyMaterial::generate()
            .expect("key")
            .to_base64()
            .as_str()
    );
    let secret = ward_crypto::KeyMaterial::generate()
        .expect("key")
        .to_base64()
        .as_str()
        .to_owned();
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("ops.db").display());
    let store = format!("local:{}", dir.path().join("objects").display());
    let env = [
        ("WARD_ENV", "staging"),
        // Never contacted by these commands; only the service scans uploads.
        ("WARD_SCANNER", "tcp://127.0.0.1:3310"),
        ("WARD_DATABASE_URL", db.as_str()),
        ("WARD_STORE", store.as_str()),
        ("WARD_KEK", ring.as_str()),
        ("WARD_TOKEN_SECRET", secret.as_str()),
    ];
    let d = dir.path();
    assert_eq!(
        ward_json(d, &env, &["storage", "init"])[0]["complete"],
        true
    );
    assert!(
        ward_json(d, &env, &["migrate"])[0]["applied"]
            .as_u64()
            .is_some()
    );
    let pending: Vec<_> = ward_json(d, &env, &["migrate", "status"]);
    assert!(pending.iter().all(|m| m["applied"] == true), "{pending:?}");
    let ws = ward_json(d, &env, &["workspace", "create", "Riverside Clinic"])[0]["workspace_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let keys = ward_json(d, &env, &["keys", "status", "--workspace", &ws]);
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["state"], "active");
    let rotated = ward_json(d, &env, &["keys", "rotate", "--workspace", &ws]);
    assert_eq!(
        rotated[0]["active_key"],
        keys[0]["id"].as_u64().expect("id") + 1
    );
    let states: Vec<String> = ward_json(d, &env, &["keys", "status", "--workspace", &ws])
        .iter()
        .map(|k| k["state"].as_str().expect("state").to_owned())
        .collect();
    assert_eq!(states, ["retired", "active"]);
    // Every key is already under the ring's active KEK version: nothing to rewrap.
    assert_eq!(ward_json(d, &env, &["keys", "rewrap"])[0]["rewrapped"], 0);
    assert_eq!(
        ward_json(d, &env, &["keys", "reencrypt", "--workspace", &ws])[0]["failed"],
        0
    );
    assert_eq!(ward_json(d, &env, &["storage", "verify"])[0]["store"], "ok");
    assert_eq!(
        ward_json(d, &env, &["storage", "reconcile", "--sweep"])[0]["orphans_deleted"],
        0
    );
    assert_eq!(ward_json(d, &env, &["storage", "purge"])[0]["purged"], 0);
    let audit = ward_json(d, &env, &["audit", "verify", "--workspace", &ws]);
    assert_eq!(audit[0]["intact"], true, "{audit:?}");
    // Files outside the service: encrypted under the workspace's key, decrypted back; an
    // altered file, or another workspace, is refused and leaves no output.
    let plain: Vec<u8> = (0..200_000_u32).map(|i| (i * 7 % 251) as u8).collect();
    let (input, sealed, opened) = (d.join("scan.pdf"), d.join("scan.ward"), d.join("back.pdf"));
    std::fs::write(&input, &plain).expect("write");
    let path = |p: &std::path::Path| p.display().to_string();
    let enc = ward_json(
        d,
        &env,
        &[
            "file",
            "encrypt",
            "--workspace",
            &ws,
            &path(&input),
            &path(&sealed),
        ],
    );
    assert_eq!(enc[0]["bytes"], 200_000);
    let stored = std::fs::read(&sealed).expect("read");
    assert!(
        !stored.windows(64).any(|w| w == &plain[..64]),
        "no plaintext in the ward file"
    );
    ward_json(
        d,
        &env,
        &[
            "file",
            "decrypt",
            "--workspace",
            &ws,
            &path(&sealed),
            &path(&opened),
        ],
    );
    assert_eq!(std::fs::read(&opened).expect("read"), plain);
    let mut altered = stored;
    let at = altered.len() / 2;
    altered[at] ^= 1;
    let bad = d.join("altered.ward");
    std::fs::write(&bad, altered).expect("write");
    let out = d.join("never.pdf");
    let refused = ward(
        d,
        &[
            "file",
            "decrypt",
            "--workspace",
            &ws,
            &path(&bad),
            &path(&out),
        ],
        &env,
    )
    .output()
    .expect("run");
    assert!(!refused.status.success());
    assert!(!out.exists(), "nothing half-written is left");
    let other = ward_json(d, &env, &["workspace", "create", "Other"])[0]["workspace_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let foreign = ward(
        d,
        &[
            "file",
            "decrypt",
            "--workspace",
            &other,
            &path(&sealed),
            &path(&out),
        ],
        &env,
    )
    .output()
    .expect("run");
    assert!(
        !foreign.status.success(),
        "another workspace's key does not open it"
    );
    assert!(!out.exists());
    let key = ward_json(d, &env, &["keys", "generate"]);
    assert_eq!(
        key[0]["key"].as_str().expect("key").len(),
        44,
        "base64 of 32 bytes"
    );
    // Outside development `check-config` passes only a complete configuration, and the
    // development helper is refused.
    assert!(
        ward(d, &["check-config"], &env)
            .status()
            .expect("run")
            .success()
    );
    assert!(
        !ward(d, &["dev", "token"], &env)
            .status()
            .expect("run")
            .success()
    );
    let unknown = ward(
        d,
        &[
            "keys",
            "status",
            "--workspace",
            &uuid::Uuid::new_v4().to_string(),
        ],
        &env,
    )
    .output()
    .expect("run");
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("not found"));
}

#[test]
fn storage_init_prepares_an_s3_bucket_the_service_then_opens() {
    let Some(endpoint) = common::moto_endpoint("storage init on S3") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let bucket = format!(
        "ward-init-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("s3.db").display());
    let mut env = vec![
        ("WARD_ENV", "development".to_owned()),
        ("WARD_DATABASE_URL", db),
        ("WARD_STORE", "s3".to_owned()),
        ("WARD_S3_ENDPOINT", endpoint),
        ("WARD_S3_BUCKET", bucket),
        ("WARD_S3_ACCESS_KEY_ID", "moto-test-access".to_owned()),
        (
            "WARD_S3_SECRET_ACCESS_KEY",
            "moto-test-secret-key".to_owned(),
        ),
    ];
    let kek_file = dir.path().join("kek.ring");
    let ring = format!(
        "1:{}:active\n",
        ward_crypto::KeyMaterial::generate()
            .expect("key")
            .to_base64()
            .as_str()
    );
    std::fs::write(&kek_file, ring).expect("ring");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&kek_file, std::fs::Permissions::from_mode(0o600)).expect("mode");
    }
    env.push(("WARD_KEK_FILE", kek_file.display().to_string()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let d = dir.path();
    // Before the bucket exists, the service refuses to start on it.
    let early = ward(d, &["storage", "verify"], &env).output().expect("run");
    assert!(!early.status.success(), "a missing bucket must be refused");
    let init = ward_json(d, &env, &["storage", "init"]);
    assert_eq!(init[0]["complete"], true, "{init:?}");
    assert_eq!(ward_json(d, &env, &["storage", "verify"])[0]["store"], "ok");
    let again = ward_json(d, &env, &["storage", "init"]);
    assert_eq!(again[0]["complete"], true, "init is idempotent: {again:?}");
    assert!(ward_json(d, &env, &["workspace", "create", "Clinic"])[0]["workspace_id"].is_string());
}

/// The seed application's text form of `plaintext` under legacy key `key` (version 1).
fn seed_text(key: &[u8; 32], nonce: u8, plaintext: &str) -> String {
    use aes_gcm::aead::{Aead as _, KeyInit as _};
    use base64::Engine as _;
    let sealed = aes_gcm::Aes256Gcm::new(key.into())
        .encrypt(&aes_gcm::Nonce::from([nonce; 12]), plaintext.as_bytes())
        .expect("seal");
    format!(
        "v1:{}",
        base64::engine::general_purpose::STANDARD.encode([vec![nonce; 12], sealed].concat())
    )
}

#[test]
fn import_legacy_reseals_an_export_file_and_a_rerun_finds_what_was_made() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let new_key = || {
        ward_crypto::KeyMaterial::generate()
            .expect("key")
            .to_base64()
            .as_str()
            .to_owned()
    };
    let ring = format!("1:{}:active", new_key());
    let secret = new_key();
    let db = format!("sqlite://{}?mode=rwc", d.join("import.db").display());
    let store = format!("local:{}", d.join("objects").display());
    let env = [
        ("WARD_ENV", "staging"),
        // Never contacted by these commands; only the service scans uploads.
        ("WARD_SCANNER", "tcp://127.0.0.1:3310"),
        ("WARD_DATABASE_URL", db.as_str()),
        ("WARD_STORE", store.as_str()),
        ("WARD_KEK", ring.as_str()),
        ("WARD_TOKEN_SECRET", secret.as_str()),
    ];
    ward_json(d, &env, &["storage", "init"]);
    ward_json(d, &env, &["migrate"]);
    let ws = ward_json(d, &env, &["workspace", "create", "Riverside Clinic"])[0]["workspace_id"]
        .as_str()
        .expect("id")
        .to_owned();

    let legacy: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(29).wrapping_add(3));
    let keys = d.join("seed.keys");
    let key_line = format!(
        "1:{}\n",
        base64::engine::general_purpose::STANDARD.encode(legacy)
    );
    std::fs::write(&keys, &key_line).expect("keys");
    let export = d.join("export.jsonl");
    std::fs::write(
        &export,
        format!(
            "{}\n{}\n",
            format_args!(
                r#"{{"table":"clients","id":"17","name":"{}","email":{{"plain":"jane@example.org"}}}}"#,
                seed_text(&legacy, 1, "Jane Roe")
            ),
            r#"{"table":"sessions","id":"s-1","client_id":"17","session_date":{"plain":"2024-03-01"}}"#
        ),
    )
    .expect("export");
    let keys_arg = keys.to_str().expect("path");
    let export_arg = export.to_str().expect("path");
    let args = [
        "import",
        "legacy",
        "--workspace",
        &ws,
        "--keys",
        keys_arg,
        export_arg,
    ];

    // A key file others may read is refused outside development.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let out = ward(d, &args, &env).output().expect("run ward");
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("0644"), "{stderr}");
        assert!(!stderr.contains(key_line.trim()), "{stderr}");
        std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }

    let first = ward_json(d, &env, &args);
    assert_eq!(
        (
            &first[0]["clients_created"],
            &first[0]["sessions_created"],
            &first[0]["failed_rows"]
        ),
        (&1.into(), &1.into(), &0.into()),
        "{first:?}"
    );
    let again = ward_json(d, &env, &args);
    assert_eq!(
        (
            &again[0]["clients_existing"],
            &again[0]["sessions_existing"]
        ),
        (&1.into(), &1.into()),
        "{again:?}"
    );
    let audit = ward_json(d, &env, &["audit", "verify", "--workspace", &ws]);
    assert_eq!(audit[0]["intact"], true, "{audit:?}");

    // A refused row is named by line, its value never printed, and the exit status says so.
    std::fs::write(
        &export,
        r#"{"table":"clients","id":"18","name":{"plain":"CANARY-3391"},"nmae":"x"}"#,
    )
    .expect("export");
    let out = ward(d, &args, &env).output().expect("run ward");
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("line 1"), "{stdout}");
    assert!(!stdout.contains("CANARY"), "{stdout}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("CANARY"));
}

/// Runs `ward --json args…` in `dir` and returns its exit success and the JSON lines it printed.
fn backup_cli(dir: &std::path::Path, args: &[&str]) -> (bool, Vec<serde_json::Value>, String) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = ward(dir, &all, &[]).output().expect("run ward");
    let lines = String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    (
        out.status.success(),
        lines,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn backup_create_verify_and_restore_through_the_binary_on_the_embedded_default() {
    let dir = tempfile::tempdir().expect("temp dir");
    for name in ["North Clinic", "South Clinic"] {
        let (ok, _, err) = backup_cli(dir.path(), &["workspace", "create", name]);
        assert!(ok, "{err}");
    }
    let (ok, made, err) = backup_cli(dir.path(), &["backup", "create"]);
    assert!(ok, "{err}");
    let id = made[0]["backup_id"].as_str().expect("id").to_owned();
    assert_eq!(made[0]["engine"], "sqlite");
    assert_eq!(made[0]["workspaces"], 2);
    // The log names the backup and sizes, never key material.
    let ring = std::fs::read_to_string(dir.path().join("ward-data/kek.ring")).expect("ring");
    let key = ring
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .find_map(|l| l.split(':').nth(1))
        .expect("a key");
    assert!(!err.contains(key.trim()));

    let (ok, listed, err) = backup_cli(dir.path(), &["backup", "list"]);
    assert!(ok, "{err}");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["backup_id"], id.as_str());
    assert_eq!(listed[0]["problem"], serde_json::Value::Null);

    let (ok, verified, err) = backup_cli(dir.path(), &["backup", "verify", &id]);
    assert!(ok, "{err}");
    assert_eq!(verified[0]["ok"], true);
    assert_eq!(verified[0]["workspaces"], 2);

    let target = dir.path().join("restored.db");
    let url = format!("sqlite://{}", target.display());
    let (ok, restored, err) = backup_cli(
        dir.path(),
        &["backup", "restore", &id, "--database-url", &url],
    );
    assert!(ok, "{err}");
    assert_eq!(restored[0]["workspaces"], 2);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&target)
            .expect("restored")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{mode:o}");
    }
    // The file now exists: a second restore is refused, with a non-zero exit.
    let (ok, refused, _) = backup_cli(
        dir.path(),
        &["backup", "restore", &id, "--database-url", &url],
    );
    assert!(!ok);
    assert_eq!(refused[0]["ok"], false);
    assert!(
        refused[0]["error"]
            .as_str()
            .expect("error")
            .contains("already exists"),
        "{refused:?}"
    );
    // An unknown backup fails verification.
    let (ok, unknown, _) = backup_cli(
        dir.path(),
        &["backup", "verify", &uuid::Uuid::new_v4().to_string()],
    );
    assert!(!ok);
    assert_eq!(unknown[0]["ok"], false);
}
