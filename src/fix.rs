//! Safe fixes: the byte-range edits that rules attach to their findings, applied to the original
//! text.
//!
//! A fix replaces only the bytes of the offending node, so comments, key order, quoting and
//! layout everywhere else stay exactly as they were. A rule computes its fix while it holds the
//! file's YAML tree (the finding's [`Fix`]), and makes none when anything is not as it expects
//! (the node is an alias, spans several lines, the key is written in a form we do not rewrite): a
//! fix that is not certain is not made. Like the core, this module does no I/O: the command line
//! reads the files, asks for [`edits`], [`apply`]s them, writes the result atomically and checks
//! again. A fix is only applied to a file that still holds the text that was checked.
//!
//! Fixable rules (their `meta!` says `fixable`; their module makes the fix, their documentation
//! says how): `dr-legacy-destination`, `yaml-1.1-ambiguity`.

use crate::diagnostic::Diagnostic;
use crate::engine::Report;
use crate::tree::Tree;
use crate::yaml::{Node, NodeKind, Span, Style};
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

/// Replace `range` (bytes of the file as read, byte-order mark included) with `replacement`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub path: Arc<str>,
    pub range: Range<usize>,
    pub replacement: String,
    /// The rule whose finding this edit fixes.
    pub rule: &'static crate::rules::RuleMeta,
}

/// One file's fixes: its tree entry, old and new content, and the rules fixed.
#[derive(Debug, Clone)]
pub struct FileFix {
    pub index: usize,
    pub path: Arc<str>,
    pub old: String,
    pub new: String,
    pub edits: Vec<Edit>,
}

/// The fixes for every fixable finding of `report`, a checked `tree`. Files whose fixes change
/// nothing (or that cannot be read as text any more) are left out.
pub fn plan(tree: &dyn Tree, report: &Report) -> Vec<FileFix> {
    let mut by_path: BTreeMap<&Arc<str>, Vec<&Diagnostic>> = BTreeMap::new();
    for d in report.diagnostics.iter().filter(|d| d.fix.is_some()) {
        by_path.entry(&d.path).or_default().push(d);
    }
    let entries = tree.entries();
    by_path
        .into_iter()
        .filter_map(|(path, diags)| {
            let index = entries
                .binary_search_by(|e| e.path.as_str().cmp(path))
                .ok()?;
            let old = String::from_utf8(tree.read(index).ok()?).ok()?;
            let edits = edits(report, path, &old, &diags);
            let new = apply(&old, &edits);
            (new != old).then(|| FileFix {
                index,
                path: path.clone(),
                old,
                new,
                edits,
            })
        })
        .collect()
}

/// The edits of the fixes attached to `diags` (findings of `report`) in one file whose content is
/// now `text`. None when the file no longer holds the text that was checked: the fixes' byte
/// ranges are of that text. The edits do not overlap and are sorted.
pub fn edits(report: &Report, path: &Arc<str>, text: &str, diags: &[&Diagnostic]) -> Vec<Edit> {
    // Ranges count bytes of the text without its byte-order mark (the engine strips it).
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    let bom = text.len() - body.len();
    if report
        .sources
        .get(path)
        .is_none_or(|checked| **checked != *body)
    {
        return Vec::new();
    }
    let mut out: Vec<Edit> = diags
        .iter()
        .filter(|d| *d.path == **path)
        .filter_map(|d| {
            let fix = d.fix.as_ref()?;
            Some(Edit {
                path: path.clone(),
                range: fix.range.start + bom..fix.range.end + bom,
                replacement: fix.replacement.clone(),
                rule: d.rule,
            })
        })
        .collect();
    out.sort_by_key(|e| (e.range.start, e.range.end));
    // Two fixes of one node would fight; keep the first.
    let mut end = 0;
    out.retain(|e| {
        let keep = e.range.start >= end;
        if keep {
            end = e.range.end;
        }
        keep
    });
    out
}

/// Applies sorted, non-overlapping edits (as [`edits`] returns them) to `text`.
pub fn apply(text: &str, edits: &[Edit]) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut at = 0;
    for e in edits {
        if e.range.start < at || e.range.end > text.len() {
            continue;
        }
        out.push_str(&text[at..e.range.start]);
        out.push_str(&e.replacement);
        at = e.range.end;
    }
    out.push_str(&text[at..]);
    out
}

/// A unified diff of one file, `a/PATH` -> `b/PATH`, empty when nothing changed.
pub fn diff(path: &str, old: &str, new: &str) -> String {
    if old == new {
        return String::new();
    }
    let mut s = similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string();
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// The node a pointer names, with the mapping that holds it and the key that introduces it.
pub(crate) struct Located<'a> {
    pub node: &'a Node,
    pub parent: Option<&'a Node>,
    pub key_span: Option<Span>,
    /// The key span of the parent, when the parent is itself a mapping value.
    pub parent_key_span: Option<Span>,
}

fn locate<'a>(root: &'a Node, pointer: &str) -> Option<Located<'a>> {
    let path = root.resolve(pointer)?;
    let (node, key_span) = path[path.len() - 1];
    let (parent, parent_key_span) = match path.len() {
        1 => (None, None),
        n => (Some(path[n - 2].0), path[n - 2].1),
    };
    Some(Located {
        node,
        parent,
        key_span,
        parent_key_span,
    })
}

/// The single-line plain or quoted scalar at `pointer` of `text`, whose finding is at `span`, with
/// its byte range; `None` when it is anything else (an alias, whose span is the `*name`; a
/// multi-line or tagged scalar).
pub(crate) fn scalar_at<'a>(
    text: &str,
    root: &'a Node,
    pointer: &str,
    span: Span,
) -> Option<(Located<'a>, Range<usize>, Style)> {
    let loc = locate(root, pointer)?;
    let NodeKind::Scalar { style, .. } = &loc.node.kind else {
        return None;
    };
    let style = *style;
    if loc.node.span != span || loc.node.span.start.line != loc.node.span.end.line {
        return None;
    }
    let range = loc.node.span.byte_range(text);
    let src = text.get(range.clone())?;
    if src.is_empty() || src.starts_with(['*', '&', '!']) {
        return None;
    }
    Some((loc, range, style))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::MemoryTree;

    const ENV: &str = "apiVersion: nautes.resource.nautes.io/v1alpha1\nkind: Environment\nmetadata:\n  name: env-dev\nspec:\n  cluster: c1\n  envType: dev\n  product: product-7\n";

    fn dr(spec: &str) -> String {
        format!(
            "apiVersion: nautes.resource.nautes.io/v1alpha1\nkind: DeploymentRuntime\nmetadata:\n  name: dr-dev\n{spec}"
        )
    }

    /// Checks `text` as `runtimes/dr-dev.yaml` beside an environment, fixes it, and returns the
    /// fixed text with the rules that still fire on it.
    fn fix(text: &str) -> (String, Vec<&'static str>) {
        let check = |t: &str| {
            let tree = MemoryTree::new([
                ("runtimes/dr-dev.yaml", t.as_bytes().to_vec()),
                ("envs/env-dev.yaml", ENV.as_bytes().to_vec()),
            ]);
            crate::validate(&tree, None, &crate::Settings::default())
        };
        let report = check(text);
        let path: Arc<str> = Arc::from("runtimes/dr-dev.yaml");
        let diags: Vec<&Diagnostic> = report
            .diagnostics
            .iter()
            .filter(|d| d.fix.is_some())
            .collect();
        let fixed = apply(text, &edits(&report, &path, text, &diags));
        let after = check(&fixed);
        let rules = after.diagnostics.iter().map(|d| d.rule.id).collect();
        (fixed, rules)
    }

    #[test]
    fn block_destination_becomes_a_nested_mapping() {
        let text = dr(
            "spec:\n  destination: env-dev   # the old form\n  manifestSource:\n    codeRepo: repo-42\n",
        );
        let (fixed, rules) = fix(&text);
        assert!(
            fixed.contains(
                "  destination:\n    environment: env-dev   # the old form\n  manifestSource:"
            ),
            "{fixed}"
        );
        assert!(!rules.contains(&"dr-legacy-destination"), "{rules:?}");
        assert_eq!(fix(&fixed).0, fixed, "idempotent");
    }

    #[test]
    fn indentation_step_is_the_files_own() {
        let text = dr("spec:\n    destination: 'env-dev'\n    product: product-7\n");
        let (fixed, _) = fix(&text);
        assert!(
            fixed.contains("    destination:\n        environment: 'env-dev'\n    product:"),
            "{fixed}"
        );
    }

    #[test]
    fn flow_destination_stays_flow() {
        let text = dr("spec: {destination: env-dev, product: product-7}\n");
        let (fixed, rules) = fix(&text);
        assert!(
            fixed.ends_with("spec: {destination: {environment: env-dev}, product: product-7}\n"),
            "{fixed}"
        );
        assert!(!rules.contains(&"dr-legacy-destination"), "{rules:?}");
    }

    #[test]
    fn crlf_and_multibyte_text_are_kept() {
        let text =
            dr("# é日本 ünïcode\nspec:\n  destination: env-dev # «alt»\n  product: product-7\n")
                .replace('\n', "\r\n");
        let (fixed, rules) = fix(&text);
        assert!(
            fixed.contains("  destination:\r\n    environment: env-dev # «alt»\r\n"),
            "{fixed:?}"
        );
        assert!(
            !fixed.replace("\r\n", "").contains('\n'),
            "only CRLF line ends"
        );
        assert!(!rules.contains(&"dr-legacy-destination"), "{rules:?}");
    }

    #[test]
    fn byte_order_mark_is_accounted_for() {
        let text = format!("\u{feff}{}", dr("spec:\n  destination: env-dev\n"));
        let (fixed, _) = fix(&text);
        assert!(fixed.starts_with('\u{feff}'));
        assert!(
            fixed.ends_with("  destination:\n    environment: env-dev\n"),
            "{fixed}"
        );
    }

    #[test]
    fn yaml11_ambiguity_is_quoted() {
        let env = ENV.replace("envType: dev", "envType: yes # sure");
        let tree_text = env.clone();
        let tree = MemoryTree::new([("envs/env-dev.yaml", tree_text.as_bytes().to_vec())]);
        let report = crate::validate(&tree, None, &crate::Settings::default());
        let diags: Vec<&Diagnostic> = report
            .diagnostics
            .iter()
            .filter(|d| d.fix.is_some())
            .collect();
        assert_eq!(diags.len(), 1, "{:?}", report.diagnostics);
        let path: Arc<str> = Arc::from("envs/env-dev.yaml");
        let fixed = apply(&env, &edits(&report, &path, &env, &diags));
        assert_eq!(
            fixed,
            ENV.replace("envType: dev", "envType: \"yes\" # sure")
        );
    }

    #[test]
    fn stale_findings_are_left_alone() {
        let text = dr("spec:\n  destination: env-dev\n");
        let tree = MemoryTree::new([("runtimes/dr-dev.yaml", text.as_bytes().to_vec())]);
        let report = crate::validate(&tree, None, &crate::Settings::default());
        let diags: Vec<&Diagnostic> = report
            .diagnostics
            .iter()
            .filter(|d| d.fix.is_some())
            .collect();
        assert!(!diags.is_empty());
        let changed = text.replace("spec:\n", "# a new line\nspec:\n");
        let path: Arc<str> = Arc::from("runtimes/dr-dev.yaml");
        assert!(!edits(&report, &path, &text, &diags).is_empty());
        assert!(edits(&report, &path, &changed, &diags).is_empty());
    }

    #[test]
    fn diff_is_unified() {
        let d = diff("a.yaml", "x: 1\ny: 2\n", "x: 1\ny: 3\n");
        assert!(d.starts_with("--- a/a.yaml\n+++ b/a.yaml\n@@"), "{d}");
        assert!(d.contains("-y: 2\n+y: 3\n"), "{d}");
        assert_eq!(diff("a", "same", "same"), "");
    }
}
