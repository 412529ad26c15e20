//! ## What it does
//! Checks that a DeploymentRuntime's `destination` (either form) names an Environment in the tree.
//!
//! ## Why is this bad?
//! Nautes: "During global validation, it was found that %s '%s' does not exist or is unavailable.
//! Please check resource path of default project: runtimes/<name>". The runtime is never deployed.
//!
//! ## Example
//! ```yaml
//! spec:
//!   destination:
//!     environment: env-dve
//! ```
//!
//! ## How to fix
//! Name an existing environment (`envs/<name>.yaml`), or add the Environment.

use super::{Rule, RuleMeta, TreeCtx};
use crate::diagnostic::Finding;
use crate::model::Kind;

super::meta!(
    "dr-environment-not-found",
    Error,
    Tree,
    "destination names an Environment in the tree"
);

impl Rule for Check {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_tree(&self, ctx: &TreeCtx<'_>, out: &mut Vec<Finding>) {
        let refs = super::References {
            rule: &META,
            from: Kind::DeploymentRuntime,
            to: Kind::Environment,
            what: "environment",
            help: "add the Environment under `envs/`, or name an existing one",
        };
        refs.check(ctx, out, |r| r.dr().and_then(|d| d.environment.as_ref()));
    }
}
