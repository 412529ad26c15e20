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
        let refs = super::References {
            rule: &META,
            from: Kind::DeploymentRuntime,
            to: Kind::CodeRepo,
            what: "code repo",
            help: "reference code repos by id, `repo-<GitLab project id>`, as in `code-repos/`",
        };
        refs.check(ctx, out, |r| r.dr().and_then(|d| d.code_repo.as_ref()));
    }
}
