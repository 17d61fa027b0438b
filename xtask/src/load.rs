//! `cargo xtask load [--seconds N] [--concurrency C] [-- ARGS]`: drives a running ward with
//! uploads and downloads of a 1 MiB JPEG, beside raw PUTs and GETs of the same bytes to the same
//! S3 server, and prints throughput, p50/p99 latency, errors and the service's peak RSS.
//!
//! The measuring lives in ward-api's `load` example (it starts `ward serve` on PostgreSQL and
//! the moto S3 server, see its docs); this task starts the servers (moto afresh, so that runs
//! compare), builds the service and the example with optimisations (a load figure of a debug
//! build says nothing), and runs it.

use anyhow::{Result, bail};

use crate::cmd::{cargo, run, target_dir};
use crate::services;

const USAGE: &str = "usage: cargo xtask load [--seconds N] [--concurrency C] [--json] [-- more options of the load example]";

pub(crate) fn run_load(args: &[String]) -> Result<()> {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return Ok(());
    }
    services::postgres_up()?;
    // A fresh moto per run: one that kept an earlier run's objects is slower, and the figures
    // of two runs would not compare.
    services::restart()?;
    cargo(&[
        "build",
        "--release",
        "-p",
        "ward-api",
        "--bin",
        "ward",
        "--example",
        "load",
    ])?;
    let release = target_dir().join("release");
    let ward = release.join("ward");
    let example = release.join("examples").join("load");
    if !ward.exists() || !example.exists() {
        bail!(
            "the release build did not produce {} and {}",
            ward.display(),
            example.display()
        );
    }
    let ward = ward.to_string_lossy().into_owned();
    let mut load_args = vec!["--ward", ward.as_str()];
    load_args.extend(args.iter().map(String::as_str).filter(|a| *a != "--"));
    run(&example.to_string_lossy(), &load_args)
}
