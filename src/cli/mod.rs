//! The command line: parses flags, builds [`Settings`](crate::Settings) from flags and the config
//! file, picks a source and an output. Exit codes: 0 clean, 1 error findings, 2 usage or I/O.

use crate::config::{self, Config};
use crate::engine::{Report, Settings};
use crate::render::plural;
use crate::render::{self, Format};
use crate::tree::Tree;
use clap::{ArgAction, CommandFactory, FromArgMatches, Parser, Subcommand};
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub mod catalogue;
mod git;
mod hook;
mod install;

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
    /// Run the GitLab webhook service (secrets come from the environment, see `--help`).
    Serve(ServeArgs),
    /// Run as a git hook: read what git hands the hook, print findings, exit 1 to block.
    #[command(subcommand)]
    Hook(hook::HookCommand),
    /// Write the client hooks (pre-commit, pre-push) into the current repository.
    InstallHooks(install::InstallArgs),
    /// Run the language server on stdio (for editors: findings while typing, navigation).
    Lsp(crate::lsp::LspArgs),
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
    /// Output format (default `human`). Repeat it, each followed by its --output, to write
    /// several reports from one check.
    #[arg(long, value_enum, action = ArgAction::Append)]
    pub format: Vec<Format>,
    /// Write the report of the --format before it to FILE (`-`: standard output); the one-line
    /// summary still goes to the terminal. At most one format may go to standard output.
    #[arg(long, value_name = "FILE", action = ArgAction::Append)]
    pub output: Vec<PathBuf>,
    #[command(flatten)]
    pub settings: SettingsArgs,
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
    /// Apply the safe fixes (`nautes-lint rules` marks the fixable rules), editing only the
    /// bytes of each offending node, then check again and report what remains.
    #[arg(long)]
    pub fix: bool,
    /// With --fix: print the fixes as a unified diff and write nothing.
    #[arg(long, requires = "fix")]
    pub dry_run: bool,
    /// Pass when there are no resource files at all (a product repository that is really
    /// empty). Without it that is an error: the path is probably not a default.project.
    #[arg(long)]
    pub allow_empty: bool,
    /// Positions of the --format values on the command line (filled by `main`), to pair each
    /// --output with the --format before it.
    #[arg(skip)]
    pub format_at: Vec<usize>,
    /// Positions of the --output values on the command line.
    #[arg(skip)]
    pub output_at: Vec<usize>,
}

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

/// One report to write: a format, to a file or (without one) to standard output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub format: Format,
    pub file: Option<PathBuf>,
}

/// Pairs the --format and --output flags. One of each (or fewer) pair in any order, as they
/// always did; with more, each --output belongs to the nearest --format before it. A format
/// without a file goes to standard output, and only one may.
pub fn targets(args: &CheckArgs) -> Result<Vec<Target>, Failure> {
    if args.format.len() <= 1 && args.output.len() <= 1 {
        return Ok(vec![Target {
            format: args.format.first().copied().unwrap_or(Format::Human),
            file: args.output.first().and_then(|f| to_file(f)),
        }]);
    }
    // Built in code rather than parsed: pair them in order.
    let positioned =
        args.format_at.len() == args.format.len() && args.output_at.len() == args.output.len();
    let (format_at, output_at): (Vec<usize>, Vec<usize>) = if positioned {
        (args.format_at.clone(), args.output_at.clone())
    } else {
        (
            (0..args.format.len()).map(|i| 2 * i).collect(),
            (0..args.output.len()).map(|i| 2 * i + 1).collect(),
        )
    };
    let mut events: Vec<(usize, Option<Format>, Option<&PathBuf>)> = format_at
        .iter()
        .zip(&args.format)
        .map(|(at, f)| (*at, Some(*f), None))
        .chain(
            output_at
                .iter()
                .zip(&args.output)
                .map(|(at, o)| (*at, None, Some(o))),
        )
        .collect();
    events.sort_by_key(|e| e.0);
    // Each target with whether an --output was paired with it (`-` pairs without a file).
    let mut paired: Vec<(Target, bool)> = Vec::new();
    for (_, format, file) in events {
        match (format, file) {
            (Some(format), _) => paired.push((Target { format, file: None }, false)),
            (None, Some(file)) => match paired.last_mut() {
                Some((t, done @ false)) => {
                    t.file = to_file(file);
                    *done = true;
                }
                _ => {
                    return Err(Failure(format!(
                        "--output {} has no --format before it to write; write `--format FORMAT --output FILE` for each report",
                        file.display()
                    )));
                }
            },
            (None, None) => {}
        }
    }
    let out: Vec<Target> = paired.into_iter().map(|(t, _)| t).collect();
    let to_stdout: Vec<&str> = out
        .iter()
        .filter(|t| t.file.is_none())
        .map(|t| t.format.as_str())
        .collect();
    if to_stdout.len() > 1 {
        return Err(Failure(format!(
            "only one report can go to standard output, but {} have no --output FILE (or `--output -`)",
            to_stdout.join(", ")
        )));
    }
    let mut files: Vec<&PathBuf> = out.iter().filter_map(|t| t.file.as_ref()).collect();
    files.sort();
    if let Some(w) = files.windows(2).find(|w| w[0] == w[1]) {
        return Err(Failure(format!(
            "--output {} is given twice; each report needs its own file",
            w[0].display()
        )));
    }
    Ok(out)
}

/// The file of an `--output`; `-` is standard output.
fn to_file(output: &Path) -> Option<PathBuf> {
    (output != Path::new("-")).then(|| output.to_path_buf())
}

/// `serve`: every flag can also come from the environment. The GitLab token, the webhook secret
/// and the signing token come only from the environment (`NAUTES_LINT_GITLAB_TOKEN`,
/// `NAUTES_LINT_WEBHOOK_SECRET`, `NAUTES_LINT_WEBHOOK_SIGNING_TOKEN`) or from a file named by the
/// same variable with `_FILE` appended.
#[derive(clap::Args, Debug, Clone)]
#[command(
    after_help = "Secrets (environment only, or VAR_FILE naming a file):\n  \
                  NAUTES_LINT_GITLAB_TOKEN            API token (scope `api`) that posts statuses and notes\n  \
                  NAUTES_LINT_WEBHOOK_SECRET          the webhook's secret token (X-Gitlab-Token)\n  \
                  NAUTES_LINT_WEBHOOK_SIGNING_TOKEN   optional signing token (whsec_...): require webhook-signature"
)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "NAUTES_LINT_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// The GitLab instance's base URL, e.g. https://gitlab.example.com (`/api/v4` is added).
    #[arg(long, env = "NAUTES_LINT_GITLAB_URL", value_name = "URL")]
    pub gitlab_url: Option<String>,
    /// The SQLite queue file.
    #[arg(long, env = "NAUTES_LINT_DATABASE", default_value = "./nautes-lint.db")]
    pub database: PathBuf,
    /// `full`: an accepted event survives a power cut (an fsync per group commit); `normal`: it
    /// survives a crash of the process only, faster on slow disks.
    #[arg(
        long,
        env = "NAUTES_LINT_SYNCHRONOUS",
        value_enum,
        default_value = "full"
    )]
    pub synchronous: SyncMode,
    /// A Cluster YAML file or a folder of them; enables the cluster rules.
    #[arg(long, env = "NAUTES_LINT_CLUSTERS", value_name = "PATH")]
    pub clusters: Option<PathBuf>,
    /// Jobs validated at the same time; 0 only stores events (maintenance).
    #[arg(long, env = "NAUTES_LINT_WORKERS", default_value_t = 2)]
    pub workers: usize,
    /// Largest webhook body accepted; larger ones get 413.
    #[arg(long, env = "NAUTES_LINT_MAX_BODY_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Seconds in-flight jobs may run after SIGTERM before they are put back in the queue.
    #[arg(long, env = "NAUTES_LINT_SHUTDOWN_GRACE", default_value_t = 20.0)]
    pub shutdown_grace: f64,
    /// First retry delay for GitLab calls, in milliseconds (doubles on each retry).
    #[arg(long, env = "NAUTES_LINT_RETRY_BASE_MS", default_value_t = 500)]
    pub retry_base_ms: u64,
    /// Runs of one job before it is given up (its reason is logged and posted).
    #[arg(long, env = "NAUTES_LINT_MAX_ATTEMPTS", default_value_t = 10)]
    pub max_attempts: u32,
    /// Seconds a running job stays this process's without renewal; a job of a process that
    /// died is taken again after this long.
    #[arg(long, env = "NAUTES_LINT_JOB_LEASE", default_value_t = 30.0)]
    pub job_lease: f64,
    /// Seconds a GitLab call may go without a byte (no answer, or an archive download that
    /// stops) before it is given up and its job retried later through the queue.
    #[arg(long, env = "NAUTES_LINT_STALL_TIMEOUT", default_value_t = 30.0)]
    pub stall_timeout: f64,
    /// Largest repository archive, uncompressed, in bytes.
    #[arg(long, env = "NAUTES_LINT_ARCHIVE_MAX_BYTES", default_value_t = 512 * 1024 * 1024)]
    pub archive_max_bytes: u64,
    /// Resource files one job may hold in memory (head and base trees), in bytes; a job over
    /// it fails with the reason.
    #[arg(long, env = "NAUTES_LINT_MAX_JOB_YAML_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub max_job_yaml_bytes: u64,
    /// Resource files all running jobs together may hold, in bytes; a job waits for room.
    #[arg(long, env = "NAUTES_LINT_MAX_YAML_BYTES", default_value_t = 128 * 1024 * 1024)]
    pub max_yaml_bytes: u64,
    /// Seconds a client may take to send a request's headers.
    #[arg(long, env = "NAUTES_LINT_HEADER_TIMEOUT", default_value_t = 10.0)]
    pub header_timeout: f64,
    /// Connections open at once; more are answered 503 and closed.
    #[arg(long, env = "NAUTES_LINT_MAX_CONNECTIONS", default_value_t = 256)]
    pub max_connections: usize,
    /// Log lines as JSON (default) or as text for a terminal.
    #[arg(
        long,
        env = "NAUTES_LINT_LOG_FORMAT",
        value_enum,
        default_value = "json"
    )]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SyncMode {
    Full,
    Normal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Json,
    Text,
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
    let parsed = Cli::command()
        .try_get_matches()
        .and_then(|m| Ok((Cli::from_arg_matches(&m)?, m)));
    let cli = match parsed {
        Ok((mut cli, matches)) => {
            // Derive loses where each flag stood; pairing --format with --output needs it.
            if let (Command::Check(args), Some(("check", m))) =
                (&mut cli.command, matches.subcommand())
            {
                args.format_at = m
                    .indices_of("format")
                    .map(Iterator::collect)
                    .unwrap_or_default();
                args.output_at = m
                    .indices_of("output")
                    .map(Iterator::collect)
                    .unwrap_or_default();
            }
            cli
        }
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
        Command::Serve(args) => serve(&args),
        Command::Hook(cmd) => hook::run(cmd),
        Command::InstallHooks(args) => install::install(&args),
        Command::Lsp(args) => crate::lsp::run(&args),
        Command::Rules => print(&catalogue::list()),
        Command::Explain { rule } => match catalogue::explain(&rule) {
            Some(text) => print(&text),
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

/// An unknown rule id, with the closest id for a typo, or else the ids that contain what was
/// typed (`explain destination`).
fn unknown_rule(rule: &str) -> String {
    let hint = crate::suggest::did_you_mean(rule, crate::rules::ids())
        .or_else(|| {
            let needle = rule.to_ascii_lowercase();
            let mut containing: Vec<String> = crate::rules::ids()
                .filter(|id| !needle.is_empty() && id.contains(needle.as_str()))
                .map(|id| format!("`{id}`"))
                .collect();
            containing.sort();
            match containing.as_slice() {
                [] => None,
                [one] => Some(format!("did you mean {one}?")),
                many => Some(format!("did you mean one of {}?", many.join(", "))),
            }
        })
        .map(|h| format!(" ({h})"))
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
fn load_config(path: &Path) -> Result<Config, Failure> {
    Config::load(path)?.ok_or_else(|| Failure(format!("{}: no such file", path.display())))
}

fn load_clusters(path: &Path, root: Option<&Path>) -> Result<crate::clusters::Inventory, Failure> {
    crate::clusters::load(path, root)
        .map_err(|e| Failure(format!("cannot load the cluster inventory: {e}")))
}

/// The flags over a loaded configuration; `inventory` is the cluster inventory, when one was
/// named (it enables the cluster rules).
fn finish_settings(
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
    let settings = config::settings(cfg, over, clusters).map_err(Failure)?;
    Ok((settings, inventory.unwrap_or_default()))
}

fn check(args: &CheckArgs) -> Result<ExitCode, Failure> {
    let targets = targets(args)?;
    if args.dry_run
        && let Some(t) = targets
            .iter()
            .find(|t| t.file.is_none() && !args.format.is_empty())
    {
        return Err(Failure(format!(
            "--dry-run prints the diff on standard output; write the {} report to a file with --output FILE",
            t.format.as_str()
        )));
    }
    let root = &args.dir;
    if args.fix && args.rev.is_some() {
        return Err(Failure(
            "--fix edits the working tree; it cannot be combined with --rev".into(),
        ));
    }
    let Some(rev) = &args.rev else {
        return check_working_tree(args, &targets);
    };
    let mut repo = git::Repo::discover(root)?;
    let snapshot = repo.revision(rev)?;
    let (settings, inventory, note) = repo.settings(&args.settings, &snapshot, rev)?;
    if let Some(note) = note {
        eprintln!("note: {note}");
    }
    let tree = repo.tree(&snapshot)?;
    if tree.entries().is_empty() && !args.allow_empty {
        let place = match repo.prefix.as_str() {
            "" => format!("revision `{rev}`"),
            prefix => format!("`{prefix}` of revision `{rev}`"),
        };
        return Err(Failure(nothing_to_check(&place)));
    }
    let base = base_tree(&mut repo, args.base.as_deref())?;
    let mut report = crate::validate(&tree, base.as_ref().map(|b| b as &dyn Tree), &settings);
    report.add_sources(&inventory.sources);
    emit(&targets, true, &report, args.new_only)?;
    Ok(check_exit_code(&report, args.new_only))
}

/// Why a check that found no resource file at all fails: the gate fails closed, since a CI job
/// pointed at the wrong path would otherwise pass on nothing.
fn nothing_to_check(place: &str) -> String {
    format!(
        "{place} holds no resource files in Nautes' layout folders ({}/): nothing to check. \
         Point the check at the root of the default.project repository, or pass --allow-empty \
         if the product's repository is really empty",
        crate::tree::LAYOUT_FOLDERS.join("/, ")
    )
}

/// Whether `dir` is a bare git repository (no working tree to check, only revisions).
fn is_bare_repository(dir: &Path) -> bool {
    gix::open(dir).is_ok_and(|r| r.is_bare())
}

/// `check` on the files in DIR, compared with `--base` when given, fixed with `--fix`.
fn check_working_tree(args: &CheckArgs, targets: &[Target]) -> Result<ExitCode, Failure> {
    let root = &args.dir;
    let open =
        || crate::tree::FsTree::open(root).map_err(|e| Failure(format!("{}: {e}", root.display())));
    // Listing the tree and loading the cluster inventory are independent: overlap them.
    let (tree, loaded) = rayon::join(open, || settings(&args.settings, root));
    let (tree, (settings, inventory)) = (tree?, loaded?);
    if tree.entries().is_empty() && !args.allow_empty {
        if is_bare_repository(root) {
            return Err(Failure(format!(
                "{} is a bare git repository: it has no working tree to check; check a revision \
                 with `--rev HEAD` (or another branch or commit)",
                root.display()
            )));
        }
        return Err(Failure(nothing_to_check(&format!("`{}`", root.display()))));
    }
    let base = match &args.base {
        Some(rev) => base_tree(&mut git::Repo::discover(root)?, Some(rev))?,
        None => None,
    };
    let base = base.as_ref().map(|b| b as &dyn Tree);
    let mut report = validate_showing_progress(&tree, base, &settings);
    if args.fix {
        let fixes = crate::fix::plan(&tree, &report);
        if args.dry_run {
            let diff: String = fixes
                .iter()
                .map(|f| crate::fix::diff(&f.path, &f.old, &f.new))
                .collect();
            print(&diff)?;
            // What the check would say after the fixes, without writing them.
            let replaced: HashMap<usize, Vec<u8>> = fixes
                .iter()
                .map(|f| (f.index, f.new.clone().into_bytes()))
                .collect();
            let fixed_tree = crate::tree::Overlay::new(&tree, replaced);
            report = validate_showing_progress(&fixed_tree, base, &settings);
            eprint!("{}", fix_summary(&fixes, true));
        } else {
            for f in &fixes {
                write_fixed(root, &f.path, &f.new)?;
            }
            eprint!("{}", fix_summary(&fixes, false));
            if !fixes.is_empty() {
                report = validate_showing_progress(&open()?, base, &settings);
            }
        }
    }
    report.add_sources(&inventory.sources);
    // A dry run's diff owns standard output.
    emit(targets, !args.dry_run, &report, args.new_only)?;
    Ok(check_exit_code(&report, args.new_only))
}

/// The tree of the base revision, read from the repository's object database.
fn base_tree(
    repo: &mut git::Repo,
    rev: Option<&str>,
) -> Result<Option<crate::tree::GitTree>, Failure> {
    let Some(rev) = rev else { return Ok(None) };
    let snapshot = repo.revision(rev)?;
    Ok(Some(repo.tree(&snapshot)?))
}

/// 1 when there are errors (with `--new-only`: new ones), else 0.
fn check_exit_code(report: &Report, new_only: bool) -> ExitCode {
    if new_only {
        if new_errors(report) > 0 {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        }
    } else {
        exit_code(report)
    }
}

pub use crate::render::new_errors;

fn fix_summary(fixes: &[crate::fix::FileFix], dry_run: bool) -> String {
    let count: usize = fixes.iter().map(|f| f.edits.len()).sum();
    if count == 0 {
        return "fix: nothing to fix\n".into();
    }
    let verb = if dry_run { "would fix" } else { "fixed" };
    let mut out = String::new();
    for f in fixes {
        let mut rules: Vec<&str> = f.edits.iter().map(|e| e.rule).collect();
        rules.sort_unstable();
        rules.dedup();
        out.push_str(&format!(
            "{verb} {}: {} ({})\n",
            f.path,
            plural(f.edits.len(), "finding", "findings"),
            rules.join(", ")
        ));
    }
    out.push_str(&format!(
        "fix: {verb} {} in {}{}\n",
        plural(count, "finding", "findings"),
        plural(fixes.len(), "file", "files"),
        if dry_run {
            " (dry run: nothing written)"
        } else {
            ""
        }
    ));
    out
}

/// Writes a fixed file in place: the new content goes to a temporary file beside it, which then
/// replaces the original in one rename, so a crash leaves either the old or the new file, never
/// half of one. A symlink inside the tree is followed and its target rewritten (replacing the
/// link itself with a regular file would change the repository's layout).
fn write_fixed(root: &Path, path: &str, content: &str) -> Result<(), Failure> {
    let failed = |e: std::io::Error| Failure(format!("cannot write the fix of {path}: {e}"));
    let target = root.join(path).canonicalize().map_err(failed)?;
    if !target.starts_with(root.canonicalize().map_err(failed)?) {
        return Err(Failure(format!(
            "{path} resolves outside {}; not fixed",
            root.display()
        )));
    }
    let dir = target.parent().unwrap_or(Path::new("."));
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.nautes-lint-{}.tmp", std::process::id()));
    let write = || -> std::io::Result<()> {
        let permissions = std::fs::metadata(&target)?.permissions();
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(content.as_bytes())?;
        f.set_permissions(permissions)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &target)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        failed(e)
    })
}

/// Files above which a check shows a progress bar (below it, a check takes well under a second).
pub const PROGRESS_MIN_FILES: usize = 2_000;

/// A progress bar only for a person watching a long check: stderr is a terminal, not in CI
/// (`CI` set), not inside a git hook (git sets `GIT_DIR` or `GIT_INDEX_FILE` for hooks), and the
/// tree is large.
pub fn progress_wanted(
    files: usize,
    stderr_is_terminal: bool,
    env: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> bool {
    stderr_is_terminal
        && files > PROGRESS_MIN_FILES
        && ["CI", "GIT_DIR", "GIT_INDEX_FILE"]
            .iter()
            .all(|v| env(v).is_none())
}

fn validate_showing_progress(
    tree: &dyn crate::tree::Tree,
    base: Option<&dyn crate::tree::Tree>,
    settings: &Settings,
) -> Report {
    // With a base, the engine reports the files of both trees.
    let files = tree.entries().len() + base.map_or(0, |b| b.entries().len());
    if !progress_wanted(files, std::io::stderr().is_terminal(), |v| {
        std::env::var_os(v)
    }) {
        return crate::validate(tree, base, settings);
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(files as u64),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("checking {pos}/{len} files {wide_bar} {eta}")
    {
        bar.set_style(style);
    }
    let report = crate::engine::validate_with_progress(
        tree,
        base,
        settings,
        Some(&|n: usize| bar.inc(n as u64)),
    );
    bar.finish_and_clear();
    report
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

/// Renders the report once per target. When every report goes to a file, the one-line summary
/// goes to standard output; when a machine-readable report holds standard output, the summary
/// goes to standard error instead, so the terminal (or the CI log) still shows the result.
fn emit(
    targets: &[Target],
    stdout_free: bool,
    report: &Report,
    new_only: bool,
) -> Result<(), Failure> {
    let mut stdout_body = None;
    for t in targets {
        let to_file = t.file.is_some();
        let body = render(t.format, report, to_file, new_only);
        match &t.file {
            Some(path) => {
                std::fs::write(path, body)
                    .map_err(|e| Failure(format!("{}: {e}", path.display())))?;
            }
            None if stdout_free => stdout_body = Some((t.format, body)),
            None => {}
        }
    }
    let summary = render::human::summary(report, new_only);
    match stdout_body {
        Some((format, body)) => {
            print(&body)?;
            if format != Format::Human && targets.len() > 1 {
                eprint!("{summary}");
            }
        }
        None if stdout_free => {
            print(&summary)?;
        }
        None => eprint!("{summary}"),
    }
    Ok(())
}

/// One format of the report; `new_only` words the human summary for `check --new-only`.
pub fn render(format: Format, report: &Report, to_file: bool, new_only: bool) -> String {
    match format {
        Format::Json => render::json::render(report),
        Format::Sarif => render::sarif::render(report),
        Format::Junit => render::junit::render(report),
        Format::Gitlab => render::gitlab::render(report),
        Format::Human => {
            let width = if to_file { 100 } else { terminal_width() };
            render::human::render(
                report,
                &render::human::Options {
                    color: !to_file && color_wanted(),
                    width,
                    new_only,
                },
            )
        }
    }
}

fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .filter(|w| *w >= 40)
        .unwrap_or(100)
}

/// Builds the service configuration from flags and environment; a missing setting is a clear
/// error, never a default that would run an unauthenticated service.
pub fn serve_config(
    args: &ServeArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<crate::server::config::ServeConfig, Failure> {
    use crate::server::config::{self as sc, ArchiveLimits, RetryPolicy};
    let url = args.gitlab_url.as_deref().ok_or_else(|| {
        Failure("the GitLab URL is missing: pass --gitlab-url or set NAUTES_LINT_GITLAB_URL".into())
    })?;
    let gitlab_url = sc::check_gitlab_url(url).map_err(Failure)?;
    let webhook_secret = sc::required_secret(
        sc::WEBHOOK_SECRET_VAR,
        "the webhook secret (the X-Gitlab-Token GitLab sends)",
        env,
    )
    .map_err(Failure)?;
    let gitlab_token =
        sc::required_secret(sc::TOKEN_VAR, "the GitLab API token", env).map_err(Failure)?;
    let signing_token = sc::secret_from_env(sc::SIGNING_TOKEN_VAR, env).map_err(Failure)?;
    if !(args.shutdown_grace.is_finite() && args.shutdown_grace >= 0.0) {
        return Err(Failure(
            "--shutdown-grace must be a number of seconds, 0 or more".into(),
        ));
    }
    for (flag, value) in [
        ("--job-lease", args.job_lease),
        ("--stall-timeout", args.stall_timeout),
        ("--header-timeout", args.header_timeout),
    ] {
        if !(value.is_finite() && value >= 0.1) {
            return Err(Failure(format!(
                "{flag} must be a number of seconds, 0.1 or more"
            )));
        }
    }
    if args.max_connections == 0 {
        return Err(Failure("--max-connections must be 1 or more".into()));
    }
    let yaml = sc::YamlLimits {
        per_job: args.max_job_yaml_bytes,
        total: args.max_yaml_bytes,
    }
    .check()
    .map_err(Failure)?;
    Ok(sc::ServeConfig {
        listen: args.listen,
        gitlab_url,
        gitlab_token,
        webhook_secret,
        signing_token,
        database: args.database.clone(),
        synchronous: match args.synchronous {
            SyncMode::Full => crate::server::queue::Synchronous::Full,
            SyncMode::Normal => crate::server::queue::Synchronous::Normal,
        },
        clusters: args.clusters.clone(),
        workers: args.workers,
        max_body_bytes: args.max_body_bytes,
        limits: ArchiveLimits {
            max_uncompressed_bytes: args.archive_max_bytes,
            ..ArchiveLimits::default()
        },
        retry: RetryPolicy {
            base: std::time::Duration::from_millis(args.retry_base_ms.max(1)),
            max_job_attempts: args.max_attempts.max(1),
            stall: std::time::Duration::from_secs_f64(args.stall_timeout),
            ..RetryPolicy::default()
        },
        shutdown_grace: std::time::Duration::from_secs_f64(args.shutdown_grace),
        request_timeout: std::time::Duration::from_secs(10),
        job_lease: std::time::Duration::from_secs_f64(args.job_lease),
        header_timeout: std::time::Duration::from_secs_f64(args.header_timeout),
        max_connections: args.max_connections,
        yaml,
    })
}

fn serve(args: &ServeArgs) -> Result<ExitCode, Failure> {
    let config = serve_config(args, &|k| std::env::var(k).ok())?;
    let filter = tracing_subscriber::EnvFilter::try_from_env("NAUTES_LINT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout);
    match args.log_format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
        // Colour codes only for a person at a terminal, not in a file or a log collector.
        LogFormat::Text => builder
            .with_ansi(std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none())
            .init(),
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure(format!("cannot start the async runtime: {e}")))?;
    let result = runtime.block_on(crate::server::run(config, shutdown_signal()));
    // A validation abandoned at the end of the grace period may still run on the blocking pool;
    // its job is already back in the queue, so do not wait for it.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    result.map_err(Failure)?;
    Ok(ExitCode::SUCCESS)
}

/// SIGTERM (Kubernetes) or Ctrl-C.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("shutdown signal received");
}
