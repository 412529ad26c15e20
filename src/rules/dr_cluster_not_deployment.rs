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
        let Some(clusters) = ctx.clusters else { return };
        for r in ctx.model.of_kind(Kind::DeploymentRuntime) {
            let Some(env_ref) = r.dr().and_then(|d| d.environment.as_ref()) else {
                continue;
            };
            let Some(env) = ctx.model.get(Kind::Environment, &env_ref.value) else {
                continue;
            };
            let Some(cluster_ref) = env.env().and_then(|e| e.cluster.as_ref()) else {
                continue;
            };
            let env_path = &ctx.model.paths[env.file as usize];
            // A missing cluster is env-cluster-not-found's finding, on the environment.
            let Some(c) = clusters.get(&cluster_ref.value) else {
                continue;
            };
            let usage = c.usage.as_deref().unwrap_or("");
            let worker = c.worker_type.as_deref().unwrap_or("");
            if usage != "worker" || worker != "deployment" {
                let what = if usage == "worker" {
                    format!(
                        "a {} worker",
                        if worker.is_empty() { "untyped" } else { worker }
                    )
                } else {
                    format!(
                        "a `{}` cluster",
                        if usage.is_empty() {
                            "(no usage)"
                        } else {
                            usage
                        }
                    )
                };
                out.push(
                    Finding::at(META.id, r, env_ref, format!("environment `{}` is on cluster `{}`, which is {what}, not a deployment cluster", env_ref.value, c.name))
                        .help("deploy to an environment whose cluster has `usage: worker` and `workerType: deployment`")
                        .related(env_path, cluster_ref.span, format!("environment `{}` uses cluster `{}`", env_ref.value, c.name))
                        .related(&std::sync::Arc::from(c.path.as_str()), c.name_span, "the cluster is defined here"),
                );
            }
        }
    }
}
