//! ## What it does
//! Checks that a ProjectPipelineRuntime's `destination` environment (either form) exists.
//!
//! ## Why is this bad?
//! The pipelines have no cluster to run on; Nautes rejects the runtime.
//!
//! ## Example
//! ```yaml
//! spec:
//!   destination: {environment: env-ci2, namespace: pr-api}
//! ```
//!
//! ## How to fix
//! Name an existing environment (`envs/<name>.yaml`).

use super::{Rule, RuleMeta, TreeCtx};
use crate::diagnostic::Finding;
use crate::model::Kind;

super::meta!(
    "ppr-environment-not-found",
    Error,
    Tree,
    "a ProjectPipelineRuntime's destination environment exists"
);

impl Rule for Check {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_tree(&self, ctx: &TreeCtx<'_>, out: &mut Vec<Finding>) {
        let refs = super::References {
            rule: &META,
            from: Kind::ProjectPipelineRuntime,
            to: Kind::Environment,
            what: "environment",
            help: "add the Environment under `envs/`, or name an existing one",
        };
        refs.check(ctx, out, |r| r.ppr().and_then(|p| p.environment.as_ref()));
    }
}
