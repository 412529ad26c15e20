//! ## What it does
//! Checks that every `spec.product` equals the repository's product: `--product`, `product` in
//! `.nautes-lint.yaml`, or, when neither is set, the value most resources carry.
//!
//! ## Why is this bad?
//! Nautes refuses it: "the product name of resource %s does not match the current product name,
//! expected %s, but now is %s". A resource copied from another product's repository is the usual
//! cause.
//!
//! ## Example
//! ```yaml
//! spec:
//!   product: product-8   # the repository belongs to product-7
//! ```
//!
//! ## How to fix
//! Set `spec.product` to this repository's product id (`product-<GitLab group id>`).

use super::{Rule, RuleMeta, TreeCtx};
use crate::diagnostic::Finding;

super::meta!(
    "product-mismatch",
    Error,
    Tree,
    "every spec.product equals the repository's product"
);

impl Rule for Check {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_tree(&self, ctx: &TreeCtx<'_>, out: &mut Vec<Finding>) {
        let Some(product) = ctx.product else { return };
        for r in &ctx.model.resources {
            if let Some(p) = &r.product
                && p.value != product
            {
                out.push(
                    Finding::at(
                        &META,
                        r,
                        p,
                        format!(
                            "product `{}` does not match the repository's product `{product}`",
                            p.value
                        ),
                    )
                    .help(format!("set `product: {product}`")),
                );
            }
        }
    }
}
