//! Runs ward's migrations against a database: `up`, `down [N]`, `status` or `fresh`.
//!
//! ```sh
//! cargo run -p ward-domain --example migrate -- status --database-url postgres://postgres@127.0.0.1/test
//! WARD_DATABASE_URL=sqlite://ward-data/ward.db?mode=rwc cargo run -p ward-domain --example migrate -- up
//! ```
//!
//! The URL comes from `--database-url`, else `WARD_DATABASE_URL`, else the embedded default
//! `sqlite://ward-data/ward.db?mode=rwc` (the directory is created). It is never printed.

use std::process::ExitCode;

use ward_domain::migration;

const USAGE: &str = "usage: migrate up|down [N]|status|fresh [--database-url URL]";
const DEFAULT_URL: &str = "sqlite://ward-data/ward.db?mode=rwc";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("migrate: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut url = std::env::var("WARD_DATABASE_URL").ok();
    if let Some(i) = args.iter().position(|a| a == "--database-url") {
        if i + 1 >= args.len() {
            return Err(USAGE.into());
        }
        url = Some(args.remove(i + 1));
        args.remove(i);
    }
    let url = url.unwrap_or_else(|| {
        // The embedded default lives under ./ward-data.
        let _ = std::fs::create_dir_all("ward-data");
        DEFAULT_URL.to_owned()
    });
    let db = ward_domain::connect(&url).await?;
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["up"] => println!("applied {} migration(s)", migration::up(&db).await?),
        ["down"] => println!(
            "reverted {} migration(s)",
            migration::down(&db, Some(1)).await?
        ),
        ["down", n] => {
            let n: u32 = n.parse().map_err(|_| USAGE)?;
            println!(
                "reverted {} migration(s)",
                migration::down(&db, Some(n)).await?
            );
        }
        ["fresh"] => println!(
            "dropped every table and applied {} migration(s)",
            migration::fresh(&db).await?
        ),
        ["status"] => {
            for m in migration::status(&db).await? {
                let state = if m.applied { "applied" } else { "pending" };
                println!("{state:8} {}", m.name);
            }
        }
        _ => return Err(USAGE.into()),
    }
    Ok(())
}
