//! Typed views of the six stored kinds, and the index of a tree by (kind, name).
//!
//! A resource keeps only the fields rules look at, each with its span, so the YAML tree of a file
//! can be dropped as soon as the file has been checked: 100,000 runtimes fit in a few hundred MB.

mod extract;
mod index;

pub use extract::{extract, extract_cluster};
pub use index::{Index, Model};

use crate::yaml::Span;

pub const API_VERSION: &str = "nautes.resource.nautes.io/v1alpha1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    DeploymentRuntime,
    Environment,
    Project,
    CodeRepo,
    CodeRepoBinding,
    ProjectPipelineRuntime,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::DeploymentRuntime,
        Kind::Environment,
        Kind::Project,
        Kind::CodeRepo,
        Kind::CodeRepoBinding,
        Kind::ProjectPipelineRuntime,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::DeploymentRuntime => "DeploymentRuntime",
            Kind::Environment => "Environment",
            Kind::Project => "Project",
            Kind::CodeRepo => "CodeRepo",
            Kind::CodeRepoBinding => "CodeRepoBinding",
            Kind::ProjectPipelineRuntime => "ProjectPipelineRuntime",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Where the layout puts this kind: the top-level folder and the depth of the file
    /// (`runtimes/x.yaml` is 2 components, `projects/p/p.yaml` 3).
    pub fn layout(self) -> (&'static str, usize) {
        match self {
            Kind::DeploymentRuntime => ("runtimes", 2),
            Kind::Environment => ("envs", 2),
            Kind::Project | Kind::ProjectPipelineRuntime => ("projects", 3),
            Kind::CodeRepo | Kind::CodeRepoBinding => ("code-repos", 3),
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value and the span of the node it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sp<T> {
    pub value: T,
    pub span: Span,
    /// JSON pointer of the node, for fingerprints.
    pub pointer: std::borrow::Cow<'static, str>,
}

pub type SpStr = Sp<String>;

impl SpStr {
    pub fn as_str(&self) -> &str {
        &self.value
    }
}

#[derive(Debug, Clone)]
pub struct Resource {
    pub kind: Kind,
    /// Index of the file in the checked tree.
    pub file: u32,
    pub name: SpStr,
    pub kind_span: Span,
    /// The `spec:` key (or the document start when it is missing).
    pub spec_span: Span,
    pub product: Option<SpStr>,
    /// `lint.nautes.io/ignore`, split on commas, each entry with the annotation's span.
    pub ignore: Option<SpStr>,
    pub spec: Spec,
}

#[derive(Debug, Clone)]
pub enum Spec {
    DeploymentRuntime(DeploymentRuntime),
    Environment(Environment),
    Project,
    CodeRepo(CodeRepo),
    CodeRepoBinding(CodeRepoBinding),
    ProjectPipelineRuntime(Box<PipelineRuntime>),
}

#[derive(Debug, Clone)]
pub struct DeploymentRuntime {
    /// The environment, from either destination form.
    pub environment: Option<SpStr>,
    /// True for the pre-v0.3.6 plain string form.
    pub legacy_destination: bool,
    /// Explicit namespaces (`destination.namespaces`); empty means the default, the name.
    pub namespaces: Vec<SpStr>,
    pub manifest_span: Span,
    pub code_repo: Option<SpStr>,
    pub target_revision: Option<SpStr>,
    pub path: Option<SpStr>,
    pub projects_ref: Vec<SpStr>,
}

#[derive(Debug, Clone)]
pub struct Environment {
    pub cluster: Option<SpStr>,
}

#[derive(Debug, Clone)]
pub struct CodeRepo {
    pub project: Option<SpStr>,
    pub url: Option<SpStr>,
    pub provider: Option<SpStr>,
    pub repo_name: Option<String>,
    pub webhook_events: Vec<SpStr>,
}

#[derive(Debug, Clone)]
pub struct CodeRepoBinding {
    pub code_repo: Option<SpStr>,
    /// Empty: every project of the product may use the code repo.
    pub projects: Vec<SpStr>,
}

#[derive(Debug, Clone)]
pub struct PipelineRuntime {
    pub project: Option<SpStr>,
    pub pipeline_source: Option<SpStr>,
    pub environment: Option<SpStr>,
    pub namespace: Option<String>,
    pub event_sources: Vec<EventSource>,
    pub pipelines: Vec<Pipeline>,
    pub triggers: Vec<Trigger>,
    pub additional_repo: Option<SpStr>,
}

#[derive(Debug, Clone)]
pub struct EventSource {
    pub name: SpStr,
    pub gitlab_repo: Option<SpStr>,
}

#[derive(Debug, Clone)]
pub struct Pipeline {
    pub name: SpStr,
    pub path: Option<SpStr>,
}

#[derive(Debug, Clone)]
pub struct Trigger {
    pub event_source: Option<SpStr>,
    pub pipeline: Option<SpStr>,
    pub revision: Option<String>,
    pub span: Span,
    pub pointer: std::borrow::Cow<'static, str>,
}

/// The parts of a Cluster (from the tenant repository) that rules need.
#[derive(Debug, Clone)]
pub struct Cluster {
    pub name: String,
    pub usage: Option<String>,
    pub worker_type: Option<String>,
    /// Namespaces of `componentsList` entries, with the component's name.
    pub component_namespaces: Vec<(String, String)>,
    /// Where it was read from: file and line, for related locations.
    pub path: String,
    pub name_span: Span,
}

impl Resource {
    pub fn dr(&self) -> Option<&DeploymentRuntime> {
        match &self.spec {
            Spec::DeploymentRuntime(d) => Some(d),
            _ => None,
        }
    }
    pub fn env(&self) -> Option<&Environment> {
        match &self.spec {
            Spec::Environment(e) => Some(e),
            _ => None,
        }
    }
    pub fn code_repo(&self) -> Option<&CodeRepo> {
        match &self.spec {
            Spec::CodeRepo(c) => Some(c),
            _ => None,
        }
    }
    pub fn binding(&self) -> Option<&CodeRepoBinding> {
        match &self.spec {
            Spec::CodeRepoBinding(b) => Some(b),
            _ => None,
        }
    }
    pub fn ppr(&self) -> Option<&PipelineRuntime> {
        match &self.spec {
            Spec::ProjectPipelineRuntime(p) => Some(p),
            _ => None,
        }
    }
}
