//! ## What it does
//! Checks that a DeploymentRuntime's `manifestSource.codeRepo` names a CodeRepo in the tree.
//!
//! ## Why is this bad?
//! Argo CD has no repository to sync from; the runtime never deploys. Code repos are referenced by
//! id (`repo-<GitLab project id>`), not by their GitLab name, which makes typos easy.
//!
//! ## Example
//! ```yaml
//! spec:
//!   manifestSource:
//!     codeRepo: repo-99
//! ```
//!
//! ## How to fix
//! Use the id of an existing CodeRepo (`code-repos/repo-<id>/`).

use super::{Rule, RuleMeta, TreeCtx};
use crate::diagnostic::Finding;
use crate::model::Kind;

super::meta!(
    "dr-coderepo-not-found",
    Error,
    Tree,
    "manifestSource.codeRepo names a CodeRepo in the tree"
);

impl Rule for Check {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_tree(&self, ctx: &TreeCtx<'_>, out: &mut Vec<Finding>) {
        for r in ctx.model.of_kind(Kind::DeploymentRuntime) {
            if let Some(repo) = r.dr().and_then(|d| d.code_repo.as_ref())
                && ctx.model.get(Kind::CodeRepo, &repo.value).is_none()
            {
                out.push(super::not_found(
                    META.id,
                    ctx,
                    r,
                    repo,
                    Kind::CodeRepo,
                    "code repo",
                    "reference code repos by id, `repo-<GitLab project id>`, as in `code-repos/`",
                ));
            }
        }
    }
}
