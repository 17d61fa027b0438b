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

/// Installs exiftool (Debian `libimage-exiftool-perl`) unless `exiftool -ver` already runs: the
/// ward-sanitize corpus test uses it as an independent judge of metadata removal.
pub(crate) fn ensure_exiftool() -> Result<()> {
    if has_tool("exiftool", &["-ver"]) {
        println!("exiftool is installed");
        return Ok(());
    }
    step("installing exiftool (missing)");
    cmd::run("apt-get", &["update"])?;
    let args = [
        "install",
        "-y",
        "--no-install-recommends",
        "libimage-exiftool-perl",
    ];
    cmd::run_with(
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}
