//! `check --fix`: each fix edits only the offending node's bytes, the file then checks clean for
//! the fixed rule, and a second run changes nothing.

use crate::common::tools::{copy_dir, copy_invalid_fixture, git_cmd, lint_ci as bin};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// A copy of fixture `id` with `file` replaced by `text`.
fn repo(id: &str, file: &str, text: &str) -> tempfile::TempDir {
    let tmp = copy_invalid_fixture(id);
    std::fs::write(tmp.path().join(file), text).unwrap();
    tmp
}

/// Every file of the tree and its bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn rules_found(dir: &Path) -> Vec<String> {
    let out = bin()
        .current_dir(dir)
        .args(["check", ".", "--format", "json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["rule"].as_str().unwrap().to_owned())
        .collect()
}

/// Writes `before` as `file` of the fixture of `rule`, runs `--fix`, and checks that the result
/// is exactly `after` (every other byte of the file untouched), that no other file changed, that
/// the rule is gone, and that fixing again changes nothing.
fn fixes_to(rule: &str, file: &str, before: &str, after: &str) {
    let tmp = repo(rule, file, before);
    assert!(
        rules_found(tmp.path()).iter().any(|r| r == rule),
        "{rule} fires before"
    );
    let untouched = {
        let mut s = snapshot(tmp.path());
        s.remove(file);
        s
    };
    let run = bin()
        .current_dir(tmp.path())
        .args(["check", ".", "--fix"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains(&format!("fixed {file}: 1 finding ({rule})")),
        "{stderr}"
    );
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    let fixed = std::fs::read(tmp.path().join(file)).unwrap();
    assert_eq!(String::from_utf8_lossy(&fixed), after);
    let mut others = snapshot(tmp.path());
    others.remove(file);
    assert_eq!(
        others, untouched,
        "no other file changed, no temporary file left"
    );

    assert!(
        !rules_found(tmp.path()).iter().any(|r| r == rule),
        "{rule} is fixed"
    );
    let again = bin()
        .current_dir(tmp.path())
        .args(["check", ".", "--fix"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&again.stderr).contains("nothing to fix"));
    assert_eq!(
        std::fs::read(tmp.path().join(file)).unwrap(),
        fixed,
        "idempotent"
    );
}

const DR: &str = "runtimes/dr-dev.yaml";
/// A runtime spec in block style with the legacy string destination.
const LEGACY_SPEC: &str = "spec:\n  destination: env-dev\n  manifestSource:\n    codeRepo: repo-42\n    path: manifests/development\n    targetRevision: HEAD\n  product: product-7\n  projectsRef:\n  - api-server\n";

fn dr(spec: &str) -> String {
    format!(
        "apiVersion: nautes.resource.nautes.io/v1alpha1\nkind: DeploymentRuntime\nmetadata:\n  name: dr-dev\n{spec}"
    )
}

#[test]
fn legacy_destination_with_comments() {
    let before = dr(
        "# the runtime\nspec:\n  # where it deploys\n  destination: env-dev    # pre-0.3.6\n  # the manifests\n  manifestSource:\n    codeRepo: repo-42\n    path: manifests/development\n    targetRevision: HEAD\n  product: product-7\n  projectsRef:\n  - api-server\n",
    );
    let after = before.replace(
        "  destination: env-dev    # pre-0.3.6\n",
        "  destination:\n    environment: env-dev    # pre-0.3.6\n",
    );
    fixes_to("dr-legacy-destination", DR, &before, &after);
}

#[test]
fn legacy_destination_in_flow_style() {
    let before = dr(
        "spec: {destination: env-dev, manifestSource: {codeRepo: repo-42, path: manifests/development, targetRevision: HEAD}, product: product-7, projectsRef: [api-server]}\n",
    );
    let after = before.replace(
        "{destination: env-dev,",
        "{destination: {environment: env-dev},",
    );
    fixes_to("dr-legacy-destination", DR, &before, &after);
}

#[test]
fn legacy_destination_with_crlf_line_ends() {
    let before = dr(LEGACY_SPEC).replace('\n', "\r\n");
    let after = before.replace(
        "  destination: env-dev\r\n",
        "  destination:\r\n    environment: env-dev\r\n",
    );
    fixes_to("dr-legacy-destination", DR, &before, &after);
}

#[test]
fn legacy_destination_after_multibyte_characters() {
    let before = dr(
        "# Déploiement: 開発環境 — ünïcödé before the node\nspec:\n  destination: \"env-dev\" # «dev» 🚀\n  manifestSource:\n    codeRepo: repo-42\n    path: manifests/development\n    targetRevision: HEAD\n  product: product-7\n  projectsRef:\n  - api-server\n# 終わり\n",
    );
    let after = before.replace(
        "  destination: \"env-dev\" # «dev» 🚀\n",
        "  destination:\n    environment: \"env-dev\" # «dev» 🚀\n",
    );
    fixes_to("dr-legacy-destination", DR, &before, &after);
}

#[test]
fn legacy_destination_with_four_space_indentation() {
    let before = dr(
        "spec:\n    destination: env-dev\n    manifestSource:\n        codeRepo: repo-42\n        path: manifests/development\n        targetRevision: HEAD\n    product: product-7\n    projectsRef:\n        - api-server\n",
    );
    let after = before.replace(
        "    destination: env-dev\n",
        "    destination:\n        environment: env-dev\n",
    );
    fixes_to("dr-legacy-destination", DR, &before, &after);
}

#[test]
fn yaml11_ambiguity_is_quoted() {
    let before = "# envType yes, with a comment ✓\napiVersion: nautes.resource.nautes.io/v1alpha1\nkind: Environment\nmetadata:\n  name: env-dev\nspec:\n  cluster: cluster-dev\n  envType: yes # ja\n  product: product-7\n";
    let after = before.replace("envType: yes #", "envType: \"yes\" #");
    fixes_to("yaml-1.1-ambiguity", "envs/env-dev.yaml", before, &after);
}

#[test]
fn dry_run_prints_a_unified_diff_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(
        &crate::common::tools::invalid_fixture("dr-legacy-destination"),
        tmp.path(),
    );
    let before = snapshot(tmp.path());
    let run = bin()
        .current_dir(tmp.path())
        .args(["check", ".", "--fix", "--dry-run"])
        .output()
        .unwrap();
    let diff = String::from_utf8(run.stdout).unwrap();
    assert!(
        diff.starts_with("--- a/runtimes/dr-dev.yaml\n+++ b/runtimes/dr-dev.yaml\n@@ "),
        "{diff}"
    );
    assert!(
        diff.contains("\n-  destination: env-dev\n+  destination:\n+    environment: env-dev\n"),
        "{diff}"
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("dry run: nothing written"), "{stderr}");
    // The exit code is the one the fixed tree would get: the warning is gone, nothing else fails.
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    assert_eq!(snapshot(tmp.path()), before, "nothing written");

    // The dry run owns standard output: a report on it too would be mixed with the diff.
    let run = bin()
        .current_dir(tmp.path())
        .args(["check", ".", "--fix", "--dry-run", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
}

#[test]
fn findings_that_cannot_be_fixed_stay_and_fail() {
    // An error no fix can repair: --fix fixes what it can and the check still fails.
    let before = dr(
        "spec:\n  destination: env-nowhere\n  manifestSource:\n    codeRepo: repo-42\n    path: manifests/development\n    targetRevision: HEAD\n  product: product-7\n  projectsRef:\n  - api-server\n",
    );
    let tmp = repo("dr-legacy-destination", DR, &before);
    let run = bin()
        .current_dir(tmp.path())
        .args(["check", ".", "--fix"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("dr-environment-not-found"), "{stdout}");
    assert!(!stdout.contains("dr-legacy-destination"), "{stdout}");
    let fixed = std::fs::read_to_string(tmp.path().join(DR)).unwrap();
    assert!(fixed.contains("  destination:\n    environment: env-nowhere\n"));
}

#[test]
fn fix_with_base_compares_the_fixed_files_with_the_revision() {
    let legacy = dr(LEGACY_SPEC);
    let tmp = repo("dr-legacy-destination", DR, &legacy);
    let git = |args: &[&str]| {
        let out = git_cmd(tmp.path()).args(args).output().unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-qm", "legacy destination"]);

    let out = bin()
        .current_dir(tmp.path())
        .args(["check", "--fix", "--base", "HEAD", "--format", "json", "."])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    // The base rule ran, and the new destination form is the same environment, not a change.
    assert!(
        !report["summary"]["skipped_rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "dr-destination-changed"),
        "{report:#}"
    );
    assert_eq!(report["diagnostics"], serde_json::json!([]), "{report:#}");
    let fixed = std::fs::read_to_string(tmp.path().join(DR)).unwrap();
    assert!(
        fixed.contains("  destination:\n    environment: env-dev\n"),
        "{fixed}"
    );
    // `--rev` names a revision, which has no working files to edit.
    let out = bin()
        .current_dir(tmp.path())
        .args(["check", "--fix", "--rev", "HEAD", "."])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be combined with --rev"));
}
