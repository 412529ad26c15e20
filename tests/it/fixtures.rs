//! The binary on the rule fixtures (each rule's own fixture test runs in-process, in the library:
//! `rules::fixtures::<rule>`), and every valid fixture passes clean.

use crate::common::{self, *};

/// Where a rule's fixture is checked and the flags it takes. A rule that needs a base revision
/// has `base/` and `head/` trees: they become a repository whose commit holds `base/` and whose
/// working tree holds `head/`, checked with `--base HEAD`, as a developer would before committing.
struct Checked {
    dir: std::path::PathBuf,
    args: &'static [&'static str],
    _tree: crate::common::tools::Fixture,
    _repo: Option<tempfile::TempDir>,
}

fn checked_fixture(id: &str) -> Checked {
    let tree = crate::common::tools::invalid_fixture(id);
    let dir = tree.to_path_buf();
    if !dir.join("base").is_dir() {
        return Checked {
            dir,
            args: &[],
            _tree: tree,
            _repo: None,
        };
    }
    let repo = tempfile::tempdir().expect("tempdir");
    let git = |args: &[&str]| {
        let out = crate::common::tools::git_cmd(repo.path())
            .args(args)
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {out:?}");
    };
    git(&["init", "-q"]);
    crate::common::tools::copy_dir(&dir.join("base"), repo.path());
    git(&["add", "-A"]);
    git(&["commit", "-qm", "base"]);
    git(&["rm", "-rqf", "."]);
    crate::common::tools::copy_dir(&dir.join("head"), repo.path());
    Checked {
        dir: repo.path().to_path_buf(),
        args: &["--base", "HEAD"],
        _tree: tree,
        _repo: Some(repo),
    }
}

/// Each rule's fixture is checked in-process, one test per rule (`rules::fixtures::<rule>` in
/// the library, against the same snapshots). The binary is checked here on the fixtures whose way
/// through it differs: a base revision committed in git (`--base HEAD`), a symlink out of the tree
/// on disk, and a warning, which leaves the exit code 0.
#[test]
fn the_binary_reports_the_fixtures_as_the_in_process_check() {
    for id in [
        "dr-destination-changed",
        "unreadable-file",
        "yaml-1.1-ambiguity",
    ] {
        let checked = checked_fixture(id);
        let expected = std::fs::read_to_string(checked.dir.join("expected.txt"))
            .unwrap_or_else(|_| panic!("fixture for {id}"));
        let (want_rule, want_at) = expected.trim().split_once(' ').expect("`rule path:line`");
        assert_eq!(want_rule, id);
        let (code, report) = check_json(&checked.dir, checked.args);
        assert_eq!(
            findings(&report),
            vec![(id.to_owned(), want_at.to_owned())],
            "fixture {id}"
        );
        let severity = report["diagnostics"][0]["severity"]
            .as_str()
            .expect("severity");
        assert_eq!(
            code,
            if severity == "error" { 1 } else { 0 },
            "exit code of {id}"
        );
        let out = bin()
            .current_dir(&checked.dir)
            .arg("check")
            .arg(".")
            .args(checked.args)
            .output()
            .expect("runs");
        let text = String::from_utf8(out.stdout).expect("utf-8");
        assert_snapshot!(id, text);
    }
}

/// (path, what it is) of every entry below `dir`: a file's bytes, a link's target, a folder.
fn listing(dir: &std::path::Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let e = e.expect("entry");
            let rel = e
                .path()
                .strip_prefix(dir)
                .expect("below")
                .display()
                .to_string();
            let ft = e.file_type().expect("file type");
            if ft.is_dir() {
                stack.push(e.path());
                out.push((rel, "a folder".to_owned()));
            } else if ft.is_symlink() {
                let to = std::fs::read_link(e.path()).expect("read_link");
                out.push((rel, format!("-> {}", to.display())));
            } else {
                let bytes = std::fs::read(e.path()).expect("read");
                out.push((rel, String::from_utf8_lossy(&bytes).into_owned()));
            }
        }
    }
    out.sort();
    out
}

/// `scripts/fixture.sh`, which a reader runs, writes the tree the tests check.
#[test]
fn the_script_writes_each_fixture_as_the_tests_compose_it() {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/fixture.sh");
    let ids: Vec<String> = std::fs::read_dir(fixture("invalid"))
        .expect("fixtures/invalid")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(ids.len() >= 40, "{ids:?}");
    for id in ids {
        let out = tempfile::tempdir().expect("tempdir");
        let dir = out.path().join("tree");
        let run = std::process::Command::new(&script)
            .arg(&id)
            .arg(&dir)
            .output()
            .expect("the script runs");
        assert!(run.status.success(), "{id}: {run:?}");
        assert_eq!(
            String::from_utf8_lossy(&run.stdout).trim(),
            dir.display().to_string()
        );
        let composed = crate::common::tools::invalid_fixture(&id);
        assert_eq!(listing(&dir), listing(&composed), "{id}");
        assert!(
            !listing(&dir)
                .iter()
                .any(|(p, _)| p.ends_with(crate::common::tools::WITHOUT)),
            "{id}"
        );
    }
}

/// A fixture folder with `without.txt` is the base minus the files it lists (and the folders
/// they leave empty, as git holds none), with its own files over the base's.
#[test]
fn a_fixture_on_the_base_goes_without_the_files_it_lists() {
    let src = tree(&[
        (
            crate::common::tools::WITHOUT,
            b"# a comment\n\nenvs/env-dev.yaml\n  clusters/cluster-dev.yaml \n".as_slice(),
        ),
        ("runtimes/dr-dev.yaml", b"replaced\n"),
        ("runtimes/extra.yaml", b"added\n"),
    ]);
    let to = tempfile::tempdir().expect("tempdir");
    crate::common::tools::write_tree(src.path(), to.path());
    let mut want = listing(&fixture("base"));
    want.retain(|(p, _)| {
        ![
            "envs",
            "envs/env-dev.yaml",
            "clusters",
            "clusters/cluster-dev.yaml",
        ]
        .contains(&p.as_str())
            && p != "runtimes/dr-dev.yaml"
    });
    want.push(("runtimes/dr-dev.yaml".to_owned(), "replaced\n".to_owned()));
    want.push(("runtimes/extra.yaml".to_owned(), "added\n".to_owned()));
    want.sort();
    assert_eq!(listing(to.path()), want);
    // A folder without the marker, such as the valid demo, is copied as it is.
    let copy = tempfile::tempdir().expect("tempdir");
    crate::common::tools::write_tree(&fixture("valid/demo"), copy.path());
    assert_eq!(listing(copy.path()), listing(&fixture("valid/demo")));
}

#[test]
fn the_demo_is_clean() {
    let (code, report) = check_json(&fixture("valid/demo"), &[]);
    assert_eq!(findings(&report), vec![]);
    assert_eq!(code, 0);
    assert!(report["summary"]["resources"].as_u64().expect("count") >= 25);
    // The demo's config names the cluster inventory, so only the base rule and the rule that
    // needs a tenant context are skipped.
    assert_eq!(
        report["summary"]["skipped_rules"],
        serde_json::json!([
            "dr-namespace-used-by-other-product",
            "dr-destination-changed"
        ])
    );
}

#[test]
fn the_demo_without_clusters_skips_and_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    common::tools::copy_dir(&fixture("valid/demo"), dir.path());
    std::fs::remove_file(dir.path().join(".nautes-lint.yaml")).expect("rm config");
    let (code, report) = check_json(dir.path(), &[]);
    assert_eq!(code, 0);
    let skipped: Vec<&str> = report["summary"]["skipped_rules"]
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v.as_str().expect("str"))
        .collect();
    for id in [
        "dr-cluster-not-deployment",
        "dr-component-namespace",
        "env-cluster-not-found",
    ] {
        assert!(skipped.contains(&id), "{skipped:?}");
    }
    let out = bin().arg("check").arg(dir.path()).output().expect("runs");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("skipped")).collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(lines[0].contains("--clusters"), "{text}");
    assert!(
        text.contains("product `product-7`") || !text.contains("assumed"),
        "{text}"
    );
    // The inventory from the environment, as the hooks and the service take it.
    let out = bin()
        .args(["check", "--format", "json"])
        .arg(dir.path())
        .env("NAUTES_LINT_CLUSTERS", fixture("valid/clusters"))
        .output()
        .expect("runs");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        report["summary"]["skipped_rules"],
        serde_json::json!([
            "dr-namespace-used-by-other-product",
            "dr-destination-changed"
        ])
    );
}

#[test]
fn the_legacy_destination_is_a_warning_until_nautes_0_3_6() {
    let dir = fixture("valid/legacy");
    let (code, report) = check_json(&dir, &[]);
    assert_eq!(code, 0);
    assert_eq!(
        findings(&report),
        vec![(
            "dr-legacy-destination".to_owned(),
            "runtimes/dr-dev.yaml:7".to_owned()
        )]
    );
    assert_eq!(report["diagnostics"][0]["severity"], "warning");
    let (code, report) = check_json(&dir, &["--nautes-version", "0.4.2"]);
    assert_eq!(code, 1);
    assert_eq!(report["diagnostics"][0]["severity"], "error");
    // The legacy fixture sets no product: the human output says which one it assumed.
    let out = bin().arg("check").arg(&dir).output().expect("runs");
    assert!(String::from_utf8_lossy(&out.stdout).contains("product `product-7` assumed"));
}

/// The fixture's `.nautes-lint.yaml` with its `rules:` override removed: what a repository
/// without that configuration gets.
fn without_rule_override(id: &str) -> tempfile::TempDir {
    let tmp = common::tools::copy_invalid_fixture(id);
    let config = tmp.path().join(".nautes-lint.yaml");
    let text = std::fs::read_to_string(&config).expect("config");
    let kept: String = text
        .split_inclusive('\n')
        .take_while(|l| !l.starts_with("rules:"))
        .collect();
    std::fs::write(&config, kept).expect("write config");
    tmp
}

#[test]
fn a_project_in_another_projects_folder_is_an_error_as_nautes_refuses_it() {
    let tmp = without_rule_override("folder-count");
    let (code, report) = check_json(tmp.path(), &[]);
    let got = findings(&report);
    assert_eq!(
        got,
        vec![
            (
                "directory-name-mismatch".to_owned(),
                "projects/api-server/extra.yaml:6".to_owned()
            ),
            (
                "folder-count".to_owned(),
                "projects/api-server/extra.yaml:6".to_owned()
            ),
        ]
    );
    assert_eq!(code, 1, "{report}");
}

#[test]
fn a_code_repo_in_another_code_repos_folder_is_an_error() {
    let tmp = without_rule_override("folder-count");
    std::fs::write(
        tmp.path().join("code-repos/repo-42/extra.yaml"),
        "apiVersion: nautes.resource.nautes.io/v1alpha1\nkind: CodeRepo\nmetadata:\n  name: repo-43\nspec:\n  codeRepoProvider: gitlab\n  product: product-7\n  project: api-server\n  repoName: extra\n  url: https://gitlab.example.com/shop/extra.git\n  webhook:\n    events: [push_events]\n",
    )
    .expect("write");
    let (code, report) = check_json(tmp.path(), &[]);
    let got = findings(&report);
    assert!(
        got.contains(&(
            "directory-name-mismatch".to_owned(),
            "code-repos/repo-42/extra.yaml:4".to_owned()
        )),
        "{got:?}"
    );
    assert!(
        got.contains(&(
            "folder-count".to_owned(),
            "code-repos/repo-42/extra.yaml:4".to_owned()
        )),
        "{got:?}"
    );
    assert_eq!(code, 1);
}

#[test]
fn a_folder_with_a_binding_alone_is_reported_by_folder_count() {
    let tmp = without_rule_override("binding-coderepo-not-found");
    let (_, report) = check_json(tmp.path(), &[]);
    let d = report["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .find(|d| d["rule"] == "folder-count")
        .unwrap_or_else(|| panic!("no folder-count finding: {report}"));
    assert_eq!(d["path"], "code-repos/repo-99/binding-x.yaml");
    assert!(
        d["message"]
            .as_str()
            .is_some_and(|m| m.contains("holds no CodeRepo")),
        "{d}"
    );
}
