//! The command line: parses flags, builds [`Settings`](crate::Settings) from flags and the config
//! file, picks a source and an output. Exit codes: 0 clean, 1 error findings, 2 usage or I/O.

use crate::config::{self, Config};
use crate::engine::{Report, Settings};
use crate::render::{self, Format};
use crate::tree::Tree;
use clap::{Parser, Subcommand};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod git;
mod hook;

#[derive(Parser, Debug)]
#[command(
    name = "nautes-lint",
    version,
    about = "Validates Nautes default.project GitOps repositories"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Validate a default.project tree.
    Check(CheckArgs),
    /// List the rules: id, default severity, one line each.
    Rules,
    /// Print a rule's documentation: what, why, an example, the fix.
    Explain {
        /// The rule id, as `nautes-lint rules` lists it.
        rule: String,
    },
    /// Run as a git hook: read what git hands the hook, print findings, exit 1 to block.
    #[command(subcommand)]
    Hook(hook::HookCommand),
    /// Write the client hooks (pre-commit, pre-push) into the current repository.
    InstallHooks(hook::InstallArgs),
    /// Print the embedded JSON Schema of a kind.
    Schema {
        /// DeploymentRuntime, Environment, Project, CodeRepo, CodeRepoBinding,
        /// ProjectPipelineRuntime or Cluster.
        kind: String,
    },
}

#[derive(clap::Args, Debug, Default, Clone)]
pub struct CheckArgs {
    /// The repository root.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Output format; `human` on a terminal.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Write the report to FILE (a one-line summary still goes to the terminal).
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The product id (`product-<GitLab group id>`); default: the value most resources carry.
    #[arg(long)]
    pub product: Option<String>,
    /// A Cluster YAML file or a folder of them; enables the cluster rules.
    #[arg(long, value_name = "PATH")]
    pub clusters: Option<PathBuf>,
    /// The Nautes version the repository targets; from 0.3.6 the legacy destination is an error.
    #[arg(long, value_name = "X.Y.Z")]
    pub nautes_version: Option<String>,
    /// Unknown fields are errors, not warnings.
    #[arg(long)]
    pub strict: bool,
    /// The configuration file (default: `.nautes-lint.yaml` in DIR, or in the revision with --rev).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Validate this git revision instead of the working tree: its files are read from the
    /// object database (no checkout; works in a bare repository). DIR is the repository, or a
    /// folder in its working tree to check that folder of the revision.
    #[arg(long, value_name = "REV")]
    pub rev: Option<String>,
    /// Compare with this git revision: the base is validated too, each finding says whether it
    /// is new, and rules that need a base run (dr-destination-changed).
    #[arg(long, value_name = "REV")]
    pub base: Option<String>,
    /// Exit 1 only for errors that are new compared with --base.
    #[arg(long, requires = "base")]
    pub new_only: bool,
}

/// A failure of the tool itself (exit 2), never to be confused with a clean result.
#[derive(Debug)]
pub struct Failure(pub String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(Failure(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, Failure> {
    match cli.command {
        Command::Check(args) => check(&args),
        Command::Hook(cmd) => hook::run(cmd),
        Command::InstallHooks(args) => hook::install(&args),
        Command::Rules => {
            let mut out = String::new();
            for r in crate::rules::REGISTRY {
                let m = r.meta();
                let needs = match m.needs {
                    crate::rules::Needs::Tree => "",
                    crate::rules::Needs::Clusters => " (needs --clusters)",
                    crate::rules::Needs::Base => " (needs a base revision)",
                };
                let fix = if m.fixable { " [fixable]" } else { "" };
                out.push_str(&format!(
                    "{:<32} {:<8} {}{needs}{fix}\n",
                    m.id,
                    m.severity.as_str(),
                    m.summary
                ));
            }
            print(&out)
        }
        Command::Explain { rule } => match crate::rules::doc(&rule) {
            Some(doc) => {
                let m = crate::rules::find(&rule)
                    .expect("documented rules are registered")
                    .meta();
                print(&format!(
                    "# {} ({}, default severity {})\n\n{}\n",
                    m.id,
                    m.summary,
                    m.severity.as_str(),
                    doc
                ))
            }
            None => Err(Failure(unknown_rule(&rule))),
        },
        Command::Schema { kind } => match crate::schema::text(&kind) {
            Some(t) => print(&format!("{}\n", t.trim_end())),
            None => Err(Failure(format!(
                "no schema for `{kind}`; the kinds are {}",
                crate::schema::SCHEMAS
                    .iter()
                    .map(|(k, _)| *k)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        },
    }
}

fn unknown_rule(rule: &str) -> String {
    let hint = crate::suggest::closest(rule, crate::rules::ids())
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default();
    format!("unknown rule `{rule}`{hint}; `nautes-lint rules` lists them")
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a panic.
fn print(s: &str) -> Result<ExitCode, Failure> {
    let mut out = std::io::stdout().lock();
    match out.write_all(s.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e.into()),
    }
}

/// Merges the config file and the flags (flags win) into settings.
pub fn settings(
    args: &CheckArgs,
    root: &Path,
) -> Result<(Settings, crate::clusters::Inventory), Failure> {
    let cfg = match &args.config {
        Some(path) => load_config(path)?,
        None => Config::load(&root.join(config::FILE_NAME))?.unwrap_or_default(),
    };
    let inventory = match args.clusters.as_ref().or(cfg.clusters.as_ref()) {
        Some(p) => Some(load_clusters(p)?),
        None => None,
    };
    finish_settings(args, cfg, inventory)
}

/// A configuration file named on the command line: it must exist.
fn load_config(path: &Path) -> Result<Config, Failure> {
    Config::load(path)?.ok_or_else(|| Failure(format!("{}: no such file", path.display())))
}

fn load_clusters(path: &Path) -> Result<crate::clusters::Inventory, Failure> {
    crate::clusters::load(path)
        .map_err(|e| Failure(format!("cannot load the cluster inventory: {e}")))
}

/// The flags over a loaded configuration; `inventory` is the cluster inventory, when one was
/// named (it enables the cluster rules).
fn finish_settings(
    args: &CheckArgs,
    cfg: Config,
    inventory: Option<crate::clusters::Inventory>,
) -> Result<(Settings, crate::clusters::Inventory), Failure> {
    let version = match &args.nautes_version {
        Some(v) => Some(config::parse_version(v).ok_or_else(|| {
            Failure(format!(
                "--nautes-version `{v}` is not a version like 0.4.2"
            ))
        })?),
        None => cfg.nautes_version,
    };
    let ignore = if cfg.ignore.is_empty() {
        None
    } else {
        let mut b = globset::GlobSetBuilder::new();
        for g in &cfg.ignore {
            b.add(globset::Glob::new(g)?);
        }
        Some(b.build()?)
    };
    let settings = Settings {
        product: args.product.clone().or(cfg.product),
        nautes_version: version,
        strict: args.strict || cfg.strict.unwrap_or(false),
        levels: cfg.rules,
        ignore,
        clusters: inventory.as_ref().map(|i| i.clusters.clone()),
    };
    Ok((settings, inventory.unwrap_or_default()))
}

fn check(args: &CheckArgs) -> Result<ExitCode, Failure> {
    let root = &args.dir;
    if args.rev.is_none() && args.base.is_none() {
        let tree = crate::tree::FsTree::open(root)
            .map_err(|e| Failure(format!("{}: {e}", root.display())))?;
        let (settings, inventory) = settings(args, root)?;
        let mut report = crate::validate(&tree, None, &settings);
        report.sources.extend(inventory.sources);
        emit(args, &report)?;
        return Ok(exit_code(&report));
    }
    let mut repo = git::Repo::discover(root)?;
    let (tree, settings, inventory): (Box<dyn Tree>, _, _) = match &args.rev {
        Some(rev) => {
            let snapshot = repo.revision(rev)?;
            let (settings, inventory, note) = repo.settings(args, &snapshot, rev)?;
            if let Some(note) = note {
                eprintln!("note: {note}");
            }
            (Box::new(repo.tree(&snapshot)?), settings, inventory)
        }
        None => {
            let tree = crate::tree::FsTree::open(root)
                .map_err(|e| Failure(format!("{}: {e}", root.display())))?;
            let (settings, inventory) = settings(args, root)?;
            (Box::new(tree), settings, inventory)
        }
    };
    let base = match &args.base {
        Some(rev) => {
            let snapshot = repo.revision(rev)?;
            Some(repo.tree(&snapshot)?)
        }
        None => None,
    };
    let mut report = crate::validate(&*tree, base.as_ref().map(|b| b as &dyn Tree), &settings);
    report.sources.extend(inventory.sources);
    emit(args, &report)?;
    if args.new_only {
        Ok(if new_errors(&report) > 0 {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        })
    } else {
        Ok(exit_code(&report))
    }
}

/// Errors that the base revision did not have (all errors when nothing was compared).
pub fn new_errors(report: &Report) -> usize {
    report
        .diagnostics
        .iter()
        .filter(|d| d.severity == crate::diagnostic::Severity::Error && d.new != Some(false))
        .count()
}

pub fn exit_code(report: &Report) -> ExitCode {
    if report.errors() > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn color_wanted() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn emit(args: &CheckArgs, report: &Report) -> Result<(), Failure> {
    let format = args.format.unwrap_or(Format::Human);
    let to_file = args.output.is_some();
    let body = match format {
        Format::Json => render::json::render(report),
        Format::Human => {
            let width = if to_file { 100 } else { terminal_width() };
            render::human::render(
                report,
                &render::human::Options {
                    color: !to_file && color_wanted(),
                    width,
                },
            )
        }
    };
    match &args.output {
        Some(path) => {
            std::fs::write(path, body).map_err(|e| Failure(format!("{}: {e}", path.display())))?;
            print(&render::human::summary(report))?;
        }
        None => {
            print(&body)?;
        }
    }
    Ok(())
}

fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .filter(|w| *w >= 40)
        .unwrap_or(100)
}
