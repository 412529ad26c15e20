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
        for r in ctx.model.of_kind(Kind::ProjectPipelineRuntime) {
            let Some(p) = r.ppr() else { continue };
            let refs = p
                .pipeline_source
                .iter()
                .chain(
                    p.event_sources
                        .iter()
                        .filter_map(|e| e.gitlab_repo.as_ref()),
                )
                .chain(p.additional_repo.iter());
            for repo in refs {
                if ctx.model.get(Kind::CodeRepo, &repo.value).is_none() {
                    out.push(super::not_found(
                        META.id,
                        ctx,
                        r,
                        repo,
                        Kind::CodeRepo,
                        "code repo",
                        "reference code repos by id, `repo-<GitLab project id>`",
                    ));
                }
            }
        }
    }
}
