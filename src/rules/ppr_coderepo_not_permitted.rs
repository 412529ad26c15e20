//! ## What it does
//! Checks that a ProjectPipelineRuntime's project may use its `pipelineSource` and its
//! `additionalResources.git.codeRepo` (same permission rule as `dr-project-not-permitted`: the
//! CodeRepo belongs to the project, or a binding grants it). An event source whose
//! `gitlab.repoName` the project may not use is a warning: Nautes marks it illegal and ignores it.
//!
//! ## Why is this bad?
//! Nautes: "project %s is illegal: not permitted to use repository %s".
//!
//! ## Example
//! ```yaml
//! # projects/api-server/pr-api-server.yaml
//! spec:
//!   project: api-server
//!   pipelineSource: repo-43   # belongs to web-portal, no binding
//! ```
//!
//! ## How to fix
//! Add a CodeRepoBinding for the repo that lists the project, or use a repo of the project.

use super::permission::{Permissions, Verdict};
use super::{Rule, RuleMeta, TreeCtx};
use crate::diagnostic::{Finding, Severity};
use crate::model::Kind;

super::meta!(
    "ppr-coderepo-not-permitted",
    Error,
    Tree,
    "the pipeline runtime's project may use its code repos"
);

impl Rule for Check {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_tree(&self, ctx: &TreeCtx<'_>, out: &mut Vec<Finding>) {
        let perms = Permissions::new(ctx.model);
        for r in ctx.model.of_kind(Kind::ProjectPipelineRuntime) {
            let Some(p) = r.ppr() else { continue };
            let Some(project) = &p.project else { continue };
            if ctx.model.get(Kind::Project, &project.value).is_none() {
                continue; // ppr-project-not-found
            }
            let product = r.product.as_ref().map(|p| p.as_str()).or(ctx.product);
            let hard = p
                .pipeline_source
                .iter()
                .chain(p.additional_repo.iter())
                .map(|x| (x, false));
            let soft = p
                .event_sources
                .iter()
                .filter_map(|e| e.gitlab_repo.as_ref())
                .map(|x| (x, true));
            for (repo, is_event) in hard.chain(soft) {
                if perms.check(&project.value, &repo.value, product) != Verdict::Denied {
                    continue;
                }
                let mut f = Finding::at(
                    &META,
                    r,
                    repo,
                    format!(
                        "project `{}` is not permitted to use code repo `{}`",
                        project.value, repo.value
                    ),
                )
                .help(Permissions::help(&project.value, &repo.value));
                if is_event {
                    f.severity = Some(Severity::Warning);
                    f.message.push_str("; Nautes ignores this event source");
                }
                out.push(f);
            }
        }
    }
}
