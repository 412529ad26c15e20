//! Each rule's fixture (`fixtures/invalid/<id>/`, laid over `fixtures/base/` when it holds a
//! `without.txt`) checked in-process: written whole by the tests' one materialiser
//! (`tests/it/common/fixture_tree.rs`) to a temporary folder, loaded into a `MemoryTree`,
//! validated, and rendered as `nautes-lint check` prints it, against the snapshot the command
//! line's test reviews (`tests/snapshots/fixtures__<id>.snap`). `catalogue!` makes one `#[test]`
//! per rule, named after its module, so a failure names its rule.

use super::RuleMeta;
use crate::config::{self, Config};
use crate::tree::{FsTree, MemoryTree, Tree};
use std::path::Path;

#[path = "../../tests/it/common/fixture_tree.rs"]
mod fixture_tree;

/// Everything the working directory at `dir` holds, in memory (unreadable entries stay
/// unreadable).
fn memory_tree(dir: &Path) -> MemoryTree {
    let fs = FsTree::open(dir).expect("the fixture opens");
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for (i, e) in fs.entries().iter().enumerate() {
        match &e.problem {
            Some(p) => problems.push((e.path.clone(), p.clone())),
            None => files.push((e.path.clone(), fs.read(i).expect("a fixture file reads"))),
        }
    }
    problems
        .iter()
        .fold(MemoryTree::new(files), |t, (path, p)| {
            t.with_problem(path, p)
        })
}

/// Checks the fixture of `rule` as `nautes-lint check .` does in its folder (with `--base HEAD`
/// on a committed `base/` for a fixture with `base/` and `head/`): exactly the finding of
/// `expected.txt`, and the reviewed human output.
pub(super) fn check(rule: &'static RuleMeta) {
    let fixture = fixture_tree::invalid_fixture(rule.id);
    let dir: &Path = &fixture;
    let (head, base) = match dir.join("base").is_dir() {
        true => (dir.join("head"), Some(memory_tree(&dir.join("base")))),
        false => (dir.to_path_buf(), None),
    };
    let cfg = Config::load(&head.join(config::FILE_NAME))
        .expect("the fixture's config parses")
        .unwrap_or_default();
    // As the CLI does: `clusters:` wins over the context's clusters; the context's other
    // products give the namespace claims.
    let context = cfg.context.as_ref().map(|p| {
        let bytes = std::fs::read(head.join(p)).expect("the fixture's context reads");
        crate::context::Context::from_json(&bytes).expect("the fixture's context parses")
    });
    let inventory = match (&cfg.clusters, &context) {
        (Some(p), _) => Some(
            crate::clusters::load(p, Some(&head)).expect("the fixture's cluster inventory loads"),
        ),
        (None, Some(c)) => c.inventory().expect("the fixture's context clusters parse"),
        (None, None) => None,
    };
    let clusters = inventory
        .as_ref()
        .map(|i| std::sync::Arc::new(i.clusters.clone()));
    let namespaces = context
        .as_ref()
        .map(|c| std::sync::Arc::new(c.namespace_index(cfg.product.as_deref())));
    let settings = config::settings(cfg, config::Overrides::default(), clusters, namespaces)
        .expect("settings");
    let tree = memory_tree(&head);
    let mut report = crate::validate(&tree, base.as_ref().map(|b| b as &dyn Tree), &settings);
    if let Some(i) = &inventory {
        report.add_sources(&i.sources);
    }

    let expected = std::fs::read_to_string(head.join("expected.txt")).expect("expected.txt");
    let (want_rule, want_at) = expected.trim().split_once(' ').expect("`rule path:line`");
    assert_eq!(want_rule, rule.id, "expected.txt names its rule");
    let got: Vec<(&RuleMeta, String)> = report
        .diagnostics
        .iter()
        .map(|d| (d.rule, format!("{}:{}", d.path, d.line_col().0)))
        .collect();
    assert_eq!(
        got,
        vec![(rule, want_at.to_owned())],
        "exactly this finding"
    );
    for d in &report.diagnostics {
        assert!(
            d.fix.is_none() || d.rule.fixable,
            "a fix of a rule not marked fixable"
        );
    }

    let text = crate::render::human::render(
        &report,
        &crate::render::human::Options {
            color: false,
            width: 100,
            new_only: false,
        },
    );
    insta::with_settings!({
        snapshot_path => Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots"),
        prepend_module_to_snapshot => false,
    }, {
        insta::assert_snapshot!(format!("fixtures__{}", rule.id), text);
    });
}

#[test]
fn every_fixture_folder_is_a_rule() {
    let mut folders: Vec<String> = std::fs::read_dir(fixture_tree::invalid_folder(""))
        .expect("fixtures/invalid")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    let mut ids: Vec<&str> = super::ids().collect();
    ids.sort_unstable();
    assert_eq!(folders, ids);
}

/// A fixture folder holds only what breaks its rule: a file identical to `fixtures/base/`'s at
/// the same path belongs to the base (an old-style folder, a whole tree, moves onto the base by
/// dropping those files and adding a `without.txt`), and `without.txt` lists only base files
/// that the folder does not write itself.
#[test]
fn a_fixture_holds_only_what_differs_from_the_base() {
    let base = fixture_tree::base();
    let mut copies = Vec::new();
    for entry in std::fs::read_dir(fixture_tree::invalid_folder("")).expect("fixtures/invalid") {
        let folder = entry.expect("entry").path();
        let roots = match folder.join("base").is_dir() {
            true => vec![folder.join("base"), folder.join("head")],
            false => vec![folder],
        };
        for root in roots {
            for rel in regular_files(&root, &root) {
                if std::fs::read(base.join(&rel)).ok()
                    == Some(std::fs::read(root.join(&rel)).expect("read"))
                {
                    copies.push(format!(
                        "{}: the same as fixtures/base/{rel}",
                        root.join(&rel).display()
                    ));
                }
            }
            for rel in fixture_tree::without(&root).unwrap_or_default() {
                if !base.join(&rel).is_file() || root.join(&rel).exists() {
                    copies.push(format!(
                        "{}: `{rel}` is not a base file the fixture goes without",
                        root.join(fixture_tree::WITHOUT).display()
                    ));
                }
            }
        }
    }
    assert!(
        copies.is_empty(),
        "{}\nLeave such a file out: the fixture gets it from fixtures/base/. A folder without \
         `without.txt` is a whole tree: give it one too, or it loses the file (ARCHITECTURE.md, \
         \"Adding a rule\").",
        copies.join("\n")
    );
}

/// The regular files below `dir`, relative to `root` (a link is the fixture's own).
fn regular_files(root: &Path, dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let entry = entry.expect("entry");
        let ft = entry.file_type().expect("file type");
        if ft.is_dir() {
            out.extend(regular_files(root, &entry.path()));
        } else if ft.is_file() {
            let rel = entry
                .path()
                .strip_prefix(root)
                .expect("below root")
                .to_owned();
            out.push(rel.to_string_lossy().into_owned());
        }
    }
    out
}
