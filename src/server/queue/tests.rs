//! One suite for both backends: each test in [`on_both!`] runs once on a fresh SQLite file and
//! once on a fresh PostgreSQL database (`NAUTES_LINT_TEST_POSTGRES`, see scripts/pg-test.sh).

use super::*;

const LEASE: Duration = Duration::from_secs(30);

/// A fresh, empty database of one backend, removed (SQLite) or left to the throwaway server
/// (PostgreSQL) at the end.
struct Fresh {
    db: Database,
    _dir: Option<tempfile::TempDir>,
}

fn sqlite() -> Fresh {
    let dir = tempfile::tempdir().unwrap();
    Fresh {
        db: Database::Sqlite(dir.path().join("q.db")),
        _dir: Some(dir),
    }
}

/// None (the test is skipped, and says so) when no PostgreSQL is given, except under CI, where
/// a skipped backend would pass unnoticed.
async fn postgres() -> Option<Fresh> {
    Some(Fresh {
        db: Database::Postgres(test_database().await?),
        _dir: None,
    })
}

async fn open(db: &Database) -> (Queue, usize) {
    Queue::connect(db, Synchronous::Full).await.unwrap()
}

/// `async fn name(db: &Database) { ... }` becomes the tests `name::sqlite` and `name::postgres`.
macro_rules! on_both {
    ($(
        $(#[$doc:meta])*
        async fn $name:ident($db:ident: &Database) $body:block
    )*) => {$(
        $(#[$doc])*
        mod $name {
            use super::*;
            async fn run($db: &Database) $body
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run(&super::sqlite().db).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(f) = super::postgres().await {
                    run(&f.db).await
                }
            }
        }
    )*};
}

fn push(sha: &str, branch: &str, key: Option<&str>) -> NewJob {
    NewJob {
        kind: JobKind::Push,
        project_id: 7,
        sha: sha.into(),
        ref_name: branch.into(),
        base: None,
        merge_request: None,
        event_uuid: None,
        idempotency_key: key.map(Into::into),
    }
}

on_both! {
    async fn projects_are_those_served_not_the_forks_that_only_sent_merge_requests(db: &Database) {
        let (q, _) = open(db).await;
        assert_eq!(q.projects().await.unwrap(), Vec::<i64>::new());
        q.enqueue(push("a1", "main", None)).await.unwrap();
        // A merge request within project 4, and one from fork 9 into project 5 (noted).
        let within = NewJob::merge_request(4, "b1".into(), "f".into(), 4, "main".into(), 1);
        q.enqueue(within).await.unwrap();
        let fork = NewJob::merge_request(9, "c1".into(), "f".into(), 5, "main".into(), 2);
        q.enqueue(fork).await.unwrap();
        assert_eq!(q.projects().await.unwrap(), [4, 7]);
        q.set_note_id(5, 2, 100).await.unwrap();
        assert_eq!(q.projects().await.unwrap(), [4, 5, 7]);
    }

    async fn duplicates_create_nothing(db: &Database) {
        let (q, _) = open(db).await;
        let a = q.enqueue(push("a1", "main", Some("k1"))).await.unwrap();
        let Enqueued::Accepted { id, .. } = a else {
            panic!("{a:?}")
        };
        // Same sha again, other key.
        assert_eq!(
            q.enqueue(push("a1", "main", Some("k2"))).await.unwrap(),
            Enqueued::Duplicate { id }
        );
        // Same key, other sha (a redelivery must not become a second job).
        assert_eq!(
            q.enqueue(push("b2", "main", Some("k1"))).await.unwrap(),
            Enqueued::Duplicate { id }
        );
        assert_eq!(q.depth().await.unwrap().queued, 1);
    }

    async fn a_job_reads_back_as_it_was_stored(db: &Database) {
        let (q, _) = open(db).await;
        let stored = NewJob {
            kind: JobKind::MergeRequest,
            project_id: 9,
            sha: "f00d".into(),
            ref_name: "feature".into(),
            base: Some(Base::ForkPoint { project: 8, default_branch: Some("main".into()) }),
            merge_request: Some((8, 4)),
            event_uuid: Some("ev-1".into()),
            idempotency_key: Some("key-1".into()),
        };
        q.enqueue(stored.clone()).await.unwrap();
        let other = NewJob {
            base: Some(Base::Rev { project: 9, rev: "cafe".into() }),
            sha: "beef".into(),
            merge_request: None,
            idempotency_key: None,
            kind: JobKind::Push,
            ..stored.clone()
        };
        q.enqueue(other.clone()).await.unwrap();
        let first = q.claim(LEASE).await.unwrap().unwrap();
        let second = q.claim(LEASE).await.unwrap().unwrap();
        assert_eq!((first.new, first.attempts), (stored, 1));
        assert_eq!(second.new, other);
    }

    async fn newer_push_supersedes_queued_older(db: &Database) {
        let (q, _) = open(db).await;
        q.enqueue(push("a1", "main", None)).await.unwrap();
        q.enqueue(push("c3", "other", None)).await.unwrap();
        let r = q.enqueue(push("b2", "main", None)).await.unwrap();
        assert!(matches!(r, Enqueued::Accepted { superseded: 1, .. }), "{r:?}");
        // Still run, in order, but only to say it was replaced, and by what.
        let mut claimed = Vec::new();
        while let Some(job) = q.claim(LEASE).await.unwrap() {
            q.complete(job.id, "x").await.unwrap();
            claimed.push((job.new.sha, job.superseded_by));
        }
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(
            claimed,
            [
                ("a1".into(), some("b2")),
                ("c3".into(), None),
                ("b2".into(), None)
            ]
        );
        let states = q.column("SELECT state FROM jobs ORDER BY id").await.unwrap();
        assert_eq!(states, ["superseded", "done", "done"]);
    }

    /// Of a burst of replaced pushes, the claim takes the newest replaced one and ends the
    /// older ones without a run.
    async fn replaced_pushes_are_coalesced_at_claim(db: &Database) {
        let (q, _) = open(db).await;
        for sha in ["a1", "a2", "a3", "a4"] {
            q.enqueue(push(sha, "main", None)).await.unwrap();
        }
        let job = q.claim(LEASE).await.unwrap().unwrap();
        assert_eq!((job.new.sha.as_str(), job.superseded_by.as_deref()), ("a3", Some("a4")));
        q.complete(job.id, "superseded").await.unwrap();
        let last = q.claim(LEASE).await.unwrap().unwrap();
        assert_eq!((last.new.sha.as_str(), last.superseded_by), ("a4", None));
        assert!(q.claim(LEASE).await.unwrap().is_none());
        let outcomes = q
            .column("SELECT state || ':' || COALESCE(outcome, '') FROM jobs ORDER BY id")
            .await
            .unwrap();
        assert_eq!(
            outcomes,
            ["superseded:coalesced", "superseded:coalesced", "superseded:superseded", "running:"]
        );
    }

    async fn a_running_job_is_taken_again_only_when_its_lease_ran_out(db: &Database) {
        let (first, _) = open(db).await;
        first.enqueue(push("a1", "main", None)).await.unwrap();
        let job = first.claim(LEASE).await.unwrap().unwrap();
        assert_eq!((job.attempts, job.interrupted), (1, false));
        // A second process on the same database: the job is the first one's while its lease
        // lives.
        let (second, recovered) = open(db).await;
        assert_eq!(recovered, 0);
        assert!(second.claim(LEASE).await.unwrap().is_none());
        assert!(first.renew(job.id, LEASE).await.unwrap());
        // The first process stops renewing (it died); once the lease is over, the job is taken
        // again and the interrupted run counts.
        second.execute_sql("UPDATE jobs SET lease_until=0").await.unwrap();
        let again = second.claim(LEASE).await.unwrap().unwrap();
        assert_eq!(
            (again.id, again.attempts, again.interrupted),
            (job.id, 2, true)
        );
        // The first process's late result is not recorded over the new run.
        assert!(!first.renew(job.id, LEASE).await.unwrap());
        first.complete(job.id, "success").await.unwrap();
        assert_eq!(second.state_of(job.id).await.unwrap().unwrap().0, "running");
        second.complete(job.id, "success").await.unwrap();
        assert_eq!(second.state_of(job.id).await.unwrap().unwrap().0, "done");
    }

    async fn an_expired_lease_is_recovered_at_open(db: &Database) {
        {
            let (q, _) = open(db).await;
            q.enqueue(push("a1", "main", None)).await.unwrap();
            q.claim(Duration::ZERO).await.unwrap().unwrap();
            q.execute_sql("UPDATE jobs SET lease_until=0").await.unwrap();
            q.close().await;
        }
        let (q, recovered) = open(db).await;
        assert_eq!(recovered, 1);
        let job = q.claim(LEASE).await.unwrap().unwrap();
        assert_eq!((job.new.sha.as_str(), job.attempts), ("a1", 2));
    }

    async fn a_requeued_job_does_not_count_the_interrupted_run(db: &Database) {
        let (q, _) = open(db).await;
        q.enqueue(push("a1", "main", None)).await.unwrap();
        let job = q.claim(LEASE).await.unwrap().unwrap();
        q.requeue(job.id).await.unwrap();
        let again = q.claim(LEASE).await.unwrap().unwrap();
        assert_eq!((again.id, again.attempts), (job.id, 1));
        q.fail(again.id, "gave up").await.unwrap();
        assert_eq!(
            q.state_of(job.id).await.unwrap(),
            Some(("failed".into(), Some("gave up".into())))
        );
    }

    async fn retry_later_is_not_due_yet(db: &Database) {
        let (q, _) = open(db).await;
        q.enqueue(push("a1", "main", None)).await.unwrap();
        let job = q.claim(LEASE).await.unwrap().unwrap();
        q.retry_later(job.id, Duration::from_secs(60), "503")
            .await
            .unwrap();
        assert!(q.claim(LEASE).await.unwrap().is_none());
        assert!(q.next_due().await.unwrap().unwrap() > Duration::from_secs(50));
    }

    async fn many_concurrent_enqueues_all_commit(db: &Database) {
        let (q, _) = open(db).await;
        let mut handles = Vec::new();
        for i in 0..200 {
            let q = q.clone();
            handles.push(tokio::spawn(async move {
                q.enqueue(push(&format!("s{i}"), &format!("b{i}"), None))
                    .await
            }));
        }
        for h in handles {
            assert!(matches!(h.await.unwrap(), Ok(Enqueued::Accepted { .. })));
        }
        assert_eq!(q.depth().await.unwrap().queued, 200);
    }

    /// Two processes claiming at once never take the same job.
    async fn concurrent_claims_take_each_job_once(db: &Database) {
        let (a, _) = open(db).await;
        let (b, _) = open(db).await;
        for i in 0..40 {
            a.enqueue(push(&format!("s{i}"), &format!("b{i}"), None)).await.unwrap();
        }
        let mut tasks = Vec::new();
        for q in [a.clone(), b.clone(), a, b] {
            tasks.push(tokio::spawn(async move {
                let mut ids = Vec::new();
                while let Some(job) = q.claim(LEASE).await.unwrap() {
                    ids.push(job.id);
                }
                ids
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all.sort_unstable();
        let before = all.len();
        all.dedup();
        assert_eq!((before, all.len()), (40, 40));
    }

    /// One job at a time writes a merge request's note, across processes; a holder that dies
    /// frees it when its lease runs out.
    async fn the_note_lock_has_one_holder(db: &Database) {
        let (a, _) = open(db).await;
        let (b, _) = open(db).await;
        assert!(a.lock_note(15, 3, 1, LEASE).await.unwrap());
        assert!(a.lock_note(15, 3, 1, LEASE).await.unwrap(), "the holder renews");
        assert!(!a.lock_note(15, 3, 2, LEASE).await.unwrap(), "another job of the same process");
        assert!(!b.lock_note(15, 3, 1, LEASE).await.unwrap(), "the same job id in another process");
        assert!(b.lock_note(15, 4, 1, LEASE).await.unwrap(), "another merge request");
        b.unlock_note(15, 3, 1).await.unwrap();
        assert!(!a.lock_note(15, 3, 2, LEASE).await.unwrap(), "only the holder unlocks");
        a.unlock_note(15, 3, 1).await.unwrap();
        assert!(b.lock_note(15, 3, 7, LEASE).await.unwrap());
        b.execute_sql("UPDATE note_locks SET until=0").await.unwrap();
        assert!(a.lock_note(15, 3, 2, LEASE).await.unwrap(), "an expired lock is free");
    }

    /// Opening migrates to the newest version once; reopening changes nothing.
    async fn migrations_are_recorded_once(db: &Database) {
        let (q, _) = open(db).await;
        q.enqueue(push("a1", "main", None)).await.unwrap();
        q.close().await;
        let (q, _) = open(db).await;
        let versions = q.column("SELECT version FROM schema_version ORDER BY version").await.unwrap();
        let expected: Vec<String> = match db {
            Database::Sqlite(_) => vec!["1".into(), "2".into()],
            Database::Postgres(_) => vec!["1".into()],
        };
        assert_eq!(versions, expected);
        assert_eq!(q.depth().await.unwrap().queued, 1);
    }

    /// Replicas that start at once on an empty database all come up, on one schema.
    async fn replicas_opening_an_empty_database_at_once_all_come_up(db: &Database) {
        let opened = futures_util::future::join_all(
            (0..4).map(|_| Queue::connect(db, Synchronous::Full)),
        )
        .await;
        for r in &opened {
            assert!(r.is_ok(), "{:?}", r.as_ref().err());
        }
        let (q, _) = opened.into_iter().next().unwrap().unwrap();
        let versions = q.column("SELECT COUNT(*) FROM schema_version").await.unwrap();
        let newest = match db {
            Database::Sqlite(_) => "2",
            Database::Postgres(_) => "1",
        };
        assert_eq!(versions, [newest]);
    }
}

#[test]
fn database_urls_and_paths() {
    assert_eq!(
        Database::parse("./q.db").unwrap(),
        Database::Sqlite("./q.db".into())
    );
    assert_eq!(
        Database::parse("/var/lib/weird:name").unwrap(),
        Database::Sqlite("/var/lib/weird:name".into())
    );
    for url in [
        "postgres://u@h/db",
        "postgresql://u:p@h:5/db?sslmode=disable",
    ] {
        assert_eq!(
            Database::parse(url).unwrap(),
            Database::Postgres(url.into())
        );
    }
    let e = Database::parse("mysql://root:hunter2@db/q").unwrap_err();
    assert!(e.contains("`mysql://` is not supported"), "{e}");
    assert!(!e.contains("hunter2"), "the password is not repeated: {e}");
    assert!(Database::parse("sqlite:///tmp/q.db").is_err());
    assert_eq!(
        Database::Postgres("postgres://nl:s3cret@db:5432/q".into()).to_string(),
        "postgres://nl:***@db:5432/q"
    );
}

// SQLite only: its query plans, its pre-versioning schema, its batches.

#[tokio::test]
async fn superseding_visits_only_replaceable_jobs() {
    let f = sqlite();
    let (q, _) = open(&f.db).await;
    let Backend::Sqlite(b) = &q.0 else {
        unreachable!()
    };
    let plan: Vec<String> = b
        .with_connection(|c| {
            c.prepare(&format!("EXPLAIN QUERY PLAN {}", sqlite::SUPERSEDE))?
                .query_map(rusqlite::params![0, 0, "k", "s"], |r| r.get(3))?
                .collect()
        })
        .await
        .unwrap();
    assert!(
        plan.iter().any(|p| p.contains("INDEX jobs_replaceable")),
        "{plan:?}"
    );
}

#[tokio::test]
async fn a_database_of_the_previous_schema_is_migrated() {
    let f = sqlite();
    let Database::Sqlite(path) = &f.db else {
        unreachable!()
    };
    // The first released schema: none of the columns added since, and no versions.
    let old_schema = sqlite::SCHEMA.replace(
        ",\n    superseded_by   TEXT,\n    lease_owner     TEXT,\n    lease_until     INTEGER,\n    base_fork       INTEGER NOT NULL DEFAULT 0",
        "",
    );
    assert!(!old_schema.contains("lease_owner") && !old_schema.contains("superseded_by"));
    {
        let c = rusqlite::Connection::open(path).unwrap();
        c.execute_batch(&old_schema).unwrap();
        c.execute(
            "INSERT INTO jobs (kind, project_id, sha, ref_name, supersede_key, state,
                not_before, created_at, updated_at)
             VALUES ('push', 7, 'a1', 'main', 'push:7:main', 'queued', 0, 0, 0)",
            [],
        )
        .unwrap();
    }
    let (q, _) = Queue::open(path).unwrap();
    q.enqueue(push("b2", "main", None)).await.unwrap();
    let job = q.claim(LEASE).await.unwrap().unwrap();
    assert_eq!(
        (job.new.sha.as_str(), job.superseded_by.as_deref()),
        ("a1", Some("b2"))
    );
    assert_eq!(
        q.column("SELECT version FROM schema_version ORDER BY version")
            .await
            .unwrap(),
        ["1", "2"]
    );
}

#[tokio::test]
async fn a_failing_operation_leaves_nothing_and_spares_its_batch() {
    let f = sqlite();
    let (q, _) = open(&f.db).await;
    let Backend::Sqlite(b) = &q.0 else {
        unreachable!()
    };
    let bad = b.with_connection(|c| {
        c.execute("INSERT INTO meta (k, v) VALUES ('half', 1)", [])?;
        c.execute("INSERT INTO no_such_table VALUES (1)", [])
    });
    let good = q.enqueue(push("a1", "main", None));
    let (bad, good) = tokio::join!(bad, good);
    assert!(matches!(bad, Err(QueueError::Query(_))), "{bad:?}");
    assert!(matches!(good, Ok(Enqueued::Accepted { .. })));
    let half = q.column("SELECT v FROM meta WHERE k='half'").await.unwrap();
    assert!(
        half.is_empty(),
        "the failed operation's first statement was rolled back"
    );
}

#[tokio::test]
async fn errors_say_what_failed() {
    // Opening: a file where a folder must be.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("file"), "").unwrap();
    let e = Queue::open(&dir.path().join("file/q.db")).err().unwrap();
    assert!(matches!(e, QueueError::Open { .. }), "{e:?}");
    // Closed: the writer thread stopped.
    let f = sqlite();
    let (q, _) = open(&f.db).await;
    q.close().await;
    assert_eq!(q.depth().await, Err(QueueError::Closed));
    // Unreachable: nothing listens on the port.
    let e = Queue::connect(
        &Database::Postgres("postgres://nobody@127.0.0.1:9/none".into()),
        Synchronous::Full,
    )
    .await
    .err()
    .unwrap();
    assert!(
        matches!(&e, QueueError::Open { reason, .. } if reason.contains("unreachable")),
        "{e:?}"
    );
}
