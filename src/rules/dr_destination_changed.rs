//! ## What it does
//! (Needs a base revision: `--base`, the git hooks, the webhook service.) Checks that a
//! DeploymentRuntime that already existed in the base revision keeps its environment, whichever
//! destination form either side uses. Runtimes are matched by name, so renaming the file does not
//! hide a change.
//!
//! A runtime whose environment did not exist in the base revision can never have been deployed
//! there, so correcting it is not a change. A runtime that had other errors in the base still
//! counts: an earlier revision may have deployed it, and Nautes remembers where.
//!
//! ## Why is this bad?
//! The user guide: "If the deployment runtime is deployed to a runtime cluster, changing the
//! destination of the deployment runtime is not supported." Nautes: "the deployed environment
//! cannot be changed". The old deployment would be orphaned in the old cluster.
//!
//! ## Example
//! ```yaml
//! # before: destination: {environment: env-dev}
//! spec:
//!   destination: {environment: env-test}
//! ```
//!
//! ## How to fix
//! Keep the environment; to deploy elsewhere, create a new runtime (new name) and delete the old.
//! When the change also deletes the old environment, keeping it is no option: add the new
//! runtime and delete the old one.

use super::{Rule, RuleMeta, TreeCtx};
use crate::diagnostic::Finding;
use crate::model::Kind;

super::meta!(
    "dr-destination-changed",
    Error,
    Base,
    "a runtime that existed in the base revision keeps its environment"
);

impl Rule for Check {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_tree(&self, ctx: &TreeCtx<'_>, out: &mut Vec<Finding>) {
        let Some(base) = ctx.base else { return };
        for r in ctx.model.of_kind(Kind::DeploymentRuntime) {
            let Some(env) = r.dr().and_then(|d| d.environment.as_ref()) else {
                continue;
            };
            let Some(old) = base.get(Kind::DeploymentRuntime, &r.name.value) else {
                continue;
            };
            let Some(old_env) = old.dr().and_then(|d| d.environment.as_ref()) else {
                continue;
            };
            // Nautes deploys a runtime only to an environment that exists.
            if old_env.value == env.value || base.get(Kind::Environment, &old_env.value).is_none() {
                continue;
            }
            let help = if ctx.model.get(Kind::Environment, &old_env.value).is_some() {
                format!(
                    "keep `{}`; to deploy to `{}`, add a new runtime and delete this one",
                    old_env.value, env.value
                )
            } else {
                format!(
                    "this change deletes `{}`, so the runtime cannot stay there: to deploy to `{}`, add a new runtime (a new name) and delete this one",
                    old_env.value, env.value
                )
            };
            out.push(
                Finding::at(&META, r, env, format!("the deployed environment cannot be changed: runtime `{}` moves from `{}` to `{}`", r.name.value, old_env.value, env.value))
                    .help(help)
                    .related_base(&base.paths[old.file as usize], old_env.span, "the environment in the base revision"),
            );
        }
    }
}
