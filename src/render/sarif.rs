//! SARIF 2.1.0, for code scanning tools.
//!
//! Written with `serde_json` rather than `serde-sarif`: that crate generates its types from the
//! schema at build time (schemafy, syn, prettyplease) and adds typed-builder and strum, a heavy
//! build for the dozen fields we fill. The output is checked against the official schema in
//! `tests/it/formats.rs` instead.
//!
//! Choices a consumer may care about:
//! - `tool.driver.rules` lists the rules the results refer to (with `ruleIndex`), each with its
//!   one-line summary, the first paragraph of its documentation and the whole documentation as
//!   help (text and Markdown: it is Markdown), so a run's file stands on its own.
//! - Locations are relative URIs from the repository root (`uriBaseId` `SRCROOT`), regions are
//!   1-based and `columnKind` is `unicodeCodePoints`, as our columns count characters.
//! - `partialFingerprints["nautesLint/v1"]` is the finding's stable fingerprint (rule, file,
//!   resource, node, message; never a line number), so reruns and moved lines match.
//! - With a base revision, `baselineState` says `new` or `unchanged`.

use crate::diagnostic::{Diagnostic, Origin, Related, Severity, line_col};
use crate::engine::Report;
use crate::rules::RuleMeta;
use serde_json::{Map, Value, json};

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
/// The base every artifact URI is relative to.
const ROOT: &str = "SRCROOT";

pub fn render(report: &Report) -> String {
    // The rules the results refer to, in catalogue order.
    let used: Vec<&'static RuleMeta> = crate::rules::REGISTRY
        .iter()
        .map(|r| r.meta())
        .filter(|m| report.diagnostics.iter().any(|d| d.rule == *m))
        .collect();
    let rules: Vec<Value> = used.iter().map(|m| rule(m)).collect();
    let fingerprints = super::unique_fingerprints(&report.diagnostics);
    let results: Vec<Value> = report
        .diagnostics
        .iter()
        .zip(&fingerprints)
        .map(|(d, fp)| {
            let index = used.iter().position(|m| *m == d.rule).unwrap_or(0);
            result(d, index, fp)
        })
        .collect();
    let log = json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "nautes-lint",
                "version": env!("CARGO_PKG_VERSION"),
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "originalUriBaseIds": {
                ROOT: {"description": {"text": "The root of the checked default.project repository."}}
            },
            "columnKind": "unicodeCodePoints",
            "results": results,
            "properties": {
                "files": report.files,
                "resources": report.resources,
                "errors": report.errors(),
                "warnings": report.warnings(),
                "skippedRules": report.skipped_rules,
            },
        }],
    });
    let mut s = serde_json::to_string_pretty(&log).expect("a JSON value serialises");
    s.push('\n');
    s
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

fn rule(m: &RuleMeta) -> Value {
    let mut o = Map::new();
    o.insert("id".into(), json!(m.id));
    o.insert("shortDescription".into(), json!({"text": m.summary}));
    if let Some(doc) = crate::rules::doc(m.id) {
        if let Some(what) = first_paragraph(doc, "## What it does") {
            o.insert("fullDescription".into(), json!({"text": what}));
        }
        o.insert("help".into(), json!({"text": doc, "markdown": doc}));
    }
    o.insert(
        "defaultConfiguration".into(),
        json!({"level": level(m.severity)}),
    );
    o.insert("properties".into(), json!({"fixable": m.fixable}));
    Value::Object(o)
}

/// The paragraph under `heading`, joined into one line.
fn first_paragraph(doc: &str, heading: &str) -> Option<String> {
    let rest = doc.split_once(heading)?.1;
    let para: Vec<&str> = rest
        .lines()
        .skip_while(|l| l.trim().is_empty())
        .take_while(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(str::trim)
        .collect();
    (!para.is_empty()).then(|| para.join(" "))
}

fn result(d: &Diagnostic, rule_index: usize, fingerprint: &str) -> Value {
    let mut text = d.message.clone();
    if let Some(h) = &d.help {
        text.push_str("\nhelp: ");
        text.push_str(h);
    }
    let mut location = physical(&d.path, d.span);
    if let Some(r) = &d.resource {
        location.insert(
            "logicalLocations".into(),
            json!([{
                "name": r.name,
                "fullyQualifiedName": format!("{}/{}", r.kind, r.name),
                "kind": "resource",
            }]),
        );
    }
    let mut o = Map::new();
    o.insert("ruleId".into(), json!(d.rule));
    o.insert("ruleIndex".into(), json!(rule_index));
    o.insert("level".into(), json!(level(d.severity)));
    o.insert("message".into(), json!({"text": text}));
    o.insert("locations".into(), json!([Value::Object(location)]));
    if !d.related.is_empty() {
        let related: Vec<Value> = d
            .related
            .iter()
            .enumerate()
            .map(|(i, r)| related(i, r))
            .collect();
        o.insert("relatedLocations".into(), Value::Array(related));
    }
    o.insert(
        "partialFingerprints".into(),
        json!({"nautesLint/v1": fingerprint}),
    );
    if let Some(new) = d.new {
        o.insert(
            "baselineState".into(),
            json!(if new { "new" } else { "unchanged" }),
        );
    }
    Value::Object(o)
}

fn physical(path: &str, span: crate::yaml::Span) -> Map<String, Value> {
    let (line, column, end_line, end_column) = line_col(span);
    let mut m = Map::new();
    m.insert(
        "physicalLocation".into(),
        json!({
            "artifactLocation": {"uri": uri(path), "uriBaseId": ROOT},
            "region": {
                "startLine": line,
                "startColumn": column,
                "endLine": end_line,
                "endColumn": end_column,
            },
        }),
    );
    m
}

fn related(id: usize, r: &Related) -> Value {
    // A place outside the checked files (the base revision, another repository): say where in
    // words, as a physical location would name a file of this repository.
    let elsewhere = match &r.origin {
        Origin::Here => None,
        Origin::Base => Some("the base revision"),
        Origin::Repository(repo) => Some(&**repo),
    };
    if let Some(place) = elsewhere {
        let (line, column, _, _) = line_col(r.span);
        return json!({
            "id": id,
            "message": {"text": format!("{} ({}:{line}:{column} in {place})", r.message, r.path)},
        });
    }
    let mut m = physical(&r.path, r.span);
    m.insert("id".into(), json!(id));
    m.insert("message".into(), json!({"text": r.message}));
    Value::Object(m)
}

/// A relative URI reference for a `/`-separated path: every byte outside the unreserved set and
/// `/` is percent-encoded, so spaces and non-ASCII names stay valid URIs.
pub fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn uris_are_percent_encoded() {
        assert_eq!(super::uri("runtimes/dr-dev.yaml"), "runtimes/dr-dev.yaml");
        assert_eq!(super::uri("envs/a b/é.yaml"), "envs/a%20b/%C3%A9.yaml");
        assert_eq!(super::uri("x%y"), "x%25y");
    }

    #[test]
    fn first_paragraph_of_a_section() {
        let doc = "## What it does\nFlags a thing\nacross lines.\n\n## Why is this bad?\nBecause.";
        assert_eq!(
            super::first_paragraph(doc, "## What it does").as_deref(),
            Some("Flags a thing across lines.")
        );
        assert_eq!(super::first_paragraph(doc, "## Example"), None);
    }
}
