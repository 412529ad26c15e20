//! Brings a merge request's review threads up to date after a check: reads the latest diff
//! version, the diff and the discussions, asks [`super::threads::plan`] what to do, and does it.
//! Nothing here can fail the job: a failed call is logged, counted in `/metrics`, and said in
//! the summary note; the commit status reports the check either way.

use super::gitlab::{CallError, NewThread, ThreadPosition};
use super::threads::{self, Candidate, Existing, FileDiff, NoteView, Summary};
use super::worker::Context;
use crate::config::ThreadMode;
use crate::engine::Report;
use std::collections::HashSet;

/// Pages of 100 read at most from the diff and the discussions lists.
const MAX_PAGES: u32 = 50;

/// The mode for a repository: its own `mrThreads:` wins over the service's `--mr-threads`.
pub fn mode_for(ctx: &Context, config: Option<&str>) -> ThreadMode {
    config
        .and_then(|text| {
            crate::config::Config::parse(
                text,
                std::path::Path::new(crate::config::FILE_NAME),
                std::path::Path::new("."),
            )
            .ok()
        })
        .and_then(|c| c.mr_threads)
        .unwrap_or(ctx.config.threads.mode)
}

/// The merge request this job checked, and where its head commit lives.
pub struct MergeRequest<'a> {
    /// The target project (the merge request's home).
    pub project: i64,
    pub iid: i64,
    /// The source project (the head commit's home, for links to files).
    pub source: i64,
    pub sha: &'a str,
    pub event: Option<&'a str>,
}

/// Updates the threads; never fails: what went wrong is in the summary's `failed`.
pub async fn sync(
    ctx: &Context,
    mr: &MergeRequest<'_>,
    report: &Report,
    mode: ThreadMode,
) -> Summary {
    let mut summary = Summary {
        mode,
        max_new: ctx.config.threads.max_new,
        ..Summary::default()
    };
    if mode == ThreadMode::Off {
        return summary;
    }
    if let Err(e) = run(ctx, mr, report, &mut summary).await {
        tracing::error!(error = %e, merge_request = mr.iid, "cannot update the merge request's review threads; the commit status stands");
        ctx.metrics.thread("failed");
        summary.failed = Some(e);
    }
    summary
}

async fn run(
    ctx: &Context,
    mr: &MergeRequest<'_>,
    report: &Report,
    summary: &mut Summary,
) -> Result<(), String> {
    let gl = &ctx.gitlab;
    let (project, iid, ev) = (mr.project, mr.iid, mr.event);
    let err = |e: CallError| e.to_string();
    let version = gl
        .latest_version(project, iid, ev)
        .await
        .map_err(err)?
        .filter(|v| v.head_commit_sha == mr.sha)
        .ok_or_else(|| {
            "the merge request's latest diff version is not this commit (GitLab has not computed it yet, or a newer push replaced it)".to_owned()
        })?;
    let mut diffs = Vec::new();
    for page in 1..=MAX_PAGES {
        let (files, more) = gl.diffs_page(project, iid, page, ev).await.map_err(err)?;
        diffs.extend(files.into_iter().map(|f| {
            let mut d = FileDiff::parse(&f.old_path, &f.new_path, &f.diff);
            d.new_file = f.new_file;
            d.deleted_file = f.deleted_file;
            d
        }));
        if !more {
            break;
        }
    }
    let me = gl.current_user(ev).await.map_err(err)?;
    let mut existing: Vec<Existing> = Vec::new();
    for page in 1..=MAX_PAGES {
        let (list, more) = gl
            .discussions_page(project, iid, page, ev)
            .await
            .map_err(err)?;
        for d in &list {
            let notes: Vec<NoteView<'_>> = d
                .notes
                .iter()
                .map(|n| NoteView {
                    id: n.id,
                    body: &n.body,
                    author: n.author.as_ref().map(|a| a.id),
                    resolved: n.resolved,
                })
                .collect();
            existing.extend(threads::existing(&d.id, &notes, me));
        }
        if !more {
            break;
        }
        if page == MAX_PAGES {
            // Threads past this are not seen: one of them may get a twin, which is better
            // than reading without end.
            tracing::warn!(
                pages = MAX_PAGES,
                "more discussions than read; threads past them are not found"
            );
        }
    }

    let fingerprints = crate::render::unique_fingerprints(&report.diagnostics);
    let present: HashSet<&str> = fingerprints.iter().map(String::as_str).collect();
    let new: Vec<(&crate::diagnostic::Diagnostic, &str)> = report
        .diagnostics
        .iter()
        .zip(&fingerprints)
        .filter(|(d, _)| d.new != Some(false))
        .map(|(d, fp)| (d, fp.as_str()))
        .collect();
    let candidates: Vec<Candidate> = new
        .iter()
        .map(|(d, fp)| Candidate {
            fingerprint: (*fp).to_owned(),
            path: d.path.to_string(),
            line: d.line_col().0,
            severity: d.severity,
        })
        .collect();
    let plan = threads::plan(
        &candidates,
        &present,
        &diffs,
        &existing,
        summary.mode,
        summary.max_new,
    );
    summary.over_limit = plan.over_limit.len();
    summary.outside_diff = plan.outside_diff.len();

    let target_web = gl.web_url(project, ev).await.map_err(err)?;
    let source_web = if mr.source == project {
        target_web.clone()
    } else {
        gl.web_url(mr.source, ev).await.map_err(err)?
    };
    let link = |note: i64| format!("{target_web}/-/merge_requests/{iid}#note_{note}");
    // (candidate, thread URL), listed in the findings' order.
    let mut links: Vec<(usize, String)> = Vec::new();

    // Reply before resolving: a crash between the two leaves an open thread that the next run
    // resolves, rather than a resolved one without the reply that lets it be reopened.
    for &t in &plan.resolve {
        let e = &existing[t];
        gl.reply(
            project,
            iid,
            &e.discussion,
            &threads::fixed_reply(mr.sha),
            ev,
        )
        .await
        .map_err(err)?;
        gl.resolve_thread(project, iid, &e.discussion, true, ev)
            .await
            .map_err(err)?;
        ctx.metrics.thread("resolved");
        summary.resolved += 1;
    }
    // Reopen before replying, for the same reason the other way round.
    for &t in &plan.reopen {
        let e = &existing[t];
        gl.resolve_thread(project, iid, &e.discussion, false, ev)
            .await
            .map_err(err)?;
        gl.reply(
            project,
            iid,
            &e.discussion,
            &threads::back_reply(mr.sha),
            ev,
        )
        .await
        .map_err(err)?;
        ctx.metrics.thread("reopened");
        summary.reopened += 1;
    }
    for &(c, t) in &plan.kept {
        let e = &existing[t];
        if !e.resolved || plan.reopen.contains(&t) {
            links.push((c, link(e.note)));
        }
    }
    let blob = format!("{source_web}/-/blob/{}", mr.sha);
    for &(c, line) in &plan.open {
        let (d, fp) = new[c];
        let diff = diffs
            .iter()
            .find(|f| f.new_path == candidates[c].path)
            .expect("the plan opens threads only in files of the diff");
        let position = ThreadPosition {
            base_sha: version.base_commit_sha.clone(),
            start_sha: version.start_commit_sha.clone(),
            head_sha: version.head_commit_sha.clone(),
            old_path: diff.old_path.clone(),
            new_path: diff.new_path.clone(),
            new_line: line.new_line,
            old_line: line.old_line,
        };
        let body = threads::thread_body(d, fp, &blob);
        match gl
            .create_thread(project, iid, &body, &position, ev)
            .await
            .map_err(err)?
        {
            NewThread::Opened { note, .. } => {
                ctx.metrics.thread("opened");
                summary.opened += 1;
                links.push((c, link(note)));
            }
            NewThread::Refused(why) => {
                tracing::warn!(path = %candidates[c].path, line = line.new_line, reason = %why, "GitLab refused the thread's position; the finding stays in the summary note");
                ctx.metrics.thread("refused");
                summary.refused += 1;
            }
        }
    }
    links.sort();
    summary.links = links
        .into_iter()
        .map(|(c, url)| {
            (
                format!("{}:{}", candidates[c].path, candidates[c].line),
                url,
            )
        })
        .collect();
    Ok(())
}
