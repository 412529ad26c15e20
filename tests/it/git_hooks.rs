//! The git side through the real binary and the real `git`: revisions, `--base`, and the
//! pre-commit, pre-push and pre-receive hooks in real repositories. No mocks.

use crate::common::tools::{copy_dir, git_cmd};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_nautes-lint");

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn git(dir: &Path, args: &[&str]) -> Output {
    git_cmd(dir).args(args).output().expect("git runs")
}

/// Runs git and insists on success; returns stdout.
fn git_ok(dir: &Path, args: &[&str]) -> String {
    let out = git(dir, args);
    assert!(
        out.status.success(),
        "git {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn lint(dir: &Path, args: &[&str]) -> Output {
    lint_env(dir, args, &[])
}

/// [`lint`] with extra environment variables; stdin is empty.
fn lint_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("NAUTES_LINT_CLUSTERS")
        .env_remove("NAUTES_LINT_CONTEXT");
    for var in [
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        // A test run from a pre-commit framework hook must not see that push's refs.
        "PRE_COMMIT_FROM_REF",
        "PRE_COMMIT_TO_REF",
        "PRE_COMMIT_LOCAL_BRANCH",
        "PRE_COMMIT_REMOTE_BRANCH",
        "PRE_COMMIT_REMOTE_NAME",
    ] {
        c.env_remove(var);
    }
    c.envs(env.iter().copied());
    c.output().expect("nautes-lint runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

const RUNTIME: &str = "runtimes/dr-dev.yaml";

/// A small valid default.project (one runtime, environment, project, code repo, and the
/// cluster inventory inside the tree, which `.nautes-lint.yaml` names).
fn write_valid_tree(dir: &Path) {
    copy_dir(
        &crate::common::tools::invalid_fixture("dr-environment-not-found"),
        dir,
    );
    set_environment(dir, "env-dev");
}

/// Points the runtime at `env`; anything but `env-dev` breaks it.
fn set_environment(dir: &Path, env: &str) {
    let path = dir.join(RUNTIME);
    let text = std::fs::read_to_string(&path).unwrap();
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            if l.trim_start().starts_with("environment:") {
                format!("    environment: {env}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(path, text).unwrap();
}

fn write(dir: &Path, path: &str, text: &str) {
    let p = dir.join(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// A working repository with the valid tree committed on `main`.
fn work_repo(root: &Path) -> PathBuf {
    let w = root.join("work");
    std::fs::create_dir_all(&w).unwrap();
    git_ok(&w, &["init", "-q"]);
    write_valid_tree(&w);
    git_ok(&w, &["add", "-A"]);
    git_ok(&w, &["commit", "-qm", "valid tree"]);
    w
}

/// [`work_repo`] with an empty bare repository as its `origin`; returns (work, remote).
fn work_repo_with_remote(root: &Path) -> (PathBuf, PathBuf) {
    let remote = root.join("remote.git");
    git_ok(root, &["init", "-q", "--bare", remote.to_str().unwrap()]);
    let w = work_repo(root);
    git_ok(&w, &["remote", "add", "origin", remote.to_str().unwrap()]);
    (w, remote)
}

/// A repository whose commit is the base tree of the `dr-destination-changed` fixture: runtime
/// `dr-dev` on `env-dev`, and a second environment `env-qa` on its own cluster, so that moving
/// the runtime breaks nothing but the destination rule.
fn two_environment_repo(root: &Path) -> PathBuf {
    let w = root.join("work");
    std::fs::create_dir_all(&w).unwrap();
    git_ok(&w, &["init", "-q"]);
    copy_dir(
        &crate::common::tools::invalid_fixture("dr-destination-changed/base"),
        &w,
    );
    commit_all(&w, "two environments");
    w
}

/// The rules of the diagnostics of a JSON report, in its order.
fn rules_of(out: &Output) -> Vec<String> {
    json(out)["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["rule"].as_str().unwrap().to_owned())
        .collect()
}

fn commit_all(dir: &Path, message: &str) -> String {
    git_ok(dir, &["add", "-A"]);
    git_ok(dir, &["commit", "-q", "--no-verify", "-m", message]);
    git_ok(dir, &["rev-parse", "HEAD"]).trim().to_owned()
}

#[test]
fn the_valid_tree_is_valid() {
    let tmp = TempDir::new().unwrap();
    write_valid_tree(tmp.path());
    let out = lint(tmp.path(), &["check", "."]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

// ---------------------------------------------------------------------------------------------
// check --rev / --base

#[test]
fn check_rev_in_a_bare_repository_equals_check_on_a_checkout() {
    let tmp = TempDir::new().unwrap();
    let mut compared = 0;
    for entry in std::fs::read_dir(fixtures().join("invalid")).unwrap() {
        let fixture = entry.unwrap().path();
        let name = fixture.file_name().unwrap().to_str().unwrap().to_owned();
        // A symlink leaving the tree: a checkout resolves it (and refuses), a revision holds only
        // the link and says so, so the message differs by design.
        if name == "unreadable-file" {
            continue;
        }
        // `base/` and `head/` trees are two revisions, not one (tests/fixtures.rs).
        if fixture.join("base").is_dir() {
            continue;
        }
        let work = tmp.path().join(&name);
        std::fs::create_dir_all(&work).unwrap();
        git_ok(&work, &["init", "-q"]);
        copy_dir(&crate::common::tools::invalid_fixture(&name), &work);
        git_ok(&work, &["add", "-A"]);
        git_ok(&work, &["commit", "-qm", &name]);
        let bare = tmp.path().join(format!("{name}.git"));
        git_ok(
            tmp.path(),
            &[
                "clone",
                "-q",
                "--bare",
                work.to_str().unwrap(),
                bare.to_str().unwrap(),
            ],
        );
        let from_checkout = lint(&work, &["check", "--format", "json", "."]);
        let from_bare = lint(&bare, &["check", "--rev", "HEAD", "--format", "json", "."]);
        assert_eq!(
            text(&from_checkout),
            text(&from_bare),
            "{name}: check on the checkout and check --rev HEAD in the bare repository differ"
        );
        assert_eq!(
            from_checkout.status.code(),
            from_bare.status.code(),
            "{name}"
        );
        let v = json(&from_bare);
        assert!(
            !v["diagnostics"].as_array().unwrap().is_empty(),
            "{name} breaks a rule: {v:#}"
        );
        compared += 1;
    }
    assert!(compared > 30);
}

#[test]
fn check_rev_reads_the_object_database_not_the_working_tree() {
    let tmp = TempDir::new().unwrap();
    let w = work_repo(tmp.path());
    set_environment(&w, "env-dve");
    let out = lint(&w, &["check", "--rev", "HEAD", "."]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = lint(&w, &["check", "."]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    // A folder of the working tree checks that folder of the revision.
    let nested = tmp.path().join("nested");
    std::fs::create_dir_all(nested.join("default.project")).unwrap();
    git_ok(&nested, &["init", "-q"]);
    write_valid_tree(&nested.join("default.project"));
    set_environment(&nested.join("default.project"), "env-dve");
    commit_all(&nested, "nested");
    let out = lint(&nested, &["check", "--rev", "HEAD", "default.project"]);
    says(&out, 1, "environment `env-dve` does not exist");
}

#[test]
fn check_rev_fails_clearly_outside_a_repository_and_on_a_bad_revision() {
    let tmp = TempDir::new().unwrap();
    let out = lint(tmp.path(), &["check", "--rev", "HEAD", "."]);
    says(&out, 2, "not in a git repository");
    let w = work_repo(tmp.path());
    let out = lint(&w, &["check", "--rev", "no-such-branch", "."]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("no-such-branch"), "{}", text(&out));
    // An abbreviated id that names two objects gets gix's list of candidates...
    for blob in ["ambiguous 690\n", "ambiguous 783\n"] {
        std::fs::write(w.join("blob.txt"), blob).unwrap();
        git_ok(&w, &["hash-object", "-w", "blob.txt"]);
    }
    std::fs::remove_file(w.join("blob.txt")).unwrap();
    let out = lint(&w, &["check", "--rev", "1e7ba", "."]);
    says(&out, 2, "revision `1e7ba`: Short id 1e7ba is ambiguous");
    // ...which is gix's verdict on the id, not a word in the revision's name.
    let out = lint(&w, &["check", "--rev", "ambiguous-typo", "."]);
    says(
        &out,
        2,
        "revision `ambiguous-typo` does not exist: no branch, tag or commit is called that",
    );
    let out = lint(&w, &["check", "--new-only", "."]);
    assert_eq!(out.status.code(), Some(2), "--new-only needs --base");
}

/// Asserts the exit code and a piece of what the command printed, showing all of it otherwise.
fn says(out: &Output, code: i32, needle: &str) {
    let t = text(out);
    assert_eq!(out.status.code(), Some(code), "{t}");
    assert!(t.contains(needle), "no `{needle}` in:\n{t}");
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(out)))
}

#[test]
fn base_marks_new_findings_and_new_only_fails_only_on_them() {
    let tmp = TempDir::new().unwrap();
    let w = work_repo(tmp.path());
    // An old error in the base: a second runtime whose environment does not exist.
    let broken = std::fs::read_to_string(w.join(RUNTIME))
        .unwrap()
        .replace("name: dr-dev", "name: dr-old")
        .replace("environment: env-dev", "environment: env-gone")
        .replace("path: manifests/development", "path: manifests/old");
    write(&w, "runtimes/dr-old.yaml", &broken);
    commit_all(&w, "old error");
    // Unchanged: every finding is old.
    let out = lint(&w, &["check", "--base", "HEAD", "--format", "json", "."]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    let diags = v["diagnostics"].as_array().unwrap();
    assert!(!diags.is_empty());
    assert!(diags.iter().all(|d| d["new"] == false), "{v:#}");
    let out = lint(&w, &["check", "--base", "HEAD", "--new-only", "."]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // A new error: --new-only fails, the human output shows it first and counts the old one.
    set_environment(&w, "env-dve");
    let out = lint(&w, &["check", "--base", "HEAD", "--new-only", "."]);
    assert_eq!(out.status.code(), Some(1));
    let t = text(&out);
    let new_at = t.find("env-dve").expect("the new finding");
    let old_at = t.find("env-gone").expect("the old finding");
    assert!(new_at < old_at, "new findings come first:\n{t}");
    assert!(t.contains("already in the base"), "{t}");
    // The same through revisions only.
    let head = commit_all(&w, "new error");
    let out = lint(
        &w,
        &[
            "check", "--rev", &head, "--base", "HEAD~1", "--format", "json", ".",
        ],
    );
    let v = json(&out);
    let new: Vec<&str> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["new"] == true)
        .map(|d| d["rule"].as_str().unwrap())
        .collect();
    assert!(new.contains(&"dr-environment-not-found"), "{v:#}");
    assert!(new.contains(&"dr-destination-changed"), "{v:#}");
}

#[test]
fn the_human_output_labels_new_and_old_findings() {
    let tmp = TempDir::new().unwrap();
    let w = work_repo(tmp.path());
    // An old error in the base: a second runtime whose environment does not exist.
    let broken = std::fs::read_to_string(w.join(RUNTIME))
        .unwrap()
        .replace("name: dr-dev", "name: dr-old")
        .replace("environment: env-dev", "environment: env-gone")
        .replace("path: manifests/development", "path: manifests/old");
    write(&w, "runtimes/dr-old.yaml", &broken);
    commit_all(&w, "old error");
    let out = lint(&w, &["check", "--base", "HEAD", "--new-only", "."]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("dr-environment-not-found (already in the base)"),
        "{t}"
    );
    let last = t.lines().last().unwrap();
    assert!(
        last.starts_with("ok: no new errors (1 already in the base)"),
        "{t}"
    );
    // A new one is labelled new, and the run fails.
    set_environment(&w, "env-dve");
    let out = lint(&w, &["check", "--base", "HEAD", "--new-only", "."]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("dr-environment-not-found (new)"), "{t}");
    assert!(t.lines().last().unwrap().starts_with("failed: "), "{t}");
    // Without a base there is nothing to label.
    let t = text(&lint(&w, &["check", "."]));
    assert!(
        !t.contains("(new)") && !t.contains("already in the base"),
        "{t}"
    );
}

#[test]
fn bad_revisions_get_a_sentence() {
    let tmp = TempDir::new().unwrap();
    let w = work_repo(tmp.path());
    git_ok(&w, &["commit", "-q", "--allow-empty", "-m", "second"]);
    let fails = |args: &[&str], says: &str| {
        let out = lint(&w, args);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {t}");
        assert!(t.contains(says), "{args:?}: {t}");
        // None of gix's parser state.
        assert!(
            !t.contains("delegate") && !t.contains("input="),
            "{args:?}: {t}"
        );
    };
    fails(
        &["check", "--base", "HEAD~5", "."],
        "revision `HEAD~5` does not exist: `HEAD` has no such ancestor (its first-parent history has 2 commits",
    );
    fails(
        &["check", "--rev", "no-such-branch", "."],
        "revision `no-such-branch` does not exist: no branch, tag or commit is called that",
    );
    fails(
        &["check", "--base", "nope~1", "."],
        "no branch, tag or commit is called `nope`",
    );
    fails(
        &[
            "check",
            "--base",
            "0123456789abcdef0123456789abcdef01234567",
            ".",
        ],
        "commit `0123456789abcdef0123456789abcdef01234567` is missing from the repository",
    );
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    git_ok(&empty, &["init", "-q"]);
    let out = lint(&empty, &["check", "--rev", "HEAD", "."]);
    says(&out, 2, "the current branch has no commits yet");
    git_ok(&empty, &["commit", "-q", "--allow-empty", "-m", "first"]);
    let out = lint(
        &empty,
        &[
            "check",
            "--rev",
            "HEAD",
            "--base",
            "HEAD~1",
            "--allow-empty",
            ".",
        ],
    );
    says(&out, 2, "its first-parent history has 1 commit;");
}

#[test]
fn nothing_to_check_fails_closed() {
    let tmp = TempDir::new().unwrap();
    let w = work_repo(tmp.path());
    // A bare repository has no working tree: say to check a revision.
    let bare = tmp.path().join("bare.git");
    git_ok(
        tmp.path(),
        &[
            "clone",
            "-q",
            "--bare",
            w.to_str().unwrap(),
            bare.to_str().unwrap(),
        ],
    );
    let out = lint(&bare, &["check"]);
    says(&out, 2, "is a bare git repository");
    assert!(text(&out).contains("`--rev HEAD`"), "{}", text(&out));
    let out = lint(&bare, &["check", "--rev", "HEAD"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // A commit with no resource file is not a clean product: it is the wrong path or tree.
    let docs = tmp.path().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    git_ok(&docs, &["init", "-q"]);
    write(&docs, "README.md", "not a default.project\n");
    write(&docs, "envs/README.md", "no resources here\n");
    commit_all(&docs, "docs only");
    let out = lint(&docs, &["check", "--rev", "HEAD", "."]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("revision `HEAD` holds no resource files"), "{t}");
    assert!(t.contains("--allow-empty"), "{t}");
    // The same through a folder of the revision.
    let out = lint(&w, &["check", "--rev", "HEAD", "runtimes"]);
    says(
        &out,
        2,
        "`runtimes` of revision `HEAD` holds no resource files",
    );
    // A product repository that is really empty says so.
    let out = lint(&docs, &["check", "--rev", "HEAD", "--allow-empty", "."]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn dr_destination_changed_with_either_destination_form_and_across_a_rename() {
    let tmp = TempDir::new().unwrap();
    let w = two_environment_repo(tmp.path());
    let out = lint(&w, &["check", "--base", "HEAD", "--format", "json", "."]);
    assert_eq!(rules_of(&out), Vec::<String>::new(), "{}", text(&out));

    // Moving the runtime (new destination form) is refused, and points at the base.
    set_environment(&w, "env-qa");
    let out = lint(&w, &["check", "--base", "HEAD", "--format", "json", "."]);
    assert_eq!(rules_of(&out), ["dr-destination-changed"], "{}", text(&out));
    let v = json(&out);
    let related = &v["diagnostics"][0]["related"][0];
    assert_eq!(related["path"], RUNTIME);

    // Renamed file, legacy destination form: still the same runtime, still moved.
    let yaml = std::fs::read_to_string(w.join(RUNTIME)).unwrap();
    let legacy = yaml.replace(
        "  destination:\n    environment: env-qa\n    namespaces:\n    - dr-dev\n",
        "  destination: env-qa\n",
    );
    assert_ne!(legacy, yaml, "the fixture has the new destination form");
    std::fs::remove_file(w.join(RUNTIME)).unwrap();
    write(&w, "runtimes/renamed.yaml", &legacy);
    let out = lint(
        &w,
        &[
            "check",
            "--base",
            "HEAD",
            "--format",
            "json",
            "--nautes-version",
            "0.3.5",
            ".",
        ],
    );
    let rules = rules_of(&out);
    assert!(
        rules.contains(&"dr-destination-changed".to_owned()),
        "{}",
        text(&out)
    );
    // The environment kept, in the legacy form under the new name: no change to report.
    std::fs::write(
        w.join("runtimes/renamed.yaml"),
        legacy.replace("env-qa", "env-dev"),
    )
    .unwrap();
    let out = lint(
        &w,
        &[
            "check",
            "--base",
            "HEAD",
            "--format",
            "json",
            "--nautes-version",
            "0.3.5",
            ".",
        ],
    );
    assert!(
        !rules_of(&out).contains(&"dr-destination-changed".to_owned()),
        "{}",
        text(&out)
    );
}

#[test]
fn a_runtime_on_an_environment_that_did_not_exist_can_be_corrected() {
    let tmp = TempDir::new().unwrap();
    let w = two_environment_repo(tmp.path());
    // The runtime was added with a typo: Nautes never deployed it, so correcting it moves nothing.
    set_environment(&w, "env-dve");
    let base = commit_all(&w, "typo");
    set_environment(&w, "env-dev");
    let head = commit_all(&w, "fix the typo");
    let out = lint(
        &w,
        &["check", "--rev", &head, "--base", &base, "--new-only", "."],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = lint(
        &w,
        &[
            "check", "--rev", &head, "--base", &base, "--format", "json", ".",
        ],
    );
    assert_eq!(rules_of(&out), Vec::<String>::new(), "{}", text(&out));
    // A second wrong environment is still this change's error, but not a move.
    set_environment(&w, "env-qaa");
    let out = lint(&w, &["check", "--base", &base, "--format", "json", "."]);
    assert_eq!(
        rules_of(&out),
        ["dr-environment-not-found"],
        "{}",
        text(&out)
    );
}

#[test]
fn a_moved_runtime_is_never_told_to_keep_an_environment_that_is_gone() {
    let tmp = TempDir::new().unwrap();
    let w = two_environment_repo(tmp.path());
    std::fs::remove_file(w.join("envs/env-dev.yaml")).unwrap();
    set_environment(&w, "env-qa");
    let out = lint(&w, &["check", "--base", "HEAD", "--format", "json", "."]);
    let v = json(&out);
    let d = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["rule"] == "dr-destination-changed")
        .unwrap_or_else(|| panic!("the runtime still moves: {v:#}"));
    let help = d["help"].as_str().unwrap();
    assert!(!help.contains("keep `env-dev`"), "{help}");
    assert!(help.contains("deletes `env-dev`"), "{help}");
    // With the environment still there, keeping it is the advice.
    copy_dir(
        &crate::common::tools::invalid_fixture("dr-destination-changed/base").join("envs"),
        &w.join("envs"),
    );
    let out = lint(&w, &["check", "--base", "HEAD", "--format", "json", "."]);
    let v = json(&out);
    assert_eq!(rules_of(&out), ["dr-destination-changed"], "{v:#}");
    let help = v["diagnostics"][0]["help"].as_str().unwrap();
    assert!(help.starts_with("keep `env-dev`"), "{help}");
}

#[test]
fn a_runtime_with_other_errors_in_the_base_still_keeps_its_environment() {
    let tmp = TempDir::new().unwrap();
    let w = two_environment_repo(tmp.path());
    // Its environment existed, so an earlier revision may have deployed it there: the other
    // error does not make the move safe.
    let runtime = std::fs::read_to_string(w.join(RUNTIME)).unwrap();
    write(
        &w,
        RUNTIME,
        &runtime.replace("codeRepo: repo-42", "codeRepo: repo-nope"),
    );
    commit_all(&w, "broken code repo");
    write(&w, RUNTIME, &runtime);
    set_environment(&w, "env-qa");
    let out = lint(
        &w,
        &[
            "check",
            "--base",
            "HEAD",
            "--new-only",
            "--format",
            "json",
            ".",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(rules_of(&out), ["dr-destination-changed"], "{}", text(&out));
}

#[test]
fn deleting_a_referenced_resource_says_so_and_points_at_the_deleted_file() {
    let tmp = TempDir::new().unwrap();
    let w = work_repo(tmp.path());
    std::fs::remove_file(w.join("envs/env-dev.yaml")).unwrap();
    let out = lint(&w, &["check", "--base", "HEAD", "--format", "json", "."]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    let d = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["rule"] == "dr-environment-not-found")
        .unwrap_or_else(|| panic!("{v:#}"));
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .contains("this change deletes it"),
        "{d:#}"
    );
    assert_eq!(d["related"][0]["path"], "envs/env-dev.yaml", "{d:#}");
    assert_eq!(d["new"], true);
    // A rename that changes the name is a deletion too.
    git_ok(&w, &["checkout", "--", "envs/env-dev.yaml"]);
    git_ok(
        &w,
        &["mv", "envs/env-dev.yaml", "envs/env-development.yaml"],
    );
    let p = w.join("envs/env-development.yaml");
    let t = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, t.replace("name: env-dev", "name: env-development")).unwrap();
    let out = lint(&w, &["check", "--base", "HEAD", "."]);
    let t = text(&out);
    assert!(t.contains("this change deletes it"), "{t}");
    assert!(t.contains("envs/env-dev.yaml"), "{t}");
    assert!(t.contains("(base revision)"), "{t}");
}

// ---------------------------------------------------------------------------------------------
// pre-commit

#[test]
fn install_hooks_keeps_an_edited_hook_and_every_backup() {
    let tmp = TempDir::new().unwrap();
    let w = work_repo(tmp.path());
    let hook = w.join(".git/hooks/pre-commit");
    let orig = w.join(".git/hooks/pre-commit.orig");
    assert_eq!(
        lint(&w, &["install-hooks", "--pre-commit"]).status.code(),
        Some(0)
    );
    // The user adds a line to our hook: a plain reinstall keeps it and says so.
    let edited = std::fs::read_to_string(&hook)
        .unwrap()
        .replace("exec ", "echo edited >&2\nexec ");
    std::fs::write(&hook, &edited).unwrap();
    let out = lint(&w, &["install-hooks", "--pre-commit"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("edited"), "{}", text(&out));
    assert!(text(&out).contains("--force"), "{}", text(&out));
    assert_eq!(std::fs::read_to_string(&hook).unwrap(), edited);
    // --force replaces it and keeps the edited one.
    let out = lint(&w, &["install-hooks", "--pre-commit", "--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(std::fs::read_to_string(&orig).unwrap(), edited);
    // Another tool's hook replaced again: the first backup stays, the second gets its own name.
    std::fs::write(&hook, "#!/bin/sh\necho other\n").unwrap();
    let out = lint(&w, &["install-hooks", "--pre-commit", "--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(std::fs::read_to_string(&orig).unwrap(), edited);
    assert_eq!(
        std::fs::read_to_string(w.join(".git/hooks/pre-commit.orig.1")).unwrap(),
        "#!/bin/sh\necho other\n"
    );
    assert!(text(&out).contains("pre-commit.orig.1"), "{}", text(&out));
    // An unedited hook of ours is updated in place, with no backup.
    let out = lint(&w, &["install-hooks", "--pre-commit", "--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!w.join(".git/hooks/pre-commit.orig.2").exists());
}

#[test]
fn client_hooks_honour_nautes_lint_skip() {
    let tmp = TempDir::new().unwrap();
    let (w, _remote) = work_repo_with_remote(tmp.path());
    assert_eq!(lint(&w, &["install-hooks"]).status.code(), Some(0));
    set_environment(&w, "env-dve");
    git_ok(&w, &["add", RUNTIME]);
    let blocked = git(&w, &["commit", "-qm", "broken"]);
    assert!(!blocked.status.success(), "{}", text(&blocked));
    let out = git_cmd(&w)
        .env("NAUTES_LINT_SKIP", "1")
        .args(["commit", "-qm", "broken"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("skipped"), "{}", text(&out));
    let blocked = git(&w, &["push", "-q", "origin", "main"]);
    assert!(!blocked.status.success(), "{}", text(&blocked));
    let out = git_cmd(&w)
        .env("NAUTES_LINT_SKIP", "1")
        .args(["push", "-q", "origin", "main"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("NAUTES_LINT_SKIP"), "{}", text(&out));
    // Any other value checks as usual.
    let out = lint_env(&w, &["hook", "pre-commit"], &[("NAUTES_LINT_SKIP", "0")]);
    assert!(!text(&out).contains("skipped"), "{}", text(&out));
}

#[test]
fn hook_help_lists_only_what_each_hook_takes() {
    let help = |hook: &str| text(&lint(Path::new("."), &["hook", hook, "--help"]));
    assert!(
        !help("pre-commit").contains("--tags"),
        "{}",
        help("pre-commit")
    );
    assert!(help("pre-push").contains("--tags"), "{}", help("pre-push"));
    assert!(
        help("pre-push").contains("[REMOTE] [URL]"),
        "{}",
        help("pre-push")
    );
    assert!(
        help("pre-receive").contains("--tags"),
        "{}",
        help("pre-receive")
    );
}

#[test]
fn pre_commit_checks_what_is_staged() {
    let tmp = TempDir::new().unwrap();
    let w = work_repo(tmp.path());
    let out = lint(&w, &["install-hooks", "--pre-commit"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(w.join(".git/hooks/pre-commit").exists());
    assert!(!w.join(".git/hooks/pre-push").exists());

    // A staged broken runtime is refused, with the finding.
    set_environment(&w, "env-dve");
    git_ok(&w, &["add", RUNTIME]);
    let out = git(&w, &["commit", "-m", "broken"]);
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(t.contains("dr-environment-not-found"), "{t}");
    assert!(t.contains(RUNTIME), "{t}");
    assert!(t.contains("commit blocked"), "{t}");

    // Broken only in the working tree (unstaged): does not block another commit.
    git_ok(&w, &["reset", "-q", "--", RUNTIME]);
    write(&w, "README.md", "docs\n");
    git_ok(&w, &["add", "README.md"]);
    let out = git(&w, &["commit", "-m", "docs"]);
    assert!(out.status.success(), "{}", text(&out));

    // `commit -a` stages the broken file into git's temporary index: refused.
    let out = git(&w, &["commit", "-a", "-m", "all"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("dr-environment-not-found"),
        "{}",
        text(&out)
    );

    // The fixed file commits.
    set_environment(&w, "env-dev");
    let yaml = std::fs::read_to_string(w.join(RUNTIME)).unwrap();
    std::fs::write(w.join(RUNTIME), format!("# reviewed\n{yaml}")).unwrap();
    git_ok(&w, &["add", RUNTIME]);
    let out = git(&w, &["commit", "-m", "fixed"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("nautes-lint: ok"), "{}", text(&out));
}

#[test]
fn pre_commit_in_a_new_repository_and_with_old_errors() {
    let tmp = TempDir::new().unwrap();
    let w = tmp.path().join("w");
    std::fs::create_dir_all(&w).unwrap();
    git_ok(&w, &["init", "-q"]);
    assert_eq!(lint(&w, &["install-hooks"]).status.code(), Some(0));
    // No HEAD yet: everything staged is new.
    write_valid_tree(&w);
    set_environment(&w, "env-dve");
    git_ok(&w, &["add", "-A"]);
    assert!(!git(&w, &["commit", "-m", "first"]).status.success());
    git_ok(&w, &["commit", "-q", "--no-verify", "-m", "first, broken"]);
    // The old error does not block an unrelated commit; --all would.
    write(&w, "projects/api-server/notes.md", "notes\n");
    git_ok(&w, &["add", "-A"]);
    let out = git(&w, &["commit", "-m", "notes"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("1 error"), "{}", text(&out));
    let out = lint(&w, &["hook", "pre-commit", "--all"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}

#[test]
fn install_hooks_keeps_foreign_hooks_unless_forced() {
    let tmp = TempDir::new().unwrap();
    let w = work_repo(tmp.path());
    write(&w, ".git/hooks/pre-push", "#!/bin/sh\necho mine\n");
    let out = lint(&w, &["install-hooks"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("--force"), "{}", text(&out));
    // Nothing was half-installed.
    assert!(!w.join(".git/hooks/pre-commit").exists());
    // Our own hooks are updated without --force.
    assert_eq!(
        lint(&w, &["install-hooks", "--pre-commit"]).status.code(),
        Some(0)
    );
    assert_eq!(
        lint(&w, &["install-hooks", "--pre-commit"]).status.code(),
        Some(0)
    );
    let out = lint(&w, &["install-hooks", "--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(w.join(".git/hooks/pre-push.orig")).unwrap(),
        "#!/bin/sh\necho mine\n"
    );
    assert!(
        std::fs::read_to_string(w.join(".git/hooks/pre-push"))
            .unwrap()
            .contains("hook pre-push")
    );
    let out = lint(tmp.path(), &["install-hooks"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "not a repository: {}",
        text(&out)
    );
}

// ---------------------------------------------------------------------------------------------
// pre-push

#[test]
fn pre_push_validates_each_pushed_branch_against_the_remote() {
    let tmp = TempDir::new().unwrap();
    let (w, remote) = work_repo_with_remote(tmp.path());
    assert_eq!(
        lint(&w, &["install-hooks", "--pre-push"]).status.code(),
        Some(0)
    );
    let out = git(&w, &["push", "-q", "origin", "main"]);
    assert!(out.status.success(), "{}", text(&out));
    let remote_head = || git_ok(&remote, &["rev-parse", "main"]).trim().to_owned();
    let pushed = remote_head();

    // A broken runtime is refused; the remote keeps its tip.
    set_environment(&w, "env-dve");
    commit_all(&w, "broken");
    let out = git(&w, &["push", "origin", "main"]);
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(t.contains("dr-environment-not-found"), "{t}");
    assert!(t.contains("push blocked"), "{t}");
    assert_eq!(remote_head(), pushed);

    // Fixed on top: the push of both commits goes through.
    set_environment(&w, "env-dev");
    commit_all(&w, "fixed");
    let out = git(&w, &["push", "origin", "main"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_ne!(remote_head(), pushed);

    // A new branch is compared with the remote's default branch; a deletion passes.
    git_ok(&w, &["fetch", "-q", "origin"]);
    git_ok(&w, &["remote", "set-head", "origin", "main"]);
    git_ok(&w, &["checkout", "-q", "-b", "feature"]);
    write(&w, "README.md", "feature\n");
    commit_all(&w, "feature");
    let out = git(&w, &["push", "origin", "feature"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = git(&w, &["push", "origin", ":feature"]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn pre_push_through_the_pre_commit_framework_takes_the_ref_from_the_environment() {
    // pre-commit.com reads git's ref lines itself and passes one ref in PRE_COMMIT_* variables,
    // with nothing on stdin (`lint_env` gives an empty stdin, as the framework does).
    let tmp = TempDir::new().unwrap();
    let (w, _remote) = work_repo_with_remote(tmp.path());
    git_ok(&w, &["push", "-q", "origin", "main"]);
    let pushed = git_ok(&w, &["rev-parse", "HEAD"]).trim().to_owned();
    set_environment(&w, "env-dve");
    let broken = commit_all(&w, "broken");
    let framework = |from: Option<&str>, to: Option<&str>| {
        let mut env = vec![
            ("PRE_COMMIT_LOCAL_BRANCH", "refs/heads/main"),
            ("PRE_COMMIT_REMOTE_BRANCH", "refs/heads/main"),
            ("PRE_COMMIT_REMOTE_NAME", "origin"),
        ];
        env.extend(from.map(|f| ("PRE_COMMIT_FROM_REF", f)));
        env.extend(to.map(|t| ("PRE_COMMIT_TO_REF", t)));
        lint_env(&w, &["hook", "pre-push"], &env)
    };

    // The framework's usual case: the remote's old tip and the pushed tip.
    let out = framework(Some(&pushed), Some(&broken));
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("dr-environment-not-found"), "{t}");
    assert!(t.contains("new errors in refs/heads/main"), "{t}");

    // Its "all files" case (every commit new to the remote): only the branch is named.
    let out = framework(None, None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("dr-environment-not-found"));

    // Without the framework's variables an empty stdin means nothing to push.
    let out = lint(&w, &["hook", "pre-push"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    set_environment(&w, "env-dev");
    let fixed = commit_all(&w, "fixed");
    let out = framework(Some(&pushed), Some(&fixed));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("1 ref checked"), "{}", text(&out));
}

/// `python3 -m pre_commit`, when the pre-commit framework is installed (`.ci/run` installs it,
/// and in CI its absence is a failure, not a skip).
fn pre_commit_framework() -> Option<Command> {
    let command = || {
        let mut c = Command::new("python3");
        c.args(["-m", "pre_commit"]);
        c
    };
    let found = command()
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found && std::env::var_os("CI").is_some() {
        panic!("pre-commit is not installed: `python3 -m pip install pre-commit`");
    }
    found.then(command)
}

#[test]
fn the_shipped_pre_commit_hooks_block_a_broken_commit_and_push() {
    let Some(mut pre_commit) = pre_commit_framework() else {
        eprintln!("SKIPPED: the pre-commit framework is not installed");
        return;
    };
    let tmp = TempDir::new().unwrap();
    // The remote stays empty until the hooks are in: the first push is pre-commit's "all
    // files" case (no FROM_REF, no TO_REF), the later ones its usual case.
    let (w, remote) = work_repo_with_remote(tmp.path());
    // The shipped hook definitions, as a local repository: `language: rust` would `cargo
    // install` this crate, so the built binary stands in for the installed one.
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(".pre-commit-hooks.yaml"),
    )
    .unwrap();
    assert_eq!(shipped.matches("entry: nautes-lint ").count(), 2);
    let hooks: String = shipped
        .replace("entry: nautes-lint ", &format!("entry: {BIN} "))
        .replace("language: rust", "language: system")
        .lines()
        .map(|l| format!("      {l}\n"))
        .collect();
    write(
        &w,
        ".pre-commit-config.yaml",
        &format!("repos:\n  - repo: local\n    hooks:\n{hooks}"),
    );
    commit_all(&w, "pre-commit configuration");
    let home = tmp.path().join("pre-commit-home");
    let framework = |cmd: &mut Command| {
        cmd.env("PRE_COMMIT_HOME", &home)
            .env("PRE_COMMIT_COLOR", "never");
    };
    let out = pre_commit
        .current_dir(&w)
        .args([
            "install",
            "--hook-type",
            "pre-commit",
            "--hook-type",
            "pre-push",
        ])
        .env("PRE_COMMIT_HOME", &home)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let git_fw = |args: &[&str]| {
        let mut c = git_cmd(&w);
        framework(&mut c);
        c.args(args).output().unwrap()
    };

    // pre-commit stage: a staged broken runtime is refused.
    set_environment(&w, "env-dve");
    git_ok(&w, &["add", "-A"]);
    let out = git_fw(&["commit", "-qm", "broken"]);
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(t.contains("dr-environment-not-found"), "{t}");

    // pre-push stage: the same break committed past the hook is refused at the push, first
    // to the empty remote (every commit new: the branch's tip is checked without a base).
    git_ok(&w, &["commit", "-q", "--no-verify", "-m", "broken"]);
    let refused = |out: Output| {
        let t = text(&out);
        assert!(!out.status.success(), "{t}");
        assert!(t.contains("dr-environment-not-found"), "{t}");
        assert!(t.contains("push blocked"), "{t}");
    };
    refused(git_fw(&["push", "origin", "main"]));
    assert!(
        git(&remote, &["rev-parse", "--verify", "-q", "main"])
            .stdout
            .is_empty()
    );

    // Dropped, and a clean change instead: both stages let it through. (Fixing on top would be
    // a destination change against the broken commit, which the pre-commit stage refuses.)
    git_ok(&w, &["reset", "-q", "--hard", "HEAD~1"]);
    write(&w, "README.md", "clean change\n");
    git_ok(&w, &["add", "-A"]);
    let out = git_fw(&["commit", "-qm", "clean"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = git_fw(&["push", "origin", "main"]);
    assert!(out.status.success(), "{}", text(&out));
    let tip = || git_ok(&remote, &["rev-parse", "main"]);
    assert_eq!(tip(), git_ok(&w, &["rev-parse", "HEAD"]));

    // Then the usual case: the remote's tip is the base.
    let before = tip();
    set_environment(&w, "env-dve");
    git_ok(&w, &["commit", "-qam", "broken again", "--no-verify"]);
    refused(git_fw(&["push", "origin", "main"]));
    assert_eq!(tip(), before);
}

// ---------------------------------------------------------------------------------------------
// pre-receive

/// A bare "server" repository whose pre-receive hook runs the built binary.
fn server(root: &Path) -> PathBuf {
    let srv = root.join("server.git");
    git_ok(root, &["init", "-q", "--bare", srv.to_str().unwrap()]);
    git_ok(&srv, &["config", "receive.advertisePushOptions", "true"]);
    let hook = srv.join("hooks/pre-receive");
    std::fs::write(&hook, format!("#!/bin/sh\nexec '{BIN}' hook pre-receive\n")).unwrap();
    make_executable(&hook);
    srv
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A clone of `srv` holding the valid tree, pushed.
fn client(root: &Path, srv: &Path) -> PathBuf {
    let w = work_repo(root);
    git_ok(&w, &["remote", "add", "origin", srv.to_str().unwrap()]);
    let out = git(&w, &["push", "origin", "main"]);
    assert!(out.status.success(), "first push: {}", text(&out));
    w
}

fn tip(srv: &Path, branch: &str) -> Option<String> {
    let out = git(srv, &["rev-parse", "--verify", "-q", branch]);
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

#[test]
fn pre_receive_rejects_a_push_that_breaks_a_runtime_and_takes_a_clean_one() {
    let tmp = TempDir::new().unwrap();
    let srv = server(tmp.path());
    let w = client(tmp.path(), &srv);
    let before = tip(&srv, "main");

    set_environment(&w, "env-dve");
    commit_all(&w, "broken");
    let out = git(&w, &["push", "origin", "main"]);
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    // The pusher sees the finding with its path and line, as GitLab shows it.
    assert!(
        t.contains("GL-HOOK-ERR: runtimes/dr-dev.yaml:8:18 dr-environment-not-found environment `env-dve` does not exist"),
        "{t}"
    );
    assert!(t.contains("GL-HOOK-ERR: nautes-lint: push rejected"), "{t}");
    assert!(t.contains("pre-receive hook declined"), "{t}");
    assert_eq!(tip(&srv, "main"), before);

    set_environment(&w, "env-dev");
    let fixed = commit_all(&w, "fixed");
    let out = git(&w, &["push", "origin", "main"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("nautes-lint: ok"), "{t}");
    assert!(!t.contains("GL-HOOK-ERR"), "{t}");
    assert_eq!(tip(&srv, "main"), Some(fixed));
}

#[test]
fn pre_receive_takes_a_push_that_adds_no_new_error_to_old_ones() {
    let tmp = TempDir::new().unwrap();
    let srv = server(tmp.path());
    let w = client(tmp.path(), &srv);
    // An old error gets in (bypassing the hook), then an unrelated change is pushed.
    set_environment(&w, "env-dve");
    commit_all(&w, "old error");
    let out = git(&w, &["push", "-o", "nautes-lint.skip", "origin", "main"]);
    assert!(out.status.success(), "{}", text(&out));
    write(&w, "README.md", "unrelated\n");
    let env = std::fs::read_to_string(w.join("envs/env-dev.yaml")).unwrap();
    std::fs::write(
        w.join("envs/env-dev.yaml"),
        format!("# owner: platform\n{env}"),
    )
    .unwrap();
    let head = commit_all(&w, "unrelated");
    let out = git(&w, &["push", "origin", "main"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("1 error already there not counted"), "{t}");
    assert_eq!(tip(&srv, "main"), Some(head));
    // With --all the old error blocks.
    let hook = srv.join("hooks/pre-receive");
    std::fs::write(
        &hook,
        format!("#!/bin/sh\nexec '{BIN}' hook pre-receive --all\n"),
    )
    .unwrap();
    write(&w, "README.md", "again\n");
    commit_all(&w, "again");
    let out = git(&w, &["push", "origin", "main"]);
    assert!(!out.status.success(), "{}", text(&out));
}

#[test]
fn pre_receive_names_the_deleted_file_of_a_still_referenced_environment() {
    let tmp = TempDir::new().unwrap();
    let srv = server(tmp.path());
    let w = client(tmp.path(), &srv);
    git_ok(&w, &["rm", "-q", "envs/env-dev.yaml"]);
    commit_all(&w, "delete env-dev");
    let out = git(&w, &["push", "origin", "main"]);
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(
        t.contains("GL-HOOK-ERR: runtimes/dr-dev.yaml:8:18 dr-environment-not-found environment `env-dev` does not exist: this change deletes it"),
        "{t}"
    );
    assert!(
        t.contains("GL-HOOK-ERR:   envs/env-dev.yaml:5:9 (base revision): Environment `env-dev` was defined here before this change"),
        "{t}"
    );
}

#[test]
fn pre_receive_passes_branch_deletions_and_tags() {
    let tmp = TempDir::new().unwrap();
    let srv = server(tmp.path());
    let w = client(tmp.path(), &srv);
    git_ok(&w, &["checkout", "-q", "-b", "feature"]);
    write(&w, "README.md", "feature\n");
    commit_all(&w, "feature");
    let out = git(&w, &["push", "origin", "feature"]);
    assert!(out.status.success(), "{}", text(&out));
    // A broken commit under a tag is not a branch: it passes unless --tags is configured.
    set_environment(&w, "env-dve");
    commit_all(&w, "broken, tagged");
    git_ok(&w, &["tag", "-a", "-m", "v1", "v1"]);
    let out = git(&w, &["push", "origin", "v1"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = git(&w, &["push", "origin", ":feature"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(tip(&srv, "refs/heads/feature"), None);
    let hook = srv.join("hooks/pre-receive");
    std::fs::write(
        &hook,
        format!("#!/bin/sh\nexec '{BIN}' hook pre-receive --tags\n"),
    )
    .unwrap();
    // A tag at a commit the server already has brings nothing new; one at a new broken
    // commit is checked.
    git_ok(&w, &["tag", "-a", "-m", "v2", "v2"]);
    let out = git(&w, &["push", "origin", "v2"]);
    assert!(out.status.success(), "{}", text(&out));
    write(&w, "runtimes/dr-nope.yaml", DR_NOPE);
    commit_all(&w, "broken again, tagged");
    git_ok(&w, &["tag", "-a", "-m", "v3", "v3"]);
    let out = git(&w, &["push", "origin", "v3"]);
    assert!(!out.status.success(), "{}", text(&out));
}

#[test]
fn pre_receive_skip_option_lets_a_push_through_and_says_who() {
    let tmp = TempDir::new().unwrap();
    let srv = server(tmp.path());
    let w = client(tmp.path(), &srv);
    set_environment(&w, "env-dve");
    let head = commit_all(&w, "broken");
    let out = git_cmd(&w)
        .args(["push", "-o", "nautes-lint.skip", "origin", "main"])
        .env("GL_USERNAME", "alice")
        .output()
        .unwrap();
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("nautes-lint: WARNING: checks skipped by alice with push option nautes-lint.skip; not validated: refs/heads/main"),
        "{t}"
    );
    assert_eq!(tip(&srv, "main"), Some(head));
}

#[test]
fn pre_receive_checks_several_refs_of_one_push() {
    let tmp = TempDir::new().unwrap();
    let srv = server(tmp.path());
    let w = client(tmp.path(), &srv);
    let main_before = tip(&srv, "main");
    // main gets a clean change, a new branch a broken one: the whole push is rejected.
    write(&w, "README.md", "main\n");
    commit_all(&w, "clean");
    git_ok(&w, &["checkout", "-q", "-b", "broken"]);
    set_environment(&w, "env-dve");
    commit_all(&w, "broken");
    git_ok(&w, &["checkout", "-q", "-b", "clean-too", "main"]);
    let out = git(&w, &["push", "origin", "main", "broken", "clean-too"]);
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(t.contains("GL-HOOK-ERR: refs/heads/broken:"), "{t}");
    assert!(t.contains("2 new errors in refs/heads/broken"), "{t}");
    assert!(!t.contains("GL-HOOK-ERR: refs/heads/main:"), "{t}");
    assert_eq!(tip(&srv, "main"), main_before);
    assert_eq!(tip(&srv, "refs/heads/broken"), None);
    // Without the broken branch both go through.
    let out = git(&w, &["push", "origin", "main", "clean-too"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("nautes-lint: ok: 2 refs checked"), "{t}");
}

#[test]
fn pushed_objects_are_quarantined_and_visible_only_through_the_environment() {
    // The trap the hook avoids: during pre-receive, the pushed objects exist only in git's
    // quarantine directory. Reading the repository without GIT_OBJECT_DIRECTORY and
    // GIT_ALTERNATE_OBJECT_DIRECTORIES cannot find the pushed commit.
    let tmp = TempDir::new().unwrap();
    let srv = server(tmp.path());
    let w = client(tmp.path(), &srv);
    let log = tmp.path().join("hook.log");
    let hook = srv.join("hooks/pre-receive");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\nread old new ref\n\
             echo \"quarantine=$GIT_OBJECT_DIRECTORY\" > '{log}'\n\
             '{BIN}' check --rev \"$new\" . >> '{log}' 2>&1; echo \"with=$?\" >> '{log}'\n\
             env -u GIT_OBJECT_DIRECTORY -u GIT_ALTERNATE_OBJECT_DIRECTORIES '{BIN}' check --rev \"$new\" . >> '{log}' 2>&1; echo \"without=$?\" >> '{log}'\n\
             exit 1\n",
            log = log.display()
        ),
    )
    .unwrap();
    write(&w, "README.md", "x\n");
    commit_all(&w, "x");
    let out = git(&w, &["push", "origin", "main"]);
    assert!(!out.status.success());
    let log = std::fs::read_to_string(log).unwrap();
    assert!(log.contains("quarantine=/"), "{log}");
    assert!(log.contains("with=0"), "{log}");
    assert!(log.contains("without=2"), "{log}");
    assert!(log.contains("missing from the repository"), "{log}");
}

#[test]
fn pre_receive_rejects_a_push_whose_configuration_is_broken() {
    // The check cannot run: that must never look like a clean push.
    let tmp = TempDir::new().unwrap();
    let srv = server(tmp.path());
    let w = client(tmp.path(), &srv);
    write(
        &w,
        ".nautes-lint.yaml",
        "clusters: clusters\nprodcut: product-7\n",
    );
    commit_all(&w, "typo in the configuration");
    let out = git(&w, &["push", "origin", "main"]);
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(t.contains("GL-HOOK-ERR: nautes-lint: error: "), "{t}");
    assert!(
        t.contains(".nautes-lint.yaml:2:1: unknown key `prodcut`"),
        "{t}"
    );
    assert!(t.contains("the check could not run"), "{t}");
}

#[test]
fn revisions_hold_symlinks_and_oversized_files_as_findings_not_reads() {
    let tmp = TempDir::new().unwrap();
    let w = work_repo(tmp.path());
    std::os::unix::fs::symlink("../../../../etc/hostname", w.join("runtimes/link.yaml")).unwrap();
    let big = format!("# {}\n", "x".repeat(2 * 1024 * 1024));
    write(&w, "envs/huge.yaml", &big);
    commit_all(&w, "a link and a huge file");
    let out = lint(&w, &["check", "--rev", "HEAD", "--format", "json", "."]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let v = json(&out);
    let unreadable: Vec<(String, String)> = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["rule"] == "unreadable-file")
        .map(|d| {
            (
                d["path"].as_str().unwrap().to_owned(),
                d["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(unreadable.len(), 2, "{v:#}");
    assert_eq!(unreadable[0].0, "envs/huge.yaml");
    assert!(unreadable[0].1.contains("over the limit"), "{v:#}");
    assert_eq!(unreadable[1].0, "runtimes/link.yaml");
    assert!(unreadable[1].1.contains("symbolic link"), "{v:#}");
}

/// A second runtime naming an environment that does not exist: a new error of its own.
const DR_NOPE: &str = "apiVersion: nautes.resource.nautes.io/v1alpha1
kind: DeploymentRuntime
metadata:
  name: dr-nope
spec:
  destination:
    environment: env-nope
  manifestSource:
    codeRepo: repo-42
    path: deploy/nope
    targetRevision: main
  product: product-7
  projectsRef:
  - api-server
";

/// A `main` whose history carries an old error: commit `old` (pushed past the checks) adds a
/// runtime naming `env-gone`, the tip deletes it again. Returns the old commit.
fn main_with_a_fixed_old_error(w: &Path, push: &[&str]) -> String {
    write(w, "runtimes/dr-old.yaml", &DR_NOPE.replace("nope", "gone"));
    let old = commit_all(w, "old error");
    let mut args = vec!["push"];
    args.extend_from_slice(push);
    args.extend(["origin", "main"]);
    let out = git(w, &args);
    assert!(out.status.success(), "{}", text(&out));
    std::fs::remove_file(w.join("runtimes/dr-old.yaml")).unwrap();
    commit_all(w, "fixed");
    let out = git(w, &["push", "origin", "main"]);
    assert!(out.status.success(), "{}", text(&out));
    old
}

#[test]
fn pre_receive_compares_a_new_branch_with_the_nearest_commit_the_repository_had() {
    let tmp = TempDir::new().unwrap();
    let srv = server(tmp.path());
    let w = client(tmp.path(), &srv);
    let old = main_with_a_fixed_old_error(&w, &["-o", "nautes-lint.skip"]);

    // A branch created at an already-pushed commit brings nothing new: it is accepted, even
    // though that commit carries an error that main has fixed since.
    let out = git(&w, &["push", "origin", &format!("{old}:refs/heads/at-old")]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(!t.contains("GL-HOOK-ERR"), "{t}");
    assert_eq!(tip(&srv, "at-old").as_deref(), Some(old.as_str()));

    // A new branch from there adding one error is rejected for that error only.
    git_ok(&w, &["checkout", "-q", "-b", "feature", &old]);
    write(&w, "runtimes/dr-nope.yaml", DR_NOPE);
    commit_all(&w, "a new error");
    let out = git(&w, &["push", "origin", "feature"]);
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(t.contains("environment `env-nope` does not exist"), "{t}");
    assert!(!t.contains("env-gone"), "the old error is not counted: {t}");
    assert!(t.contains("1 new error in refs/heads/feature"), "{t}");
    assert_eq!(tip(&srv, "feature"), None);

    // A history unrelated to every ref has no base: all its errors count.
    git_ok(&w, &["checkout", "-q", "--orphan", "unrelated"]);
    set_environment(&w, "env-dve");
    commit_all(&w, "unrelated history");
    let out = git(&w, &["push", "origin", "unrelated"]);
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(t.contains("env-dve"), "{t}");
}

#[test]
fn pre_push_compares_a_new_branch_with_what_the_remote_refs_reach() {
    let tmp = TempDir::new().unwrap();
    let (w, _remote) = work_repo_with_remote(tmp.path());
    assert_eq!(
        lint(&w, &["install-hooks", "--pre-push"]).status.code(),
        Some(0)
    );
    let out = git(&w, &["push", "-q", "--no-verify", "origin", "main"]);
    assert!(out.status.success(), "{}", text(&out));
    let old = main_with_a_fixed_old_error(&w, &["--no-verify"]);

    let out = git(&w, &["push", "origin", &format!("{old}:refs/heads/at-old")]);
    assert!(out.status.success(), "{}", text(&out));

    git_ok(&w, &["checkout", "-q", "-b", "feature", &old]);
    write(&w, "runtimes/dr-nope.yaml", DR_NOPE);
    commit_all(&w, "a new error");
    let out = git(&w, &["push", "origin", "feature"]);
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(t.contains("environment `env-nope` does not exist"), "{t}");
    assert!(!t.contains("env-gone"), "the old error is not counted: {t}");
    // One error, in the singular.
    assert!(
        t.contains("push blocked: 1 new error in refs/heads/feature"),
        "{t}"
    );
}
