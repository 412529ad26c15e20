//! The JSON contract (product.md): `{"version": 1, "summary": {...}, "diagnostics": [...]}`.

use crate::diagnostic::{Diagnostic, line_col};
use crate::engine::{ProductSource, Report};
use serde_json::{Map, Value, json};

pub fn diagnostic(d: &Diagnostic) -> Value {
    let (line, column, end_line, end_column) = d.line_col();
    let mut o = Map::new();
    o.insert("rule".into(), json!(d.rule));
    o.insert("severity".into(), json!(d.severity.as_str()));
    o.insert("path".into(), json!(&*d.path));
    o.insert("line".into(), json!(line));
    o.insert("column".into(), json!(column));
    o.insert("end_line".into(), json!(end_line));
    o.insert("end_column".into(), json!(end_column));
    o.insert("message".into(), json!(d.message));
    if let Some(h) = &d.help {
        o.insert("help".into(), json!(h));
    }
    if let Some(r) = &d.resource {
        o.insert("resource".into(), json!({"kind": r.kind, "name": r.name}));
    }
    let related: Vec<Value> = d
        .related
        .iter()
        .map(|r| {
            let (line, column, _, _) = line_col(r.span);
            json!({"path": &*r.path, "line": line, "column": column, "message": r.message})
        })
        .collect();
    o.insert("related".into(), Value::Array(related));
    if let Some(new) = d.new {
        o.insert("new".into(), json!(new));
    }
    o.insert("fingerprint".into(), json!(d.fingerprint));
    Value::Object(o)
}

/// The product every `spec.product` was checked against, and where it came from: `given`
/// (`--product` or `product:` of the configuration) or `assumed` (the value most resources
/// carry); `null` when no resource names one and none was given.
fn product(report: &Report) -> Value {
    match &report.product {
        Some((id, source)) => json!({
            "id": id,
            "source": match source {
                ProductSource::Given => "given",
                ProductSource::Assumed => "assumed",
            },
        }),
        None => Value::Null,
    }
}

pub fn render(report: &Report) -> String {
    let v = json!({
        "version": 1,
        "summary": {
            "files": report.files,
            "resources": report.resources,
            "errors": report.errors(),
            "warnings": report.warnings(),
            "skipped_rules": report.skipped_rules,
            "product": product(report),
        },
        "diagnostics": report.diagnostics.iter().map(diagnostic).collect::<Vec<_>>(),
    });
    let mut s = serde_json::to_string_pretty(&v).expect("a JSON value serialises");
    s.push('\n');
    s
}
