//! Installing the tools the checks need, each only when it is missing.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

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

/// Pillow, pinned so every machine judges with the same decoders (its wheel bundles libpng,
/// libjpeg-turbo and libwebp).
const PILLOW_REQUIREMENT: &str = "pillow==12.0.0";

/// The variable that tells the ward-sanitize tests which Python has Pillow.
pub(crate) const PILLOW_PYTHON_ENV: &str = "WARD_TEST_PILLOW_PYTHON";

/// Installs Pillow into a venv under `.services/pillow-venv` unless the pinned version is
/// already there, and returns that venv's Python. The ward-sanitize tests use Pillow as an
/// independent judge: every cleaned PNG, WebP and JPEG must open and fully load in it.
pub(crate) fn ensure_pillow() -> Result<PathBuf> {
    let venv = cmd::root().join(".services").join("pillow-venv");
    let python = venv.join("bin").join("python");
    let wanted = PILLOW_REQUIREMENT.rsplit("==").next().unwrap_or_default();
    let installed = || {
        Command::new(&python)
            .args(["-c", "import PIL.Image; print(PIL.__version__)"])
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    if installed().as_deref() == Some(wanted) {
        println!("Pillow {wanted} is installed ({})", python.display());
        return Ok(python);
    }
    println!(
        "installing {PILLOW_REQUIREMENT} into {} (missing)",
        venv.display()
    );
    let venv_str = venv.to_str().context("the repository path is not UTF-8")?;
    if !python.exists() {
        cmd::run("python3", &["-m", "venv", venv_str]).context(
            "could not create a Python venv (on Debian, `apt-get install python3-venv` provides it)",
        )?;
    }
    let pip = venv.join("bin").join("pip");
    let pip_str = pip.to_str().context("the repository path is not UTF-8")?;
    // Wheels only: building Pillow from source would need a C toolchain and image libraries.
    cmd::run(
        pip_str,
        &[
            "install",
            "--quiet",
            "--only-binary",
            ":all:",
            PILLOW_REQUIREMENT,
        ],
    )?;
    if installed().as_deref() != Some(wanted) {
        bail!(
            "pip finished but {} cannot import Pillow {wanted}",
            python.display()
        );
    }
    Ok(python)
}

/// `cargo xtask judges`: installs what is missing of exiftool, qpdf and Pillow, so the
/// ward-sanitize tests that use them run instead of skipping. The tests find Pillow in
/// `.services/pillow-venv` without further set-up.
pub(crate) fn judges() -> Result<()> {
    ensure_exiftool()?;
    let python = ensure_pillow()?;
    println!(
        "judges are installed; the tests find Pillow at {}",
        python.display()
    );
    Ok(())
}
