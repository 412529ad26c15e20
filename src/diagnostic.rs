//! The diagnostic model every output format renders.

use crate::rules::RuleMeta;
use crate::yaml::Span;
use serde::Serialize;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Related {
    pub path: Arc<str>,
    pub span: Span,
    pub message: String,
    pub origin: Origin,
}

/// Where a related location is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// In the checked tree, or in a file on this machine (the cluster inventory).
    Here,
    /// In the base revision (a deleted or changed resource), not the checked tree.
    Base,
    /// In another repository, named by its path with namespace: another product's
    /// `default.project`, known from a tenant context. Its text is not at hand.
    Repository(Arc<str>),
}

impl Origin {
    /// What text outputs write after `path:line:col`: nothing for a place here.
    pub fn note(&self) -> std::borrow::Cow<'static, str> {
        match self {
            Origin::Here => "".into(),
            Origin::Base => " (base revision)".into(),
            Origin::Repository(r) => format!(" (in {r})").into(),
        }
    }
}

/// A safe fix a rule attached to its finding: replace `range` (bytes of the checked text, without
/// its byte-order mark) with `replacement`. Computed from the YAML node while the rule had it, so
/// it is only good for the very text that was checked (`fix::edits` makes sure of that).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fix {
    pub range: std::ops::Range<usize>,
    pub replacement: String,
}

/// What a rule reports; the engine turns it into a [`Diagnostic`].
#[derive(Debug, Clone)]
pub struct Finding {
    pub rule: &'static RuleMeta,
    /// Index of the file in the checked tree.
    pub file: u32,
    pub span: Span,
    /// JSON pointer of the node at fault ("" for the whole file).
    pub pointer: String,
    pub message: String,
    pub help: Option<String>,
    pub resource: Option<(crate::model::Kind, String)>,
    pub related: Vec<Related>,
    /// Overrides the rule's default severity (unknown fields are warnings unless `--strict`).
    pub severity: Option<Severity>,
    /// What `--fix` does about it (only rules whose `meta!` says `fixable` attach one).
    pub fix: Option<Fix>,
}

impl Finding {
    pub fn new(
        rule: &'static RuleMeta,
        file: u32,
        span: Span,
        pointer: impl Into<String>,
        message: String,
    ) -> Finding {
        Finding {
            rule,
            file,
            span,
            pointer: pointer.into(),
            message,
            help: None,
            resource: None,
            related: Vec::new(),
            severity: None,
            fix: None,
        }
    }

    /// A finding on a node of `r`.
    pub fn at(
        rule: &'static RuleMeta,
        r: &crate::model::Resource,
        at: &crate::model::SpStr,
        message: String,
    ) -> Finding {
        Finding::new(rule, r.file, at.span, at.pointer.to_string(), message).resource(r)
    }

    pub fn resource(mut self, r: &crate::model::Resource) -> Finding {
        self.resource = Some((r.kind, r.name.value.clone()));
        self
    }

    pub fn fix(mut self, fix: Option<Fix>) -> Finding {
        self.fix = fix;
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Finding {
        self.help = Some(help.into());
        self
    }

    pub fn maybe_help(mut self, help: Option<String>) -> Finding {
        self.help = help.or(self.help);
        self
    }

    pub fn related(mut self, path: &Arc<str>, span: Span, message: impl Into<String>) -> Finding {
        self.related.push(Related {
            path: path.clone(),
            span,
            message: message.into(),
            origin: Origin::Here,
        });
        self
    }

    /// A related location in the base revision.
    pub fn related_base(
        mut self,
        path: &Arc<str>,
        span: Span,
        message: impl Into<String>,
    ) -> Finding {
        self.related.push(Related {
            path: path.clone(),
            span,
            message: message.into(),
            origin: Origin::Base,
        });
        self
    }

    /// A related location in another repository (`repository`, path with namespace).
    pub fn related_elsewhere(
        mut self,
        repository: &Arc<str>,
        path: &str,
        span: Span,
        message: impl Into<String>,
    ) -> Finding {
        self.related.push(Related {
            path: Arc::from(path),
            span,
            message: message.into(),
            origin: Origin::Repository(repository.clone()),
        });
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceRef {
    pub kind: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub rule: &'static RuleMeta,
    pub severity: Severity,
    pub path: Arc<str>,
    pub span: Span,
    pub pointer: String,
    pub message: String,
    pub help: Option<String>,
    pub resource: Option<ResourceRef>,
    pub related: Vec<Related>,
    /// Set only when a base revision was compared.
    pub new: Option<bool>,
    pub fingerprint: String,
    pub fix: Option<Fix>,
}

impl Diagnostic {
    /// 1-based line and column (in characters) of the start, and of the end.
    pub fn line_col(&self) -> (u32, u32, u32, u32) {
        line_col(self.span)
    }
}

pub fn line_col(span: Span) -> (u32, u32, u32, u32) {
    let end = if span.end.index > span.start.index {
        span.end
    } else {
        span.start
    };
    let end_col = if span.end.index > span.start.index {
        end.col + 1
    } else {
        end.col + 2
    };
    (
        span.start.line.max(1),
        span.start.col + 1,
        end.line.max(1),
        end_col,
    )
}

/// A stable identity for a finding: the rule, the file, the resource and the node's JSON pointer,
/// never a line number, so a finding keeps its fingerprint when lines above it move.
pub fn fingerprint(
    rule: &str,
    path: &str,
    resource: Option<&ResourceRef>,
    pointer: &str,
    message: &str,
) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in [
        rule,
        path,
        resource.map_or("", |r| r.kind.as_str()),
        resource.map_or("", |r| r.name.as_str()),
        pointer,
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    // Two findings of one rule on one node (say two unknown fields of one object) differ only by
    // their message.
    h.update(message.as_bytes());
    let digest = h.finalize();
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}

/// Sort order of the output: path, line, column, rule.
pub fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| {
        (
            &a.path,
            a.span.start.line,
            a.span.start.col,
            a.rule,
            &a.message,
        )
            .cmp(&(
                &b.path,
                b.span.start.line,
                b.span.start.col,
                b.rule,
                &b.message,
            ))
    });
}
