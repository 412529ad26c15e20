//! The tenant context of the webhook service (`--tenant-project`): clusters read from the
//! tenant repository, the namespace index over every product's `default.project`, both kept in
//! the database, and `GET /api/v1/context` for `check --context`. The real binary on 127.0.0.1,
//! a real SQLite file, the fake GitLab serving a tenant project and three products.

use crate::common::fake_gitlab::{FakeGitLab, Project, tar_gz_of_files};
use crate::common::service::*;
use crate::common::tenant::{product_tree, tenant_clusters as clusters};
use crate::common::tools;
use std::path::Path;
use std::time::{Duration, Instant};

const CONTEXT_TOKEN: &str = "ctx-token-5a1e93";
const TENANT: i64 = 50;
const TENANT_PATH: &str = "tenant/config";
/// Products A, B, C: (project id, group id).
const A: (i64, i64) = (101, 201);
const B: (i64, i64) = (102, 202);
const C: (i64, i64) = (103, 203);

const T1: &str = "7e1a000000000000000000000000000000000001";
const T2: &str = "7e1a000000000000000000000000000000000002";
const T3: &str = "7e1a000000000000000000000000000000000003";
const A_HEAD: &str = "a0a0000000000000000000000000000000000001";
const B_HEAD: &str = "b0b0000000000000000000000000000000000001";
const C_HEAD: &str = "c0c0000000000000000000000000000000000001";

fn product(p: (i64, i64)) -> String {
    format!("product-{}", p.1)
}

/// The tenant project at T1 and three products: A deploys `shared-ns` to cluster-dev and
/// `a-test` to cluster-test, B `b-ns` to cluster-dev, C `c-ns` to cluster-dev.
async fn tenant_gitlab() -> FakeGitLab {
    let gl = FakeGitLab::start(TOKEN).await;
    gl.add_project(Project {
        id: TENANT,
        path_with_namespace: TENANT_PATH.into(),
        namespace_id: 1,
        default_branch: "main".into(),
    });
    gl.set_branch(TENANT, "main", T1);
    gl.add_project_archive(TENANT, T1, tar_gz_of_files(&clusters(false), "config-t1"));
    for (p, head, runtimes) in [
        (
            A,
            A_HEAD,
            vec![
                ("dr-a-dev", "env-dev", &["shared-ns"][..]),
                ("dr-a-test", "env-test", &["a-test"][..]),
            ],
        ),
        (B, B_HEAD, vec![("dr-b-dev", "env-dev", &["b-ns"][..])]),
        (C, C_HEAD, vec![("dr-c-dev", "env-dev", &["c-ns"][..])]),
    ] {
        gl.add_project(Project {
            id: p.0,
            path_with_namespace: format!("g{}/default.project", p.1),
            namespace_id: p.1,
            default_branch: "main".into(),
        });
        gl.set_branch(p.0, "main", head);
        let tree = tar_gz_of_files(&product_tree(&product(p), &runtimes), "default-project");
        gl.add_project_archive(p.0, head, tree.clone());
        gl.add_project_archive(p.0, "main", tree);
    }
    // Not a product: `search` also matches this name, the exact-name filter must drop it.
    gl.add_project(Project {
        id: 104,
        path_with_namespace: "g204/default.project-old".into(),
        namespace_id: 204,
        default_branch: "main".into(),
    });
    gl
}

fn tenant_args() -> Vec<&'static str> {
    vec!["--tenant-project", TENANT_PATH]
}

async fn start(gl_url: &str, db: &Path) -> Service {
    Service::start_env(
        gl_url,
        db,
        &tenant_args(),
        &[("NAUTES_LINT_CONTEXT_TOKEN", CONTEXT_TOKEN)],
    )
    .await
}

/// Waits for a log line holding every one of `needles`.
async fn wait_line(svc: &Service, needles: &[&str]) {
    let deadline = Instant::now() + WAIT;
    loop {
        if svc
            .logs()
            .lines()
            .any(|l| needles.iter().all(|n| l.contains(n)))
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no log line with {needles:?}:\n{}",
            svc.logs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn crawled(svc: &Service) {
    wait_line(svc, &["tenant context crawl done", "\"complete\":true"]).await;
}

/// A push to the tenant repository's default branch.
fn tenant_push(after: &str, before: &str) -> String {
    let mut v = payload("push.json");
    v["after"] = after.into();
    v["checkout_sha"] = after.into();
    v["before"] = before.into();
    v["project_id"] = TENANT.into();
    v["project"]["id"] = TENANT.into();
    v["project"]["path_with_namespace"] = TENANT_PATH.into();
    v["project"]["name"] = "config".into();
    v.to_string()
}

/// A merge request of product `p` from `sha` into its `main`, iid 1.
fn mr_of(p: (i64, i64), action: &str, sha: &str, oldrev: Option<&str>) -> String {
    let mut v: serde_json::Value =
        serde_json::from_str(&merge_request(action, sha, oldrev)).unwrap();
    v["project"]["id"] = p.0.into();
    v["project"]["path_with_namespace"] = format!("g{}/default.project", p.1).into();
    let a = &mut v["object_attributes"];
    a["iid"] = 1.into();
    a["source_project_id"] = p.0.into();
    a["target_project_id"] = p.0.into();
    v.to_string()
}

async fn final_state(gl: &FakeGitLab, sha: &str) -> (String, String) {
    gl.wait_for("a final status", WAIT, |c| finals(c, sha) >= 1)
        .await;
    let last = gl
        .statuses(sha)
        .into_iter()
        .rev()
        .find(|c| matches!(c.body["state"].as_str(), Some("success" | "failed")))
        .unwrap();
    (
        last.body["state"].as_str().unwrap().to_owned(),
        last.body["description"].as_str().unwrap().to_owned(),
    )
}

async fn context(svc: &Service, token: Option<&str>) -> (u16, String) {
    let mut rb = reqwest::Client::new().get(svc.url("/api/v1/context"));
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    let resp = rb.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// (rule, path:line) of every row of the service's merge-request note.
fn note_findings(note: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = note
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (
                cells[2].trim_matches('`').to_owned(),
                cells[1].trim_matches('`').to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_push_that_makes_a_cluster_a_pipeline_cluster_fails_the_next_validation() {
    let gl = tenant_gitlab().await;
    let dir = tempfile::tempdir().unwrap();
    let svc = start(&gl.url, &dir.path().join("q.db")).await;
    crawled(&svc).await;
    // The folder only, at the head of the default branch.
    let tenant_archives: Vec<String> = archive_downloads(&gl)
        .into_iter()
        .filter(|q| q.contains(T1))
        .collect();
    assert_eq!(
        tenant_archives,
        [format!(
            "sha={T1}&path=nautes%2Foverlays%2Fproduction%2Fclusters"
        )]
    );

    // A's merge request adds a runtime on env-dev: clean while cluster-dev deploys.
    let base = product_tree(&product(A), &[("dr-a-test", "env-test", &["a-test"])]);
    let head = product_tree(
        &product(A),
        &[
            ("dr-a-test", "env-test", &["a-test"]),
            ("dr-a-dev", "env-dev", &["shared-ns"]),
            ("dr-a-dev2", "env-dev", &["a-dev2"]),
        ],
    );
    gl.add_project_archive(A.0, "main", tar_gz_of_files(&base, "a-main"));
    let (m1, m2) = (
        "a1a1000000000000000000000000000000000001",
        "a1a1000000000000000000000000000000000002",
    );
    gl.add_project_archive(A.0, m1, tar_gz_of_files(&head, "a-m1"));
    gl.add_project_archive(A.0, m2, tar_gz_of_files(&head, "a-m2"));
    let (code, _) = post(
        &svc,
        "Merge Request Hook",
        mr_of(A, "open", m1, None),
        Some(SECRET),
        &[],
    )
    .await;
    assert_eq!(code, 202);
    let (state, description) = final_state(&gl, m1).await;
    assert_eq!(state, "success", "{description}: {:?}", gl.notes(A.0, 1));

    // The tenant repository's push: cluster-dev becomes a pipeline cluster.
    gl.set_branch(TENANT, "main", T2);
    gl.add_project_archive(TENANT, T2, tar_gz_of_files(&clusters(true), "config-t2"));
    let (code, body) = post(&svc, "Push Hook", tenant_push(T2, T1), Some(SECRET), &[]).await;
    assert_eq!((code, &body["tenant"]), (202, &"refresh".into()), "{body}");
    wait_line(&svc, &["cluster inventory updated", T2]).await;
    assert!(
        gl.statuses(T2).is_empty(),
        "the tenant repository is not validated as a product"
    );
    // Nor are its merge requests.
    let mut tenant_mr: serde_json::Value =
        serde_json::from_str(&merge_request("open", T3, None)).unwrap();
    tenant_mr["project"]["id"] = TENANT.into();
    tenant_mr["project"]["path_with_namespace"] = TENANT_PATH.into();
    tenant_mr["object_attributes"]["source_project_id"] = TENANT.into();
    tenant_mr["object_attributes"]["target_project_id"] = TENANT.into();
    let (code, body) = post(
        &svc,
        "Merge Request Hook",
        tenant_mr.to_string(),
        Some(SECRET),
        &[],
    )
    .await;
    assert_eq!((code, &body["status"]), (200, &"ignored".into()), "{body}");

    let (code, _) = post(
        &svc,
        "Merge Request Hook",
        mr_of(A, "update", m2, Some(m1)),
        Some(SECRET),
        &[],
    )
    .await;
    assert_eq!(code, 202);
    let (state, description) = final_state(&gl, m2).await;
    assert_eq!(state, "failed", "{description}");
    assert!(
        description.contains(&format!("tenant commit {}", &T2[..8])),
        "{description}"
    );
    let note = gl.notes(A.0, 1).last().unwrap().1.clone();
    let rules: Vec<String> = note_findings(&note).into_iter().map(|f| f.0).collect();
    assert_eq!(
        rules,
        ["dr-cluster-not-deployment", "dr-cluster-not-deployment"],
        "{note}"
    );
    assert!(
        note.contains(&format!("tenant commit `{}`", &T2[..8])),
        "{note}"
    );

    // A broken Cluster file: logged, counted, and the last good inventory (T2) stays.
    let mut broken = clusters(true);
    broken[0].1.push_str("  : [unclosed\n");
    gl.set_branch(TENANT, "main", T3);
    gl.add_project_archive(TENANT, T3, tar_gz_of_files(&broken, "config-t3"));
    post(&svc, "Push Hook", tenant_push(T3, T2), Some(SECRET), &[]).await;
    wait_line(&svc, &["do not load", T3]).await;
    assert!(
        svc.metrics()
            .await
            .contains("nautes_lint_tenant_refresh_total{what=\"clusters\",outcome=\"broken\"} 1"),
        "{}",
        svc.metrics().await
    );
    let (code, text) = context(&svc, Some(CONTEXT_TOKEN)).await;
    assert_eq!(code, 200);
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["tenant"]["commit"], T2);
    svc.assert_no_secrets();
    assert!(!svc.logs().contains(CONTEXT_TOKEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_another_product_uses_on_the_same_cluster_fails_the_merge_request() {
    let gl = tenant_gitlab().await;
    let dir = tempfile::tempdir().unwrap();
    let svc = start(&gl.url, &dir.path().join("q.db")).await;
    crawled(&svc).await;

    // B claims A's `shared-ns` on cluster-dev.
    let (clash, elsewhere) = (
        "b1b1000000000000000000000000000000000001",
        "b1b1000000000000000000000000000000000002",
    );
    let clash_tree = product_tree(
        &product(B),
        &[("dr-b-dev", "env-dev", &["b-ns", "shared-ns"])],
    );
    gl.add_project_archive(B.0, clash, tar_gz_of_files(&clash_tree, "b-1"));
    post(
        &svc,
        "Merge Request Hook",
        mr_of(B, "open", clash, None),
        Some(SECRET),
        &[],
    )
    .await;
    let (state, description) = final_state(&gl, clash).await;
    assert_eq!(state, "failed", "{description}");
    let note = gl.notes(B.0, 1).last().unwrap().1.clone();
    assert_eq!(
        note_findings(&note),
        [(
            "dr-namespace-used-by-other-product".to_owned(),
            "runtimes/dr-b-dev.yaml:10".to_owned()
        )],
        "{note}"
    );
    assert!(
        note.contains("runtime `dr-a-dev` of product `product-201`")
            && note.contains("(`g201/default.project`, `runtimes/dr-a-dev.yaml:9`)"),
        "the note names A's runtime: {note}"
    );
    assert!(note.contains(&product(A)), "{note}");

    // The same namespace on cluster-test, where no other product uses it, passes.
    let other_tree = product_tree(
        &product(B),
        &[
            ("dr-b-dev", "env-dev", &["b-ns"]),
            ("dr-b-test", "env-test", &["shared-ns"]),
        ],
    );
    gl.add_project_archive(B.0, elsewhere, tar_gz_of_files(&other_tree, "b-2"));
    post(
        &svc,
        "Merge Request Hook",
        mr_of(B, "update", elsewhere, Some(clash)),
        Some(SECRET),
        &[],
    )
    .await;
    let (state, description) = final_state(&gl, elsewhere).await;
    assert_eq!(state, "success", "{description}");

    // `check --context` on the context the service serves finds what the service found.
    let (code, text) = context(&svc, Some(CONTEXT_TOKEN)).await;
    assert_eq!(code, 200, "{text}");
    let ctx = dir.path().join("context.json");
    std::fs::write(&ctx, &text).unwrap();
    let work = tempfile::tempdir().unwrap();
    for (p, t) in &clash_tree {
        let path = work.path().join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, t).unwrap();
    }
    let out = std::process::Command::new(BIN)
        .arg("check")
        .arg(work.path())
        .args(["--format", "json", "--context"])
        .arg(&ctx)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut found: Vec<(String, String)> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["rule"].as_str().unwrap().to_owned(),
                format!("{}:{}", d["path"].as_str().unwrap(), d["line"]),
            )
        })
        .collect();
    found.sort();
    assert_eq!(found, note_findings(&note));

    // The CI template fetches the same context when its URL is set, and fails the same way.
    let url = svc.url("/api/v1/context");
    let out = run_ci_template(
        work.path(),
        &[
            ("NAUTES_LINT_CONTEXT_URL", &url),
            ("NAUTES_LINT_CONTEXT_TOKEN", CONTEXT_TOKEN),
        ],
    );
    let log =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(log.contains("dr-namespace-used-by-other-product"), "{log}");
    // A wrong token fails the job before any check: it never runs without the context it was
    // told to use.
    let out = run_ci_template(
        work.path(),
        &[
            ("NAUTES_LINT_CONTEXT_URL", &url),
            ("NAUTES_LINT_CONTEXT_TOKEN", "wrong"),
        ],
    );
    let log =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{log}");
    assert!(
        !log.contains("nautes-lint:") && log.contains("401"),
        "{log}"
    );
    // Without the URL it runs without a context: the tree is otherwise clean.
    let out = run_ci_template(work.path(), &[("NAUTES_LINT_CONTEXT_URL", "")]);
    let log =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{log}");
}

/// Runs the CI template's script as GitLab's runner would for a branch pipeline in `dir`, the
/// binary under test first on the PATH.
fn run_ci_template(dir: &Path, env: &[(&str, &str)]) -> std::process::Output {
    let mut c = tools::ci_template(dir);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_the_context_and_downloads_only_what_changed() {
    let gl = tenant_gitlab().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("q.db");
    let mut svc = start(&gl.url, &db).await;
    crawled(&svc).await;
    let (_, first) = context(&svc, Some(CONTEXT_TOKEN)).await;
    let first: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(first["tenant"]["commit"], T1);
    let products: Vec<&str> = first["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["product"].as_str().unwrap())
        .collect();
    assert_eq!(products, [product(A), product(B), product(C)]);
    let downloads = archive_downloads(&gl).len();
    assert_eq!(downloads, 4, "the clusters folder and three products");
    svc.kill();

    // GitLab unreachable: a port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let svc = start(&dead, &db).await;
    let (code, text) = context(&svc, Some(CONTEXT_TOKEN)).await;
    assert_eq!(code, 200, "{text}");
    let stored: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(stored["tenant"], first["tenant"]);
    assert_eq!(stored["clusters"], first["clusters"]);
    assert_eq!(stored["products"], first["products"]);
    drop(svc);

    // GitLab back, nothing changed: no archive is downloaded again. Then C's default branch
    // moves: only C is read.
    let svc = start(&gl.url, &db).await;
    crawled(&svc).await;
    assert_eq!(archive_downloads(&gl).len(), downloads);
    let c2 = "c0c0000000000000000000000000000000000002";
    gl.set_branch(C.0, "main", c2);
    gl.add_project_archive(
        C.0,
        c2,
        tar_gz_of_files(
            &product_tree(&product(C), &[("dr-c-dev", "env-dev", &["c-ns", "c-more"])]),
            "c-2",
        ),
    );
    let mut push = serde_json::from_str::<serde_json::Value>(&push(c2, C_HEAD)).unwrap();
    push["project_id"] = C.0.into();
    push["project"]["id"] = C.0.into();
    push["project"]["path_with_namespace"] = format!("g{}/default.project", C.1).into();
    let (code, _) = post(&svc, "Push Hook", push.to_string(), Some(SECRET), &[]).await;
    assert_eq!(code, 202, "a product's push is still validated");
    wait_line(&svc, &["product claims updated", c2]).await;
    let (_, text) = context(&svc, Some(CONTEXT_TOKEN)).await;
    assert!(text.contains("c-more"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_context_needs_its_bearer_token() {
    let gl = tenant_gitlab().await;
    let dir = tempfile::tempdir().unwrap();
    let svc = start(&gl.url, &dir.path().join("q.db")).await;
    crawled(&svc).await;
    for token in [None, Some("wrong"), Some(SECRET), Some(TOKEN)] {
        let (code, text) = context(&svc, token).await;
        assert_eq!(code, 401, "{token:?}: {text}");
        assert!(!text.contains("shared-ns"));
    }
    assert_eq!(context(&svc, Some(CONTEXT_TOKEN)).await.0, 200);
    let lower = reqwest::Client::new()
        .get(svc.url("/api/v1/context"))
        .header("Authorization", format!("bearer {CONTEXT_TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        lower.status().as_u16(),
        200,
        "the scheme is case-insensitive"
    );

    // Without a configured token the endpoint is off, whatever is presented.
    let plain = Service::start(&gl.url, &dir.path().join("q2.db"), &tenant_args()).await;
    let (code, text) = context(&plain, Some(CONTEXT_TOKEN)).await;
    assert_eq!(code, 404, "{text}");
    assert!(text.contains("NAUTES_LINT_CONTEXT_TOKEN"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_crawl_runs_in_the_background_and_waits_out_a_429() {
    let gl = tenant_gitlab().await;
    // B's archive is refused once with Retry-After; C's download hangs until released.
    gl.fail_next(
        &format!("GET /api/v4/projects/{}/repository/archive.tar.gz", B.0),
        429,
        Some(1),
    );
    gl.hold_archive_of(C_HEAD);
    let dir = tempfile::tempdir().unwrap();
    let svc = start(&gl.url, &dir.path().join("q.db")).await;
    wait_line(&svc, &["product claims updated", B_HEAD]).await;

    // The crawl waits on C; a push of A on a feature branch is validated meanwhile.
    let feature = "a2a2000000000000000000000000000000000001";
    gl.add_project_archive(
        A.0,
        feature,
        tar_gz_of_files(
            &product_tree(&product(A), &[("dr-a-dev", "env-dev", &["shared-ns"])]),
            "a-f",
        ),
    );
    let mut v: serde_json::Value = serde_json::from_str(&push(feature, A_HEAD)).unwrap();
    v["ref"] = "refs/heads/feature".into();
    v["project_id"] = A.0.into();
    v["project"]["id"] = A.0.into();
    v["project"]["path_with_namespace"] = format!("g{}/default.project", A.1).into();
    let (code, _) = post(&svc, "Push Hook", v.to_string(), Some(SECRET), &[]).await;
    assert_eq!(code, 202);
    let (state, description) = final_state(&gl, feature).await;
    assert_eq!(state, "success", "{description}");
    assert!(
        !svc.logs().contains("tenant context crawl done"),
        "the crawl was still waiting for C"
    );

    gl.hold_archives(false);
    crawled(&svc).await;
    let metrics = svc.metrics().await;
    assert!(
        metrics
            .contains("nautes_lint_gitlab_api_errors_total{endpoint=\"archive\",class=\"429\"} 1"),
        "{metrics}"
    );
    let (_, text) = context(&svc, Some(CONTEXT_TOKEN)).await;
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["products"].as_array().unwrap().len(), 3, "{text}");
}

#[test]
fn two_sources_of_clusters_or_a_folder_outside_the_repository_are_refused_at_startup() {
    for (args, said) in [
        (
            vec![
                "--tenant-project",
                TENANT_PATH,
                "--clusters",
                "fixtures/valid/clusters",
            ],
            "--clusters and --tenant-project both",
        ),
        (
            vec![
                "--tenant-project",
                TENANT_PATH,
                "--tenant-clusters-path",
                "../etc",
            ],
            "--tenant-clusters-path `../etc`",
        ),
    ] {
        let out = std::process::Command::new(BIN)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--gitlab-url",
                "http://127.0.0.1:9",
            ])
            .args(&args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("NAUTES_LINT_WEBHOOK_SECRET", SECRET)
            .env("NAUTES_LINT_GITLAB_TOKEN", TOKEN)
            .env_remove("NAUTES_LINT_CLUSTERS")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(said), "{args:?}: {err}");
    }
}

/// The catch-up sweep queues heads without a status; the tenant repository's never gets one (it
/// is not a `default.project`), so a group holding it must not make the sweep validate it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catch_up_sweep_leaves_the_tenant_repository_alone() {
    let gl = tenant_gitlab().await;
    gl.set_group("platform", &[TENANT, A.0]);
    let svc = Service::start_temp_env(
        &gl.url,
        &["--tenant-project", TENANT_PATH, "--group", "platform"],
        &[],
    )
    .await;
    crawled(&svc).await;
    // A's head had no status: the sweep queues it and it is checked.
    final_state(&gl, A_HEAD).await;
    wait_line(&svc, &["catch-up sweep done"]).await;
    assert!(gl.statuses(T1).is_empty(), "{:#?}", gl.statuses(T1));
}
