//! ## What it does
//! (Needs `--clusters`.) Checks that the cluster of a DeploymentRuntime's environment exists in the
//! cluster inventory and is a deployment cluster: `usage: worker` and `workerType: deployment`.
//!
//! ## Why is this bad?
//! Nautes: "cluster is not a deployment cluster". A runtime aimed at a pipeline or host cluster is
//! never deployed.
//!
//! ## Example
//! ```yaml
//! # envs/env-dev.yaml: cluster: cluster-ci, whose Cluster says workerType: pipeline
//! spec:
//!   destination: {environment: env-dev}
//! ```
//!
//! ## How to fix
//! Deploy to an environment on a deployment cluster, or move the environment to one.

use super::{Rule, RuleMeta, TreeCtx};
use crate::diagnostic::Finding;
use crate::model::Kind;

super::meta!(
    "dr-cluster-not-deployment",
    Error,
    Clusters,
    "the environment's cluster is a worker cluster of type deployment"
);

impl Rule for Check {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_tree(&self, ctx: &TreeCtx<'_>, out: &mut Vec<Finding>) {
        for r in ctx.model.of_kind(Kind::DeploymentRuntime) {
            // A missing cluster is env-cluster-not-found's finding, on the environment.
            let Some(super::Placement {
                env_ref,
                env,
                cluster_ref,
                cluster: c,
            }) = super::placement(ctx, r)
            else {
                continue;
            };
            let usage = c.usage.as_deref().unwrap_or("");
            let worker = c.worker_type.as_deref().unwrap_or("");
            if usage == "worker" && worker == "deployment" {
                continue;
            }
            let what = match (usage, worker) {
                ("worker", "") => "an untyped worker".to_owned(),
                ("worker", w) => format!("a {w} worker"),
                ("", _) => "a cluster without `usage`".to_owned(),
                (u, _) => format!("a `{u}` cluster"),
            };
            out.push(
                Finding::at(&META, r, env_ref, format!("environment `{}` is on cluster `{}`, which is {what}, not a deployment cluster", env_ref.value, c.name))
                    .help("deploy to an environment whose cluster has `usage: worker` and `workerType: deployment`")
                    .related(&ctx.model.paths[env.file as usize], cluster_ref.span, format!("environment `{}` uses cluster `{}`", env_ref.value, c.name))
                    .related(&std::sync::Arc::from(c.path.as_str()), c.name_span, "the cluster is defined here"),
            );
        }
    }
}
