//! The service's queue and GitLab client under failure: restarts mid-job, two processes on one
//! database, notes that are not ours, odd delivery keys, new branches, stalled downloads. The
//! real binary on 127.0.0.1, the fake GitLab; waits poll with a deadline. Each test runs on both
//! backends: a real SQLite file, and a fresh database of the test PostgreSQL.

use crate::common::fake_gitlab::{FakeGitLab, HUMAN_USER, TOKEN_USER, tar_gz_of_dir};
use crate::common::service::*;
use crate::on_both;
use std::path::Path;

/// A short lease, so a restarted service takes over a killed one's job within a second.
const LEASE: [&str; 2] = ["--job-lease", "1"];

fn statuses_with(gl: &FakeGitLab, sha: &str, state: &str) -> usize {
    gl.states(sha).iter().filter(|s| *s == state).count()
}

on_both! {
/// Kills the service while its job's archive download is held, `kills` times in a row; each
/// restart takes the job again (a crash that repeats, as an archive that kills the process).
async fn a_job_that_keeps_killing_the_service_ends_failed_after_max_attempts(db: Db) {
    let gl = gitlab().await;
    let args = ["--max-attempts", "2", LEASE[0], LEASE[1]];
    let mut svc = job_in_flight(&gl, &db, &args).await;
    svc.kill();
    let mut svc = Service::start(&gl.url, &db, &args).await;
    gl.wait_for("the second run", WAIT, |_| {
        statuses_with(&gl, BROKEN, "pending") == 2
    })
    .await;
    svc.kill();
    // The third start must not run it again (the download is still held: it would hang).
    let svc = Service::start(&gl.url, &db, &args).await;
    gl.wait_for("the given-up status", WAIT, |c| finals(c, BROKEN) == 1)
        .await;
    assert_eq!(gl.states(BROKEN), ["pending", "pending", "failed"]);
    let desc = gl.statuses(BROKEN)[2].body["description"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        desc.contains("stopped after 2 attempts; the service restarted while checking this commit"),
        "{desc}"
    );
    db.wait_state(0, "failed").await;
    assert!(
        db.jobs().await[0]
            .3
            .as_deref()
            .unwrap()
            .contains("stopped after 2 attempts")
    );
    svc.wait_log("job failed; giving up").await;
    gl.hold_archives(false);
}
}

on_both! {
/// A second process started on the database of a live one (a rolling update, a copy-pasted
/// Deployment) must not take the job the first one is running.
async fn a_second_process_on_the_same_database_leaves_a_running_job_alone(db: Db) {
    let gl = gitlab().await;
    gl.hold_archive_of(BROKEN);
    let first = Service::start(&gl.url, &db, &[]).await;
    let (code, _) = post(&first, "Push Hook", push(BROKEN, BASE), Some(SECRET), &[]).await;
    assert_eq!(code, 202);
    gl.wait_for("the job in flight", WAIT, |_| {
        gl.states(BROKEN) == ["pending"]
    })
    .await;
    let second = Service::start(&gl.url, &db, &[]).await;
    // The second process works: another branch's push goes through it.
    let mut other = payload("push.json");
    other["ref"] = "refs/heads/other".into();
    other["after"] = CLEAN.into();
    other["checkout_sha"] = CLEAN.into();
    other["before"] = ZERO.into();
    let (code, _) = post(&second, "Push Hook", other.to_string(), Some(SECRET), &[]).await;
    assert_eq!(code, 202);
    gl.wait_for("the other push's status", WAIT, |c| finals(c, CLEAN) == 1)
        .await;
    assert_eq!(gl.states(BROKEN), ["pending"], "the job ran twice");

    gl.hold_archives(false);
    gl.wait_for("the first process's result", WAIT, |c| {
        finals(c, BROKEN) == 1
    })
    .await;
    db.wait_state(0, "done").await;
    assert_eq!(gl.states(BROKEN), ["pending", "failed"]);
    let downloads = archive_downloads(&gl);
    assert_eq!(
        downloads
            .iter()
            .filter(|q| **q == format!("sha={BROKEN}"))
            .count(),
        1,
        "{downloads:?}"
    );
    drop((first, second));
}
}

on_both! {
/// A reviewer quoting the service's note copies its hidden marker. That note is not ours: the
/// service posts its own instead of editing theirs (GitLab would answer 403).
async fn a_users_note_with_the_marker_is_not_taken_for_ours(db: Db) {
    let gl = gitlab().await;
    gl.add_note(
        15,
        3,
        "> <!-- nautes-lint -->\n> ### nautes-lint: 1 error\n\nwhy?",
    );
    let svc = Service::start(&gl.url, &db, &[]).await;
    let (code, _) = post_mr(&svc, "open", BROKEN, None).await;
    assert_eq!(code, 202);
    gl.wait_for("the result", WAIT, |c| finals(c, BROKEN) == 1)
        .await;
    assert_eq!(gl.states(BROKEN), ["pending", "failed"]);
    let desc = gl.statuses(BROKEN)[1].body["description"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(desc.starts_with("1 error"), "{desc}");
    let notes = gl.notes(15, 3);
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(notes[0].1.ends_with("why?"), "the user's note was edited");
    assert!(notes[1].1.contains("dr-environment-not-found"));
    // Who the token is was asked once.
    let users = gl
        .calls()
        .iter()
        .filter(|c| c.path == "/api/v4/user")
        .count();
    assert_eq!(users, 1);
    let _ = (HUMAN_USER, TOKEN_USER);
}
}

on_both! {
/// Two jobs of one merge request reach its note at the same time (two workers here; two
/// replicas alike): the second waits for the first's note lock and edits the note the first
/// created, instead of creating a second one.
async fn two_jobs_of_one_merge_request_write_one_note(db: Db) {
    let gl = gitlab().await;
    gl.hold_note_listings();
    let svc = Service::start(&gl.url, &db, &["--workers", "2"]).await;
    let (code, _) = post_mr(&svc, "open", BROKEN, None).await;
    assert_eq!(code, 202);
    gl.wait_for("the first job at its note", WAIT, |_| gl.note_listings_held() == 1)
        .await;
    let (code, _) = post_mr(&svc, "update", BROKEN2, Some(BROKEN)).await;
    assert_eq!(code, 202);
    let second_at_note = || {
        svc.logs().contains("another job is writing this merge request's note")
            || gl.note_listings_held() >= 2
    };
    let deadline = std::time::Instant::now() + WAIT;
    while !second_at_note() {
        assert!(std::time::Instant::now() < deadline, "{}", svc.logs());
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    gl.release_note_listings();
    gl.wait_for("both results", WAIT, |c| {
        finals(c, BROKEN) == 1 && finals(c, BROKEN2) == 1
    })
    .await;
    db.wait_state(1, "done").await;
    let notes = gl.notes(15, 3);
    assert_eq!(notes.len(), 1, "{notes:?}");
}
}

on_both! {
/// The note id the database knows can stop being editable (the token was replaced by another
/// user's): a 403 on the edit means a new note, not a failed job.
async fn a_403_on_editing_the_known_note_posts_a_new_one(db: Db) {
    let gl = gitlab().await;
    {
        let svc = Service::start(&gl.url, &db, &[]).await;
        let (code, _) = post_mr(&svc, "open", BROKEN, None).await;
        assert_eq!(code, 202);
        gl.wait_for("the first result", WAIT, |c| finals(c, BROKEN) == 1)
            .await;
    }
    gl.set_token_user(TOKEN_USER + 1);
    let svc = Service::start(&gl.url, &db, &[]).await;
    let (code, _) = post_mr(&svc, "update", BROKEN2, Some(BROKEN)).await;
    assert_eq!(code, 202);
    gl.wait_for("the second result", WAIT, |c| finals(c, BROKEN2) == 1)
        .await;
    assert_eq!(gl.states(BROKEN2), ["pending", "failed"]);
    let notes = gl.notes(15, 3);
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(
        notes[1].1.contains("dr-project-not-found"),
        "{}",
        notes[1].1
    );
    db.wait_state(1, "done").await;
}
}

on_both! {
/// `Idempotency-Key: ""` (or blanks) names no delivery: each such delivery is its own job.
async fn an_empty_idempotency_key_is_no_key(db: Db) {
    let gl = gitlab().await;
    let svc = Service::start(&gl.url, &db, &["--workers", "0"]).await;
    for (i, (key, sha)) in [("", CLEAN), ("", BROKEN), ("   ", BROKEN2)]
        .into_iter()
        .enumerate()
    {
        let (code, body) = post(
            &svc,
            "Push Hook",
            push(sha, BASE),
            Some(SECRET),
            &[("Idempotency-Key", key)],
        )
        .await;
        assert_eq!(
            (code, body["status"].as_str()),
            (202, Some("accepted")),
            "{i}: {body}"
        );
    }
    assert_eq!(db.jobs().await.len(), 3);
    // A blank key does not hide the `webhook-id` behind it: a second delivery with that id is
    // a duplicate (another sha, so only the delivery id can tell).
    for (expected, sha) in [
        ("accepted", "abcdef0123456789abcdef0123456789abcdef01"),
        ("duplicate", "abcdef0123456789abcdef0123456789abcdef02"),
    ] {
        let (code, body) = post(
            &svc,
            "Push Hook",
            push(sha, BASE),
            Some(SECRET),
            &[
                ("Idempotency-Key", " "),
                ("webhook-id", "msg_same_delivery"),
            ],
        )
        .await;
        assert_eq!(body["status"].as_str(), Some(expected), "{code}: {body}");
    }
}
}

on_both! {
/// `main` carries an old error. A branch created from it is compared with its merge base on the
/// default branch: the old error is old, a new one is new.
async fn a_new_branch_is_compared_with_its_merge_base_on_the_default_branch(db: Db) {
    const MAIN_TIP: &str = "eeee111122223333444455556666777788889999";
    const SAME: &str = "eeee222222223333444455556666777788889999";
    const WORSE: &str = "eeee333333223333444455556666777788889999";
    let gl = gitlab().await;
    let old_error = crate::common::fixture_tree::invalid_fixture("dr-environment-not-found");
    gl.add_archive(MAIN_TIP, tar_gz_of_dir(&old_error, "p-m"));
    gl.add_archive(SAME, tar_gz_of_dir(&old_error, "p-s"));
    // The same tree plus a second runtime naming a missing environment.
    let worse = tempfile::tempdir().unwrap();
    copy_dir(&old_error, worse.path());
    let dr = std::fs::read_to_string(worse.path().join("runtimes/dr-dev.yaml")).unwrap();
    std::fs::write(
        worse.path().join("runtimes/dr-test.yaml"),
        dr.replace("dr-dev", "dr-test")
            .replace("env-dve", "env-tst"),
    )
    .unwrap();
    gl.add_archive(WORSE, tar_gz_of_dir(worse.path(), "p-w"));
    gl.set_merge_base(SAME, "main", MAIN_TIP);
    gl.set_merge_base(WORSE, "main", MAIN_TIP);

    let svc = Service::start(&gl.url, &db, &[]).await;
    let new_branch = |branch: &str, sha: &str| {
        let mut v = payload("push.json");
        v["ref"] = format!("refs/heads/{branch}").into();
        v["before"] = ZERO.into();
        v["after"] = sha.into();
        v["checkout_sha"] = sha.into();
        v.to_string()
    };
    let (code, _) = post(
        &svc,
        "Push Hook",
        new_branch("fix", SAME),
        Some(SECRET),
        &[],
    )
    .await;
    assert_eq!(code, 202);
    gl.wait_for("the first branch's result", WAIT, |c| finals(c, SAME) == 1)
        .await;
    let (code, _) = post(
        &svc,
        "Push Hook",
        new_branch("feat", WORSE),
        Some(SECRET),
        &[],
    )
    .await;
    assert_eq!(code, 202);
    gl.wait_for("the second branch's result", WAIT, |c| {
        finals(c, WORSE) == 1
    })
    .await;

    let desc = |sha| {
        gl.statuses(sha)
            .last()
            .map(|c| c.body["description"].as_str().unwrap().to_owned())
            .unwrap()
    };
    // Gated on new errors: the old one alone passes, the new one fails the branch.
    assert_eq!(gl.states(SAME), ["pending", "success"], "{}", desc(SAME));
    assert!(
        desc(SAME).starts_with("1 error, 0 warnings (0 new)"),
        "{}",
        desc(SAME)
    );
    assert_eq!(gl.states(WORSE), ["pending", "failed"]);
    assert!(
        desc(WORSE).starts_with("2 errors, 0 warnings (1 new)"),
        "{}",
        desc(WORSE)
    );
    let bases = gl
        .calls()
        .into_iter()
        .filter(|c| c.path.ends_with("/repository/merge_base"))
        .count();
    assert_eq!(bases, 2);
    assert!(archive_downloads(&gl).contains(&format!("sha={MAIN_TIP}")));
}
}

fn copy_dir(from: &Path, to: &Path) {
    crate::common::tools::copy_dir(from, to);
}

/// A push of `project` to `branch`.
fn push_to(project: i64, branch: &str, after: &str, before: &str) -> String {
    let mut v = payload("push.json");
    v["project_id"] = project.into();
    v["project"]["id"] = project.into();
    v["ref"] = format!("refs/heads/{branch}").into();
    v["after"] = after.into();
    v["checkout_sha"] = after.into();
    v["before"] = before.into();
    v.to_string()
}

/// The project of every `pending` status, in the order the jobs started.
fn started_projects(gl: &FakeGitLab) -> Vec<String> {
    gl.calls()
        .iter()
        .filter(|c| c.method == "POST" && c.body["state"] == "pending")
        .map(|c| c.path.split('/').nth(4).unwrap_or("").to_owned())
        .collect()
}

on_both! {
/// One project's burst does not hold back another project's push: the next free worker takes
/// the project that waited longest for a turn, not the oldest job.
async fn another_projects_push_runs_before_a_burst_of_one_project(db: Db) {
    let gl = gitlab().await;
    gl.set_fallback_archive(tar_gz_of_dir(&fixture("valid/demo"), "p-d"));
    let svc = Service::start(&gl.url, &db, &["--workers", "1"]).await;
    let burst: Vec<String> = (10..15).map(|i| format!("{i:x}").repeat(40)).collect();
    gl.hold_archive_of(&burst[0]);
    let accepted = |body: String| {
        let svc = &svc;
        async move {
            let (code, _) = post(svc, "Push Hook", body, Some(SECRET), &[]).await;
            assert_eq!(code, 202);
        }
    };
    accepted(push_to(15, "b0", &burst[0], ZERO)).await;
    gl.wait_for("the first job in flight", WAIT, |_| {
        gl.states(&burst[0]) == ["pending"]
    })
    .await;
    for (i, sha) in burst.iter().enumerate().skip(1) {
        accepted(push_to(15, &format!("b{i}"), sha, ZERO)).await;
    }
    accepted(push_to(16, "main", CLEAN, ZERO)).await;
    gl.hold_archives(false);
    gl.wait_for("every result", WAIT, |c| {
        burst.iter().all(|s| finals(c, s) == 1) && finals(c, CLEAN) == 1
    })
    .await;
    assert_eq!(
        started_projects(&gl),
        ["15", "16", "15", "15", "15", "15"],
        "project 16 waited for the whole burst"
    );
}
}

/// One worker with a short stall timeout: project 15's push of BROKEN stalls on a GitLab call
/// (the service logs `stalled_log`), and project 16's push of CLEAN gets its result meanwhile.
/// Returns the service, which must live on.
async fn one_project_stalls_another_runs(gl: &FakeGitLab, db: &Db, stalled_log: &str) -> Service {
    let svc = Service::start(&gl.url, &db, &["--workers", "1", "--stall-timeout", "0.5"]).await;
    for (project, sha) in [(15, BROKEN), (16, CLEAN)] {
        let (code, _) = post(
            &svc,
            "Push Hook",
            push_to(project, "main", sha, ZERO),
            Some(SECRET),
            &[],
        )
        .await;
        assert_eq!(code, 202);
        if sha == BROKEN {
            svc.wait_log(stalled_log).await;
        }
    }
    gl.wait_for("the other project's result", WAIT, |c| {
        finals(c, CLEAN) == 1
    })
    .await;
    svc
}

on_both! {
/// An archive download that stops sending bytes gives the worker back after the stall timeout:
/// the job goes back to the queue with a delay, another project's push runs meanwhile, and the
/// stalled one is retried until it gets its result.
async fn a_stalled_download_is_retried_through_the_queue_while_other_jobs_run(db: Db) {
    let gl = gitlab().await;
    gl.stall_archive_of(BROKEN);
    let svc = one_project_stalls_another_runs(&gl, &db, "the download stalled").await;
    assert_eq!(
        finals(&gl.calls(), BROKEN),
        0,
        "the stalled job is not done yet"
    );
    gl.release_stalls();
    gl.wait_for("the stalled job's result", WAIT, |c| finals(c, BROKEN) == 1)
        .await;
    assert_eq!(gl.states(BROKEN).last().map(String::as_str), Some("failed"));
    let desc = gl.statuses(BROKEN).last().unwrap().body["description"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(desc.starts_with("1 error"), "{desc}");
    let tries = archive_downloads(&gl)
        .iter()
        .filter(|q| **q == format!("sha={BROKEN}"))
        .count();
    assert!(tries >= 2, "retried through the queue: {tries}");
    assert!(svc.logs().contains("job re-queued"), "{}", svc.logs());
}
}

/// A merge request event for MR `iid` of project 15, opened at `sha`.
fn mr_open(iid: i64, sha: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(&merge_request("open", sha, None)).unwrap();
    v["object_attributes"]["iid"] = iid.into();
    v.to_string()
}

on_both! {
/// The notes listing answers garbage: the commit's status still says what the check found
/// (clean: success), the listing is retried, and a listing that stays broken is logged, never
/// turned into a red status naming an API URL.
async fn a_malformed_notes_listing_does_not_turn_a_clean_commit_red(db: Db) {
    let gl = gitlab().await;
    let svc = Service::start(&gl.url, &db, &[]).await;
    let garbage = "<html>502 Bad Gateway</html>";
    // Once: the retry reads the real listing and the note is posted.
    gl.answer_next(
        "GET /api/v4/projects/15/merge_requests/3/notes",
        200,
        garbage,
    );
    let (code, _) = post(
        &svc,
        "Merge Request Hook",
        mr_open(3, CLEAN),
        Some(SECRET),
        &[],
    )
    .await;
    assert_eq!(code, 202);
    gl.wait_for("the first result", WAIT, |c| finals(c, CLEAN) == 1)
        .await;
    assert_eq!(gl.states(CLEAN), ["pending", "success"]);
    assert_eq!(gl.notes(15, 3).len(), 1);

    // Always: no note, but the status stands and the failure is logged.
    for _ in 0..20 {
        gl.answer_next(
            "GET /api/v4/projects/15/merge_requests/4/notes",
            200,
            garbage,
        );
    }
    let (code, _) = post(
        &svc,
        "Merge Request Hook",
        mr_open(4, BASE),
        Some(SECRET),
        &[],
    )
    .await;
    assert_eq!(code, 202);
    gl.wait_for("the second result", WAIT, |c| finals(c, BASE) == 1)
        .await;
    assert_eq!(gl.states(BASE), ["pending", "success"]);
    let desc = gl.statuses(BASE)[1].body["description"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(desc.starts_with("no findings"), "{desc}");
    assert!(gl.notes(15, 4).is_empty());
    svc.wait_log("cannot update the merge request's summary note")
        .await;
}
}

on_both! {
/// GitLab names commits by their full sha in lower case; the same commit written in upper case
/// is the same job, and an abbreviated sha (which could name another commit later) is refused.
async fn upper_case_shas_are_duplicates_and_abbreviated_ones_are_refused(db: Db) {
    let gl = gitlab().await;
    let svc = Service::start(&gl.url, &db, &["--workers", "0"]).await;
    let (code, first) = post(&svc, "Push Hook", push(CLEAN, BASE), Some(SECRET), &[]).await;
    assert_eq!(code, 202);
    let upper = push(&CLEAN.to_uppercase(), &BASE.to_uppercase());
    let (code, again) = post(&svc, "Push Hook", upper, Some(SECRET), &[]).await;
    assert_eq!(
        (code, again["status"].as_str()),
        (200, Some("duplicate")),
        "{again}"
    );
    assert_eq!(again["job"], first["job"]);
    let (code, body) = post(
        &svc,
        "Push Hook",
        push(&CLEAN[..12], BASE),
        Some(SECRET),
        &[],
    )
    .await;
    assert_eq!(code, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("full commit sha"),
        "{body}"
    );
    let mr = merge_request("open", &BROKEN.to_uppercase(), None);
    let (code, _) = post(&svc, "Merge Request Hook", mr, Some(SECRET), &[]).await;
    assert_eq!(code, 202);
    let stored: Vec<String> = db.jobs().await.into_iter().map(|j| j.2).collect();
    assert_eq!(stored, [CLEAN, BROKEN]);
}
}

on_both! {
/// Pushes to one branch while a worker is busy: only the newest push is checked, and of the
/// replaced ones only the newest gets a `canceled` status; the older ones end without a post.
async fn a_burst_of_replaced_pushes_costs_one_canceled_status(db: Db) {
    let gl = gitlab().await;
    gl.set_fallback_archive(tar_gz_of_dir(&fixture("valid/demo"), "p-d"));
    gl.hold_archive_of(BROKEN);
    let svc = Service::start(&gl.url, &db, &["--workers", "1"]).await;
    let (code, _) = post(&svc, "Push Hook", push(BROKEN, BASE), Some(SECRET), &[]).await;
    assert_eq!(code, 202);
    gl.wait_for("the first job in flight", WAIT, |_| {
        gl.states(BROKEN) == ["pending"]
    })
    .await;
    let burst: Vec<String> = (10..16).map(|i| format!("{i:x}").repeat(40)).collect();
    let mut before = BROKEN.to_owned();
    for sha in &burst {
        let (code, _) = post(&svc, "Push Hook", push(sha, &before), Some(SECRET), &[]).await;
        assert_eq!(code, 202);
        before = sha.clone();
    }
    gl.hold_archives(false);
    let newest = burst.last().unwrap();
    gl.wait_for("the newest push's result", WAIT, |c| finals(c, newest) == 1)
        .await;
    db.wait_state(burst.len(), "done").await;
    let posted: Vec<(String, String)> = burst
        .iter()
        .flat_map(|s| {
            gl.states(s)
                .into_iter()
                .map(move |st| (s[..2].to_owned(), st))
        })
        .collect();
    let second_newest = &burst[burst.len() - 2];
    assert_eq!(
        posted,
        [
            (second_newest[..2].to_owned(), "canceled".to_owned()),
            (newest[..2].to_owned(), "pending".to_owned()),
            (newest[..2].to_owned(), "success".to_owned()),
        ]
    );
    let said = gl.statuses(second_newest)[0].body["description"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(said.contains(&newest[..8]), "{said}");
    let states: Vec<String> = db.jobs().await.into_iter().map(|j| j.1).collect();
    assert_eq!(
        states,
        [
            "done",
            "superseded",
            "superseded",
            "superseded",
            "superseded",
            "superseded",
            "done"
        ]
    );
}
}

on_both! {
/// What a delivery makes the service store is bounded: a branch name past git's practical
/// limit, or a delivery key or event id longer than any GitLab sends, is refused, not stored.
async fn refs_and_keys_past_their_bounds_are_refused(db: Db) {
    let gl = gitlab().await;
    let svc = Service::start(&gl.url, &db, &["--workers", "0"]).await;
    let long_branch = |n: usize| push_to(15, &"b".repeat(n), CLEAN, BASE);
    let (code, body) = post(&svc, "Push Hook", long_branch(1025), Some(SECRET), &[]).await;
    assert_eq!(code, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("ref"), "{body}");
    let key = "k".repeat(256);
    let (code, body) = post(
        &svc,
        "Push Hook",
        push(CLEAN, BASE),
        Some(SECRET),
        &[("Idempotency-Key", &key)],
    )
    .await;
    assert_eq!(code, 400, "{body}");
    let (code, body) = post(
        &svc,
        "Push Hook",
        push(CLEAN, BASE),
        Some(SECRET),
        &[("X-Gitlab-Event-UUID", &key)],
    )
    .await;
    assert_eq!(code, 400, "{body}");
    let mut mr: serde_json::Value =
        serde_json::from_str(&merge_request("open", BROKEN, None)).unwrap();
    mr["object_attributes"]["target_branch"] = "t".repeat(1025).into();
    let (code, body) = post(
        &svc,
        "Merge Request Hook",
        mr.to_string(),
        Some(SECRET),
        &[],
    )
    .await;
    assert_eq!(code, 400, "{body}");
    assert!(db.jobs().await.is_empty());
    // At the bounds: stored.
    let (code, _) = post(
        &svc,
        "Push Hook",
        long_branch(1024),
        Some(SECRET),
        &[("Idempotency-Key", &key[..255])],
    )
    .await;
    assert_eq!(code, 202);
    assert_eq!(db.jobs().await.len(), 1);
}
}

on_both! {
/// Any GitLab call that hangs (here: a status post that is never answered) gives the worker back
/// after the stall timeout, as a stalled download does: other projects' jobs run meanwhile.
async fn a_hung_status_post_does_not_hold_the_worker(db: Db) {
    let gl = gitlab().await;
    gl.hold_statuses_of(BROKEN);
    let _svc = one_project_stalls_another_runs(&gl, &db, "no answer").await;
    gl.release_statuses();
    gl.wait_for("the hung job's result", WAIT, |c| finals(c, BROKEN) == 1)
        .await;
    assert_eq!(gl.states(BROKEN).last().map(String::as_str), Some("failed"));
}
}

/// A lease or stall timeout of zero (or not a number) would make every job look abandoned or
/// every call stalled: refused at start with the flag's name.
#[test]
fn zero_or_unreadable_durations_are_refused_at_start() {
    for (flag, value) in [
        ("--job-lease", "0"),
        ("--job-lease", "NaN"),
        ("--stall-timeout", "0"),
        ("--stall-timeout", "-1"),
    ] {
        let out = std::process::Command::new(BIN)
            .args([
                "serve",
                "--gitlab-url",
                "http://127.0.0.1:9",
                "--listen",
                "127.0.0.1:0",
            ])
            .arg(format!("{flag}={value}"))
            .env("NAUTES_LINT_WEBHOOK_SECRET", SECRET)
            .env("NAUTES_LINT_GITLAB_TOKEN", TOKEN)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{flag} {value}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag), "{flag} {value}: {err}");
    }
}

/// `--database` takes an SQLite path or a PostgreSQL URL; another URL scheme is refused at start
/// (never taken for a file name), without repeating the password.
#[test]
fn a_database_url_of_another_kind_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    for url in ["mysql://nl:hunter2@db/queue", "sqlite:///var/lib/q.db"] {
        let out = std::process::Command::new(BIN)
            .args([
                "serve",
                "--gitlab-url",
                "http://127.0.0.1:9",
                "--listen",
                "127.0.0.1:0",
                "--database",
                url,
            ])
            .current_dir(dir.path())
            .env("NAUTES_LINT_WEBHOOK_SECRET", SECRET)
            .env("NAUTES_LINT_GITLAB_TOKEN", TOKEN)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{url}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("is not supported"), "{url}: {err}");
        assert!(!err.contains("hunter2"), "{err}");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "a file was made"
        );
    }
}
