//! The durable job queue, on one of two backends: an SQLite file (the embedded default, one
//! process) or a PostgreSQL database shared by any number of replicas. Both keep the same
//! guarantees, and one test suite runs against both.
//!
//! Durability: a delivery is answered 202 only once its job is committed. GitLab does not
//! re-send a delivery that got a 2xx, so the 202 is a promise that must outlive the machine.
//!
//! Exactly once: a unique index on (project_id, sha, kind) and a partial unique index on the
//! delivery's `Idempotency-Key`. A repeated delivery finds the existing row and creates nothing.
//! A job is `queued` -> `running` -> `done` | `failed`. When a newer push to the same branch (or
//! a newer commit of the same merge request) arrives while a job is still queued, that job is
//! marked `superseded_by` the newer sha: it is not validated, but still run, to post a
//! `canceled` status on its commit (as GitLab shows an auto-canceled pipeline), and ends
//! `superseded`. A burst of replaced jobs is coalesced when one of them is claimed: only the
//! newest posts `canceled`.
//!
//! Leases: a job is taken by one process (its `lease_owner`, an id made at open) until
//! `lease_until`; the worker running it renews the lease while it runs (a heartbeat). A job
//! whose lease ran out (its process crashed, was killed, or hangs) is taken again by whichever
//! process claims next, and that run counts as an attempt, so a job that kills the service every
//! time it runs ends `failed` after `--max-attempts` instead of looping. A live process's job is
//! never taken by another. The merge request's summary note has a lease of its own
//! ([`Queue::lock_note`]), so two jobs of one merge request never both create a note.
//!
//! Schema: each backend has a list of versioned migrations, recorded in `schema_version` and run
//! at open under a lock (SQLite's write lock, a PostgreSQL advisory lock), so two replicas that
//! start at once migrate once.

pub(crate) mod postgres;
mod sqlite;

pub use postgres::test_database;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where the queue lives: `--database` / `NAUTES_LINT_DATABASE`.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// An SQLite file, created if missing.
    Sqlite(PathBuf),
    /// A `postgres://` or `postgresql://` URL.
    Postgres(String),
}

impl Database {
    /// An SQLite path, or a PostgreSQL URL. Anything else that looks like a URL (`scheme://`)
    /// is refused: taken for a file name, `mysql://host/db` would quietly become a local file
    /// and every replica would keep its own queue.
    pub fn parse(s: &str) -> Result<Database, String> {
        let Some((scheme, _)) = s.split_once("://") else {
            return Ok(Database::Sqlite(PathBuf::from(s)));
        };
        let is_scheme = !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if !is_scheme {
            return Ok(Database::Sqlite(PathBuf::from(s)));
        }
        match scheme.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" => Ok(Database::Postgres(s.to_owned())),
            other => Err(format!(
                "--database `{}`: `{other}://` is not supported; give an SQLite file path or a \
                 postgres:// URL",
                redact(s)
            )),
        }
    }
}

/// The URL or path without a password, for logs and errors.
impl std::fmt::Display for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::Sqlite(p) => write!(f, "{}", p.display()),
            Database::Postgres(url) => f.write_str(&redact(url)),
        }
    }
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Database({self})")
    }
}

/// `scheme://user:password@host/...` with the password replaced.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => match rest[..at].split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***{}", &rest[at..]),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// SQLite's `synchronous` setting for the queue. `Full` (the default) fsyncs the WAL on every
/// commit: an accepted event survives a power cut. `Normal` fsyncs only at checkpoints: an
/// accepted event survives a crash or kill of the process, but the last commits can be lost if
/// the machine itself goes down. For disks where an fsync is slow and that risk is acceptable.
/// PostgreSQL follows the server's own `synchronous_commit`.
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

    /// The base as stored: (base_project_id, base_ref, base_fork).
    fn base_columns(&self) -> (Option<i64>, Option<&str>, bool) {
        match &self.base {
            None => (None, None, false),
            Some(Base::Rev { project, rev }) => (Some(*project), Some(rev.as_str()), false),
            Some(Base::ForkPoint {
                project,
                default_branch,
            }) => (Some(*project), default_branch.as_deref(), true),
        }
    }
}

/// The base read back from its columns; the inverse of [`NewJob::base_columns`].
fn base_from_columns(project: Option<i64>, rev: Option<String>, fork: bool) -> Option<Base> {
    match (project, rev, fork) {
        (Some(project), default_branch, true) => Some(Base::ForkPoint {
            project,
            default_branch,
        }),
        (Some(project), Some(rev), false) => Some(Base::Rev { project, rev }),
        _ => None,
    }
}

/// The columns both backends read a [`Job`] from, in this order.
const JOB_COLUMNS: &str = "id, kind, project_id, sha, ref_name, base_project_id, base_ref, \
                           mr_project_id, mr_iid, event_uuid, idempotency_key, attempts, \
                           superseded_by, base_fork";

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

/// What went wrong, sorted so a caller can act on it: at start, [`QueueError::Open`] is a
/// configuration problem; later, [`QueueError::Unavailable`] is usually transient (the database
/// restarts, the network hiccups) while [`QueueError::Query`] is a statement the database refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// The database cannot be opened, created or migrated.
    #[error("queue database {database}: {reason}")]
    Open { database: String, reason: String },
    /// No connection: the database is down, unreachable, or refuses this client.
    #[error("queue database unreachable: {0}")]
    Unavailable(String),
    /// A statement or its commit failed.
    #[error("queue database: {0}")]
    Query(String),
    /// The queue was closed (the service is stopping).
    #[error("queue database: closed")]
    Closed,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Depth {
    pub queued: u64,
    pub running: u64,
}

/// A handle to the queue; cheap to clone.
#[derive(Clone)]
pub struct Queue(Backend);

#[derive(Clone)]
enum Backend {
    Sqlite(sqlite::Sqlite),
    Postgres(postgres::Postgres),
}

/// Calls the same method on whichever backend the queue has.
macro_rules! dispatch {
    ($self:ident.$method:ident($($arg:expr),*)) => {
        match &$self.0 {
            Backend::Sqlite(b) => b.$method($($arg),*).await,
            Backend::Postgres(b) => b.$method($($arg),*).await,
        }
    };
}

/// An owner id no other process shares: the pid, the start time and a random value (a pid is
/// reused across containers and restarts).
fn new_owner() -> Arc<str> {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    format!("{}-{:016x}", std::process::id(), h.finish()).into()
}

/// Who holds a note lock: one job of one process (two workers of a process share its owner id).
fn note_holder(owner: &str, job: i64) -> String {
    format!("{owner}/{job}")
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Queue {
    /// Opens (or creates) an SQLite queue; see [`Queue::connect`].
    pub fn open(path: &Path) -> Result<(Queue, usize), QueueError> {
        Self::open_with(path, Synchronous::Full)
    }

    /// [`Queue::open`] with a chosen durability.
    pub fn open_with(path: &Path, sync: Synchronous) -> Result<(Queue, usize), QueueError> {
        let (b, recovered) = sqlite::Sqlite::open(path, sync)?;
        Ok((Queue(Backend::Sqlite(b)), recovered))
    }

    /// Opens the queue `database` names, brings its schema up to date, and re-queues the jobs
    /// whose lease ran out (their process died). Returns the handle and how many jobs were
    /// recovered.
    pub async fn connect(
        database: &Database,
        sync: Synchronous,
    ) -> Result<(Queue, usize), QueueError> {
        match database {
            Database::Sqlite(path) => Self::open_with(path, sync),
            Database::Postgres(url) => {
                let (b, recovered) = postgres::Postgres::open(url).await?;
                Ok((Queue(Backend::Postgres(b)), recovered))
            }
        }
    }

    /// The longest an idle worker waits before looking for a job again. The process's own
    /// deliveries wake its workers at once; jobs stored by another replica of a shared database
    /// wake no one here, so on PostgreSQL idle workers poll (a cheap indexed query).
    pub fn idle_wait(&self) -> Duration {
        match &self.0 {
            Backend::Sqlite(_) => Duration::from_secs(60),
            Backend::Postgres(_) => Duration::from_secs(1),
        }
    }

    /// Stores a job. Returns once it is committed.
    pub async fn enqueue(&self, job: NewJob) -> Result<Enqueued, QueueError> {
        dispatch!(self.enqueue(job))
    }

    /// Takes a job that is due, or a running one whose lease ran out, marks it running under
    /// this process's lease for `lease`, and counts the run. Projects take turns: the job comes
    /// from the project whose last turn is oldest (never: first), oldest job first within it,
    /// so one project's burst of pushes delays another project's push by one job per worker,
    /// not by the whole burst.
    pub async fn claim(&self, lease: Duration) -> Result<Option<Job>, QueueError> {
        dispatch!(self.claim(lease))
    }

    /// Extends this process's lease on a running job. `false`: the lease is no longer ours
    /// (it ran out and another run took the job, or the job ended); the run must stop.
    pub async fn renew(&self, id: i64, lease: Duration) -> Result<bool, QueueError> {
        dispatch!(self.renew(id, lease))
    }

    /// How long until the next queued job is due (None: nothing queued).
    pub async fn next_due(&self) -> Result<Option<Duration>, QueueError> {
        dispatch!(self.next_due())
    }

    /// Records a job's outcome; a job that was `superseded_by` another ends `superseded`.
    pub async fn complete(&self, id: i64, outcome: &str) -> Result<(), QueueError> {
        dispatch!(self.complete(id, outcome))
    }

    /// Puts the job back, due after `delay`.
    pub async fn retry_later(
        &self,
        id: i64,
        delay: Duration,
        error: &str,
    ) -> Result<(), QueueError> {
        dispatch!(self.retry_later(id, delay, error))
    }

    /// Gives up on a job for good; the reason stays in the row.
    pub async fn fail(&self, id: i64, error: &str) -> Result<(), QueueError> {
        dispatch!(self.fail(id, error))
    }

    /// Puts an interrupted job back without counting the interrupted run (shutdown).
    pub async fn requeue(&self, id: i64) -> Result<(), QueueError> {
        dispatch!(self.requeue(id))
    }

    pub async fn note_id(&self, project_id: i64, iid: i64) -> Result<Option<i64>, QueueError> {
        dispatch!(self.note_id(project_id, iid))
    }

    pub async fn set_note_id(
        &self,
        project_id: i64,
        iid: i64,
        note_id: i64,
    ) -> Result<(), QueueError> {
        dispatch!(self.set_note_id(project_id, iid, note_id))
    }

    /// Takes the merge request's note lock for `job`, for `lease`. `false`: another job (of
    /// this process or another replica) holds it; try again later. A lease rather than a lock
    /// held in an open transaction: writing the note takes GitLab calls, and a transaction must
    /// not stay open across them (it would pin a connection and the database's cleanup for as
    /// long as GitLab takes). A holder that dies frees it when the lease runs out.
    pub async fn lock_note(
        &self,
        project_id: i64,
        iid: i64,
        job: i64,
        lease: Duration,
    ) -> Result<bool, QueueError> {
        dispatch!(self.lock_note(project_id, iid, job, lease))
    }

    /// Frees the note lock `job` holds (nothing if it holds none).
    pub async fn unlock_note(&self, project_id: i64, iid: i64, job: i64) -> Result<(), QueueError> {
        dispatch!(self.unlock_note(project_id, iid, job))
    }

    pub async fn depth(&self) -> Result<Depth, QueueError> {
        dispatch!(self.depth())
    }

    /// A real write and commit: the readiness probe proves the database takes writes.
    pub async fn probe_write(&self) -> Result<(), QueueError> {
        dispatch!(self.probe_write())
    }

    /// Deletes finished jobs older than `age`. Recent ones stay so redeliveries stay duplicates.
    pub async fn prune(&self, age: Duration) -> Result<usize, QueueError> {
        dispatch!(self.prune(age))
    }

    /// The projects the service has served, for the catch-up sweep: those where a push (or a
    /// merge request within the project) was checked, and the target projects of the merge
    /// requests it wrote a note on, as far back as finished jobs are kept. Not a fork that only
    /// sent merge requests: nothing of the fork's own is served.
    pub async fn projects(&self) -> Result<Vec<i64>, QueueError> {
        dispatch!(self.projects())
    }

    /// A job's state and last error, for tests and operators.
    pub async fn state_of(&self, id: i64) -> Result<Option<(String, Option<String>)>, QueueError> {
        dispatch!(self.state_of(id))
    }

    /// Commits what is pending and closes the database.
    pub async fn close(&self) {
        dispatch!(self.close())
    }

    /// Runs one statement of test set-up (SQL both backends read alike); returns rows changed.
    #[cfg(test)]
    async fn execute_sql(&self, sql: &str) -> Result<u64, QueueError> {
        dispatch!(self.execute_sql(sql))
    }

    /// The first column of every row of `sql`, as text.
    #[cfg(test)]
    async fn column(&self, sql: &str) -> Result<Vec<String>, QueueError> {
        dispatch!(self.column(sql))
    }
}

#[cfg(test)]
mod tests;
