//! ## What it does
//! Checks that a CodeRepoBinding's `codeRepo` is a CodeRepo in the tree.
//!
//! ## Why is this bad?
//! Nautes: "the authorization repository %s does not exist when checking CodeRepoBinding %s".
//!
//! ## Example
//! ```yaml
//! kind: CodeRepoBinding
//! spec:
//!   codeRepo: repo-99
//! ```
//!
//! ## How to fix
//! Bind an existing code repo (by id, `repo-<GitLab project id>`), or delete the binding.

use super::{Rule, RuleMeta, TreeCtx};
use crate::diagnostic::Finding;
use crate::model::Kind;

super::meta!(
    "binding-coderepo-not-found",
    Error,
    Tree,
    "a CodeRepoBinding's codeRepo is a CodeRepo in the tree"
);

impl Rule for Check {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_tree(&self, ctx: &TreeCtx<'_>, out: &mut Vec<Finding>) {
        let refs = super::References {
            rule: &META,
            from: Kind::CodeRepoBinding,
            to: Kind::CodeRepo,
            what: "code repo",
            help: "bind an existing code repo, by id, or delete the binding",
        };
        refs.check(ctx, out, |r| r.binding().and_then(|b| b.code_repo.as_ref()));
    }
}
