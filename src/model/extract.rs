//! From a YAML document to a typed [`Resource`]. Fields of the wrong type are left out here (the
//! schema check reports them), so rules only ever see well-typed values.

use super::*;
use crate::yaml::{Node, NodeKind};
use std::borrow::Cow;

pub const IGNORE_ANNOTATION: &str = "lint.nautes.io/ignore";

/// A cursor into the document that knows the JSON pointer and the key span of where it stands.
#[derive(Clone, Copy)]
struct At<'a> {
    node: &'a Node,
    key_span: Option<Span>,
}

impl<'a> At<'a> {
    fn get(self, key: &str) -> Option<At<'a>> {
        let e = self.node.entry(key)?;
        Some(At {
            node: &e.value,
            key_span: Some(e.key_span),
        })
    }
    fn span(self) -> Span {
        self.node.finding_span(self.key_span)
    }
    fn str(self, pointer: impl Into<Cow<'static, str>>) -> Option<SpStr> {
        Some(Sp {
            value: self.node.as_str()?.to_owned(),
            span: self.node.span,
            pointer: pointer.into(),
        })
    }
    fn items(self) -> impl Iterator<Item = (usize, At<'a>)> {
        self.node
            .as_seq()
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(i, node)| {
                (
                    i,
                    At {
                        node,
                        key_span: None,
                    },
                )
            })
    }
    fn strs(self, pointer: &str) -> Vec<SpStr> {
        self.items()
            .filter_map(|(i, a)| a.str(format!("{pointer}/{i}")))
            .collect()
    }
}

/// The string at `key` of `at`, with `pointer`, the JSON pointer of that field: static for the
/// fixed fields, so most resources allocate no pointer at all.
fn field(at: Option<At<'_>>, key: &str, pointer: impl Into<Cow<'static, str>>) -> Option<SpStr> {
    at?.get(key)?.str(pointer)
}

/// Builds the typed resource from a document whose `kind` is known. `None` when `metadata.name`
/// is missing or not a string (the schema check reports that).
pub fn extract(root: &Node, kind: Kind, kind_span: Span, file: u32) -> Option<Resource> {
    let top = At {
        node: root,
        key_span: None,
    };
    let meta = top.get("metadata");
    let name = field(meta, "name", "/metadata/name")?;
    let ignore = meta
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get(IGNORE_ANNOTATION))
        .and_then(|a| a.str("/metadata/annotations/lint.nautes.io~1ignore"));
    let spec = top.get("spec");
    let spec_span = spec.map_or(root.finding_span(None), At::span);
    let product = field(spec, "product", "/spec/product");
    let spec_typed = match kind {
        Kind::DeploymentRuntime => Spec::DeploymentRuntime(deployment_runtime(spec, spec_span)),
        Kind::Environment => Spec::Environment(Environment {
            cluster: field(spec, "cluster", "/spec/cluster"),
        }),
        Kind::Project => Spec::Project,
        Kind::CodeRepo => Spec::CodeRepo(CodeRepo {
            project: field(spec, "project", "/spec/project"),
            url: field(spec, "url", "/spec/url"),
            provider: field(spec, "codeRepoProvider", "/spec/codeRepoProvider"),
            repo_name: field(spec, "repoName", "/spec/repoName").map(|v| v.value),
            webhook_events: spec
                .and_then(|x| x.get("webhook"))
                .and_then(|w| w.get("events"))
                .map(|e| e.strs("/spec/webhook/events"))
                .unwrap_or_default(),
        }),
        Kind::CodeRepoBinding => Spec::CodeRepoBinding(CodeRepoBinding {
            code_repo: field(spec, "codeRepo", "/spec/codeRepo"),
            projects: spec
                .and_then(|x| x.get("projects"))
                .map(|p| p.strs("/spec/projects"))
                .unwrap_or_default(),
        }),
        Kind::ProjectPipelineRuntime => {
            Spec::ProjectPipelineRuntime(Box::new(pipeline_runtime(spec)))
        }
    };
    Some(Resource {
        kind,
        file,
        name,
        kind_span,
        spec_span,
        product,
        ignore,
        spec: spec_typed,
    })
}

fn deployment_runtime(spec: Option<At<'_>>, spec_span: Span) -> DeploymentRuntime {
    let dest = spec.and_then(|s| s.get("destination"));
    let (environment, legacy, namespaces) = match dest {
        Some(d) if matches!(d.node.kind, NodeKind::Scalar { .. }) => {
            (d.str("/spec/destination"), true, Vec::new())
        }
        Some(d) => (
            field(Some(d), "environment", "/spec/destination/environment"),
            false,
            d.get("namespaces")
                .map(|n| n.strs("/spec/destination/namespaces"))
                .unwrap_or_default(),
        ),
        None => (None, false, Vec::new()),
    };
    let manifest = spec.and_then(|s| s.get("manifestSource"));
    DeploymentRuntime {
        environment,
        legacy_destination: legacy,
        namespaces,
        manifest_span: manifest.map_or(spec_span, At::span),
        code_repo: field(manifest, "codeRepo", "/spec/manifestSource/codeRepo"),
        target_revision: field(
            manifest,
            "targetRevision",
            "/spec/manifestSource/targetRevision",
        ),
        path: field(manifest, "path", "/spec/manifestSource/path"),
        projects_ref: spec
            .and_then(|s| s.get("projectsRef"))
            .map(|p| p.strs("/spec/projectsRef"))
            .unwrap_or_default(),
    }
}

fn pipeline_runtime(spec: Option<At<'_>>) -> PipelineRuntime {
    let dest = spec.and_then(|s| s.get("destination"));
    let (environment, namespace) = match dest {
        Some(d) if matches!(d.node.kind, NodeKind::Scalar { .. }) => {
            (d.str("/spec/destination"), None)
        }
        Some(d) => (
            field(Some(d), "environment", "/spec/destination/environment"),
            field(Some(d), "namespace", "/spec/destination/namespace").map(|n| n.value),
        ),
        None => (None, None),
    };
    let list = |key: &str| {
        spec.and_then(|s| s.get(key))
            .map(|l| l.items().collect::<Vec<_>>())
            .unwrap_or_default()
    };
    let event_sources = list("eventSources")
        .into_iter()
        .filter_map(|(i, e)| {
            let p = format!("/spec/eventSources/{i}");
            Some(EventSource {
                name: field(Some(e), "name", format!("{p}/name"))?,
                gitlab_repo: field(e.get("gitlab"), "repoName", format!("{p}/gitlab/repoName")),
            })
        })
        .collect();
    let pipelines = list("pipelines")
        .into_iter()
        .filter_map(|(i, e)| {
            let p = format!("/spec/pipelines/{i}");
            Some(Pipeline {
                name: field(Some(e), "name", format!("{p}/name"))?,
                path: field(Some(e), "path", format!("{p}/path")),
            })
        })
        .collect();
    let triggers = list("pipelineTriggers")
        .into_iter()
        .map(|(i, e)| {
            let p = format!("/spec/pipelineTriggers/{i}");
            Trigger {
                event_source: field(Some(e), "eventSource", format!("{p}/eventSource")),
                pipeline: field(Some(e), "pipeline", format!("{p}/pipeline")),
                revision: field(Some(e), "revision", format!("{p}/revision")).map(|r| r.value),
                span: e.span(),
                pointer: p.into(),
            }
        })
        .collect();
    let git = spec
        .and_then(|s| s.get("additionalResources"))
        .and_then(|a| a.get("git"));
    PipelineRuntime {
        project: field(spec, "project", "/spec/project"),
        pipeline_source: field(spec, "pipelineSource", "/spec/pipelineSource"),
        environment,
        namespace,
        event_sources,
        pipelines,
        triggers,
        additional_repo: field(git, "codeRepo", "/spec/additionalResources/git/codeRepo"),
    }
}

/// The parts of a Cluster document rules need; `None` when it is not a named Cluster.
pub fn extract_cluster(root: &Node, path: &str) -> Option<Cluster> {
    let top = At {
        node: root,
        key_span: None,
    };
    if top.get("kind")?.node.as_str()? != "Cluster" {
        return None;
    }
    let name = top.get("metadata")?.get("name")?;
    let spec = top.get("spec");
    let text = |key: &str| {
        spec.and_then(|s| s.get(key))
            .and_then(|v| v.node.as_str())
            .map(str::to_owned)
    };
    let component_namespaces = spec
        .and_then(|s| s.get("componentsList"))
        .and_then(|c| c.node.as_map())
        .unwrap_or_default()
        .iter()
        .filter_map(|e| {
            Some((
                e.value.get("namespace")?.as_str()?.to_owned(),
                e.key.clone(),
            ))
        })
        .collect();
    Some(Cluster {
        name: name.node.as_str()?.to_owned(),
        usage: text("usage"),
        worker_type: text("workerType"),
        component_namespaces,
        path: path.to_owned(),
        name_span: name.node.span,
    })
}
