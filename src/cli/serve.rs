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
                  NAUTES_LINT_WEBHOOK_SIGNING_TOKEN   optional signing token (whsec_...): require webhook-signature\n  \
                  NAUTES_LINT_CONTEXT_TOKEN           optional bearer token that GET /api/v1/context requires"
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
    /// Review threads on a merge request's new findings: on the lines it adds (`added`), also
    /// on the unchanged lines around them (`diff_context`), anywhere in the files it changes
    /// (`file`), or none (`off`). A repository's `mrThreads:` in `.nautes-lint.yaml` wins.
    #[arg(
        long,
        env = "NAUTES_LINT_MR_THREADS",
        value_enum,
        default_value = "added"
    )]
    pub mr_threads: crate::config::ThreadMode,
    /// New review threads one push may open; the other findings are counted in the summary note.
    #[arg(long, env = "NAUTES_LINT_MR_THREADS_MAX", default_value_t = 20)]
    pub mr_threads_max: usize,
    /// Seconds between catch-up sweeps (one also runs at start-up): the open merge requests
    /// and default-branch heads of the served projects are listed, and each head commit without
    /// a `nautes-lint` status (a delivery the service missed) is queued. 0 turns it off.
    #[arg(long, env = "NAUTES_LINT_RECONCILE_INTERVAL", default_value_t = 600.0)]
    pub reconcile_interval: f64,
    /// A project the catch-up sweeps besides those in the queue's history: its id or full path
    /// (group/sub/project). Repeat the flag or separate with commas.
    #[arg(
        long = "project",
        env = "NAUTES_LINT_PROJECTS",
        value_delimiter = ',',
        value_name = "ID|PATH"
    )]
    pub projects: Vec<String>,
    /// A group whose projects (subgroups included, archived ones not) the catch-up sweeps: its
    /// id or full path. Repeat the flag or separate with commas.
    #[arg(
        long = "group",
        env = "NAUTES_LINT_GROUPS",
        value_delimiter = ',',
        value_name = "ID|PATH"
    )]
    pub groups: Vec<String>,
    /// The tenant configuration repository (its id or path with namespace): the service reads
    /// its Cluster files at startup and on every push, and indexes every product's namespaces.
    #[arg(long, env = "NAUTES_LINT_TENANT_PROJECT", value_name = "PROJECT")]
    pub tenant_project: Option<String>,
    /// The folder of the Cluster files in the tenant repository.
    #[arg(
        long,
        env = "NAUTES_LINT_TENANT_CLUSTERS_PATH",
        value_name = "FOLDER",
        default_value = crate::server::config::TENANT_CLUSTERS_PATH
    )]
    pub tenant_clusters_path: String,
    /// The tenant repository's branch to read (default: its default branch).
    #[arg(long, env = "NAUTES_LINT_TENANT_REF", value_name = "BRANCH")]
    pub tenant_ref: Option<String>,
    /// List the `default.project` projects of this group (id or path, subgroups included)
    /// instead of every project the token can read.
    #[arg(long, env = "NAUTES_LINT_TENANT_GROUP", value_name = "GROUP")]
    pub tenant_group: Option<String>,
    /// Archive downloads a minute the namespace crawl may make (gitlab.com allows 5); 0: no
    /// limit.
    #[arg(long, env = "NAUTES_LINT_TENANT_ARCHIVE_RATE", default_value_t = 0)]
    pub tenant_archive_rate: u32,
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
    let catch_up = catch_up(args).map_err(Failure)?;
    let context_token = sc::secret_from_env(sc::CONTEXT_TOKEN_VAR, env).map_err(Failure)?;
    let tenant_project = args
        .tenant_project
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty());
    if tenant_project.is_some() && args.clusters.is_some() {
        return Err(Failure(
            "--clusters and --tenant-project both give the cluster inventory; set only one \
             (--tenant-project keeps it current from the tenant repository)"
                .into(),
        ));
    }
    let clusters_path = args.tenant_clusters_path.trim().trim_matches('/');
    if clusters_path.is_empty() || clusters_path.split('/').any(|c| c == ".." || c == ".") {
        return Err(Failure(format!(
            "--tenant-clusters-path `{}` is not a folder of the repository",
            args.tenant_clusters_path
        )));
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
        threads: sc::ThreadSettings {
            mode: args.mr_threads,
            max_new: args.mr_threads_max,
        },
        catch_up,
        tenant: sc::TenantSettings {
            project: tenant_project.map(str::to_owned),
            clusters_path: clusters_path.to_owned(),
            ref_name: args.tenant_ref.clone().filter(|r| !r.trim().is_empty()),
            group: args.tenant_group.clone().filter(|g| !g.trim().is_empty()),
            archives_per_minute: args.tenant_archive_rate,
            context_token,
        },
    })
}

/// The catch-up settings: the interval in seconds like the other durations, `0` for off.
fn catch_up(args: &ServeArgs) -> Result<crate::server::config::CatchUp, String> {
    let secs = args.reconcile_interval;
    if !(secs.is_finite() && (secs == 0.0 || secs >= 1.0)) {
        return Err(
            "--reconcile-interval must be a number of seconds: 1 or more, or 0 to turn the catch-up off"
                .into(),
        );
    }
    let names = |flag: &str, values: &[String]| -> Result<Vec<String>, String> {
        values
            .iter()
            .map(|v| {
                let v = v.trim().trim_matches('/');
                if v.is_empty() {
                    Err(format!(
                        "{flag} takes an id or a full path, not an empty value"
                    ))
                } else {
                    Ok(v.to_owned())
                }
            })
            .collect()
    };
    Ok(crate::server::config::CatchUp {
        interval: (secs > 0.0).then(|| std::time::Duration::from_secs_f64(secs)),
        projects: names("--project", &args.projects)?,
        groups: names("--group", &args.groups)?,
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
