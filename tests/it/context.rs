//! `--context FILE` and `context:` through the real binary: the other products' namespace claims
//! feed `dr-namespace-used-by-other-product`, the tenant's clusters feed the cluster rules, and a
//! context that cannot be used stops the check (exit 2) instead of passing on nothing.

use crate::common::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Output;

const RULE: &str = "dr-namespace-used-by-other-product";
const RUNTIME: &str = "runtimes/dr-dev.yaml";

/// The rule's fixture (product-7's `dr-dev` on env-dev, cluster-dev, namespaces `dr-dev` and
/// `web`, `web` at 13:7), its configuration naming only the product: each test gives its own
/// context.
fn product_tree() -> tempfile::TempDir {
    let dir = crate::common::tools::copy_invalid_fixture(RULE);
    std::fs::remove_file(dir.path().join("context.json")).expect("rm");
    std::fs::write(dir.path().join(".nautes-lint.yaml"), "product: product-7\n").expect("write");
    dir
}

/// A product's claims: (cluster, namespace, runtime), each at line 10, column 7 of
/// `runtimes/<runtime>.yaml`.
fn product(id: &str, project: &str, claims: &[(&str, &str, &str)]) -> Value {
    json!({
        "product": id,
        "project": project,
        "commit": "9f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6",
        "claims": claims.iter().map(|(cluster, namespace, runtime)| json!({
            "cluster": cluster,
            "namespace": namespace,
            "runtime": runtime,
            "path": format!("runtimes/{runtime}.yaml"),
            "line": 10,
            "column": 7,
        })).collect::<Vec<_>>(),
    })
}

/// A version-1 context without a tenant inventory.
fn context(products: Vec<Value>) -> Value {
    json!({"version": 1, "tenant": null, "clusters": [], "products": products})
}

/// Writes `doc` to a file outside the checked tree; returns the folder (keep it) and the file.
fn context_file(doc: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("context.json");
    std::fs::write(&file, doc).expect("write");
    (dir, file)
}

fn check_with(tree: &Path, ctx: &Value, extra: &[&str]) -> (i32, Value) {
    let (_keep, file) = context_file(&ctx.to_string());
    let mut args = vec!["--context", file.to_str().expect("utf-8 path")];
    args.extend_from_slice(extra);
    check_json(tree, &args)
}

fn skipped(report: &Value) -> Vec<&str> {
    report["summary"]["skipped_rules"]
        .as_array()
        .expect("skipped_rules")
        .iter()
        .map(|v| v.as_str().expect("id"))
        .collect()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Adds runtime `name` of product-7 on env-dev with `namespaces`, deploying its own path (so
/// that dr-duplicate stays quiet).
fn add_runtime(tree: &Path, name: &str, namespaces: &[&str]) {
    let list: String = namespaces.iter().map(|n| format!("    - {n}\n")).collect();
    std::fs::write(
        tree.join(format!("runtimes/{name}.yaml")),
        format!(
            "apiVersion: nautes.resource.nautes.io/v1alpha1\nkind: DeploymentRuntime\nmetadata:\n  name: {name}\nspec:\n  destination:\n    environment: env-dev\n    namespaces:\n{list}  manifestSource:\n    codeRepo: repo-42\n    path: manifests/{name}\n    targetRevision: HEAD\n  product: product-7\n  projectsRef:\n  - api-server\n"
        ),
    )
    .expect("write runtime");
}

/// Sets the namespaces of the fixture's `dr-dev` (the first is on line 12).
fn set_dr_dev_namespaces(tree: &Path, namespaces: &[&str]) {
    let path = tree.join(RUNTIME);
    let yaml = std::fs::read_to_string(&path).expect("read");
    let mut out = String::new();
    let mut in_list = false;
    for line in yaml.lines() {
        if in_list && line.starts_with("    - ") {
            continue;
        }
        in_list = line == "    namespaces:";
        out.push_str(line);
        out.push('\n');
        if in_list {
            for n in namespaces {
                out.push_str(&format!("    - {n}\n"));
            }
        }
    }
    std::fs::write(path, out).expect("write");
}

/// The rules that need a cluster inventory.
const CLUSTER_RULES: [&str; 3] = [
    "dr-cluster-not-deployment",
    "dr-component-namespace",
    "env-cluster-not-found",
];

#[test]
fn a_namespace_another_product_uses_on_the_same_cluster_is_an_error_at_its_node() {
    let tree = product_tree();
    let ctx = context(vec![product(
        "product-9",
        "team-b/default.project",
        &[("cluster-dev", "web", "dr-web")],
    )]);
    let (code, report) = check_with(tree.path(), &ctx, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        findings(&report),
        vec![(RULE.to_owned(), format!("{RUNTIME}:13"))]
    );
    let d = &report["diagnostics"][0];
    assert_eq!((&d["column"], &d["end_column"]), (&json!(7), &json!(10)));
    assert_eq!(
        d["message"],
        "namespace `web` on cluster `cluster-dev` is used by other product `product-9`"
    );
    assert_eq!(
        d["related"],
        json!([{
            "path": "runtimes/dr-web.yaml",
            "line": 10,
            "column": 7,
            "message": "runtime `dr-web` of product `product-9` deploys to namespace `web` on cluster `cluster-dev`",
            "repository": "team-b/default.project",
        }])
    );
    assert!(!skipped(&report).contains(&RULE), "{report:#}");

    // The human report names the other product's file and repository.
    let (_keep, file) = context_file(&ctx.to_string());
    let out = bin()
        .arg("check")
        .arg(tree.path())
        .arg("--context")
        .arg(&file)
        .output()
        .expect("runs");
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("runtimes/dr-web.yaml:10:7 (in team-b/default.project)"),
        "{t}"
    );
}

#[test]
fn the_same_namespace_on_another_cluster_is_clean() {
    let tree = product_tree();
    let ctx = context(vec![product(
        "product-9",
        "team-b/default.project",
        &[
            ("cluster-prod", "web", "dr-web"),
            ("cluster-dev", "api", "dr-api"),
        ],
    )]);
    let (code, report) = check_with(tree.path(), &ctx, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(findings(&report), vec![]);
    // It ran: clean, not skipped.
    assert!(!skipped(&report).contains(&RULE), "{report:#}");
}

#[test]
fn the_checked_products_own_claims_in_the_context_are_ignored() {
    // The context knows product-7's last state: `web` was dr-dev's. The tree moves it to dr-api.
    let tree = product_tree();
    set_dr_dev_namespaces(tree.path(), &["dr-dev"]);
    add_runtime(tree.path(), "dr-api", &["web"]);
    let claims = [
        ("cluster-dev", "web", "dr-dev"),
        ("cluster-dev", "dr-dev", "dr-dev"),
    ];
    let own = context(vec![product(
        "product-7",
        "team-a/default.project",
        &claims,
    )]);
    let (code, report) = check_with(tree.path(), &own, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(findings(&report), vec![]);
    assert!(!skipped(&report).contains(&RULE), "{report:#}");

    // The same with the product assumed from the resources rather than configured.
    std::fs::remove_file(tree.path().join(".nautes-lint.yaml")).expect("rm");
    let (code, report) = check_with(tree.path(), &own, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["summary"]["product"]["source"], "assumed");

    // The same claims under another product's id are errors: the product id is what matters.
    let other = context(vec![product(
        "product-8",
        "team-c/default.project",
        &claims,
    )]);
    let (code, report) = check_with(tree.path(), &other, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        findings(&report),
        vec![
            (RULE.to_owned(), "runtimes/dr-api.yaml:9".to_owned()),
            (RULE.to_owned(), format!("{RUNTIME}:12")),
        ]
    );
}

#[test]
fn a_context_that_cannot_be_used_fails_closed_with_exit_2() {
    let tree = product_tree();
    let fails = |args: &[&std::ffi::OsStr], needle: &str| {
        let out = bin()
            .arg("check")
            .arg(tree.path())
            .args(["--format", "json"])
            .args(args)
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        // No report at all: nothing that could be read as clean.
        assert!(out.stdout.is_empty(), "{}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{err}");
    };
    let mut doc = context(vec![]);
    doc["version"] = json!(2);
    let (_a, v2) = context_file(&doc.to_string());
    fails(
        &["--context".as_ref(), v2.as_os_str()],
        "the tenant context is version 2; this nautes-lint reads version 1",
    );
    let (_b, not_json) = context_file("<html>502 Bad Gateway</html>");
    fails(
        &["--context".as_ref(), not_json.as_os_str()],
        "not a tenant context document",
    );
    let mut typo = context(vec![]);
    typo["prodcuts"] = typo["products"].take();
    typo.as_object_mut().expect("object").remove("products");
    let (_c, typo) = context_file(&typo.to_string());
    fails(&["--context".as_ref(), typo.as_os_str()], "prodcuts");
    let mut broken = context(vec![]);
    broken["clusters"] = json!([{"path": "clusters/c.yaml", "text": "kind: [\n"}]);
    let (_d, broken) = context_file(&broken.to_string());
    fails(
        &["--context".as_ref(), broken.as_os_str()],
        "cannot load the cluster inventory of the tenant context: clusters/c.yaml:",
    );
    let missing = tree.path().join("no-such-context.json");
    fails(
        &["--context".as_ref(), missing.as_os_str()],
        "cannot read the tenant context",
    );
    // Named by the configuration: the same.
    std::fs::write(
        tree.path().join(".nautes-lint.yaml"),
        "product: product-7\ncontext: no-such-context.json\n",
    )
    .expect("write");
    fails(&[], "no-such-context.json");
}

#[test]
fn the_contexts_clusters_feed_the_cluster_rules_and_clusters_wins_over_them() {
    let tree = product_tree();
    let pipeline = std::fs::read_to_string(
        crate::common::tools::invalid_fixture("dr-cluster-not-deployment")
            .join("clusters/cluster-dev.yaml"),
    )
    .expect("read");
    let mut ctx = context(vec![]);
    ctx["tenant"] = json!({
        "project": "tenant/nautes-config",
        "commit": "4f1c2a9e8b7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b",
        "updated_at": "2026-11-30T20:00:00Z",
    });
    ctx["clusters"] = json!([{
        "path": "nautes/overlays/production/clusters/cluster-dev.yaml",
        "text": pipeline,
    }]);
    let (code, report) = check_with(tree.path(), &ctx, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        findings(&report),
        vec![(
            "dr-cluster-not-deployment".to_owned(),
            format!("{RUNTIME}:10")
        )]
    );
    // The related place is the Cluster file of the tenant repository, at its line.
    let related = &report["diagnostics"][0]["related"][1];
    assert_eq!(
        related["path"],
        "nautes/overlays/production/clusters/cluster-dev.yaml"
    );
    assert_eq!(related["line"], 6);
    assert!(
        skipped(&report).iter().all(|r| !CLUSTER_RULES.contains(r)),
        "{report:#}"
    );

    // `clusters:` of the configuration yields to the context (its copy may be stale)...
    let valid = fixture("valid/clusters");
    std::fs::write(
        tree.path().join(".nautes-lint.yaml"),
        format!("product: product-7\nclusters: {}\n", valid.display()),
    )
    .expect("write");
    let (code, report) = check_with(tree.path(), &ctx, &[]);
    assert_eq!(code, 1, "{report:#}");
    // ... and `--clusters` wins over both.
    let (code, report) = check_with(
        tree.path(),
        &ctx,
        &["--clusters", valid.to_str().expect("utf-8")],
    );
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(findings(&report), vec![]);

    // A context without a tenant inventory leaves the cluster rules to `clusters:`.
    let (code, report) = check_with(tree.path(), &context(vec![]), &[]);
    assert_eq!(code, 0, "{report:#}");
    assert!(
        skipped(&report).iter().all(|r| !CLUSTER_RULES.contains(r)),
        "{report:#}"
    );
}

/// `git` in `dir`, isolated, insisting on success.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = crate::common::tools::git_cmd(dir)
        .args(args)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A repository holding the product tree without the clashing namespace, committed.
fn repository() -> tempfile::TempDir {
    let dir = product_tree();
    set_dr_dev_namespaces(dir.path(), &["dr-dev"]);
    git(dir.path(), &["init", "-q"]);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-qm", "valid"]);
    dir
}

#[test]
fn the_hooks_and_revisions_take_the_context() {
    let repo = repository();
    let w = repo.path();
    let ctx = context(vec![product(
        "product-9",
        "team-b/default.project",
        &[("cluster-dev", "web", "dr-web")],
    )]);
    let (_keep, file) = context_file(&ctx.to_string());
    let hook = |args: &[&str]| {
        bin()
            .current_dir(w)
            .args(["hook", "pre-commit"])
            .args(args)
            .output()
            .expect("runs")
    };

    // A staged runtime that takes product-9's namespace is blocked at its line.
    set_dr_dev_namespaces(w, &["dr-dev", "web"]);
    git(w, &["add", RUNTIME]);
    let out = hook(&["--context", file.to_str().expect("utf-8")]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains(&format!("{RULE} (new)")), "{t}");
    assert!(t.contains(&format!("[{RUNTIME}:13:7]")), "{t}");
    // Without the context the rule cannot run, and the commit is not blocked by it.
    let out = hook(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // From the environment, as the installed hooks take it.
    let out = bin()
        .current_dir(w)
        .args(["hook", "pre-commit"])
        .env("NAUTES_LINT_CONTEXT", &file)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));

    // `context:` in a revision's configuration: read from the revision when it holds the file.
    std::fs::write(w.join("context.json"), ctx.to_string()).expect("write");
    std::fs::write(
        w.join(".nautes-lint.yaml"),
        "product: product-7\ncontext: context.json\n",
    )
    .expect("write");
    git(w, &["add", "-A"]);
    git(w, &["commit", "-qm", "claims web, with the context"]);
    std::fs::remove_file(w.join("context.json")).expect("rm");
    let out = bin()
        .current_dir(w)
        .args(["check", "--rev", "HEAD", "--format", "json", "."])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        findings(&report),
        vec![(RULE.to_owned(), format!("{RUNTIME}:13"))]
    );

    // A bare repository cannot find a context the revision does not hold: exit 2, not a skip.
    git(w, &["rm", "-q", "--cached", "context.json"]);
    git(w, &["commit", "-qm", "context no longer committed"]);
    let bare = tempfile::tempdir().expect("tempdir");
    git(
        bare.path(),
        &[
            "clone",
            "-q",
            "--bare",
            w.to_str().expect("utf-8"),
            "srv.git",
        ],
    );
    let srv = bare.path().join("srv.git");
    let out = bin()
        .current_dir(&srv)
        .args(["check", "--rev", "HEAD", "."])
        .output()
        .expect("runs");
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("pass --context FILE"), "{t}");
    // Given on the command line, it is used.
    let out = bin()
        .current_dir(&srv)
        .args(["check", "--rev", "HEAD", "--context"])
        .arg(&file)
        .arg(".")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains(RULE), "{}", text(&out));
}

#[test]
fn a_namespace_many_products_use_lists_three_and_counts_them_all() {
    let tree = product_tree();
    // Listed in reverse: the finding does not depend on the order of the document.
    let products: Vec<Value> = (1..=5)
        .rev()
        .map(|i| {
            product(
                &format!("product-{}", 90 + i),
                &format!("team-{i}/default.project"),
                &[("cluster-dev", "web", &format!("dr-web-{i}"))],
            )
        })
        .collect();
    let (code, report) = check_with(tree.path(), &context(products), &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(findings(&report).len(), 1, "{report:#}");
    let d = &report["diagnostics"][0];
    assert_eq!(
        d["message"],
        "namespace `web` on cluster `cluster-dev` is used by other product `product-91`"
    );
    let repos: Vec<&str> = d["related"]
        .as_array()
        .expect("related")
        .iter()
        .map(|r| r["repository"].as_str().expect("repository"))
        .collect();
    assert_eq!(
        repos,
        [
            "team-1/default.project",
            "team-2/default.project",
            "team-3/default.project"
        ]
    );
    assert!(
        d["help"]
            .as_str()
            .expect("help")
            .contains("5 runtimes of other products claim it"),
        "{d:#}"
    );
}
