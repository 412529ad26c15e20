//! `validate`: the pure core. Reads nothing but the [`Tree`] it is given, prints nothing.

use crate::diagnostic::{self, Diagnostic, Finding, ResourceRef, Severity};
use crate::model::{self, Cluster, Kind, Model, Resource};
use crate::rules::invalid_suppression::{Ignored, entries as ignored, suppresses};
use crate::rules::{self, FileCtx, Needs, RuleMeta, TreeCtx};
use crate::tree::{ReadError, Tree};
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
    pub levels: HashMap<&'static RuleMeta, Level>,
    pub ignore: Option<globset::GlobSet>,
    pub clusters: Option<Arc<Clusters>>,
    /// Other products' namespace claims (a tenant context); enables the cross-product rule.
    pub namespaces: Option<Arc<crate::context::NamespaceIndex>>,
}

/// The cluster inventory by name.
pub type Clusters = HashMap<String, Cluster>;

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
    pub skipped_rules: Vec<&'static RuleMeta>,
    pub product: Option<(String, ProductSource)>,
    /// Texts of the files that diagnostics (and their related locations) point at.
    pub sources: HashMap<Arc<str>, Arc<str>>,
    /// Set when a base revision was compared: findings of the base that are gone now.
    pub fixed: Option<usize>,
    /// Every checked file (ignored paths left out), in tree order: the JUnit report has one test
    /// case per file, clean or not.
    pub paths: Vec<Arc<str>>,
}

impl Report {
    pub fn errors(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }
    /// Adds the texts, out of `texts`, of the files diagnostics point at (the cluster inventory's
    /// files, which are no part of the tree), leaving the others out.
    pub fn add_sources(&mut self, texts: &HashMap<Arc<str>, Arc<str>>) {
        let wanted: Vec<Arc<str>> = self
            .diagnostics
            .iter()
            .flat_map(|d| std::iter::once(&d.path).chain(d.related.iter().map(|r| &r.path)))
            .filter(|p| !self.sources.contains_key(*p))
            .cloned()
            .collect();
        for p in wanted {
            if let Some(t) = texts.get(&p) {
                self.sources.insert(p, t.clone());
            }
        }
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
    /// The per-file findings, by file index (kept apart so a later tree can reuse them).
    file_findings: Vec<Vec<Finding>>,
    file_count: usize,
    /// Source indexes in the tree of each checked file (ignored paths are left out).
    tree_index: Vec<usize>,
}

/// Told how many more files were checked (called once per file, from worker threads), so a front
/// end can draw progress while the core itself stays free of I/O.
pub type Progress<'a> = &'a (dyn Fn(usize) + Sync);

impl Checked {
    fn take_findings(&mut self) -> Vec<Finding> {
        std::mem::take(&mut self.file_findings)
            .into_iter()
            .flatten()
            .collect()
    }
}

/// A tree checked before, whose per-file results may stand in for files with the same path and
/// the same content id (the unchanged files of a push, compared with its base), or, for a
/// [`Checkpoint`], for the files its caller says are unchanged.
struct Prior<'a> {
    /// The prior tree, whose content ids identify unchanged files.
    tree: Option<&'a dyn Tree>,
    /// Says which paths hold what they held at the checkpoint (instead of content ids); the
    /// checkpoint's results are then in `slots`, to be moved rather than copied.
    unchanged: Option<(Unchanged<'a>, &'a [Slot])>,
    checked: &'a Checked,
    /// Index in `checked.model.resources` of each file's resource.
    resource_of: Vec<Option<u32>>,
}

/// Whether the file at a path is the same as at the checkpoint.
pub type Unchanged<'a> = &'a (dyn Fn(&str) -> bool + Sync);

/// One prior file's results, moved out of a consumed [`Checkpoint`] (each is taken at most once:
/// paths are unique).
type Slot = std::sync::Mutex<Option<(Option<Resource>, Vec<Finding>)>>;

impl<'a> Prior<'a> {
    fn new(tree: &'a dyn Tree, checked: &'a Checked) -> Prior<'a> {
        Prior::of(Some(tree), None, checked)
    }

    fn of(
        tree: Option<&'a dyn Tree>,
        unchanged: Option<(Unchanged<'a>, &'a [Slot])>,
        checked: &'a Checked,
    ) -> Prior<'a> {
        let mut resource_of = vec![None; checked.file_count];
        for (i, r) in checked.model.resources.iter().enumerate() {
            resource_of[r.file as usize] = Some(i as u32);
        }
        Prior {
            tree,
            unchanged,
            checked,
            resource_of,
        }
    }

    /// The prior file at `path`, by its index among the checked files.
    fn find(&self, path: &str) -> Option<usize> {
        let paths = &self.checked.model.paths;
        paths.binary_search_by(|p| (**p).cmp(path)).ok()
    }

    /// The results of prior file `old` when its content id is `id`, moved to `file`.
    fn reuse(&self, old: usize, id: &[u8], file: u32) -> Option<(Option<Resource>, Vec<Finding>)> {
        if self.tree?.blob_id(self.checked.tree_index[old])? != id {
            return None;
        }
        Some(self.moved(old, file))
    }

    /// The results of prior file `old` taken out of its slot, moved to `file`.
    fn taken(
        &self,
        slots: &[Slot],
        old: usize,
        file: u32,
    ) -> Option<(Option<Resource>, Vec<Finding>)> {
        let (mut resource, mut findings) = slots
            .get(old)?
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()?;
        if let Some(r) = &mut resource {
            r.file = file;
        }
        for f in &mut findings {
            f.file = file;
        }
        Some((resource, findings))
    }

    /// The results of prior file `old`, copied to `file`.
    fn moved(&self, old: usize, file: u32) -> (Option<Resource>, Vec<Finding>) {
        let resource = self.resource_of[old].map(|r| {
            let mut r = self.checked.model.resources[r as usize].clone();
            r.file = file;
            r
        });
        let findings = self.checked.file_findings[old]
            .iter()
            .map(|f| Finding { file, ..f.clone() })
            .collect();
        (resource, findings)
    }
}

/// Checks a tree. With `base`, the base tree is checked too and each diagnostic says whether it
/// is new; rules that need a base revision run.
pub fn validate(tree: &dyn Tree, base: Option<&dyn Tree>, settings: &Settings) -> Report {
    validate_with_progress(tree, base, settings, None)
}

/// [`validate`], reporting each checked file to `progress`. With a base, its files are reported
/// too: the total is the entries of both trees.
pub fn validate_with_progress(
    tree: &dyn Tree,
    base: Option<&dyn Tree>,
    settings: &Settings,
    progress: Option<Progress<'_>>,
) -> Report {
    let mut base_checked = base.map(|b| check_files(b, settings, None, progress));
    let prior = base
        .zip(base_checked.as_ref())
        .map(|(b, c)| Prior::new(b, c));
    let mut checked = check_files(tree, settings, prior.as_ref(), progress);
    drop(prior);
    let base_findings = base_checked.as_mut().map(Checked::take_findings);
    let findings = checked.take_findings();
    let product = product_of(&checked.model, settings);
    // The rules of the base and of the new tree only read the two models: side by side they
    // keep every core busy (a few rules dominate each run).
    let (base_diags, (mut diagnostics, sources)) = rayon::join(
        || {
            let (b, c, mut findings) = (base?, base_checked.as_ref()?, base_findings?);
            let product = product_of(&c.model, settings);
            run_tree_rules(
                &c.model,
                None,
                product.as_ref().map(|p| p.0.as_str()),
                settings,
                &mut findings,
            );
            Some(finalize(b, &c.model, findings, settings, &c.tree_index).0)
        },
        || {
            let mut findings = findings;
            run_tree_rules(
                &checked.model,
                base_checked.as_ref().map(|c| &c.model),
                product.as_ref().map(|p| p.0.as_str()),
                settings,
                &mut findings,
            );
            finalize(
                tree,
                &checked.model,
                findings,
                settings,
                &checked.tree_index,
            )
        },
    );

    let mut fixed = None;
    if let Some(base_diags) = &base_diags {
        let old: HashSet<&str> = base_diags.iter().map(|d| d.fingerprint.as_str()).collect();
        let now: HashSet<&str> = diagnostics.iter().map(|d| d.fingerprint.as_str()).collect();
        fixed = Some(old.iter().filter(|f| !now.contains(*f)).count());
        for d in &mut diagnostics {
            d.new = Some(!old.contains(d.fingerprint.as_str()));
        }
    }

    Report {
        files: checked.file_count,
        paths: checked.model.paths.clone(),
        resources: checked.model.resources.len(),
        diagnostics,
        skipped_rules: skipped_rules(settings, base.is_some()),
        product,
        sources,
        fixed,
    }
}

/// Rules that are on but could not run: no cluster inventory, no base revision.
fn skipped_rules(settings: &Settings, with_base: bool) -> Vec<&'static RuleMeta> {
    rules::REGISTRY
        .iter()
        .map(|r| r.meta())
        .filter(|m| match m.needs {
            Needs::Tree => false,
            Needs::Clusters => settings.clusters.is_none(),
            Needs::Context => settings.namespaces.is_none(),
            Needs::Base => !with_base,
        })
        .filter(|m| level_of(settings, m).is_some())
        .collect()
}

/// Moves each file's resource and findings out of `checked` into a slot per file index.
fn take_results(checked: &mut Checked) -> Vec<Slot> {
    let mut results: Vec<(Option<Resource>, Vec<Finding>)> =
        std::mem::take(&mut checked.file_findings)
            .into_iter()
            .map(|f| (None, f))
            .collect();
    for r in std::mem::take(&mut checked.model.resources) {
        if let Some(slot) = results.get_mut(r.file as usize) {
            slot.0 = Some(r);
        }
    }
    results
        .into_iter()
        .map(|r| std::sync::Mutex::new(Some(r)))
        .collect()
}

/// The per-file results and the model of one check, kept so that the next check of the same
/// tree after a few edits (an editor's keystrokes) parses only the edited files.
pub struct Checkpoint {
    checked: Checked,
}

impl Checkpoint {
    /// The indexed resources of the checked tree.
    pub fn model(&self) -> &Model {
        &self.checked.model
    }
}

/// [`validate`] without a base, reusing the results of `prior` for every file that `unchanged`
/// says holds what it held then (the caller knows: it made the edits). The settings must be
/// those of the prior check. The prior checkpoint is consumed (its results are moved, not
/// copied); the new one is returned for the next call.
pub fn validate_reusing(
    tree: &dyn Tree,
    settings: &Settings,
    prior: Option<(Checkpoint, Unchanged<'_>)>,
) -> (Report, Checkpoint) {
    let prior = prior.map(|(mut c, unchanged)| {
        let slots = take_results(&mut c.checked);
        (c, slots, unchanged)
    });
    let reuse = prior
        .as_ref()
        .map(|(c, slots, unchanged)| Prior::of(None, Some((*unchanged, slots)), &c.checked));
    let checked = check_files(tree, settings, reuse.as_ref(), None);
    drop(reuse);
    drop(prior);
    // The next call reuses them, so they stay.
    let mut findings: Vec<Finding> = checked.file_findings.iter().flatten().cloned().collect();
    let product = product_of(&checked.model, settings);
    run_tree_rules(
        &checked.model,
        None,
        product.as_ref().map(|p| p.0.as_str()),
        settings,
        &mut findings,
    );
    let (diagnostics, sources) = finalize(
        tree,
        &checked.model,
        findings,
        settings,
        &checked.tree_index,
    );
    let report = Report {
        files: checked.file_count,
        paths: checked.model.paths.clone(),
        resources: checked.model.resources.len(),
        diagnostics,
        skipped_rules: skipped_rules(settings, false),
        product,
        sources,
        fixed: None,
    };
    (report, Checkpoint { checked })
}

/// The indexed model of a tree, without running any rule (tests, and the base of a comparison).
pub fn model_of(tree: &dyn Tree, settings: &Settings) -> Model {
    check_files(tree, settings, None, None).model
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

fn check_files(
    tree: &dyn Tree,
    settings: &Settings,
    prior: Option<&Prior<'_>>,
    progress: Option<Progress<'_>>,
) -> Checked {
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
        .map(|(file, &i)| {
            let (file, path) = (file as u32, &paths[file]);
            let checked = match prior {
                Some(p) => reuse_or_check(p, tree, i, file, path, settings),
                None => check_file(tree, i, file, path, settings),
            };
            if let Some(p) = progress {
                p(1);
            }
            checked
        })
        .collect();
    let mut file_findings = Vec::with_capacity(results.len());
    let mut resources = Vec::with_capacity(results.len());
    for (r, f) in results {
        resources.extend(r);
        file_findings.push(f);
    }
    let file_count = paths.len();
    Checked {
        model: Model::new(paths, resources),
        file_findings,
        file_count,
        tree_index,
    }
}

/// The prior results for entry `index` when its content is unchanged, else a fresh check.
fn reuse_or_check(
    prior: &Prior<'_>,
    tree: &dyn Tree,
    index: usize,
    file: u32,
    path: &str,
    settings: &Settings,
) -> (Option<Resource>, Vec<Finding>) {
    let Some(old) = prior.find(path) else {
        return check_file(tree, index, file, path, settings);
    };
    if let Some((unchanged, slots)) = prior.unchanged {
        return match unchanged(path) {
            true => prior.taken(slots, old, file),
            false => None,
        }
        .unwrap_or_else(|| check_file(tree, index, file, path, settings));
    }
    if let Some(id) = tree.blob_id(index) {
        return prior
            .reuse(old, id, file)
            .unwrap_or_else(|| check_file(tree, index, file, path, settings));
    }
    // A source without ids (a working tree against a base revision, the CI job's case): hash
    // what was read the way the prior tree names its blobs. Hashing is far cheaper than parsing.
    if tree.entries()[index].problem.is_some() {
        return check_file(tree, index, file, path, settings);
    }
    let read = tree.read(index);
    if let Ok(bytes) = &read
        && let Some(id) = prior.tree.and_then(|t| t.content_id(bytes))
        && let Some(reused) = prior.reuse(old, &id, file)
    {
        return reused;
    }
    check_read(read, file, path, settings)
}

/// Reads, parses and checks one file on the current worker thread.
fn check_file(
    tree: &dyn Tree,
    index: usize,
    file: u32,
    path: &str,
    settings: &Settings,
) -> (Option<Resource>, Vec<Finding>) {
    if let Some(problem) = &tree.entries()[index].problem {
        return (None, unreadable(file, path, problem));
    }
    check_read(tree.read(index), file, path, settings)
}

fn unreadable(file: u32, path: &str, message: &str) -> Vec<Finding> {
    vec![rules::unreadable_file::finding(file, path, message)]
}

/// Parses and checks the contents read for one file.
fn check_read(
    read: Result<Vec<u8>, ReadError>,
    file: u32,
    path: &str,
    settings: &Settings,
) -> (Option<Resource>, Vec<Finding>) {
    let mut out = Vec::new();
    let bytes = match read {
        Ok(b) => b,
        Err(e) => return (None, unreadable(file, path, &e.to_string())),
    };
    let text = match std::str::from_utf8(&bytes) {
        Ok(t) => t,
        Err(e) => {
            return (
                None,
                vec![rules::yaml_syntax::not_utf8(file, e.valid_up_to())],
            );
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
        nautes_version: settings.nautes_version,
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
        clusters: settings.clusters.as_deref(),
        namespaces: settings.namespaces.as_deref(),
        base,
        nautes_version: settings.nautes_version,
    };
    let per_rule: Vec<Vec<Finding>> = rules::REGISTRY
        .par_iter()
        .filter(|r| level_of(settings, r.meta()).is_some())
        .map(|r| {
            let mut v = Vec::new();
            r.check_tree(&ctx, &mut v);
            v
        })
        .collect();
    out.extend(per_rule.into_iter().flatten());
}

/// The severity a rule's findings get, or `None` when it is off.
fn level_of(settings: &Settings, rule: &'static RuleMeta) -> Option<Severity> {
    match settings.levels.get(rule) {
        Some(Level::Off) => None,
        Some(Level::Warning) => Some(Severity::Warning),
        Some(Level::Error) => Some(Severity::Error),
        None => Some(rule.severity),
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
    let suppressed: HashMap<u32, Vec<Ignored<'_>>> = model
        .resources
        .iter()
        .filter_map(|r| Some((r.file, ignored(&r.ignore.as_ref()?.value).collect())))
        .collect();
    let mut diagnostics: Vec<Diagnostic> = findings
        .into_iter()
        .filter_map(|f| {
            let configured = settings.levels.contains_key(f.rule);
            let severity = level_of(settings, f.rule)?;
            // A finding's own severity (unknown fields) yields to an explicit configuration.
            let severity = if configured {
                severity
            } else {
                f.severity.unwrap_or(severity)
            };
            if suppressed
                .get(&f.file)
                .is_some_and(|entries| suppresses(entries, f.rule))
            {
                return None;
            }
            let path = model.paths[f.file as usize].clone();
            let resource = f.resource.map(|(k, n)| ResourceRef {
                kind: k.as_str().to_owned(),
                name: n,
            });
            let fingerprint = diagnostic::fingerprint(
                f.rule.id,
                &path,
                resource.as_ref(),
                &f.pointer,
                &f.message,
            );
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
                fix: f.fix,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::{FsTree, MemoryTree, ReadError, TreeEntry};
    use sha2::Digest;

    /// A tree with content ids, like a git tree; `ids` may lie to prove they are trusted.
    struct WithIds {
        tree: MemoryTree,
        ids: Vec<Option<Vec<u8>>>,
    }

    fn content_hash(bytes: &[u8]) -> Vec<u8> {
        sha2::Sha256::digest(bytes).to_vec()
    }

    impl WithIds {
        fn hashed(tree: MemoryTree) -> WithIds {
            let ids = (0..tree.entries().len())
                .map(|i| Some(content_hash(&tree.read(i).unwrap())))
                .collect();
            WithIds { tree, ids }
        }
    }

    impl Tree for WithIds {
        fn entries(&self) -> &[TreeEntry] {
            self.tree.entries()
        }
        fn read(&self, index: usize) -> Result<Vec<u8>, ReadError> {
            self.tree.read(index)
        }
        fn blob_id(&self, index: usize) -> Option<&[u8]> {
            self.ids[index].as_deref()
        }
        fn content_id(&self, bytes: &[u8]) -> Option<Vec<u8>> {
            // An id of `same` names every content: proves a match is trusted, not re-checked.
            if self.ids.iter().flatten().any(|id| id == b"same") {
                return Some(b"same".to_vec());
            }
            Some(content_hash(bytes))
        }
    }

    fn fixture(name: &str) -> Vec<(String, Vec<u8>)> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
        let fs = FsTree::open(&root).unwrap();
        fs.entries()
            .iter()
            .enumerate()
            .map(|(i, e)| (e.path.clone(), fs.read(i).unwrap()))
            .collect()
    }

    fn settings() -> Settings {
        Settings {
            product: Some("product-7".into()),
            ..Settings::default()
        }
    }

    fn summary(r: &Report) -> Vec<(String, String, Option<bool>, String)> {
        r.diagnostics
            .iter()
            .map(|d| {
                (
                    d.rule.id.to_owned(),
                    d.path.to_string(),
                    d.new,
                    d.fingerprint.clone(),
                )
            })
            .collect()
    }

    type Files = Vec<(String, Vec<u8>)>;

    /// The demo's files, and a copy with one runtime edited by `edit` and one environment
    /// deleted.
    fn demo_and_a_change(edit: impl Fn(&mut Vec<u8>)) -> (Files, Files) {
        let base = fixture("fixtures/valid/demo");
        let mut new = base.clone();
        for (p, c) in &mut new {
            if p == "runtimes/dr-billing-prod.yaml" {
                edit(c);
            }
        }
        new.retain(|(p, _)| p != "envs/env-ci.yaml");
        (base, new)
    }

    #[test]
    fn reusing_unchanged_files_gives_the_same_report() {
        // One changed file (a broken reference), one added, one deleted.
        let (base, mut new) = demo_and_a_change(|c| {
            *c = String::from_utf8(c.clone())
                .unwrap()
                .replace("environment: env-prod", "environment: env-prd")
                .into_bytes();
        });
        new.push(("runtimes/empty.yaml".into(), Vec::new()));
        let plain = validate(
            &MemoryTree::new(new.clone()),
            Some(&MemoryTree::new(base.clone())),
            &settings(),
        );
        let reused = validate(
            &WithIds::hashed(MemoryTree::new(new)),
            Some(&WithIds::hashed(MemoryTree::new(base))),
            &settings(),
        );
        assert!(!plain.diagnostics.is_empty());
        assert_eq!(summary(&plain), summary(&reused));
        assert_eq!(plain.resources, reused.resources);
        assert_eq!(plain.fixed, reused.fixed);
    }

    #[test]
    fn a_working_tree_against_a_revision_reuses_by_hashing_what_it_read() {
        let (base, new) = demo_and_a_change(|c| c.extend_from_slice(b"  surprise: 1\n"));
        let plain = validate(
            &MemoryTree::new(new.clone()),
            Some(&MemoryTree::new(base.clone())),
            &settings(),
        );
        // The new tree has no ids (a working directory); the base has (a revision).
        let hashed = validate(
            &MemoryTree::new(new),
            Some(&WithIds::hashed(MemoryTree::new(base))),
            &settings(),
        );
        assert!(!plain.diagnostics.is_empty());
        assert_eq!(summary(&plain), summary(&hashed));
        assert_eq!(plain.resources, hashed.resources);

        // A match is trusted: a base that names every content `same` stands in for new bytes.
        let good = b"apiVersion: nautes.resource.nautes.io/v1alpha1\nkind: Environment\nmetadata:\n  name: env-dev\nspec:\n  cluster: c\n  envType: development\n  product: product-7\n".to_vec();
        let base = WithIds {
            tree: MemoryTree::new([("envs/env-dev.yaml", good)]),
            ids: vec![Some(b"same".to_vec())],
        };
        let broken = MemoryTree::new([("envs/env-dev.yaml", b"kind: [\n".to_vec())]);
        let r = validate(&broken, Some(&base), &settings());
        assert!(r.diagnostics.iter().all(|d| d.rule.id != "yaml-syntax"));
        assert_eq!(r.resources, 1);
    }

    #[test]
    fn a_checkpoint_reuses_the_files_said_unchanged() {
        let (base, new) = demo_and_a_change(|c| {
            *c = String::from_utf8(c.clone())
                .unwrap()
                .replace("environment: env-prod", "environment: env-prd")
                .into_bytes();
        });
        let (first, checkpoint) =
            validate_reusing(&MemoryTree::new(base.clone()), &settings(), None);
        assert!(first.diagnostics.is_empty(), "{:?}", summary(&first));
        let changed = MemoryTree::new(new.clone());
        let honest = |p: &str| p != "runtimes/dr-billing-prod.yaml";
        let (again, _) = validate_reusing(&changed, &settings(), Some((checkpoint, &honest)));
        let plain = validate(&changed, None, &settings());
        assert!(!plain.diagnostics.is_empty());
        assert_eq!(summary(&plain), summary(&again));
        assert_eq!(plain.resources, again.resources);
        assert_eq!(plain.skipped_rules, again.skipped_rules);
        // Trusted: a file said unchanged keeps its prior result even though it changed.
        let lying = |_: &str| true;
        let (_, checkpoint) = validate_reusing(&MemoryTree::new(base), &settings(), None);
        let (stale, next) = validate_reusing(&changed, &settings(), Some((checkpoint, &lying)));
        assert!(
            stale
                .diagnostics
                .iter()
                .all(|d| d.rule.id != "dr-environment-not-found"),
            "{:?}",
            summary(&stale)
        );
        // The env-ci deletion is seen all the same: only paths that are still there are reused.
        assert_eq!(stale.resources, plain.resources);
        assert_eq!(next.model().resources.len(), plain.resources);
    }

    #[test]
    fn a_file_with_the_same_path_and_id_is_not_parsed_again() {
        let good = b"apiVersion: nautes.resource.nautes.io/v1alpha1\nkind: Environment\nmetadata:\n  name: env-dev\nspec:\n  cluster: c\n  envType: development\n  product: product-7\n".to_vec();
        let bad = b"kind: [\n".to_vec();
        let base = WithIds {
            tree: MemoryTree::new([("envs/env-dev.yaml", good.clone())]),
            ids: vec![Some(b"same".to_vec())],
        };
        // Same id, other bytes: the id is trusted, so the base's result is used.
        let lying = WithIds {
            tree: MemoryTree::new([("envs/env-dev.yaml", bad.clone())]),
            ids: vec![Some(b"same".to_vec())],
        };
        let r = validate(&lying, Some(&base), &settings());
        assert!(
            r.diagnostics.iter().all(|d| d.rule.id != "yaml-syntax"),
            "{:?}",
            summary(&r)
        );
        assert_eq!(r.resources, 1);
        // Another id, or another path: checked afresh.
        let changed = WithIds {
            tree: MemoryTree::new([("envs/env-dev.yaml", bad.clone())]),
            ids: vec![Some(b"other".to_vec())],
        };
        let r = validate(&changed, Some(&base), &settings());
        assert!(r.diagnostics.iter().any(|d| d.rule.id == "yaml-syntax"));
        let moved = WithIds {
            tree: MemoryTree::new([("envs/env-moved.yaml", bad)]),
            ids: vec![Some(b"same".to_vec())],
        };
        let r = validate(&moved, Some(&base), &settings());
        assert!(r.diagnostics.iter().any(|d| d.rule.id == "yaml-syntax"));
    }
}
