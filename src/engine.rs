//! `validate`: the pure core. Reads nothing but the [`Tree`] it is given, prints nothing.

use crate::diagnostic::{self, Diagnostic, Finding, ResourceRef, Severity};
use crate::model::{self, Cluster, Kind, Model, Resource};
use crate::rules::{self, FileCtx, Needs, TreeCtx};
use crate::tree::Tree;
use crate::yaml;
use rayon::prelude::*;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// A rule's configured level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Off,
    Warning,
    Error,
}

/// Everything that shapes a check besides the tree: the merged result of flags and config file.
#[derive(Debug, Default, Clone)]
pub struct Settings {
    pub product: Option<String>,
    pub nautes_version: Option<(u32, u32, u32)>,
    pub strict: bool,
    pub levels: HashMap<String, Level>,
    pub ignore: Option<globset::GlobSet>,
    pub clusters: Option<HashMap<String, Cluster>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProductSource {
    Given,
    /// Inferred: the value most resources carry.
    Assumed,
}

#[derive(Debug, Default)]
pub struct Report {
    pub files: usize,
    pub resources: usize,
    pub diagnostics: Vec<Diagnostic>,
    pub skipped_rules: Vec<&'static str>,
    pub product: Option<(String, ProductSource)>,
    /// Texts of the files that diagnostics (and their related locations) point at.
    pub sources: HashMap<Arc<str>, Arc<str>>,
    /// Set when a base revision was compared: findings of the base that are gone now.
    pub fixed: Option<usize>,
}

impl Report {
    pub fn errors(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }
    pub fn warnings(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count()
    }
}

/// One checked tree, before diagnostics are finalised.
struct Checked {
    model: Model,
    findings: Vec<Finding>,
    file_count: usize,
    /// Source indexes in the tree of each checked file (ignored paths are left out).
    tree_index: Vec<usize>,
}

/// Checks a tree. With `base`, the base tree is checked too and each diagnostic says whether it
/// is new; rules that need a base revision run.
pub fn validate(tree: &dyn Tree, base: Option<&dyn Tree>, settings: &Settings) -> Report {
    let base_run = base.map(|b| {
        let checked = check_files(b, settings);
        let product = product_of(&checked.model, settings);
        let mut findings = checked.findings;
        run_tree_rules(
            &checked.model,
            None,
            product.as_ref().map(|p| p.0.as_str()),
            settings,
            &mut findings,
        );
        let diags = finalize(b, &checked.model, findings, settings, &checked.tree_index);
        (checked.model, diags.0)
    });
    let checked = check_files(tree, settings);
    let product = product_of(&checked.model, settings);
    let mut findings = checked.findings;
    let base_model = base_run.as_ref().map(|(m, _)| m);
    run_tree_rules(
        &checked.model,
        base_model,
        product.as_ref().map(|p| p.0.as_str()),
        settings,
        &mut findings,
    );
    let (mut diagnostics, sources) = finalize(
        tree,
        &checked.model,
        findings,
        settings,
        &checked.tree_index,
    );

    let mut fixed = None;
    if let Some((_, base_diags)) = &base_run {
        let old: HashSet<&str> = base_diags.iter().map(|d| d.fingerprint.as_str()).collect();
        let now: HashSet<&str> = diagnostics.iter().map(|d| d.fingerprint.as_str()).collect();
        fixed = Some(old.iter().filter(|f| !now.contains(*f)).count());
        for d in &mut diagnostics {
            d.new = Some(!old.contains(d.fingerprint.as_str()));
        }
    }

    let skipped_rules = rules::REGISTRY
        .iter()
        .map(|r| r.meta())
        .filter(|m| match m.needs {
            Needs::Tree => false,
            Needs::Clusters => settings.clusters.is_none(),
            Needs::Base => base.is_none(),
        })
        .filter(|m| level_of(settings, m.id, m.severity).is_some())
        .map(|m| m.id)
        .collect();
    Report {
        files: checked.file_count,
        resources: checked.model.resources.len(),
        diagnostics,
        skipped_rules,
        product,
        sources,
        fixed,
    }
}

/// The indexed model of a tree, without running any rule (tests, and the base of a comparison).
pub fn model_of(tree: &dyn Tree, settings: &Settings) -> Model {
    check_files(tree, settings).model
}

fn product_of(model: &Model, settings: &Settings) -> Option<(String, ProductSource)> {
    if let Some(p) = &settings.product {
        return Some((p.clone(), ProductSource::Given));
    }
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for r in &model.resources {
        if let Some(p) = &r.product {
            *counts.entry(p.as_str()).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
        .map(|(p, _)| (p.to_owned(), ProductSource::Assumed))
}

fn check_files(tree: &dyn Tree, settings: &Settings) -> Checked {
    let tree_index: Vec<usize> = tree
        .entries()
        .iter()
        .enumerate()
        .filter(|(_, e)| {
            !settings
                .ignore
                .as_ref()
                .is_some_and(|g| g.is_match(&e.path))
        })
        .map(|(i, _)| i)
        .collect();
    let paths: Vec<Arc<str>> = tree_index
        .iter()
        .map(|&i| Arc::from(tree.entries()[i].path.as_str()))
        .collect();
    let results: Vec<(Option<Resource>, Vec<Finding>)> = tree_index
        .par_iter()
        .enumerate()
        .map(|(file, &i)| check_file(tree, i, file as u32, &paths[file], settings))
        .collect();
    let mut findings = Vec::new();
    let mut resources = Vec::with_capacity(results.len());
    for (r, f) in results {
        resources.extend(r);
        findings.extend(f);
    }
    let file_count = paths.len();
    Checked {
        model: Model::new(paths, resources),
        findings,
        file_count,
        tree_index,
    }
}

/// Reads, parses and checks one file on the current worker thread.
fn check_file(
    tree: &dyn Tree,
    index: usize,
    file: u32,
    path: &str,
    settings: &Settings,
) -> (Option<Resource>, Vec<Finding>) {
    let mut out = Vec::new();
    let entry = &tree.entries()[index];
    let unreadable = |message: String| {
        vec![Finding::new(
            "unreadable-file",
            file,
            yaml::Span::file_start(),
            "",
            format!("`{path}` {message}"),
        )]
    };
    if let Some(problem) = &entry.problem {
        return (None, unreadable(problem.clone()));
    }
    let bytes = match tree.read(index) {
        Ok(b) => b,
        Err(e) => return (None, unreadable(e.to_string())),
    };
    let text = match std::str::from_utf8(&bytes) {
        Ok(t) => t,
        Err(e) => {
            let f = Finding::new(
                "yaml-syntax",
                file,
                yaml::Span::file_start(),
                "",
                format!("the file is not UTF-8 text (invalid byte at offset {}); is it binary?", e.valid_up_to()),
            )
            .help("Nautes resources are UTF-8 YAML; remove the file or move it out of the layout folders");
            return (None, vec![f]);
        }
    };
    // A byte-order mark is legal YAML but not part of any node.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let parsed = yaml::parse(text);
    let root = match parsed.documents.as_slice() {
        [doc, ..] => Some(&doc.root),
        [] => None,
    };
    let kind = root.and_then(|r| {
        let api_ok = r.get("apiVersion").and_then(|v| v.as_str()) == Some(model::API_VERSION);
        let kind = r.get("kind").and_then(|v| v.as_str()).and_then(Kind::parse);
        if api_ok { kind } else { None }
    });
    let (schema_errors, resource) = match (root, kind) {
        (Some(root), Some(kind)) => {
            let errors = crate::schema::validate(kind, &root.to_json());
            let kind_span = root.get("kind").map_or(root.span, |k| k.span);
            (errors, model::extract(root, kind, kind_span, file))
        }
        _ => (Vec::new(), None),
    };
    let ctx = FileCtx {
        file,
        path,
        text,
        parsed: &parsed,
        root,
        kind,
        resource: resource.as_ref(),
        schema_errors: &schema_errors,
        strict: settings.strict,
    };
    for rule in rules::REGISTRY {
        rule.check_file(&ctx, &mut out);
    }
    (resource, out)
}

fn run_tree_rules(
    model: &Model,
    base: Option<&Model>,
    product: Option<&str>,
    settings: &Settings,
    out: &mut Vec<Finding>,
) {
    let ctx = TreeCtx {
        model,
        product,
        clusters: settings.clusters.as_ref(),
        base,
        nautes_version: settings.nautes_version,
    };
    let per_rule: Vec<Vec<Finding>> = rules::REGISTRY
        .par_iter()
        .filter(|r| level_of(settings, r.meta().id, r.meta().severity).is_some())
        .map(|r| {
            let mut v = Vec::new();
            r.check_tree(&ctx, &mut v);
            v
        })
        .collect();
    out.extend(per_rule.into_iter().flatten());
}

/// The severity a rule's findings get, or `None` when it is off.
fn level_of(settings: &Settings, id: &str, default: Severity) -> Option<Severity> {
    match settings.levels.get(id) {
        Some(Level::Off) => None,
        Some(Level::Warning) => Some(Severity::Warning),
        Some(Level::Error) => Some(Severity::Error),
        None => Some(default),
    }
}

fn finalize(
    tree: &dyn Tree,
    model: &Model,
    findings: Vec<Finding>,
    settings: &Settings,
    tree_index: &[usize],
) -> (Vec<Diagnostic>, HashMap<Arc<str>, Arc<str>>) {
    // `lint.nautes.io/ignore` of each file's resource.
    let suppressed: HashMap<u32, Vec<&str>> = model
        .resources
        .iter()
        .filter_map(|r| {
            Some((
                r.file,
                r.ignore.as_ref()?.value.split(',').map(str::trim).collect(),
            ))
        })
        .collect();
    let mut diagnostics: Vec<Diagnostic> = findings
        .into_iter()
        .filter_map(|f| {
            let meta = rules::find(f.rule)?.meta();
            let configured = settings.levels.contains_key(f.rule);
            let severity = level_of(settings, f.rule, meta.severity)?;
            // A finding's own severity (unknown fields) yields to an explicit configuration.
            let severity = if configured {
                severity
            } else {
                f.severity.unwrap_or(severity)
            };
            if f.rule != "invalid-suppression"
                && suppressed
                    .get(&f.file)
                    .is_some_and(|ids| ids.iter().any(|i| *i == "all" || *i == f.rule))
            {
                return None;
            }
            let path = model.paths[f.file as usize].clone();
            let resource = f.resource.map(|(k, n)| ResourceRef {
                kind: k.as_str().to_owned(),
                name: n,
            });
            let fingerprint =
                diagnostic::fingerprint(f.rule, &path, resource.as_ref(), &f.pointer, &f.message);
            Some(Diagnostic {
                rule: f.rule,
                severity,
                path,
                span: f.span,
                pointer: f.pointer,
                message: f.message,
                help: f.help,
                resource,
                related: f.related,
                new: None,
                fingerprint,
            })
        })
        .collect();
    diagnostic::sort(&mut diagnostics);
    let mut sources = HashMap::new();
    let by_path: HashMap<&str, usize> = model
        .paths
        .iter()
        .enumerate()
        .map(|(i, p)| (&**p, tree_index[i]))
        .collect();
    let wanted = diagnostics.iter().flat_map(|d| {
        std::iter::once(d.path.clone()).chain(d.related.iter().map(|r| r.path.clone()))
    });
    for p in wanted {
        if sources.contains_key(&p) {
            continue;
        }
        if let Some(&i) = by_path.get(&*p)
            && let Ok(bytes) = tree.read(i)
        {
            let text = String::from_utf8_lossy(&bytes);
            sources.insert(p, Arc::from(text.strip_prefix('\u{feff}').unwrap_or(&text)));
        }
    }
    (diagnostics, sources)
}
