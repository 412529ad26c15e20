//! Catch-up after downtime: commits whose delivery the service missed (it was stopped, GitLab
//! could not connect) still get their status and their merge request's note, found by the
//! sweep at start-up and every `--reconcile-interval`. The real binary on 127.0.0.1, a real
//! SQLite file, the fake GitLab.

use crate::common::fake_gitlab::FakeGitLab;
use crate::common::service::*;
use std::path::Path;

const MARKER: &str = "<!-- nautes-lint -->";

/// Sends a delivery to a service that is not running: GitLab's attempt fails to connect, and
/// GitLab does not send it again.
async fn deliver_to_stopped(addr: &str, event: &str, body: String) {
    let err = reqwest::Client::new()
        .post(format!("http://{addr}/webhook/gitlab"))
        .header("content-type", "application/json")
        .header("X-Gitlab-Event", event)
        .header("X-Gitlab-Token", SECRET)
        .body(body)
        .send()
        .await
        .expect_err("the service is stopped");
    assert!(err.is_connect(), "not a connection failure: {err}");
}

fn shas_of_jobs(db: &Path) -> Vec<String> {
    jobs(db).into_iter().map(|j| j.2).collect()
}

/// The "catch-up sweep done" log lines, parsed.
fn sweeps(svc: &Service) -> Vec<serde_json::Value> {
    svc.logs
        .lock()
        .unwrap()
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["message"] == "catch-up sweep done")
        .collect()
}

async fn wait_sweeps(svc: &Service, n: usize) -> serde_json::Value {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if let Some(s) = sweeps(svc).get(n - 1) {
            return s.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no sweep number {n}:\n{}",
            svc.logs()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn notes_posted(gl: &FakeGitLab, project: i64, iid: i64, n: usize) {
    gl.wait_for("the merge request's note", WAIT, |_| {
        gl.notes(project, iid).len() == n
    })
    .await;
}

/// The service, stopped, misses a push to the default branch and two new merge requests (the
/// deliveries fail to connect); started again on the same database, it finds them through the
/// project in its queue's history: each commit gets one final status and each merge request
/// its note, with no delivery sent again. The listing of merge requests spans two pages and its
/// first answer is a 429.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_missed_while_stopped_get_their_status_and_note_at_the_next_start() {
    let gl = gitlab().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("q.db");

    // First life: the service checks a push of project 15, which puts it in the history.
    gl.set_branch(15, "main", BASE);
    let mut svc = Service::start(&gl.url, &db, &[]).await;
    let (code, _) = post(&svc, "Push Hook", push(BASE, ZERO), Some(SECRET), &[]).await;
    assert_eq!(code, 202);
    gl.wait_for("the first push's status", WAIT, |c| finals(c, BASE) == 1)
        .await;
    let addr = svc.addr.clone();
    svc.sigterm();
    assert!(svc.wait_exit(WAIT).await.success());

    // Downtime: a push to main and two merge requests; their deliveries fail.
    gl.set_branch(15, "main", CLEAN);
    deliver_to_stopped(&addr, "Push Hook", push(CLEAN, BASE)).await;
    gl.set_branch(15, "add-billing-runtime", BROKEN);
    gl.open_merge_request(15, 3, "add-billing-runtime", "main", BROKEN);
    deliver_to_stopped(
        &addr,
        "Merge Request Hook",
        merge_request("open", BROKEN, None),
    )
    .await;
    gl.open_merge_request(15, 4, "other-change", "main", BROKEN2);
    gl.set_max_per_page(1);
    gl.fail_next("GET /api/v4/projects/15/merge_requests", 429, Some(1));

    // Second life, same database, no flag naming the project.
    let svc = Service::start(&gl.url, &db, &[]).await;
    gl.wait_for("the final statuses", WAIT, |c| {
        finals(c, CLEAN) == 1 && finals(c, BROKEN) == 1 && finals(c, BROKEN2) == 1
    })
    .await;
    notes_posted(&gl, 15, 3, 1).await;
    notes_posted(&gl, 15, 4, 1).await;
    let sweep = wait_sweeps(&svc, 1).await;
    assert_eq!(sweep["queued"], 3, "{sweep}");
    assert_eq!(sweep["projects"], 1, "{sweep}");

    assert_eq!(gl.states(CLEAN), ["pending", "success"]);
    assert_eq!(gl.states(BROKEN), ["pending", "failed"]);
    assert_eq!(gl.states(BROKEN2), ["pending", "failed"]);
    let note = &gl.notes(15, 3)[0].1;
    assert!(note.contains(MARKER), "{note}");
    assert!(note.contains("dr-environment-not-found"), "{note}");
    // The merge request's job is the delivery's: compared with its target branch.
    assert!(archive_downloads(&gl).contains(&"sha=main".to_owned()));
    let calls = gl.calls();
    assert!(
        calls
            .iter()
            .any(|c| c.path.ends_with("/projects/15/merge_requests") && c.answered == 429),
        "the injected 429 was not met"
    );
    assert!(
        calls
            .iter()
            .any(|c| c.path.ends_with("/projects/15/merge_requests") && c.query.contains("page=2")),
        "the second page was not read"
    );
    // Nothing came through the webhook in this life: the catch-up queued all three.
    let metrics = svc.metrics().await;
    assert!(
        !metrics.contains("nautes_lint_webhook_events_total{kind"),
        "{metrics}"
    );
    assert!(
        metrics.contains("nautes_lint_catch_up_queued_total 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("nautes_lint_catch_up_sweeps_total{outcome=\"done\"} 1"),
        "{metrics}"
    );
    // GitLab re-sending the missed deliveries now (by hand, say) makes no second job.
    let (code, body) = post(&svc, "Push Hook", push(CLEAN, BASE), Some(SECRET), &[]).await;
    assert_eq!(
        (code, &body["status"]),
        (200, &"duplicate".into()),
        "{body}"
    );
    let (code, body) = post_mr(&svc, "open", BROKEN, None).await;
    assert_eq!(
        (code, &body["status"]),
        (200, &"duplicate".into()),
        "{body}"
    );
    assert_eq!(shas_of_jobs(&db), [BASE, CLEAN, BROKEN, BROKEN2]);
    svc.assert_no_secrets();
}

/// A head that already has a `nautes-lint` status (in any state) is not queued again; a status
/// of another name does not count. The project is named by its path with `--project`. A merge
/// request whose commit GitLab refuses to show (a fork the token cannot read) is skipped, not
/// the merge requests after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_that_has_a_nautes_lint_status_is_not_queued_again() {
    let gl = gitlab().await;
    gl.set_project_path("product-7/default.project", 15);
    gl.set_branch(15, "main", CLEAN);
    gl.add_status(15, CLEAN, "nautes-lint", "failed");
    gl.open_merge_request(15, 2, "from-a-fork", "main", BROKEN2);
    gl.fail_next(
        &format!("GET /api/v4/projects/15/repository/commits/{BROKEN2}/statuses"),
        403,
        None,
    );
    gl.open_merge_request(15, 3, "add-billing-runtime", "main", BROKEN);
    gl.add_status(15, BROKEN, "build", "success");

    let svc = Service::start_temp(&gl.url, &["--project", "product-7/default.project"]).await;
    let db = svc.db();
    let sweep = wait_sweeps(&svc, 1).await;
    assert_eq!(
        (&sweep["heads"], &sweep["queued"]),
        (&3.into(), &1.into()),
        "{sweep}"
    );
    gl.wait_for("the merge request's status", WAIT, |c| {
        finals(c, BROKEN) == 1
    })
    .await;
    notes_posted(&gl, 15, 3, 1).await;
    assert_eq!(shas_of_jobs(&db), [BROKEN]);
    assert!(gl.statuses(CLEAN).is_empty(), "{:?}", gl.statuses(CLEAN));
}

/// The periodic sweep: a merge request opened while the service runs but whose delivery never
/// came (a webhook GitLab disabled, say) is found by the next sweep, over a group's projects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_periodic_sweep_finds_a_merge_request_of_a_group_project() {
    let gl = gitlab().await;
    gl.set_group("product-7", &[15]);
    let svc = Service::start_temp(
        &gl.url,
        &["--group", "product-7", "--reconcile-interval", "1"],
    )
    .await;
    let db = svc.db();
    let first = wait_sweeps(&svc, 1).await;
    assert_eq!(
        (&first["projects"], &first["queued"]),
        (&1.into(), &0.into())
    );
    gl.open_merge_request(15, 3, "add-billing-runtime", "main", BROKEN);
    gl.wait_for("the merge request's status", WAIT, |c| {
        finals(c, BROKEN) == 1
    })
    .await;
    notes_posted(&gl, 15, 3, 1).await;
    assert_eq!(shas_of_jobs(&db), [BROKEN]);
}

/// `--reconcile-interval 0` turns the catch-up off; a value between 0 and 1 second is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catch_up_can_be_turned_off_and_a_bad_interval_is_refused() {
    let gl = gitlab().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("q.db");
    let svc = Service::start_env(
        &gl.url,
        &db,
        &["--project", "15"],
        &[("NAUTES_LINT_RECONCILE_INTERVAL", "0")],
    )
    .await;
    svc.wait_log("catch-up off").await;
    drop(svc);

    let out = std::process::Command::new(BIN)
        .args([
            "serve",
            "--gitlab-url",
            &gl.url,
            "--reconcile-interval",
            "0.5",
        ])
        .arg("--database")
        .arg(&db)
        .env("NAUTES_LINT_WEBHOOK_SECRET", SECRET)
        .env("NAUTES_LINT_GITLAB_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--reconcile-interval"), "{err}");
    let out = std::process::Command::new(BIN)
        .args(["serve", "--gitlab-url", &gl.url, "--project", ""])
        .arg("--database")
        .arg(&db)
        .env("NAUTES_LINT_WEBHOOK_SECRET", SECRET)
        .env("NAUTES_LINT_GITLAB_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--project"), "{err}");
}

/// A delivery and the sweeps finding the same commit make one job. The job waits unrun
/// (`--workers 0`), so the commit still has no status when the delivery comes after the first
/// sweep and when the second sweep looks at it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivered_commit_still_waiting_in_the_queue_is_not_queued_twice() {
    let gl = gitlab().await;
    gl.open_merge_request(15, 3, "add-billing-runtime", "main", BROKEN);
    let svc = Service::start_temp(
        &gl.url,
        &[
            "--workers",
            "0",
            "--project",
            "15",
            "--reconcile-interval",
            "1",
        ],
    )
    .await;
    let db = svc.db();
    let first = wait_sweeps(&svc, 1).await;
    assert_eq!(first["queued"], 1, "{first}");
    let (code, body) = post_mr(&svc, "open", BROKEN, None).await;
    assert_eq!(
        (code, &body["status"]),
        (200, &"duplicate".into()),
        "{body}"
    );
    let second = wait_sweeps(&svc, 2).await;
    assert_eq!(
        (&second["heads"], &second["queued"]),
        (&1.into(), &0.into())
    );
    assert_eq!(shas_of_jobs(&db), [BROKEN]);
    assert!(gl.statuses(BROKEN).is_empty());
}

/// GitLab unavailable during the start-up sweep (503 on every try of a call) stops that sweep;
/// the next one comes after the backoff, not after the ten-minute interval, and queues the
/// missed commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_cut_short_by_gitlab_is_tried_again_soon() {
    let gl = gitlab().await;
    gl.set_branch(15, "main", CLEAN);
    // Every in-place try of the first project lookup.
    for _ in 0..4 {
        gl.fail_next("GET /api/v4/projects/15", 503, None);
    }
    let svc = Service::start_temp(&gl.url, &["--project", "15"]).await;
    svc.wait_log("catch-up sweep stopped").await;
    let sweep = wait_sweeps(&svc, 1).await;
    assert_eq!(sweep["queued"], 1, "{sweep}");
    gl.wait_for("the missed push's status", WAIT, |c| finals(c, CLEAN) == 1)
        .await;
    assert_eq!(gl.states(CLEAN), ["pending", "success"]);
}
