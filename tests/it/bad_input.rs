//! Nothing a repository can contain crashes the check or makes it use unbounded memory: each bad
//! file becomes a finding naming it, and the other files are still checked.

use crate::common::*;

/// A second, broken-by-reference file proves the rest of the tree is still checked.
const DR_BAD_REF: &str = "apiVersion: nautes.resource.nautes.io/v1alpha1
kind: DeploymentRuntime
metadata:
  name: dr-dev
spec:
  destination: {environment: env-nope}
  manifestSource: {codeRepo: repo-1, path: x}
";

fn check_with(bad_path: &str, bad: &[u8]) -> Vec<(String, String)> {
    let dir = tree(&[
        ("envs/env-dev.yaml", ENV.as_bytes()),
        ("runtimes/dr-dev.yaml", DR_BAD_REF.as_bytes()),
        (bad_path, bad),
    ]);
    let (code, report) = check_json(dir.path(), &[]);
    assert_eq!(code, 1);
    let f = findings(&report);
    assert!(
        f.iter().any(|(r, _)| r == "dr-environment-not-found"),
        "the rest is still checked: {f:?}"
    );
    f
}

fn rule_for(f: &[(String, String)], path: &str) -> Vec<String> {
    f.iter()
        .filter(|(_, at)| at.starts_with(&format!("{path}:")))
        .map(|(r, _)| r.clone())
        .collect()
}

#[test]
fn malformed_yaml() {
    let f = check_with(
        "envs/broken.yaml",
        b"kind: Environment\nmetadata: {name: [unclosed\n",
    );
    assert_eq!(rule_for(&f, "envs/broken.yaml"), ["yaml-syntax"]);
}

#[test]
fn a_billion_laughs_alias_bomb() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    let f = check_with("envs/bomb.yaml", text.as_bytes());
    assert_eq!(rule_for(&f, "envs/bomb.yaml"), ["yaml-syntax"]);
}

#[test]
fn nesting_ten_thousand_levels_deep() {
    let block: String = (0..10_000)
        .map(|i| format!("{}k:\n", " ".repeat(i % 2000)))
        .collect();
    let f = check_with("envs/deep.yaml", block.as_bytes());
    assert!(!rule_for(&f, "envs/deep.yaml").is_empty());
    let flow = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let f = check_with("envs/deep.yaml", flow.as_bytes());
    assert_eq!(rule_for(&f, "envs/deep.yaml"), ["yaml-syntax"]);
    let indented: String = (0..10_000)
        .map(|i| format!("{}- \n", " ".repeat(i * 2)))
        .take(700)
        .collect();
    let f = check_with("envs/deep.yaml", indented.as_bytes());
    assert_eq!(rule_for(&f, "envs/deep.yaml"), ["yaml-syntax"]);
}

#[test]
fn a_file_of_100_mb_is_rejected_without_reading_it() {
    let dir = tree(&[
        ("envs/env-dev.yaml", ENV.as_bytes()),
        ("runtimes/dr-dev.yaml", DR_BAD_REF.as_bytes()),
    ]);
    let big = std::fs::File::create(dir.path().join("runtimes/huge.yaml")).expect("create");
    big.set_len(100 * 1024 * 1024).expect("sparse file");
    let (code, report) = check_json(dir.path(), &[]);
    assert_eq!(code, 1);
    let d = report["diagnostics"]
        .as_array()
        .expect("array")
        .iter()
        .find(|d| d["path"] == "runtimes/huge.yaml")
        .expect("finding")
        .clone();
    assert_eq!(d["rule"], "unreadable-file");
    assert!(
        d["message"]
            .as_str()
            .expect("message")
            .contains("over the limit")
    );
}

#[test]
fn binary_and_non_utf8_files() {
    let f = check_with(
        "envs/logo.yaml",
        &[0x89, b'P', b'N', b'G', 0, 0, 0xff, 0xfe, 0x00],
    );
    assert_eq!(rule_for(&f, "envs/logo.yaml"), ["yaml-syntax"]);
    let f = check_with(
        "envs/latin1.yaml",
        b"kind: Environment\nmetadata: {name: caf\xe9}\n",
    );
    assert_eq!(rule_for(&f, "envs/latin1.yaml"), ["yaml-syntax"]);
    let f = check_with("envs/nul.yaml", b"kind: Environment\x00\n");
    assert!(!rule_for(&f, "envs/nul.yaml").is_empty());
}

#[cfg(unix)]
#[test]
fn a_file_name_that_is_not_utf8_is_reported_and_counted() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tree(&[
        ("envs/env-dev.yaml", ENV.as_bytes()),
        ("runtimes/dr-dev.yaml", DR_BAD_REF.as_bytes()),
    ]);
    let name = std::ffi::OsStr::from_bytes(b"dr-caf\xe9.yaml");
    std::fs::write(dir.path().join("runtimes").join(name), DR_BAD_REF).expect("write");
    let (code, report) = check_json(dir.path(), &[]);
    assert_eq!(code, 1);
    assert_eq!(report["summary"]["files"], 3, "{report}");
    let bad = report["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .find(|d| d["rule"] == "unreadable-file")
        .unwrap_or_else(|| panic!("the file is reported: {report}"));
    assert_eq!(bad["path"], "runtimes/dr-caf\u{fffd}.yaml");
    assert!(
        bad["message"]
            .as_str()
            .is_some_and(|m| m.contains("not valid UTF-8"))
    );
}

#[cfg(unix)]
#[test]
fn symlinks_outside_to_a_folder_and_in_a_loop() {
    use std::os::unix::fs::symlink;
    let dir = tree(&[
        ("envs/env-dev.yaml", ENV.as_bytes()),
        ("runtimes/dr-dev.yaml", DR_BAD_REF.as_bytes()),
    ]);
    let outside = tempfile::NamedTempFile::new().expect("tmp");
    std::fs::write(outside.path(), ENV).expect("write");
    symlink(outside.path(), dir.path().join("envs/outside.yaml")).expect("symlink");
    // Leaving the tree is judged on the link's text: a dangling target outside is still outside,
    // so the finding does not depend on what the checking machine has at that path.
    symlink(
        "../../no-such-folder/env.yaml",
        dir.path().join("envs/dangling-outside.yaml"),
    )
    .expect("symlink");
    symlink(
        "no-such-env.yaml",
        dir.path().join("envs/dangling-inside.yaml"),
    )
    .expect("symlink");
    symlink(
        dir.path().join("envs"),
        dir.path().join("runtimes/folder.yaml"),
    )
    .expect("symlink");
    symlink(
        dir.path().join("runtimes/loop-b.yaml"),
        dir.path().join("runtimes/loop-a.yaml"),
    )
    .expect("symlink");
    symlink(
        dir.path().join("runtimes/loop-a.yaml"),
        dir.path().join("runtimes/loop-b.yaml"),
    )
    .expect("symlink");
    // A symlink inside the tree to a regular file is read like the file.
    std::fs::create_dir_all(dir.path().join("envs/real")).expect("mkdir");
    let (code, report) = check_json(dir.path(), &[]);
    assert_eq!(code, 1);
    let f = findings(&report);
    for p in [
        "envs/outside.yaml",
        "runtimes/folder.yaml",
        "runtimes/loop-a.yaml",
        "runtimes/loop-b.yaml",
    ] {
        assert_eq!(rule_for(&f, p), ["unreadable-file"], "{p}: {f:?}");
    }
    let message = |path: &str| {
        report["diagnostics"]
            .as_array()
            .expect("diagnostics")
            .iter()
            .find(|d| d["path"] == path)
            .and_then(|d| d["message"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    for p in ["envs/outside.yaml", "envs/dangling-outside.yaml"] {
        assert!(
            message(p).contains("points outside the repository"),
            "{p}: {report:#}"
        );
    }
    assert!(
        message("envs/dangling-inside.yaml").contains("does not resolve"),
        "{report:#}"
    );
    assert!(f.iter().any(|(r, _)| r == "dr-environment-not-found"));
}

#[cfg(unix)]
#[test]
fn a_file_that_cannot_be_read_does_not_hang_or_crash() {
    // Running as root makes chmod 000 readable anyway; a FIFO is a file no reader can finish.
    let dir = tree(&[
        ("envs/env-dev.yaml", ENV.as_bytes()),
        ("runtimes/dr-dev.yaml", DR_BAD_REF.as_bytes()),
    ]);
    let fifo = dir.path().join("envs/pipe.yaml");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
    let (code, report) = check_json(dir.path(), &[]);
    assert_eq!(code, 1);
    assert_eq!(
        rule_for(&findings(&report), "envs/pipe.yaml"),
        ["unreadable-file"]
    );
}

#[test]
fn files_nautes_ignores_are_ignored() {
    let dir = tree(&[
        ("envs/env-dev.yaml", ENV.as_bytes()),
        ("envs/README.md", b"# not yaml: {"),
        ("envs/notes.txt", b"{{{"),
        ("docs/anything.yaml", b"{{{"),
        ("root.yaml", b"{{{"),
    ]);
    let (code, report) = check_json(dir.path(), &[]);
    assert_eq!((code, report["summary"]["files"].as_u64()), (0, Some(1)));
}

#[test]
fn gitignored_files_are_skipped() {
    let dir = tree(&[
        ("envs/env-dev.yaml", ENV.as_bytes()),
        ("envs/scratch.yaml", b"{{{"),
        (".gitignore", b"envs/scratch.yaml\n"),
    ]);
    let (code, report) = check_json(dir.path(), &[]);
    assert_eq!((code, report["summary"]["files"].as_u64()), (0, Some(1)));
}

#[test]
fn a_folder_without_resources_fails_unless_allowed() {
    // A CI job pointed at the wrong folder must not look like a clean repository.
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("README.md"), "not a default.project\n").expect("write");
    let out = bin().arg("check").arg(dir.path()).output().expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("holds no resource files"), "{stderr}");
    assert!(stderr.contains("projects/, envs/"), "{stderr}");
    assert!(stderr.contains("--allow-empty"), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "no report of a check that did not happen"
    );
    let out = bin()
        .args(["check", "--allow-empty", "--format", "json"])
        .arg(dir.path())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["summary"]["files"], 0);
}
