//! The command line: parses flags, builds [`Settings`](crate::Settings) from flags and the config
//! file, picks a source and an output. Exit codes: 0 clean, 1 error findings, 2 usage or I/O.

use crate::config::{self, Config};
use crate::engine::{Report, Settings};
use crate::render::{self, Format};
use clap::{Parser, Subcommand};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

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
    /// The configuration file (default: `.nautes-lint.yaml` in DIR).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
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
    /// Largest repository archive, uncompressed, in bytes.
    #[arg(long, env = "NAUTES_LINT_ARCHIVE_MAX_BYTES", default_value_t = 512 * 1024 * 1024)]
    pub archive_max_bytes: u64,
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
        Command::Serve(args) => serve(&args),
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
        Some(path) => Config::load(path)?
            .ok_or_else(|| Failure(format!("{}: no such file", path.display())))?,
        None => Config::load(&root.join(config::FILE_NAME))?.unwrap_or_default(),
    };
    let version = match &args.nautes_version {
        Some(v) => Some(config::parse_version(v).ok_or_else(|| {
            Failure(format!(
                "--nautes-version `{v}` is not a version like 0.4.2"
            ))
        })?),
        None => cfg.nautes_version,
    };
    let clusters_path = args.clusters.clone().or(cfg.clusters.clone());
    let inventory = match &clusters_path {
        Some(p) => crate::clusters::load(p)
            .map_err(|e| Failure(format!("cannot load the cluster inventory: {e}")))?,
        None => crate::clusters::Inventory::default(),
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
        clusters: clusters_path.map(|_| inventory.clusters.clone()),
    };
    Ok((settings, inventory))
}

fn check(args: &CheckArgs) -> Result<ExitCode, Failure> {
    let root = &args.dir;
    let tree =
        crate::tree::FsTree::open(root).map_err(|e| Failure(format!("{}: {e}", root.display())))?;
    let (settings, inventory) = settings(args, root)?;
    let mut report = crate::validate(&tree, None, &settings);
    report.sources.extend(inventory.sources);
    emit(args, &report)?;
    Ok(exit_code(&report))
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
            ..RetryPolicy::default()
        },
        shutdown_grace: std::time::Duration::from_secs_f64(args.shutdown_grace),
        request_timeout: std::time::Duration::from_secs(10),
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
        LogFormat::Text => builder.init(),
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
