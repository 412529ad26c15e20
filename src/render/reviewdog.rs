//! reviewdog's diagnostic format as JSON Lines (`rdjsonl`, read with `reviewdog -f=rdjsonl`):
//! one `Diagnostic` message of `proto/rdf/reviewdog.proto` per line, in the proto's JSON field
//! names: `message`, `location {path, range {start {line, column}, end {line, column}}}`,
//! `severity` (`ERROR`, `WARNING`), `source {name}`, `code {value}`, `suggestions [{range,
//! text}]`, `related_locations [{message, location}]`.
//!
//! Choices a consumer may care about:
//! - reviewdog counts columns in UTF-8 bytes (ours count characters), and its end position is
//!   exclusive; both are converted with the file's text, which the report carries. A place in a
//!   file whose text the report does not hold (a base revision's file) keeps the character
//!   column, the same for ASCII.
//! - A fixable finding (`nautes-lint check --fix` would repair it) carries the fix as a
//!   suggestion: the same byte-range edit `--fix` makes, as a range and its new text.
//! - A related place in the base revision (a deleted resource) is no location in the checked
//!   files: its path and line are named in the message, without a `location`, as reviewdog's
//!   proto requires one only to point at it.
//! - `code.url` is left out: the rules' documentation ships with the binary (`nautes-lint
//!   explain RULE`), not at a URL.

use crate::diagnostic::{Diagnostic, Origin, Related, Severity, line_col};
use crate::engine::Report;
use crate::yaml::Span;
use serde_json::{Map, Value, json};
use std::sync::Arc;

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    for d in &report.diagnostics {
        let line = serde_json::to_string(&diagnostic(report, d)).expect("a JSON value serialises");
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Error => "ERROR",
        Severity::Warning => "WARNING",
    }
}

fn diagnostic(report: &Report, d: &Diagnostic) -> Value {
    let text = report.sources.get(&d.path).map(|t| &**t);
    let mut message = d.message.clone();
    if let Some(h) = &d.help {
        message.push_str("\nhelp: ");
        message.push_str(h);
    }
    let mut o = Map::new();
    o.insert("message".into(), json!(message));
    o.insert("location".into(), location(&d.path, d.span, text));
    o.insert("severity".into(), json!(severity(d.severity)));
    o.insert("source".into(), json!({"name": "nautes-lint"}));
    o.insert("code".into(), json!({"value": d.rule}));
    if let Some(text) = text
        && d.fix.is_some()
    {
        let suggestions: Vec<Value> = crate::fix::edits(report, &d.path, text, &[d])
            .iter()
            .map(|e| {
                json!({
                    "range": {
                        "start": byte_position(text, e.range.start),
                        "end": byte_position(text, e.range.end),
                    },
                    "text": e.replacement,
                })
            })
            .collect();
        if !suggestions.is_empty() {
            o.insert("suggestions".into(), Value::Array(suggestions));
        }
    }
    if !d.related.is_empty() {
        let related: Vec<Value> = d.related.iter().map(|r| related(report, r)).collect();
        o.insert("related_locations".into(), Value::Array(related));
    }
    Value::Object(o)
}

fn related(report: &Report, r: &Related) -> Value {
    // reviewdog can only show a location in the checked tree; a place elsewhere is told in words.
    let elsewhere = match &r.origin {
        Origin::Here => None,
        Origin::Base => Some("the base revision".to_owned()),
        Origin::Repository(repo) => Some(repo.to_string()),
    };
    if let Some(place) = elsewhere {
        let (line, column, _, _) = line_col(r.span);
        return json!({
            "message": format!("{} ({}:{line}:{column} in {place})", r.message, r.path),
        });
    }
    let text = report.sources.get(&r.path).map(|t| &**t);
    json!({"message": r.message, "location": location(&r.path, r.span, text)})
}

fn location(path: &Arc<str>, span: Span, text: Option<&str>) -> Value {
    let (line, column, end_line, end_column) = line_col(span);
    let col = |line: u32, column: u32| text.map_or(column, |t| byte_column(t, line, column));
    json!({
        "path": &**path,
        "range": {
            "start": {"line": line, "column": col(line, column)},
            "end": {"line": end_line, "column": col(end_line, end_column)},
        },
    })
}

/// The 1-based byte column of the 1-based character `column` of `line` in `text`. A column past
/// the line's end (the exclusive end of a one-character span at a line's end) counts one byte
/// per missing character.
fn byte_column(text: &str, line: u32, column: u32) -> u32 {
    let Some(l) = text.split('\n').nth(line.saturating_sub(1) as usize) else {
        return column;
    };
    let before = column.saturating_sub(1) as usize;
    let bytes: usize = l.chars().take(before).map(char::len_utf8).sum();
    let missing = before.saturating_sub(l.chars().count());
    u32::try_from(bytes + missing + 1).unwrap_or(u32::MAX)
}

/// The 1-based line and byte column of byte `offset` of `text`.
fn byte_position(text: &str, offset: usize) -> Value {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    json!({"line": line, "column": offset.min(text.len()) - start + 1})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_bytes() {
        let text = "a: 1\nname: é𐐀b\n";
        // `b` is the 9th character of line 2, after 2 + 4 bytes of é and 𐐀.
        assert_eq!(byte_column(text, 2, 9), 13);
        assert_eq!(byte_column(text, 1, 1), 1);
        // One past the end of line 2 (9 characters, 13 bytes), and a line that does not exist.
        assert_eq!(byte_column(text, 2, 11), 15);
        assert_eq!(byte_column(text, 7, 3), 3);
        assert_eq!(byte_position(text, 0), json!({"line": 1, "column": 1}));
        assert_eq!(
            byte_position(text, text.find('b').unwrap()),
            json!({"line": 2, "column": 13})
        );
    }
}
