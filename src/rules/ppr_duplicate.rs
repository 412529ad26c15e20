//! ## What it does
//! Checks that no two ProjectPipelineRuntimes share `pipelineSource`, destination and a pipeline
//! path. Linear in the number of pipelines (one hash map).
//!
//! ## Why is this bad?
//! The same pipeline would be run twice in the same place for every event.
//!
//! ## Example
//! ```yaml
//! # projects/api-server/pr-a.yaml and pr-b.yaml both:
//! spec:
//!   pipelineSource: repo-42
//!   destination: {environment: env-dev, namespace: pr-api-server}
//!   pipelines: [{name: ci, path: pipelines/ci.yaml}]
//! ```
//!
//! ## How to fix
//! Delete the copy, or give it another destination or pipeline path.

use super::{Rule, RuleMeta, TreeCtx};
use crate::diagnostic::Finding;
use crate::model::{Kind, Resource};
use rustc_hash::FxHashMap as HashMap;

super::meta!(
    "ppr-duplicate",
    Error,
    Tree,
    "no two pipeline runtimes share pipelineSource, destination and a pipeline path"
);

impl Rule for Check {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_tree(&self, ctx: &TreeCtx<'_>, out: &mut Vec<Finding>) {
        let mut seen: HashMap<(&str, &str, &str, &str), &Resource> = HashMap::default();
        for r in ctx.model.of_kind(Kind::ProjectPipelineRuntime) {
            let Some(p) = r.ppr() else { continue };
            let (Some(source), Some(env)) = (&p.pipeline_source, &p.environment) else {
                continue;
            };
            let ns = p.namespace.as_deref().unwrap_or("");
            let mut reported = false;
            for path in p.pipelines.iter().filter_map(|x| x.path.as_ref()) {
                let key = (source.as_str(), env.as_str(), ns, path.as_str());
                match seen.get(&key) {
                    Some(first) if first.file != r.file => {
                        if !reported {
                            let fs = first
                                .ppr()
                                .and_then(|f| f.pipeline_source.as_ref())
                                .expect("stored with its source");
                            out.push(
                                Finding::at(&META, r, source, format!("pipeline runtime `{}` runs pipeline `{}` from `{}` in the same destination as `{}`", r.name.value, path.value, source.value, first.name.value))
                                    .help("delete the copy, or give it another destination or pipeline path")
                                    .related(&ctx.model.paths[first.file as usize], fs.span, format!("pipeline runtime `{}`", first.name.value)),
                            );
                            reported = true;
                        }
                    }
                    Some(_) => {}
                    None => {
                        seen.insert(key, r);
                    }
                }
            }
        }
    }
}
