//! The tenant context the service keeps: the Cluster files of the tenant repository and every
//! product's namespace claims, read from GitLab in the background and kept in the database
//! ([`super::tenant_store`]).
//!
//! At startup the stored context is loaded first, so a restart while GitLab is unreachable keeps
//! checking with the last one. Then a crawl reads the tenant repository's clusters folder (one
//! `path=` archive, only when its head moved) and lists the `default.project` projects the token
//! can read, downloading one archive per product whose default-branch head differs from the
//! stored commit. Webhooks are served meanwhile; a push to the tenant repository or to a
//! product's default branch asks for a refresh of just that one.
//!
//! Jobs read an immutable [`Snapshot`]; a refresh builds a new one and swaps it in, so a
//! validation never sees half an update.

use super::archive::{self, Allowance};
use super::config::{ArchiveLimits, RetryPolicy, TenantSettings};
use super::gitlab::{CallError, GitLab, Listing, ProjectInfo};
use super::metrics::Metrics;
use super::tenant_store::{StoredInventory, StoredProduct, TenantStore};
use crate::context::{ClusterFile, Context, NamespaceIndex, ProductClaims, TenantInfo};
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{Notify, watch};

/// The project name every product's repository has.
pub const PRODUCT_REPOSITORY: &str = "default.project";

/// Pages of 100 projects listed at most (100,000 projects): a bound, not a limit anyone meets.
const MAX_PAGES: u32 = 1000;

/// The tenant's cluster inventory as read at one commit.
#[derive(Debug)]
pub struct Inventory {
    pub project_id: i64,
    /// The tenant repository, path with namespace.
    pub project: String,
    pub commit: String,
    pub updated_at: i64,
    pub files: Vec<ClusterFile>,
    pub clusters: Arc<crate::engine::Clusters>,
}

/// One product's claims, as read at its default branch's head.
#[derive(Debug)]
pub struct Product {
    pub project_id: i64,
    pub updated_at: i64,
    pub claims: ProductClaims,
}

/// What jobs and `GET /api/v1/context` read: one consistent state of the context.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub inventory: Option<Arc<Inventory>>,
    /// By project id.
    pub products: BTreeMap<i64, Arc<Product>>,
    /// Every product's claims, by cluster and namespace.
    pub index: Arc<NamespaceIndex>,
    /// Unix seconds of the last change.
    pub updated_at: i64,
}

impl Snapshot {
    /// The context document (`GET /api/v1/context`, `check --context`).
    pub fn context(&self) -> Context {
        let mut c = Context::new();
        c.tenant = self.tenant_info();
        c.clusters = self
            .inventory
            .as_ref()
            .map(|i| i.files.clone())
            .unwrap_or_default();
        c.products = self.products.values().map(|p| p.claims.clone()).collect();
        c
    }

    fn tenant_info(&self) -> Option<TenantInfo> {
        self.inventory.as_ref().map(|i| TenantInfo {
            project: i.project.clone(),
            commit: i.commit.clone(),
            updated_at: rfc3339(self.updated_at.max(i.updated_at)),
        })
    }

    /// [`Snapshot::context`] as JSON, in pieces written from the snapshot as they are sent: its
    /// head, one product at a time, its end. A tenant of 100,000 claims is 13 MB of JSON; built
    /// whole (or copied first) it would cost that much again, per request.
    pub fn context_json(self: &Arc<Self>) -> ContextJson {
        ContextJson {
            snapshot: self.clone(),
            products: self.products.keys().copied().collect(),
            next: 0,
        }
    }
}

/// The pieces of the context document; see [`Snapshot::context_json`].
pub struct ContextJson {
    snapshot: Arc<Snapshot>,
    products: Vec<i64>,
    /// 0: the head; 1..=n: product n-1; n+1: the end.
    next: usize,
}

impl Iterator for ContextJson {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        let n = self.next;
        self.next += 1;
        let s = &self.snapshot;
        if n == 0 {
            // The fields of `Context`, in its order (a test reads the result back with
            // `Context::from_json`).
            let clusters = s.inventory.as_ref().map_or(&[][..], |i| &i.files[..]);
            return Some(format!(
                "{{\"version\":{},\"tenant\":{},\"clusters\":{},\"products\":[",
                crate::context::VERSION,
                json(&s.tenant_info()),
                json(&clusters)
            ));
        }
        if let Some(id) = self.products.get(n - 1) {
            let claims = s.products.get(id).map(|p| json(&p.claims));
            let comma = if n > 1 { "," } else { "" };
            // A product the snapshot has by construction; `null` never comes out.
            return Some(format!("{comma}{}", claims.unwrap_or_default()));
        }
        (n == self.products.len() + 1).then(|| "]}".to_owned())
    }
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("plain strings and numbers always serialize")
}

/// The rule that reads the other products' claims.
pub const CROSS_PRODUCT_RULE: &str = "dr-namespace-used-by-other-product";

/// Whether `rule` reads the tenant context: the cluster rules and the cross-product rule.
fn uses_tenant(rule: &crate::rules::RuleMeta) -> bool {
    use crate::rules::Needs;
    matches!(rule.needs, Needs::Clusters | Needs::Context)
}

impl Snapshot {
    /// The other products' claims the cross-product rule runs with.
    pub fn namespaces(&self) -> Arc<NamespaceIndex> {
        self.index.clone()
    }

    /// The cluster inventory the cluster rules run with.
    pub fn clusters(&self) -> Option<Arc<crate::engine::Clusters>> {
        self.inventory.as_ref().map(|i| i.clusters.clone())
    }

    /// The tenant commit, when a finding of `report` came from the tenant context.
    fn commit_behind(&self, report: &crate::engine::Report) -> Option<&str> {
        let inv = self.inventory.as_ref()?;
        report
            .diagnostics
            .iter()
            .any(|d| uses_tenant(d.rule))
            .then_some(inv.commit.as_str())
    }

    /// The merge-request note, with a line naming the tenant commit its cluster and namespace
    /// findings were checked against.
    /// The other products' runtimes behind its cross-product findings are listed too: the
    /// table shows only the message, and the runtime is what the author must go and see.
    pub fn annotate_note(&self, report: &crate::engine::Report, mut note: String) -> String {
        let Some(commit) = self.commit_behind(report) else {
            return note;
        };
        let mut text = String::new();
        let others: Vec<_> = report
            .diagnostics
            .iter()
            .filter(|d| d.rule.id == CROSS_PRODUCT_RULE && d.new != Some(false))
            .flat_map(|d| d.related.iter().map(move |r| (d, r)))
            .filter_map(|(d, r)| match &r.origin {
                crate::diagnostic::Origin::Repository(repo) => Some((d, r, repo)),
                _ => None,
            })
            .collect();
        if !others.is_empty() {
            text.push_str("\nUsed by other products:\n");
            for (d, r, repo) in others.iter().take(NOTE_MAX_OTHERS) {
                let (line, _, _, _) = d.line_col();
                text.push_str(&format!(
                    "- `{}:{line}`: {} (`{repo}`, `{}:{}`)\n",
                    d.path,
                    one_line(&r.message),
                    r.path,
                    r.span.start.line
                ));
            }
            if others.len() > NOTE_MAX_OTHERS {
                text.push_str(&format!("- …and {} more\n", others.len() - NOTE_MAX_OTHERS));
            }
        }
        text.push_str(&format!(
            "\nClusters and other products' namespaces from tenant commit `{}`.\n",
            short(commit)
        ));
        let at = note.rfind("\n<sub>").unwrap_or(note.len());
        note.insert_str(at, &text);
        note
    }

    /// The commit status description, naming the tenant commit likewise (255 characters).
    pub fn annotate_description(&self, report: &crate::engine::Report, d: String) -> String {
        match self.commit_behind(report) {
            Some(commit) => {
                super::gitlab::truncate_chars(&format!("{d}; tenant commit {}", short(commit)), 255)
            }
            None => d,
        }
    }
}

/// Other products' runtimes listed in a note at most.
const NOTE_MAX_OTHERS: usize = 20;

fn one_line(s: &str) -> String {
    super::gitlab::truncate_chars(&s.replace(['\n', '\r'], " "), 300)
}

fn short(sha: &str) -> &str {
    sha.get(..8).unwrap_or(sha)
}

/// What the webhook does with a delivery, as far as the tenant context is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The tenant repository was pushed to: its clusters are read again; no job.
    Refresh,
    /// A merge request of the tenant repository: nothing to validate.
    Ignore,
    /// Handled as usual (a product's push also refreshes its claims).
    Job,
}

/// When a product's new claims reach the namespace index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Index {
    Rebuild,
    /// The caller rebuilds it once for a batch ([`Tenant::rebuild_index`]).
    Later,
}

/// How often a crawl rebuilds the namespace index with the products it has read so far: each
/// rebuild costs the whole tenant's claims, so rebuilding per product would cost their square
/// over a first crawl, while a crawl held to gitlab.com's 5 archives a minute takes hours and
/// jobs should see the products read so far.
const INDEX_EVERY: Duration = Duration::from_secs(30);

/// A refresh that did not happen; why is logged where it failed.
struct Failed;

/// A refresh the webhook asks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Refresh {
    /// The tenant repository was pushed to (its head, when the push named the configured ref).
    Tenant(Option<String>),
    /// A product's default branch was pushed to this commit.
    Product(i64, String),
}

pub struct Tenant {
    settings: TenantSettings,
    gitlab: GitLab,
    store: Arc<dyn TenantStore>,
    metrics: Arc<Metrics>,
    limits: ArchiveLimits,
    /// The YAML one product's archive may hold (the per-job limit of the workers).
    per_product_bytes: u64,
    retry: RetryPolicy,
    state: RwLock<Arc<Snapshot>>,
    pending: std::sync::Mutex<Vec<Refresh>>,
    wake: Notify,
    /// The tenant project's id once known (from the store or GitLab).
    tenant_id: std::sync::Mutex<Option<i64>>,
    /// Spaces archive downloads of the crawl (`--tenant-archive-rate`).
    next_archive: tokio::sync::Mutex<Instant>,
    /// (project, commit) whose files do not load: not downloaded again until the head moves
    /// (a retried crawl would otherwise fetch the same broken archive at every attempt).
    broken: std::sync::Mutex<HashSet<(i64, String)>>,
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `2026-11-30T21:05:09Z`: the time format of the context document.
pub fn rfc3339(secs: i64) -> String {
    // Days since the epoch to a civil date (Howard Hinnant's algorithm), so no date crate is
    // needed for one format.
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The product id Nautes gives a product group.
pub fn product_id(namespace_id: i64) -> String {
    format!("product-{namespace_id}")
}

/// Starts the tenant context when `--tenant-project` is set: loads what the database holds,
/// then crawls GitLab in the background until `stop`.
pub async fn start(
    config: &super::config::ServeConfig,
    gitlab: &GitLab,
    metrics: &Arc<Metrics>,
    stop: watch::Receiver<bool>,
) -> Result<Option<Arc<Tenant>>, String> {
    if config.tenant.project.is_none() {
        return Ok(None);
    }
    let store: Arc<dyn super::tenant_store::TenantStore> = match &config.database {
        super::queue::Database::Sqlite(path) => Arc::new(
            super::tenant_store::SqliteTenantStore::open(path)
                .map_err(|e| format!("cannot open the tenant context's tables: {e}"))?,
        ),
        super::queue::Database::Postgres(url) => Arc::new(
            super::tenant_store::PgTenantStore::open(url)
                .await
                .map_err(|e| format!("cannot open the tenant context's tables: {e}"))?,
        ),
    };
    let tenant = Arc::new(Tenant::new(
        config.tenant.clone(),
        gitlab.clone(),
        store,
        metrics.clone(),
        config.limits,
        config.yaml.per_job,
        config.retry,
    ));
    tenant
        .load_stored()
        .await
        .map_err(|e| format!("cannot read the stored tenant context: {e}"))?;
    tokio::spawn(tenant.clone().run(stop));
    Ok(Some(tenant))
}

impl Tenant {
    pub fn new(
        settings: TenantSettings,
        gitlab: GitLab,
        store: Arc<dyn TenantStore>,
        metrics: Arc<Metrics>,
        limits: ArchiveLimits,
        per_product_bytes: u64,
        retry: RetryPolicy,
    ) -> Tenant {
        let tenant_id = settings.project.as_deref().and_then(|p| p.parse().ok());
        Tenant {
            settings,
            gitlab,
            store,
            metrics,
            limits,
            per_product_bytes,
            retry,
            state: RwLock::default(),
            pending: Default::default(),
            wake: Notify::new(),
            tenant_id: std::sync::Mutex::new(tenant_id),
            next_archive: tokio::sync::Mutex::new(Instant::now()),
            broken: Default::default(),
        }
    }

    /// Whether the context is gathered at all (`--tenant-project`).
    pub fn enabled(&self) -> bool {
        self.settings.project.is_some()
    }

    /// The snapshot a job validates with; an error (the job waits and retries) until the
    /// tenant's cluster inventory has been read once.
    pub fn for_job(&self) -> Result<Arc<Snapshot>, String> {
        let s = self.snapshot();
        if s.inventory.is_none() {
            return Err(
                "the tenant's cluster inventory is not read yet (GitLab unreachable or the \
                 clusters folder broken since the service started)"
                    .into(),
            );
        }
        Ok(s)
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.state.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Builds the next snapshot from the current one outside the lock (an index of 100,000
    /// claims takes tens of milliseconds, which jobs taking a snapshot must not wait for), then
    /// swaps it in. Only the crawl task (and `load_stored` before it starts) calls this, so no
    /// update is lost between the read and the swap.
    fn update(&self, f: impl FnOnce(&Snapshot) -> Snapshot) {
        let next = Arc::new(f(&self.snapshot()));
        *self.state.write().unwrap_or_else(|p| p.into_inner()) = next;
    }

    /// Loads what the database holds. A stored inventory that no longer parses (written by
    /// another version) is dropped with a warning; the crawl reads it again.
    pub async fn load_stored(&self) -> Result<(), String> {
        let store = self.store.clone();
        let stored = tokio::task::spawn_blocking(move || store.load())
            .await
            .map_err(|e| e.to_string())??;
        let inventory = match stored.inventory {
            None => None,
            Some(s) => match inventory_of(
                s.project_id,
                s.project_path,
                s.commit.clone(),
                s.updated_at,
                s.files,
            ) {
                Ok(i) => Some(Arc::new(i)),
                Err(e) => {
                    tracing::warn!(error = %e, commit = %s.commit, "the stored cluster inventory does not parse; reading it again");
                    None
                }
            },
        };
        let mut products = BTreeMap::new();
        for p in stored.products {
            match serde_json::from_str(&p.claims_json) {
                Ok(claims) => {
                    products.insert(
                        p.project_id,
                        Arc::new(Product {
                            project_id: p.project_id,
                            updated_at: p.updated_at,
                            claims: ProductClaims {
                                product: p.product,
                                project: p.path_with_namespace,
                                commit: p.commit,
                                claims,
                            },
                        }),
                    );
                }
                Err(e) => {
                    tracing::warn!(project = p.project_id, error = %e, "stored claims do not parse; reading them again")
                }
            }
        }
        if let Some(i) = &inventory {
            *self.tenant_id.lock().unwrap_or_else(|p| p.into_inner()) = Some(i.project_id);
        }
        tracing::info!(
            clusters = inventory.as_ref().map_or(0, |i| i.clusters.len()),
            tenant_commit = inventory.as_ref().map_or("", |i| i.commit.as_str()),
            products = products.len(),
            "tenant context loaded from the database"
        );
        let updated_at = inventory
            .iter()
            .map(|i| i.updated_at)
            .chain(products.values().map(|p| p.updated_at))
            .max()
            .unwrap_or(0);
        let index = Arc::new(index_of(&products));
        self.update(|_| Snapshot {
            inventory,
            products,
            index,
            updated_at,
        });
        Ok(())
    }

    /// Looks at a delivery (already authenticated). A push to the tenant repository asks for a
    /// refresh of the clusters and is no job; its merge requests are no job either (it is not a
    /// `default.project`). A push to a product's default branch asks for a refresh of that
    /// product's claims and is still validated.
    pub fn on_delivery(&self, event: Option<&str>, body: &[u8]) -> Delivery {
        #[derive(serde::Deserialize)]
        struct Project {
            id: i64,
            #[serde(default)]
            path_with_namespace: String,
            #[serde(default)]
            default_branch: Option<String>,
        }
        #[derive(serde::Deserialize)]
        struct Event {
            #[serde(rename = "ref", default)]
            ref_name: String,
            after: Option<String>,
            project: Project,
        }
        let Ok(e) = serde_json::from_slice::<Event>(body) else {
            // Malformed: the usual parsing answers it.
            return Delivery::Job;
        };
        let tenant = self.is_tenant_project(e.project.id, &e.project.path_with_namespace);
        match event {
            Some("Push Hook") => {}
            Some("Merge Request Hook") if tenant => return Delivery::Ignore,
            _ => return Delivery::Job,
        }
        // A full commit id, not a deletion: anything else is looked up through the API.
        let after = e.after.filter(|a| {
            matches!(a.len(), 40 | 64)
                && a.bytes().all(|b| b.is_ascii_hexdigit())
                && a.bytes().any(|b| b != b'0')
        });
        let branch = e.ref_name.strip_prefix("refs/heads/");
        if tenant {
            let wanted = self
                .settings
                .ref_name
                .as_deref()
                .or(e.project.default_branch.as_deref());
            let head = after.filter(|_| branch.is_some() && branch == wanted);
            self.ask(Refresh::Tenant(head));
            return Delivery::Refresh;
        }
        let is_product = e
            .project
            .path_with_namespace
            .rsplit('/')
            .next()
            .is_some_and(|name| name == PRODUCT_REPOSITORY);
        if is_product
            && branch.is_some()
            && branch == e.project.default_branch.as_deref()
            && let Some(after) = after
        {
            self.ask(Refresh::Product(e.project.id, after));
        }
        Delivery::Job
    }

    /// Whether project `id` is the tenant repository (once its id is known: configured as an
    /// id, stored, or read from GitLab at startup).
    pub fn is_tenant_id(&self, id: i64) -> bool {
        *self.tenant_id.lock().unwrap_or_else(|p| p.into_inner()) == Some(id)
    }

    fn is_tenant_project(&self, id: i64, path: &str) -> bool {
        if self.is_tenant_id(id) {
            return true;
        }
        self.settings
            .project
            .as_deref()
            .is_some_and(|p| !path.is_empty() && p.eq_ignore_ascii_case(path))
    }

    fn known_broken(&self, project: i64, commit: &str) -> bool {
        self.broken
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&(project, commit.to_owned()))
    }

    fn mark_broken(&self, project: i64, commit: &str) {
        self.broken
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((project, commit.to_owned()));
    }

    fn ask(&self, r: Refresh) {
        let mut g = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if !g.contains(&r) {
            g.push(r);
        }
        drop(g);
        self.wake.notify_one();
    }

    /// The background task: the startup crawl, then the refreshes webhooks ask for. A crawl
    /// that could not finish (GitLab unreachable) is tried again after a growing delay.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut crawl_due = Some(Instant::now());
        let mut failures = 0u32;
        loop {
            if *stop.borrow() {
                return;
            }
            if crawl_due.is_some_and(|t| t <= Instant::now()) {
                let done = tokio::select! {
                    d = self.crawl() => d,
                    _ = stop.wait_for(|s| *s) => return,
                };
                if done {
                    failures = 0;
                    crawl_due = None;
                } else {
                    let delay = self.retry.backoff(failures).max(Duration::from_secs(1));
                    failures += 1;
                    tracing::warn!(
                        retry_in_s = delay.as_secs(),
                        "the tenant context crawl did not finish; trying again later"
                    );
                    crawl_due = Some(Instant::now() + delay);
                }
                continue;
            }
            let next = {
                let mut g = self.pending.lock().unwrap_or_else(|p| p.into_inner());
                (!g.is_empty()).then(|| g.remove(0))
            };
            if let Some(r) = next {
                let ok = tokio::select! {
                    ok = self.refresh(r.clone()) => ok,
                    _ = stop.wait_for(|s| *s) => return,
                };
                if !ok {
                    // The full crawl compares every head again, this one included.
                    crawl_due.get_or_insert(Instant::now() + self.retry.backoff(failures));
                }
                continue;
            }
            let wait = crawl_due
                .map(|t| t.saturating_duration_since(Instant::now()))
                .unwrap_or(Duration::from_secs(3600));
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => {}
            }
        }
    }

    async fn refresh(&self, r: Refresh) -> bool {
        match r {
            Refresh::Tenant(head) => self.refresh_clusters(head).await.is_ok(),
            Refresh::Product(id, head) => {
                let known = self.snapshot().products.get(&id).cloned();
                let info = match known {
                    Some(p) => Ok(ProjectInfo {
                        id,
                        path: PRODUCT_REPOSITORY.into(),
                        path_with_namespace: p.claims.project.clone(),
                        default_branch: None,
                        namespace: p
                            .claims
                            .product
                            .strip_prefix("product-")
                            .and_then(|n| n.parse().ok())
                            .map(|id| super::gitlab::Namespace { id }),
                    }),
                    None => self.gitlab.project(&id.to_string()).await,
                };
                match info {
                    Ok(info) => self
                        .refresh_product(&info, Some(head), Index::Rebuild)
                        .await
                        .is_ok(),
                    Err(e) => {
                        self.metrics.tenant("product", "error");
                        tracing::warn!(project = id, error = %e, "cannot read the product's project");
                        false
                    }
                }
            }
        }
    }

    /// The whole context: the clusters, then every product. True when everything was read.
    async fn crawl(&self) -> bool {
        let started = Instant::now();
        let clusters_ok = self.refresh_clusters(None).await.is_ok();
        let listing = match &self.settings.group {
            Some(g) => Listing::Group(g),
            None => Listing::All,
        };
        let mut projects = Vec::new();
        let mut page = 1;
        loop {
            match self
                .gitlab
                .projects_page(listing, PRODUCT_REPOSITORY, page)
                .await
            {
                Ok((list, more)) => {
                    // `search` matches substrings and descriptions: keep exact names only.
                    projects.extend(list.into_iter().filter(|p| p.path == PRODUCT_REPOSITORY));
                    if !more || page >= MAX_PAGES {
                        break;
                    }
                    page += 1;
                }
                Err(e) => {
                    self.metrics.tenant("listing", "error");
                    tracing::warn!(error = %e, "cannot list the default.project projects");
                    return false;
                }
            }
        }
        let mut all_ok = clusters_ok;
        let mut seen = HashSet::new();
        let mut unindexed = false;
        let mut indexed_at = Instant::now();
        for p in &projects {
            seen.insert(p.id);
            match self.refresh_product(p, None, Index::Later).await {
                Ok(changed) => unindexed |= changed,
                Err(Failed) => all_ok = false,
            }
            if unindexed && indexed_at.elapsed() >= INDEX_EVERY {
                self.rebuild_index();
                unindexed = false;
                indexed_at = Instant::now();
            }
        }
        if unindexed {
            self.rebuild_index();
        }
        let gone: Vec<i64> = self
            .snapshot()
            .products
            .keys()
            .copied()
            .filter(|id| !seen.contains(id))
            .collect();
        if !gone.is_empty() {
            let store = self.store.clone();
            let ids = gone.clone();
            match tokio::task::spawn_blocking(move || store.remove_products(&ids)).await {
                Ok(Ok(())) => {
                    tracing::info!(
                        products = gone.len(),
                        "products no longer listed; their claims are dropped"
                    );
                    self.update(|s| {
                        let mut products = s.products.clone();
                        for id in &gone {
                            products.remove(id);
                        }
                        Snapshot {
                            inventory: s.inventory.clone(),
                            index: Arc::new(index_of(&products)),
                            products,
                            updated_at: now_secs(),
                        }
                    });
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "cannot drop the claims of removed products")
                }
                Err(e) => tracing::warn!(error = %e, "cannot drop the claims of removed products"),
            }
        }
        tracing::info!(
            products = projects.len(),
            complete = all_ok,
            ms = started.elapsed().as_millis() as u64,
            "tenant context crawl done"
        );
        all_ok
    }

    fn rebuild_index(&self) {
        self.update(|s| Snapshot {
            inventory: s.inventory.clone(),
            index: Arc::new(index_of(&s.products)),
            products: s.products.clone(),
            updated_at: s.updated_at,
        });
    }

    /// Waits for the next archive download the rate allows.
    async fn archive_turn(&self) {
        let per_minute = self.settings.archives_per_minute;
        if per_minute == 0 {
            return;
        }
        let every = Duration::from_secs(60) / per_minute;
        let mut next = self.next_archive.lock().await;
        let now = Instant::now();
        if *next > now {
            tokio::time::sleep(*next - now).await;
        }
        *next = Instant::now().max(*next) + every;
    }

    /// Reads the tenant repository's Cluster files at `head` (or its branch's head), unless the
    /// stored inventory is of that commit.
    async fn refresh_clusters(&self, head: Option<String>) -> Result<(), Failed> {
        let Some(project) = self.settings.project.clone() else {
            return Ok(());
        };
        let fail = |e: &dyn std::fmt::Display| {
            self.metrics.tenant("clusters", "error");
            tracing::warn!(tenant = %project, error = %e, "cannot read the tenant repository; the last inventory stays");
            Failed
        };
        let info = match self.gitlab.project(&project).await {
            Ok(i) => i,
            Err(e) => return Err(fail(&e)),
        };
        *self.tenant_id.lock().unwrap_or_else(|p| p.into_inner()) = Some(info.id);
        let branch = match self.settings.ref_name.clone().or(info.default_branch) {
            Some(b) => b,
            None => return Err(fail(&"the repository is empty (no default branch)")),
        };
        let head = match head {
            Some(h) => h,
            None => match self.gitlab.branch_head(info.id, &branch).await {
                Ok(Some(h)) => h,
                Ok(None) => return Err(fail(&format!("no branch `{branch}`"))),
                Err(e) => return Err(fail(&e)),
            },
        };
        if self
            .snapshot()
            .inventory
            .as_ref()
            .is_some_and(|i| i.commit == head && i.project_id == info.id)
        {
            self.metrics.tenant("clusters", "unchanged");
            return Ok(());
        }
        if self.known_broken(info.id, &head) {
            return Ok(());
        }
        self.archive_turn().await;
        let folder = self.settings.clusters_path.clone();
        let bytes = match self
            .gitlab
            .archive_of(
                info.id,
                &head,
                Some(&folder),
                self.limits.max_compressed_bytes,
                None,
            )
            .await
        {
            Ok(b) => b,
            Err(e) => return Err(fail(&e)),
        };
        let limits = self.limits;
        let commit = head.clone();
        let now = now_secs();
        let path = info.path_with_namespace.clone();
        let read = tokio::task::spawn_blocking(move || {
            let files =
                archive::read_folder_tar_gz(&bytes, &limits, &folder).map_err(|e| e.to_string())?;
            let inv = inventory_of(info.id, path, commit, now, files.clone())?;
            Ok::<_, String>((inv, files))
        })
        .await;
        let (inventory, files) = match read {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => {
                // A broken Cluster file: the inventory of the last good commit stays in force.
                self.mark_broken(info.id, &head);
                self.metrics.tenant("clusters", "broken");
                tracing::error!(tenant_commit = %head, error = %e, "the tenant's Cluster files do not load; the last good inventory stays");
                return Err(Failed);
            }
            Err(e) => return Err(fail(&e)),
        };
        if inventory.clusters.is_empty() {
            // An empty folder (a wrong --tenant-clusters-path, a moved folder) would switch
            // every cluster rule to "not found": refused like a broken file.
            self.mark_broken(info.id, &head);
            self.metrics.tenant("clusters", "broken");
            tracing::error!(tenant_commit = %head, folder = %self.settings.clusters_path, "no Cluster file in the tenant repository's clusters folder; the last good inventory stays");
            return Err(Failed);
        }
        let stored = StoredInventory {
            project_id: info.id,
            project_path: inventory.project.clone(),
            commit: head.clone(),
            updated_at: now,
            files,
        };
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || store.save_inventory(&stored)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot store the cluster inventory; it is used, and read again after a restart")
            }
            Err(e) => tracing::warn!(error = %e, "cannot store the cluster inventory"),
        }
        tracing::info!(tenant_commit = %head, clusters = inventory.clusters.len(), "cluster inventory updated from the tenant repository");
        self.metrics.tenant("clusters", "updated");
        let inventory = Arc::new(inventory);
        self.update(|s| Snapshot {
            inventory: Some(inventory),
            products: s.products.clone(),
            index: s.index.clone(),
            updated_at: now,
        });
        Ok(())
    }

    /// Reads one product's claims at `head` (or its default branch's head), unless the stored
    /// ones are of that commit.
    /// True when the claims changed (and, with [`Index::Later`], the index does not have them
    /// yet).
    async fn refresh_product(
        &self,
        p: &ProjectInfo,
        head: Option<String>,
        index: Index,
    ) -> Result<bool, Failed> {
        let fail = |what: &'static str, e: &dyn std::fmt::Display| {
            self.metrics.tenant("product", what);
            tracing::warn!(project = p.id, path = %p.path_with_namespace, error = %e, "cannot read the product's claims; the stored ones stay");
            Failed
        };
        let Some(namespace) = &p.namespace else {
            return Err(fail("error", &"the project has no namespace"));
        };
        let head = match head {
            Some(h) => h,
            None => {
                let Some(branch) = p.default_branch.as_deref().filter(|b| !b.is_empty()) else {
                    // An empty repository claims nothing.
                    return Ok(false);
                };
                match self.gitlab.branch_head(p.id, branch).await {
                    Ok(Some(h)) => h,
                    Ok(None) => return Ok(false),
                    Err(e) => return Err(fail("error", &e)),
                }
            }
        };
        let stored = self.snapshot().products.get(&p.id).cloned();
        if stored.as_ref().is_some_and(|s| s.claims.commit == head) {
            self.metrics.tenant("product", "unchanged");
            return Ok(false);
        }
        if self.known_broken(p.id, &head) {
            return Ok(false);
        }
        self.archive_turn().await;
        let bytes = match self
            .gitlab
            .archive(p.id, &head, self.limits.max_compressed_bytes, None)
            .await
        {
            Ok(b) => b,
            Err(CallError::Permanent(e)) => {
                self.mark_broken(p.id, &head);
                return Err(fail("broken", &e));
            }
            Err(e) => return Err(fail("error", &e)),
        };
        let limits = self.limits;
        let allowance = Allowance {
            left: self.per_product_bytes,
            job_limit: self.per_product_bytes,
        };
        let read = tokio::task::spawn_blocking(move || {
            match archive::read_tar_gz(&bytes, &limits, allowance) {
                Ok(a) => Ok(claims_of_archive(&a)),
                // A product without a resource file claims nothing.
                Err(archive::ArchiveError::NoResources) => Ok(Vec::new()),
                Err(e) => Err(e.to_string()),
            }
        })
        .await;
        let claims = match read {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                self.mark_broken(p.id, &head);
                return Err(fail("broken", &e));
            }
            Err(e) => return Err(fail("error", &e)),
        };
        let now = now_secs();
        let product = Product {
            project_id: p.id,
            updated_at: now,
            claims: ProductClaims {
                product: product_id(namespace.id),
                project: p.path_with_namespace.clone(),
                commit: head.clone(),
                claims,
            },
        };
        let row = StoredProduct {
            project_id: p.id,
            product: product.claims.product.clone(),
            path_with_namespace: product.claims.project.clone(),
            commit: head.clone(),
            updated_at: now,
            claims_json: serde_json::to_string(&product.claims.claims)
                .map_err(|e| fail("error", &e))?,
        };
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || store.save_product(&row)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot store the product's claims"),
            Err(e) => tracing::warn!(error = %e, "cannot store the product's claims"),
        }
        tracing::info!(project = p.id, product = %product.claims.product, commit = %head, claims = product.claims.claims.len(), "product claims updated");
        self.metrics.tenant("product", "updated");
        let product = Arc::new(product);
        self.update(|s| {
            let mut products = s.products.clone();
            products.insert(p.id, product);
            Snapshot {
                inventory: s.inventory.clone(),
                index: match index {
                    Index::Rebuild => Arc::new(index_of(&products)),
                    Index::Later => s.index.clone(),
                },
                products,
                updated_at: now,
            }
        });
        Ok(true)
    }
}

/// Parses Cluster files with the `--clusters` loader.
fn inventory_of(
    project_id: i64,
    project: String,
    commit: String,
    updated_at: i64,
    files: Vec<(String, String)>,
) -> Result<Inventory, String> {
    let inv = crate::clusters::parse(files.clone()).map_err(|e| e.to_string())?;
    Ok(Inventory {
        project_id,
        project,
        commit,
        updated_at,
        files: files
            .into_iter()
            .map(|(path, text)| ClusterFile { path, text })
            .collect(),
        clusters: Arc::new(inv.clusters),
    })
}

/// The claims of a product's tree, loaded as a job loads it (with its own configuration's
/// ignores, when it has a valid one).
fn claims_of_archive(a: &archive::Archive) -> Vec<crate::context::Claim> {
    let cfg = a.config.as_deref().and_then(|text| {
        crate::config::Config::parse(
            text,
            std::path::Path::new(crate::config::FILE_NAME),
            std::path::Path::new("."),
        )
        .ok()
    });
    let settings = crate::config::settings(
        cfg.unwrap_or_default(),
        crate::config::Overrides::default(),
        None,
        None,
    )
    .unwrap_or_default();
    let model = crate::engine::model_of(&a.tree, &settings);
    crate::context::claims_of(&model)
}

/// Every product's claims: built once per change, shared by every job. The product being
/// checked is left out at lookup time by the rule (its tree replaces its own claims), so a job
/// adds one hash probe per namespace, not a rebuild.
fn index_of(products: &BTreeMap<i64, Arc<Product>>) -> NamespaceIndex {
    NamespaceIndex::new(products.values().map(|p| &p.claims), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_borrowed_document_is_the_context_document() {
        let files = vec![(
            "nautes/overlays/production/clusters/c1.yaml".to_owned(),
            "apiVersion: nautes.resource.nautes.io/v1alpha1\nkind: Cluster\nmetadata:\n  name: c1\nspec:\n  usage: worker\n  workerType: deployment\n".to_owned(),
        )];
        let inventory = inventory_of(7, "tenant/config".into(), "abc".into(), 60, files).unwrap();
        let claims = ProductClaims {
            product: "product-3".into(),
            project: "g3/default.project".into(),
            commit: "def".into(),
            claims: vec![crate::context::Claim {
                cluster: "c1".into(),
                namespace: "web".into(),
                runtime: "dr-web".into(),
                path: "runtimes/dr-web.yaml".into(),
                line: 9,
                column: 7,
            }],
        };
        let mut products = BTreeMap::new();
        for id in [3, 4] {
            let mut claims = claims.clone();
            claims.product = product_id(id);
            products.insert(
                id,
                Arc::new(Product {
                    project_id: id,
                    updated_at: 61,
                    claims,
                }),
            );
        }
        let s = Snapshot {
            inventory: Some(Arc::new(inventory)),
            index: Arc::new(index_of(&products)),
            products,
            updated_at: 61,
        };
        let s = Arc::new(s);
        let text: String = s.context_json().collect();
        let read = Context::from_json(text.as_bytes()).unwrap();
        assert_eq!(read, s.context());
        assert_eq!(read.products.len(), 2);
        assert_eq!(read.tenant.unwrap().updated_at, "1970-01-01T00:01:01Z");
    }

    #[test]
    fn times_are_rfc3339_in_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_796_072_709), "2026-11-30T21:05:09Z");
    }
}
