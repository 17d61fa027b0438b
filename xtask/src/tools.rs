//! Installing the tools the checks need, each only when it is missing.

use std::process::Command;

use anyhow::Result;

use crate::cmd::{self, cargo, has_tool, step};

/// Installs a cargo tool with `cargo install --locked` unless `check` shows it is present.
pub(crate) fn ensure_cargo_tool(krate: &str, version: &str, check: &[&str]) -> Result<()> {
    if has_tool("cargo", check) {
        println!("{krate} is installed");
        return Ok(());
    }
    step(&format!("installing {krate} {version} (missing)"));
    cargo(&["install", "--locked", krate, "--version", version])
}

/// Installs exiftool (Debian `libimage-exiftool-perl`) unless `exiftool -ver` already runs, and
/// qpdf (Debian `qpdf`) unless `qpdf --version` already runs: the ward-sanitize tests use them
/// as independent judges, exiftool of metadata removal and `qpdf --check` of the cleaned PDFs.
pub(crate) fn ensure_exiftool() -> Result<()> {
    let judges = [
        ("exiftool", "-ver", "libimage-exiftool-perl"),
        ("qpdf", "--version", "qpdf"),
    ];
    let mut missing = Vec::new();
    for (tool, check, package) in judges {
        if has_tool(tool, &[check]) {
            println!("{tool} is installed");
        } else {
            missing.push(package);
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    step(&format!("installing {} (missing)", missing.join(", ")));
    cmd::run("apt-get", &["update"])?;
    let mut args = vec!["install", "-y", "--no-install-recommends"];
    args.extend(missing);
    cmd::run_with(
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}
