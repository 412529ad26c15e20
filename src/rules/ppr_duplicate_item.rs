//! ## What it does
//! Checks that within one ProjectPipelineRuntime event source names, pipeline names and pipeline
//! paths are unique, and that no two triggers share (eventSource, pipeline, revision).
//!
//! ## Why is this bad?
//! Nautes: "event source %s is duplicate", "pipeline %s is duplicate", "trigger is duplicate".
//!
//! ## Example
//! ```yaml
//! pipelines:
//! - {name: ci, path: pipelines/ci.yaml}
//! - {name: ci, path: pipelines/release.yaml}
//! ```
//!
//! ## How to fix
//! Rename or remove the second item.

use super::{Rule, RuleMeta, TreeCtx};
use crate::diagnostic::Finding;
use crate::model::{Kind, SpStr};
use crate::yaml::Span;
use rustc_hash::FxHashMap as HashMap;

super::meta!(
    "ppr-duplicate-item",
    Error,
    Tree,
    "event sources, pipelines, paths and triggers are unique within a pipeline runtime"
);

impl Rule for Check {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_tree(&self, ctx: &TreeCtx<'_>, out: &mut Vec<Finding>) {
        for r in ctx.model.of_kind(Kind::ProjectPipelineRuntime) {
            let Some(p) = r.ppr() else { continue };
            let path = &ctx.model.paths[r.file as usize];
            let mut report = |what: &str, dup: &SpStr, first: Span| {
                out.push(
                    Finding::at(
                        &META,
                        r,
                        dup,
                        format!("{what} `{}` is duplicate", dup.value),
                    )
                    .help(format!("each {what} appears once in a pipeline runtime"))
                    .related(path, first, "first defined here"),
                );
            };
            let mut unique = |what: &str, items: &mut dyn Iterator<Item = &SpStr>| {
                let mut seen: HashMap<&str, Span> = HashMap::default();
                for it in items {
                    match seen.get(it.as_str()) {
                        Some(first) => report(what, it, *first),
                        None => {
                            seen.insert(it.as_str(), it.span);
                        }
                    }
                }
            };
            unique("event source", &mut p.event_sources.iter().map(|e| &e.name));
            unique("pipeline", &mut p.pipelines.iter().map(|x| &x.name));
            unique(
                "pipeline path",
                &mut p.pipelines.iter().filter_map(|x| x.path.as_ref()),
            );
            let mut triggers: HashMap<(&str, &str, &str), Span> = HashMap::default();
            for t in &p.triggers {
                let (Some(e), Some(pl)) = (&t.event_source, &t.pipeline) else {
                    continue;
                };
                let key = (e.as_str(), pl.as_str(), t.revision.as_deref().unwrap_or(""));
                if let Some(first) = triggers.get(&key) {
                    out.push(
                        Finding::new(
                            &META,
                            r.file,
                            t.span,
                            t.pointer.to_string(),
                            format!(
                                "trigger is duplicate: event source `{}`, pipeline `{}`",
                                key.0, key.1
                            ),
                        )
                        .resource(r)
                        .help("remove the second trigger")
                        .related(path, *first, "first defined here"),
                    );
                } else {
                    triggers.insert(key, t.span);
                }
            }
        }
    }
}
