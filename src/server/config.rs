//! The service's settings: flags and environment (through clap), secrets from the environment or
//! a file only, so they never show up in `ps`, shell history or a Kubernetes manifest.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A secret value. `Debug` and `Display` never print it, so a stray `{:?}` in a log line cannot
/// leak a token.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }
    /// The value itself: call sites that need it are few and easy to audit.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Everything `serve` needs. Built by the CLI from flags and environment, or directly by tests.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    /// The instance's base URL (`https://gitlab.example.com`); `/api/v4` is added.
    pub gitlab_url: String,
    pub gitlab_token: Secret,
    pub webhook_secret: Secret,
    /// The HMAC signing token (`whsec_...`); when set, `webhook-signature` is required.
    pub signing_token: Option<Secret>,
    /// The queue: an SQLite file or a PostgreSQL URL.
    pub database: super::queue::Database,
    /// The queue's durability; see [`Synchronous`](super::queue::Synchronous).
    pub synchronous: super::queue::Synchronous,
    pub clusters: Option<PathBuf>,
    /// Jobs validated at the same time. 0 accepts and stores events without processing them.
    pub workers: usize,
    pub max_body_bytes: usize,
    pub limits: ArchiveLimits,
    pub retry: RetryPolicy,
    /// How long in-flight jobs may run after SIGTERM before they are put back in the queue.
    pub shutdown_grace: Duration,
    /// Deadline for answering one webhook request.
    pub request_timeout: Duration,
    /// How long a taken job stays this process's without a renewal; renewed every third of it
    /// while the job runs. A job of a process that died is taken again after this long.
    pub job_lease: Duration,
    /// How long a client may take to send a request's headers before it is disconnected.
    pub header_timeout: Duration,
    /// Connections open at once; more are answered 503 and closed.
    pub max_connections: usize,
    pub yaml: YamlLimits,
    /// Review threads on merge requests.
    pub threads: ThreadSettings,
    /// The sweep that finds commits whose delivery was missed.
    pub catch_up: CatchUp,
    /// The tenant context: clusters from the tenant repository, the namespace index, and the
    /// token of `GET /api/v1/context`.
    pub tenant: TenantSettings,
}

/// Where the tenant context comes from ([`super::tenant`]).
#[derive(Debug, Clone)]
pub struct TenantSettings {
    /// The tenant configuration repository: its id or its path with namespace. None: no tenant
    /// context (the cluster rules use `clusters`, the cross-product rule does not run).
    pub project: Option<String>,
    /// The folder of its Cluster files.
    pub clusters_path: String,
    /// The branch read; None: the project's default branch.
    pub ref_name: Option<String>,
    /// List the `default.project` projects of this group (id or path) and its subgroups only;
    /// None: every project the token can read.
    pub group: Option<String>,
    /// Archive downloads a minute the crawl may make (gitlab.com allows 5); 0: no limit.
    pub archives_per_minute: u32,
    /// The bearer token `GET /api/v1/context` requires; None: the endpoint answers 404.
    pub context_token: Option<Secret>,
}

/// Nautes' `NautesClusterDir`.
pub const TENANT_CLUSTERS_PATH: &str = "nautes/overlays/production/clusters";

impl Default for TenantSettings {
    fn default() -> Self {
        TenantSettings {
            project: None,
            clusters_path: TENANT_CLUSTERS_PATH.to_owned(),
            ref_name: None,
            group: None,
            archives_per_minute: 0,
            context_token: None,
        }
    }
}

/// Review threads on merge requests: `--mr-threads` (a repository's `mrThreads:` wins) and
/// `--mr-threads-max`.
#[derive(Debug, Clone, Copy)]
pub struct ThreadSettings {
    pub mode: crate::config::ThreadMode,
    /// New threads one push may open; the rest are counted in the summary note.
    pub max_new: usize,
}

impl Default for ThreadSettings {
    fn default() -> Self {
        ThreadSettings {
            mode: crate::config::ThreadMode::Added,
            max_new: 20,
        }
    }
}

/// The catch-up sweep: at start-up and then every `interval`, the open merge requests and the
/// default-branch heads of the served projects are listed, and every head commit without a
/// `nautes-lint` status is queued (see [`super::reconcile`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatchUp {
    /// None: no sweep at all (`--reconcile-interval 0`).
    pub interval: Option<Duration>,
    /// Projects always swept, by id or full path (`group/sub/project`), besides those in the
    /// queue's history.
    pub projects: Vec<String>,
    /// Groups whose projects (subgroups included, archived ones not) are swept.
    pub groups: Vec<String>,
}

impl Default for CatchUp {
    fn default() -> Self {
        CatchUp {
            interval: Some(Duration::from_secs(600)),
            projects: Vec::new(),
            groups: Vec::new(),
        }
    }
}

/// Bounds on the YAML held in memory while jobs run: the resource files of a job's head and
/// base trees, uncompressed. Parsing and checking them takes about as much again (see
/// `docs/service.md`), so these bound the service's memory.
#[derive(Debug, Clone, Copy)]
pub struct YamlLimits {
    /// One job's trees; a job over it fails with the reason.
    pub per_job: u64,
    /// All running jobs together; a job waits until its share is free.
    pub total: u64,
}

impl Default for YamlLimits {
    fn default() -> Self {
        YamlLimits {
            per_job: 64 * 1024 * 1024,
            total: 128 * 1024 * 1024,
        }
    }
}

impl YamlLimits {
    /// A share larger than the whole would make every job wait forever.
    pub fn check(self) -> Result<YamlLimits, String> {
        if self.per_job == 0 {
            return Err("--max-job-yaml-bytes must be more than 0".into());
        }
        if self.per_job > self.total {
            return Err(format!(
                "--max-job-yaml-bytes ({}) is more than --max-yaml-bytes ({}): no job could run",
                self.per_job, self.total
            ));
        }
        Ok(self)
    }
}

/// The default [`ServeConfig::job_lease`].
pub const JOB_LEASE: Duration = Duration::from_secs(30);

/// Bounds on a downloaded repository archive, so a huge or hostile repository costs a finding
/// or a failed job, never unbounded memory.
#[derive(Debug, Clone, Copy)]
pub struct ArchiveLimits {
    /// The `.tar.gz` as downloaded.
    pub max_compressed_bytes: u64,
    /// Everything the gzip stream expands to (the tar stream, all entries).
    pub max_uncompressed_bytes: u64,
    pub max_entries: u64,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        ArchiveLimits {
            max_compressed_bytes: 64 * 1024 * 1024,
            max_uncompressed_bytes: 512 * 1024 * 1024,
            max_entries: 200_000,
        }
    }
}

/// Backoff for GitLab calls: each call is retried in place a few times, then the whole job goes
/// back to the queue with a growing delay, up to `max_job_attempts`.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub base: Duration,
    pub max_delay: Duration,
    /// Tries of one HTTP call before the job is re-queued.
    pub call_attempts: u32,
    /// Runs of one job before it is marked failed for good.
    pub max_job_attempts: u32,
    /// A call that gets no byte for this long (no answer, or an archive body that stops) is
    /// given up without the in-place retries: its job goes back to the queue with the backoff
    /// delay, and the worker takes other jobs meanwhile.
    pub stall: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_millis(500),
            max_delay: Duration::from_secs(300),
            call_attempts: 4,
            max_job_attempts: 10,
            stall: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// `base * 2^n`, capped. Exponential so a GitLab outage is not hammered.
    pub fn backoff(&self, n: u32) -> Duration {
        let factor = 1u32.checked_shl(n.min(20)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max_delay)
    }
}

pub const TOKEN_VAR: &str = "NAUTES_LINT_GITLAB_TOKEN";
pub const WEBHOOK_SECRET_VAR: &str = "NAUTES_LINT_WEBHOOK_SECRET";
pub const SIGNING_TOKEN_VAR: &str = "NAUTES_LINT_WEBHOOK_SIGNING_TOKEN";
pub const CONTEXT_TOKEN_VAR: &str = "NAUTES_LINT_CONTEXT_TOKEN";

/// Reads a secret from `VAR`, or from the file named by `VAR_FILE` (a mounted Kubernetes
/// Secret). Both set is an error: which one wins would be a guess.
pub fn secret_from_env(
    var: &str,
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Secret>, String> {
    let file_var = format!("{var}_FILE");
    let direct = get(var).filter(|v| !v.is_empty());
    let file = get(&file_var).filter(|v| !v.is_empty());
    match (direct, file) {
        (Some(_), Some(_)) => Err(format!("both {var} and {file_var} are set; set only one")),
        (Some(v), None) => Ok(Some(Secret(v))),
        (None, Some(path)) => {
            let text = std::fs::read_to_string(Path::new(&path))
                .map_err(|e| format!("{file_var}: cannot read `{path}`: {e}"))?;
            // Files written by `echo` or editors end with a newline that is not part of the token.
            let value = text.trim_end_matches(['\r', '\n']).to_owned();
            if value.is_empty() {
                return Err(format!("{file_var}: `{path}` is empty"));
            }
            Ok(Some(Secret(value)))
        }
        (None, None) => Ok(None),
    }
}

/// Like [`secret_from_env`], but a missing value stops the service with a message that says how
/// to provide it.
pub fn required_secret(
    var: &str,
    what: &str,
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<Secret, String> {
    secret_from_env(var, get)?.ok_or_else(|| {
        format!(
            "{what} is missing: set {var} (or {var}_FILE to a file holding it); \
             it is never read from a flag so it stays out of process listings"
        )
    })
}

/// Checks the GitLab base URL: absolute http(s), no `/api/v4` (the service adds it).
pub fn check_gitlab_url(url: &str) -> Result<String, String> {
    let trimmed = url.trim().trim_end_matches('/');
    if !(trimmed.starts_with("http://") || trimmed.starts_with("https://")) {
        return Err(format!(
            "--gitlab-url `{url}` is not an http(s) URL like https://gitlab.example.com"
        ));
    }
    if trimmed.ends_with("/api/v4") {
        return Err(format!(
            "--gitlab-url `{url}` ends with /api/v4; give the instance's base URL, the service adds /api/v4"
        ));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn secret_debug_is_redacted() {
        let s = Secret::new("glpat-very-secret");
        assert!(!format!("{s:?}").contains("very-secret"));
    }

    #[test]
    fn secret_from_file_trims_newline() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("token");
        std::fs::write(&p, "abc\n").unwrap();
        let get = env(&[("X_FILE", p.to_str().unwrap())]);
        assert_eq!(secret_from_env("X", &get).unwrap().unwrap().expose(), "abc");
    }

    #[test]
    fn both_sources_is_an_error() {
        let get = env(&[("X", "a"), ("X_FILE", "/nonexistent")]);
        assert!(secret_from_env("X", &get).unwrap_err().contains("only one"));
    }

    #[test]
    fn missing_secret_says_how_to_set_it() {
        let get = env(&[]);
        let e = required_secret(WEBHOOK_SECRET_VAR, "the webhook secret", &get).unwrap_err();
        assert!(e.contains("NAUTES_LINT_WEBHOOK_SECRET_FILE"), "{e}");
    }

    #[test]
    fn gitlab_url_checks() {
        assert_eq!(
            check_gitlab_url("https://gitlab.example.com/").unwrap(),
            "https://gitlab.example.com"
        );
        assert!(check_gitlab_url("gitlab.example.com").is_err());
        assert!(check_gitlab_url("https://g.example.com/api/v4").is_err());
    }

    #[test]
    fn a_job_share_over_the_whole_budget_is_refused() {
        assert!(YamlLimits::default().check().is_ok());
        let e = YamlLimits {
            per_job: 10,
            total: 5,
        }
        .check()
        .unwrap_err();
        assert!(e.contains("--max-yaml-bytes"), "{e}");
    }

    #[test]
    fn backoff_grows_and_caps() {
        let p = RetryPolicy {
            base: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            ..RetryPolicy::default()
        };
        assert_eq!(p.backoff(0), Duration::from_millis(100));
        assert_eq!(p.backoff(3), Duration::from_millis(800));
        assert_eq!(p.backoff(40), Duration::from_secs(1));
    }
}
