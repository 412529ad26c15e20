//! ## What it does
//! (Needs `--clusters`.) Checks that no explicit namespace of a DeploymentRuntime is a namespace of
//! a component of its cluster (`componentsList`: argocd, tekton-pipelines, vault, ...).
//!
//! ## Why is this bad?
//! Nautes: "deployment runtime can not use component namespace %s". Deploying into a platform
//! component's namespace could overwrite or break Argo CD, Vault or Tekton for every tenant.
//!
//! ## Example
//! ```yaml
//! spec:
//!   destination:
//!     environment: env-dev
//!     namespaces: [dr-dev, argocd]
//! ```
//!
//! ## How to fix
//! Use a namespace of your own.

use super::{Rule, RuleMeta, TreeCtx};
use crate::diagnostic::Finding;
use crate::model::Kind;

super::meta!(
    "dr-component-namespace",
    Error,
    Clusters,
    "no namespace equals a namespace of the cluster's components"
);

impl Rule for Check {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_tree(&self, ctx: &TreeCtx<'_>, out: &mut Vec<Finding>) {
        for r in ctx.model.of_kind(Kind::DeploymentRuntime) {
            let (Some(d), Some(place)) = (r.dr(), super::placement(ctx, r)) else {
                continue;
            };
            let c = place.cluster;
            for ns in &d.namespaces {
                if let Some((_, component)) =
                    c.component_namespaces.iter().find(|(n, _)| *n == ns.value)
                {
                    out.push(
                        Finding::at(&META, r, ns, format!("deployment runtime can not use component namespace `{}` (the `{component}` component of cluster `{}`)", ns.value, c.name))
                            .help("deploy into a namespace of your own")
                            .related(&std::sync::Arc::from(c.path.as_str()), c.name_span, format!("cluster `{}`", c.name)),
                    );
                }
            }
        }
    }
}
