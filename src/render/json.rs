//! The JSON contract (product.md): `{"version": 1, "summary": {...}, "diagnostics": [...]}`.
//!
//! Serialised straight from the report through borrowing structs: building a `serde_json::Value`
//! of a report with 100,000 findings first cost more memory (and page faults) than the check.

use crate::diagnostic::{Diagnostic, line_col};
use crate::engine::{ProductSource, Report};
use serde::{Serialize, Serializer};

#[derive(Serialize)]
struct Out<'a> {
    version: u32,
    summary: Summary<'a>,
    #[serde(serialize_with = "diagnostics")]
    diagnostics: &'a [Diagnostic],
}

#[derive(Serialize)]
struct Summary<'a> {
    files: usize,
    resources: usize,
    errors: usize,
    warnings: usize,
    skipped_rules: &'a [&'static crate::rules::RuleMeta],
    product: Option<Product<'a>>,
}

/// The product every `spec.product` was checked against, and where it came from: `given`
/// (`--product` or `product:` of the configuration) or `assumed` (the value most resources
/// carry); `null` when no resource names one and none was given.
#[derive(Serialize)]
struct Product<'a> {
    id: &'a str,
    source: &'static str,
}

#[derive(Serialize)]
struct Diag<'a> {
    rule: &'a str,
    severity: &'static str,
    path: &'a str,
    line: u32,
    column: u32,
    end_line: u32,
    end_column: u32,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    help: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource: Option<Resource<'a>>,
    related: Vec<Related<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    new: Option<bool>,
    fingerprint: &'a str,
}

#[derive(Serialize)]
struct Resource<'a> {
    kind: &'a str,
    name: &'a str,
}

#[derive(Serialize)]
struct Related<'a> {
    path: &'a str,
    line: u32,
    column: u32,
    message: &'a str,
    /// Set when the place is in another repository (another product's `default.project`, path
    /// with namespace): `path` is then a path in that repository.
    #[serde(skip_serializing_if = "Option::is_none")]
    repository: Option<&'a str>,
}

fn diag(d: &Diagnostic) -> Diag<'_> {
    let (line, column, end_line, end_column) = d.line_col();
    Diag {
        rule: d.rule.id,
        severity: d.severity.as_str(),
        path: &d.path,
        line,
        column,
        end_line,
        end_column,
        message: &d.message,
        help: d.help.as_deref(),
        resource: d.resource.as_ref().map(|r| Resource {
            kind: &r.kind,
            name: &r.name,
        }),
        related: d
            .related
            .iter()
            .map(|r| {
                let (line, column, _, _) = line_col(r.span);
                Related {
                    path: &r.path,
                    line,
                    column,
                    message: &r.message,
                    repository: match &r.origin {
                        crate::diagnostic::Origin::Repository(repo) => Some(repo),
                        _ => None,
                    },
                }
            })
            .collect(),
        new: d.new,
        fingerprint: &d.fingerprint,
    }
}

fn diagnostics<S: Serializer>(diags: &&[Diagnostic], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(diags.iter().map(diag))
}

pub fn render(report: &Report) -> String {
    let out = Out {
        version: 1,
        summary: Summary {
            files: report.files,
            resources: report.resources,
            errors: report.errors(),
            warnings: report.warnings(),
            skipped_rules: &report.skipped_rules,
            product: report.product.as_ref().map(|(id, source)| Product {
                id,
                source: match source {
                    ProductSource::Given => "given",
                    ProductSource::Assumed => "assumed",
                },
            }),
        },
        diagnostics: &report.diagnostics,
    };
    // Two to three hundred bytes a finding: one allocation instead of a doubling string.
    let mut buf = Vec::with_capacity(512 + report.diagnostics.len() * 320);
    serde_json::to_writer_pretty(&mut buf, &out).expect("the report serialises");
    let mut s = String::from_utf8(buf).expect("serde_json writes UTF-8");
    s.push('\n');
    s
}
