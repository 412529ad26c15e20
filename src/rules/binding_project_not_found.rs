//! ## What it does
//! Checks that each project a CodeRepoBinding lists is a Project in the tree.
//!
//! ## Why is this bad?
//! The grant goes to nobody; usually a typo that leaves the intended project without access.
//!
//! ## Example
//! ```yaml
//! kind: CodeRepoBinding
//! spec:
//!   projects: [billing]   # no projects/billing/
//! ```
//!
//! ## How to fix
//! Correct or remove the entry.

use super::{Rule, RuleMeta, TreeCtx};
use crate::diagnostic::Finding;
use crate::model::Kind;

super::meta!(
    "binding-project-not-found",
    Error,
    Tree,
    "each project of a binding is a Project in the tree"
);

impl Rule for Check {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_tree(&self, ctx: &TreeCtx<'_>, out: &mut Vec<Finding>) {
        let refs = super::References {
            rule: &META,
            from: Kind::CodeRepoBinding,
            to: Kind::Project,
            what: "project",
            help: "correct or remove the entry",
        };
        refs.check(ctx, out, |r| {
            r.binding()
                .map(|b| b.projects.as_slice())
                .unwrap_or_default()
        });
    }
}
