//! A fake GitLab API for the webhook service: serves repository archives built from fixture
//! trees, takes commit statuses and merge-request notes (each with its author: the token's user
//! may edit only its own, as on GitLab), answers `GET /user`, `GET /projects/:id` and
//! `merge_base`, records every call, and can be told to fail (503, 429, a malformed body) or to
//! hold archive downloads until released (before the answer, or in the middle of its body). Shared by `tests/serve.rs` and
//! `examples/fake_gitlab.rs` (the benchmark).
#![allow(dead_code)]

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
    next_id: i64,
    final_statuses: u64,
    first_call: Option<Instant>,
    last_final: Option<Instant>,
}

#[derive(Clone)]
pub struct FakeGitLab {
    pub url: String,
    pub token: String,
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
            token: token.to_owned(),
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

    /// Success/failed statuses seen, and the time from the first call to the last of them.
    pub fn final_statuses(&self) -> (u64, Option<Duration>) {
        let g = self.lock();
        let span = match (g.first_call, g.last_final) {
            (Some(a), Some(b)) => Some(b.duration_since(a)),
            _ => None,
        };
        (g.final_statuses, span)
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
        ("POST", ["api", "v4", "projects", _, "statuses", sha]) => {
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
            let Ok(pid) = pid.parse::<i64>() else {
                return not_found();
            };
            let g = st.inner.lock().unwrap_or_else(|p| p.into_inner());
            let branch = g
                .default_branches
                .get(&pid)
                .cloned()
                .unwrap_or_else(|| "main".to_owned());
            json_response(
                StatusCode::OK,
                serde_json::json!({"id": pid, "default_branch": branch}),
            )
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
        ("GET", ["api", "v4", "projects", _, "repository", "archive.tar.gz"]) => {
            let rev = query_param(query, "sha").unwrap_or_default();
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
                g.archives.get(&rev).cloned().or(g.fallback.clone())
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
                    // Paginated as GitLab does: `page` and `per_page` (default 20, at most
                    // 100), `X-Next-Page` empty on the last page.
                    let param = |name, default: usize| {
                        query_param(query, name)
                            .and_then(|v| v.parse::<usize>().ok())
                            .unwrap_or(default)
                    };
                    let (page, per_page) =
                        (param("page", 1).max(1), param("per_page", 20).clamp(1, 100));
                    let all = g.notes.get(&(pid, iid)).cloned().unwrap_or_default();
                    let list: Vec<_> = all
                        .iter()
                        .skip((page - 1) * per_page)
                        .take(per_page)
                        .map(|(id, b)| {
                            let author = g.note_authors.get(id).copied().unwrap_or(HUMAN_USER);
                            serde_json::json!({"id": id, "body": b, "system": false,
                                "author": {"id": author, "username": format!("user-{author}")}})
                        })
                        .collect();
                    let next = if page * per_page < all.len() {
                        (page + 1).to_string()
                    } else {
                        String::new()
                    };
                    let mut resp = json_response(StatusCode::OK, serde_json::Value::Array(list));
                    if let Ok(v) = next.parse() {
                        resp.headers_mut().insert("x-next-page", v);
                    }
                    resp
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
        _ => not_found(),
    }
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
