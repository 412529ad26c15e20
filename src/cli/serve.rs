//! `nautes-lint serve`: its flags and the start-up of the service.

use super::*;

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
    /// The queue: an SQLite file, or a postgres:// URL for a database several replicas share.
    #[arg(
        long,
        env = "NAUTES_LINT_DATABASE",
        default_value = "./nautes-lint.db",
        value_name = "PATH|URL"
    )]
    pub database: String,
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
        database: crate::server::queue::Database::parse(&args.database).map_err(Failure)?,
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

pub(crate) fn serve(args: &ServeArgs) -> Result<ExitCode, Failure> {
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
