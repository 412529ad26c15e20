//! Each rule's fixture (`fixtures/invalid/<id>/`) checked in-process: loaded into a `MemoryTree`,
//! validated, and rendered as `nautes-lint check` prints it, against the snapshot the command
//! line's test reviews (`tests/snapshots/fixtures__<id>.snap`). `catalogue!`
//! makes one `#[test]` per rule, named after its module, so a failure names its rule.

use super::RuleMeta;
use crate::config::{self, Config};
use crate::tree::{FsTree, MemoryTree, Tree};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/invalid")
}

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
    let dir = fixtures().join(rule.id);
    let (head, base) = match dir.join("base").is_dir() {
        true => (dir.join("head"), Some(memory_tree(&dir.join("base")))),
        false => (dir.clone(), None),
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
    let mut folders: Vec<String> = std::fs::read_dir(fixtures())
        .expect("fixtures/invalid")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    let mut ids: Vec<&str> = super::ids().collect();
    ids.sort_unstable();
    assert_eq!(folders, ids);
}
