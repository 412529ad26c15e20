//! ## What it does
//! Checks that a CodeRepo without `url` has both `product` and `codeRepoProvider`.
//!
//! ## Why is this bad?
//! Without a URL, Nautes builds the clone address from the provider and the product's GitLab
//! group; with either missing it cannot find the repository.
//!
//! ## Example
//! ```yaml
//! kind: CodeRepo
//! spec:
//!   product: product-7
//!   project: api-server
//! ```
//!
//! ## How to fix
//! Add `codeRepoProvider: gitlab` (and `product`), or an SSH `url`.

use super::{Rule, RuleMeta, TreeCtx};
use crate::diagnostic::Finding;
use crate::model::Kind;

super::meta!(
    "coderepo-missing-provider",
    Error,
    Tree,
    "with no url, both product and codeRepoProvider are set"
);

impl Rule for Check {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_tree(&self, ctx: &TreeCtx<'_>, out: &mut Vec<Finding>) {
        for r in ctx.model.of_kind(Kind::CodeRepo) {
            let Some(c) = r.code_repo() else { continue };
            let set =
                |v: &Option<crate::model::SpStr>| v.as_ref().is_some_and(|x| !x.value.is_empty());
            if set(&c.url) {
                continue;
            }
            let missing: Vec<&str> = [
                ("codeRepoProvider", set(&c.provider)),
                ("product", set(&r.product)),
            ]
            .into_iter()
            .filter(|(_, ok)| !ok)
            .map(|(k, _)| k)
            .collect();
            if !missing.is_empty() {
                let list = missing
                    .iter()
                    .map(|m| format!("`{m}`"))
                    .collect::<Vec<_>>()
                    .join(" and ");
                out.push(
                    Finding::new(
                        &META,
                        r.file,
                        r.spec_span,
                        "/spec",
                        format!(
                            "code repo `{}` has no `url`, so it needs {list}",
                            r.name.value
                        ),
                    )
                    .resource(r)
                    .help("add `codeRepoProvider: gitlab` and `product`, or an SSH `url`"),
                );
            }
        }
    }
}
