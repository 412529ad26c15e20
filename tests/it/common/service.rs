//! The webhook service binary under test: started on 127.0.0.1 against a fake GitLab, with
//! the deliveries the tests send and readers of its SQLite file.

use super::fake_gitlab::{Call, FakeGitLab, tar_gz_of_dir};
use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::fixture_tree;

pub const SECRET: &str = "test-webhook-secret-6f1d0c";
pub const TOKEN: &str = "glpat-test-token-93ab77";
pub const BIN: &str = env!("CARGO_BIN_EXE_nautes-lint");
pub const WAIT: Duration = Duration::from_secs(60);

pub const CLEAN: &str = "cccc111122223333444455556666777788889999";
pub const BROKEN: &str = "bbbb111122223333444455556666777788889999";
pub const BROKEN2: &str = "bbbb222222223333444455556666777788889999";
pub const BASE: &str = "aaaa111122223333444455556666777788889999";
pub const ZERO: &str = "0000000000000000000000000000000000000000";

pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

pub fn payload(name: &str) -> serde_json::Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(p).expect("payload")).expect("json")
}

pub fn push(after: &str, before: &str) -> String {
    let mut v = payload("push.json");
    v["after"] = after.into();
    v["checkout_sha"] = if after == ZERO {
        serde_json::Value::Null
    } else {
        after.into()
    };
    v["before"] = before.into();
    v.to_string()
}

pub fn merge_request(action: &str, sha: &str, oldrev: Option<&str>) -> String {
    let mut v = payload("merge_request.json");
    v["object_attributes"]["action"] = action.into();
    v["object_attributes"]["last_commit"]["id"] = sha.into();
    if let Some(o) = oldrev {
        v["object_attributes"]["oldrev"] = o.into();
    }
    v.to_string()
}

/// A fake GitLab serving the fixture trees under the shas the tests use.
pub async fn gitlab() -> FakeGitLab {
    let gl = FakeGitLab::start(TOKEN).await;
    let demo = tar_gz_of_dir(&fixture("valid/demo"), "default-project-x-x");
    gl.add_archive(CLEAN, demo.clone());
    gl.add_archive(BASE, demo.clone());
    gl.add_archive("main", demo);
    gl.add_archive(
        BROKEN,
        tar_gz_of_dir(
            &fixture_tree::invalid_fixture("dr-environment-not-found"),
            "p-b-b",
        ),
    );
    gl.add_archive(
        BROKEN2,
        tar_gz_of_dir(
            &fixture_tree::invalid_fixture("dr-project-not-found"),
            "p-b2-b2",
        ),
    );
    gl
}

/// The service binary as a child process, its JSON log lines collected.
pub struct Service {
    pub child: Child,
    pub addr: String,
    pub logs: Arc<Mutex<Vec<String>>>,
    /// The folder of the database of [`Service::start_temp`], removed after the process ends.
    dir: Option<tempfile::TempDir>,
}

impl Service {
    pub async fn start(gitlab: &str, db: impl AsRef<OsStr>, extra: &[&str]) -> Service {
        Self::start_env(gitlab, db, extra, &[]).await
    }

    /// On a new database in a temporary folder that lives as long as the Service ([`Service::db`]).
    pub async fn start_temp(gitlab: &str, extra: &[&str]) -> Service {
        Self::start_temp_env(gitlab, extra, &[]).await
    }

    pub async fn start_temp_env(gitlab: &str, extra: &[&str], env: &[(&str, &str)]) -> Service {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut svc = Self::start_env(gitlab, &dir.path().join("q.db"), extra, env).await;
        svc.dir = Some(dir);
        svc
    }

    /// The database of a service from [`Service::start_temp`], for reading it or for another
    /// service on it while this one is alive.
    pub fn db(&self) -> PathBuf {
        let dir = self
            .dir
            .as_ref()
            .expect("a service from Service::start_temp");
        dir.path().join("q.db")
    }

    pub async fn start_env(
        gitlab: &str,
        db: impl AsRef<OsStr>,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Service {
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--gitlab-url", gitlab])
            .arg("--database")
            .arg(db)
            .args(["--retry-base-ms", "50"])
            .args(extra)
            .env_remove("NAUTES_LINT_WEBHOOK_SIGNING_TOKEN")
            .env("NAUTES_LINT_WEBHOOK_SECRET", SECRET)
            .env("NAUTES_LINT_GITLAB_TOKEN", TOKEN)
            .env("NAUTES_LINT_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        Self::spawn(cmd).await
    }

    /// Starts `cmd` (a `serve` command) and waits for its "listening" log line.
    pub async fn spawn(mut cmd: Command) -> Service {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start the service");
        let logs = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            Box::new(child.stdout.take().expect("stdout")) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().expect("stderr")),
        ] {
            let logs = logs.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    logs.lock().unwrap().push(line);
                }
            });
        }
        let deadline = Instant::now() + WAIT;
        let addr = loop {
            let found = logs.lock().unwrap().iter().find_map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).ok()?;
                (v["message"] == "listening").then(|| v["addr"].as_str().map(str::to_owned))?
            });
            if let Some(a) = found {
                break a;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "the service exited with {status}: {:#?}",
                    logs.lock().unwrap()
                );
            }
            assert!(Instant::now() < deadline, "the service did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        Service {
            child,
            addr,
            logs,
            dir: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The `/metrics` page.
    pub async fn metrics(&self) -> String {
        let resp = reqwest::get(self.url("/metrics")).await.expect("metrics");
        resp.text().await.expect("metrics text")
    }

    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    pub async fn wait_log(&self, needle: &str) {
        let deadline = Instant::now() + WAIT;
        while !self.logs().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "no log line with {needle:?}:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL: no chance to clean up, as in a crash or an OOM kill.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }

    pub fn sigterm(&self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill -TERM failed");
    }

    pub async fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "the service did not exit:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn assert_no_secrets(&self) {
        let logs = self.logs();
        assert!(!logs.contains(SECRET), "the webhook secret was logged");
        assert!(!logs.contains(TOKEN), "the GitLab token was logged");
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub async fn post(
    svc: &Service,
    event: &str,
    body: impl Into<reqwest::Body>,
    token: Option<&str>,
    headers: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    let mut rb = reqwest::Client::new()
        .post(svc.url("/webhook/gitlab"))
        .header("content-type", "application/json")
        .header("X-Gitlab-Event", event)
        .body(body);
    if let Some(t) = token {
        rb = rb.header("X-Gitlab-Token", t);
    }
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    let resp = rb.send().await.expect("post");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(text.into()))
}

/// The query (`sha=...`) of every archive download the fake GitLab saw, in order.
pub fn archive_downloads(gl: &FakeGitLab) -> Vec<String> {
    gl.calls()
        .into_iter()
        .filter(|c| c.path.ends_with("/repository/archive.tar.gz"))
        .map(|c| c.query)
        .collect()
}

/// An authenticated `Merge Request Hook` of [`merge_request`].
pub async fn post_mr(
    svc: &Service,
    action: &str,
    sha: &str,
    oldrev: Option<&str>,
) -> (u16, serde_json::Value) {
    let body = merge_request(action, sha, oldrev);
    post(svc, "Merge Request Hook", body, Some(SECRET), &[]).await
}

pub fn finals(calls: &[Call], sha: &str) -> usize {
    calls
        .iter()
        .filter(|c| {
            c.path.ends_with(&format!("/statuses/{sha}"))
                && c.answered < 300
                && matches!(c.body["state"].as_str(), Some("success" | "failed"))
        })
        .count()
}

/// (id, state, sha, last_error) of every job, read straight from the SQLite file.
pub fn jobs(db: &Path) -> Vec<(i64, String, String, Option<String>)> {
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("open db");
    let mut st = c
        .prepare("SELECT id, state, sha, last_error FROM jobs ORDER BY id")
        .expect("prepare");
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .expect("query")
        .map(Result::unwrap)
        .collect()
}

/// The service with one job in flight: a broken push whose `pending` status is posted and
/// whose archive download the fake GitLab holds until `hold_archives(false)`.
pub async fn job_in_flight(gl: &FakeGitLab, db: impl AsRef<OsStr>, extra: &[&str]) -> Service {
    gl.hold_archives(true);
    let svc = Service::start(&gl.url, db, extra).await;
    let (code, _) = post(&svc, "Push Hook", push(BROKEN, BASE), Some(SECRET), &[]).await;
    assert_eq!(code, 202);
    gl.wait_for("pending", WAIT, |c| {
        c.iter().any(|c| c.body["state"] == "pending")
    })
    .await;
    svc
}

/// Waits until job `index` (0-based, in insertion order) is in `state`: the final status is
/// posted a moment before the job's row records it.
pub async fn wait_state(db: &Path, index: usize, state: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let j = jobs(db);
        if j.get(index).is_some_and(|r| r.1 == state) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "job {index} never became {state}: {j:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The queue of a service under test: an SQLite file, or a fresh database of the test
/// PostgreSQL (`NAUTES_LINT_TEST_POSTGRES`, see scripts/pg-test.sh).
pub enum Db {
    Sqlite {
        path: PathBuf,
        /// Keeps the folder (and the file) as long as the test holds the `Db`.
        _dir: tempfile::TempDir,
    },
    Postgres(String),
}

impl Db {
    pub fn sqlite() -> Db {
        let dir = tempfile::tempdir().expect("tempdir");
        Db::Sqlite {
            path: dir.path().join("q.db"),
            _dir: dir,
        }
    }

    /// None (the test is skipped, and says so) without a test PostgreSQL, except under CI,
    /// where a skipped backend would pass unnoticed.
    pub async fn postgres() -> Option<Db> {
        Some(Db::Postgres(
            nautes_lint::server::queue::test_database().await?,
        ))
    }

    /// A client of the PostgreSQL database (panics for SQLite).
    pub async fn pg_client(&self) -> tokio_postgres::Client {
        let Db::Postgres(url) = self else {
            panic!("not a PostgreSQL database")
        };
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .expect("connect to the test database");
        tokio::spawn(conn);
        client
    }

    /// (id, state, sha, last_error) of every job.
    pub async fn jobs(&self) -> Vec<(i64, String, String, Option<String>)> {
        match self {
            Db::Sqlite { path, .. } => jobs(path),
            Db::Postgres(_) => self
                .pg_client()
                .await
                .query(
                    "SELECT id, state, sha, last_error FROM jobs ORDER BY id",
                    &[],
                )
                .await
                .expect("read the jobs")
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
                .collect(),
        }
    }

    /// Waits until job `index` (0-based, in insertion order) is in `state`.
    pub async fn wait_state(&self, index: usize, state: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let j = self.jobs().await;
            if j.get(index).is_some_and(|r| r.1 == state) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "job {index} never became {state}: {j:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// What `--database` gets.
impl AsRef<OsStr> for Db {
    fn as_ref(&self) -> &OsStr {
        match self {
            Db::Sqlite { path, .. } => path.as_os_str(),
            Db::Postgres(url) => OsStr::new(url),
        }
    }
}

/// `async fn name(db: Db) { ... }` becomes the tests `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! on_both {
    ($(
        $(#[$doc:meta])*
        async fn $name:ident($db:ident: Db) $body:block
    )*) => {$(
        $(#[$doc])*
        mod $name {
            use super::*;
            async fn run($db: Db) $body
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run(Db::sqlite()).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = Db::postgres().await {
                    run(db).await
                }
            }
        }
    )*};
}
