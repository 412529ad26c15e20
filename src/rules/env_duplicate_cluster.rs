//! ## What it does
//! Checks that no two Environments use the same cluster.
//!
//! ## Why is this bad?
//! Nautes: "duplicate reference cluster resources between resource %s and resource %s". A cluster
//! belongs to one environment of a product.
//!
//! ## Example
//! ```yaml
//! # envs/env-dev.yaml and envs/env-qa.yaml both:
//! spec:
//!   cluster: cluster-dev
//! ```
//!
//! ## How to fix
//! Give each environment a cluster of its own.

use super::{Rule, RuleMeta, TreeCtx};
use crate::diagnostic::Finding;
use crate::model::{Kind, Resource};
use rustc_hash::FxHashMap as HashMap;

super::meta!(
    "env-duplicate-cluster",
    Error,
    Tree,
    "no two Environments use the same cluster"
);

impl Rule for Check {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_tree(&self, ctx: &TreeCtx<'_>, out: &mut Vec<Finding>) {
        let mut seen: HashMap<&str, &Resource> = HashMap::default();
        for r in ctx.model.of_kind(Kind::Environment) {
            let Some(c) = r.env().and_then(|e| e.cluster.as_ref()) else {
                continue;
            };
            match seen.get(c.as_str()) {
                None => {
                    seen.insert(c.as_str(), r);
                }
                Some(first) => {
                    let first_cluster = first
                        .env()
                        .and_then(|e| e.cluster.as_ref())
                        .expect("stored with its cluster");
                    out.push(
                        Finding::at(
                            &META,
                            r,
                            c,
                            format!(
                                "cluster `{}` is already used by environment `{}`",
                                c.value, first.name.value
                            ),
                        )
                        .help("each environment needs a cluster of its own")
                        .related(
                            &ctx.model.paths[first.file as usize],
                            first_cluster.span,
                            format!("environment `{}` uses it", first.name.value),
                        ),
                    );
                }
            }
        }
    }
}
