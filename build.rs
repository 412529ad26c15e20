//! Collects each rule's module doc comment (`//!` lines of `src/rules/<rule>.rs`) so that
//! `nautes-lint explain <id>` prints the same text a reader of the source sees.

use std::fmt::Write;

fn main() {
    println!("cargo::rerun-if-changed=src/rules");
    let mut files: Vec<_> = std::fs::read_dir("src/rules")
        .expect("src/rules exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    let mut out = String::from(
        "/// (rule id, documentation) for every rule.\npub static DOCS: &[(&str, &str)] = &[\n",
    );
    for path in files {
        let text = std::fs::read_to_string(&path).expect("readable rule file");
        // `meta!(` then the id literal; rustfmt puts the arguments on their own lines when the
        // call is long, so whitespace may stand between the two.
        let Some(id) = text
            .split("meta!(")
            .nth(1)
            .and_then(|s| s.trim_start().strip_prefix('"'))
            .and_then(|s| s.split('"').next())
        else {
            continue;
        };
        let doc: Vec<&str> = text
            .lines()
            .take_while(|l| l.starts_with("//!"))
            .map(|l| {
                l.strip_prefix("//! ")
                    .unwrap_or(l.strip_prefix("//!").unwrap_or(l))
            })
            .collect();
        writeln!(out, "    ({id:?}, {:?}),", doc.join("\n")).expect("write to string");
    }
    out.push_str("];\n");
    let dest = std::path::Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR set by cargo"))
        .join("rule_docs.rs");
    std::fs::write(dest, out).expect("write rule_docs.rs");
}
