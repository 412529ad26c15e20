//! Settings from the command line: the shared settings flags, the configuration file and the
//! cluster inventory, turned into the engine's `Settings` through `config::settings`.

use super::*;

/// The flags over `.nautes-lint.yaml`, shared by `check` and the hooks.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct SettingsArgs {
    /// The product id (`product-<GitLab group id>`); default: the configuration's, else the
    /// value most resources carry.
    #[arg(long)]
    pub product: Option<String>,
    /// A Cluster YAML file or a folder of them, on this machine; enables the cluster rules.
    /// Overrides `clusters:` of the configuration (a revision's own `clusters:` can only point
    /// inside that revision) and the clusters of a tenant context.
    #[arg(long, value_name = "PATH", env = "NAUTES_LINT_CLUSTERS")]
    pub clusters: Option<PathBuf>,
    /// A tenant context document on this machine (JSON, as the service's `GET /api/v1/context`
    /// returns it): its clusters enable the cluster rules (unless --clusters is given), its
    /// products' namespace claims dr-namespace-used-by-other-product. Overrides `context:` of the
    /// configuration. A file that cannot be read or used is an error, never a skip.
    #[arg(long, value_name = "FILE", env = "NAUTES_LINT_CONTEXT")]
    pub context: Option<PathBuf>,
    /// The Nautes version the repository targets; from 0.3.6 the legacy destination is an error.
    #[arg(long, value_name = "X.Y.Z")]
    pub nautes_version: Option<String>,
    /// Unknown fields are errors, not warnings.
    #[arg(long, overrides_with = "no_strict")]
    pub strict: bool,
    /// Unknown fields are warnings, even when the configuration says `strict: true`.
    #[arg(long, overrides_with = "strict")]
    pub no_strict: bool,
    /// A configuration file on this machine (default: `.nautes-lint.yaml` of the checked tree
    /// or revision).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Merges the config file and the flags (flags win) into settings.
pub fn settings(
    args: &SettingsArgs,
    root: &Path,
) -> Result<(Settings, crate::clusters::Inventory), Failure> {
    let cfg = match &args.config {
        Some(path) => load_config(path)?,
        None => Config::load(&root.join(config::FILE_NAME))?.unwrap_or_default(),
    };
    let context = match args.context.as_ref().or(cfg.context.as_ref()) {
        Some(p) => Some(load_context(p)?),
        None => None,
    };
    let from_context = context.as_ref().map(context_inventory).transpose()?;
    // `--clusters` wins, then the context's clusters, then `clusters:` of the configuration:
    // the context is the tenant's inventory as the service last read it, fresher than a copy.
    let inventory = match (&args.clusters, from_context.flatten(), &cfg.clusters) {
        (Some(p), _, _) => Some(load_clusters(p, Some(root))?),
        (None, Some(inv), _) => Some(inv),
        (None, None, Some(p)) => Some(load_clusters(p, Some(root))?),
        (None, None, None) => None,
    };
    finish_settings(args, cfg, inventory, context.as_ref())
}

/// A configuration file named on the command line: it must exist.
pub(crate) fn load_config(path: &Path) -> Result<Config, Failure> {
    Config::load(path)?.ok_or_else(|| Failure(format!("{}: no such file", path.display())))
}

pub(crate) fn load_clusters(
    path: &Path,
    root: Option<&Path>,
) -> Result<crate::clusters::Inventory, Failure> {
    crate::clusters::load(path, root)
        .map_err(|e| Failure(format!("cannot load the cluster inventory: {e}")))
}

/// A tenant context document named on the command line or in the configuration: it must exist
/// and be valid, or the check fails (exit 2) rather than run without what it was asked to use.
pub(crate) fn load_context(path: &Path) -> Result<crate::context::Context, Failure> {
    let bytes = std::fs::read(path).map_err(|e| {
        Failure(format!(
            "cannot read the tenant context {}: {e}",
            path.display()
        ))
    })?;
    parse_context(&bytes, &path.display().to_string())
}

/// A tenant context document read from `shown` (a file, or `rev:path` in a revision).
pub(crate) fn parse_context(bytes: &[u8], shown: &str) -> Result<crate::context::Context, Failure> {
    crate::context::Context::from_json(bytes)
        .map_err(|e| Failure(format!("cannot load the tenant context {shown}: {e}")))
}

/// The cluster inventory of a context, when it holds one.
pub(crate) fn context_inventory(
    context: &crate::context::Context,
) -> Result<Option<crate::clusters::Inventory>, Failure> {
    context.inventory().map_err(|e| {
        Failure(format!(
            "cannot load the cluster inventory of the tenant context: {e}"
        ))
    })
}

/// The flags over a loaded configuration; `inventory` is the cluster inventory, when one was
/// named (it enables the cluster rules), `context` the tenant context, whose other products'
/// namespace claims enable the cross-product rule.
pub(crate) fn finish_settings(
    args: &SettingsArgs,
    cfg: Config,
    mut inventory: Option<crate::clusters::Inventory>,
    context: Option<&crate::context::Context>,
) -> Result<(Settings, crate::clusters::Inventory), Failure> {
    let nautes_version = match &args.nautes_version {
        Some(v) => Some(config::parse_version(v).ok_or_else(|| {
            Failure(format!(
                "--nautes-version `{v}` is not a version like 0.4.2"
            ))
        })?),
        None => None,
    };
    let over = config::Overrides {
        product: args.product.clone(),
        nautes_version,
        strict: if args.no_strict {
            Some(false)
        } else {
            args.strict.then_some(true)
        },
    };
    // Moved, not cloned: a generated inventory can hold tens of thousands of clusters.
    let clusters = inventory
        .as_mut()
        .map(|i| std::sync::Arc::new(std::mem::take(&mut i.clusters)));
    // The product, when known now, is left out of the index; an assumed one is left out by the
    // rule, which knows it only after the tree is read.
    let except = over.product.as_deref().or(cfg.product.as_deref());
    let namespaces = context.map(|c| std::sync::Arc::new(c.namespace_index(except)));
    let settings = config::settings(cfg, over, clusters, namespaces).map_err(Failure)?;
    Ok((settings, inventory.unwrap_or_default()))
}
