//! ## What it does
//! Checks that a ProjectPipelineRuntime's `project` is a Project in the tree.
//!
//! ## Why is this bad?
//! Nautes rejects the pipeline runtime; its pipelines never run.
//!
//! ## Example
//! ```yaml
//! # projects/ghost/pr-ghost.yaml
//! spec:
//!   project: ghost   # no projects/ghost/ghost.yaml
//! ```
//!
//! ## How to fix
//! Add the Project next to it, or move the pipeline runtime to an existing project's folder.

use super::{Rule, RuleMeta, TreeCtx};
use crate::diagnostic::Finding;
use crate::model::Kind;

super::meta!(
    "ppr-project-not-found",
    Error,
    Tree,
    "a ProjectPipelineRuntime's project exists"
);

impl Rule for Check {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_tree(&self, ctx: &TreeCtx<'_>, out: &mut Vec<Finding>) {
        let refs = super::References {
            rule: &META,
            from: Kind::ProjectPipelineRuntime,
            to: Kind::Project,
            what: "project",
            help: "add the Project, or name an existing one",
        };
        refs.check(ctx, out, |r| r.ppr().and_then(|p| p.project.as_ref()));
    }
}
