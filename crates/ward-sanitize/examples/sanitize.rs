//! `cargo run -p ward-sanitize --example sanitize -- IN OUT`: validates and cleans IN into OUT.
//!
//! Exits 0 and prints what was removed, or prints the typed error on stderr and exits 1.
//! Other tools drive this command; keep that contract.

use std::fs::File;
use std::process::ExitCode;

use ward_sanitize::{ActiveContentPolicy, Sanitizer};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (input, output, remove_active) = match args.as_slice() {
        [i, o] => (i, o, false),
        [flag, i, o] if flag == "--remove-active-content" => (i, o, true),
        _ => {
            eprintln!("usage: sanitize [--remove-active-content] IN OUT");
            return ExitCode::from(1);
        }
    };
    let mut sanitizer = Sanitizer::new();
    if remove_active {
        sanitizer = sanitizer.with_active_content(ActiveContentPolicy::Remove);
    }
    let file = match File::open(input) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: cannot open the input: {e}");
            return ExitCode::from(1);
        }
    };
    let cleaned = match sanitizer.sanitize_reader(input, file) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error [{}]: {e}", e.rule());
            return ExitCode::from(1);
        }
    };
    if let Err(e) = std::fs::write(output, cleaned.bytes()) {
        eprintln!("error: cannot write the output: {e}");
        return ExitCode::from(1);
    }
    let report = cleaned.report();
    println!(
        "{}: {} bytes written",
        cleaned.kind(),
        cleaned.bytes().len()
    );
    for removed in report.removed() {
        println!(
            "removed {}: {} item(s), {} bytes",
            removed.category, removed.count, removed.bytes
        );
    }
    if let Some(o) = report.orientation_applied() {
        println!("applied exif orientation {o} (pixels re-encoded)");
    }
    ExitCode::SUCCESS
}
