//! Catch-up: a delivery the service missed still gets its status.
//!
//! GitLab does not send a delivery again after it failed to connect (the service was restarting,
//! say), so a commit pushed meanwhile would never get a `nautes-lint` status and its merge
//! request would wait forever. At start-up and then every `--reconcile-interval`, the sweep
//! lists the open merge requests and the default-branch head of every served project and
//! queues each head commit that has no `nautes-lint` status yet, as the delivery would have.
//!
//! The served projects: those in the queue's history
//! ([`Queue::projects`](super::queue::Queue::projects)), plus `--project` and the projects of
//! `--group`. A project the service never heard of and that no flag names is not swept: the
//! service does not guess which repositories are `default.project` ones.
//!
//! A queued job is the same row a delivery makes (the queue's unique key on project, sha and
//! kind), so a delivery that arrives during the sweep, or a sweep that finds a commit whose job
//! waits in the queue, still makes one job. A missed push has no `before`: the default branch's
//! head is checked with no base, so every finding counts as new (what cannot be compared is
//! not passed).

use super::event::full_sha;
use super::gitlab::{CallError, STATUS_NAME, enc};
use super::queue::{Enqueued, JobKind, NewJob};
use super::worker::Context;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The least time between two GitLab calls of a sweep: at most 10 a second, far below
/// gitlab.com's 2,000 a minute per user, so a sweep over a large group leaves the workers'
/// calls room. A 429 answer is waited out as `Retry-After` says (the client's retries).
const PACE: Duration = Duration::from_millis(100);

/// Pages of one listing read at most (10,000 open merge requests of one project): a server that
/// always says another page follows cannot keep a sweep going forever.
const MAX_PAGES: u32 = 100;

#[derive(Debug, Deserialize)]
struct Project {
    id: i64,
    default_branch: Option<String>,
    #[serde(default)]
    archived: bool,
}

#[derive(Debug, Deserialize)]
struct Branch {
    commit: Commit,
}

#[derive(Debug, Deserialize)]
struct Commit {
    id: String,
}

#[derive(Debug, Deserialize)]
struct MergeRequest {
    iid: i64,
    source_project_id: i64,
    target_project_id: i64,
    source_branch: String,
    target_branch: String,
    /// The source branch's head; null while GitLab prepares a new merge request.
    sha: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Status {
    name: String,
}

/// What one sweep did, for its log line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Tally {
    projects: usize,
    heads: usize,
    queued: usize,
    skipped: usize,
}

/// Runs the sweep at start-up and then every `scope.interval` until `stop` turns true. Nothing
/// runs when the interval is None (`--reconcile-interval 0`). A sweep that GitLab or the queue
/// cut short is tried again after `retry`'s backoff (growing, never longer than the interval):
/// GitLab down for a minute at start-up must not leave missed commits waiting ten.
pub async fn run(ctx: Arc<Context>, mut stop: watch::Receiver<bool>) {
    let Some(interval) = ctx.config.catch_up.interval else {
        tracing::info!("catch-up off (--reconcile-interval 0)");
        return;
    };
    let retry = ctx.config.retry;
    let mut sweeper = Sweeper {
        ctx,
        pace: tokio::time::interval(PACE),
    };
    sweeper
        .pace
        .set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failures = 0;
    loop {
        let done = tokio::select! {
            t = sweeper.sweep() => t,
            _ = stopped(&mut stop) => return,
        };
        let next = match done {
            Ok(t) => {
                failures = 0;
                sweeper.ctx.metrics.sweep("done");
                tracing::info!(
                    projects = t.projects,
                    heads = t.heads,
                    queued = t.queued,
                    skipped_projects = t.skipped,
                    next_in_s = interval.as_secs_f64(),
                    "catch-up sweep done"
                );
                interval
            }
            Err(e) => {
                sweeper.ctx.metrics.sweep("stopped");
                let next = retry.backoff(failures).min(interval);
                failures += 1;
                tracing::warn!(
                    error = %e,
                    next_in_s = next.as_secs_f64(),
                    "catch-up sweep stopped; the next one starts over"
                );
                next
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(next) => {}
            _ = stopped(&mut stop) => return,
        }
    }
}

/// Resolves once `stop` is true, holding no borrow of the channel across an await.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Why a sweep stopped: GitLab (after the client's retries) or the queue.
#[derive(Debug)]
enum SweepError {
    GitLab(String),
    Queue(String),
}

impl std::fmt::Display for SweepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SweepError::GitLab(e) => write!(f, "GitLab unavailable: {e}"),
            SweepError::Queue(e) => write!(f, "{e}"),
        }
    }
}

struct Sweeper {
    ctx: Arc<Context>,
    pace: tokio::time::Interval,
}

impl Sweeper {
    /// One sweep over every served project. A project GitLab refuses (deleted, no access) is
    /// skipped with a log line; GitLab unavailable (5xx, network, 429 after the retries) or the
    /// queue failing stops the sweep: the next one starts over.
    async fn sweep(&mut self) -> Result<Tally, SweepError> {
        let mut tally = Tally::default();
        let projects = self.projects(&mut tally).await?;
        for (id, default_branch) in projects {
            match self.project(id, default_branch, &mut tally).await {
                Ok(()) => tally.projects += 1,
                Err(Skip::Permanent(e)) => {
                    tracing::warn!(project = id, error = %e, "catch-up skipped a project");
                    tally.skipped += 1;
                }
                Err(Skip::Stop(e)) => return Err(e),
            }
        }
        Ok(tally)
    }

    /// The served projects: id -> default branch where a listing already gave it.
    async fn projects(
        &mut self,
        tally: &mut Tally,
    ) -> Result<BTreeMap<i64, Option<String>>, SweepError> {
        let mut out: BTreeMap<i64, Option<String>> = BTreeMap::new();
        for id in self
            .ctx
            .queue
            .projects()
            .await
            .map_err(|e| SweepError::Queue(e.to_string()))?
        {
            out.entry(id).or_default();
        }
        for name in self.ctx.config.catch_up.projects.clone() {
            match self
                .get::<Project>("projects", &format!("/projects/{}", enc(&name)))
                .await
            {
                Ok(p) if p.archived => {}
                Ok(p) => {
                    out.insert(p.id, p.default_branch);
                }
                Err(CallError::Permanent(e)) => {
                    tracing::warn!(project = %name, error = %e, "catch-up cannot read a --project");
                    tally.skipped += 1;
                }
                Err(CallError::Transient(e)) => return Err(SweepError::GitLab(e)),
            }
        }
        for group in self.ctx.config.catch_up.groups.clone() {
            let path = format!(
                "/groups/{}/projects?include_subgroups=true&archived=false&order_by=id&sort=asc",
                enc(&group)
            );
            match self.all_pages::<Project>("group_projects", &path).await {
                Ok(list) => {
                    for p in list.into_iter().filter(|p| !p.archived) {
                        out.insert(p.id, p.default_branch);
                    }
                }
                Err(CallError::Permanent(e)) => {
                    tracing::warn!(group = %group, error = %e, "catch-up cannot list a --group");
                    tally.skipped += 1;
                }
                Err(CallError::Transient(e)) => return Err(SweepError::GitLab(e)),
            }
        }
        Ok(out)
    }

    /// Queues the default branch's head and the open merge requests' heads of project `id`
    /// that have no status.
    async fn project(
        &mut self,
        id: i64,
        default_branch: Option<String>,
        tally: &mut Tally,
    ) -> Result<(), Skip> {
        let default_branch = match default_branch {
            Some(b) => Some(b),
            None => {
                let p: Project = self.get("projects", &format!("/projects/{id}")).await?;
                if p.archived {
                    return Ok(());
                }
                p.default_branch
            }
        };
        // None or empty: an empty repository, nothing pushed yet.
        if let Some(branch) = default_branch.filter(|b| !b.is_empty()) {
            let path = format!("/projects/{id}/repository/branches/{}", enc(&branch));
            match self.get::<Branch>("branches", &path).await {
                Ok(b) => {
                    tally.heads += 1;
                    let sha = full_sha(&b.commit.id).ok_or_else(|| {
                        Skip::Permanent(format!(
                            "branch `{branch}`: `{}` is no commit sha",
                            b.commit.id
                        ))
                    })?;
                    if !self.has_status(id, &sha).await? {
                        let job = NewJob {
                            kind: JobKind::Push,
                            project_id: id,
                            sha,
                            ref_name: branch,
                            base: None,
                            merge_request: None,
                            event_uuid: None,
                            idempotency_key: None,
                        };
                        self.enqueue(job, tally).await?;
                    }
                }
                // The default branch named but gone (renamed meanwhile): its merge requests
                // are still worth a look.
                Err(CallError::Permanent(e)) => {
                    tracing::warn!(project = id, branch = %branch, error = %e, "catch-up cannot read the default branch");
                }
                Err(e) => return Err(e.into()),
            }
        }
        let path =
            format!("/projects/{id}/merge_requests?state=opened&order_by=created_at&sort=asc");
        let mrs: Vec<MergeRequest> = self.all_pages("merge_requests", &path).await?;
        for mr in mrs {
            let Some(sha) = mr.sha.as_deref().and_then(full_sha) else {
                continue;
            };
            tally.heads += 1;
            // The status lives on the source project's commit (a fork's, for a fork's request).
            match self.has_status(mr.source_project_id, &sha).await {
                Ok(true) => continue,
                Ok(false) => {}
                // A fork the token cannot read: this merge request only.
                Err(CallError::Permanent(e)) => {
                    tracing::warn!(project = id, merge_request = mr.iid, error = %e, "catch-up cannot read a merge request's commit statuses");
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
            let job = NewJob::merge_request(
                mr.source_project_id,
                sha,
                mr.source_branch,
                mr.target_project_id,
                mr.target_branch,
                mr.iid,
            );
            self.enqueue(job, tally).await?;
        }
        Ok(())
    }

    /// Whether `sha` has a `nautes-lint` status, whatever its state: any status means a job
    /// for it was queued (a `pending` one whose run was cut off is still in the queue).
    async fn has_status(&mut self, project: i64, sha: &str) -> Result<bool, CallError> {
        self.pace.tick().await;
        let path = format!(
            "/projects/{project}/repository/commits/{}/statuses?name={}&all=true",
            enc(sha),
            enc(STATUS_NAME)
        );
        let (list, _) = self
            .ctx
            .gitlab
            .list_page::<Status>("statuses", &path, 1, None)
            .await?;
        // The name filter is GitLab's; checked again in case an instance ignores it.
        Ok(list.iter().any(|s| s.name == STATUS_NAME))
    }

    async fn enqueue(&mut self, job: NewJob, tally: &mut Tally) -> Result<(), Skip> {
        let (project, sha, kind) = (job.project_id, job.sha.clone(), job.kind);
        match self.ctx.queue.enqueue(job).await {
            Ok(Enqueued::Accepted { id, .. }) => {
                tally.queued += 1;
                self.ctx.notify.notify_one();
                self.ctx.metrics.caught_up();
                tracing::info!(
                    job = id,
                    project,
                    sha = %sha,
                    kind = kind.as_str(),
                    "catch-up queued a commit whose delivery was missed"
                );
                Ok(())
            }
            // Its job is in the queue already (a delivery came meanwhile, or it waits to run).
            Ok(Enqueued::Duplicate { .. }) => Ok(()),
            Err(e) => Err(Skip::Stop(SweepError::Queue(e.to_string()))),
        }
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &mut self,
        endpoint: &'static str,
        path: &str,
    ) -> Result<T, CallError> {
        self.pace.tick().await;
        self.ctx.gitlab.get_json(endpoint, path, None).await
    }

    /// Every page of a listing, up to [`MAX_PAGES`].
    async fn all_pages<T: serde::de::DeserializeOwned>(
        &mut self,
        endpoint: &'static str,
        path: &str,
    ) -> Result<Vec<T>, CallError> {
        let mut out = Vec::new();
        for page in 1..=MAX_PAGES {
            self.pace.tick().await;
            let (items, more) = self
                .ctx
                .gitlab
                .list_page(endpoint, path, page, None)
                .await?;
            out.extend(items);
            if !more {
                return Ok(out);
            }
        }
        tracing::warn!(
            endpoint,
            pages = MAX_PAGES,
            "catch-up read the first pages of a listing only"
        );
        Ok(out)
    }
}

/// Why one project's sweep ended early.
enum Skip {
    /// This project only: GitLab refuses it (deleted, no access, an answer we cannot read).
    Permanent(String),
    /// The whole sweep.
    Stop(SweepError),
}

impl From<CallError> for Skip {
    fn from(e: CallError) -> Skip {
        match e {
            CallError::Permanent(e) => Skip::Permanent(e),
            CallError::Transient(e) => Skip::Stop(SweepError::GitLab(e)),
        }
    }
}
