//! ## What it does
//! Checks each resource against the JSON Schema of its kind (`nautes-lint schema KIND` prints it):
//! required fields, types, enums. Fields the schema does not know are a warning, an error with
//! `--strict` (or `strict: true` in the config).
//!
//! ## Why is this bad?
//! The Kubernetes API rejects a resource that does not match its CRD, and Argo CD then fails to
//! sync the product; an unknown field is dropped silently, which usually means a typo.
//!
//! ## Example
//! ```yaml
//! kind: Project
//! metadata: {name: api-server}
//! spec: {product: product-7}   # `language` is required
//! ```
//!
//! ## How to fix
//! Add the missing field, correct the type, or remove the unknown field.

use super::{FileCtx, Rule, RuleMeta};
use crate::diagnostic::{Finding, Severity};
use crate::schema::SchemaErrorKind;
use crate::yaml::{NodeKind, Style};

super::meta!(
    "schema-violation",
    Error,
    Tree,
    "the resource matches the JSON Schema of its kind"
);

impl Rule for Check {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_file(&self, ctx: &FileCtx<'_>, out: &mut Vec<Finding>) {
        let (Some(root), Some(kind)) = (ctx.root, ctx.kind) else {
            return;
        };
        for e in ctx.schema_errors {
            if e.kind == SchemaErrorKind::ExpectedString && is_plain_scalar(root, &e.pointer) {
                continue; // yaml-1.1-ambiguity explains it better
            }
            let span = root.pointer_span(&e.pointer).unwrap_or(root.span);
            let mut f = Finding::new(
                &META,
                ctx.file,
                span,
                e.pointer.clone(),
                format!("{kind} schema: {}", e.message),
            )
            .help(format!(
                "see `nautes-lint schema {kind}` for the fields {} accepts",
                with_article(kind)
            ));
            if e.kind == SchemaErrorKind::UnknownField && !ctx.strict {
                f.severity = Some(Severity::Warning);
                f = f.help("Kubernetes drops unknown fields silently; is it a typo?");
            }
            if let Some(r) = ctx.resource {
                f = f.resource(r);
            }
            out.push(f);
        }
    }
}

/// "an Environment", "a Project": a kind's name with the article English puts before it.
fn with_article(kind: impl std::fmt::Display) -> String {
    let word = kind.to_string();
    let an = word.starts_with(['A', 'E', 'I', 'O', 'U']);
    format!("{} {word}", if an { "an" } else { "a" })
}

pub fn is_plain_scalar(root: &crate::yaml::Node, pointer: &str) -> bool {
    root.resolve(pointer)
        .and_then(|path| path.last().copied())
        .is_some_and(|(node, _)| {
            matches!(
                node.kind,
                NodeKind::Scalar {
                    style: Style::Plain,
                    ..
                }
            )
        })
}
