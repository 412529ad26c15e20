//! The GitLab REST calls the service makes, with the retry rules of the issue:
//! 429 waits for `Retry-After`, 5xx and network errors back off exponentially, any other 4xx is
//! final. Every call carries the delivery's `X-Gitlab-Event-UUID`, so GitLab can tell the
//! service's own notes from a user's and no webhook loop starts.

use super::config::{RetryPolicy, Secret};
use super::metrics::Metrics;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

/// Why a call failed, and so what the job does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// Worth another try later (5xx, 429, network), after the in-place retries ran out.
    Transient(String),
    /// Retrying will not help (401, 403, 404, 422, a body we cannot read).
    Permanent(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Transient(e) | CallError::Permanent(e) => f.write_str(e),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusState {
    Pending,
    Success,
    Failed,
    /// Not checked: a newer push replaced this one while it waited.
    Canceled,
}

impl StatusState {
    pub fn as_str(self) -> &'static str {
        match self {
            StatusState::Pending => "pending",
            StatusState::Success => "success",
            StatusState::Failed => "failed",
            StatusState::Canceled => "canceled",
        }
    }
}

/// The commit status name the service posts under.
pub const STATUS_NAME: &str = "nautes-lint";

/// Items per page of a listing: GitLab's maximum.
const PER_PAGE: usize = 100;

#[derive(Debug, Deserialize)]
pub struct Note {
    pub id: i64,
    #[serde(default)]
    pub body: String,
    pub author: Option<User>,
}

#[derive(Debug, Deserialize)]
pub struct User {
    pub id: i64,
}

/// A diff version of a merge request (`GET .../merge_requests/:iid/versions`).
#[derive(Debug, Clone, Deserialize)]
pub struct DiffVersion {
    pub head_commit_sha: String,
    pub base_commit_sha: String,
    pub start_commit_sha: String,
}

/// One changed file of a merge request (`GET .../merge_requests/:iid/diffs`).
#[derive(Debug, Clone, Deserialize)]
pub struct DiffFile {
    pub old_path: String,
    pub new_path: String,
    #[serde(default)]
    pub diff: String,
    #[serde(default)]
    pub new_file: bool,
    #[serde(default)]
    pub deleted_file: bool,
}

/// A merge request's discussion (`GET .../merge_requests/:iid/discussions`).
#[derive(Debug, Deserialize)]
pub struct Discussion {
    pub id: String,
    #[serde(default)]
    pub notes: Vec<DiscussionNote>,
}

#[derive(Debug, Deserialize)]
pub struct DiscussionNote {
    pub id: i64,
    #[serde(default)]
    pub body: String,
    pub author: Option<User>,
    #[serde(default)]
    pub resolved: bool,
}

/// Where a new thread goes on the diff (GitLab's `position` with `position_type=text`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadPosition {
    pub base_sha: String,
    pub start_sha: String,
    pub head_sha: String,
    pub old_path: String,
    pub new_path: String,
    pub new_line: u32,
    /// Only for an unchanged line.
    pub old_line: Option<u32>,
}

/// What opening a thread did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewThread {
    /// The discussion's id and its first note's id.
    Opened { discussion: String, note: i64 },
    /// 400: GitLab will not put a note there (a position outside the diff), with its message.
    Refused(String),
}

/// What editing a note did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteEdit {
    Edited,
    /// 404: deleted by a user.
    Gone,
    /// 403: not ours to edit (another user's note, or the token changed hands).
    Forbidden,
}

#[derive(Clone)]
pub struct GitLab {
    http: reqwest::Client,
    api: String,
    token: Secret,
    retry: RetryPolicy,
    metrics: Arc<Metrics>,
    /// The token's user id, asked once per process (`GET /user`).
    me: Arc<tokio::sync::OnceCell<i64>>,
}

/// What one attempt of a call produced.
enum Attempt<T> {
    Done(T),
    /// Retry after this long (429 with `Retry-After`), or after the backoff (None).
    Again(Option<Duration>, String),
    /// Worth another try, but not in place: the job goes back to the queue (a stalled
    /// download would hold the worker again).
    Requeue(String),
    Final(String),
}

impl GitLab {
    pub fn new(
        base_url: &str,
        token: Secret,
        retry: RetryPolicy,
        metrics: Arc<Metrics>,
    ) -> Result<GitLab, String> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("nautes-lint/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(GitLab {
            http,
            api: format!("{}/api/v4", base_url.trim_end_matches('/')),
            token,
            retry,
            metrics,
            me: Arc::default(),
        })
    }

    fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        event: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let mut rb = self
            .http
            .request(method, format!("{}{path}", self.api))
            .header("PRIVATE-TOKEN", self.token.expose());
        if let Some(uuid) = event {
            rb = rb.header("X-Gitlab-Event-UUID", uuid);
        }
        rb
    }

    /// [`GitLab::call_streaming`] for a call whose whole answer is small: an attempt that has
    /// not finished after the stall timeout is given up (it goes back to the queue).
    async fn call<T, F, Fut>(&self, endpoint: &'static str, mut attempt: F) -> Result<T, CallError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Attempt<T>>,
    {
        let stall = self.retry.stall;
        self.call_streaming(endpoint, move || {
            let sent = attempt();
            async move {
                tokio::time::timeout(stall, sent).await.unwrap_or_else(|_| {
                    Attempt::Requeue(format!("no answer for {} s", stall.as_secs_f64()))
                })
            }
        })
        .await
    }

    /// Runs `attempt` until it succeeds, a final error, or the attempts run out. The attempt
    /// watches its own progress (a long download is fine while bytes arrive).
    async fn call_streaming<T, F, Fut>(
        &self,
        endpoint: &'static str,
        mut attempt: F,
    ) -> Result<T, CallError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Attempt<T>>,
    {
        let mut last = String::new();
        for n in 0..self.retry.call_attempts.max(1) {
            match attempt().await {
                Attempt::Done(v) => return Ok(v),
                Attempt::Final(e) => {
                    self.metrics.gitlab_error(endpoint, "4xx");
                    return Err(CallError::Permanent(format!("{endpoint}: {e}")));
                }
                Attempt::Requeue(e) => {
                    self.metrics.gitlab_error(endpoint, "stalled");
                    return Err(CallError::Transient(format!("{endpoint}: {e}")));
                }
                Attempt::Again(wait, e) => {
                    let class = if wait.is_some() {
                        "429"
                    } else {
                        "5xx_or_network"
                    };
                    self.metrics.gitlab_error(endpoint, class);
                    last = e;
                    if n + 1 < self.retry.call_attempts {
                        let delay = wait
                            .unwrap_or_else(|| self.retry.backoff(n))
                            .min(self.retry.max_delay);
                        tracing::warn!(endpoint, attempt = n + 1, delay_ms = delay.as_millis() as u64, error = %last, "GitLab call failed; retrying");
                        tokio::time::sleep(delay).await;
                    }
                }
            }
        }
        Err(CallError::Transient(format!("{endpoint}: {last}")))
    }

    /// Posts a commit status. Posting a state the status already has is not an error: after a
    /// crash a job runs again and GitLab answers 400 "Cannot transition status" for the repeat.
    pub async fn post_status(
        &self,
        project: i64,
        sha: &str,
        state: StatusState,
        ref_name: &str,
        description: &str,
        event: Option<&str>,
    ) -> Result<(), CallError> {
        let body = serde_json::json!({
            "state": state.as_str(),
            "name": STATUS_NAME,
            "ref": ref_name,
            "description": truncate_chars(description, 255),
        });
        let path = format!("/projects/{project}/statuses/{}", enc(sha));
        self.call("statuses", || async {
            let resp = self
                .request(reqwest::Method::POST, &path, event)
                .json(&body)
                .send()
                .await;
            match classify(resp).await {
                Ok(_) => Attempt::Done(()),
                Err(Attempt::Final(e)) if e.contains("Cannot transition status") => {
                    tracing::info!(
                        project,
                        sha,
                        state = state.as_str(),
                        "status already in that state"
                    );
                    Attempt::Done(())
                }
                Err(a) => a.map_never(),
            }
        })
        .await
    }

    /// The repository at `sha_or_ref` as `.tar.gz`, at most `max_bytes` (read as it streams, so
    /// an endless body stops at the limit). When no byte comes for the stall timeout (before
    /// the answer or within its body) the download is given up at once as transient, without
    /// the in-place retries: the job waits in the queue and the worker takes other jobs.
    pub async fn archive(
        &self,
        project: i64,
        sha_or_ref: &str,
        max_bytes: u64,
        event: Option<&str>,
    ) -> Result<Vec<u8>, CallError> {
        let stall = self.retry.stall;
        let path = format!(
            "/projects/{project}/repository/archive.tar.gz?sha={}",
            enc(sha_or_ref)
        );
        let stalled = || {
            Attempt::Requeue(format!(
                "the download stalled: no bytes for {} s",
                stall.as_secs_f64()
            ))
        };
        self.call_streaming("archive", || async {
            let sent = self.request(reqwest::Method::GET, &path, event).send();
            let Ok(resp) = tokio::time::timeout(stall, sent).await else {
                return stalled();
            };
            let mut resp = match classify(resp).await {
                Ok(r) => r,
                Err(a) => return a.map_never(),
            };
            if resp.content_length().is_some_and(|n| n > max_bytes) {
                return Attempt::Final(format!(
                    "the archive is over the limit of {max_bytes} bytes"
                ));
            }
            let mut buf = Vec::new();
            loop {
                let Ok(chunk) = tokio::time::timeout(stall, resp.chunk()).await else {
                    return stalled();
                };
                match chunk {
                    Ok(Some(c)) => {
                        if buf.len() as u64 + c.len() as u64 > max_bytes {
                            return Attempt::Final(format!(
                                "the archive is over the limit of {max_bytes} bytes"
                            ));
                        }
                        buf.extend_from_slice(&c);
                    }
                    Ok(None) => return Attempt::Done(buf),
                    Err(e) => return Attempt::Again(None, format!("reading the archive: {e}")),
                }
            }
        })
        .await
    }

    /// One page (1-based, 100 notes) of an MR's notes, oldest first, and whether another page
    /// follows.
    pub async fn notes_page(
        &self,
        project: i64,
        iid: i64,
        page: u32,
        event: Option<&str>,
    ) -> Result<(Vec<Note>, bool), CallError> {
        self.list_page(
            "notes",
            &format!("/projects/{project}/merge_requests/{iid}/notes?sort=asc&order_by=created_at"),
            page,
            event,
        )
        .await
    }

    /// One page (1-based, [`PER_PAGE`] items) of a GitLab list, and whether another page
    /// follows (GitLab's `X-Next-Page`; without that header, a full page means "maybe").
    /// `path` may hold a query already.
    pub async fn list_page<T: serde::de::DeserializeOwned>(
        &self,
        endpoint: &'static str,
        path: &str,
        page: u32,
        event: Option<&str>,
    ) -> Result<(Vec<T>, bool), CallError> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let path = format!("{path}{sep}per_page={PER_PAGE}&page={page}");
        self.call(endpoint, || async {
            let resp = self
                .request(reqwest::Method::GET, &path, event)
                .send()
                .await;
            match classify(resp).await {
                Ok(r) => {
                    let next = r
                        .headers()
                        .get("x-next-page")
                        .map(|v| !v.as_bytes().trim_ascii().is_empty());
                    match r.json::<Vec<T>>().await {
                        Ok(v) => {
                            let more = next.unwrap_or(v.len() >= PER_PAGE);
                            Attempt::Done((v, more))
                        }
                        // A proxy's error page or a cut-off answer: worth another read.
                        Err(e) => Attempt::Again(None, format!("unexpected {endpoint} list: {e}")),
                    }
                }
                Err(a) => a.map_never(),
            }
        })
        .await
    }

    pub async fn create_note(
        &self,
        project: i64,
        iid: i64,
        body: &str,
        event: Option<&str>,
    ) -> Result<i64, CallError> {
        let path = format!("/projects/{project}/merge_requests/{iid}/notes");
        let payload = serde_json::json!({ "body": body });
        self.call("notes", || async {
            let resp = self
                .request(reqwest::Method::POST, &path, event)
                .json(&payload)
                .send()
                .await;
            match classify(resp).await {
                Ok(r) => match r.json::<Note>().await {
                    Ok(n) => Attempt::Done(n.id),
                    Err(e) => Attempt::Final(format!("unexpected note: {e}")),
                },
                Err(a) => a.map_never(),
            }
        })
        .await
    }

    /// Edits a note.
    pub async fn update_note(
        &self,
        project: i64,
        iid: i64,
        note_id: i64,
        body: &str,
        event: Option<&str>,
    ) -> Result<NoteEdit, CallError> {
        let path = format!("/projects/{project}/merge_requests/{iid}/notes/{note_id}");
        let payload = serde_json::json!({ "body": body });
        self.call("notes", || async {
            let resp = self
                .request(reqwest::Method::PUT, &path, event)
                .json(&payload)
                .send()
                .await;
            match resp {
                Ok(r) if r.status() == reqwest::StatusCode::NOT_FOUND => {
                    Attempt::Done(NoteEdit::Gone)
                }
                Ok(r) if r.status() == reqwest::StatusCode::FORBIDDEN => {
                    Attempt::Done(NoteEdit::Forbidden)
                }
                other => match classify(other).await {
                    Ok(_) => Attempt::Done(NoteEdit::Edited),
                    Err(a) => a.map_never(),
                },
            }
        })
        .await
    }

    /// The id of the user the token belongs to: asked once, then kept (a token does not change
    /// hands while the process runs).
    pub async fn current_user(&self, event: Option<&str>) -> Result<i64, CallError> {
        self.me
            .get_or_try_init(|| async {
                self.get_json::<User>("user", "/user", event)
                    .await
                    .map(|u| u.id)
            })
            .await
            .copied()
    }

    /// The project's default branch; None for an empty repository.
    pub async fn default_branch(
        &self,
        project: i64,
        event: Option<&str>,
    ) -> Result<Option<String>, CallError> {
        #[derive(Deserialize)]
        struct Project {
            default_branch: Option<String>,
        }
        let p: Project = self
            .get_json("projects", &format!("/projects/{project}"), event)
            .await?;
        Ok(p.default_branch.filter(|b| !b.is_empty()))
    }

    /// The project's web address (`https://gitlab.example.com/group/project`).
    pub async fn web_url(&self, project: i64, event: Option<&str>) -> Result<String, CallError> {
        #[derive(Deserialize)]
        struct Project {
            web_url: String,
        }
        let p: Project = self
            .get_json("projects", &format!("/projects/{project}"), event)
            .await?;
        Ok(p.web_url)
    }

    /// The merge request's latest diff version (GitLab lists the newest first); None before
    /// GitLab has computed one.
    pub async fn latest_version(
        &self,
        project: i64,
        iid: i64,
        event: Option<&str>,
    ) -> Result<Option<DiffVersion>, CallError> {
        let path = format!("/projects/{project}/merge_requests/{iid}/versions");
        let (versions, _) = self
            .list_page::<DiffVersion>("versions", &path, 1, event)
            .await?;
        Ok(versions.into_iter().next())
    }

    /// One page of the merge request's changed files, and whether another follows.
    pub async fn diffs_page(
        &self,
        project: i64,
        iid: i64,
        page: u32,
        event: Option<&str>,
    ) -> Result<(Vec<DiffFile>, bool), CallError> {
        let path = format!("/projects/{project}/merge_requests/{iid}/diffs");
        self.list_page("diffs", &path, page, event).await
    }

    /// One page of the merge request's discussions, and whether another follows.
    pub async fn discussions_page(
        &self,
        project: i64,
        iid: i64,
        page: u32,
        event: Option<&str>,
    ) -> Result<(Vec<Discussion>, bool), CallError> {
        let path = format!("/projects/{project}/merge_requests/{iid}/discussions");
        self.list_page("discussions", &path, page, event).await
    }

    /// Opens a resolvable thread on a line of the merge request's diff.
    pub async fn create_thread(
        &self,
        project: i64,
        iid: i64,
        body: &str,
        at: &ThreadPosition,
        event: Option<&str>,
    ) -> Result<NewThread, CallError> {
        let path = format!("/projects/{project}/merge_requests/{iid}/discussions");
        let mut position = serde_json::json!({
            "position_type": "text",
            "base_sha": at.base_sha,
            "start_sha": at.start_sha,
            "head_sha": at.head_sha,
            "old_path": at.old_path,
            "new_path": at.new_path,
            "new_line": at.new_line,
        });
        if let Some(old) = at.old_line {
            position["old_line"] = old.into();
        }
        let payload = serde_json::json!({ "body": body, "position": position });
        self.call("discussions", || async {
            let resp = self
                .request(reqwest::Method::POST, &path, event)
                .json(&payload)
                .send()
                .await;
            match resp {
                Ok(r) if r.status() == reqwest::StatusCode::BAD_REQUEST => {
                    let text = r.text().await.unwrap_or_default();
                    Attempt::Done(NewThread::Refused(truncate_chars(text.trim(), 300)))
                }
                other => match classify(other).await {
                    Ok(r) => match r.json::<Discussion>().await {
                        Ok(d) => match d.notes.first() {
                            Some(n) => Attempt::Done(NewThread::Opened {
                                note: n.id,
                                discussion: d.id,
                            }),
                            None => Attempt::Final("the new discussion has no note".into()),
                        },
                        Err(e) => Attempt::Final(format!("unexpected discussion: {e}")),
                    },
                    Err(a) => a.map_never(),
                },
            }
        })
        .await
    }

    /// Resolves (`true`) or reopens (`false`) a thread.
    pub async fn resolve_thread(
        &self,
        project: i64,
        iid: i64,
        discussion: &str,
        resolved: bool,
        event: Option<&str>,
    ) -> Result<(), CallError> {
        let path = format!(
            "/projects/{project}/merge_requests/{iid}/discussions/{}?resolved={resolved}",
            enc(discussion)
        );
        self.call("discussions", || async {
            let resp = self
                .request(reqwest::Method::PUT, &path, event)
                .send()
                .await;
            classify(resp)
                .await
                .map_or_else(Attempt::map_never, |_| Attempt::Done(()))
        })
        .await
    }

    /// Adds a reply to a thread.
    pub async fn reply(
        &self,
        project: i64,
        iid: i64,
        discussion: &str,
        body: &str,
        event: Option<&str>,
    ) -> Result<(), CallError> {
        let path = format!(
            "/projects/{project}/merge_requests/{iid}/discussions/{}/notes",
            enc(discussion)
        );
        let payload = serde_json::json!({ "body": body });
        self.call("discussions", || async {
            let resp = self
                .request(reqwest::Method::POST, &path, event)
                .json(&payload)
                .send()
                .await;
            classify(resp)
                .await
                .map_or_else(Attempt::map_never, |_| Attempt::Done(()))
        })
        .await
    }

    /// The merge base of two revisions. `Ok(None)` when GitLab has none: unrelated histories
    /// (404) or a revision it does not know (400).
    pub async fn merge_base(
        &self,
        project: i64,
        a: &str,
        b: &str,
        event: Option<&str>,
    ) -> Result<Option<String>, CallError> {
        #[derive(Deserialize)]
        struct Commit {
            id: String,
        }
        let path = format!(
            "/projects/{project}/repository/merge_base?refs%5B%5D={}&refs%5B%5D={}",
            enc(a),
            enc(b)
        );
        self.call("merge_base", || async {
            let resp = self
                .request(reqwest::Method::GET, &path, event)
                .send()
                .await;
            match resp {
                Ok(r)
                    if r.status() == reqwest::StatusCode::NOT_FOUND
                        || r.status() == reqwest::StatusCode::BAD_REQUEST =>
                {
                    Attempt::Done(None)
                }
                other => match classify(other).await {
                    Ok(r) => match r.json::<Commit>().await {
                        Ok(c) => Attempt::Done(Some(c.id)),
                        Err(e) => Attempt::Final(format!("unexpected commit: {e}")),
                    },
                    Err(a) => a.map_never(),
                },
            }
        })
        .await
    }

    /// A GET whose answer is one JSON object.
    pub async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        endpoint: &'static str,
        path: &str,
        event: Option<&str>,
    ) -> Result<T, CallError> {
        self.call(endpoint, || async {
            let resp = self.request(reqwest::Method::GET, path, event).send().await;
            match classify(resp).await {
                Ok(r) => match r.json::<T>().await {
                    Ok(v) => Attempt::Done(v),
                    Err(e) => Attempt::Final(format!("unexpected answer: {e}")),
                },
                Err(a) => a.map_never(),
            }
        })
        .await
    }
}

impl Attempt<std::convert::Infallible> {
    fn map_never<T>(self) -> Attempt<T> {
        match self {
            Attempt::Done(n) => match n {},
            Attempt::Again(w, e) => Attempt::Again(w, e),
            Attempt::Requeue(e) => Attempt::Requeue(e),
            Attempt::Final(e) => Attempt::Final(e),
        }
    }
}

/// Sorts a response into success, retry or final failure.
async fn classify(
    resp: Result<reqwest::Response, reqwest::Error>,
) -> Result<reqwest::Response, Attempt<std::convert::Infallible>> {
    let resp = match resp {
        Ok(r) => r,
        Err(e) => {
            return Err(Attempt::Again(
                None,
                format!("network: {}", without_url(&e)),
            ));
        }
    };
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| retry_after(v, std::time::SystemTime::now()));
    // GitLab's error bodies are short JSON; keep a bounded piece for the log.
    let body = resp.text().await.unwrap_or_default();
    let detail = format!(
        "HTTP {}: {}",
        status.as_u16(),
        truncate_chars(body.trim(), 300)
    );
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        Err(Attempt::Again(
            Some(retry_after.unwrap_or(Duration::from_secs(1))),
            detail,
        ))
    } else if status.is_server_error() {
        Err(Attempt::Again(None, detail))
    } else {
        Err(Attempt::Final(detail))
    }
}

/// A `Retry-After` value: delay-seconds, or an HTTP date (RFC 9110 §10.2.3). A date in the past
/// means "now"; anything else unreadable is `None` (the caller's default wait).
fn retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// reqwest errors print the URL; ours has no secret in it, but keep messages short.
fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(u) = e.url() {
        s = s.replace(u.as_str(), "");
    }
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// Percent-encodes a path or query value (branch names hold `/`).
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// At most `n` characters, with an ellipsis when cut.
pub fn truncate_chars(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(n.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_counts_characters() {
        assert_eq!(truncate_chars("abc", 3), "abc");
        assert_eq!(truncate_chars("abcd", 3), "ab…");
        assert_eq!(truncate_chars(&"é".repeat(300), 255).chars().count(), 255);
    }

    #[test]
    fn retry_after_takes_seconds_or_an_http_date() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2026 07:28:00 GMT").unwrap();
        let at = |v| retry_after(v, now);
        assert_eq!(at("120"), Some(Duration::from_secs(120)));
        assert_eq!(at(" 0 "), Some(Duration::ZERO));
        assert_eq!(
            at("Wed, 21 Oct 2026 07:28:30 GMT"),
            Some(Duration::from_secs(30))
        );
        // The obsolete forms HTTP still allows recipients to read.
        assert_eq!(
            at("Wednesday, 21-Oct-26 07:29:00 GMT"),
            Some(Duration::from_secs(60))
        );
        assert_eq!(at("Wed, 21 Oct 2026 07:00:00 GMT"), Some(Duration::ZERO));
        assert_eq!(at("soon"), None);
        assert_eq!(at("-5"), None);
    }

    #[test]
    fn encoding_keeps_slashes_out() {
        assert_eq!(enc("feature/x y"), "feature%2Fx%20y");
        assert_eq!(enc("da15608"), "da15608");
    }
}
