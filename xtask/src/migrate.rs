//! `cargo xtask migrate up|down [N]|status|fresh [--database-url URL]`: ward's schema migrations.
//!
//! The migrations live in ward-domain (sea-orm-migration); this task runs ward-domain's
//! `migrate` example so xtask itself never compiles the database stack (which would put sea-orm
//! in front of every `cargo xtask ci`). The URL comes from `--database-url`, else
//! `WARD_DATABASE_URL`, else the embedded SQLite default under `./ward-data`.

use anyhow::{Result, bail};

use crate::cmd::cargo;

const USAGE: &str = "usage: cargo xtask migrate up|down [N]|status|fresh [--database-url URL]";

pub(crate) fn run(args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("up" | "down" | "status" | "fresh") => {}
        _ => bail!("{USAGE}"),
    }
    let mut cargo_args = vec![
        "run",
        "--quiet",
        "-p",
        "ward-domain",
        "--example",
        "migrate",
        "--",
    ];
    cargo_args.extend(args.iter().map(String::as_str));
    cargo(&cargo_args)
}
