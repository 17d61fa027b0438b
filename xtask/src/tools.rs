//! Installing the tools the checks need, each only when it is missing.

use std::path::{Path, PathBuf};
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

/// Installs what ward-sanitize's `heic` feature needs to build (cmake, which builds the bundled
/// libheif, and libde265's development files, its HEVC decoder) and its tests' second decoder
/// (`heif-convert`, Debian's `libheif-examples`), each only when missing. Only these codec
/// packages: libheif's cmake build links every codec whose development files it finds, and
/// ward's builds must carry no GPL encoder (a test checks).
pub(crate) fn ensure_heic_build() -> Result<()> {
    ensure_debian_packages(&[
        ("cmake", "cmake --version", "cmake"),
        (
            "libde265",
            "test -e /usr/include/libde265/de265.h",
            "libde265-dev",
        ),
        (
            "heif-convert",
            "command -v heif-convert",
            "libheif-examples",
        ),
    ])
}

/// Installs what is missing of exiftool (Debian `libimage-exiftool-perl`), qpdf (`qpdf`) and
/// libpng's `pngfix` (`libpng-tools`): the ward-sanitize tests use them as independent judges,
/// exiftool of metadata removal, `qpdf --check` of the cleaned PDFs, `pngfix` of cleaned PNGs.
pub(crate) fn ensure_exiftool() -> Result<()> {
    // pngfix (libpng's own checker) has no option that exits 0 without a file: ask the shell.
    ensure_debian_packages(&[
        ("exiftool", "exiftool -ver", "libimage-exiftool-perl"),
        ("qpdf", "qpdf --version", "qpdf"),
        ("pngfix", "command -v pngfix", "libpng-tools"),
    ])
}

/// Installs (apt-get) the Debian package of each `(tool, shell check, package)` whose check
/// fails; nothing when every tool is there.
pub(crate) fn ensure_debian_packages(tools: &[(&str, &str, &str)]) -> Result<()> {
    let mut missing = Vec::new();
    for &(tool, check, package) in tools {
        if has_tool("sh", &["-c", check]) {
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

/// Pillow, pinned so every machine judges with the same decoders (its wheel bundles
/// libjpeg-turbo and libwebp; PNG is its own reader over zlib).
const PILLOW_REQUIREMENT: &str = "pillow==12.0.0";

/// The variable that tells the ward-sanitize tests which Python has Pillow.
pub(crate) const PILLOW_PYTHON_ENV: &str = "WARD_TEST_PILLOW_PYTHON";

/// Installs Pillow into a venv under `.services/pillow-venv` unless the pinned version is
/// already there, and returns that venv's Python. The ward-sanitize tests use Pillow as an
/// independent judge: every cleaned PNG, WebP and JPEG must open and fully load in it.
pub(crate) fn ensure_pillow() -> Result<PathBuf> {
    let venv = cmd::root().join(".services").join("pillow-venv");
    // Wheels only: building Pillow from source would need a C toolchain and image libraries.
    ensure_in_venv(
        &venv,
        PILLOW_REQUIREMENT,
        "PIL.Image",
        "PIL",
        &["--only-binary", ":all:"],
    )?;
    Ok(venv.join("bin").join("python"))
}

/// Makes sure `requirement` (`name==version`) is installed in the venv at `venv`, creating the
/// venv when missing: the installed version is read by importing `import` and printing
/// `package.__version__`; pip runs (with `pip_args`) only when it differs.
pub(crate) fn ensure_in_venv(
    venv: &Path,
    requirement: &str,
    import: &str,
    package: &str,
    pip_args: &[&str],
) -> Result<()> {
    let python = venv.join("bin").join("python");
    let wanted = requirement.rsplit("==").next().unwrap_or_default();
    let probe = format!("import {import}; import {package}; print({package}.__version__)");
    let installed = || {
        Command::new(&python)
            .args(["-c", &probe])
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    if installed().as_deref() == Some(wanted) {
        println!("{requirement} is installed ({})", venv.display());
        return Ok(());
    }
    println!("installing {requirement} into {} (missing)", venv.display());
    let venv_str = venv.to_str().context("the repository path is not UTF-8")?;
    if !python.exists() {
        cmd::run("python3", &["-m", "venv", venv_str]).context(
            "could not create a Python venv (on Debian, `apt-get install python3-venv` provides it)",
        )?;
    }
    let pip = venv.join("bin").join("pip");
    let pip_str = pip.to_str().context("the repository path is not UTF-8")?;
    let mut args = vec!["install", "--quiet"];
    args.extend_from_slice(pip_args);
    args.push(requirement);
    cmd::run(pip_str, &args)?;
    if installed().as_deref() != Some(wanted) {
        bail!(
            "pip finished but {} cannot import {requirement}",
            python.display()
        );
    }
    Ok(())
}

/// `cargo xtask judges`: installs what is missing of exiftool, qpdf, pngfix, heif-convert (with
/// the heic build's cmake and libde265) and Pillow, so the
/// ward-sanitize tests that use them run instead of skipping. The tests find Pillow in
/// `.services/pillow-venv` without further set-up.
pub(crate) fn judges() -> Result<()> {
    ensure_exiftool()?;
    ensure_heic_build()?;
    let python = ensure_pillow()?;
    println!(
        "judges are installed; the tests find Pillow at {}",
        python.display()
    );
    Ok(())
}
