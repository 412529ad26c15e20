//! The SQLite backend: one file in WAL mode, owned by one writer thread.
//!
//! Durability: `synchronous=FULL` by default ([`Synchronous`]), so a committed job survives a
//! power cut, not only a crash of the process. An fsync costs milliseconds; one per request
//! would cap the service at a few hundred events a second. So the writer thread
//! *group-commits*: it takes every operation waiting in its channel (up to [`MAX_BATCH`]), runs
//! each in its own savepoint inside one transaction, commits once, and only then answers each
//! caller. Under load, 64 concurrent webhooks share one fsync.
//!
//! A second process on the same file (a mistaken second replica, an overlapping rollout) never
//! takes a job a live process holds: the leases of [`super`] apply here too, and each claim runs
//! in an IMMEDIATE transaction, which holds SQLite's write lock.

use super::{
    Depth, Enqueued, JOB_COLUMNS, Job, JobKind, NewJob, QueueError, Synchronous, base_from_columns,
    millis, new_owner, note_holder,
};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::{Arc, mpsc};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::oneshot;

/// Operations committed together at most. Bounds the latency one batch adds for its last caller.
const MAX_BATCH: usize = 512;

/// Runs inside a savepoint of the current batch (saying whether it succeeded), then learns
/// whether the batch committed.
type Finish = Box<dyn FnOnce(Result<(), String>) + Send>;
type Op = Box<dyn FnOnce(Result<&Connection, String>) -> (bool, Finish) + Send>;

enum Msg {
    Op(Op),
    Stop(oneshot::Sender<()>),
}

/// A handle to the writer thread; cheap to clone.
#[derive(Clone)]
pub struct Sqlite {
    tx: mpsc::Sender<Msg>,
    /// This process's lease owner id.
    owner: Arc<str>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS jobs (
    id              INTEGER PRIMARY KEY,
    kind            TEXT    NOT NULL,
    project_id      INTEGER NOT NULL,
    sha             TEXT    NOT NULL,
    ref_name        TEXT    NOT NULL,
    base_project_id INTEGER,
    base_ref        TEXT,
    mr_project_id   INTEGER,
    mr_iid          INTEGER,
    event_uuid      TEXT,
    idempotency_key TEXT,
    supersede_key   TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    not_before      INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    outcome         TEXT,
    last_error      TEXT,
    superseded_by   TEXT,
    lease_owner     TEXT,
    lease_until     INTEGER,
    base_fork       INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS jobs_once ON jobs(project_id, sha, kind);
CREATE UNIQUE INDEX IF NOT EXISTS jobs_delivery ON jobs(idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_ready ON jobs(state, not_before, id);
CREATE TABLE IF NOT EXISTS mr_notes (
    project_id INTEGER NOT NULL,
    mr_iid     INTEGER NOT NULL,
    note_id    INTEGER NOT NULL,
    PRIMARY KEY (project_id, mr_iid)
);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v);
CREATE TABLE IF NOT EXISTS project_turns (
    project_id INTEGER PRIMARY KEY,
    turn       INTEGER NOT NULL
);
";

/// Marks the older queued jobs of a branch or merge request (?3) replaced by job ?2 (sha ?4).
/// Its terms match the partial index `jobs_replaceable`, so it visits only live jobs.
pub(super) const SUPERSEDE: &str = "UPDATE jobs SET superseded_by=?4, updated_at=?1
     WHERE supersede_key=?3 AND state='queued' AND superseded_by IS NULL AND id<?2";

/// Version 1: [`SCHEMA`], and a database made before versions were recorded brought up to it
/// (every step is idempotent).
fn version_1(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(SCHEMA)?;
    for (column, definition) in [
        ("superseded_by", "TEXT"),
        ("lease_owner", "TEXT"),
        ("lease_until", "INTEGER"),
        ("base_fork", "INTEGER NOT NULL DEFAULT 0"),
    ] {
        let present: bool = conn.query_row(
            "SELECT COUNT(*) > 0 FROM pragma_table_info('jobs') WHERE name=?1",
            [column],
            |r| r.get(0),
        )?;
        if !present {
            conn.execute_batch(&format!(
                "ALTER TABLE jobs ADD COLUMN {column} {definition};"
            ))?;
        }
    }
    // Only the jobs a newer push can still replace: a superseded job stays queued (it posts
    // its `canceled` status), and an index over every queued job of a branch would make each
    // insert scan all the replaced ones before it.
    // And the replaced jobs still waiting, which a claim coalesces.
    conn.execute_batch(
        "DROP INDEX IF EXISTS jobs_supersede;
         CREATE INDEX IF NOT EXISTS jobs_replaceable ON jobs(supersede_key)
             WHERE state='queued' AND superseded_by IS NULL;
         CREATE INDEX IF NOT EXISTS jobs_replaced ON jobs(supersede_key, id)
             WHERE state='queued' AND superseded_by IS NOT NULL;",
    )
}

/// Version 2: the merge requests' note locks ([`super::Queue::lock_note`]).
fn version_2(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS note_locks (
            project_id INTEGER NOT NULL,
            mr_iid     INTEGER NOT NULL,
            holder     TEXT    NOT NULL,
            until      INTEGER NOT NULL,
            PRIMARY KEY (project_id, mr_iid)
        );",
    )
}

/// The schema's versions, oldest first: version N is `MIGRATIONS[N - 1]`. Append only.
const MIGRATIONS: &[fn(&Connection) -> rusqlite::Result<()>] = &[version_1, version_2];

/// Brings the schema to the newest version, in one IMMEDIATE transaction: a second process
/// opening the file at the same moment waits for the write lock (the busy timeout), then finds
/// the work done.
fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_version (
            version    INTEGER PRIMARY KEY,
            applied_at INTEGER NOT NULL
        );",
    )?;
    let have: i64 = tx.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_version",
        [],
        |r| r.get(0),
    )?;
    for (version, step) in (1i64..).zip(MIGRATIONS) {
        if version > have {
            step(&tx)?;
            tx.execute(
                "INSERT INTO schema_version (version, applied_at) VALUES (?1, ?2)",
                params![version, now_ms()],
            )?;
        }
    }
    tx.commit()
}

fn job_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Job> {
    let mr_project: Option<i64> = r.get(7)?;
    let mr_iid: Option<i64> = r.get(8)?;
    Ok(Job {
        id: r.get(0)?,
        new: NewJob {
            kind: JobKind::parse(&r.get::<_, String>(1)?),
            project_id: r.get(2)?,
            sha: r.get(3)?,
            ref_name: r.get(4)?,
            base: base_from_columns(r.get(5)?, r.get(6)?, r.get(13)?),
            merge_request: mr_project.zip(mr_iid),
            event_uuid: r.get(9)?,
            idempotency_key: r.get(10)?,
        },
        attempts: r.get(11)?,
        superseded_by: r.get(12)?,
        interrupted: false,
    })
}

impl Sqlite {
    /// Opens (or creates) the database, migrates it, re-queues jobs whose lease ran out, and
    /// starts the writer thread. Returns the handle and how many jobs were recovered.
    pub fn open(path: &Path, sync: Synchronous) -> Result<(Sqlite, usize), QueueError> {
        let open_error = |reason: String| QueueError::Open {
            database: path.display().to_string(),
            reason,
        };
        let err = |e: rusqlite::Error| open_error(e.to_string());
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| open_error(format!("{}: {e}", parent.display())))?;
        }
        let mut conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(err)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(open_error(format!(
                "cannot switch to WAL mode (got `{mode}`)"
            )));
        }
        conn.execute_batch(match sync {
            Synchronous::Full => "PRAGMA synchronous=FULL;",
            Synchronous::Normal => "PRAGMA synchronous=NORMAL;",
        })
        .map_err(err)?;
        // Checkpoint every ~32 MiB of WAL instead of every 4 MiB: a checkpoint runs inside a
        // commit of the writer thread, and fewer, larger ones cost less per event under load.
        conn.execute_batch("PRAGMA wal_autocheckpoint=8000;")
            .map_err(err)?;
        migrate(&mut conn).map_err(err)?;
        // Only jobs whose lease ran out: a running job with a live lease belongs to another
        // process that is still working on it (or was killed less than a lease ago; it is taken
        // when the lease runs out). Their run counts: `claim` added it.
        let recovered = conn
            .execute(
                "UPDATE jobs SET state='queued', updated_at=?1, lease_owner=NULL, lease_until=NULL
                 WHERE state='running' AND (lease_until IS NULL OR lease_until<?1)",
                params![now_ms()],
            )
            .map_err(err)?;
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("nautes-lint-db".into())
            .spawn(move || writer(conn, rx))
            .map_err(|e| open_error(format!("cannot start the database thread: {e}")))?;
        Ok((
            Sqlite {
                tx,
                owner: new_owner(),
            },
            recovered,
        ))
    }

    /// Runs `f` in the next batch and waits until that batch is committed.
    async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, QueueError> {
        let (s, r) = oneshot::channel();
        let op: Op = Box::new(move |conn| match conn.map(f) {
            Ok(Ok(v)) => (
                true,
                Box::new(move |committed: Result<(), String>| {
                    let _ = s.send(committed.map(|_| v));
                }),
            ),
            Ok(Err(e)) => {
                let _ = s.send(Err(e.to_string()));
                (false, Box::new(|_| {}))
            }
            Err(e) => {
                let _ = s.send(Err(e));
                (false, Box::new(|_| {}))
            }
        });
        self.tx.send(Msg::Op(op)).map_err(|_| QueueError::Closed)?;
        r.await
            .map_err(|_| QueueError::Closed)?
            .map_err(QueueError::Query)
    }

    /// Stores a job. Returns once it is committed to disk.
    pub async fn enqueue(&self, job: NewJob) -> Result<Enqueued, QueueError> {
        self.call(move |c| {
            let now = now_ms();
            let (base_project, base_ref, base_fork) = job.base_columns();
            // Cached statements: the writer thread runs this thousands of times a second, and
            // parsing the SQL each time would be most of its work.
            let id: Option<i64> = c
                .prepare_cached(
                    "INSERT INTO jobs (kind, project_id, sha, ref_name, base_project_id, base_ref,
                        mr_project_id, mr_iid, event_uuid, idempotency_key, supersede_key, state,
                        not_before, created_at, updated_at, base_fork)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'queued', ?12, ?12, ?12,
                        ?13)
                     ON CONFLICT DO NOTHING RETURNING id",
                )?
                .query_row(
                    params![
                        job.kind.as_str(),
                        job.project_id,
                        job.sha,
                        job.ref_name,
                        base_project,
                        base_ref,
                        job.merge_request.map(|m| m.0),
                        job.merge_request.map(|m| m.1),
                        job.event_uuid,
                        job.idempotency_key,
                        job.supersede_key(),
                        now,
                        base_fork,
                    ],
                    |r| r.get(0),
                )
                .optional()?;
            match id {
                Some(id) => {
                    let superseded = c.prepare_cached(SUPERSEDE)?.execute(params![
                        now,
                        id,
                        job.supersede_key(),
                        job.sha
                    ])?;
                    Ok(Enqueued::Accepted { id, superseded })
                }
                None => {
                    let id = c.query_row(
                        "SELECT id FROM jobs
                         WHERE (project_id=?1 AND sha=?2 AND kind=?3) OR idempotency_key=?4
                         ORDER BY id LIMIT 1",
                        params![
                            job.project_id,
                            job.sha,
                            job.kind.as_str(),
                            job.idempotency_key
                        ],
                        |r| r.get(0),
                    )?;
                    Ok(Enqueued::Duplicate { id })
                }
            }
        })
        .await
    }

    /// Takes a job that is due, or a running one whose lease ran out, marks it running under
    /// this process's lease for `lease`, and counts the run. Projects take turns: the job comes
    /// from the project whose last turn is oldest (never: first), oldest job first within it,
    /// so one project's burst of pushes delays another project's push by one job per worker,
    /// not by the whole burst.
    pub async fn claim(&self, lease: Duration) -> Result<Option<Job>, QueueError> {
        let owner = self.owner.clone();
        self.call(move |c| {
            let now = now_ms();
            // Both statements run in the batch's IMMEDIATE transaction, which holds SQLite's
            // write lock: no other process can take the same row in between.
            let found: Option<(i64, bool, i64, bool, String)> = c
                .prepare_cached(
                    "SELECT j.id, j.state='running', j.project_id, j.superseded_by IS NOT NULL,
                        j.supersede_key
                     FROM jobs j
                     LEFT JOIN project_turns t ON t.project_id=j.project_id
                     WHERE (j.state='queued' AND j.not_before<=?1)
                        OR (j.state='running' AND (j.lease_until IS NULL OR j.lease_until<?1))
                     ORDER BY COALESCE(t.turn, 0), j.not_before, j.id LIMIT 1",
                )?
                .query_row(params![now], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
                .optional()?;
            let Some((mut id, interrupted, project, superseded, key)) = found else {
                return Ok(None);
            };
            if superseded && !interrupted {
                // A burst of replaced pushes: only the newest replaced one posts `canceled`
                // (it names the push that is checked); the older ones end without a post, so
                // 500 pushes to a branch cost one status, not 498.
                let (newest, coalesced): (i64, i64) = c
                    .prepare_cached(
                        "SELECT MAX(id), COUNT(*) - 1 FROM jobs
                         WHERE supersede_key=?1 AND state='queued' AND superseded_by IS NOT NULL",
                    )?
                    .query_row(params![key], |r| Ok((r.get(0)?, r.get(1)?)))?;
                if coalesced > 0 {
                    c.prepare_cached(
                        "UPDATE jobs SET state='superseded', outcome='coalesced', updated_at=?3
                         WHERE supersede_key=?1 AND state='queued'
                           AND superseded_by IS NOT NULL AND id<?2",
                    )?
                    .execute(params![key, newest, now])?;
                    tracing::info!(
                        replaced = coalesced,
                        "older replaced pushes end without a status; the newest says canceled"
                    );
                }
                id = newest;
            }
            c.prepare_cached(
                "INSERT INTO project_turns (project_id, turn)
                 VALUES (?1, (SELECT COALESCE(MAX(turn), 0) + 1 FROM project_turns))
                 ON CONFLICT (project_id) DO UPDATE SET turn=excluded.turn",
            )?
            .execute(params![project])?;
            let mut job = c
                .prepare_cached(&format!(
                    "UPDATE jobs SET state='running', attempts=attempts+1, updated_at=?2,
                        lease_owner=?3, lease_until=?4
                     WHERE id=?1 RETURNING {JOB_COLUMNS}"
                ))?
                .query_row(params![id, now, &*owner, now + millis(lease)], job_from_row)?;
            job.interrupted = interrupted;
            Ok(Some(job))
        })
        .await
    }

    /// Extends this process's lease on a running job. `false`: the lease is no longer ours
    /// (it ran out and another run took the job, or the job ended); the run must stop.
    pub async fn renew(&self, id: i64, lease: Duration) -> Result<bool, QueueError> {
        let owner = self.owner.clone();
        self.call(move |c| {
            let now = now_ms();
            c.prepare_cached(
                "UPDATE jobs SET lease_until=?3
                 WHERE id=?1 AND lease_owner=?2 AND state='running'",
            )?
            .execute(params![id, &*owner, now + millis(lease)])
            .map(|n| n > 0)
        })
        .await
    }

    /// How long until the next queued job is due (None: nothing queued).
    pub async fn next_due(&self) -> Result<Option<Duration>, QueueError> {
        self.call(|c| {
            let next: Option<i64> = c.query_row(
                "SELECT MIN(t) FROM (
                    SELECT MIN(not_before) AS t FROM jobs WHERE state='queued'
                    UNION ALL
                    SELECT MIN(COALESCE(lease_until, 0)) FROM jobs WHERE state='running')",
                [],
                |r| r.get(0),
            )?;
            Ok(next.map(|t| Duration::from_millis((t - now_ms()).max(0) as u64)))
        })
        .await
    }

    /// Records a job's outcome; a job that was `superseded_by` another ends `superseded`.
    pub async fn complete(&self, id: i64, outcome: &str) -> Result<(), QueueError> {
        let outcome = outcome.to_owned();
        let owner = self.owner.clone();
        self.call(move |c| {
            c.execute(
                "UPDATE jobs SET outcome=?2, last_error=NULL, updated_at=?3, lease_owner=NULL,
                    lease_until=NULL,
                    state=CASE WHEN superseded_by IS NULL THEN 'done' ELSE 'superseded' END
                 WHERE id=?1 AND lease_owner=?4",
                params![id, outcome, now_ms(), &*owner],
            )
            .map(drop)
        })
        .await
    }

    /// Puts the job back, due after `delay`.
    pub async fn retry_later(
        &self,
        id: i64,
        delay: Duration,
        error: &str,
    ) -> Result<(), QueueError> {
        let error = error.to_owned();
        let owner = self.owner.clone();
        self.call(move |c| {
            let now = now_ms();
            c.execute(
                "UPDATE jobs SET state='queued', not_before=?2, last_error=?3, updated_at=?4,
                    lease_owner=NULL, lease_until=NULL
                 WHERE id=?1 AND lease_owner=?5",
                params![id, now + millis(delay), error, now, &*owner],
            )
            .map(drop)
        })
        .await
    }

    /// Gives up on a job for good; the reason stays in the row.
    pub async fn fail(&self, id: i64, error: &str) -> Result<(), QueueError> {
        let error = error.to_owned();
        let owner = self.owner.clone();
        self.call(move |c| {
            c.execute(
                "UPDATE jobs SET state='failed', outcome='error', last_error=?2, updated_at=?3,
                    lease_owner=NULL, lease_until=NULL
                 WHERE id=?1 AND lease_owner=?4",
                params![id, error, now_ms(), &*owner],
            )
            .map(drop)
        })
        .await
    }

    /// Puts an interrupted job back without counting the interrupted run (shutdown).
    pub async fn requeue(&self, id: i64) -> Result<(), QueueError> {
        let owner = self.owner.clone();
        self.call(move |c| {
            c.execute(
                "UPDATE jobs SET state='queued', attempts=MAX(attempts-1, 0), updated_at=?2,
                    lease_owner=NULL, lease_until=NULL
                 WHERE id=?1 AND state='running' AND lease_owner=?3",
                params![id, now_ms(), &*owner],
            )
            .map(drop)
        })
        .await
    }

    pub async fn note_id(&self, project_id: i64, iid: i64) -> Result<Option<i64>, QueueError> {
        self.call(move |c| {
            c.query_row(
                "SELECT note_id FROM mr_notes WHERE project_id=?1 AND mr_iid=?2",
                params![project_id, iid],
                |r| r.get(0),
            )
            .optional()
        })
        .await
    }

    pub async fn set_note_id(
        &self,
        project_id: i64,
        iid: i64,
        note_id: i64,
    ) -> Result<(), QueueError> {
        self.call(move |c| {
            c.execute(
                "INSERT INTO mr_notes (project_id, mr_iid, note_id) VALUES (?1, ?2, ?3)
                 ON CONFLICT (project_id, mr_iid) DO UPDATE SET note_id=excluded.note_id",
                params![project_id, iid, note_id],
            )
            .map(drop)
        })
        .await
    }

    pub async fn depth(&self) -> Result<Depth, QueueError> {
        self.call(|c| {
            let mut st = c.prepare_cached(
                "SELECT state, COUNT(*) FROM jobs WHERE state IN ('queued','running')
                 GROUP BY state",
            )?;
            let mut d = Depth::default();
            let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
            for row in rows {
                let (state, n) = row?;
                match state.as_str() {
                    "queued" => d.queued = n as u64,
                    _ => d.running = n as u64,
                }
            }
            Ok(d)
        })
        .await
    }

    /// A real write and commit: the readiness probe proves the disk takes writes.
    pub async fn probe_write(&self) -> Result<(), QueueError> {
        self.call(|c| {
            c.execute(
                "INSERT INTO meta (k, v) VALUES ('last_probe', ?1)
                 ON CONFLICT (k) DO UPDATE SET v=excluded.v",
                params![now_ms()],
            )
            .map(drop)
        })
        .await
    }

    /// Deletes finished jobs older than `age`. Recent ones stay so redeliveries stay duplicates.
    pub async fn prune(&self, age: Duration) -> Result<usize, QueueError> {
        self.call(move |c| {
            c.execute(
                "DELETE FROM jobs WHERE state IN ('done','failed','superseded')
                 AND updated_at < ?1",
                params![now_ms() - millis(age)],
            )
        })
        .await
    }

    /// [`super::Queue::projects`]. Runs on the writer thread, so it walks the indexes one project at a time (a few lookups per project): a scan of every
    /// job kept would hold every delivery's answer while it runs.
    pub async fn projects(&self) -> Result<Vec<i64>, QueueError> {
        self.call(|c| {
            c.prepare(
                "WITH RECURSIVE
                 seen(id) AS (
                    SELECT MIN(project_id) FROM jobs
                    UNION ALL
                    SELECT (SELECT MIN(project_id) FROM jobs WHERE project_id > seen.id)
                    FROM seen WHERE seen.id IS NOT NULL),
                 noted(id) AS (
                    SELECT MIN(project_id) FROM mr_notes
                    UNION ALL
                    SELECT (SELECT MIN(project_id) FROM mr_notes WHERE project_id > noted.id)
                    FROM noted WHERE noted.id IS NOT NULL)
                 SELECT id FROM seen WHERE id IS NOT NULL AND EXISTS (
                    SELECT 1 FROM jobs
                    WHERE project_id=seen.id AND (kind='push' OR mr_project_id=seen.id))
                 UNION SELECT id FROM noted WHERE id IS NOT NULL
                 ORDER BY 1",
            )?
            .query_map([], |r| r.get(0))?
            .collect()
        })
        .await
    }

    /// A job's state and last error, for tests and operators.
    pub async fn state_of(&self, id: i64) -> Result<Option<(String, Option<String>)>, QueueError> {
        self.call(move |c| {
            c.query_row(
                "SELECT state, last_error FROM jobs WHERE id=?1",
                params![id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
        })
        .await
    }

    pub async fn lock_note(
        &self,
        project_id: i64,
        iid: i64,
        job: i64,
        lease: Duration,
    ) -> Result<bool, QueueError> {
        let holder = note_holder(&self.owner, job);
        self.call(move |c| {
            let now = now_ms();
            c.prepare_cached(
                "INSERT INTO note_locks (project_id, mr_iid, holder, until) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (project_id, mr_iid) DO UPDATE
                    SET holder=excluded.holder, until=excluded.until
                    WHERE note_locks.holder=excluded.holder OR note_locks.until<?5
                 RETURNING 1",
            )?
            .query_row(
                params![project_id, iid, holder, now + millis(lease), now],
                |_| Ok(()),
            )
            .optional()
            .map(|taken| taken.is_some())
        })
        .await
    }

    pub async fn unlock_note(&self, project_id: i64, iid: i64, job: i64) -> Result<(), QueueError> {
        let holder = note_holder(&self.owner, job);
        self.call(move |c| {
            c.execute(
                "DELETE FROM note_locks WHERE project_id=?1 AND mr_iid=?2 AND holder=?3",
                params![project_id, iid, holder],
            )
            .map(drop)
        })
        .await
    }

    #[cfg(test)]
    pub async fn execute_sql(&self, sql: &str) -> Result<u64, QueueError> {
        let sql = sql.to_owned();
        self.call(move |c| c.execute(&sql, []).map(|n| n as u64))
            .await
    }

    #[cfg(test)]
    pub async fn column(&self, sql: &str) -> Result<Vec<String>, QueueError> {
        let sql = sql.to_owned();
        self.call(move |c| {
            c.prepare(&sql)?
                .query_map([], |r| {
                    Ok(match r.get_ref(0)? {
                        rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into(),
                        rusqlite::types::ValueRef::Integer(i) => i.to_string(),
                        rusqlite::types::ValueRef::Null => "NULL".into(),
                        other => format!("{other:?}"),
                    })
                })?
                .collect()
        })
        .await
    }

    /// Runs `f` on the connection in the next batch: for tests that need SQLite itself.
    #[cfg(test)]
    pub async fn with_connection<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, QueueError> {
        self.call(f).await
    }

    /// Commits what is pending and stops the writer thread.
    pub async fn close(&self) {
        let (s, r) = oneshot::channel();
        if self.tx.send(Msg::Stop(s)).is_ok() {
            let _ = r.await;
        }
    }
}

fn exec_cached(c: &Connection, sql: &str) -> rusqlite::Result<()> {
    c.prepare_cached(sql)?.execute([]).map(drop)
}

/// The writer thread: batches, savepoints, one commit per batch.
fn writer(mut conn: Connection, rx: mpsc::Receiver<Msg>) {
    let mut stop: Option<oneshot::Sender<()>> = None;
    while stop.is_none() {
        let Ok(first) = rx.recv() else { break };
        let mut batch = Vec::with_capacity(16);
        match first {
            Msg::Op(op) => batch.push(op),
            Msg::Stop(s) => stop = Some(s),
        }
        while stop.is_none() && batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(Msg::Op(op)) => batch.push(op),
                Ok(Msg::Stop(s)) => stop = Some(s),
                Err(_) => break,
            }
        }
        if batch.is_empty() {
            continue;
        }
        run_batch(&mut conn, batch);
    }
    // Closing the connection checkpoints the WAL.
    drop(conn);
    if let Some(s) = stop {
        let _ = s.send(());
    }
}

fn run_batch(conn: &mut Connection, batch: Vec<Op>) {
    let tx = match conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            let msg = e.to_string();
            for op in batch {
                op(Err(msg.clone())).1(Err(msg.clone()));
            }
            return;
        }
    };
    let mut finishers = Vec::with_capacity(batch.len());
    for op in batch {
        // Each operation in its own savepoint: one that fails leaves no half-written rows
        // behind, and the others in the batch still commit.
        // Cached statements rather than rusqlite's `Savepoint`, which parses its SQL each time:
        // this loop is the one serial part of the accept path.
        match exec_cached(&tx, "SAVEPOINT op") {
            Ok(()) => {
                let (ok, fin) = op(Ok(&tx));
                let end = if ok {
                    exec_cached(&tx, "RELEASE op")
                } else {
                    exec_cached(&tx, "ROLLBACK TO op").and_then(|()| exec_cached(&tx, "RELEASE op"))
                };
                if let Err(e) = end {
                    tracing::error!(error = %e, "cannot end a savepoint");
                }
                finishers.push(fin);
            }
            Err(e) => {
                let msg = e.to_string();
                finishers.push(op(Err(msg)).1);
            }
        }
    }
    let result = tx.commit().map_err(|e| e.to_string());
    for fin in finishers {
        fin(result.clone());
    }
}
