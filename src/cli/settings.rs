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
    /// inside that revision).
    #[arg(long, value_name = "PATH", env = "NAUTES_LINT_CLUSTERS")]
    pub clusters: Option<PathBuf>,
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
    let inventory = match args.clusters.as_ref().or(cfg.clusters.as_ref()) {
        Some(p) => Some(load_clusters(p, Some(root))?),
        None => None,
    };
    finish_settings(args, cfg, inventory)
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

/// The flags over a loaded configuration; `inventory` is the cluster inventory, when one was
/// named (it enables the cluster rules).
pub(crate) fn finish_settings(
    args: &SettingsArgs,
    cfg: Config,
    mut inventory: Option<crate::clusters::Inventory>,
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
    let settings = config::settings(cfg, over, clusters, None).map_err(Failure)?;
    Ok((settings, inventory.unwrap_or_default()))
}
