//! ## What it does
//! Checks that no two DeploymentRuntimes deploy the same manifests to the same environment: the
//! same `manifestSource` (codeRepo, targetRevision, path), `product` and environment. Namespaces do
//! not make them different. Linear in the number of runtimes (one hash map).
//!
//! ## Why is this bad?
//! Nautes: "duplicate reference found between resource %s and resource %s" / "can not deploy
//! same repo to the same destination": two Argo CD applications would fight over the same objects.
//!
//! ## Example
//! ```yaml
//! # runtimes/dr-dev.yaml and runtimes/dr-dev2.yaml, both:
//! spec:
//!   destination: {environment: env-dev}
//!   manifestSource: {codeRepo: repo-42, path: manifests/development, targetRevision: HEAD}
//! ```
//!
//! ## How to fix
//! Delete the copy, or point it at another path, revision or environment.

use super::{Rule, RuleMeta, TreeCtx};
use crate::diagnostic::Finding;
use crate::model::{Kind, Resource};
use rustc_hash::FxHashMap as HashMap;

super::meta!(
    "dr-duplicate",
    Error,
    Tree,
    "no two runtimes deploy the same manifest source to the same environment"
);

impl Rule for Check {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_tree(&self, ctx: &TreeCtx<'_>, out: &mut Vec<Finding>) {
        type Key<'a> = (&'a str, &'a str, &'a str, &'a str, &'a str);
        let mut seen: HashMap<Key<'_>, &Resource> = HashMap::default();
        for r in ctx.model.of_kind(Kind::DeploymentRuntime) {
            let Some(d) = r.dr() else { continue };
            let (Some(repo), Some(env)) = (&d.code_repo, &d.environment) else {
                continue;
            };
            let key = (
                repo.as_str(),
                d.target_revision.as_ref().map_or("", |x| x.as_str()),
                d.path.as_ref().map_or("", |x| x.as_str()),
                r.product.as_ref().map_or("", |x| x.as_str()),
                env.as_str(),
            );
            match seen.get(&key) {
                None => {
                    seen.insert(key, r);
                }
                Some(first) => {
                    let mut f = crate::diagnostic::Finding::new(
                        &META,
                        r.file,
                        d.manifest_span,
                        "/spec/manifestSource",
                        format!(
                            "runtime `{}` deploys the same manifests (`{}` at `{}`, path `{}`) to environment `{}` as runtime `{}`",
                            r.name.value, key.0, if key.1.is_empty() { "(default revision)" } else { key.1 }, key.2, key.4, first.name.value
                        ),
                    )
                    .resource(r)
                    .help("can not deploy the same repo to the same destination: delete one, or change its path, revision or environment");
                    let fd = first.dr().expect("indexed as a runtime");
                    f = f.related(
                        &ctx.model.paths[first.file as usize],
                        fd.manifest_span,
                        format!("runtime `{}` already deploys them", first.name.value),
                    );
                    out.push(f);
                }
            }
        }
    }
}
