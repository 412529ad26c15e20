//! A finding keeps its fingerprint when unrelated lines move: `--new-only` and every hook compare
//! fingerprints, so a fingerprint that changed with a line number would turn an old finding into
//! a new one and block a push that did not touch it.
//!
//! Over every fixture (each breaks one rule, the valid ones none), edits that change no node of a
//! finding must leave the fingerprints as they were: blank lines and comments inserted above
//! top-level keys, the top-level keys of a file without findings reordered, and an unrelated
//! Environment added (which may bring findings of its own, but keeps every old one).

use crate::common::{self, *};
use proptest::prelude::*;
use std::path::{Path, PathBuf};

/// Every fixture folder: the invalid ones and the valid demo.
fn fixture_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(fixture("invalid"))
        .expect("fixtures/invalid")
        .map(|e| e.expect("entry").path())
        // dr-destination-changed's fixture is two trees (base/ and head/), checked elsewhere.
        .filter(|p| p.join("expected.txt").is_file())
        .collect();
    dirs.push(fixture("valid/demo"));
    dirs.sort();
    dirs
}

/// The YAML files of a fixture's layout folders (regular files only), relative to its root.
fn yaml_files(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for top in ["envs", "runtimes", "projects", "code-repos"] {
        walk(root, &root.join(top), &mut out);
    }
    out.sort();
    out
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries {
        let e = e.expect("entry");
        let ft = e.file_type().expect("file type");
        if ft.is_dir() {
            walk(root, &e.path(), out);
        } else if ft.is_file() && e.path().extension().is_some_and(|x| x == "yaml") {
            let rel = e.path().strip_prefix(root).expect("below root").to_owned();
            out.push(rel.to_string_lossy().into_owned());
        }
    }
}

/// (path, fingerprint) of every finding, sorted. The path is part of the identity anyway.
fn fingerprints(dir: &Path) -> Vec<(String, String)> {
    let (_, report) = check_json(dir, &[]);
    let mut v: Vec<(String, String)> = report["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .map(|d| {
            (
                d["path"].as_str().expect("path").to_owned(),
                d["fingerprint"].as_str().expect("fingerprint").to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

/// Indices of the lines before which a whole line can be inserted without changing any node:
/// the start of the file and every top-level key (a line at column 0 starting with a letter
/// ends any block scalar or flow continuation above it).
fn top_level_lines(text: &str) -> Vec<usize> {
    let mut v = vec![0];
    v.extend(
        text.lines()
            .enumerate()
            .filter(|(_, l)| l.starts_with(|c: char| c.is_ascii_alphabetic()))
            .map(|(i, _)| i),
    );
    v.dedup();
    v
}

fn insert_lines(text: &str, before: usize, lines: &str) -> String {
    let mut out = String::new();
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i == before {
            out.push_str(lines);
        }
        out.push_str(l);
    }
    if before >= text.split_inclusive('\n').count() {
        out.push_str(lines);
    }
    out
}

/// The file's top-level entries rotated by `by`, or `None` when it is not one plain document
/// with unique top-level keys (reordering would then change what it means).
fn rotate_top_level(text: &str, by: usize) -> Option<String> {
    if text
        .lines()
        .any(|l| l.starts_with("---") || l.starts_with('%'))
        || !text.ends_with('\n')
    {
        return None;
    }
    let mut head = String::new();
    let mut chunks: Vec<String> = Vec::new();
    for l in text.split_inclusive('\n') {
        if l.starts_with(|c: char| c.is_ascii_alphabetic()) {
            chunks.push(String::new());
        }
        match chunks.last_mut() {
            Some(c) => c.push_str(l),
            None => head.push_str(l),
        }
    }
    let mut keys: Vec<&str> = chunks
        .iter()
        .map(|c| c.split(':').next().unwrap_or(""))
        .collect();
    keys.sort_unstable();
    let n = keys.len();
    keys.dedup();
    if n < 2 || keys.len() != n {
        return None;
    }
    chunks.rotate_left(by % n);
    Some(head + &chunks.concat())
}

/// The product most files of the fixture name, for an added Environment that belongs.
fn product_of(root: &Path) -> String {
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for f in yaml_files(root) {
        let text = std::fs::read_to_string(root.join(&f)).unwrap_or_default();
        for l in text.lines() {
            if let Some(p) = l.trim().strip_prefix("product: ") {
                *counts.entry(p.trim().to_owned()).or_default() += 1;
            }
        }
    }
    counts
        .into_iter()
        .max_by_key(|(p, n)| (*n, std::cmp::Reverse(p.clone())))
        .map_or_else(|| "product-7".to_owned(), |(p, _)| p)
}

#[derive(Debug, Clone)]
enum Edit {
    /// Blank lines or comments before a top-level key of one file.
    Insert {
        file: usize,
        at: usize,
        comment: bool,
        count: usize,
    },
    /// The top-level keys of one file without findings, rotated.
    Reorder { file: usize, by: usize },
    /// A new Environment in `envs/`.
    AddEnvironment { name: u32 },
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<usize>(), any::<bool>(), 1..4usize).prop_map(
            |(file, at, comment, count)| Edit::Insert {
                file,
                at,
                comment,
                count
            }
        ),
        (any::<usize>(), 1..6usize).prop_map(|(file, by)| Edit::Reorder { file, by }),
        any::<u32>().prop_map(|name| Edit::AddEnvironment { name }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn unrelated_edits_keep_every_fingerprint(which in any::<usize>(), edits in prop::collection::vec(edit(), 1..4)) {
        let dirs = fixture_dirs();
        let src = &dirs[which % dirs.len()];
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = &tmp.path().join("repo");
        common::tools::write_tree(src, root);
        // The demo's configuration names its inventory as `../clusters`.
        common::tools::copy_dir(&fixture("valid/clusters"), &tmp.path().join("clusters"));
        let before = fingerprints(root);
        let files = yaml_files(root);
        prop_assume!(!files.is_empty());
        let mut supersets_only = false;
        for e in &edits {
            match e {
                Edit::Insert { file, at, comment, count } => {
                    let f = &files[file % files.len()];
                    let text = std::fs::read_to_string(root.join(f)).expect("read");
                    let spots = top_level_lines(&text);
                    let line = if *comment { "# moved by an unrelated edit\n" } else { "\n" };
                    let new = insert_lines(&text, spots[at % spots.len()], &line.repeat(*count));
                    std::fs::write(root.join(f), new).expect("write");
                }
                Edit::Reorder { file, by } => {
                    let f = &files[file % files.len()];
                    if before.iter().any(|(p, _)| p == f) {
                        continue;
                    }
                    let text = std::fs::read_to_string(root.join(f)).expect("read");
                    if let Some(new) = rotate_top_level(&text, *by) {
                        std::fs::write(root.join(f), new).expect("write");
                    }
                }
                Edit::AddEnvironment { name } => {
                    let name = format!("zz-unrelated-{name}");
                    let product = product_of(root);
                    std::fs::create_dir_all(root.join("envs")).expect("mkdir");
                    std::fs::write(
                        root.join(format!("envs/{name}.yaml")),
                        format!(
                            "apiVersion: nautes.resource.nautes.io/v1alpha1\nkind: Environment\nmetadata:\n  name: {name}\nspec:\n  cluster: {name}\n  envType: development\n  product: {product}\n"
                        ),
                    )
                    .expect("write");
                    supersets_only = true;
                }
            }
        }
        let after = fingerprints(root);
        if supersets_only {
            for f in &before {
                prop_assert!(after.contains(f), "{} lost {f:?}: {after:?}", src.display());
            }
        } else {
            prop_assert_eq!(&before, &after, "{}: {:?}", src.display(), edits);
        }
    }
}

/// The case that broke before: a duplicate key's fingerprint named its line.
#[test]
fn a_duplicate_key_keeps_its_fingerprint_below_a_new_line() {
    let tmp = common::tools::copy_invalid_fixture("yaml-duplicate-key");
    let before = fingerprints(tmp.path());
    assert_eq!(before.len(), 1);
    let path = tmp.path().join(&before[0].0);
    let text = std::fs::read_to_string(&path).expect("read");
    std::fs::write(&path, format!("# a comment above\n\n{text}")).expect("write");
    assert_eq!(fingerprints(tmp.path()), before);
}
