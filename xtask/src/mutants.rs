//! `cargo xtask mutants [--quick] [--crate NAME]… [-- ARGS]`: mutation testing of the code that
//! decides security, with cargo-mutants (installed when missing).
//!
//! Each crate is run on its own, mutating only the files listed below and running only that
//! crate's tests, with results in `mutants.out/<crate>/mutants.out` (git-ignored). Survivors are
//! listed, with the test that now kills them or the reason they cannot be killed, in
//! `docs/mutants.md`.
//!
//! - no flag: the full set, crate by crate (hours on a 2-core machine).
//! - `--quick`: key commitment, associated data, range planning and header parsing only.
//! - `--crate NAME` (repeatable): only these crates of the chosen set.
//! - after `--`: passed to cargo-mutants as they are (`--in-place`, `-F REGEX`, `--shard 1/4`, …).
//!
//! The runs need no S3 server: `WARD_TEST_INTEGRATION` is removed and the test-server endpoints
//! point at a closed loopback port, so the tests that need a server skip as on any developer
//! machine without one. Settings every run shares (timeouts, profile) are in
//! `.cargo/mutants.toml`.

use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::cmd::{self, step};
use crate::tools;

/// cargo-mutants version installed when missing; pinned so runs are repeatable. Builds on the
/// pinned toolchain (it needs Rust 1.88 or later).
const CARGO_MUTANTS_VERSION: &str = "27.1.0";

/// What to mutate in one crate: these files, and in them only the mutants whose names (as
/// `cargo mutants --list` prints them) match one of `only` (all of them when `only` is empty).
struct Scope {
    package: &'static str,
    files: &'static [&'static str],
    only: &'static [&'static str],
    /// Cargo features the crate is built and tested with (the files need them).
    features: &'static [&'static str],
}

/// The quick set: key commitment, associated data, the STREAM nonce, range planning and the
/// header parsers of both formats.
const QUICK: &[Scope] = &[Scope {
    package: "ward-crypto",
    files: &[
        "crates/ward-crypto/src/format/mod.rs",
        "crates/ward-crypto/src/format/field.rs",
        "crates/ward-crypto/src/stream/nonce.rs",
        "crates/ward-crypto/src/stream/chunk.rs",
        "crates/ward-crypto/src/field.rs",
        "crates/ward-crypto/src/format/stream.rs",
        "crates/ward-crypto/src/stream/range.rs",
    ],
    only: &[
        // Header parsing, both formats.
        "src/format/",
        "header_len",
        "StreamHeader::parse",
        "StreamHeader::plaintext_len",
        // Key commitment and associated data, both formats.
        "StreamKey::for_reading",
        "replace commitment ->",
        "associated_data",
        "FieldCipher::open_with",
        // Nonces and range planning.
        "stream/nonce\\.rs",
        "StreamHeader::plan_range",
        "RangePlan::check_header",
    ],
    features: &[],
}];

/// The full set: every module whose decisions keep data safe. Security-critical first.
const FULL: &[Scope] = &[
    Scope {
        package: "ward-crypto",
        files: &[
            // Formats: parsing of every header a reader trusts.
            "crates/ward-crypto/src/format/mod.rs",
            "crates/ward-crypto/src/format/field.rs",
            "crates/ward-crypto/src/format/wrapped.rs",
            "crates/ward-crypto/src/format/stream.rs",
            // Key commitment, associated data, nonces.
            "crates/ward-crypto/src/stream/chunk.rs",
            "crates/ward-crypto/src/stream/nonce.rs",
            "crates/ward-crypto/src/field.rs",
            "crates/ward-crypto/src/aead.rs",
            "crates/ward-crypto/src/derive.rs",
            // Range planning and the readers that act on it (final chunk, truncation).
            "crates/ward-crypto/src/stream/range.rs",
            "crates/ward-crypto/src/stream/read.rs",
            "crates/ward-crypto/src/stream/mod.rs",
            // Key wrapping, blind indexes, the DEK cache and crypto-shredding.
            "crates/ward-crypto/src/kek/local.rs",
            "crates/ward-crypto/src/dek/wrapped.rs",
            "crates/ward-crypto/src/dek/cache.rs",
            "crates/ward-crypto/src/dek/state.rs",
            "crates/ward-crypto/src/blind.rs",
            "crates/ward-crypto/src/keys.rs",
        ],
        only: &[],
        features: &[],
    },
    Scope {
        package: "ward-storage",
        files: &[
            "crates/ward-storage/src/verify.rs",
            "crates/ward-storage/src/sse.rs",
            "crates/ward-storage/src/key.rs",
        ],
        only: &[],
        features: &[],
    },
    Scope {
        package: "ward-sanitize",
        files: &[
            "crates/ward-sanitize/src/limits.rs",
            "crates/ward-sanitize/src/exif.rs",
            "crates/ward-sanitize/src/jpeg.rs",
            "crates/ward-sanitize/src/jpeg_scan.rs",
            "crates/ward-sanitize/src/png.rs",
            "crates/ward-sanitize/src/webp.rs",
            "crates/ward-sanitize/src/pdf_scan.rs",
            "crates/ward-sanitize/src/pdf.rs",
            "crates/ward-sanitize/src/heif_box.rs",
            "crates/ward-sanitize/src/heic.rs",
        ],
        only: &[],
        // The HEIF reader and rewrite exist only with `heic`.
        features: &["heic"],
    },
];

/// A loopback address where nothing listens: the S3 tests find no server there and skip.
const NO_SERVER: &str = "http://127.0.0.1:1";

pub(crate) fn run(args: &[String]) -> Result<()> {
    let mut quick = false;
    let mut crates: Vec<String> = Vec::new();
    let mut passthrough: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--crate" => crates.push(it.next().context("--crate needs a crate name")?.clone()),
            "--" => {
                passthrough.extend(it.by_ref().cloned());
            }
            other => bail!("unknown mutants option `{other}` (use --quick, --crate NAME, -- ARGS)"),
        }
    }
    let set = if quick { QUICK } else { FULL };
    if let Some(unknown) = crates
        .iter()
        .find(|c| !set.iter().any(|s| s.package == c.as_str()))
    {
        bail!("crate `{unknown}` is not in the mutants set");
    }

    step("cargo-mutants");
    tools::ensure_cargo_tool(
        "cargo-mutants",
        CARGO_MUTANTS_VERSION,
        &["mutants", "--version"],
    )?;

    // Every run builds in `mutants/` under the target directory: the dependencies are built
    // there once and reused by later runs. Never the developer's own build directory: cargo names
    // a workspace crate's artifacts the same whatever the path of its source, so a mutated build
    // of a crate there would be taken as fresh by an ordinary `cargo test`, and the reverse.
    let target = cmd::target_dir().join("mutants");
    let mut summary = Vec::new();
    let mut failed = false;
    for scope in set
        .iter()
        .filter(|s| crates.is_empty() || crates.iter().any(|c| c == s.package))
    {
        let out = cmd::root()
            .join(if quick {
                "mutants.out-quick"
            } else {
                "mutants.out"
            })
            .join(scope.package);
        std::fs::create_dir_all(&out)
            .with_context(|| format!("could not create {}", out.display()))?;
        step(&format!(
            "cargo mutants: {} ({} files)",
            scope.package,
            scope.files.len()
        ));
        let mut command = Command::new("cargo");
        command
            .args(["mutants", "--package", scope.package, "--output"])
            .arg(&out);
        for file in scope.files {
            command.args(["--file", file]);
        }
        for re in scope.only {
            command.args(["--re", re]);
        }
        for feature in scope.features {
            command.args(["--features", feature]);
        }
        command
            .args(&passthrough)
            .env("CARGO_TARGET_DIR", &target)
            .env_remove("WARD_TEST_INTEGRATION")
            .env("WARD_TEST_MOTO_ENDPOINT", NO_SERVER)
            .env("WARD_TEST_S3S_ENDPOINT", NO_SERVER);
        let started = Instant::now();
        let outcome = cmd::run_with(&mut command);
        let minutes = started.elapsed().as_secs_f64() / 60.0;
        let verdict = match &outcome {
            Ok(()) => "every mutant caught or unviable".to_owned(),
            // cargo-mutants exits 2 for missed mutants, 3 for timeouts, 4 for a failing baseline.
            Err(e) => format!("{e:#}"),
        };
        summary.push(format!(
            "{}: {verdict} ({minutes:.1} min); outcomes in {}",
            scope.package,
            out.join("mutants.out").display()
        ));
        failed |= outcome.is_err();
    }
    println!("\nxtask mutants:\n  {}", summary.join("\n  "));
    if failed {
        bail!("mutants survived or runs failed: add a test or a reason to docs/mutants.md");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_file_exists() {
        // A moved module must move here too, or its mutants silently stop being run.
        for scope in QUICK.iter().chain(FULL) {
            for file in scope.files {
                assert!(cmd::root().join(file).is_file(), "{file} is not a file");
                assert!(
                    file.starts_with(&format!("crates/{}/", scope.package)),
                    "{file} is not in {}",
                    scope.package
                );
            }
        }
    }
}
