//! Workers: take a job, post `pending`, fetch the trees, validate, post the result (and for a
//! merge request, keep one summary note up to date). Failures are sorted the way the GitLab
//! client sorts them: transient ones put the job back with a growing delay, permanent ones end
//! it with a logged reason and, where GitLab still listens, a `failed` status that says why.

use super::archive::{self, Archive, ArchiveCache, JobBudget, YamlBudget};
use super::config::ServeConfig;
use super::gitlab::{CallError, GitLab, NoteEdit, StatusState, truncate_chars};
use super::metrics::Metrics;
use super::queue::{Base, Job, Queue};
use crate::config::Config;
use crate::diagnostic::Severity;
use crate::engine::{Report, Settings};
use crate::render::plural;
use crate::tree::Tree;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Notify, watch};
use tracing::Instrument;

/// Hidden marker that identifies the service's own note on a merge request.
pub const NOTE_MARKER: &str = "<!-- nautes-lint -->";
/// Findings listed in the note at most; the rest are counted.
const NOTE_MAX_ROWS: usize = 50;
/// Longest message text in one row of the note.
const NOTE_MAX_MESSAGE: usize = 300;

pub struct Context {
    pub config: Arc<ServeConfig>,
    pub queue: Queue,
    pub gitlab: GitLab,
    pub metrics: Arc<Metrics>,
    pub clusters: Option<Arc<crate::engine::Clusters>>,
    /// The tenant context (`--tenant-project`): its clusters replace `clusters`.
    pub tenant: Option<Arc<super::tenant::Tenant>>,
    /// Woken when a job is stored.
    pub notify: Arc<Notify>,
    pub archives: ArchiveCache,
    /// The YAML all jobs together may hold.
    pub yaml: YamlBudget,
}

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Success,
    Failed,
    /// The tree could not be checked (config error, archive over the limits); a `failed` status
    /// says why.
    Unchecked,
    /// A newer push replaced it before it ran; a `canceled` status says so.
    Superseded,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failed => "failed",
            Outcome::Unchecked => "unchecked",
            Outcome::Superseded => "superseded",
        }
    }
}

/// One worker loop. `stop` asks it to take no new job; `abort` to drop the job it runs and put
/// it back in the queue (the shutdown grace period is over).
pub async fn run(
    ctx: Arc<Context>,
    n: usize,
    mut stop: watch::Receiver<bool>,
    abort: watch::Receiver<bool>,
) {
    loop {
        if *stop.borrow() {
            break;
        }
        // Register for a wake-up before looking, so a job stored between the look and the wait
        // is not missed.
        let notified = ctx.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let job = match ctx.queue.claim(ctx.config.job_lease).await {
            Ok(j) => j,
            Err(e) => {
                tracing::error!(worker = n, error = %e, "cannot take a job from the queue");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.changed() => {}
                }
                continue;
            }
        };
        let Some(job) = job else {
            let idle = ctx.queue.idle_wait();
            let wait = ctx
                .queue
                .next_due()
                .await
                .ok()
                .flatten()
                .unwrap_or(idle)
                .min(idle);
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => {}
            }
            continue;
        };
        let span = tracing::info_span!(
            "job",
            job = job.id,
            kind = job.new.kind.as_str(),
            project = job.new.project_id,
            sha = %job.new.sha,
            attempt = job.attempts,
            delivery = job.new.event_uuid.as_deref().unwrap_or(""),
        );
        let started = Instant::now();
        if job.interrupted {
            span.in_scope(|| {
                tracing::warn!("the previous run of this job stopped without a result (interrupted by a crash or a kill, or it hung); running it again")
            });
        }
        let max = ctx.config.retry.max_job_attempts;
        if job.attempts > max {
            // Only a run that never finished gets here (a failed run is re-queued only below
            // the limit): the job itself may be what kills the process, so it does not run.
            let why = format!(
                "stopped after {max} attempts; the service restarted while checking this commit"
            );
            finish(&ctx, &job, Err(CallError::Permanent(why)), started)
                .instrument(span)
                .await;
            continue;
        }
        let mut abort = abort.clone();
        let result = tokio::select! {
            r = process(&ctx, &job).instrument(span.clone()) => Some(Some(r)),
            _ = abort.wait_for(|a| *a) => None,
            () = keep_lease(&ctx, job.id).instrument(span.clone()) => Some(None),
        };
        let _g = span.enter();
        match result {
            Some(None) => {
                tracing::error!(
                    "lost the job's lease (another run took it); this run stops without a result"
                );
                ctx.metrics.job("lease_lost", started.elapsed());
            }
            None => {
                tracing::warn!("shutdown grace period over; job put back in the queue");
                ctx.metrics.job("requeued", started.elapsed());
                if let Err(e) = ctx.queue.requeue(job.id).await {
                    // Still safe: a job left `running` is re-queued at the next start.
                    tracing::error!(error = %e, "cannot put the job back; it is recovered at the next start");
                }
                break;
            }
            Some(Some(r)) => finish(&ctx, &job, r, started).await,
        }
    }
}

/// Renews the job's lease every third of its length; returns when the lease is lost. A renewal
/// the database refuses is retried at the next tick: the lease lasts three ticks.
async fn keep_lease(ctx: &Context, id: i64) {
    let lease = ctx.config.job_lease;
    loop {
        tokio::time::sleep(lease / 3).await;
        match ctx.queue.renew(id, lease).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => tracing::warn!(error = %e, "cannot renew the job's lease"),
        }
    }
}

async fn finish(ctx: &Context, job: &Job, result: Result<Outcome, CallError>, started: Instant) {
    let took = started.elapsed();
    let stored = match result {
        Ok(outcome) => {
            tracing::info!(
                outcome = outcome.as_str(),
                ms = took.as_millis() as u64,
                "job done"
            );
            ctx.metrics.job(outcome.as_str(), took);
            ctx.queue.complete(job.id, outcome.as_str()).await
        }
        Err(CallError::Transient(e)) if job.attempts < ctx.config.retry.max_job_attempts => {
            let delay = ctx.config.retry.backoff(job.attempts);
            tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "GitLab unavailable; job re-queued");
            ctx.metrics.job("retry", took);
            ctx.queue.retry_later(job.id, delay, &e).await
        }
        Err(e) => {
            tracing::error!(error = %e, "job failed; giving up");
            ctx.metrics.job("error", took);
            // Tell the commit, if GitLab still takes statuses: nothing ends silently.
            let _ = ctx
                .gitlab
                .post_status(
                    job.new.project_id,
                    &job.new.sha,
                    StatusState::Failed,
                    &job.new.ref_name,
                    &format!("nautes-lint could not check this commit: {e}"),
                    job.new.event_uuid.as_deref(),
                )
                .await;
            ctx.queue.fail(job.id, &e.to_string()).await
        }
    };
    if let Err(e) = stored {
        tracing::error!(error = %e, "cannot record the job's result; it runs again after a restart");
    }
}

/// The archive of `rev`: from the cache, or fetched and read on the blocking pool (gunzip and
/// untar are CPU work). Either way it is charged to the job's `budget`.
async fn fetch(
    ctx: &Context,
    project: i64,
    rev: &str,
    event: Option<&str>,
    budget: &mut JobBudget,
) -> Result<Result<Arc<Archive>, String>, CallError> {
    if let Some(a) = ctx.archives.get(project, rev) {
        ctx.metrics.archive("hit");
        return Ok(budget.charge(&a).map(|()| a).map_err(|e| e.to_string()));
    }
    ctx.metrics.archive("download");
    let limits = ctx.config.limits;
    let bytes = ctx
        .gitlab
        .archive(project, rev, limits.max_compressed_bytes, event)
        .await?;
    let allowance = budget.allowance();
    let read =
        tokio::task::spawn_blocking(move || archive::read_tar_gz(&bytes, &limits, allowance))
            .await
            .map_err(|e| CallError::Permanent(format!("reading the archive: {e}")))?;
    Ok(read
        .and_then(|a| budget.charge(&a).map(|()| a))
        .map_err(|e| e.to_string())
        .map(|a| {
            let a = Arc::new(a);
            ctx.archives.put(project, rev, a.clone());
            a
        }))
}

async fn process(ctx: &Context, job: &Job) -> Result<Outcome, CallError> {
    let j = &job.new;
    let ev = j.event_uuid.as_deref();
    let status = |state, description: String| {
        let gitlab = ctx.gitlab.clone();
        async move {
            gitlab
                .post_status(j.project_id, &j.sha, state, &j.ref_name, &description, ev)
                .await
        }
    };
    if let Some(newer) = &job.superseded_by {
        let short = newer.get(..8).unwrap_or(newer);
        let said = status(
            StatusState::Canceled,
            format!("not checked: a newer push ({short}) replaced this one"),
        )
        .await;
        return match said {
            // GitLab refusing a status for an old commit is no reason to fail anything.
            Err(CallError::Permanent(e)) => {
                tracing::warn!(error = %e, "cannot mark the superseded commit canceled");
                Ok(Outcome::Superseded)
            }
            other => other.map(|()| Outcome::Superseded),
        };
    }
    status(
        StatusState::Pending,
        "nautes-lint is checking this commit".into(),
    )
    .await?;

    let mut budget = ctx.yaml.reserve().await;
    let head = match fetch(ctx, j.project_id, &j.sha, ev, &mut budget).await? {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %e, "archive refused");
            status(
                StatusState::Failed,
                format!("nautes-lint could not check this commit: {e}"),
            )
            .await?;
            return Ok(Outcome::Unchecked);
        }
    };
    let base_rev = match &j.base {
        None => None,
        Some(Base::Rev { project, rev }) => Some((*project, rev.clone())),
        Some(Base::ForkPoint {
            project,
            default_branch,
        }) => fork_point(ctx, j, *project, default_branch.as_deref())
            .await?
            .map(|rev| (*project, rev)),
    };
    let base = match &base_rev {
        None => None,
        Some((project, rev)) => match fetch(ctx, *project, rev, ev, &mut budget).await {
            Ok(Ok(a)) => Some(a),
            // A missing or unreadable base only costs the new/old classification.
            Ok(Err(e)) | Err(CallError::Permanent(e)) => {
                tracing::warn!(base = %rev, error = %e, "base tree unavailable; every finding counts as new");
                None
            }
            Err(e) => return Err(e),
        },
    };
    budget.release_unused();

    // Without the tenant's inventory the cluster rules could not run: the job waits for it
    // (fails closed) rather than pass a commit unchecked.
    let tenant = match &ctx.tenant {
        Some(t) => Some(t.for_job().map_err(CallError::Transient)?),
        None => None,
    };
    let clusters = match &tenant {
        Some(s) => s.clusters(),
        None => ctx.clusters.clone(),
    };
    let namespaces = tenant.as_ref().map(|s| s.namespaces());
    let settings = match settings_for(clusters, namespaces, head.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "invalid repository configuration");
            status(StatusState::Failed, format!("invalid {e}")).await?;
            return Ok(Outcome::Unchecked);
        }
    };
    let thread_mode = super::threads_sync::mode_for(ctx, head.config.as_deref());
    let report = tokio::task::spawn_blocking(move || {
        let base_tree = base.as_ref().map(|b| &b.tree as &dyn Tree);
        crate::validate(&head.tree, base_tree, &settings)
    })
    .await
    .map_err(|e| CallError::Permanent(format!("validation stopped: {e}")))?;

    // Gated like the pre-receive hook: an error the base already had does not fail the commit
    // (its branch could not be fixed otherwise); without a base every error is new.
    let new_errors = report
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error && d.new != Some(false))
        .count();
    let outcome = if new_errors > 0 {
        Outcome::Failed
    } else {
        Outcome::Success
    };
    let state = match outcome {
        Outcome::Success => StatusState::Success,
        _ => StatusState::Failed,
    };
    // The note only reports the check: a note GitLab will not take (after the client's
    // retries) is logged, and the status still says what the check found, not a failure
    // about the API. The note goes first, so a posted result means the note is written too.
    if let Some((target, iid)) = j.merge_request {
        // One job of a merge request at a time writes its threads and its note: two at once would
        // each open a thread for the same finding, or each post a note.
        if let Err(e) = lock_merge_request(ctx, target, iid, job.id).await {
            tracing::error!(error = %e, merge_request = iid, "cannot update the merge request's threads and summary note; the commit status stands");
        } else {
            // The threads first, so the note can link to them; they never fail the job.
            let mr = super::threads_sync::MergeRequest {
                project: target,
                iid,
                source: j.project_id,
                sha: &j.sha,
                event: ev,
            };
            let threads = super::threads_sync::sync(ctx, &mr, &report, thread_mode).await;
            let mut body = note_body_with(
                &report,
                &j.sha,
                base_rev.as_ref().map(|b| b.1.as_str()),
                &super::threads::note_section(&threads),
            );
            if let Some(s) = &tenant {
                body = s.annotate_note(&report, body);
            }
            let written = write_note(ctx, target, iid, &body, ev).await;
            unlock_merge_request(ctx, target, iid, job.id).await;
            if let Err(e) = written {
                tracing::error!(error = %e, merge_request = iid, "cannot update the merge request's summary note; the commit status stands");
            }
        }
    }
    let mut description = describe(&report);
    if let Some(s) = &tenant {
        description = s.annotate_description(&report, description);
    }
    status(state, description).await?;
    Ok(outcome)
}

/// Where a new branch left the default branch: the merge base of its commit and the default
/// branch. None when there is nothing to compare with: an empty project, the branch is the
/// default branch, or the histories are unrelated.
async fn fork_point(
    ctx: &Context,
    job: &super::queue::NewJob,
    project: i64,
    default_branch: Option<&str>,
) -> Result<Option<String>, CallError> {
    let ev = job.event_uuid.as_deref();
    let branch = match default_branch {
        Some(b) => Some(b.to_owned()),
        None => match ctx.gitlab.default_branch(project, ev).await {
            Ok(b) => b,
            Err(CallError::Permanent(e)) => {
                tracing::warn!(error = %e, "cannot read the project's default branch; every finding counts as new");
                None
            }
            Err(e) => return Err(e),
        },
    };
    let Some(branch) = branch.filter(|b| *b != job.ref_name) else {
        return Ok(None);
    };
    match ctx.gitlab.merge_base(project, &job.sha, &branch, ev).await {
        Ok(None) => {
            tracing::info!(default_branch = %branch, "no merge base with the default branch; every finding counts as new");
            Ok(None)
        }
        Ok(Some(sha)) => {
            tracing::info!(default_branch = %branch, base = %sha, "new branch compared with its merge base");
            Ok(Some(sha))
        }
        Err(CallError::Permanent(e)) => {
            tracing::warn!(error = %e, "merge base unavailable; every finding counts as new");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Takes the merge request's lock, held while its threads and note are written: two jobs of one
/// merge request (two workers, or two replicas) would otherwise both find no note (or no thread
/// for a finding) and both create one. The lock is a lease
/// in the database, not a transaction held across the GitLab calls; it runs out after the job
/// lease, so a holder that died frees it. Writing slower than that lease could overlap
/// another job's: the worst case is then a second note or thread, never a lost status.
async fn lock_merge_request(
    ctx: &Context,
    project: i64,
    iid: i64,
    job: i64,
) -> Result<(), CallError> {
    let db = |e: super::queue::QueueError| CallError::Transient(e.to_string());
    let lease = ctx.config.job_lease;
    let waiting = Instant::now();
    let mut said = false;
    while !ctx
        .queue
        .lock_note(project, iid, job, lease)
        .await
        .map_err(db)?
    {
        // The holder's lease runs out within `lease`; past twice that, other jobs keep taking
        // it first, and this job gives up on the note.
        if waiting.elapsed() > lease * 2 {
            return Err(CallError::Transient(
                "the merge request's note is being written by other jobs".into(),
            ));
        }
        if !said {
            tracing::info!("another job is writing this merge request's note; waiting for it");
            said = true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

async fn unlock_merge_request(ctx: &Context, project: i64, iid: i64, job: i64) {
    if let Err(e) = ctx.queue.unlock_note(project, iid, job).await {
        tracing::warn!(error = %e, "cannot free the note lock; it frees itself after the job lease");
    }
}

/// Edits the service's note on the merge request, or creates it. The note id is kept in the
/// database; when it is unknown (a crash right after creating it, a fresh database) the note is
/// found by its hidden marker, so a merge request never gets a second one.
async fn write_note(
    ctx: &Context,
    project: i64,
    iid: i64,
    body: &str,
    ev: Option<&str>,
) -> Result<(), CallError> {
    let db = |e: super::queue::QueueError| CallError::Transient(e.to_string());
    let known = ctx.queue.note_id(project, iid).await.map_err(db)?;
    let existing = match known {
        Some(id) => Some(id),
        None => find_note(ctx, project, iid, ev).await?,
    };
    if let Some(id) = existing {
        match ctx.gitlab.update_note(project, iid, id, body, ev).await? {
            NoteEdit::Edited => {
                if known.is_none() {
                    ctx.queue.set_note_id(project, iid, id).await.map_err(db)?;
                }
                return Ok(());
            }
            NoteEdit::Gone => {
                tracing::info!(note = id, "the summary note was deleted; posting a new one")
            }
            NoteEdit::Forbidden => tracing::warn!(
                note = id,
                "not allowed to edit the summary note (the token's user changed?); posting a new one"
            ),
        }
    }
    let id = ctx.gitlab.create_note(project, iid, body, ev).await?;
    ctx.queue.set_note_id(project, iid, id).await.map_err(db)
}

/// The service's own note on a merge request: written by the token's user and carrying the
/// marker (a user quoting the note copies the marker too). Pages are read oldest first; a merge
/// request with more than [`MAX_NOTE_PAGES`] pages of discussion gets a new note rather than an
/// unbounded scan.
async fn find_note(
    ctx: &Context,
    project: i64,
    iid: i64,
    ev: Option<&str>,
) -> Result<Option<i64>, CallError> {
    let me = ctx.gitlab.current_user(ev).await?;
    for page in 1..=MAX_NOTE_PAGES {
        let (notes, more) = ctx.gitlab.notes_page(project, iid, page, ev).await?;
        let ours = |n: &&super::gitlab::Note| {
            n.author.as_ref().is_some_and(|a| a.id == me) && n.body.contains(NOTE_MARKER)
        };
        if let Some(n) = notes.iter().find(ours) {
            return Ok(Some(n.id));
        }
        if !more {
            return Ok(None);
        }
    }
    tracing::warn!(
        pages = MAX_NOTE_PAGES,
        "no summary note in the first pages of the merge request's notes; posting a new one"
    );
    Ok(None)
}

/// Pages of 100 notes searched for the service's own note.
const MAX_NOTE_PAGES: u32 = 50;

/// The service's settings plus the repository's own `.nautes-lint.yaml` (its `clusters` path
/// means a path on a developer's machine, so the service's inventory is used instead).
fn settings_for(
    clusters: Option<Arc<crate::engine::Clusters>>,
    namespaces: Option<Arc<crate::context::NamespaceIndex>>,
    config: Option<&str>,
) -> Result<Settings, String> {
    let cfg = match config {
        Some(text) => Config::parse(
            text,
            std::path::Path::new(crate::config::FILE_NAME),
            std::path::Path::new("."),
        )
        .map_err(|e| e.to_string())?,
        None => Config::default(),
    };
    crate::config::settings(
        cfg,
        crate::config::Overrides::default(),
        clusters,
        namespaces,
    )
}

/// The status description: the counts, at most 255 characters.
pub fn describe(report: &Report) -> String {
    let (errors, warnings) = (report.errors(), report.warnings());
    let new = report
        .diagnostics
        .iter()
        .filter(|d| d.new == Some(true))
        .count();
    let mut s = if errors == 0 && warnings == 0 {
        "no findings".to_owned()
    } else {
        format!(
            "{}, {}",
            plural(errors, "error", "errors"),
            plural(warnings, "warning", "warnings")
        )
    };
    if report.diagnostics.iter().any(|d| d.new.is_some()) {
        s.push_str(&format!(" ({new} new)"));
    }
    s.push_str(&format!(
        " in {} and {}",
        plural(report.files, "file", "files"),
        plural(report.resources, "resource", "resources")
    ));
    truncate_chars(&s, 255)
}

fn cell(s: &str) -> String {
    truncate_chars(
        &s.replace('|', "\\|").replace(['\n', '\r'], " "),
        NOTE_MAX_MESSAGE,
    )
}

/// The summary note: the counts and the findings this merge request adds (all findings when no
/// base could be read), capped so a broken repository does not produce a megabyte of markdown.
pub fn note_body(report: &Report, sha: &str, base: Option<&str>) -> String {
    note_body_with(report, sha, base, "")
}

/// [`note_body`] with `threads`, the section about the review threads, before the footer.
pub fn note_body_with(report: &Report, sha: &str, base: Option<&str>, threads: &str) -> String {
    let short = &sha[..sha.len().min(8)];
    let compared = report.diagnostics.iter().any(|d| d.new.is_some());
    let shown: Vec<_> = report
        .diagnostics
        .iter()
        .filter(|d| d.new != Some(false))
        .collect();
    let mut out = format!(
        "{NOTE_MARKER}\n### nautes-lint: {}, {}\n\n",
        plural(report.errors(), "error", "errors"),
        plural(report.warnings(), "warning", "warnings")
    );
    match (compared, base) {
        (true, Some(b)) => out.push_str(&format!(
            "Commit `{short}`: {} new compared with `{}`.\n\n",
            plural(shown.len(), "finding", "findings"),
            cell(b)
        )),
        _ => out.push_str(&format!(
            "Commit `{short}`: {}.\n\n",
            plural(shown.len(), "finding", "findings")
        )),
    }
    if !shown.is_empty() {
        out.push_str("| Location | Rule | Severity | Message |\n|---|---|---|---|\n");
        for d in shown.iter().take(NOTE_MAX_ROWS) {
            let (line, _, _, _) = d.line_col();
            let sev = match d.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            out.push_str(&format!(
                "| `{}:{line}` | `{}` | {sev} | {} |\n",
                cell(&d.path),
                d.rule,
                cell(&d.message)
            ));
        }
        if shown.len() > NOTE_MAX_ROWS {
            out.push_str(&format!(
                "\n…and {} more; run `nautes-lint check` for the full list.\n",
                shown.len() - NOTE_MAX_ROWS
            ));
        }
    }
    let old = report.diagnostics.len() - shown.len();
    if old > 0 {
        out.push_str(&format!(
            "\n{} already present in the target branch.\n",
            plural(old, "finding was", "findings were")
        ));
    }
    out.push_str(threads);
    out.push_str("\n<sub>Updated on every push by nautes-lint.</sub>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::MemoryTree;

    #[test]
    fn description_and_note_for_a_broken_tree() {
        let tree = MemoryTree::new([(
            "runtimes/dr.yaml",
            "apiVersion: nautes.resource.nautes.io/v1alpha1\nkind: DeploymentRuntime\nmetadata:\n  name: dr\nspec: {}\n",
        )]);
        let report = crate::validate(&tree, Some(&MemoryTree::default()), &Settings::default());
        assert!(report.errors() > 0);
        let d = describe(&report);
        assert!(d.contains("new)") && d.chars().count() <= 255, "{d}");
        let note = note_body(
            &report,
            "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
            Some("main"),
        );
        assert!(note.starts_with(NOTE_MARKER));
        assert!(note.contains("`runtimes/dr.yaml:"), "{note}");
        assert!(note.contains("compared with `main`"), "{note}");
    }

    #[test]
    fn clean_tree_says_so() {
        let report = crate::validate(&MemoryTree::default(), None, &Settings::default());
        assert!(describe(&report).starts_with("no findings"));
    }

    #[test]
    fn repository_config_is_applied_and_errors_reported() {
        let s = settings_for(None, None, Some("strict: true\n")).unwrap();
        assert!(s.strict);
        let e = settings_for(None, None, Some("stirct: true\n")).unwrap_err();
        assert!(e.contains(".nautes-lint.yaml"), "{e}");
    }
}
