//! ## What it does
//! Checks that a CodeRepo's `webhook.events` are GitLab hook events: confidential_issues_events,
//! confidential_note_events, deployment_events, issues_events, job_events, merge_requests_events,
//! note_events, pipeline_events, push_events, releases_events, tag_push_events.
//!
//! ## Why is this bad?
//! Nautes passes them to GitLab's project hook API, which rejects the hook; the repo then gets no
//! webhook at all and pipelines never trigger.
//!
//! ## Example
//! ```yaml
//! webhook:
//!   events: [push_events, merge_request_events]   # GitLab says merge_requests_events
//! ```
//!
//! ## How to fix
//! Use GitLab's event names.

use super::{Rule, RuleMeta, TreeCtx};
use crate::diagnostic::Finding;
use crate::model::Kind;

super::meta!(
    "coderepo-invalid-webhook-event",
    Error,
    Tree,
    "webhook.events are GitLab hook events"
);

pub const EVENTS: &[&str] = &[
    "confidential_issues_events",
    "confidential_note_events",
    "deployment_events",
    "issues_events",
    "job_events",
    "merge_requests_events",
    "note_events",
    "pipeline_events",
    "push_events",
    "releases_events",
    "tag_push_events",
];

impl Rule for Check {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_tree(&self, ctx: &TreeCtx<'_>, out: &mut Vec<Finding>) {
        for r in ctx.model.of_kind(Kind::CodeRepo) {
            for e in r
                .code_repo()
                .map(|c| c.webhook_events.as_slice())
                .unwrap_or_default()
            {
                if !EVENTS.contains(&e.as_str()) {
                    let help = crate::suggest::did_you_mean(&e.value, EVENTS.iter().copied())
                        .unwrap_or_else(|| format!("GitLab's events are {}", EVENTS.join(", ")));
                    out.push(
                        Finding::at(
                            &META,
                            r,
                            e,
                            format!("`{}` is not a GitLab webhook event", e.value),
                        )
                        .help(help),
                    );
                }
            }
        }
    }
}
