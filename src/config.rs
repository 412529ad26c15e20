//! `.nautes-lint.yaml`: the repository's own settings. Unknown keys are an error, so a typo never
//! silently does nothing.

use crate::engine::{Level, Settings};
use crate::yaml::{self, Node, NodeKind};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub const FILE_NAME: &str = ".nautes-lint.yaml";

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Config {
    pub product: Option<String>,
    pub nautes_version: Option<(u32, u32, u32)>,
    /// Resolved against the directory holding the config file.
    pub clusters: Option<PathBuf>,
    /// A tenant context document; resolved like `clusters`.
    pub context: Option<PathBuf>,
    pub strict: Option<bool>,
    pub rules: HashMap<&'static crate::rules::RuleMeta, Level>,
    pub ignore: Vec<String>,
    /// `mrThreads`: which new findings of a merge request the webhook service opens review
    /// threads for (the service's `--mr-threads` when unset).
    pub mr_threads: Option<ThreadMode>,
}

/// Which new findings of a merge request get a review thread on their line, after reviewdog's
/// filter modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum ThreadMode {
    /// Findings on a line the merge request adds or changes.
    #[default]
    Added,
    /// Also findings on the unchanged lines shown around a change.
    #[cfg_attr(feature = "cli", value(name = "diff_context"))]
    DiffContext,
    /// Findings anywhere in a file the merge request changes.
    File,
    /// No threads: the summary note only.
    Off,
}

impl ThreadMode {
    pub const NAMES: &[&str] = &["added", "diff_context", "file", "off"];

    pub fn as_str(self) -> &'static str {
        match self {
            ThreadMode::Added => "added",
            ThreadMode::DiffContext => "diff_context",
            ThreadMode::File => "file",
            ThreadMode::Off => "off",
        }
    }

    pub fn parse(s: &str) -> Option<ThreadMode> {
        match s {
            "added" => Some(ThreadMode::Added),
            "diff_context" => Some(ThreadMode::DiffContext),
            "file" => Some(ThreadMode::File),
            "off" => Some(ThreadMode::Off),
            _ => None,
        }
    }
}

/// A configuration error, with the place it was found.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}:{line}:{column}: {message}", .path.display())]
pub struct ConfigError {
    pub path: PathBuf,
    pub line: u32,
    pub column: u32,
    pub message: String,
}

/// What a caller sets over a configuration file: the command line's flags. The service sets
/// nothing (a repository's own file is all it has).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub product: Option<String>,
    pub nautes_version: Option<(u32, u32, u32)>,
    /// `Some(true)` for `--strict`, `Some(false)` for `--no-strict`.
    pub strict: Option<bool>,
}

/// The one way from a configuration file plus overrides to the engine's [`Settings`]: `check`,
/// the hooks and the service all build theirs here. `clusters` is the inventory, shared (a
/// generated one holds tens of thousands of clusters; the service hands it to every job), and so
/// is `namespaces`, the other products' namespace claims of a tenant context.
pub fn settings(
    cfg: Config,
    over: Overrides,
    clusters: Option<std::sync::Arc<crate::engine::Clusters>>,
    namespaces: Option<std::sync::Arc<crate::context::NamespaceIndex>>,
) -> Result<Settings, String> {
    let ignore = if cfg.ignore.is_empty() {
        None
    } else {
        let mut b = globset::GlobSetBuilder::new();
        for g in &cfg.ignore {
            b.add(globset::Glob::new(g).map_err(|e| format!("{FILE_NAME}: {e}"))?);
        }
        Some(b.build().map_err(|e| format!("{FILE_NAME}: {e}"))?)
    };
    Ok(Settings {
        product: over.product.or(cfg.product),
        nautes_version: over.nautes_version.or(cfg.nautes_version),
        strict: over.strict.or(cfg.strict).unwrap_or(false),
        levels: cfg.rules,
        ignore,
        clusters,
        namespaces,
    })
}

const KEYS: &[&str] = &[
    "product",
    "nautesVersion",
    "clusters",
    "context",
    "strict",
    "rules",
    "ignore",
    "mrThreads",
];

/// Parses `1.2.3`, `v1.2.3` or `1.2`.
pub fn parse_version(s: &str) -> Option<(u32, u32, u32)> {
    let s = s.strip_prefix('v').unwrap_or(s);
    let mut parts = s.split('.').map(|p| p.parse::<u32>().ok());
    let major = parts.next()??;
    let minor = parts.next()??;
    let patch = parts.next().unwrap_or(Some(0))?;
    parts.next().is_none().then_some((major, minor, patch))
}

pub fn parse_level(s: &str) -> Option<Level> {
    match s {
        "off" => Some(Level::Off),
        "warning" | "warn" => Some(Level::Warning),
        "error" => Some(Level::Error),
        _ => None,
    }
}

impl Config {
    /// Reads `path`; `Ok(None)` when it does not exist.
    pub fn load(path: &Path) -> Result<Option<Config>, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(ConfigError {
                    path: path.into(),
                    line: 1,
                    column: 1,
                    message: format!("cannot read: {e}"),
                });
            }
        };
        let base = path.parent().unwrap_or(Path::new("."));
        Config::parse(&text, path, base).map(Some)
    }

    pub fn parse(text: &str, path: &Path, base: &Path) -> Result<Config, ConfigError> {
        let err = |span: yaml::Span, message: String| ConfigError {
            path: path.into(),
            line: span.start.line.max(1),
            column: span.start.col + 1,
            message,
        };
        let parsed = yaml::parse(text);
        if let Some(issue) = parsed.issues.first() {
            let (span, message) = match issue {
                yaml::YamlIssue::Syntax { span, message } => {
                    (*span, format!("invalid YAML: {message}"))
                }
                yaml::YamlIssue::DuplicateKey { key, second, .. } => {
                    (*second, format!("key `{key}` appears twice"))
                }
            };
            return Err(err(span, message));
        }
        let mut cfg = Config::default();
        let Some(doc) = parsed.documents.first() else {
            return Ok(cfg);
        };
        if doc.root.is_null() {
            return Ok(cfg);
        }
        let Some(entries) = doc.root.as_map() else {
            return Err(err(
                doc.root.span,
                "the configuration must be a mapping".into(),
            ));
        };
        let string = |n: &Node, key: &str| {
            n.as_str()
                .map(str::to_owned)
                .ok_or_else(|| err(n.span, format!("`{key}` must be a string")))
        };
        for e in entries {
            let v = &e.value;
            match e.key.as_str() {
                "product" => cfg.product = Some(string(v, "product")?),
                "nautesVersion" => {
                    let s = match &v.kind {
                        NodeKind::Scalar {
                            value: yaml::Scalar::Float(_),
                            ..
                        } => text_of(text, v),
                        _ => string(v, "nautesVersion")?,
                    };
                    cfg.nautes_version = Some(parse_version(&s).ok_or_else(|| {
                        err(
                            v.span,
                            format!("`nautesVersion: {s}` is not a version like 0.4.2"),
                        )
                    })?);
                }
                "clusters" => cfg.clusters = Some(base.join(string(v, "clusters")?)),
                "context" => cfg.context = Some(base.join(string(v, "context")?)),
                "strict" => match &v.kind {
                    NodeKind::Scalar {
                        value: yaml::Scalar::Bool(b),
                        ..
                    } => cfg.strict = Some(*b),
                    _ => return Err(err(v.span, "`strict` must be true or false".into())),
                },
                "rules" => {
                    let Some(rules) = v.as_map() else {
                        return Err(err(
                            v.span,
                            "`rules` must map rule ids to off, warning or error".into(),
                        ));
                    };
                    for r in rules {
                        let Some(rule) = crate::rules::find(&r.key) else {
                            let hint = crate::suggest::did_you_mean(&r.key, crate::rules::ids())
                                .map(|h| format!(" ({h})"))
                                .unwrap_or_default();
                            return Err(err(r.key_span, format!("unknown rule `{}`{hint}", r.key)));
                        };
                        let level = r.value.as_str().and_then(parse_level).ok_or_else(|| {
                            err(
                                r.value.span,
                                format!(
                                    "rule `{}`: the level must be off, warning or error",
                                    r.key
                                ),
                            )
                        })?;
                        cfg.rules.insert(rule, level);
                    }
                }
                "ignore" => {
                    let Some(items) = v.as_seq() else {
                        return Err(err(v.span, "`ignore` must be a list of path globs".into()));
                    };
                    for i in items {
                        let g = string(i, "ignore")?;
                        globset::Glob::new(&g)
                            .map_err(|e| err(i.span, format!("invalid glob `{g}`: {e}")))?;
                        cfg.ignore.push(g);
                    }
                }
                "mrThreads" => {
                    let mode = v.as_str().and_then(ThreadMode::parse);
                    cfg.mr_threads = Some(mode.ok_or_else(|| {
                        err(
                            v.span,
                            format!(
                                "`mrThreads` must be one of {}",
                                ThreadMode::NAMES.join(", ")
                            ),
                        )
                    })?);
                }
                other => {
                    let hint = crate::suggest::did_you_mean(other, KEYS.iter().copied())
                        .map(|h| format!("{h} "))
                        .unwrap_or_default();
                    return Err(err(
                        e.key_span,
                        format!(
                            "unknown key `{other}`; {hint}the keys are {}",
                            KEYS.join(", ")
                        ),
                    ));
                }
            }
        }
        Ok(cfg)
    }
}

fn text_of(text: &str, n: &Node) -> String {
    let (s, e) = n.span.char_range();
    text.chars().skip(s).take(e - s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(t: &str) -> Result<Config, ConfigError> {
        Config::parse(t, Path::new(".nautes-lint.yaml"), Path::new("/repo"))
    }

    #[test]
    fn all_keys() {
        let c = parse("product: product-7\nnautesVersion: 0.4.2\nclusters: ../clusters\ncontext: .nautes-context.json\nstrict: true\nrules:\n  dr-manifest-path: error\n  folder-count: off\nignore: ['runtimes/old-*.yaml']\n").unwrap();
        assert_eq!(c.product.as_deref(), Some("product-7"));
        assert_eq!(c.nautes_version, Some((0, 4, 2)));
        assert_eq!(c.clusters, Some(PathBuf::from("/repo/../clusters")));
        assert_eq!(c.context, Some(PathBuf::from("/repo/.nautes-context.json")));
        assert_eq!(c.strict, Some(true));
        let folder_count = crate::rules::find("folder-count").unwrap();
        assert_eq!(c.rules.get(folder_count), Some(&Level::Off));
        assert_eq!(c.ignore, vec!["runtimes/old-*.yaml"]);
        assert_eq!(c.mr_threads, None);
    }

    #[test]
    fn merge_request_thread_modes() {
        for (text, mode) in [
            ("added", ThreadMode::Added),
            ("diff_context", ThreadMode::DiffContext),
            ("file", ThreadMode::File),
            ("off", ThreadMode::Off),
            ("'off'", ThreadMode::Off),
        ] {
            let c = parse(&format!("mrThreads: {text}\n")).unwrap();
            assert_eq!(c.mr_threads, Some(mode), "{text}");
        }
        let e = parse("mrThreads: lines\n").unwrap_err();
        assert!(
            e.message.contains("added, diff_context, file, off"),
            "{}",
            e.message
        );
        let e = parse("mrThreads: false\n").unwrap_err();
        assert_eq!((e.line, e.column), (1, 12));
    }

    #[test]
    fn a_float_like_version_is_read_from_its_text() {
        assert_eq!(
            parse("nautesVersion: 0.4\n").unwrap().nautes_version,
            Some((0, 4, 0))
        );
    }

    #[test]
    fn unknown_keys_and_rules_are_errors_with_a_position() {
        let e = parse("product: p\nprodcut: q\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 1));
        assert!(
            e.message.contains("did you mean `product`"),
            "{}",
            e.message
        );
        let e = parse("rules:\n  dr-duplicat: off\n").unwrap_err();
        assert!(
            e.message.contains("did you mean `dr-duplicate`"),
            "{}",
            e.message
        );
        let e = parse("rules:\n  dr-duplicate: maybe\n").unwrap_err();
        assert!(e.message.contains("off, warning or error"));
    }
}
