//! Several `serve` replicas on one PostgreSQL queue, through the real binary: a replica killed
//! while it holds jobs, replicas that start together on an empty database, a database that goes
//! away. PostgreSQL only (`NAUTES_LINT_TEST_POSTGRES`, see scripts/pg-test.sh).

use crate::common::fake_gitlab::{FakeGitLab, tar_gz_of_dir};
use crate::common::service::*;

/// A short lease, so the surviving replica takes over the killed one's jobs within a second.
const ARGS: [&str; 4] = ["--job-lease", "1", "--workers", "2"];

/// A push of `project` to `main`, at `sha`.
fn push_of(project: i64, sha: &str) -> String {
    let mut v = payload("push.json");
    v["project_id"] = project.into();
    v["project"]["id"] = project.into();
    v["after"] = sha.into();
    v["checkout_sha"] = sha.into();
    v["before"] = ZERO.into();
    v.to_string()
}

/// Final statuses (success or failed) of every sha the fake GitLab saw.
fn all_finals(gl: &FakeGitLab, shas: &[String]) -> Vec<usize> {
    let calls = gl.calls();
    shas.iter().map(|s| finals(&calls, s)).collect()
}

/// Two replicas share the queue; the test's client sends deliveries to both. One is killed
/// (SIGKILL) while its workers hold jobs whose archive downloads the fake GitLab holds. Every
/// accepted event still gets exactly one final status: the survivor takes the dead replica's
/// jobs when their leases run out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_replicas_jobs_are_finished_by_the_other_once() {
    let Some(db) = Db::postgres().await else {
        return;
    };
    let gl = gitlab().await;
    gl.set_fallback_archive(tar_gz_of_dir(&fixture("valid/demo"), "p-d"));
    gl.hold_archives(true);
    let mut doomed = Service::start(&gl.url, &db, &ARGS).await;
    let survivor = Service::start(&gl.url, &db, &ARGS).await;
    let shas: Vec<String> = (0..8)
        .map(|i| format!("{:x}", 0xa0 + i).repeat(20))
        .collect();
    for (i, sha) in shas.iter().enumerate() {
        let to = if i % 2 == 0 { &doomed } else { &survivor };
        let (code, body) = post(
            to,
            "Push Hook",
            push_of(100 + i as i64, sha),
            Some(SECRET),
            &[],
        )
        .await;
        assert_eq!(code, 202, "{body}");
    }
    // Four workers, each holding a job: the doomed replica holds two.
    gl.wait_for("every worker holding a job", WAIT, |c| {
        c.iter().filter(|c| c.body["state"] == "pending").count() == 4
    })
    .await;
    let held = db
        .pg_client()
        .await
        .query_one(
            "SELECT COUNT(DISTINCT lease_owner) FROM jobs WHERE state='running'",
            &[],
        )
        .await
        .unwrap()
        .get::<_, i64>(0);
    assert_eq!(held, 2, "both replicas hold jobs");
    doomed.kill();
    gl.hold_archives(false);
    gl.wait_for("a final status for every event", WAIT, |_| {
        all_finals(&gl, &shas).iter().all(|n| *n >= 1)
    })
    .await;
    // A job's row says done only after its status is posted: once all are done, nothing is
    // left to post a second one.
    for i in 0..shas.len() {
        db.wait_state(i, "done").await;
    }
    assert_eq!(all_finals(&gl, &shas), vec![1; shas.len()]);
    let jobs = db.jobs().await;
    assert_eq!(jobs.len(), shas.len(), "{jobs:?}");
    survivor
        .wait_log("the previous run of this job stopped without a result")
        .await;
}

/// Replicas that start together on an empty database both migrate it (one waits for the
/// other) and both serve.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_starting_at_once_on_an_empty_database_both_come_up() {
    let Some(db) = Db::postgres().await else {
        return;
    };
    let gl = gitlab().await;
    let (a, b) = tokio::join!(
        Service::start(&gl.url, &db, &["--workers", "0"]),
        Service::start(&gl.url, &db, &["--workers", "0"]),
    );
    for (svc, sha) in [(&a, CLEAN), (&b, BROKEN)] {
        let ready = reqwest::get(svc.url("/readyz")).await.unwrap();
        assert_eq!(ready.status(), 200);
        let (code, _) = post(svc, "Push Hook", push(sha, BASE), Some(SECRET), &[]).await;
        assert_eq!(code, 202);
    }
    let stored: Vec<String> = db.jobs().await.into_iter().map(|j| j.2).collect();
    assert_eq!(stored, [CLEAN, BROKEN]);
    let versions = db
        .pg_client()
        .await
        .query_one("SELECT COUNT(*) FROM schema_version", &[])
        .await
        .unwrap()
        .get::<_, i64>(0);
    assert_eq!(versions, 1);
}

/// `/readyz` answers 503 once the database is gone, and the delivery it cannot store gets a
/// 503 (GitLab may send it again), never a 202.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_when_the_database_is_unreachable() {
    let Some(db) = Db::postgres().await else {
        return;
    };
    let gl = gitlab().await;
    let svc = Service::start(&gl.url, &db, &["--workers", "0"]).await;
    let ready = reqwest::get(svc.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    let Db::Postgres(url) = &db else {
        unreachable!()
    };
    let name = url.rsplit('/').next().unwrap().to_owned();
    let admin = std::env::var("NAUTES_LINT_TEST_POSTGRES").unwrap();
    let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .await
        .unwrap();
    let ready = reqwest::get(svc.url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), 503);
    let (code, body) = post(&svc, "Push Hook", push(CLEAN, BASE), Some(SECRET), &[]).await;
    assert_eq!(code, 503, "{body}");
}
