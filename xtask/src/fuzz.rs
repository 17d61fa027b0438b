//! `cargo xtask fuzz`: fuzzing of ward-sanitize's parsers, and the exiftool its tests judge with.
//!
//! - `--smoke` (CI): the proptest-driven mutation tests on the pinned toolchain, a few hundred
//!   mutated files per parser (`WARD_FUZZ_CASES`), printing the executions reached.
//! - no flag: the cargo-fuzz targets in `crates/ward-sanitize/fuzz` for `--seconds N` each
//!   (default 60) when a nightly toolchain and cargo-fuzz are installed; otherwise the mutation
//!   tests with many more cases. CI machines have only the pinned toolchain, so CI never needs
//!   nightly.

use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::cmd::{self, step};

/// Mutated inputs per parser in the CI smoke run.
const SMOKE_CASES: &str = "2000";
/// Mutated inputs per parser in a long run without cargo-fuzz.
const LONG_CASES: &str = "100000";
/// The cargo-fuzz targets, one per parser.
const TARGETS: &[&str] = &["jpeg", "png", "webp", "pdf", "heic", "sanitize_any"];

pub(crate) fn run(args: &[String]) -> Result<()> {
    let mut smoke = false;
    let mut seconds: u64 = 60;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--smoke" => smoke = true,
            "--seconds" => {
                seconds = it
                    .next()
                    .context("--seconds needs a value")?
                    .parse()
                    .context("--seconds must be a whole number")?;
            }
            other => bail!("unknown fuzz option `{other}` (use --smoke or --seconds N)"),
        }
    }
    if smoke {
        return mutation_tests(SMOKE_CASES);
    }
    let nightly = cmd::has_tool("cargo", &["+nightly", "--version"]);
    let cargo_fuzz = cmd::has_tool("cargo", &["+nightly", "fuzz", "--version"]);
    if !(nightly && cargo_fuzz) {
        println!(
            "cargo fuzz needs a nightly toolchain and cargo-fuzz (nightly: {nightly}, cargo-fuzz: {cargo_fuzz}); running the mutation tests instead"
        );
        return mutation_tests(LONG_CASES);
    }
    let dir = cmd::root().join("crates/ward-sanitize/fuzz");
    for target in TARGETS {
        step(&format!("cargo fuzz run {target} ({seconds} s)"));
        let max_time = format!("-max_total_time={seconds}");
        // New inputs go to the git-ignored corpus/<target>; the test corpus seeds every run.
        let work = format!("corpus/{target}");
        std::fs::create_dir_all(dir.join(&work)).context("could not create the fuzz corpus")?;
        let seeds = match *target {
            "pdf" => "../tests/corpus/pypdf",
            "heic" => "../tests/corpus/heic",
            _ => "../tests/corpus/pillow",
        };
        let status = Command::new("cargo")
            .args([
                "+nightly", "fuzz", "run", target, &work, seeds, "--", &max_time,
            ])
            .current_dir(&dir)
            .status()
            .context("could not start cargo fuzz")?;
        if !status.success() {
            bail!(
                "cargo fuzz run {target} failed with {status}: see crates/ward-sanitize/fuzz/artifacts"
            );
        }
    }
    Ok(())
}

fn mutation_tests(cases: &str) -> Result<()> {
    step(&format!(
        "ward-sanitize mutation fuzzing ({cases} cases per parser)"
    ));
    cmd::run_with(
        Command::new("cargo")
            // The workspace and its features as the test step builds them, so nothing is
            // compiled again for this step: only the `tests` binaries' `mutation::` tests run
            // (ward-sanitize's; the other crates have none of that name).
            .args([
                "test",
                "--workspace",
                "--all-features",
                "--test",
                "tests",
                "mutation::",
                "--",
                "--nocapture",
            ])
            .env("WARD_FUZZ_CASES", cases),
    )
}
