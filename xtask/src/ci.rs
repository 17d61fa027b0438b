//! `cargo xtask ci`: formatting, lints, dependency policy, docs and the whole test suite.

use std::process::Command;

use anyhow::Result;

use crate::cmd::{self, cargo, step};

/// cargo-deny version installed when missing; pinned so CI is repeatable.
const CARGO_DENY_VERSION: &str = "0.20.2";

pub(crate) fn run(_args: &[String]) -> Result<()> {
    let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    if in_ci {
        // In CI every integration test must run for real: a missing service fails the run.
        cmd::set_child_env("WARD_TEST_INTEGRATION", "1");
    }

    step("rustfmt");
    cargo(&["fmt", "--all", "--", "--check"])?;

    step("clippy (default features)");
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    step("clippy (all features)");
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--",
        "-D",
        "warnings",
    ])?;

    step("cargo deny (licenses, bans, sources)");
    cmd::ensure_cargo_tool("cargo-deny", CARGO_DENY_VERSION, &["deny", "--version"])?;
    // Advisories are left out: the advisory database cannot be fetched on these machines.
    cargo(&["deny", "check", "licenses", "bans", "sources"])?;

    step("rustdoc (warnings are errors)");
    cmd::run_with(
        Command::new("cargo")
            .args(["doc", "--workspace", "--no-deps", "--all-features"])
            .env("RUSTDOCFLAGS", "-Dwarnings"),
        "cargo",
        &["doc", "--workspace", "--no-deps", "--all-features"],
    )?;

    if in_ci {
        // The storage integration tests need moto and s3s-fs; installed only when missing.
        crate::services::up()?;
    }
    // Endpoints for the integration tests (a developer's `cargo xtask services up` serves them).
    crate::services::export_env();

    if in_ci {
        // ward-sanitize's corpus test judges metadata removal with exiftool; installed when missing.
        crate::fuzz::ensure_exiftool()?;
    }

    step("tests (unit, integration and doc tests)");
    cargo(&["test", "--workspace", "--all-features"])?;

    step("fuzz smoke (ward-sanitize parsers)");
    crate::fuzz::run(&["--smoke".to_owned()])?;

    println!("\nxtask ci: all checks passed");
    Ok(())
}
