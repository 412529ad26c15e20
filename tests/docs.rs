//! The documentation stays true: the generated rule catalogue matches the rules, and every
//! `nautes-lint ...` command in README.md and docs/*.md names flags the binary has.

use std::path::Path;

fn repo_file(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

#[test]
fn docs_rules_md_is_generated_from_the_rules() {
    let path = repo_file("docs/rules.md");
    let want = nautes_lint::cli::catalogue::markdown();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &want).expect("write docs/rules.md");
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "docs/rules.md is stale: run `UPDATE_DOCS=1 cargo nextest run --test docs` and commit it"
    );
}
