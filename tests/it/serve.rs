//! The webhook service end to end: the real binary (or, for one test, the library function) on
//! 127.0.0.1 with a real SQLite file, against a fake GitLab that serves archives of fixture trees
//! and records every call. Waits poll the fake's records with a deadline; nothing sleeps to
//! synchronise.

use crate::common::service::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_tree_gets_pending_then_failed_on_its_sha() {
    let gl = gitlab().await;
    let svc = Service::start_temp(&gl.url, &[]).await;
    let (code, body) = post(
        &svc,
        "Push Hook",
        push(BROKEN, BASE),
        Some(SECRET),
        &[
            ("X-Gitlab-Event-UUID", "ev-broken-1"),
            ("Idempotency-Key", "k-1"),
        ],
    )
    .await;
    assert_eq!(
        (code, body["status"].as_str()),
        (202, Some("accepted")),
        "{body}"
    );
    gl.wait_for("the final status", WAIT, |c| finals(c, BROKEN) == 1)
        .await;
    assert_eq!(gl.states(BROKEN), ["pending", "failed"]);
    for c in gl.statuses(BROKEN) {
        assert_eq!(c.path, format!("/api/v4/projects/15/statuses/{BROKEN}"));
        assert_eq!(c.body["name"], "nautes-lint");
        assert_eq!(c.body["ref"], "main");
        assert_eq!(c.event_uuid.as_deref(), Some("ev-broken-1"));
        assert_eq!(c.token.as_deref(), Some(TOKEN));
    }
    let last = &gl.statuses(BROKEN)[1];
    let desc = last.body["description"].as_str().unwrap();
    assert!(desc.starts_with("1 error, 0 warnings (1 new)"), "{desc}");
    assert!(desc.chars().count() <= 255);
    // The head and the push's `before` were both fetched, every call tagged with the event.
    let archives = archive_downloads(&gl);
    assert_eq!(archives, [format!("sha={BROKEN}"), format!("sha={BASE}")]);
    assert!(
        gl.calls()
            .iter()
            .all(|c| c.event_uuid.as_deref() == Some("ev-broken-1"))
    );
    wait_state(&svc.db(), 0, "done").await;
    assert_eq!(jobs(&svc.db()).len(), 1);
    svc.assert_no_secrets();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_whose_base_was_the_previous_head_downloads_one_archive() {
    let gl = gitlab().await;
    let svc = Service::start_temp(&gl.url, &[]).await;
    let (code, _) = post(&svc, "Push Hook", push(BROKEN, BASE), Some(SECRET), &[]).await;
    assert_eq!(code, 202);
    gl.wait_for("the first result", WAIT, |c| finals(c, BROKEN) == 1)
        .await;
    let (code, _) = post(&svc, "Push Hook", push(BROKEN2, BROKEN), Some(SECRET), &[]).await;
    assert_eq!(code, 202);
    gl.wait_for("the second result", WAIT, |c| finals(c, BROKEN2) == 1)
        .await;
    let archives = archive_downloads(&gl);
    // BROKEN, the first push's head, is the second push's base: read from memory.
    assert_eq!(
        archives,
        [
            format!("sha={BROKEN}"),
            format!("sha={BASE}"),
            format!("sha={BROKEN2}")
        ]
    );
    assert_eq!(gl.states(BROKEN2), ["pending", "failed"]);
    let metrics = svc.metrics().await;
    assert!(
        metrics.contains("nautes_lint_archives_total{source=\"hit\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("nautes_lint_archives_total{source=\"download\"} 3"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_tree_gets_success() {
    let gl = gitlab().await;
    let svc = Service::start_temp(&gl.url, &[]).await;
    let (code, _) = post(&svc, "Push Hook", push(CLEAN, ZERO), Some(SECRET), &[]).await;
    assert_eq!(code, 202);
    gl.wait_for("the final status", WAIT, |c| finals(c, CLEAN) == 1)
        .await;
    assert_eq!(gl.states(CLEAN), ["pending", "success"]);
    let desc = gl.statuses(CLEAN)[1].body["description"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(desc.starts_with("no findings in 32 files"), "{desc}");
    // A new branch (`before` all zeros) has no base to fetch.
    assert_eq!(archive_downloads(&gl).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_request_note_is_created_once_then_updated() {
    let gl = gitlab().await;
    let svc = Service::start_temp(&gl.url, &[]).await;
    let (code, _) = post_mr(&svc, "open", BROKEN, None).await;
    assert_eq!(code, 202);
    gl.wait_for("the first result", WAIT, |c| finals(c, BROKEN) == 1)
        .await;
    let notes = gl.notes(15, 3);
    assert_eq!(notes.len(), 1, "{notes:?}");
    let (note_id, first) = notes[0].clone();
    assert!(first.starts_with("<!-- nautes-lint -->"), "{first}");
    assert!(first.contains("dr-environment-not-found"), "{first}");
    assert!(first.contains("compared with `main`"), "{first}");
    assert!(first.contains("`runtimes/dr-dev.yaml:"), "{first}");

    // A title edit is an `update` without `oldrev`: no code changed, nothing to do.
    let (code, body) = post_mr(&svc, "update", BROKEN, None).await;
    assert_eq!((code, body["status"].as_str()), (200, Some("ignored")));

    // A new commit on the source branch: the same note is edited.
    let (code, _) = post_mr(&svc, "update", BROKEN2, Some(BROKEN)).await;
    assert_eq!(code, 202);
    gl.wait_for("the second result", WAIT, |c| finals(c, BROKEN2) == 1)
        .await;
    let notes = gl.notes(15, 3);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0].0, note_id);
    assert!(
        notes[0].1.contains("dr-project-not-found"),
        "{}",
        notes[0].1
    );
    let calls = gl.calls();
    let note_calls = |m: &str| {
        calls
            .iter()
            .filter(|c| c.method == m && c.path.contains("/merge_requests/3/notes"))
            .count()
    };
    assert_eq!(note_calls("POST"), 1);
    assert_eq!(note_calls("PUT"), 1);
    // The base of a merge request is its target branch.
    assert!(calls.iter().any(|c| c.query == "sha=main"));
    assert_eq!(gl.states(BROKEN2), ["pending", "failed"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_database_still_finds_the_note_among_many_pages_of_discussion() {
    let gl = gitlab().await;
    for i in 0..150 {
        gl.add_note(15, 3, &format!("review comment {i}"));
    }
    let dir = tempfile::tempdir().unwrap();
    {
        let svc = Service::start(&gl.url, &dir.path().join("first.db"), &[]).await;
        let (code, _) = post_mr(&svc, "open", BROKEN, None).await;
        assert_eq!(code, 202);
        gl.wait_for("the first result", WAIT, |c| finals(c, BROKEN) == 1)
            .await;
    }
    let notes = gl.notes(15, 3);
    assert_eq!(notes.len(), 151);
    let (ours, _) = notes[150].clone();

    // A new database knows no note id: the marker is found on the second page and edited.
    let svc = Service::start(&gl.url, &dir.path().join("second.db"), &[]).await;
    let (code, _) = post_mr(&svc, "update", BROKEN2, Some(BROKEN)).await;
    assert_eq!(code, 202);
    gl.wait_for("the second result", WAIT, |c| finals(c, BROKEN2) == 1)
        .await;
    let notes = gl.notes(15, 3);
    assert_eq!(notes.len(), 151, "no second summary note");
    assert_eq!(notes[150].0, ours);
    assert!(
        notes[150].1.contains("dr-project-not-found"),
        "{}",
        notes[150].1
    );
    let pages: Vec<String> = gl
        .calls()
        .into_iter()
        .filter(|c| c.method == "GET" && c.path.ends_with("/merge_requests/3/notes"))
        .map(|c| query_value(&c.query, "page"))
        .collect();
    assert_eq!(pages, ["1", "2", "1", "2"], "each run read both pages");
}

fn query_value(query: &str, name: &str) -> String {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
        .unwrap_or_default()
        .to_owned()
}

/// Reads a YAML file of the repository as JSON.
fn repo_yaml(rel: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).unwrap();
    let parsed = nautes_lint::yaml::parse(&text);
    assert!(parsed.issues.is_empty(), "{rel}: {:?}", parsed.issues);
    parsed.documents[0].root.to_json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kubernetes_deployment_runs_the_service_it_describes() {
    // No cluster here: the container's command, environment and mounts are replayed on this
    // machine, so a misspelt variable, a wrong probe path or port, or a secret file the service
    // does not read fails this test instead of a rollout.
    let gl = gitlab().await;
    let deployment = repo_yaml("deploy/kubernetes/base/deployment.yaml");
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let containerfile =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/Containerfile"))
            .unwrap();
    let uid = pod["securityContext"]["runAsUser"].as_i64().unwrap();
    assert!(containerfile.contains(&format!("USER {uid}:{uid}")));
    assert!(containerfile.contains(r#"ENTRYPOINT ["/usr/local/bin/nautes-lint", "serve"]"#));

    // Each mount becomes a folder of the test: the queue volume, the Secret, the clusters.
    let tmp = tempfile::tempdir().unwrap();
    let mut mounts: Vec<(String, PathBuf)> = Vec::new();
    for m in container["volumeMounts"].as_array().unwrap() {
        let (name, at) = (
            m["name"].as_str().unwrap(),
            m["mountPath"].as_str().unwrap(),
        );
        let local = match name {
            "clusters" => fixture("valid/clusters"),
            _ => tmp.path().join(name),
        };
        std::fs::create_dir_all(&local).unwrap();
        mounts.push((at.to_owned(), local));
    }
    let secret = &mounts.iter().find(|m| m.0.ends_with("/secret")).unwrap().1;
    std::fs::write(secret.join("gitlab-token"), format!("{TOKEN}\n")).unwrap();
    std::fs::write(secret.join("webhook-secret"), format!("{SECRET}\n")).unwrap();
    let local = |value: &str| {
        mounts
            .iter()
            .find_map(|(at, dir)| {
                let rest = value.strip_prefix(at.as_str())?;
                Some(format!("{}{rest}", dir.display()))
            })
            .unwrap_or_else(|| value.to_owned())
    };

    let mut cmd = Command::new(BIN);
    cmd.arg("serve");
    for a in container["args"].as_array().unwrap() {
        cmd.arg(local(a.as_str().unwrap()));
    }
    for var in [
        "NAUTES_LINT_WEBHOOK_SECRET",
        "NAUTES_LINT_GITLAB_TOKEN",
        "NAUTES_LINT_WEBHOOK_SIGNING_TOKEN",
    ] {
        cmd.env_remove(var);
    }
    let port = container["ports"][0]["containerPort"].as_i64().unwrap();
    for e in container["env"].as_array().unwrap() {
        let (name, value) = (e["name"].as_str().unwrap(), e["value"].as_str().unwrap());
        let value = match name {
            "NAUTES_LINT_LISTEN" => {
                assert!(
                    value.ends_with(&format!(":{port}")),
                    "{value} vs port {port}"
                );
                "127.0.0.1:0".to_owned()
            }
            "NAUTES_LINT_GITLAB_URL" => gl.url.clone(),
            _ => local(value),
        };
        cmd.env(name, value);
    }
    cmd.env("NAUTES_LINT_LOG", "info");
    let svc = Service::spawn(cmd).await;

    // The probes and the scrape annotation name paths the service answers.
    let annotations = &deployment["spec"]["template"]["metadata"]["annotations"];
    let mut paths = vec![
        annotations["prometheus.io/path"]
            .as_str()
            .unwrap()
            .to_owned(),
    ];
    assert_eq!(annotations["prometheus.io/port"], port.to_string());
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        let get = &container[probe]["httpGet"];
        assert_eq!(get["port"], container["ports"][0]["name"], "{probe}");
        paths.push(get["path"].as_str().unwrap().to_owned());
    }
    for path in paths {
        let resp = reqwest::get(svc.url(&path)).await.unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{path}");
    }

    // It does its work with those settings: the secrets from the files, the queue on the
    // volume, the cluster rules from the mounted inventory.
    let (code, _) = post(&svc, "Push Hook", push(CLEAN, BASE), Some(SECRET), &[]).await;
    assert_eq!(code, 202);
    gl.wait_for("the status", WAIT, |c| finals(c, CLEAN) == 1)
        .await;
    assert_eq!(gl.states(CLEAN), ["pending", "success"]);
    let database = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "NAUTES_LINT_DATABASE")
        .map(|e| local(e["value"].as_str().unwrap()))
        .unwrap();
    assert_eq!(jobs(Path::new(&database)).len(), 1);
    svc.assert_no_secrets();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_or_missing_token_gets_401_and_no_job() {
    let gl = gitlab().await;
    let svc = Service::start_temp(&gl.url, &[]).await;
    let db = svc.db();
    let (code, body) = post(&svc, "Push Hook", push(BROKEN, BASE), Some("wrong"), &[]).await;
    assert_eq!(code, 401, "{body}");
    let (code, _) = post(&svc, "Push Hook", push(BROKEN, BASE), None, &[]).await;
    assert_eq!(code, 401);
    let prefix = &SECRET[..SECRET.len() - 1];
    let (code, _) = post(&svc, "Push Hook", push(BROKEN, BASE), Some(prefix), &[]).await;
    assert_eq!(code, 401);
    assert!(jobs(&db).is_empty());
    let metrics = svc.metrics().await;
    assert!(
        metrics
            .contains("nautes_lint_webhook_events_total{kind=\"push\",outcome=\"unauthorized\"} 3"),
        "{metrics}"
    );
    assert!(gl.calls().is_empty());
    svc.assert_no_secrets();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_get_400_with_a_reason() {
    let gl = gitlab().await;
    let svc = Service::start_temp(&gl.url, &[]).await;
    let db = svc.db();
    let (code, body) = post(&svc, "Push Hook", "{\"object_kind\": ", Some(SECRET), &[]).await;
    assert_eq!(code, 400);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("malformed body"),
        "{body}"
    );
    let (code, body) = post(
        &svc,
        "Push Hook",
        r#"{"object_kind":"push"}"#,
        Some(SECRET),
        &[],
    )
    .await;
    assert_eq!(code, 400);
    assert!(
        body["error"].as_str().unwrap().contains("missing field"),
        "{body}"
    );
    let (code, _) = post(&svc, "Push Hook", vec![0xff, 0xfe, 0x00], Some(SECRET), &[]).await;
    assert_eq!(code, 400);
    let mut not_sha = payload("push.json");
    not_sha["after"] = "not-a-sha".into();
    not_sha["checkout_sha"] = "not-a-sha".into();
    let (code, _) = post(&svc, "Push Hook", not_sha.to_string(), Some(SECRET), &[]).await;
    assert_eq!(code, 400);
    assert!(jobs(&db).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_body_gets_413() {
    let gl = gitlab().await;
    let svc = Service::start_temp(&gl.url, &["--max-body-bytes", "4096"]).await;
    let db = svc.db();
    let mut big = payload("push.json");
    big["padding"] = "x".repeat(8192).into();
    let (code, _) = post(&svc, "Push Hook", big.to_string(), Some(SECRET), &[]).await;
    assert_eq!(code, 413);
    // Just under the limit still passes.
    let (code, _) = post(&svc, "Push Hook", push(CLEAN, ZERO), Some(SECRET), &[]).await;
    assert_eq!(code, 202);
    assert_eq!(jobs(&db).len(), 1);
    let metrics = svc.metrics().await;
    assert!(
        metrics.contains("kind=\"push\",outcome=\"too_large\"} 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_events_are_ignored_with_200() {
    let gl = gitlab().await;
    let svc = Service::start_temp(&gl.url, &[]).await;
    let db = svc.db();
    let cases = [
        (
            "Tag Push Hook",
            payload("tag_push.json").to_string(),
            "tag push",
        ),
        ("Note Hook", payload("note.json").to_string(), "comment"),
        (
            "Merge Request Hook",
            merge_request("close", BROKEN, None),
            "merge request action changes no code",
        ),
        (
            "Merge Request Hook",
            merge_request("approved", BROKEN, None),
            "merge request action changes no code",
        ),
        ("Push Hook", push(ZERO, BROKEN), "branch deleted"),
        ("Pipeline Hook", "{}".to_owned(), "event not handled"),
    ];
    for (event, body, reason) in cases {
        let (code, answer) = post(&svc, event, body, Some(SECRET), &[]).await;
        assert_eq!(code, 200, "{event}: {answer}");
        assert_eq!(answer["status"], "ignored");
        assert_eq!(answer["reason"], reason);
    }
    assert!(jobs(&db).is_empty());
    assert!(gl.calls().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_deliveries_are_processed_once() {
    let gl = gitlab().await;
    let svc = Service::start_temp(&gl.url, &[]).await;
    let db = svc.db();
    let body = push(CLEAN, BASE);
    let (a, first) = post(
        &svc,
        "Push Hook",
        body.clone(),
        Some(SECRET),
        &[("Idempotency-Key", "d-1")],
    )
    .await;
    // GitLab re-sends with the same Idempotency-Key.
    let (b, second) = post(
        &svc,
        "Push Hook",
        body.clone(),
        Some(SECRET),
        &[("Idempotency-Key", "d-1")],
    )
    .await;
    // A second hook (another key) for the same project and sha.
    let (c, third) = post(
        &svc,
        "Push Hook",
        body,
        Some(SECRET),
        &[("Idempotency-Key", "d-2")],
    )
    .await;
    assert_eq!((a, b, c), (202, 200, 200));
    assert_eq!(second["status"], "duplicate");
    assert_eq!(second["job"], first["job"]);
    assert_eq!(third["job"], first["job"]);
    gl.wait_for("the final status", WAIT, |c| finals(c, CLEAN) == 1)
        .await;
    wait_state(&db, 0, "done").await;
    assert_eq!(jobs(&db).len(), 1);
    assert_eq!(gl.states(CLEAN), ["pending", "success"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitlab_503_twice_then_200_still_gets_the_status() {
    let gl = gitlab().await;
    let svc = Service::start_temp(&gl.url, &[]).await;
    gl.fail_next("POST /api/v4/projects/15/statuses", 503, None);
    gl.fail_next("POST /api/v4/projects/15/statuses", 503, None);
    gl.fail_next(
        "GET /api/v4/projects/15/repository/archive.tar.gz",
        429,
        Some(1),
    );
    let (code, _) = post(&svc, "Push Hook", push(CLEAN, ZERO), Some(SECRET), &[]).await;
    assert_eq!(code, 202);
    gl.wait_for("the final status", WAIT, |c| finals(c, CLEAN) == 1)
        .await;
    assert_eq!(gl.states(CLEAN), ["pending", "success"]);
    let calls = gl.calls();
    let answered = |n: u16| calls.iter().filter(|c| c.answered == n).count();
    assert_eq!(answered(503), 2);
    assert_eq!(answered(429), 1);
    // The 429 (Retry-After: 1) was retried in place, not turned into a failure.
    assert_eq!(archive_downloads(&gl).len(), 2);
    let metrics = svc.metrics().await;
    assert!(
        metrics.contains(
            "nautes_lint_gitlab_api_errors_total{endpoint=\"statuses\",class=\"5xx_or_network\"} 2"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("endpoint=\"archive\",class=\"429\"} 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitlab_4xx_fails_the_job_with_a_reason() {
    let gl = gitlab().await;
    let svc = Service::start_temp(&gl.url, &[]).await;
    let db = svc.db();
    let unknown = "dddd111122223333444455556666777788889999";
    let (code, _) = post(&svc, "Push Hook", push(unknown, ZERO), Some(SECRET), &[]).await;
    assert_eq!(code, 202);
    gl.wait_for("the failed status", WAIT, |c| finals(c, unknown) == 1)
        .await;
    assert_eq!(gl.states(unknown), ["pending", "failed"]);
    let desc = gl.statuses(unknown)[1].body["description"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        desc.contains("could not check") && desc.contains("404"),
        "{desc}"
    );
    // The failure is recorded and logged, and the archive was asked for once: no retry on 404.
    wait_state(&db, 0, "failed").await;
    assert!(jobs(&db)[0].3.as_deref().unwrap().contains("404"));
    svc.wait_log("job failed; giving up").await;
    assert_eq!(archive_downloads(&gl).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_after_202_then_restart_still_posts_the_status() {
    let gl = gitlab().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("q.db");
    // Archives wait: whatever the worker had done when the kill comes, nothing was finished.
    gl.hold_archives(true);
    // A short lease: a job the killed process had taken is taken again within a second.
    let lease = ["--job-lease", "1"];
    let mut svc = Service::start(&gl.url, &db, &lease).await;
    let (code, _) = post(&svc, "Push Hook", push(BROKEN, BASE), Some(SECRET), &[]).await;
    assert_eq!(code, 202);
    svc.kill();
    assert_eq!(finals(&gl.calls(), BROKEN), 0);
    let j = jobs(&db);
    assert_eq!(j.len(), 1, "the 202 means the job is on disk");
    assert!(j[0].1 == "queued" || j[0].1 == "running", "{j:?}");

    gl.hold_archives(false);
    let svc = Service::start(&gl.url, &db, &lease).await;
    gl.wait_for("the final status after restart", WAIT, |c| {
        finals(c, BROKEN) == 1
    })
    .await;
    assert_eq!(gl.states(BROKEN).last().map(String::as_str), Some("failed"));
    wait_state(&db, 0, "done").await;
    svc.assert_no_secrets();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_job_is_recovered_at_restart() {
    let gl = gitlab().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("q.db");
    let lease = ["--job-lease", "1"];
    let mut svc = job_in_flight(&gl, &db, &lease).await;
    svc.kill();
    assert_eq!(jobs(&db)[0].1, "running");

    gl.hold_archives(false);
    let svc = Service::start(&gl.url, &db, &lease).await;
    gl.wait_for("the final status after restart", WAIT, |c| {
        finals(c, BROKEN) == 1
    })
    .await;
    // At start if the lease had already run out, else when it does.
    assert!(
        svc.logs().contains("interrupted by a crash or a kill"),
        "{}",
        svc.logs()
    );
    // pending twice (once per run), one result.
    assert_eq!(gl.states(BROKEN), ["pending", "pending", "failed"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_job_lets_it_finish() {
    let gl = gitlab().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("q.db");
    let mut svc = job_in_flight(&gl, &db, &["--shutdown-grace", "30"]).await;
    svc.sigterm();
    svc.wait_log("shutting down").await;
    // The job is in flight (its archive download is held); let it go on.
    gl.hold_archives(false);
    let status = svc.wait_exit(WAIT).await;
    assert!(status.success(), "{status}\n{}", svc.logs());
    assert_eq!(gl.states(BROKEN), ["pending", "failed"]);
    assert_eq!(jobs(&db)[0].1, "done");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_past_the_grace_period_requeues_the_job() {
    let gl = gitlab().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("q.db");
    let mut svc = job_in_flight(&gl, &db, &["--shutdown-grace", "0.2"]).await;
    svc.sigterm();
    let status = svc.wait_exit(WAIT).await;
    assert!(status.success(), "{status}\n{}", svc.logs());
    assert!(
        svc.logs().contains("job put back in the queue"),
        "{}",
        svc.logs()
    );
    assert_eq!(jobs(&db)[0].1, "queued");
    assert_eq!(finals(&gl.calls(), BROKEN), 0);

    gl.hold_archives(false);
    let _svc = Service::start(&gl.url, &db, &[]).await;
    gl.wait_for("the final status after restart", WAIT, |c| {
        finals(c, BROKEN) == 1
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn newer_push_supersedes_a_queued_older_one() {
    let gl = gitlab().await;
    // One worker, held on its first job's archive: the next two pushes to the branch wait.
    gl.hold_archives(true);
    let svc = Service::start_temp(&gl.url, &["--workers", "1"]).await;
    let db = svc.db();
    let accepted = |after, before| {
        let svc = &svc;
        async move { post(svc, "Push Hook", push(after, before), Some(SECRET), &[]).await }
    };
    assert_eq!(accepted(BROKEN, BASE).await.0, 202);
    gl.wait_for("the first job in flight", WAIT, |_| {
        gl.states(BROKEN) == ["pending"]
    })
    .await;
    assert_eq!(accepted(BROKEN2, BROKEN).await.0, 202);
    assert_eq!(accepted(CLEAN, BROKEN2).await.0, 202);
    gl.hold_archives(false);
    gl.wait_for("the newest push's result", WAIT, |c| finals(c, CLEAN) == 1)
        .await;
    wait_state(&db, 2, "done").await;

    // The replaced push is never checked; its commit says so and names the newer one.
    assert_eq!(gl.states(BROKEN), ["pending", "failed"]);
    assert_eq!(gl.states(BROKEN2), ["canceled"]);
    let said = &gl.statuses(BROKEN2)[0].body;
    assert!(
        said["description"].as_str().unwrap().contains(&CLEAN[..8]),
        "{said}"
    );
    assert_eq!(gl.states(CLEAN), ["pending", "success"]);
    let archives = gl
        .calls()
        .iter()
        .filter(|c| c.query == format!("sha={BROKEN2}"))
        .count();
    assert_eq!(archives, 1, "fetched once, as the newest push's base only");
    let j = jobs(&db);
    assert_eq!(
        j.iter()
            .map(|r| (r.2.as_str(), r.1.as_str()))
            .collect::<Vec<_>>(),
        [(BROKEN, "done"), (BROKEN2, "superseded"), (CLEAN, "done")]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_deliveries_are_checked_when_a_signing_token_is_set() {
    use base64::Engine as _;
    use hmac::Mac as _;
    let gl = gitlab().await;
    let key = b"0123456789abcdef0123456789abcdef";
    let b64 = base64::engine::general_purpose::STANDARD;
    let token = format!("whsec_{}", b64.encode(key));
    let svc = Service::start_temp_env(
        &gl.url,
        &["--workers", "0"],
        &[("NAUTES_LINT_WEBHOOK_SIGNING_TOKEN", &token)],
    )
    .await;
    let db = svc.db();
    let body = push(CLEAN, ZERO);
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(format!("msg-1.{ts}.{body}").as_bytes());
    let sig = format!("v1,{}", b64.encode(mac.finalize().into_bytes()));
    let signed = [
        ("webhook-id", "msg-1"),
        ("webhook-timestamp", ts.as_str()),
        ("webhook-signature", sig.as_str()),
    ];
    // Right token, no signature: refused.
    assert_eq!(
        post(&svc, "Push Hook", body.clone(), Some(SECRET), &[])
            .await
            .0,
        401
    );
    // Signature of another body: refused.
    let tampered = body.replace("main", "mainx");
    assert_eq!(
        post(&svc, "Push Hook", tampered, Some(SECRET), &signed)
            .await
            .0,
        401
    );
    // Signed but a wrong token: refused.
    assert_eq!(
        post(&svc, "Push Hook", body.clone(), Some("x"), &signed)
            .await
            .0,
        401
    );
    assert!(jobs(&db).is_empty());
    assert_eq!(
        post(&svc, "Push Hook", body, Some(SECRET), &signed).await.0,
        202
    );
    assert_eq!(jobs(&db).len(), 1);
    assert!(!svc.logs().contains(&token), "the signing token was logged");
}

#[test]
fn refuses_to_start_without_secrets() {
    let out = Command::new(BIN)
        .args([
            "serve",
            "--gitlab-url",
            "http://127.0.0.1:9",
            "--listen",
            "127.0.0.1:0",
        ])
        .env_remove("NAUTES_LINT_WEBHOOK_SECRET")
        .env_remove("NAUTES_LINT_WEBHOOK_SECRET_FILE")
        .env_remove("NAUTES_LINT_GITLAB_TOKEN")
        .env_remove("NAUTES_LINT_GITLAB_TOKEN_FILE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("NAUTES_LINT_WEBHOOK_SECRET"), "{err}");

    let out = Command::new(BIN)
        .args([
            "serve",
            "--gitlab-url",
            "http://127.0.0.1:9",
            "--listen",
            "127.0.0.1:0",
        ])
        .env("NAUTES_LINT_WEBHOOK_SECRET", "s")
        .env_remove("NAUTES_LINT_GITLAB_TOKEN")
        .env_remove("NAUTES_LINT_GITLAB_TOKEN_FILE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("NAUTES_LINT_GITLAB_TOKEN"), "{err}");
}

/// The library entry point, in-process: health, readiness, metrics, and a clean stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_health_readiness_and_metrics() {
    use nautes_lint::server::config::*;
    let gl = gitlab().await;
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = ServeConfig {
        listen: addr,
        gitlab_url: gl.url.clone(),
        gitlab_token: Secret::new(TOKEN),
        webhook_secret: Secret::new(SECRET),
        signing_token: None,
        database: nautes_lint::server::queue::Database::Sqlite(dir.path().join("sub/q.db")),
        synchronous: nautes_lint::server::queue::Synchronous::Full,
        clusters: Some(fixture("valid/clusters")),
        workers: 1,
        max_body_bytes: 1 << 20,
        limits: ArchiveLimits::default(),
        retry: RetryPolicy::default(),
        shutdown_grace: Duration::from_secs(5),
        request_timeout: Duration::from_secs(10),
        job_lease: JOB_LEASE,
        header_timeout: Duration::from_secs(10),
        max_connections: 64,
        yaml: YamlLimits::default(),
        threads: ThreadSettings::default(),
        catch_up: CatchUp::default(),
        tenant: Default::default(),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(nautes_lint::server::run_on(listener, config, async {
        let _ = stopped.await;
    }));
    let base = format!("http://{addr}");
    let get = |p: &str| {
        let url = format!("{base}{p}");
        async move {
            let r = reqwest::get(url).await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    assert_eq!(get("/healthz").await.0, 200);
    assert_eq!(get("/readyz").await, (200, "ready\n".to_owned()));
    let resp = reqwest::Client::new()
        .post(format!("{base}/webhook/gitlab"))
        .header("X-Gitlab-Event", "Push Hook")
        .header("X-Gitlab-Token", SECRET)
        .body(push(CLEAN, ZERO))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 202);
    assert!(resp.headers().contains_key("x-request-id"));
    gl.wait_for("the final status", WAIT, |c| finals(c, CLEAN) == 1)
        .await;
    // With the cluster inventory the demo tree is still clean.
    assert_eq!(gl.states(CLEAN), ["pending", "success"]);
    let deadline = Instant::now() + WAIT;
    loop {
        let (_, m) = get("/metrics").await;
        if m.contains("nautes_lint_jobs_total{outcome=\"success\"} 1") {
            for name in [
                "nautes_lint_webhook_events_total{kind=\"push\",outcome=\"accepted\"} 1",
                "nautes_lint_queue_depth{state=\"queued\"} 0",
                "nautes_lint_job_duration_seconds_count 1",
                "# TYPE nautes_lint_gitlab_api_errors_total counter",
            ] {
                assert!(m.contains(name), "{name} missing in\n{m}");
            }
            break;
        }
        assert!(Instant::now() < deadline, "{m}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
