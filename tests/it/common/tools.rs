//! Fixture copies (composed by `fixture_tree.rs`), the binary for a CI-like run, and `git`
//! isolated from the machine.

use std::path::Path;
use std::process::Command;

pub use super::fixture_tree::{Fixture, WITHOUT, copy_dir, invalid_fixture, write_tree};

/// A copy of the whole tree of `fixtures/invalid/<id>` in a temporary folder, to edit.
pub fn copy_invalid_fixture(id: &str) -> tempfile::TempDir {
    invalid_fixture(id).0
}

/// The built binary as CI runs it: no progress bar, no colour, no inventory from the
/// environment of the test run.
pub fn lint_ci() -> assert_cmd::Command {
    let mut c = assert_cmd::Command::new(env!("CARGO_BIN_EXE_nautes-lint"));
    c.env("CI", "true")
        .env("NO_COLOR", "1")
        .env_remove("NAUTES_LINT_CLUSTERS")
        .env_remove("NAUTES_LINT_CONTEXT");
    c
}

/// `git` in `dir`, isolated from the machine's configuration, so the tests run the same on a
/// clean CI box.
pub fn git_cmd(dir: &Path) -> Command {
    let mut c = Command::new("git");
    c.current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .env("NO_COLOR", "1")
        .env_remove("NAUTES_LINT_CLUSTERS")
        .env_remove("NAUTES_LINT_CONTEXT")
        .args(["-c", "init.defaultBranch=main"]);
    // A test run from inside a git hook must not act on the outer repository.
    for var in [
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    ] {
        c.env_remove(var);
    }
    c
}

/// A GitLab CI file of this repository, parsed.
pub fn ci_file(rel: &str) -> nautes_lint::yaml::Parsed {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel))
        .unwrap_or_else(|e| panic!("{rel}: {e}"));
    let parsed = nautes_lint::yaml::parse(&text);
    assert!(parsed.issues.is_empty(), "{rel}: {:?}", parsed.issues);
    parsed
}

/// The `script` of `job`, its items one after another, as the runner runs them in one shell.
pub fn job_script(parsed: &nautes_lint::yaml::Parsed, job: &str) -> String {
    parsed.documents[0]
        .root
        .get(job)
        .and_then(|j| j.get("script"))
        .and_then(|s| s.as_seq())
        .unwrap_or_else(|| panic!("job {job} has a script"))
        .iter()
        .filter_map(|l| l.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The CI template's job script (`ci/gitlab-ci.yml`) as GitLab's runner would run it in `dir`:
/// the binary under test first on the PATH, `git` isolated from the machine, and none of the
/// variables that would steer it from the test's own environment. The caller adds the
/// pipeline's variables.
pub fn ci_template(dir: &Path) -> Command {
    let script = job_script(&ci_file("ci/gitlab-ci.yml"), "nautes-lint");
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_nautes-lint"))
        .parent()
        .expect("a folder");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut c = Command::new("sh");
    c.current_dir(dir)
        .args(["-ec", &script])
        .env("PATH", path)
        .env("CI", "true")
        .env("NO_COLOR", "1")
        .env("CI_PROJECT_DIR", dir)
        .env("NAUTES_LINT_ARGS", "")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1");
    for var in [
        "CI_MERGE_REQUEST_TARGET_BRANCH_NAME",
        "CI_MERGE_REQUEST_DIFF_BASE_SHA",
        "NAUTES_LINT_CLUSTERS",
        "NAUTES_LINT_CONTEXT",
        "NAUTES_LINT_CONTEXT_TOKEN",
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
    ] {
        c.env_remove(var);
    }
    c
}
