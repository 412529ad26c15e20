//! ## What it does
//! (Needs `--clusters`.) Checks that an Environment's `cluster` exists in the cluster inventory.
//!
//! ## Why is this bad?
//! Everything deployed to the environment has nowhere to go; Nautes reports the cluster as not
//! found when it reconciles the environment.
//!
//! ## Example
//! ```yaml
//! spec:
//!   cluster: cluster-qa   # no such Cluster in the tenant repository
//! ```
//!
//! ## How to fix
//! Name a registered cluster, or register the cluster first.

use super::{Rule, RuleMeta, TreeCtx};
use crate::diagnostic::Finding;
use crate::model::Kind;

super::meta!(
    "env-cluster-not-found",
    Error,
    Clusters,
    "an Environment's cluster exists"
);

impl Rule for Check {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_tree(&self, ctx: &TreeCtx<'_>, out: &mut Vec<Finding>) {
        let Some(clusters) = ctx.clusters else { return };
        // Built on the first missing cluster: one search per finding, not a scan of the inventory.
        let index = std::cell::OnceCell::new();
        for r in ctx.model.of_kind(Kind::Environment) {
            let Some(c) = r.env().and_then(|e| e.cluster.as_ref()) else {
                continue;
            };
            if !clusters.contains_key(&c.value) {
                let help = index
                    .get_or_init(|| {
                        crate::suggest::NameIndex::new(clusters.keys().map(String::as_str))
                    })
                    .did_you_mean(&c.value)
                    .unwrap_or_else(|| {
                        "register the cluster in the tenant repository, or name a registered one"
                            .into()
                    });
                out.push(
                    Finding::at(
                        &META,
                        r,
                        c,
                        format!("cluster `{}` does not exist", c.value),
                    )
                    .help(help),
                );
            }
        }
    }
}
