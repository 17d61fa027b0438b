//! `cargo xtask ci`: formatting, lints, dependency policy, docs and the whole test suite.

use std::process::Command;

use anyhow::{Context, Result};

use crate::cmd::{self, cargo, step};
use crate::tools;

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
    // ward-sanitize's `heic` feature builds libheif with cmake against libde265: both are
    // needed before anything is built with all features.
    step("cmake and libde265 (ward-sanitize feature `heic`)");
    required(in_ci, "the heic build tools", tools::ensure_heic_build())?;
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

    // ward-storage is the one crate with default features (`s3`): check that it, its tests and
    // its examples also build without them (the tests' S3 modules are gated on the feature).
    step("clippy (ward-storage without default features)");
    cargo(&[
        "clippy",
        "-p",
        "ward-storage",
        "--no-default-features",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;

    step("cargo deny (licenses, bans, sources)");
    tools::ensure_cargo_tool("cargo-deny", CARGO_DENY_VERSION, &["deny", "--version"])?;
    // Advisories are left out: the advisory database cannot be fetched on these machines.
    cargo(&["deny", "check", "licenses", "bans", "sources"])?;

    step("rustdoc (warnings are errors)");
    cmd::run_with(
        Command::new("cargo")
            .args(["doc", "--workspace", "--no-deps", "--all-features"])
            .env("RUSTDOCFLAGS", "-Dwarnings"),
    )?;

    // The README's test command sets up what the tests need on a fresh machine: PostgreSQL
    // (started when it is down), the S3 test servers (moto, s3s-fs), exiftool, qpdf, pngfix and Pillow, each installed only when missing. In CI
    // a set-up failure fails the run; on a developer machine it is a warning, and the tests that
    // need the missing part print why they skip.
    step("PostgreSQL for ward-domain's tests");
    required(in_ci, "PostgreSQL", crate::services::postgres_up())?;
    step("services for the integration tests");
    required(in_ci, "the S3 test servers", crate::services::up())?;
    crate::services::export_env();
    step("exiftool (independent judge of ward-sanitize's metadata removal)");
    required(in_ci, "exiftool", tools::ensure_exiftool())?;
    step("Pillow (independent judge that ward-sanitize's images open elsewhere)");
    let pillow = tools::ensure_pillow().and_then(|python| {
        let python = python
            .to_str()
            .context("the repository path is not UTF-8")?;
        cmd::set_child_env(tools::PILLOW_PYTHON_ENV, python);
        Ok(())
    });
    required(in_ci, "Pillow", pillow)?;

    step("tests (unit, integration and doc tests)");
    cargo(&["test", "--workspace", "--all-features"])?;

    step("fuzz smoke (ward-sanitize parsers)");
    crate::fuzz::run(&["--smoke".to_owned()])?;

    println!("\nxtask ci: all checks passed");
    Ok(())
}

/// In CI a failed set-up step fails the run; elsewhere it is reported and the run goes on.
fn required(in_ci: bool, what: &str, outcome: Result<()>) -> Result<()> {
    match outcome {
        Ok(()) => Ok(()),
        Err(e) if in_ci => Err(e.context(format!("could not set up {what}"))),
        Err(e) => {
            eprintln!("warning: could not set up {what} ({e:#}); the tests that need it will skip");
            Ok(())
        }
    }
}
