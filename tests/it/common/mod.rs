//! Helpers shared by the integration tests: they run the real binary.

pub mod fake_gitlab;
pub mod fixture_tree;
pub mod service;
pub mod tenant;
pub mod tools;

use std::path::{Path, PathBuf};
use std::process::Output;

/// Environment `env-dev` of product-7 on cluster-dev, as the API server stores it.
pub const ENV: &str = "apiVersion: nautes.resource.nautes.io/v1alpha1
kind: Environment
metadata:
  name: env-dev
spec:
  cluster: cluster-dev
  envType: development
  product: product-7
";

/// `insta::assert_snapshot!` under the name and in the folder the snapshot had when each module
/// was a test crate of its own: `tests/snapshots/<module>__<name>.snap` (insta would now prefix
/// `it__` and look in `tests/it/snapshots`). src/rules/fixture_tests.rs reads the `fixtures__`
/// ones by that name.
macro_rules! assert_snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({
            snapshot_path => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots"),
            prepend_module_to_snapshot => false,
        }, {
            insta::assert_snapshot!(
                format!("{}__{}", module_path!().trim_start_matches("it::").replace("::", "__"), $name),
                $value
            );
        })
    };
}
pub(crate) use assert_snapshot;

pub fn bin() -> assert_cmd::Command {
    let mut c = assert_cmd::Command::new(env!("CARGO_BIN_EXE_nautes-lint"));
    c.env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .env_remove("CI")
        .env_remove("NAUTES_LINT_CLUSTERS")
        .env_remove("NAUTES_LINT_CONTEXT");
    c
}

pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

/// Runs `check --format json` on `dir` and returns (exit code, parsed report).
pub fn check_json(dir: &Path, extra: &[&str]) -> (i32, serde_json::Value) {
    let out: Output = bin()
        .arg("check")
        .arg(dir)
        .args(["--format", "json"])
        .args(extra)
        .output()
        .expect("binary runs");
    let code = out.status.code().expect("exit code");
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "JSON output ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code, v)
}

/// (rule, path:line) of every diagnostic.
pub fn findings(report: &serde_json::Value) -> Vec<(String, String)> {
    report["diagnostics"]
        .as_array()
        .expect("diagnostics array")
        .iter()
        .map(|d| {
            (
                d["rule"].as_str().expect("rule").to_owned(),
                format!("{}:{}", d["path"].as_str().expect("path"), d["line"]),
            )
        })
        .collect()
}

/// Writes `files` (path, contents) under a new temporary directory.
pub fn tree(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (p, c) in files {
        let path = dir.path().join(p);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, c).expect("write");
    }
    dir
}
