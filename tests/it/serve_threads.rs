//! Merge-request review threads through the real binary: the service on 127.0.0.1 against the
//! fake GitLab, which keeps diff versions, diffs and discussions and refuses (400) a position
//! outside the diff as GitLab does. The diffs are computed from the very trees the archives
//! hold.

use crate::common::fake_gitlab;
use crate::common::fake_gitlab::{Discussion, FakeGitLab, tar_gz_of_dir};
use crate::common::service::*;
use std::path::Path;

const PROJECT: i64 = 15;
const IID: i64 = 3;
const H1: &str = "1111aaaa22223333444455556666777788889999";
const H2: &str = "2222aaaa22223333444455556666777788889999";
const H3: &str = "3333aaaa22223333444455556666777788889999";
const TARGET: &str = "9999aaaa22223333444455556666777788889999";
const RUNTIME: &str = "runtimes/dr-dev.yaml";

/// The `dr-project-not-found` fixture (its runtime lists the project `billing`, which does not
/// exist) and where it breaks.
fn broken() -> (tempfile::TempDir, String, u32) {
    let dir = crate::common::tools::copy_invalid_fixture("dr-project-not-found");
    let expected = std::fs::read_to_string(dir.path().join("expected.txt")).unwrap();
    let at = expected.split_whitespace().nth(1).unwrap().to_owned();
    let (path, line) = at.split_once(':').unwrap();
    std::fs::remove_file(dir.path().join("expected.txt")).unwrap();
    (dir, path.to_owned(), line.parse().unwrap())
}

/// The same tree without the missing project: what the target branch holds.
fn fixed() -> tempfile::TempDir {
    let (dir, path, _) = broken();
    let file = dir.path().join(path);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("  - billing\n"));
    std::fs::write(&file, text.replace("  - billing\n", "")).unwrap();
    dir
}

/// The findings of `check --format json` on `dir`.
fn findings(dir: &Path) -> Vec<serde_json::Value> {
    let out = std::process::Command::new(BIN)
        .arg("check")
        .arg(dir)
        .args(["--format", "json"])
        .env("NO_COLOR", "1")
        .env_remove("NAUTES_LINT_CLUSTERS")
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["diagnostics"].as_array().unwrap().clone()
}

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap_or_default()
}

/// GitLab's `diff` of one file: the unified hunks without the `---`/`+++` header.
fn hunks(old: &str, new: &str) -> String {
    let d = similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .to_string();
    assert!(d.is_empty() || d.starts_with("@@ "), "{d}");
    d
}

/// The diff between two trees, file by file, as GitLab lists it.
fn tree_diff(base: &Path, head: &Path) -> Vec<(String, String, String, bool, bool)> {
    let mut paths = std::collections::BTreeSet::new();
    for root in [base, head] {
        for e in walk(root) {
            paths.insert(e);
        }
    }
    paths
        .into_iter()
        .filter_map(|p| {
            let (old, new) = (read(base, &p), read(head, &p));
            let (in_base, in_head) = (base.join(&p).is_file(), head.join(&p).is_file());
            (old != new || in_base != in_head)
                .then(|| (p.clone(), p, hunks(&old, &new), !in_base, !in_head))
        })
        .collect()
}

fn walk(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    out
}

/// A fake GitLab whose target branch is `target`; the merge request's next push is `push`.
async fn gitlab_with_target(target: &Path) -> FakeGitLab {
    let gl = FakeGitLab::start(TOKEN).await;
    gl.add_archive("main", tar_gz_of_dir(target, "p-main"));
    gl
}

/// Serves `head` as commit `sha`, and makes it the merge request's latest version with its
/// diff against `target`.
fn push_version(gl: &FakeGitLab, target: &Path, head: &Path, sha: &str) {
    gl.add_archive(sha, tar_gz_of_dir(head, "p-head"));
    gl.set_mr_version(PROJECT, IID, TARGET, sha);
    let files = tree_diff(target, head);
    let files: Vec<(&str, &str, &str, bool, bool)> = files
        .iter()
        .map(|(o, n, d, a, r)| (o.as_str(), n.as_str(), d.as_str(), *a, *r))
        .collect();
    gl.set_mr_diffs(PROJECT, IID, &files);
}

fn discussion_posts(gl: &FakeGitLab) -> Vec<fake_gitlab::Call> {
    gl.calls()
        .into_iter()
        .filter(|c| c.method == "POST" && c.path.ends_with("/merge_requests/3/discussions"))
        .collect()
}

fn note(gl: &FakeGitLab) -> String {
    let notes = gl.notes(PROJECT, IID);
    assert_eq!(notes.len(), 1, "one summary note: {notes:?}");
    notes[0].1.clone()
}

fn thread_url(d: &Discussion) -> String {
    format!(
        "http://gitlab.example.com/group/project-{PROJECT}/-/merge_requests/{IID}#note_{}",
        d.notes[0].0
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_follows_its_finding_across_pushes() {
    let target = fixed();
    let (head, path, line) = broken();
    let gl = gitlab_with_target(target.path()).await;
    let svc = Service::start_temp(&gl.url, &[]).await;

    // The merge request breaks the runtime: one thread on the exact line.
    push_version(&gl, target.path(), head.path(), H1);
    assert_eq!(post_mr(&svc, "open", H1, None).await.0, 202);
    gl.wait_for("the first result", WAIT, |c| finals(c, H1) == 1)
        .await;
    assert_eq!(gl.states(H1), ["pending", "failed"]);
    let threads = gl.discussions(PROJECT, IID);
    assert_eq!(threads.len(), 1, "{threads:?}");
    let t = &threads[0];
    assert_eq!(t.position["position_type"], "text");
    assert_eq!(t.position["new_path"], path.as_str());
    assert_eq!(t.position["old_path"], path.as_str());
    assert_eq!(t.position["new_line"], line);
    assert!(t.position["old_line"].is_null(), "an added line");
    assert_eq!(t.position["head_sha"], H1);
    assert_eq!(t.position["base_sha"], TARGET);
    assert_eq!(t.position["start_sha"], TARGET);
    let body = &t.notes[0].1;
    assert!(body.starts_with("<!-- nautes-lint: fingerprint="), "{body}");
    let found = findings(head.path());
    let d = found
        .iter()
        .find(|d| d["rule"] == "dr-project-not-found")
        .unwrap();
    assert!(body.contains("`dr-project-not-found`"), "{body}");
    assert!(body.contains(d["message"].as_str().unwrap()), "{body}");
    if let Some(help) = d["help"].as_str() {
        assert!(body.contains(&format!("**help:** {help}")), "{body}");
    }
    assert!(
        body.contains("<details><summary>About <code>dr-project-not-found</code>"),
        "{body}"
    );
    assert!(!t.resolved);
    let summary = note(&gl);
    assert!(summary.contains(&thread_url(t)), "{summary}");
    assert!(summary.contains("1 thread on the changed lines (1 opened by this push)"));

    // A push that fixes it: the thread is resolved, with a reply naming the commit.
    push_version(&gl, target.path(), target.path(), H2);
    assert_eq!(post_mr(&svc, "update", H2, Some(H1)).await.0, 202);
    gl.wait_for("the second result", WAIT, |c| finals(c, H2) == 1)
        .await;
    assert_eq!(gl.states(H2), ["pending", "success"]);
    let threads = gl.discussions(PROJECT, IID);
    assert_eq!(threads.len(), 1);
    assert!(threads[0].resolved, "{threads:?}");
    let reply = &threads[0].notes.last().unwrap().1;
    assert!(reply.contains(&format!("Fixed in {}", &H2[..8])), "{reply}");
    assert!(note(&gl).contains("1 thread resolved"), "{}", note(&gl));

    // It breaks again: the same thread is reopened, with a reply; no second thread.
    push_version(&gl, target.path(), head.path(), H3);
    assert_eq!(post_mr(&svc, "update", H3, Some(H2)).await.0, 202);
    gl.wait_for("the third result", WAIT, |c| finals(c, H3) == 1)
        .await;
    let threads = gl.discussions(PROJECT, IID);
    assert_eq!(threads.len(), 1, "{threads:?}");
    assert!(!threads[0].resolved);
    let reply = &threads[0].notes.last().unwrap().1;
    assert!(reply.contains(&format!("Back in {}", &H3[..8])), "{reply}");
    assert_eq!(threads[0].notes.len(), 3);
    assert_eq!(discussion_posts(&gl).len(), 1);
    let summary = note(&gl);
    assert!(summary.contains(&thread_url(&threads[0])), "{summary}");
    let metrics = svc.metrics().await;
    for action in ["opened", "resolved", "reopened"] {
        assert!(
            metrics.contains(&format!(
                "nautes_lint_mr_threads_total{{action=\"{action}\"}} 1"
            )),
            "{metrics}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_with_a_deleted_database_opens_no_duplicate() {
    let target = fixed();
    let (head, _, _) = broken();
    let gl = gitlab_with_target(target.path()).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("q.db");
    push_version(&gl, target.path(), head.path(), H1);
    {
        let mut svc = Service::start(&gl.url, &db, &[]).await;
        assert_eq!(post_mr(&svc, "open", H1, None).await.0, 202);
        gl.wait_for("the first result", WAIT, |c| finals(c, H1) == 1)
            .await;
        svc.kill();
    }
    assert_eq!(gl.discussions(PROJECT, IID).len(), 1);
    for f in std::fs::read_dir(dir.path()).unwrap() {
        std::fs::remove_file(f.unwrap().path()).unwrap();
    }
    // The new database knows nothing: the same commit is checked again, the thread found by
    // its marker.
    let svc = Service::start(&gl.url, &db, &[]).await;
    assert_eq!(post_mr(&svc, "reopen", H1, None).await.0, 202);
    gl.wait_for("the second result", WAIT, |c| finals(c, H1) == 2)
        .await;
    assert_eq!(gl.discussions(PROJECT, IID).len(), 1);
    assert_eq!(discussion_posts(&gl).len(), 1, "no second thread");
    let t = &gl.discussions(PROJECT, IID)[0];
    assert!(!t.resolved);
    assert_eq!(t.notes.len(), 1, "nothing was added to it");
    assert!(note(&gl).contains(&thread_url(t)), "{}", note(&gl));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_new_findings_open_twenty_threads_and_the_note_counts_the_rest() {
    let target = fixed();
    let head = many_broken_runtimes(50);
    let gl = gitlab_with_target(target.path()).await;
    push_version(&gl, target.path(), head.path(), H1);
    let svc = Service::start_temp(&gl.url, &[]).await;
    assert_eq!(post_mr(&svc, "open", H1, None).await.0, 202);
    gl.wait_for("the result", WAIT, |c| finals(c, H1) == 1)
        .await;
    // How many findings are new, as the status says.
    let description = gl.statuses(H1)[1].body["description"]
        .as_str()
        .unwrap()
        .to_owned();
    let new: usize = description
        .split_once(" (")
        .and_then(|(_, r)| r.split_once(" new)"))
        .map(|(n, _)| n.parse().unwrap())
        .unwrap_or_else(|| panic!("{description}"));
    assert!(new >= 50, "{description}");
    let threads = gl.discussions(PROJECT, IID);
    assert_eq!(threads.len(), 20);
    assert_eq!(discussion_posts(&gl).len(), 20);
    let summary = note(&gl);
    assert!(
        summary.contains(&format!(
            "{} more findings on the changed lines have no thread: at most 20 threads are opened per push",
            new - 20
        )),
        "{summary}"
    );
    for t in &threads {
        assert!(summary.contains(&thread_url(t)), "{summary}");
        assert!(
            t.position["new_path"]
                .as_str()
                .unwrap()
                .starts_with("runtimes/dr-n")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finding_on_an_unchanged_line_stays_in_the_note() {
    // The merge request deletes the environment: the runtime that names it breaks on a line
    // the merge request does not touch.
    let target = fixed();
    let head = fixed();
    let env = walk(head.path())
        .into_iter()
        .find(|p| p.starts_with("envs/"))
        .unwrap();
    std::fs::remove_file(head.path().join(&env)).unwrap();
    let gl = gitlab_with_target(target.path()).await;
    push_version(&gl, target.path(), head.path(), H1);
    let svc = Service::start_temp(&gl.url, &[]).await;
    assert_eq!(post_mr(&svc, "open", H1, None).await.0, 202);
    gl.wait_for("the result", WAIT, |c| finals(c, H1) == 1)
        .await;
    assert_eq!(gl.states(H1), ["pending", "failed"]);
    assert!(gl.discussions(PROJECT, IID).is_empty());
    assert!(discussion_posts(&gl).is_empty(), "no thread was even tried");
    let summary = note(&gl);
    assert!(summary.contains("dr-environment-not-found"), "{summary}");
    assert!(summary.contains(&format!("`{RUNTIME}:")), "{summary}");
    assert!(
        summary.contains("not on a line this merge request adds: listed above only"),
        "{summary}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_position_gitlab_refuses_falls_back_to_the_note_and_the_repository_mode_wins() {
    // The merge request edits the runtime's first line and deletes the environment: in mode
    // `file` (the repository's own setting) the finding's unchanged line, outside the hunk,
    // is tried, and the fake GitLab refuses it with a 400 as GitLab does.
    let target = fixed();
    let head = fixed();
    let text = read(head.path(), RUNTIME);
    std::fs::write(
        head.path().join(RUNTIME),
        format!(
            "# owned by the billing team\n{}",
            text.split_once('\n').unwrap().1
        ),
    )
    .unwrap();
    let env = walk(head.path())
        .into_iter()
        .find(|p| p.starts_with("envs/"))
        .unwrap();
    std::fs::remove_file(head.path().join(&env)).unwrap();
    std::fs::write(head.path().join(".nautes-lint.yaml"), "mrThreads: file\n").unwrap();
    let gl = gitlab_with_target(target.path()).await;
    push_version(&gl, target.path(), head.path(), H1);
    let svc = Service::start_temp(&gl.url, &[]).await;
    assert_eq!(post_mr(&svc, "open", H1, None).await.0, 202);
    gl.wait_for("the result", WAIT, |c| finals(c, H1) == 1)
        .await;
    assert_eq!(
        gl.states(H1),
        ["pending", "failed"],
        "the status is the check's"
    );
    let tried = discussion_posts(&gl);
    assert!(!tried.is_empty(), "mode `file` tries the unchanged line");
    assert!(tried.iter().all(|c| c.answered == 400), "{tried:?}");
    assert!(tried[0].body["position"]["old_line"].is_u64(), "{tried:?}");
    assert!(gl.discussions(PROJECT, IID).is_empty());
    let summary = note(&gl);
    assert!(summary.contains("dr-environment-not-found"), "{summary}");
    assert!(
        summary.contains(&format!(
            "GitLab refused the diff position of {}",
            if tried.len() == 1 {
                "1 finding".to_owned()
            } else {
                format!("{} findings", tried.len())
            }
        )),
        "{summary}"
    );
    let metrics = svc.metrics().await;
    assert!(
        metrics.contains(&format!(
            "nautes_lint_mr_threads_total{{action=\"refused\"}} {}",
            tried.len()
        )),
        "{metrics}"
    );
    wait_state(&svc.db(), 0, "done").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_thread_calls_leave_the_status_to_the_check() {
    // A clean push whose discussions GitLab will not list: the threads cannot be brought up to
    // date, the status still says what the check found.
    let target = fixed();
    let head = fixed();
    let gl = gitlab_with_target(target.path()).await;
    push_version(&gl, target.path(), head.path(), H1);
    for _ in 0..20 {
        gl.fail_next(
            "GET /api/v4/projects/15/merge_requests/3/discussions",
            503,
            None,
        );
    }
    let svc = Service::start_temp(&gl.url, &[]).await;
    assert_eq!(post_mr(&svc, "open", H1, None).await.0, 202);
    gl.wait_for("the result", WAIT, |c| finals(c, H1) == 1)
        .await;
    assert_eq!(gl.states(H1), ["pending", "success"]);
    let summary = note(&gl);
    assert!(
        summary.contains("The threads could not be updated"),
        "{summary}"
    );
    let metrics = svc.metrics().await;
    assert!(
        metrics.contains("nautes_lint_mr_threads_total{action=\"failed\"} 1"),
        "{metrics}"
    );
    assert!(
        svc.logs()
            .contains("cannot update the merge request's review threads")
    );
    wait_state(&svc.db(), 0, "done").await;
}

/// A tree whose merge request adds `n` runtimes, each naming an environment that does not
/// exist.
fn many_broken_runtimes(n: usize) -> tempfile::TempDir {
    let head = fixed();
    let runtime = read(head.path(), RUNTIME).replace("env-dev", "env-dve");
    for i in 0..n {
        let text = runtime.replace("dr-dev", &format!("dr-n{i:02}"));
        std::fs::write(head.path().join(format!("runtimes/dr-n{i:02}.yaml")), text).unwrap();
    }
    head
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_settings_set_the_mode_and_the_cap() {
    let target = fixed();
    let head = many_broken_runtimes(8);
    let gl = gitlab_with_target(target.path()).await;
    push_version(&gl, target.path(), head.path(), H1);
    let dir = tempfile::tempdir().unwrap();
    {
        // `off` from the environment: the merge request's diff is not even read.
        let svc = Service::start_env(
            &gl.url,
            &dir.path().join("off.db"),
            &[],
            &[("NAUTES_LINT_MR_THREADS", "off")],
        )
        .await;
        assert_eq!(post_mr(&svc, "open", H1, None).await.0, 202);
        gl.wait_for("the result", WAIT, |c| finals(c, H1) == 1)
            .await;
        let mr_calls: Vec<_> = gl
            .calls()
            .into_iter()
            .filter(|c| {
                ["/versions", "/diffs", "/discussions"]
                    .iter()
                    .any(|e| c.path.ends_with(e))
            })
            .collect();
        assert!(mr_calls.is_empty(), "{mr_calls:?}");
        assert!(!note(&gl).contains("Review threads"), "{}", note(&gl));
    }
    // `--mr-threads-max 3`: three threads, the others counted.
    let svc = Service::start(
        &gl.url,
        &dir.path().join("max.db"),
        &["--mr-threads-max", "3"],
    )
    .await;
    assert_eq!(post_mr(&svc, "reopen", H1, None).await.0, 202);
    gl.wait_for("the result", WAIT, |c| finals(c, H1) == 2)
        .await;
    assert_eq!(gl.discussions(PROJECT, IID).len(), 3);
    assert!(
        note(&gl).contains("at most 3 threads are opened per push"),
        "{}",
        note(&gl)
    );
}
