//! The PostgreSQL backend: one database shared by any number of `serve` replicas.
//!
//! Every operation is one short transaction on a pooled connection, and none stays open across
//! a call to GitLab. Commits are durable as the server's `synchronous_commit` says (on, by
//! default); concurrent commits share WAL flushes in the server itself, so the pool is the
//! group commit here.
//!
//! A job is claimed with `FOR UPDATE SKIP LOCKED`: two replicas claiming at once take different
//! rows and never wait for each other. Times come from the database's clock (`nl_now_ms()`),
//! not the replicas': a lease is compared across machines, and their clocks may disagree.

use super::{
    Depth, Enqueued, JOB_COLUMNS, Job, JobKind, NewJob, QueueError, base_from_columns, millis,
    new_owner, note_holder,
};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::NoTls;

/// Connections per replica: the webhook handlers' concurrent inserts plus the workers' claims
/// and heartbeats. More would only queue inside PostgreSQL.
const POOL_SIZE: usize = 16;
/// How long an operation waits for a connection, and a new connection for the server, before
/// the operation fails (a 503 for a delivery, which GitLab may retry; a readiness failure).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The key of the advisory lock the migrations run under: any fixed number, the same in every
/// replica ("nautes-l" in ASCII).
const MIGRATION_LOCK: i64 = 0x6e61_7574_6573_2d6c;

/// The schema's versions, oldest first: version N is `MIGRATIONS[N - 1]`. Append only.
const MIGRATIONS: &[&str] = &["
CREATE FUNCTION nl_now_ms() RETURNS BIGINT LANGUAGE sql STABLE
    AS $$ SELECT (extract(epoch FROM statement_timestamp()) * 1000)::BIGINT $$;
CREATE TABLE jobs (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            TEXT    NOT NULL,
    project_id      BIGINT  NOT NULL,
    sha             TEXT    NOT NULL,
    ref_name        TEXT    NOT NULL,
    base_project_id BIGINT,
    base_ref        TEXT,
    mr_project_id   BIGINT,
    mr_iid          BIGINT,
    event_uuid      TEXT,
    idempotency_key TEXT,
    supersede_key   TEXT    NOT NULL,
    state           TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    not_before      BIGINT  NOT NULL,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL,
    outcome         TEXT,
    last_error      TEXT,
    superseded_by   TEXT,
    lease_owner     TEXT,
    lease_until     BIGINT,
    base_fork       BOOLEAN NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX jobs_once ON jobs(project_id, sha, kind);
CREATE UNIQUE INDEX jobs_delivery ON jobs(idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_ready ON jobs(state, not_before, id);
CREATE INDEX jobs_replaceable ON jobs(supersede_key)
    WHERE state='queued' AND superseded_by IS NULL;
CREATE INDEX jobs_replaced ON jobs(supersede_key, id)
    WHERE state='queued' AND superseded_by IS NOT NULL;
CREATE TABLE mr_notes (
    project_id BIGINT NOT NULL,
    mr_iid     BIGINT NOT NULL,
    note_id    BIGINT NOT NULL,
    PRIMARY KEY (project_id, mr_iid)
);
CREATE TABLE note_locks (
    project_id BIGINT NOT NULL,
    mr_iid     BIGINT NOT NULL,
    holder     TEXT   NOT NULL,
    until      BIGINT NOT NULL,
    PRIMARY KEY (project_id, mr_iid)
);
CREATE TABLE meta (k TEXT PRIMARY KEY, v BIGINT);
CREATE TABLE project_turns (project_id BIGINT PRIMARY KEY, turn BIGINT NOT NULL);
CREATE SEQUENCE project_turn;
"];

#[derive(Clone)]
pub struct Postgres {
    pool: Pool,
    /// This process's lease owner id.
    owner: Arc<str>,
}

/// A statement the server refused is a query error; anything else (no connection, a closed
/// one, a timeout) means the database is out of reach.
fn db_error(e: tokio_postgres::Error) -> QueueError {
    match e.as_db_error() {
        Some(db) => QueueError::Query(format!("{}: {}", db.code().code(), db.message())),
        None => QueueError::Unavailable(e.to_string()),
    }
}

fn pool_error(e: deadpool_postgres::PoolError) -> QueueError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => db_error(e),
        deadpool_postgres::PoolError::Closed => QueueError::Closed,
        other => QueueError::Unavailable(other.to_string()),
    }
}

fn job_from_row(r: &tokio_postgres::Row) -> Job {
    let mr_project: Option<i64> = r.get(7);
    let mr_iid: Option<i64> = r.get(8);
    Job {
        id: r.get(0),
        new: NewJob {
            kind: JobKind::parse(r.get(1)),
            project_id: r.get(2),
            sha: r.get(3),
            ref_name: r.get(4),
            base: base_from_columns(r.get(5), r.get(6), r.get(13)),
            merge_request: mr_project.zip(mr_iid),
            event_uuid: r.get(9),
            idempotency_key: r.get(10),
        },
        attempts: u32::try_from(r.get::<_, i32>(11)).unwrap_or(0),
        superseded_by: r.get(12),
        interrupted: false,
    }
}

/// Brings the schema to the newest version in one transaction under an advisory lock: replicas
/// starting at once take turns, and the later ones find the work done. PostgreSQL's DDL is
/// transactional, so a migration that fails leaves nothing half-made.
async fn migrate(client: &mut deadpool_postgres::Object) -> Result<(), tokio_postgres::Error> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_version (
            version    INTEGER PRIMARY KEY,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
        );",
    )
    .await?;
    let have: i32 = tx
        .query_one("SELECT COALESCE(MAX(version), 0) FROM schema_version", &[])
        .await?
        .get(0);
    for (version, sql) in (1..).zip(MIGRATIONS) {
        if version > have {
            tx.batch_execute(sql).await?;
            tx.execute(
                "INSERT INTO schema_version (version) VALUES ($1)",
                &[&version],
            )
            .await?;
        }
    }
    tx.commit().await
}

/// A pool of at most `max_size` connections to `url`, connecting within [`CONNECT_TIMEOUT`] and
/// waiting at most `wait` for a free connection; shared by the queue and the tenant store.
pub(crate) fn pool(
    url: &str,
    max_size: usize,
    application_name: &str,
    wait: Duration,
) -> Result<Pool, String> {
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|e: tokio_postgres::Error| e.to_string())?;
    config
        .connect_timeout(CONNECT_TIMEOUT)
        .application_name(application_name);
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(max_size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(wait))
        .create_timeout(Some(CONNECT_TIMEOUT))
        .build()
        .map_err(|e| e.to_string())
}

impl Postgres {
    pub async fn open(url: &str) -> Result<(Postgres, usize), QueueError> {
        let open_error = |reason: String| QueueError::Open {
            database: super::redact(url),
            reason,
        };
        let pool = pool(url, POOL_SIZE, "nautes-lint", CONNECT_TIMEOUT).map_err(open_error)?;
        let mut client = pool
            .get()
            .await
            .map_err(|e| open_error(pool_error(e).to_string()))?;
        migrate(&mut client)
            .await
            .map_err(|e| open_error(db_error(e).to_string()))?;
        // As for SQLite: only jobs whose lease ran out; their run counts (`claim` added it).
        let recovered = client
            .execute(
                "UPDATE jobs SET state='queued', updated_at=nl_now_ms(), lease_owner=NULL,
                    lease_until=NULL
                 WHERE state='running' AND (lease_until IS NULL OR lease_until<nl_now_ms())",
                &[],
            )
            .await
            .map_err(|e| open_error(db_error(e).to_string()))?;
        drop(client);
        Ok((
            Postgres {
                pool,
                owner: new_owner(),
            },
            usize::try_from(recovered).unwrap_or(usize::MAX),
        ))
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, QueueError> {
        self.pool.get().await.map_err(pool_error)
    }

    /// Runs one statement that changes rows; returns how many.
    async fn execute(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<u64, QueueError> {
        let c = self.client().await?;
        let st = c.prepare_cached(sql).await.map_err(db_error)?;
        c.execute(&st, params).await.map_err(db_error)
    }

    async fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Option<tokio_postgres::Row>, QueueError> {
        let c = self.client().await?;
        let st = c.prepare_cached(sql).await.map_err(db_error)?;
        c.query_opt(&st, params).await.map_err(db_error)
    }

    pub async fn enqueue(&self, job: NewJob) -> Result<Enqueued, QueueError> {
        let (base_project, base_ref, base_fork) = job.base_columns();
        let key = job.supersede_key();
        let mr_project = job.merge_request.map(|m| m.0);
        let mr_iid = job.merge_request.map(|m| m.1);
        // One statement, so one round trip and one implicit transaction: the insert, and the
        // older queued jobs of its branch or merge request marked replaced. A conflict on either
        // unique index (same project, sha and kind; same delivery) inserts nothing; it waits for
        // a concurrent insert of the same key to commit or roll back first.
        let row = self
            .query_opt(
                "WITH ins AS (
                    INSERT INTO jobs (kind, project_id, sha, ref_name, base_project_id, base_ref,
                        mr_project_id, mr_iid, event_uuid, idempotency_key, supersede_key, state,
                        not_before, created_at, updated_at, base_fork)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'queued',
                        nl_now_ms(), nl_now_ms(), nl_now_ms(), $12)
                    ON CONFLICT DO NOTHING
                    RETURNING id
                 ), sup AS (
                    UPDATE jobs SET superseded_by=$3, updated_at=nl_now_ms()
                    WHERE supersede_key=$11 AND state='queued' AND superseded_by IS NULL
                      AND id < (SELECT id FROM ins)
                    RETURNING 1
                 )
                 SELECT (SELECT id FROM ins), (SELECT COUNT(*) FROM sup)",
                &[
                    &job.kind.as_str(),
                    &job.project_id,
                    &job.sha,
                    &job.ref_name,
                    &base_project,
                    &base_ref,
                    &mr_project,
                    &mr_iid,
                    &job.event_uuid,
                    &job.idempotency_key,
                    &key,
                    &base_fork,
                ],
            )
            .await?
            .ok_or_else(|| QueueError::Query("the insert returned no row".into()))?;
        if let Some(id) = row.get::<_, Option<i64>>(0) {
            let superseded = usize::try_from(row.get::<_, i64>(1)).unwrap_or(0);
            return Ok(Enqueued::Accepted { id, superseded });
        }
        let existing = self
            .query_opt(
                "SELECT id FROM jobs
                 WHERE (project_id=$1 AND sha=$2 AND kind=$3) OR idempotency_key=$4
                 ORDER BY id LIMIT 1",
                &[
                    &job.project_id,
                    &job.sha,
                    &job.kind.as_str(),
                    &job.idempotency_key,
                ],
            )
            .await?;
        match existing {
            Some(r) => Ok(Enqueued::Duplicate { id: r.get(0) }),
            // The conflicting job was pruned between the two statements: a retry stores it.
            None => Err(QueueError::Query(
                "the job conflicted with one that is gone; try again".into(),
            )),
        }
    }

    pub async fn claim(&self, lease: Duration) -> Result<Option<Job>, QueueError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db_error)?;
        // SKIP LOCKED: a row another replica is claiming right now is passed over, not waited
        // for; the lock is ours until the commit below.
        let pick = tx
            .prepare_cached(
                "SELECT j.id, j.state='running', j.project_id, j.superseded_by IS NOT NULL,
                    j.supersede_key
                 FROM jobs j
                 LEFT JOIN project_turns t ON t.project_id=j.project_id
                 WHERE (j.state='queued' AND j.not_before<=nl_now_ms())
                    OR (j.state='running' AND (j.lease_until IS NULL OR j.lease_until<nl_now_ms()))
                 ORDER BY COALESCE(t.turn, 0), j.not_before, j.id
                 LIMIT 1
                 FOR UPDATE OF j SKIP LOCKED",
            )
            .await
            .map_err(db_error)?;
        let Some(found) = tx.query_opt(&pick, &[]).await.map_err(db_error)? else {
            return Ok(None);
        };
        let mut id: i64 = found.get(0);
        let interrupted: bool = found.get(1);
        let project: i64 = found.get(2);
        let superseded: bool = found.get(3);
        let key: String = found.get(4);
        if superseded && !interrupted {
            // As in SQLite: of a burst of replaced pushes only the newest posts `canceled`.
            // The rows another replica holds are skipped, never waited for: two claimers
            // coalescing the same branch would otherwise wait for each other's rows.
            let newest = tx
                .query_one(
                    "SELECT id FROM jobs
                     WHERE supersede_key=$1 AND state='queued' AND superseded_by IS NOT NULL
                     ORDER BY id DESC LIMIT 1 FOR UPDATE SKIP LOCKED",
                    &[&key],
                )
                .await
                .map_err(db_error)?
                .get::<_, i64>(0);
            let coalesced = tx
                .execute(
                    "UPDATE jobs SET state='superseded', outcome='coalesced',
                        updated_at=nl_now_ms()
                     WHERE id IN (SELECT id FROM jobs
                        WHERE supersede_key=$1 AND state='queued' AND superseded_by IS NOT NULL
                          AND id<$2
                        FOR UPDATE SKIP LOCKED)",
                    &[&key, &newest],
                )
                .await
                .map_err(db_error)?;
            if coalesced > 0 {
                tracing::info!(
                    replaced = coalesced,
                    "older replaced pushes end without a status; the newest says canceled"
                );
            }
            id = newest;
        }
        tx.execute(
            "INSERT INTO project_turns (project_id, turn) VALUES ($1, nextval('project_turn'))
             ON CONFLICT (project_id) DO UPDATE SET turn=excluded.turn",
            &[&project],
        )
        .await
        .map_err(db_error)?;
        let take = tx
            .prepare_cached(&format!(
                "UPDATE jobs SET state='running', attempts=attempts+1, updated_at=nl_now_ms(),
                    lease_owner=$2, lease_until=nl_now_ms()+$3
                 WHERE id=$1 RETURNING {JOB_COLUMNS}"
            ))
            .await
            .map_err(db_error)?;
        let row = tx
            .query_one(&take, &[&id, &&*self.owner, &millis(lease)])
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        let mut job = job_from_row(&row);
        job.interrupted = interrupted;
        Ok(Some(job))
    }

    pub async fn renew(&self, id: i64, lease: Duration) -> Result<bool, QueueError> {
        self.execute(
            "UPDATE jobs SET lease_until=nl_now_ms()+$3
             WHERE id=$1 AND lease_owner=$2 AND state='running'",
            &[&id, &&*self.owner, &millis(lease)],
        )
        .await
        .map(|n| n > 0)
    }

    pub async fn next_due(&self) -> Result<Option<Duration>, QueueError> {
        let row = self
            .query_opt(
                "SELECT (SELECT MIN(t) FROM (
                    SELECT MIN(not_before) AS t FROM jobs WHERE state='queued'
                    UNION ALL
                    SELECT MIN(COALESCE(lease_until, 0)) FROM jobs WHERE state='running') x)
                    - nl_now_ms()",
                &[],
            )
            .await?;
        Ok(row
            .and_then(|r| r.get::<_, Option<i64>>(0))
            .map(|ms| Duration::from_millis(ms.max(0) as u64)))
    }

    pub async fn complete(&self, id: i64, outcome: &str) -> Result<(), QueueError> {
        self.execute(
            "UPDATE jobs SET outcome=$2, last_error=NULL, updated_at=nl_now_ms(),
                lease_owner=NULL, lease_until=NULL,
                state=CASE WHEN superseded_by IS NULL THEN 'done' ELSE 'superseded' END
             WHERE id=$1 AND lease_owner=$3",
            &[&id, &outcome, &&*self.owner],
        )
        .await
        .map(drop)
    }

    pub async fn retry_later(
        &self,
        id: i64,
        delay: Duration,
        error: &str,
    ) -> Result<(), QueueError> {
        self.execute(
            "UPDATE jobs SET state='queued', not_before=nl_now_ms()+$2, last_error=$3,
                updated_at=nl_now_ms(), lease_owner=NULL, lease_until=NULL
             WHERE id=$1 AND lease_owner=$4",
            &[&id, &millis(delay), &error, &&*self.owner],
        )
        .await
        .map(drop)
    }

    pub async fn fail(&self, id: i64, error: &str) -> Result<(), QueueError> {
        self.execute(
            "UPDATE jobs SET state='failed', outcome='error', last_error=$2,
                updated_at=nl_now_ms(), lease_owner=NULL, lease_until=NULL
             WHERE id=$1 AND lease_owner=$3",
            &[&id, &error, &&*self.owner],
        )
        .await
        .map(drop)
    }

    pub async fn requeue(&self, id: i64) -> Result<(), QueueError> {
        self.execute(
            "UPDATE jobs SET state='queued', attempts=GREATEST(attempts-1, 0),
                updated_at=nl_now_ms(), lease_owner=NULL, lease_until=NULL
             WHERE id=$1 AND state='running' AND lease_owner=$2",
            &[&id, &&*self.owner],
        )
        .await
        .map(drop)
    }

    pub async fn note_id(&self, project_id: i64, iid: i64) -> Result<Option<i64>, QueueError> {
        Ok(self
            .query_opt(
                "SELECT note_id FROM mr_notes WHERE project_id=$1 AND mr_iid=$2",
                &[&project_id, &iid],
            )
            .await?
            .map(|r| r.get(0)))
    }

    pub async fn set_note_id(
        &self,
        project_id: i64,
        iid: i64,
        note_id: i64,
    ) -> Result<(), QueueError> {
        self.execute(
            "INSERT INTO mr_notes (project_id, mr_iid, note_id) VALUES ($1, $2, $3)
             ON CONFLICT (project_id, mr_iid) DO UPDATE SET note_id=excluded.note_id",
            &[&project_id, &iid, &note_id],
        )
        .await
        .map(drop)
    }

    pub async fn lock_note(
        &self,
        project_id: i64,
        iid: i64,
        job: i64,
        lease: Duration,
    ) -> Result<bool, QueueError> {
        let holder = note_holder(&self.owner, job);
        // The conflicting row is locked while its condition is checked, so two replicas
        // taking an expired lock at once cannot both succeed.
        self.query_opt(
            "INSERT INTO note_locks (project_id, mr_iid, holder, until)
             VALUES ($1, $2, $3, nl_now_ms()+$4)
             ON CONFLICT (project_id, mr_iid) DO UPDATE
                SET holder=excluded.holder, until=excluded.until
                WHERE note_locks.holder=excluded.holder OR note_locks.until<nl_now_ms()
             RETURNING 1",
            &[&project_id, &iid, &holder, &millis(lease)],
        )
        .await
        .map(|r| r.is_some())
    }

    pub async fn unlock_note(&self, project_id: i64, iid: i64, job: i64) -> Result<(), QueueError> {
        let holder = note_holder(&self.owner, job);
        self.execute(
            "DELETE FROM note_locks WHERE project_id=$1 AND mr_iid=$2 AND holder=$3",
            &[&project_id, &iid, &holder],
        )
        .await
        .map(drop)
    }

    pub async fn depth(&self) -> Result<Depth, QueueError> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT state, COUNT(*) FROM jobs WHERE state IN ('queued','running')
                 GROUP BY state",
                &[],
            )
            .await
            .map_err(db_error)?;
        let mut d = Depth::default();
        for r in rows {
            let n = u64::try_from(r.get::<_, i64>(1)).unwrap_or(0);
            match r.get::<_, &str>(0) {
                "queued" => d.queued = n,
                _ => d.running = n,
            }
        }
        Ok(d)
    }

    pub async fn probe_write(&self) -> Result<(), QueueError> {
        self.execute(
            "INSERT INTO meta (k, v) VALUES ('last_probe', nl_now_ms())
             ON CONFLICT (k) DO UPDATE SET v=excluded.v",
            &[],
        )
        .await
        .map(drop)
    }

    pub async fn prune(&self, age: Duration) -> Result<usize, QueueError> {
        self.execute(
            "DELETE FROM jobs WHERE state IN ('done','failed','superseded')
             AND updated_at < nl_now_ms()-$1",
            &[&millis(age)],
        )
        .await
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
    }

    /// [`super::Queue::projects`]. A plain scan: readers do not hold up writers here, and the
    /// sweep asks once per interval.
    pub async fn projects(&self) -> Result<Vec<i64>, QueueError> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT project_id FROM jobs WHERE kind='push' OR mr_project_id=project_id
                 UNION SELECT project_id FROM mr_notes ORDER BY 1",
                &[],
            )
            .await
            .map_err(db_error)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    pub async fn state_of(&self, id: i64) -> Result<Option<(String, Option<String>)>, QueueError> {
        Ok(self
            .query_opt("SELECT state, last_error FROM jobs WHERE id=$1", &[&id])
            .await?
            .map(|r| (r.get(0), r.get(1))))
    }

    /// Every operation commits before it returns: closing only drops the connections.
    pub async fn close(&self) {
        self.pool.close();
    }

    #[cfg(test)]
    pub async fn execute_sql(&self, sql: &str) -> Result<u64, QueueError> {
        self.execute(sql, &[]).await
    }

    #[cfg(test)]
    pub async fn column(&self, sql: &str) -> Result<Vec<String>, QueueError> {
        let c = self.client().await?;
        // The simple protocol answers in text, whatever the column's type.
        let messages = c.simple_query(sql).await.map_err(db_error)?;
        Ok(messages
            .into_iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => {
                    Some(r.get(0).unwrap_or("NULL").to_owned())
                }
                _ => None,
            })
            .collect())
    }
}

/// A fresh database on the test PostgreSQL (`NAUTES_LINT_TEST_POSTGRES`, which
/// scripts/pg-test.sh sets), for one test; None when no test PostgreSQL is given (the test then
/// skips, and says so), except under CI, where a skipped backend would pass unnoticed.
#[doc(hidden)]
pub async fn test_database() -> Option<String> {
    let Ok(url) = std::env::var("NAUTES_LINT_TEST_POSTGRES") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "NAUTES_LINT_TEST_POSTGRES is not set, and CI is: run the tests through \
             scripts/pg-test.sh"
        );
        eprintln!("skipped: NAUTES_LINT_TEST_POSTGRES is not set (see scripts/pg-test.sh)");
        return None;
    };
    Some(
        scratch_database(&url)
            .await
            .expect("a fresh database on the test PostgreSQL"),
    )
}

/// Creates an empty database next to the one `url` names and returns its URL: each test gets
/// its own. `url` must end in a database name (`postgres://user@host:port/postgres`).
async fn scratch_database(url: &str) -> Result<String, QueueError> {
    let unreachable = |e: tokio_postgres::Error| QueueError::Unavailable(e.to_string());
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .map_err(unreachable)?;
    tokio::spawn(connection);
    let name = format!(
        "nautes_lint_test_{}",
        new_owner().replace(|c: char| !c.is_ascii_alphanumeric(), "_")
    );
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .map_err(db_error)?;
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let prefix = base
        .rsplit_once('/')
        .filter(|(p, _)| p.contains("://") && !p.ends_with('/'))
        .map(|(p, _)| p)
        .ok_or_else(|| QueueError::Query(format!("{url}: no database name at the end")))?;
    Ok(format!("{prefix}/{name}{query}"))
}
