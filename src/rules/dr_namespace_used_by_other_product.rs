//! ## What it does
//! (Needs `--context`.) Checks that no explicit `destination.namespaces` entry of a
//! DeploymentRuntime is already used, on the same cluster, by a runtime of another product of the
//! tenant. The cluster is the one of the runtime's Environment; the other products' claims come
//! from the tenant context (`--context FILE`, fetched from the service's `GET /api/v1/context`).
//! Runtimes of the same product may share a namespace, and a namespace on another cluster is
//! another namespace. Only explicit namespaces count, on both sides, as in Nautes. One hash lookup
//! per namespace.
//!
//! ## Why is this bad?
//! Nautes: "namespaces [%s] is used by other product". Two products deploying into one namespace
//! overwrite each other's objects and share each other's secrets. Nautes checks it only in its
//! admission webhook, against live objects, and lets the runtime through when a lookup fails; the
//! linter finds it in git, before anything reaches a cluster.
//!
//! ## Example
//! ```yaml
//! # runtimes/dr-dev.yaml of product-7; env-dev is on cluster-dev, where product-9's runtime
//! # dr-web already deploys to namespace `web`
//! spec:
//!   destination:
//!     environment: env-dev
//!     namespaces: [web]
//! ```
//!
//! ## How to fix
//! Use a namespace of your own product (prefixing it with the product's name avoids clashes), or
//! agree with the other product which of you owns it.

use super::{Rule, RuleMeta, TreeCtx};
use crate::diagnostic::Finding;
use crate::model::Kind;

super::meta!(
    "dr-namespace-used-by-other-product",
    Error,
    Context,
    "no namespace is used on the same cluster by another product's runtime"
);

/// Related locations listed per finding; when more runtimes claim the namespace, the help line
/// gives their number.
const SHOWN: usize = 3;

impl Rule for Check {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_tree(&self, ctx: &TreeCtx<'_>, out: &mut Vec<Finding>) {
        let Some(index) = ctx.namespaces else { return };
        for r in ctx.model.of_kind(Kind::DeploymentRuntime) {
            let Some(d) = r.dr() else { continue };
            if d.namespaces.is_empty() {
                continue;
            }
            // A missing environment or cluster reference is another rule's finding.
            let Some(cluster) = ctx.model.cluster_of(r) else {
                continue;
            };
            for ns in &d.namespaces {
                // The context may still hold this product's own claims (its last default-branch
                // state): the checked tree replaces them.
                let mut owners: Vec<_> = index
                    .lookup(&cluster.value, &ns.value)
                    .iter()
                    .filter(|o| Some(&*o.product) != ctx.product)
                    .collect();
                if owners.is_empty() {
                    continue;
                }
                // Whatever order the context lists products in, the same finding.
                owners.sort_by(|a, b| {
                    (&a.product, &a.path, a.line, &a.runtime)
                        .cmp(&(&b.product, &b.path, b.line, &b.runtime))
                });
                let mut help = "deploy to a namespace of this product's own, or agree with the other product who owns it; runtimes of one product may share a namespace".to_owned();
                if owners.len() > SHOWN {
                    help.push_str(&format!(
                        " ({} runtimes of other products claim it; the first {SHOWN} are listed)",
                        owners.len()
                    ));
                }
                // The message names one product (the first by id) and no count, so its
                // fingerprint stays when other products come and go.
                let mut f = Finding::at(
                    &META,
                    r,
                    ns,
                    format!(
                        "namespace `{}` on cluster `{}` is used by other product `{}`",
                        ns.value, cluster.value, owners[0].product
                    ),
                )
                .help(help);
                for o in owners.iter().take(SHOWN) {
                    // The claim's 1-based line and column, as a point.
                    let at = crate::yaml::Pos {
                        index: 0,
                        line: o.line.max(1),
                        col: o.column.saturating_sub(1),
                    };
                    f = f.related_elsewhere(
                        &o.project,
                        &o.path,
                        crate::yaml::Span { start: at, end: at },
                        format!(
                            "runtime `{}` of product `{}` deploys to namespace `{}` on cluster `{}`",
                            o.runtime, o.product, ns.value, cluster.value
                        ),
                    );
                }
                out.push(f);
            }
        }
    }
}
