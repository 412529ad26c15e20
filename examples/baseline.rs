//! Baselines for BENCHMARKS.md: what the check costs compared with doing almost nothing.
//!
//! ```text
//! cargo run --release --example baseline -- walk  DIR   # list the files as `check` does
//! cargo run --release --example baseline -- read  DIR   # list + read every file (parallel)
//! cargo run --release --example baseline -- parse DIR   # list + read + saphyr event parse (parallel)
//! ```

use nautes_lint::tree::{FsTree, Tree};
use rayon::prelude::*;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(mode), Some(dir)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: baseline walk|read|parse DIR");
        return ExitCode::from(2);
    };
    let tree = match FsTree::open(std::path::Path::new(dir)) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{dir}: {e}");
            return ExitCode::from(2);
        }
    };
    let n = tree.entries().len();
    let total: usize = match mode.as_str() {
        "walk" => n,
        "read" => (0..n)
            .into_par_iter()
            .map(|i| tree.read(i).map_or(0, |b| b.len()))
            .sum(),
        "parse" => (0..n)
            .into_par_iter()
            .map(|i| {
                let bytes = tree.read(i).unwrap_or_default();
                let text = String::from_utf8_lossy(&bytes);
                saphyr_parser::Parser::new_from_str(&text)
                    .filter(Result::is_ok)
                    .count()
            })
            .sum(),
        other => {
            eprintln!("unknown mode {other}");
            return ExitCode::from(2);
        }
    };
    println!("{mode}: {n} files, {total}");
    ExitCode::SUCCESS
}
