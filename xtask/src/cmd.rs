//! Running commands from the workspace root, printing each one first.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

use anyhow::{Context, Result, bail};

/// The workspace root (the parent of `xtask/`).
pub(crate) fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// Variables given to every child process. `std::env::set_var` is `unsafe` in edition 2024 and
/// the workspace forbids unsafe code, so children get them through their `Command` instead.
static CHILD_ENV: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

/// Sets `key=value` in the environment of every command started after this call.
pub(crate) fn set_child_env(key: &str, value: &str) {
    let mut env = CHILD_ENV
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    env.retain(|(k, _)| k != key);
    env.push((key.to_owned(), value.to_owned()));
}

/// Prints a banner naming the step, so CI logs show what is running.
pub(crate) fn step(name: &str) {
    println!("\n==> xtask: {name}");
}

/// Runs `program args…` in the workspace root and fails unless it exits 0.
pub(crate) fn run(program: &str, args: &[&str]) -> Result<()> {
    run_with(Command::new(program).args(args))
}

/// Runs `cargo args…` in the workspace root and fails unless it exits 0.
pub(crate) fn cargo(args: &[&str]) -> Result<()> {
    run("cargo", args)
}

/// Runs a prepared command (its own environment already set) in the workspace root, printing it
/// first, and fails unless it exits 0.
pub(crate) fn run_with(command: &mut Command) -> Result<()> {
    let program = command.get_program().to_string_lossy().into_owned();
    let args: Vec<String> = command
        .get_args()
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    println!("$ {program} {}", args.join(" "));
    let env = CHILD_ENV
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    let status = command
        .envs(env)
        .current_dir(root())
        .status()
        .with_context(|| format!("could not start `{program}`"))?;
    if !status.success() {
        bail!("`{program} {}` failed with {status}", args.join(" "));
    }
    Ok(())
}

/// Whether `program --version` runs, i.e. the tool is installed.
pub(crate) fn has_tool(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .current_dir(root())
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Cargo's target directory: `CARGO_TARGET_DIR` when set, else `target/` in the workspace.
pub(crate) fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                root().join(dir)
            }
        }
        None => root().join("target"),
    }
}
