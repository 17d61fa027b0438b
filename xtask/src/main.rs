//! `cargo xtask`: ward's build tasks, one module per subcommand.
//!
//! CI runs only `cargo xtask ci`, so a green run here is a green run in CI.

mod ci;
mod cmd;
mod fuzz;
mod load;
mod migrate;
mod mutants;
mod services;
mod tools;

use anyhow::{Result, bail};

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  ci            run everything CI checks (fmt, clippy, deny, docs, tests)
  services      up|down|status: the S3 test servers (moto, s3s-fs) on loopback
  fuzz          [--smoke | --seconds N]: fuzz ward-sanitize's parsers (cargo fuzz or mutation tests)
  judges        install the independent judges ward-sanitize's tests use (exiftool, qpdf, pngfix, Pillow)
  load          [--seconds N] [--concurrency C]: throughput and latency of a running ward beside raw S3
  migrate       up|down [N]|status|fresh [--database-url URL]: ward's schema migrations
  mutants       [--quick] [--crate NAME]... [-- ARGS]: cargo-mutants over the security modules
";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (task, rest) = match args.split_first() {
        Some((task, rest)) => (task.as_str(), rest),
        None => {
            eprint!("{USAGE}");
            bail!("no task given");
        }
    };
    match task {
        "ci" => ci::run(rest),
        "services" => services::run(rest),
        "fuzz" => fuzz::run(rest),
        "judges" => tools::judges(),
        "load" => load::run_load(rest),
        "migrate" => migrate::run(rest),
        "mutants" => mutants::run(rest),
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(())
        }
        other => {
            eprint!("{USAGE}");
            bail!("unknown task `{other}`")
        }
    }
}
