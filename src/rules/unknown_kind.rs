//! ## What it does
//! Checks that `apiVersion` is `nautes.resource.nautes.io/v1alpha1` and `kind` is one of the six
//! kinds stored in `default.project`: DeploymentRuntime, Environment, Project, CodeRepo,
//! CodeRepoBinding, ProjectPipelineRuntime.
//!
//! ## Why is this bad?
//! Nautes fails the load of the whole repository: "node %s kind is empty", "unable to generate
//! resource node tree of type '%s'".
//!
//! ## Example
//! ```yaml
//! apiVersion: nautes.resource.nautes.io/v1alpha1
//! kind: DeploymentRuntimes
//! ```
//!
//! ## How to fix
//! Correct the kind (`DeploymentRuntime`) or the apiVersion, or move a file that is not a Nautes
//! resource out of the layout folders.

use super::{FileCtx, Rule, RuleMeta};
use crate::diagnostic::Finding;
use crate::model::{API_VERSION, Kind};

super::meta!(
    "unknown-kind",
    Error,
    Tree,
    "apiVersion and kind name one of the six stored kinds"
);

impl Rule for Check {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_file(&self, ctx: &FileCtx<'_>, out: &mut Vec<Finding>) {
        let Some(root) = ctx.root else { return };
        if root.as_map().is_none() {
            out.push(
                Finding::new(
                    &META,
                    ctx.file,
                    root.finding_span(None),
                    "",
                    "the document is not a mapping, so it has no `kind`".into(),
                )
                .help("a resource file holds one mapping with apiVersion, kind, metadata and spec"),
            );
            return;
        }
        let kinds = Kind::ALL.map(Kind::as_str).join(", ");
        match root.entry("kind") {
            None => out.push(
                Finding::new(
                    &META,
                    ctx.file,
                    root.finding_span(None),
                    "/kind",
                    "the resource has no `kind`".into(),
                )
                .help(format!("add `kind:` with one of {kinds}")),
            ),
            Some(e) => match e.value.as_str() {
                Some(k) if Kind::parse(k).is_some() => {}
                other => {
                    let shown = other.unwrap_or("(not a string)");
                    let help = other
                        .and_then(|k| {
                            crate::suggest::did_you_mean(k, Kind::ALL.iter().map(|k| k.as_str()))
                        })
                        .unwrap_or_else(|| {
                            format!("the kinds stored in default.project are {kinds}")
                        });
                    out.push(
                        Finding::new(
                            &META,
                            ctx.file,
                            e.value.finding_span(Some(e.key_span)),
                            "/kind",
                            format!("unknown kind `{shown}`"),
                        )
                        .help(help),
                    );
                    return;
                }
            },
        }
        match root.entry("apiVersion") {
            None => out.push(
                Finding::new(
                    &META,
                    ctx.file,
                    root.finding_span(None),
                    "/apiVersion",
                    "the resource has no `apiVersion`".into(),
                )
                .help(format!("add `apiVersion: {API_VERSION}`")),
            ),
            Some(e) if e.value.as_str() != Some(API_VERSION) => out.push(
                Finding::new(
                    &META,
                    ctx.file,
                    e.value.finding_span(Some(e.key_span)),
                    "/apiVersion",
                    format!(
                        "apiVersion `{}` is not Nautes'",
                        e.value.as_str().unwrap_or("(not a string)")
                    ),
                )
                .help(format!("use `apiVersion: {API_VERSION}`")),
            ),
            Some(_) => {}
        }
    }
}
