//! ## What it does
//! Checks that a CodeRepo's `spec.project`, when set, is a Project in the tree.
//!
//! ## Why is this bad?
//! The code repo's permissions derive from its project; a missing project means no runtime may use
//! the repo, and Nautes reports the project as not found.
//!
//! ## Example
//! ```yaml
//! kind: CodeRepo
//! spec:
//!   project: billing   # no projects/billing/
//! ```
//!
//! ## How to fix
//! Name an existing project, add the Project, or remove `project` for a repo shared by bindings.

use super::{Rule, RuleMeta, TreeCtx};
use crate::diagnostic::Finding;
use crate::model::Kind;

super::meta!(
    "coderepo-project-not-found",
    Error,
    Tree,
    "a CodeRepo's spec.project is a Project in the tree"
);

impl Rule for Check {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_tree(&self, ctx: &TreeCtx<'_>, out: &mut Vec<Finding>) {
        let refs = super::References {
            rule: &META,
            from: Kind::CodeRepo,
            to: Kind::Project,
            what: "project",
            help: "add the Project under `projects/`, or name an existing one",
        };
        refs.check(ctx, out, |r| {
            r.code_repo()
                .and_then(|c| c.project.as_ref())
                .filter(|p| !p.value.is_empty())
        });
    }
}
