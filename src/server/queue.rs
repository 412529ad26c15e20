//! The durable job queue: one SQLite file in WAL mode, owned by one writer thread.
//!
//! Durability: `synchronous=FULL` by default ([`Synchronous`]), so a committed job survives a
//! power cut, not only a crash of the process. GitLab does not re-send a delivery that got a 2xx, so the 202 is a promise that
//! must outlive the machine. An fsync costs milliseconds; one per request would cap the service
//! at a few hundred events a second. So the writer thread *group-commits*: it takes every
//! operation waiting in its channel (up to [`MAX_BATCH`]), runs each in its own savepoint inside
//! one transaction, commits once, and only then answers each caller. Under load, 64 concurrent
//! webhooks share one fsync.
//!
//! Exactly once: a unique index on (project_id, sha, kind) and a partial unique index on the
//! delivery's `Idempotency-Key`. A repeated delivery finds the existing row and creates nothing.
//! A job is `queued` -> `running` -> `done` | `failed`. When a newer push to the same branch (or
//! a newer commit of the same merge request) arrives while a job is still queued, that job is
//! marked `superseded_by` the newer sha: it is not validated, but still run, to post a
//! `canceled` status on its commit (as GitLab shows an auto-canceled pipeline), and ends
//! `superseded`.
//!
//! Leases: a job is taken by one process (its `lease_owner`, an id made at open) until
//! `lease_until`; the worker running it renews the lease while it runs. A job whose lease ran out
//! (its process crashed, was killed, or hangs) is taken again by whichever process claims next,
//! and that run counts as an attempt, so a job that kills the service every time it runs ends
//! `failed` after `--max-attempts` instead of looping. A second process on the same file (a
//! mistaken second replica, an overlapping rollout) therefore never takes a job a live process
//! holds. This is the scheme a shared database (PostgreSQL) needs too; SQLite alone could have
//! used a lock file, but that would not carry over.

use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::oneshot;

/// Operations committed together at most. Bounds the latency one batch adds for its last caller.
const MAX_BATCH: usize = 512;

/// SQLite's `synchronous` setting for the queue. `Full` (the default) fsyncs the WAL on every
/// commit: an accepted event survives a power cut. `Normal` fsyncs only at checkpoints: an
/// accepted event survives a crash or kill of the process, but the last commits can be lost if
/// the machine itself goes down. For disks where an fsync is slow and that risk is acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    #[default]
    Full,
    Normal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    Push,
    MergeRequest,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Push => "push",
            JobKind::MergeRequest => "merge_request",
        }
    }
    fn parse(s: &str) -> JobKind {
        if s == "merge_request" {
            JobKind::MergeRequest
        } else {
            JobKind::Push
        }
    }
}

/// What a webhook asks for, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    pub kind: JobKind,
    /// The project the commit lives in (for a merge request: the source project).
    pub project_id: i64,
    pub sha: String,
    /// The branch (push) or source branch (merge request).
    pub ref_name: String,
    /// Where the base tree comes from. None: nothing to compare with.
    pub base: Option<Base>,
    /// For a merge request: the target project and the MR's iid (the note lives there).
    pub merge_request: Option<(i64, i64)>,
    pub event_uuid: Option<String>,
    pub idempotency_key: Option<String>,
}

/// The tree a job's findings are compared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    /// A sha or a branch name of `project`.
    Rev { project: i64, rev: String },
    /// A new branch: the merge base of the job's sha and the project's default branch, looked
    /// up when the job runs (`default_branch` None: read from the project).
    ForkPoint {
        project: i64,
        default_branch: Option<String>,
    },
}

impl NewJob {
    /// The job a merge request's new head asks for, from a delivery or the catch-up sweep alike:
    /// the source branch's commit, compared with the target branch, the note on the merge
    /// request in its target project.
    pub fn merge_request(
        source_project: i64,
        sha: String,
        source_branch: String,
        target_project: i64,
        target_branch: String,
        iid: i64,
    ) -> NewJob {
        NewJob {
            kind: JobKind::MergeRequest,
            project_id: source_project,
            sha,
            ref_name: source_branch,
            base: Some(Base::Rev {
                project: target_project,
                rev: target_branch,
            }),
            merge_request: Some((target_project, iid)),
            event_uuid: None,
            idempotency_key: None,
        }
    }

    /// Jobs with the same key replace each other while still queued.
    fn supersede_key(&self) -> String {
        match self.merge_request {
            Some((target, iid)) => format!("mr:{target}:{iid}"),
            None => format!("push:{}:{}", self.project_id, self.ref_name),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: i64,
    pub new: NewJob,
    /// Runs so far, this one included.
    pub attempts: u32,
    /// The sha of the newer push that replaced this one before it ran.
    pub superseded_by: Option<String>,
    /// A previous run stopped without a result (its process died or lost the lease).
    pub interrupted: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// A new job; `superseded` older queued jobs of the same branch or merge request.
    Accepted { id: i64, superseded: usize },
    /// The same delivery, or the same project, sha and kind, is already stored.
    Duplicate { id: i64 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueError(pub String);

impl std::fmt::Display for QueueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "queue database: {}", self.0)
    }
}

impl std::error::Error for QueueError {}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Depth {
    pub queued: u64,
    pub running: u64,
}

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
pub struct Queue {
    tx: mpsc::Sender<Msg>,
    /// This process's lease owner id.
    owner: std::sync::Arc<str>,
}

/// An owner id no other process shares: the pid, the start time and a random value (a pid is
/// reused across containers and restarts).
fn new_owner() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    format!("{}-{:016x}", std::process::id(), h.finish())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

const SCHEMA: &str = "
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
const SUPERSEDE: &str = "UPDATE jobs SET superseded_by=?4, updated_at=?1
     WHERE supersede_key=?3 AND state='queued' AND superseded_by IS NULL AND id<?2";

/// Brings a database made by an earlier version up to [`SCHEMA`].
fn migrate(conn: &Connection) -> rusqlite::Result<()> {
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

const JOB_COLUMNS: &str = "id, kind, project_id, sha, ref_name, base_project_id, base_ref, \
                           mr_project_id, mr_iid, event_uuid, idempotency_key, attempts, \
                           superseded_by, base_fork";

fn job_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Job> {
    let base_project: Option<i64> = r.get(5)?;
    let base_ref: Option<String> = r.get(6)?;
    let mr_project: Option<i64> = r.get(7)?;
    let mr_iid: Option<i64> = r.get(8)?;
    let base = match (base_project, base_ref, r.get::<_, bool>(13)?) {
        (Some(project), default_branch, true) => Some(Base::ForkPoint {
            project,
            default_branch,
        }),
        (Some(project), Some(rev), false) => Some(Base::Rev { project, rev }),
        _ => None,
    };
    Ok(Job {
        id: r.get(0)?,
        new: NewJob {
            kind: JobKind::parse(&r.get::<_, String>(1)?),
            project_id: r.get(2)?,
            sha: r.get(3)?,
            ref_name: r.get(4)?,
            base,
            merge_request: mr_project.zip(mr_iid),
            event_uuid: r.get(9)?,
            idempotency_key: r.get(10)?,
        },
        attempts: r.get(11)?,
        superseded_by: r.get(12)?,
        interrupted: false,
    })
}

impl Queue {
    /// Opens (or creates) the database, re-queues jobs a crash left running, and starts the
    /// writer thread. Returns the handle and how many jobs were recovered.
    pub fn open(path: &Path) -> Result<(Queue, usize), QueueError> {
        Self::open_with(path, Synchronous::Full)
    }

    /// [`Queue::open`] with a chosen durability.
    pub fn open_with(path: &Path, sync: Synchronous) -> Result<(Queue, usize), QueueError> {
        let err = |e: rusqlite::Error| QueueError(format!("{}: {e}", path.display()));
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| QueueError(format!("{}: {e}", parent.display())))?;
        }
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(err)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(QueueError(format!(
                "{}: cannot switch to WAL mode (got `{mode}`)",
                path.display()
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
        conn.execute_batch(SCHEMA).map_err(err)?;
        migrate(&conn).map_err(err)?;
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
            .map_err(|e| QueueError(format!("cannot start the database thread: {e}")))?;
        let owner = new_owner().into();
        Ok((Queue { tx, owner }, recovered))
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
        self.tx
            .send(Msg::Op(op))
            .map_err(|_| QueueError("the database thread has stopped".into()))?;
        r.await
            .map_err(|_| QueueError("the database thread has stopped".into()))?
            .map_err(QueueError)
    }

    /// Stores a job. Returns once it is committed to disk.
    pub async fn enqueue(&self, job: NewJob) -> Result<Enqueued, QueueError> {
        self.call(move |c| {
            let now = now_ms();
            let (base_project, base_ref, base_fork) = match &job.base {
                None => (None, None, false),
                Some(Base::Rev { project, rev }) => (Some(*project), Some(rev.as_str()), false),
                Some(Base::ForkPoint {
                    project,
                    default_branch,
                }) => (Some(*project), default_branch.as_deref(), true),
            };
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
                .query_row(
                    params![id, now, &*owner, now + lease.as_millis() as i64],
                    job_from_row,
                )?;
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
            .execute(params![id, &*owner, now + lease.as_millis() as i64])
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
                params![id, now + delay.as_millis() as i64, error, now, &*owner],
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
                params![now_ms() - age.as_millis() as i64],
            )
        })
        .await
    }

    /// The projects the service has served, for the catch-up sweep: those where a push (or a
    /// merge request within the project) was checked, and the target projects of the merge
    /// requests it wrote a note on, as far back as finished jobs are kept. Not a fork that only
    /// sent merge requests: nothing of the fork's own is served. Runs on the writer thread, so
    /// it walks the indexes one project at a time (a few lookups per project): a scan of every
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

#[cfg(test)]
mod tests {
    use super::*;

    const LEASE: Duration = Duration::from_secs(30);

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

    #[tokio::test]
    async fn duplicates_create_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (q, _) = Queue::open(&dir.path().join("q.db")).unwrap();
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

    #[tokio::test]
    async fn newer_push_supersedes_queued_older() {
        let dir = tempfile::tempdir().unwrap();
        let (q, _) = Queue::open(&dir.path().join("q.db")).unwrap();
        q.enqueue(push("a1", "main", None)).await.unwrap();
        q.enqueue(push("c3", "other", None)).await.unwrap();
        let r = q.enqueue(push("b2", "main", None)).await.unwrap();
        assert!(matches!(r, Enqueued::Accepted { superseded: 1, .. }));
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
        let states: Vec<String> = q
            .call(|c| {
                c.prepare("SELECT state FROM jobs ORDER BY id")?
                    .query_map([], |r| r.get(0))?
                    .collect()
            })
            .await
            .unwrap();
        assert_eq!(states, ["superseded", "done", "done"]);
    }

    #[tokio::test]
    async fn superseding_visits_only_replaceable_jobs() {
        let dir = tempfile::tempdir().unwrap();
        let (q, _) = Queue::open(&dir.path().join("q.db")).unwrap();
        let plan: Vec<String> = q
            .call(|c| {
                c.prepare(&format!("EXPLAIN QUERY PLAN {SUPERSEDE}"))?
                    .query_map(params![0, 0, "k", "s"], |r| r.get(3))?
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
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.db");
        // The first released schema: none of the columns added since.
        let old_schema = SCHEMA.replace(
            ",\n    superseded_by   TEXT,\n    lease_owner     TEXT,\n    lease_until     INTEGER,\n    base_fork       INTEGER NOT NULL DEFAULT 0",
            "",
        );
        assert!(!old_schema.contains("lease_owner") && !old_schema.contains("superseded_by"));
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(&old_schema).unwrap();
            c.execute(
                "INSERT INTO jobs (kind, project_id, sha, ref_name, supersede_key, state,
                    not_before, created_at, updated_at)
                 VALUES ('push', 7, 'a1', 'main', 'push:7:main', 'queued', 0, 0, 0)",
                [],
            )
            .unwrap();
        }
        let (q, _) = Queue::open(&path).unwrap();
        q.enqueue(push("b2", "main", None)).await.unwrap();
        let job = q.claim(LEASE).await.unwrap().unwrap();
        assert_eq!(
            (job.new.sha.as_str(), job.superseded_by.as_deref()),
            ("a1", Some("b2"))
        );
    }

    #[tokio::test]
    async fn a_running_job_is_taken_again_only_when_its_lease_ran_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.db");
        let (first, _) = Queue::open(&path).unwrap();
        first.enqueue(push("a1", "main", None)).await.unwrap();
        let job = first.claim(LEASE).await.unwrap().unwrap();
        assert_eq!((job.attempts, job.interrupted), (1, false));
        // A second process on the same file: the job is the first one's while its lease lives.
        let (second, recovered) = Queue::open(&path).unwrap();
        assert_eq!(recovered, 0);
        assert!(second.claim(LEASE).await.unwrap().is_none());
        assert!(first.renew(job.id, LEASE).await.unwrap());
        // The first process stops renewing (it died); once the lease is over, the job is taken
        // again and the interrupted run counts.
        second
            .call(|c| c.execute("UPDATE jobs SET lease_until=0", []))
            .await
            .unwrap();
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

    #[tokio::test]
    async fn an_expired_lease_is_recovered_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.db");
        {
            let (q, _) = Queue::open(&path).unwrap();
            q.enqueue(push("a1", "main", None)).await.unwrap();
            q.claim(Duration::ZERO).await.unwrap().unwrap();
            q.call(|c| c.execute("UPDATE jobs SET lease_until=0", []))
                .await
                .unwrap();
            q.close().await;
        }
        let (q, recovered) = Queue::open(&path).unwrap();
        assert_eq!(recovered, 1);
        let job = q.claim(LEASE).await.unwrap().unwrap();
        assert_eq!((job.new.sha.as_str(), job.attempts), ("a1", 2));
    }

    #[tokio::test]
    async fn retry_later_is_not_due_yet() {
        let dir = tempfile::tempdir().unwrap();
        let (q, _) = Queue::open(&dir.path().join("q.db")).unwrap();
        q.enqueue(push("a1", "main", None)).await.unwrap();
        let job = q.claim(LEASE).await.unwrap().unwrap();
        q.retry_later(job.id, Duration::from_secs(60), "503")
            .await
            .unwrap();
        assert!(q.claim(LEASE).await.unwrap().is_none());
        assert!(q.next_due().await.unwrap().unwrap() > Duration::from_secs(50));
    }

    #[tokio::test]
    async fn a_failing_operation_leaves_nothing_and_spares_its_batch() {
        let dir = tempfile::tempdir().unwrap();
        let (q, _) = Queue::open(&dir.path().join("q.db")).unwrap();
        let bad = q.call(|c| {
            c.execute("INSERT INTO meta (k, v) VALUES ('half', 1)", [])?;
            c.execute("INSERT INTO no_such_table VALUES (1)", [])
        });
        let good = q.enqueue(push("a1", "main", None));
        let (bad, good) = tokio::join!(bad, good);
        assert!(bad.is_err());
        assert!(matches!(good, Ok(Enqueued::Accepted { .. })));
        let half: Option<i64> = q
            .call(|c| {
                c.query_row("SELECT v FROM meta WHERE k='half'", [], |r| r.get(0))
                    .optional()
            })
            .await
            .unwrap();
        assert_eq!(
            half, None,
            "the failed operation's first statement was rolled back"
        );
    }

    #[tokio::test]
    async fn many_concurrent_enqueues_share_commits() {
        let dir = tempfile::tempdir().unwrap();
        let (q, _) = Queue::open(&dir.path().join("q.db")).unwrap();
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

    #[tokio::test]
    async fn projects_are_those_served_not_the_forks_that_only_sent_merge_requests() {
        let dir = tempfile::tempdir().unwrap();
        let (q, _) = Queue::open(&dir.path().join("q.db")).unwrap();
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
}
