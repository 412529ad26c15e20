//! The embedded JSON Schemas (draft 2020-12), one per kind, each compiled once per process.

use crate::model::Kind;
use jsonschema::error::ValidationErrorKind;
use jsonschema::{JsonType, Validator};
use std::sync::OnceLock;

/// (kind name, schema text) for every embedded schema; `nautes-lint schema KIND` prints these.
pub const SCHEMAS: &[(&str, &str)] = &[
    (
        "DeploymentRuntime",
        include_str!("../schemas/DeploymentRuntime.json"),
    ),
    ("Environment", include_str!("../schemas/Environment.json")),
    ("Project", include_str!("../schemas/Project.json")),
    ("CodeRepo", include_str!("../schemas/CodeRepo.json")),
    (
        "CodeRepoBinding",
        include_str!("../schemas/CodeRepoBinding.json"),
    ),
    (
        "ProjectPipelineRuntime",
        include_str!("../schemas/ProjectPipelineRuntime.json"),
    ),
    ("Cluster", include_str!("../schemas/Cluster.json")),
];

pub fn text(kind: &str) -> Option<&'static str> {
    SCHEMAS
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(kind))
        .map(|(_, t)| *t)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaErrorKind {
    /// A property the schema does not know (warning unless strict).
    UnknownField,
    /// A string was expected and something else found: with a plain scalar this is YAML 1.1
    /// ambiguity rather than a wrong value.
    ExpectedString,
    Other,
}

#[derive(Debug, Clone)]
pub struct SchemaError {
    /// JSON pointer of the instance node at fault.
    pub pointer: String,
    pub message: String,
    pub kind: SchemaErrorKind,
}

fn validators() -> &'static [Validator; 6] {
    static V: OnceLock<[Validator; 6]> = OnceLock::new();
    V.get_or_init(|| {
        Kind::ALL.map(|k| {
            let text = text(k.as_str()).unwrap_or_else(|| panic!("schema for {k} is embedded"));
            let schema: serde_json::Value =
                serde_json::from_str(text).expect("embedded schema is JSON");
            jsonschema::draft202012::options()
                .build(&schema)
                .expect("embedded schema compiles")
        })
    })
}

/// Compiles the validators now (the CLI calls this off the hot path).
pub fn warm_up() {
    validators();
}

/// Validates one resource document of a known kind. Fast path: a valid document costs one
/// `is_valid` pass and no allocation of error values.
pub fn validate(kind: Kind, instance: &serde_json::Value) -> Vec<SchemaError> {
    let v = &validators()[Kind::ALL.iter().position(|k| *k == kind).unwrap_or(0)];
    if v.is_valid(instance) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for e in v.iter_errors(instance) {
        let base = e.instance_path().as_str().to_owned();
        match e.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                for field in unexpected {
                    let escaped = crate::yaml::pointer_token(field);
                    out.push(SchemaError {
                        pointer: format!("{base}/{escaped}"),
                        message: format!("unknown field `{field}`"),
                        kind: SchemaErrorKind::UnknownField,
                    });
                }
            }
            ValidationErrorKind::Type { kind } => {
                let expects_string = match kind {
                    jsonschema::error::TypeKind::Single(t) => *t == JsonType::String,
                    jsonschema::error::TypeKind::Multiple(set) => set.contains(JsonType::String),
                };
                out.push(SchemaError {
                    pointer: base,
                    message: e.to_string(),
                    kind: if expects_string {
                        SchemaErrorKind::ExpectedString
                    } else {
                        SchemaErrorKind::Other
                    },
                });
            }
            ValidationErrorKind::Required { property } => {
                let name = property.as_str().unwrap_or_default();
                out.push(SchemaError {
                    pointer: base,
                    message: format!("missing required field `{name}`"),
                    kind: SchemaErrorKind::Other,
                });
            }
            _ => out.push(SchemaError {
                pointer: base,
                message: e.to_string(),
                kind: SchemaErrorKind::Other,
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_schema_compiles_and_accepts_both_destination_forms() {
        warm_up();
        let mut dr = json!({"apiVersion": "nautes.resource.nautes.io/v1alpha1", "kind": "DeploymentRuntime",
            "metadata": {"name": "dr"}, "spec": {"destination": "env-dev", "manifestSource": {"path": "x"}}});
        assert!(validate(Kind::DeploymentRuntime, &dr).is_empty());
        dr["spec"]["destination"] = json!({"environment": "env-dev", "namespaces": ["a"]});
        assert!(validate(Kind::DeploymentRuntime, &dr).is_empty());
        dr["spec"]["destination"] = json!({"environment": "env-dev", "namespace": ["a"]});
        let errs = validate(Kind::DeploymentRuntime, &dr);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].kind, SchemaErrorKind::UnknownField);
        assert_eq!(errs[0].pointer, "/spec/destination/namespace");
    }

    #[test]
    fn missing_field_points_at_the_parent() {
        let p = json!({"apiVersion": "nautes.resource.nautes.io/v1alpha1", "kind": "Project",
            "metadata": {"name": "p"}, "spec": {"product": "product-7"}});
        let errs = validate(Kind::Project, &p);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].pointer, "/spec");
        assert!(errs[0].message.contains("language"));
    }
}
