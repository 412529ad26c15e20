//! The JSON output is a contract (product.md): field names, types, order, fingerprints.

use crate::common::*;
use serde_json::Value;

const DR: &str = "apiVersion: nautes.resource.nautes.io/v1alpha1
kind: DeploymentRuntime
metadata:
  name: dr-dev
spec:
  destination:
    environment: env-dve
  manifestSource:
    codeRepo: repo-42
    path: manifests/dev
    targetRevision: HEAD
  product: product-7
";
const REPO: &str = "apiVersion: nautes.resource.nautes.io/v1alpha1
kind: CodeRepo
metadata:
  name: repo-42
spec:
  codeRepoProvider: gitlab
  product: product-7
";

fn sample(dr: &str) -> tempfile::TempDir {
    tree(&[
        ("runtimes/dr-dev.yaml", dr.as_bytes()),
        ("envs/env-dev.yaml", ENV.as_bytes()),
        ("code-repos/repo-42/repo-42.yaml", REPO.as_bytes()),
    ])
}

#[test]
fn a_diagnostic_has_every_contract_field() {
    let dir = sample(DR);
    let (code, report) = check_json(dir.path(), &[]);
    assert_eq!(code, 1);
    assert_eq!(report["version"], 1);
    let s = &report["summary"];
    assert_eq!(
        (
            s["files"].as_u64(),
            s["resources"].as_u64(),
            s["errors"].as_u64(),
            s["warnings"].as_u64()
        ),
        (Some(3), Some(3), Some(1), Some(0))
    );
    assert!(
        s["skipped_rules"]
            .as_array()
            .expect("array")
            .iter()
            .any(|r| r == "dr-cluster-not-deployment")
    );
    let summary_keys: Vec<&str> = s
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        summary_keys,
        [
            "files",
            "resources",
            "errors",
            "warnings",
            "skipped_rules",
            "product"
        ]
    );
    let d = &report["diagnostics"][0];
    assert_eq!(d["rule"], "dr-environment-not-found");
    assert_eq!(d["severity"], "error");
    assert_eq!(d["path"], "runtimes/dr-dev.yaml");
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(7), Some(18))
    );
    assert_eq!(
        (d["end_line"].as_u64(), d["end_column"].as_u64()),
        (Some(7), Some(25))
    );
    assert_eq!(d["message"], "environment `env-dve` does not exist");
    assert_eq!(d["help"], "did you mean `env-dev`?");
    assert_eq!(
        d["resource"],
        serde_json::json!({"kind": "DeploymentRuntime", "name": "dr-dev"})
    );
    assert!(d["related"].is_array());
    assert!(
        d.get("new").is_none(),
        "`new` appears only with a base revision"
    );
    assert!(d["fingerprint"].as_str().is_some_and(|f| f.len() >= 16));
    let keys: Vec<&str> = d
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "rule",
            "severity",
            "path",
            "line",
            "column",
            "end_line",
            "end_column",
            "message",
            "help",
            "resource",
            "related",
            "fingerprint"
        ]
    );
}

#[test]
fn columns_count_characters_not_bytes() {
    let dr = DR
        .replace(
            "metadata:\n  name: dr-dev",
            "metadata:\n  annotations:\n    note: \"日本語\"\n  name: dr-dev",
        )
        .replace(
            "    environment: env-dve",
            "    environment: env-dve # ünïcödé",
        );
    let with_prefix = dr.replace(
        "  destination:\n    environment: env-dve",
        "  destination: {note: é, environment: env-dve}",
    );
    let dir = sample(&with_prefix);
    let (_, report) = check_json(dir.path(), &[]);
    let d = report["diagnostics"]
        .as_array()
        .expect("array")
        .iter()
        .find(|d| d["rule"] == "dr-environment-not-found")
        .expect("finding")
        .clone();
    // `  destination: {note: é, environment: ` is 38 characters (39 bytes): the value starts at column 39.
    assert_eq!(d["column"], 39);
}

#[test]
fn output_is_sorted_and_deterministic() {
    let dir = sample(
        &DR.replace("path: manifests/dev", "path: ../dev")
            .replace("codeRepo: repo-42", "codeRepo: repo-43"),
    );
    let (_, a) = check_json(dir.path(), &[]);
    let (_, b) = check_json(dir.path(), &[]);
    assert_eq!(a, b);
    let diags = a["diagnostics"].as_array().expect("array");
    assert!(diags.len() >= 3);
    let key = |d: &Value| {
        (
            d["path"].as_str().map(str::to_owned),
            d["line"].as_u64(),
            d["column"].as_u64(),
            d["rule"].as_str().map(str::to_owned),
        )
    };
    let keys: Vec<_> = diags.iter().map(key).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    let fps: std::collections::HashSet<&str> = diags
        .iter()
        .map(|d| d["fingerprint"].as_str().expect("fp"))
        .collect();
    assert_eq!(fps.len(), diags.len(), "fingerprints are unique");
}

#[test]
fn fingerprints_survive_lines_moving() {
    let (_, before) = check_json(sample(DR).path(), &[]);
    let moved = DR.replace("metadata:\n", "metadata:\n  labels:\n    team: platform\n");
    let (_, after) = check_json(sample(&moved).path(), &[]);
    assert_ne!(
        before["diagnostics"][0]["line"],
        after["diagnostics"][0]["line"]
    );
    assert_eq!(
        before["diagnostics"][0]["fingerprint"],
        after["diagnostics"][0]["fingerprint"]
    );
}

#[test]
fn the_summary_says_which_product_and_from_where() {
    let dir = sample(DR);
    let (_, report) = check_json(dir.path(), &[]);
    assert_eq!(
        report["summary"]["product"],
        serde_json::json!({"id": "product-7", "source": "assumed"})
    );
    let (_, report) = check_json(dir.path(), &["--product", "product-8"]);
    assert_eq!(
        report["summary"]["product"],
        serde_json::json!({"id": "product-8", "source": "given"})
    );
    std::fs::write(dir.path().join(".nautes-lint.yaml"), "product: product-7\n").expect("write");
    let (_, report) = check_json(dir.path(), &[]);
    assert_eq!(report["summary"]["product"]["source"], "given");
    // No resource names a product and none is given: null, not a guess.
    let bare = tree(&[(
        "envs/env-dev.yaml",
        ENV.replace("  product: product-7\n", "").as_bytes(),
    )]);
    let (_, report) = check_json(bare.path(), &[]);
    assert_eq!(report["summary"]["product"], Value::Null);
}

#[test]
fn exit_codes() {
    bin().args(["check", "/nonexistent/path"]).assert().code(2);
    bin().args(["check", "--no-such-flag"]).assert().code(2);
    bin().args(["explain", "no-such-rule"]).assert().code(2);
    let dir = sample(&DR.replace("env-dve", "env-dev"));
    bin().arg("check").arg(dir.path()).assert().code(0);
}

#[test]
fn a_broken_config_is_a_usage_error_with_its_position() {
    let dir = sample(DR);
    std::fs::write(
        dir.path().join(".nautes-lint.yaml"),
        "product: product-7\nstrictt: true\n",
    )
    .expect("write");
    let out = bin().arg("check").arg(dir.path()).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(".nautes-lint.yaml:2:1")
            && err.contains("strictt")
            && err.contains("did you mean `strict`"),
        "{err}"
    );
}

#[test]
fn config_severities_ignores_and_annotations() {
    let dir = sample(DR);
    std::fs::write(
        dir.path().join(".nautes-lint.yaml"),
        "rules:\n  dr-environment-not-found: warning\n",
    )
    .expect("write");
    let (code, report) = check_json(dir.path(), &[]);
    assert_eq!(
        (code, report["diagnostics"][0]["severity"].as_str()),
        (0, Some("warning"))
    );

    std::fs::write(
        dir.path().join(".nautes-lint.yaml"),
        "ignore: ['runtimes/*.yaml']\n",
    )
    .expect("write");
    let (code, report) = check_json(dir.path(), &[]);
    assert_eq!((code, report["summary"]["files"].as_u64()), (0, Some(2)));

    std::fs::remove_file(dir.path().join(".nautes-lint.yaml")).expect("rm");
    let annotated = DR.replace(
        "metadata:\n",
        "metadata:\n  annotations:\n    lint.nautes.io/ignore: dr-environment-not-found\n",
    );
    std::fs::write(dir.path().join("runtimes/dr-dev.yaml"), annotated).expect("write");
    let (code, report) = check_json(dir.path(), &[]);
    assert_eq!((code, findings(&report)), (0, vec![]));
}

#[test]
fn explain_rules_and_schema() {
    let out = bin()
        .args(["explain", "dr-duplicate"])
        .output()
        .expect("runs");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    for part in [
        "## What it does",
        "## Why is this bad?",
        "## Example",
        "## How to fix",
    ] {
        assert!(text.contains(part), "{text}");
    }
    let out = bin().arg("rules").output().expect("runs");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(
        text.lines()
            .any(|l| l.starts_with("dr-legacy-destination") && l.contains("warning"))
    );
    let out = bin()
        .args(["schema", "DeploymentRuntime"])
        .output()
        .expect("runs");
    let schema: Value = serde_json::from_slice(&out.stdout).expect("schema is JSON");
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    bin().args(["schema", "Nothing"]).assert().code(2);
}

#[test]
fn explain_suggests_the_closest_rule() {
    let stderr = |rule: &str| {
        let out = bin().args(["explain", rule]).output().expect("runs");
        assert_eq!(out.status.code(), Some(2));
        String::from_utf8(out.stderr).expect("utf-8")
    };
    let typo = stderr("dr-destination-changd");
    assert!(
        typo.contains("did you mean `dr-destination-changed`?"),
        "{typo}"
    );
    // Part of an id: every rule that contains it.
    let part = stderr("destination");
    assert!(
        part.contains("did you mean one of `dr-destination-changed`, `dr-legacy-destination`?"),
        "{part}"
    );
    let nothing = stderr("zzzz");
    assert!(!nothing.contains("did you mean"), "{nothing}");
}

#[test]
fn unknown_fields_warn_and_strict_makes_them_errors() {
    let dir = sample(&DR.replace("env-dve", "env-dev").replace(
        "  product: product-7\n",
        "  product: product-7\n  prodcut: x\n",
    ));
    let (code, report) = check_json(dir.path(), &[]);
    assert_eq!(code, 0);
    assert_eq!(
        findings(&report),
        vec![(
            "schema-violation".to_owned(),
            "runtimes/dr-dev.yaml:13".to_owned()
        )]
    );
    assert_eq!(report["diagnostics"][0]["severity"], "warning");
    assert!(
        report["diagnostics"][0]["message"]
            .as_str()
            .expect("message")
            .contains("unknown field `prodcut`")
    );
    let (code, report) = check_json(dir.path(), &["--strict"]);
    assert_eq!(
        (code, report["diagnostics"][0]["severity"].as_str()),
        (1, Some("error"))
    );
    // A configuration's `strict: true` is turned off from the command line; the last flag wins.
    std::fs::write(dir.path().join(".nautes-lint.yaml"), "strict: true\n").expect("write");
    let (code, _) = check_json(dir.path(), &[]);
    assert_eq!(code, 1);
    let (code, report) = check_json(dir.path(), &["--no-strict"]);
    assert_eq!(
        (code, report["diagnostics"][0]["severity"].as_str()),
        (0, Some("warning"))
    );
    let (code, _) = check_json(dir.path(), &["--no-strict", "--strict"]);
    assert_eq!(code, 1);
}

#[test]
fn strict_messages_name_an_environment_with_its_article() {
    let dir = sample(&DR.replace("env-dve", "env-dev"));
    std::fs::write(
        dir.path().join("envs/env-dev.yaml"),
        ENV.replace(
            "  envType: development\n",
            "  envType: development\n  clustr: x\n",
        ),
    )
    .expect("write");
    let (code, report) = check_json(dir.path(), &["--strict"]);
    assert_eq!(code, 1);
    let help = report["diagnostics"][0]["help"].as_str().expect("help");
    assert!(help.contains("the fields an Environment accepts"), "{help}");
}

#[test]
fn a_code_repo_named_by_its_gitlab_name_gets_its_id_suggested() {
    let repo = REPO.replace(
        "  product: product-7\n",
        "  product: product-7\n  repoName: api-server\n",
    );
    let dir = tree(&[
        (
            "runtimes/dr-dev.yaml",
            DR.replace("env-dve", "env-dev")
                .replace("codeRepo: repo-42", "codeRepo: api-server")
                .as_bytes(),
        ),
        ("envs/env-dev.yaml", ENV.as_bytes()),
        ("code-repos/repo-42/repo-42.yaml", repo.as_bytes()),
    ]);
    let (_, report) = check_json(dir.path(), &[]);
    assert_eq!(report["diagnostics"][0]["rule"], "dr-coderepo-not-found");
    assert_eq!(
        report["diagnostics"][0]["help"],
        "code repos are referenced by id: `api-server` is `repo-42`"
    );
}
