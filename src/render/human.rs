//! rustc-style output through miette: the file, `line:column`, the source line with the node
//! underlined, the rule id, one help line, related places, then a one-line summary.

use super::plural;
use crate::diagnostic::{Diagnostic, Origin, Severity, line_col};
use crate::engine::{ProductSource, Report};
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};
use std::fmt::Write;
use std::sync::Arc;

pub struct Options {
    pub color: bool,
    pub width: usize,
    /// `check --new-only`: only new errors fail, and the summary says so.
    pub new_only: bool,
}

/// One diagnostic in miette's terms.
struct View<'a> {
    d: &'a Diagnostic,
    source: Option<NamedSource<Arc<str>>>,
    labels: Vec<LabeledSpan>,
    help: Option<String>,
    code: String,
}

impl std::fmt::Debug for View<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.d.message)
    }
}

impl std::fmt::Display for View<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (line, col, _, _) = self.d.line_col();
        if self.source.is_some() {
            f.write_str(&self.d.message)
        } else {
            // Without the text (an unreadable file), the location goes in the message.
            write!(f, "{}:{line}:{col}: {}", self.d.path, self.d.message)
        }
    }
}

impl std::error::Error for View<'_> {}

impl miette::Diagnostic for View<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        Some(Box::new(&self.code))
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.d.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }
    fn help<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.source.as_ref()?;
        Some(Box::new(self.labels.iter().cloned()))
    }
}

fn byte_span(text: &str, span: crate::yaml::Span) -> SourceSpan {
    let std::ops::Range { start, end } = span.byte_range(text);
    // Underline at least one character so an empty span (a missing key) stays visible.
    let len = if end > start {
        end - start
    } else {
        text[start..].chars().next().map_or(0, char::len_utf8)
    };
    SourceSpan::new(start.into(), len)
}

fn view<'a>(d: &'a Diagnostic, report: &Report) -> View<'a> {
    let text = report.sources.get(&d.path).cloned();
    let mut labels = Vec::new();
    let mut notes = Vec::new();
    if let Some(t) = &text {
        labels.push(LabeledSpan::new_primary_with_span(
            None,
            byte_span(t, d.span),
        ));
    }
    for r in &d.related {
        let same_file = r.origin == Origin::Here && r.path == d.path && text.is_some();
        if let (true, Some(t)) = (same_file, &text) {
            labels.push(LabeledSpan::new_with_span(
                Some(r.message.clone()),
                byte_span(t, r.span),
            ));
        } else {
            let (line, col, _, _) = line_col(r.span);
            notes.push(format!(
                "{}: {}:{line}:{col}{}",
                r.message,
                r.path,
                r.origin.note()
            ));
        }
    }
    let mut help = d.help.clone().unwrap_or_default();
    for n in notes {
        if !help.is_empty() {
            help.push('\n');
        }
        help.push_str(&format!("note: {n}"));
    }
    // With a base revision, each finding says whether this change brought it.
    let code = match d.new {
        Some(true) => format!("{} (new)", d.rule),
        Some(false) => format!("{} (already in the base)", d.rule),
        None => d.rule.id.to_owned(),
    };
    View {
        d,
        source: text.map(|t| NamedSource::new(&*d.path, t)),
        labels,
        help: (!help.is_empty()).then_some(help),
        code,
    }
}

pub fn render(report: &Report, opts: &Options) -> String {
    let mut ordered: Vec<&Diagnostic> = report.diagnostics.iter().collect();
    // New findings first when a base was compared; otherwise the path order of the report.
    ordered.sort_by_key(|d| d.new == Some(false));
    let mut out = render_diagnostics(report, &ordered, opts);
    out.push_str(&summary(report, opts.new_only));
    out
}

/// `diagnostics` (of `report`) in the given order, without the summary.
pub fn render_diagnostics(report: &Report, diagnostics: &[&Diagnostic], opts: &Options) -> String {
    let theme = if opts.color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(opts.width)
        .with_links(false);
    let mut out = String::new();
    for &d in diagnostics {
        let v = view(d, report);
        if handler.render_report(&mut out, &v).is_err() {
            // A span the handler cannot place: fall back to one line rather than losing the finding.
            let (line, col, _, _) = d.line_col();
            let _ = writeln!(
                out,
                "{}: {}:{line}:{col}: [{}] {}",
                d.severity.as_str(),
                d.path,
                d.rule,
                d.message
            );
        }
    }
    out
}

/// The closing line, after the notes. With `new_only` (`check --new-only`), a run whose errors
/// are all old passes and says so rather than "failed".
pub fn summary(report: &Report, new_only: bool) -> String {
    let mut out = notes(report);
    let (e, w) = (report.errors(), report.warnings());
    let scope = format!(
        "{} in {}",
        plural(report.resources, "resource", "resources"),
        plural(report.files, "file", "files")
    );
    if new_only && e > 0 && super::new_errors(report) == 0 {
        let _ = writeln!(
            out,
            "ok: no new errors ({e} already in the base), {} ({scope})",
            plural(w, "warning", "warnings")
        );
    } else if e == 0 && w == 0 {
        let _ = writeln!(out, "ok: {scope}, no problems found");
    } else {
        let mut line = format!(
            "{}: {}, {} ({scope})",
            if e > 0 { "failed" } else { "ok" },
            plural(e, "error", "errors"),
            plural(w, "warning", "warnings")
        );
        if let Some(fixed) = report.fixed {
            let new = report
                .diagnostics
                .iter()
                .filter(|d| d.new == Some(true))
                .count();
            let old = report.diagnostics.len() - new;
            let _ = write!(
                line,
                "; {new} new, {old} already in the base, {fixed} fixed"
            );
        }
        let _ = writeln!(out, "{line}");
    }
    out
}

/// The notes of the summary: an assumed product, skipped rules.
pub fn notes(report: &Report) -> String {
    let mut out = String::new();
    if let Some((p, ProductSource::Assumed)) = &report.product {
        let _ = writeln!(
            out,
            "note: product `{p}` assumed (the value most resources carry); set it with --product or `product:` in .nautes-lint.yaml"
        );
    }
    // Rules that need a base revision are skipped in every plain check; saying so each time would
    // be noise (the JSON lists them). Missing clusters are worth one line: `--clusters` fixes it.
    let cluster_rules: Vec<&str> = report
        .skipped_rules
        .iter()
        .filter(|r| r.needs == crate::rules::Needs::Clusters)
        .map(|r| r.id)
        .collect();
    if !cluster_rules.is_empty() {
        let _ = writeln!(
            out,
            "note: {} skipped without a cluster inventory ({}); pass --clusters PATH or set `clusters:` in .nautes-lint.yaml",
            plural(cluster_rules.len(), "rule", "rules"),
            cluster_rules.join(", ")
        );
    }
    out
}
