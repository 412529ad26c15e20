//! ## What it does
//! Checks that the code repos a ProjectPipelineRuntime names exist: `pipelineSource`, each
//! `eventSources[].gitlab.repoName` and `additionalResources.git.codeRepo`.
//!
//! ## Why is this bad?
//! Nautes cannot find the pipeline definitions or the repository to watch; the pipelines never run.
//!
//! ## Example
//! ```yaml
//! spec:
//!   pipelineSource: repo-99
//! ```
//!
//! ## How to fix
//! Use the id of an existing CodeRepo (`repo-<GitLab project id>`).

use super::{Rule, RuleMeta, TreeCtx};
use crate::diagnostic::Finding;
use crate::model::Kind;

super::meta!(
    "ppr-coderepo-not-found",
    Error,
    Tree,
    "pipelineSource, event source repos and the additional-resource repo exist"
);

impl Rule for Check {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_tree(&self, ctx: &TreeCtx<'_>, out: &mut Vec<Finding>) {
        let refs = super::References {
            rule: &META,
            from: Kind::ProjectPipelineRuntime,
            to: Kind::CodeRepo,
            what: "code repo",
            help: "reference code repos by id, `repo-<GitLab project id>`",
        };
        refs.check(ctx, out, |r| {
            r.ppr().into_iter().flat_map(|p| {
                let events = p
                    .event_sources
                    .iter()
                    .filter_map(|e| e.gitlab_repo.as_ref());
                p.pipeline_source
                    .iter()
                    .chain(events)
                    .chain(p.additional_repo.iter())
            })
        });
    }
}
