//! A fake GitLab API for the webhook service: serves repository archives built from fixture
//! trees, takes commit statuses (and lists them back) and merge-request notes (each with its
//! author: the token's user may edit only its own, as on GitLab), answers `GET /user`,
//! `GET /projects/:id` (or its path), `merge_base`, and for the catch-up the branches, the open
//! merge requests and a group's projects, paginated as GitLab does, and for the tenant context
//! the `default.project` search and per-project archives; records every call, and can
//! be told to fail (503, 429, a malformed body) or to hold archive downloads until released
//! (before the answer, or in the middle of its body). Merge requests have diff versions, diffs
//! and discussions (review threads): a thread's position is checked against the latest version
//! and the diff's hunks as GitLab does, and one outside them gets GitLab's 400. Shared by
//! the service tests and `examples/fake_gitlab.rs` (the benchmark).

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub query: String,
    pub token: Option<String>,
    pub event_uuid: Option<String>,
    /// The JSON body (statuses, notes), or Null.
    pub body: serde_json::Value,
    /// The status the fake answered.
    pub answered: u16,
}

struct Fault {
    /// Matched against "METHOD /path".
    pattern: String,
    status: u16,
    retry_after: Option<u64>,
    /// Sent as is instead of GitLab's JSON error message.
    body: Option<String>,
}

/// A merge request's discussion as the fake keeps it.
#[derive(Debug, Clone)]
pub struct Discussion {
    pub id: String,
    /// (note id, body, author id)
    pub notes: Vec<(i64, String, i64)>,
    pub resolved: bool,
    /// The `position` it was opened with.
    pub position: serde_json::Value,
}

impl Discussion {
    fn json(&self) -> serde_json::Value {
        let notes: Vec<_> = self
            .notes
            .iter()
            .enumerate()
            .map(|(i, (id, body, author))| {
                serde_json::json!({"id": id, "type": "DiffNote", "body": body,
                    "author": {"id": author, "username": format!("user-{author}")},
                    "system": false, "resolvable": true, "resolved": self.resolved,
                    "position": if i == 0 { self.position.clone() } else { serde_json::Value::Null }})
            })
            .collect();
        serde_json::json!({"id": self.id, "individual_note": false, "notes": notes})
    }
}

/// The user the API token belongs to (notes it posts are its own).
pub const TOKEN_USER: i64 = 99;
/// The author of notes added with [`FakeGitLab::add_note`]: a person, not the token.
pub const HUMAN_USER: i64 = 7;

#[derive(Default)]
struct Inner {
    archives: HashMap<String, Arc<Vec<u8>>>,
    /// Served for revisions without their own archive (the benchmark).
    fallback: Option<Arc<Vec<u8>>>,
    calls: Vec<Call>,
    /// Keep call records (tests) or only count them (benchmark).
    record: bool,
    faults: VecDeque<Fault>,
    notes: HashMap<(i64, i64), Vec<(i64, String)>>,
    /// Note id -> author's user id.
    note_authors: HashMap<i64, i64>,
    /// The user `GET /user` names (the token's owner).
    token_user: i64,
    /// (ref, ref) -> their merge base, either order.
    merge_bases: HashMap<(String, String), String>,
    /// Revisions whose archive download waits until `hold_archives(false)`.
    held: std::collections::HashSet<String>,
    /// Shas whose status posts get no answer until `release_statuses()`.
    held_statuses: std::collections::HashSet<String>,
    /// Notes listings wait until `release_note_listings()`; how many are waiting.
    hold_note_listings: bool,
    note_listings_held: usize,
    /// Revisions whose archive body stops halfway until `release_stalls()`.
    stalled: std::collections::HashSet<String>,
    /// Project id -> default branch (`main` when not set).
    default_branches: HashMap<i64, String>,
    /// (project, iid) -> diff versions, newest first.
    versions: HashMap<(i64, i64), Vec<serde_json::Value>>,
    /// (project, iid) -> the changed files, in GitLab's shape.
    diffs: HashMap<(i64, i64), Vec<serde_json::Value>>,
    /// (project, iid) -> discussions, oldest first.
    discussions: HashMap<(i64, i64), Vec<Discussion>>,
    /// (project, branch) -> head commit; other branches do not exist (404).
    branches: HashMap<(i64, String), String>,
    /// Target project -> its open merge requests, in GitLab's list shape.
    merge_requests: HashMap<i64, Vec<serde_json::Value>>,
    /// (project, sha) -> the statuses on the commit: (name, state), oldest first.
    commit_statuses: HashMap<(i64, String), Vec<(String, String)>>,
    /// Full path -> project id, for `GET /projects/:path`.
    project_paths: HashMap<String, i64>,
    /// Group id or full path -> its projects' ids.
    groups: HashMap<String, Vec<i64>>,
    /// Lower than GitLab's 100 to make listings span several pages.
    max_per_page: Option<usize>,
    /// Project id -> its namespace (group) id.
    namespaces: HashMap<i64, i64>,
    next_id: i64,
    final_statuses: u64,
    first_call: Option<Instant>,
    last_final: Option<Instant>,
}

/// A project of the tenant context: `path_with_namespace` is `<group path>/<path>`.
#[derive(Debug, Clone)]
pub struct Project {
    pub id: i64,
    pub path_with_namespace: String,
    pub namespace_id: i64,
    pub default_branch: String,
}

#[derive(Clone)]
pub struct FakeGitLab {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
    hold: Arc<watch::Sender<bool>>,
    stall: Arc<watch::Sender<bool>>,
}

#[derive(Clone)]
struct AppState {
    token: String,
    inner: Arc<Mutex<Inner>>,
    hold: watch::Receiver<bool>,
    stall: watch::Receiver<bool>,
}

impl FakeGitLab {
    /// Starts on 127.0.0.1 with a free port, on the current tokio runtime.
    pub async fn start(token: &str) -> FakeGitLab {
        Self::start_on("127.0.0.1:0", token, true).await
    }

    pub async fn start_on(addr: &str, token: &str, record: bool) -> FakeGitLab {
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let inner = Arc::new(Mutex::new(Inner {
            record,
            next_id: 1000,
            token_user: TOKEN_USER,
            ..Inner::default()
        }));
        let (hold_tx, hold_rx) = watch::channel(false);
        let (stall_tx, stall_rx) = watch::channel(false);
        let app = Router::new().fallback(handle).with_state(AppState {
            token: token.to_owned(),
            inner: inner.clone(),
            hold: hold_rx,
            stall: stall_rx,
        });
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeGitLab {
            url,
            inner,
            hold: Arc::new(hold_tx),
            stall: Arc::new(stall_tx),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Serves `bytes` as the archive of `rev` (a sha or a branch name).
    pub fn add_archive(&self, rev: &str, bytes: Vec<u8>) {
        self.lock().archives.insert(rev.to_owned(), Arc::new(bytes));
    }

    /// Serves `bytes` as the archive of `rev` of `project` only (before any archive of `rev`
    /// added with [`FakeGitLab::add_archive`]).
    pub fn add_project_archive(&self, project: i64, rev: &str, bytes: Vec<u8>) {
        self.lock()
            .archives
            .insert(format!("{project}:{rev}"), Arc::new(bytes));
    }

    /// A project `GET /projects/:id|:path` and the search listing (`GET /projects?search=`)
    /// know, with its group.
    pub fn add_project(&self, project: Project) {
        self.set_project_path(&project.path_with_namespace, project.id);
        self.set_default_branch(project.id, &project.default_branch);
        self.lock()
            .namespaces
            .insert(project.id, project.namespace_id);
    }

    pub fn set_fallback_archive(&self, bytes: Vec<u8>) {
        self.lock().fallback = Some(Arc::new(bytes));
    }

    /// The next call matching `pattern` ("POST /api/v4/projects/15/statuses") gets `status`.
    pub fn fail_next(&self, pattern: &str, status: u16, retry_after: Option<u64>) {
        self.lock().faults.push_back(Fault {
            pattern: pattern.to_owned(),
            status,
            retry_after,
            body: None,
        });
    }

    /// The next call matching `pattern` gets `status` with `body` as it is (malformed JSON, say).
    pub fn answer_next(&self, pattern: &str, status: u16, body: &str) {
        self.lock().faults.push_back(Fault {
            pattern: pattern.to_owned(),
            status,
            retry_after: None,
            body: Some(body.to_owned()),
        });
    }

    /// The archive download of `rev` sends its headers and the first half of its body, then no
    /// more bytes until [`FakeGitLab::release_stalls`] (a stalled connection, not a slow one).
    pub fn stall_archive_of(&self, rev: &str) {
        self.lock().stalled.insert(rev.to_owned());
    }

    pub fn release_stalls(&self) {
        self.lock().stalled.clear();
        self.stall.send_modify(|_| {});
    }

    /// The token now belongs to user `id` (a rotated token of another bot user).
    pub fn set_token_user(&self, id: i64) {
        self.lock().token_user = id;
    }

    /// `merge_base` of `a` and `b` (in either order) is `base`; other pairs have none (404).
    pub fn set_merge_base(&self, a: &str, b: &str, base: &str) {
        self.lock()
            .merge_bases
            .insert((a.to_owned(), b.to_owned()), base.to_owned());
    }

    pub fn set_default_branch(&self, project: i64, branch: &str) {
        self.lock()
            .default_branches
            .insert(project, branch.to_owned());
    }

    /// A new latest diff version of merge request `iid`, whose head is `head`.
    pub fn set_mr_version(&self, project: i64, iid: i64, base: &str, head: &str) {
        let mut g = self.lock();
        g.next_id += 1;
        let v = serde_json::json!({"id": g.next_id, "head_commit_sha": head,
            "base_commit_sha": base, "start_commit_sha": base,
            "created_at": "2026-11-03T10:20:00Z", "merge_request_id": 99,
            "state": "collected", "real_size": "1"});
        g.versions.entry((project, iid)).or_default().insert(0, v);
    }

    /// The merge request's changed files: (old path, new path, unified diff hunks, new file,
    /// deleted file).
    pub fn set_mr_diffs(&self, project: i64, iid: i64, files: &[(&str, &str, &str, bool, bool)]) {
        let files = files
            .iter()
            .map(|(old, new, diff, new_file, deleted_file)| {
                serde_json::json!({"old_path": old, "new_path": new, "a_mode": "100644",
                    "b_mode": "100644", "diff": diff, "new_file": new_file,
                    "renamed_file": old != new, "deleted_file": deleted_file,
                    "generated_file": false})
            })
            .collect();
        self.lock().diffs.insert((project, iid), files);
    }

    pub fn discussions(&self, project: i64, iid: i64) -> Vec<Discussion> {
        self.lock()
            .discussions
            .get(&(project, iid))
            .cloned()
            .unwrap_or_default()
    }

    /// `branch` of `project` points at `sha` (a push that happened, delivered or not).
    pub fn set_branch(&self, project: i64, branch: &str, sha: &str) {
        self.lock()
            .branches
            .insert((project, branch.to_owned()), sha.to_owned());
    }

    /// An open merge request `iid` of `project`, from `source_branch` (head `sha`) of the same
    /// project into `target_branch`.
    pub fn open_merge_request(
        &self,
        project: i64,
        iid: i64,
        source_branch: &str,
        target_branch: &str,
        sha: &str,
    ) {
        let mut g = self.lock();
        g.next_id += 1;
        let id = g.next_id;
        g.merge_requests
            .entry(project)
            .or_default()
            .push(serde_json::json!({
                "id": id, "iid": iid, "project_id": project, "state": "opened",
                "title": format!("merge request {iid}"), "draft": false,
                "source_project_id": project, "target_project_id": project,
                "source_branch": source_branch, "target_branch": target_branch,
                "sha": sha, "merge_commit_sha": null,
            }));
    }

    /// A status somebody already posted on `sha` of `project` (another run, a CI job).
    pub fn add_status(&self, project: i64, sha: &str, name: &str, state: &str) {
        self.lock()
            .commit_statuses
            .entry((project, sha.to_owned()))
            .or_default()
            .push((name.to_owned(), state.to_owned()));
    }

    /// `GET /projects/:path` answers project `id` for `path` (`group/project`).
    pub fn set_project_path(&self, path: &str, id: i64) {
        self.lock().project_paths.insert(path.to_owned(), id);
    }

    /// Group `group` (an id or a path) holds `projects`.
    pub fn set_group(&self, group: &str, projects: &[i64]) {
        self.lock()
            .groups
            .insert(group.to_owned(), projects.to_vec());
    }

    /// Listings give at most `n` items a page, whatever `per_page` asks.
    pub fn set_max_per_page(&self, n: usize) {
        self.lock().max_per_page = Some(n);
    }

    /// While held, archive downloads wait (a job is then "in flight" for as long as a test
    /// needs).
    pub fn hold_archives(&self, hold: bool) {
        if !hold {
            self.lock().held.clear();
        }
        let _ = self.hold.send(hold);
    }

    /// Status posts for `sha` get no answer (a hung call) until [`FakeGitLab::release_statuses`].
    pub fn hold_statuses_of(&self, sha: &str) {
        self.lock().held_statuses.insert(sha.to_owned());
    }

    pub fn release_statuses(&self) {
        self.lock().held_statuses.clear();
        self.hold.send_modify(|_| {});
    }

    /// Listings of merge-request notes get no answer until [`FakeGitLab::release_note_listings`]
    /// (a job is then in the middle of writing its note).
    pub fn hold_note_listings(&self) {
        self.lock().hold_note_listings = true;
    }

    pub fn release_note_listings(&self) {
        self.lock().hold_note_listings = false;
        self.hold.send_modify(|_| {});
    }

    /// Notes listings that arrived while held (answered or not).
    pub fn note_listings_held(&self) -> usize {
        self.lock().note_listings_held
    }

    /// Holds the downloads of `rev` only, until `hold_archives(false)`.
    pub fn hold_archive_of(&self, rev: &str) {
        self.lock().held.insert(rev.to_owned());
    }

    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// Statuses accepted for `sha`, in order: (state, description, ref, event uuid).
    pub fn statuses(&self, sha: &str) -> Vec<Call> {
        let suffix = format!("/statuses/{sha}");
        self.calls()
            .into_iter()
            .filter(|c| c.method == "POST" && c.path.ends_with(&suffix) && c.answered < 300)
            .collect()
    }

    pub fn states(&self, sha: &str) -> Vec<String> {
        self.statuses(sha)
            .iter()
            .map(|c| c.body["state"].as_str().unwrap_or("").to_owned())
            .collect()
    }

    /// A note somebody else ([`HUMAN_USER`]) wrote on a merge request.
    pub fn add_note(&self, project: i64, iid: i64, body: &str) {
        let mut g = self.lock();
        g.next_id += 1;
        let id = g.next_id;
        g.note_authors.insert(id, HUMAN_USER);
        g.notes
            .entry((project, iid))
            .or_default()
            .push((id, body.to_owned()));
    }

    pub fn notes(&self, project: i64, iid: i64) -> Vec<(i64, String)> {
        self.lock()
            .notes
            .get(&(project, iid))
            .cloned()
            .unwrap_or_default()
    }

    /// Polls `cond` over the recorded calls until it holds; panics with the calls after
    /// `timeout`. Tests wait on events, never on a fixed sleep.
    pub async fn wait_for(&self, what: &str, timeout: Duration, cond: impl Fn(&[Call]) -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            if cond(&self.calls()) {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out after {timeout:?} waiting for {what}; calls:\n{:#?}",
                    self.calls()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn json_response(status: StatusCode, v: serde_json::Value) -> Response {
    (status, axum::Json(v)).into_response()
}

async fn handle(
    State(st): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let query = uri.query().unwrap_or("").to_owned();
    let token = headers
        .get("private-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let event_uuid = headers
        .get("x-gitlab-event-uuid")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let json_body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let key = format!("{method} {path}");

    let (status, response) = {
        let mut g = st.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.first_call.get_or_insert_with(Instant::now);
        if token.as_deref() != Some(st.token.as_str()) && path != "/_stats" {
            (
                401,
                Some(json_response(
                    StatusCode::UNAUTHORIZED,
                    serde_json::json!({"message": "401 Unauthorized"}),
                )),
            )
        } else if let Some(i) = g.faults.iter().position(|f| key.starts_with(&f.pattern)) {
            let f = g.faults.remove(i).expect("position is valid");
            let code = StatusCode::from_u16(f.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let mut r = match f.body {
                Some(b) => (code, [("content-type", "application/json")], b).into_response(),
                None => json_response(code, serde_json::json!({"message": "injected failure"})),
            };
            if let Some(s) = f.retry_after {
                r.headers_mut()
                    .insert("retry-after", s.to_string().parse().expect("header"));
            }
            (f.status, Some(r))
        } else {
            (0, None)
        }
    };
    let response = match response {
        Some(r) => r,
        None => route(&st, &method, &path, &query, &json_body).await,
    };
    let answered = if status != 0 {
        status
    } else {
        response.status().as_u16()
    };
    let mut g = st.inner.lock().unwrap_or_else(|p| p.into_inner());
    if method == Method::POST
        && path.contains("/statuses/")
        && answered < 300
        && matches!(json_body["state"].as_str(), Some("success" | "failed"))
    {
        g.final_statuses += 1;
        g.last_final = Some(Instant::now());
    }
    if g.record {
        g.calls.push(Call {
            method: method.to_string(),
            path,
            query,
            token,
            event_uuid,
            body: json_body,
            answered,
        });
    }
    response
}

fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn route(
    st: &AppState,
    method: &Method,
    path: &str,
    query: &str,
    body: &serde_json::Value,
) -> Response {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let not_found = || {
        json_response(
            StatusCode::NOT_FOUND,
            serde_json::json!({"message": "404 Not Found"}),
        )
    };
    match (method.as_str(), segs.as_slice()) {
        // Not GitLab: the benchmark reads its counters here.
        ("GET", ["_stats"]) => {
            let g = st.inner.lock().unwrap_or_else(|p| p.into_inner());
            let span = match (g.first_call, g.last_final) {
                (Some(a), Some(b)) => b.duration_since(a).as_secs_f64(),
                _ => 0.0,
            };
            json_response(
                StatusCode::OK,
                serde_json::json!({"final_statuses": g.final_statuses, "seconds": span}),
            )
        }
        ("POST", ["api", "v4", "projects", pid, "statuses", sha]) => {
            released(st.hold.clone(), |_| {
                st.inner
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .held_statuses
                    .contains(*sha)
            })
            .await;
            let mut g = st.inner.lock().unwrap_or_else(|p| p.into_inner());
            g.next_id += 1;
            if let Ok(pid) = pid.parse::<i64>() {
                let entry = (
                    body["name"].as_str().unwrap_or("default").to_owned(),
                    body["state"].as_str().unwrap_or("").to_owned(),
                );
                g.commit_statuses
                    .entry((pid, (*sha).to_owned()))
                    .or_default()
                    .push(entry);
            }
            json_response(
                StatusCode::CREATED,
                serde_json::json!({"id": g.next_id, "sha": sha, "status": body["state"],
                    "name": body["name"], "description": body["description"]}),
            )
        }
        ("GET", ["api", "v4", "user"]) => {
            let g = st.inner.lock().unwrap_or_else(|p| p.into_inner());
            json_response(
                StatusCode::OK,
                serde_json::json!({"id": g.token_user, "username": format!("bot-{}", g.token_user),
                    "bot": true, "state": "active"}),
            )
        }
        ("GET", ["api", "v4", "projects", pid]) => {
            let g = st.inner.lock().unwrap_or_else(|p| p.into_inner());
            let Some(pid) = project_id(&g, pid) else {
                return not_found();
            };
            json_response(StatusCode::OK, project_json(&g, pid))
        }
        (
            "GET",
            [
                "api",
                "v4",
                "projects",
                pid,
                "repository",
                "branches",
                branch,
            ],
        ) => {
            let g = st.inner.lock().unwrap_or_else(|p| p.into_inner());
            let found = project_id(&g, pid).and_then(|pid| {
                let name = percent_decode(branch);
                let head = g.branches.get(&(pid, name.clone()))?;
                Some(
                    serde_json::json!({"name": name, "merged": false, "protected": false,
                    "default": false, "commit": {"id": head, "short_id": &head[..8]}}),
                )
            });
            match found {
                Some(b) => json_response(StatusCode::OK, b),
                None => json_response(
                    StatusCode::NOT_FOUND,
                    serde_json::json!({"message": "404 Branch Not Found"}),
                ),
            }
        }
        ("GET", ["api", "v4", "projects", pid, "merge_requests"]) => {
            let g = st.inner.lock().unwrap_or_else(|p| p.into_inner());
            let Some(pid) = project_id(&g, pid) else {
                return not_found();
            };
            // Only `state=opened` is asked for; the fake holds open ones only.
            if query_param(query, "state").as_deref() != Some("opened") {
                return json_response(
                    StatusCode::BAD_REQUEST,
                    serde_json::json!({"message": "the fake lists open merge requests only"}),
                );
            }
            let all = g.merge_requests.get(&pid).cloned().unwrap_or_default();
            paginated(query, all, g.max_per_page)
        }
        (
            "GET",
            [
                "api",
                "v4",
                "projects",
                pid,
                "repository",
                "commits",
                sha,
                "statuses",
            ],
        ) => {
            let g = st.inner.lock().unwrap_or_else(|p| p.into_inner());
            let Some(pid) = project_id(&g, pid) else {
                return not_found();
            };
            let name = query_param(query, "name");
            let all: Vec<_> = g
                .commit_statuses
                .get(&(pid, (*sha).to_owned()))
                .into_iter()
                .flatten()
                .filter(|(n, _)| name.as_ref().is_none_or(|want| want == n))
                .map(|(n, state)| serde_json::json!({"sha": sha, "name": n, "status": state}))
                .collect();
            paginated(query, all, g.max_per_page)
        }
        ("GET", ["api", "v4", "projects"]) => {
            // `search` matches a substring of the name, as on GitLab.
            let g = st.inner.lock().unwrap_or_else(|p| p.into_inner());
            let search = query_param(query, "search").unwrap_or_default();
            let mut ids: Vec<i64> = g
                .project_paths
                .iter()
                .filter(|(path, _)| path.rsplit('/').next().unwrap_or("").contains(&search))
                .map(|(_, id)| *id)
                .collect();
            ids.sort();
            let all = ids.iter().map(|id| project_json(&g, *id)).collect();
            paginated(query, all, g.max_per_page)
        }
        ("GET", ["api", "v4", "groups", group, "projects"]) => {
            let g = st.inner.lock().unwrap_or_else(|p| p.into_inner());
            let Some(ids) = g.groups.get(&percent_decode(group)) else {
                return json_response(
                    StatusCode::NOT_FOUND,
                    serde_json::json!({"message": "404 Group Not Found"}),
                );
            };
            let all = ids.iter().map(|id| project_json(&g, *id)).collect();
            paginated(query, all, g.max_per_page)
        }
        ("GET", ["api", "v4", "projects", _, "repository", "merge_base"]) => {
            // GitLab: `refs[]` twice; 400 without two refs, 404 when they share no history.
            let refs: Vec<String> = query
                .split('&')
                .filter_map(|kv| {
                    let (k, v) = kv.split_once('=')?;
                    (percent_decode(k) == "refs[]").then(|| percent_decode(v))
                })
                .collect();
            if refs.len() != 2 {
                return json_response(
                    StatusCode::BAD_REQUEST,
                    serde_json::json!({"message": "refs is missing"}),
                );
            }
            let g = st.inner.lock().unwrap_or_else(|p| p.into_inner());
            let found = g
                .merge_bases
                .get(&(refs[0].clone(), refs[1].clone()))
                .or_else(|| g.merge_bases.get(&(refs[1].clone(), refs[0].clone())));
            match found {
                Some(id) => json_response(
                    StatusCode::OK,
                    serde_json::json!({"id": id, "short_id": &id[..id.len().min(8)],
                        "title": "a commit", "parent_ids": []}),
                ),
                None => json_response(
                    StatusCode::NOT_FOUND,
                    serde_json::json!({"message": "404 Merge Base Not Found"}),
                ),
            }
        }
        ("GET", ["api", "v4", "projects", pid, "repository", "archive.tar.gz"]) => {
            let rev = query_param(query, "sha").unwrap_or_default();
            let own = format!("{pid}:{rev}");
            released(st.hold.clone(), |all_held| {
                all_held
                    || st
                        .inner
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .held
                        .contains(&rev)
            })
            .await;
            let bytes = {
                let g = st.inner.lock().unwrap_or_else(|p| p.into_inner());
                g.archives
                    .get(&own)
                    .or(g.archives.get(&rev))
                    .cloned()
                    .or(g.fallback.clone())
            };
            match bytes {
                Some(b) if g_stalled(st, &rev) => stalled(b, st.clone(), rev),
                Some(b) => (
                    StatusCode::OK,
                    [("content-type", "application/gzip")],
                    b.as_ref().clone(),
                )
                    .into_response(),
                None => not_found(),
            }
        }
        (
            m,
            [
                "api",
                "v4",
                "projects",
                pid,
                "merge_requests",
                iid,
                "notes",
                rest @ ..,
            ],
        ) => {
            let (Ok(pid), Ok(iid)) = (pid.parse::<i64>(), iid.parse::<i64>()) else {
                return not_found();
            };
            if m == "GET" && rest.is_empty() {
                let held = || {
                    st.inner
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .hold_note_listings
                };
                if held() {
                    st.inner
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .note_listings_held += 1;
                    released(st.hold.clone(), |_| held()).await;
                }
            }
            let mut g = st.inner.lock().unwrap_or_else(|p| p.into_inner());
            match (m, rest) {
                ("GET", []) => {
                    let all = g.notes.get(&(pid, iid)).cloned().unwrap_or_default();
                    let list = all
                        .iter()
                        .map(|(id, b)| {
                            let author = g.note_authors.get(id).copied().unwrap_or(HUMAN_USER);
                            serde_json::json!({"id": id, "body": b, "system": false,
                                "author": {"id": author, "username": format!("user-{author}")}})
                        })
                        .collect();
                    paginated(query, list, g.max_per_page)
                }
                ("POST", []) => {
                    g.next_id += 1;
                    let id = g.next_id;
                    let author = g.token_user;
                    g.note_authors.insert(id, author);
                    let text = body["body"].as_str().unwrap_or("").to_owned();
                    g.notes
                        .entry((pid, iid))
                        .or_default()
                        .push((id, text.clone()));
                    json_response(
                        StatusCode::CREATED,
                        serde_json::json!({"id": id, "body": text}),
                    )
                }
                ("PUT", [note]) => {
                    let Ok(note) = note.parse::<i64>() else {
                        return not_found();
                    };
                    let text = body["body"].as_str().unwrap_or("").to_owned();
                    // GitLab lets a user edit only their own notes.
                    let author = g.note_authors.get(&note).copied();
                    if author.is_some_and(|a| a != g.token_user) {
                        return json_response(
                            StatusCode::FORBIDDEN,
                            serde_json::json!({"message": "403 Forbidden"}),
                        );
                    }
                    match g
                        .notes
                        .get_mut(&(pid, iid))
                        .and_then(|v| v.iter_mut().find(|(id, _)| *id == note))
                    {
                        Some(n) => {
                            n.1 = text.clone();
                            json_response(
                                StatusCode::OK,
                                serde_json::json!({"id": note, "body": text}),
                            )
                        }
                        None => not_found(),
                    }
                }
                _ => not_found(),
            }
        }
        (
            m,
            [
                "api",
                "v4",
                "projects",
                pid,
                "merge_requests",
                iid,
                what,
                rest @ ..,
            ],
        ) if matches!(*what, "versions" | "diffs" | "discussions") => {
            let (Ok(pid), Ok(iid)) = (pid.parse::<i64>(), iid.parse::<i64>()) else {
                return not_found();
            };
            let mut g = st.inner.lock().unwrap_or_else(|p| p.into_inner());
            merge_request_route(&mut g, m, (pid, iid), what, rest, query, body)
        }
        _ => not_found(),
    }
}

/// The lines of a diff's hunks a note may be put on: new line -> old line (None: added).
fn diff_lines(diff: &str) -> HashMap<u64, Option<u64>> {
    let mut out = HashMap::new();
    let (mut old, mut new) = (0u64, 0u64);
    for line in diff.lines() {
        if let Some(h) = line.strip_prefix("@@ -") {
            let num = |s: &str| s.split(',').next().and_then(|n| n.parse::<u64>().ok());
            let mut parts = h.split(' ');
            old = parts.next().and_then(num).unwrap_or(0);
            new = parts
                .next()
                .and_then(|p| p.strip_prefix('+'))
                .and_then(num)
                .unwrap_or(0);
        } else if line.starts_with('+') {
            out.insert(new, None);
            new += 1;
        } else if line.starts_with('-') {
            old += 1;
        } else if !line.starts_with('\\') {
            out.insert(new, Some(old));
            old += 1;
            new += 1;
        }
    }
    out
}

const BAD_POSITION: &str =
    "400 Bad request - Note {:line_code=>[\"can't be blank\", \"must be a valid line code\"]}";

fn merge_request_route(
    g: &mut Inner,
    method: &str,
    mr: (i64, i64),
    what: &str,
    rest: &[&str],
    query: &str,
    body: &serde_json::Value,
) -> Response {
    let not_found = || {
        json_response(
            StatusCode::NOT_FOUND,
            serde_json::json!({"message": "404 Not Found"}),
        )
    };
    match (method, what, rest) {
        ("GET", "versions", []) => paginated(
            query,
            g.versions.get(&mr).cloned().unwrap_or_default(),
            g.max_per_page,
        ),
        ("GET", "diffs", []) => paginated(
            query,
            g.diffs.get(&mr).cloned().unwrap_or_default(),
            g.max_per_page,
        ),
        ("GET", "discussions", []) => {
            let all = g
                .discussions
                .get(&mr)
                .map_or_else(Vec::new, |d| d.iter().map(Discussion::json).collect());
            paginated(query, all, g.max_per_page)
        }
        ("POST", "discussions", []) => {
            // GitLab: the position must name the latest version's shas and a line of the diff
            // (an added line by `new_line`, an unchanged one by both `old_line` and `new_line`).
            let p = &body["position"];
            let latest = g.versions.get(&mr).and_then(|v| v.first()).cloned();
            let shas_ok = latest.is_some_and(|v| {
                ["base_sha", "start_sha", "head_sha"]
                    .iter()
                    .zip(["base_commit_sha", "start_commit_sha", "head_commit_sha"])
                    .all(|(a, b)| p[*a] == v[b])
            });
            let file = g.diffs.get(&mr).and_then(|files| {
                files
                    .iter()
                    .find(|f| f["new_path"] == p["new_path"] && f["old_path"] == p["old_path"])
                    .cloned()
            });
            let line_ok = file.is_some_and(|f| {
                let lines = diff_lines(f["diff"].as_str().unwrap_or(""));
                p["new_line"]
                    .as_u64()
                    .and_then(|n| lines.get(&n))
                    .is_some_and(|old| *old == p["old_line"].as_u64())
            });
            if p["position_type"] != "text" || !shas_ok || !line_ok {
                return json_response(
                    StatusCode::BAD_REQUEST,
                    serde_json::json!({"message": BAD_POSITION}),
                );
            }
            g.next_id += 1;
            let note = g.next_id;
            let d = Discussion {
                id: format!("{:040x}", note),
                notes: vec![(
                    note,
                    body["body"].as_str().unwrap_or("").to_owned(),
                    g.token_user,
                )],
                resolved: false,
                position: p.clone(),
            };
            let out = d.json();
            g.discussions.entry(mr).or_default().push(d);
            json_response(StatusCode::CREATED, out)
        }
        ("PUT", "discussions", [id]) => {
            let Some(resolved) = query_param(query, "resolved") else {
                return json_response(
                    StatusCode::BAD_REQUEST,
                    serde_json::json!({"error": "resolved is missing"}),
                );
            };
            match g
                .discussions
                .get_mut(&mr)
                .and_then(|v| v.iter_mut().find(|d| d.id == *id))
            {
                Some(d) => {
                    d.resolved = resolved == "true";
                    json_response(StatusCode::OK, d.json())
                }
                None => not_found(),
            }
        }
        ("POST", "discussions", [id, "notes"]) => {
            g.next_id += 1;
            let note = g.next_id;
            let author = g.token_user;
            let text = body["body"].as_str().unwrap_or("").to_owned();
            match g
                .discussions
                .get_mut(&mr)
                .and_then(|v| v.iter_mut().find(|d| d.id == *id))
            {
                Some(d) => {
                    d.notes.push((note, text.clone(), author));
                    json_response(
                        StatusCode::CREATED,
                        serde_json::json!({"id": note, "body": text,
                            "author": {"id": author}, "type": "DiffNote"}),
                    )
                }
                None => not_found(),
            }
        }
        _ => not_found(),
    }
}

/// One page of `all`, as GitLab paginates: `page` and `per_page` (default 20, at most 100, or
/// the test's lower `max`), `X-Next-Page` empty on the last page.
fn paginated(query: &str, all: Vec<serde_json::Value>, max: Option<usize>) -> Response {
    let param = |name, default: usize| {
        query_param(query, name)
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(default)
    };
    let (page, per_page) = (
        param("page", 1).max(1),
        param("per_page", 20).clamp(1, max.unwrap_or(100).min(100)),
    );
    let next = if page * per_page < all.len() {
        (page + 1).to_string()
    } else {
        String::new()
    };
    let list: Vec<_> = all
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let mut resp = json_response(StatusCode::OK, serde_json::Value::Array(list));
    if let Ok(v) = next.parse() {
        resp.headers_mut().insert("x-next-page", v);
    }
    resp
}

/// A project named in a path by its id or its URL-encoded full path.
fn project_id(g: &Inner, segment: &str) -> Option<i64> {
    segment
        .parse::<i64>()
        .ok()
        .or_else(|| g.project_paths.get(&percent_decode(segment)).copied())
}

fn project_json(g: &Inner, pid: i64) -> serde_json::Value {
    let branch = g
        .default_branches
        .get(&pid)
        .cloned()
        .unwrap_or_else(|| "main".to_owned());
    let path = g
        .project_paths
        .iter()
        .find_map(|(p, id)| (*id == pid).then(|| p.clone()))
        .unwrap_or_else(|| format!("group/project-{pid}"));
    let (group, name) = path.rsplit_once('/').unwrap_or(("", &path));
    let namespace = g
        .namespaces
        .get(&pid)
        .map(|id| serde_json::json!({"id": id, "full_path": group, "kind": "group"}));
    serde_json::json!({"id": pid, "default_branch": branch, "path_with_namespace": path,
        "path": name, "namespace": namespace,
        "web_url": format!("http://gitlab.example.com/{path}"), "archived": false})
}

fn g_stalled(st: &AppState, rev: &str) -> bool {
    st.inner
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .stalled
        .contains(rev)
}

/// An archive answer that sends half of `bytes`, then nothing while `rev` is stalled.
fn stalled(bytes: Arc<Vec<u8>>, st: AppState, rev: String) -> Response {
    let half = bytes.len() / 2;
    let parts = futures_util::stream::unfold(
        (0u8, bytes, st, rev),
        move |(step, bytes, mut st, rev)| async move {
            let chunk = match step {
                0 => bytes[..half].to_vec(),
                1 => {
                    while g_stalled(&st, &rev) {
                        if st.stall.changed().await.is_err() {
                            break;
                        }
                    }
                    bytes[half..].to_vec()
                }
                _ => return None,
            };
            Some((
                Ok::<_, std::convert::Infallible>(Bytes::from(chunk)),
                (step + 1, bytes, st, rev),
            ))
        },
    );
    (
        StatusCode::OK,
        [("content-type", "application/gzip")],
        axum::body::Body::from_stream(parts),
    )
        .into_response()
}

/// A `.tar.gz` of `(path, text)` files the way GitLab builds one: under one top folder.
pub fn tar_gz_of_files(files: &[(String, String)], top: &str) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut b = tar::Builder::new(gz);
    for (rel, text) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(text.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, format!("{top}/{rel}"), text.as_bytes())
            .expect("append");
    }
    b.into_inner().expect("tar").finish().expect("gzip")
}

/// A `.tar.gz` of `dir` the way GitLab builds one: everything under one top folder.
pub fn tar_gz_of_dir(dir: &Path, top: &str) -> Vec<u8> {
    tar_gz_of_dir_then(dir, top, |_| {})
}

/// The tar stream being built, for tests that add hand-made records.
pub type TarBuilder = tar::Builder<flate2::write::GzEncoder<Vec<u8>>>;

/// Like [`tar_gz_of_dir`], then `more` appends its own records (long names, PAX headers) before
/// the archive is closed.
pub fn tar_gz_of_dir_then(dir: &Path, top: &str, more: impl FnOnce(&mut TarBuilder)) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut b = tar::Builder::new(gz);
    let mut files = Vec::new();
    collect(dir, dir, &mut files);
    files.sort();
    for rel in files {
        let data = std::fs::read(dir.join(&rel)).expect("read fixture");
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, format!("{top}/{rel}"), data.as_slice())
            .expect("append");
    }
    more(&mut b);
    b.into_inner().expect("tar").finish().expect("gzip")
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).expect("read dir") {
        let e = e.expect("entry");
        let p = e.path();
        let ft = e.file_type().expect("file type");
        if ft.is_dir() {
            collect(root, &p, out);
        } else if ft.is_file() {
            let rel = p.strip_prefix(root).expect("under root");
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
}

/// Waits while `held(the global hold flag)` is true, checking again at every change of the hold
/// channel (the test releases a hold by changing it).
async fn released(mut hold: watch::Receiver<bool>, held: impl Fn(bool) -> bool) {
    while held(*hold.borrow_and_update()) {
        if hold.changed().await.is_err() {
            break;
        }
    }
}
