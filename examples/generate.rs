//! Writes a synthetic, valid Nautes `default.project` repository for benchmarks and
//! scale tests.
//!
//! ```text
//! cargo run --release --example generate -- OUT_DIR N
//! ```
//!
//! N DeploymentRuntimes plus proportional resources (per 100 runtimes: 20 Environments,
//! 15 Projects, 20 CodeRepos, 10 CodeRepoBindings, 5 ProjectPipelineRuntimes, i.e. about
//! 1.7 resource files per runtime), one Cluster per Environment (plus one host cluster)
//! under `OUT_DIR/clusters/`, and `OUT_DIR/.nautes-lint.yaml`. The output depends only on N,
//! and it breaks no rule: unique (codeRepo, targetRevision, path, environment) tuples,
//! every referenced project permitted to use the code repo, one cluster per environment,
//! DNS-1123 names, no component namespaces, DeploymentRuntimes only on deployment clusters.
//! Files are written the way the Nautes API server stores them (sorted keys, block style,
//! `creationTimestamp: null`). No dependencies beyond std.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const API_VERSION: &str = "nautes.resource.nautes.io/v1alpha1";
const PRODUCT: &str = "product-1";
const GROUP: &str = "shop-platform";

const PROJECT_NAMES: &[&str] = &[
    "api-server",
    "web-portal",
    "billing",
    "notification",
    "auth-service",
    "inventory",
    "search",
    "checkout",
    "catalog",
    "payments",
    "shipping",
    "reporting",
    "recommendation",
    "user-profile",
    "media-store",
];
const LANGUAGES: &[&str] = &["Go", "TypeScript", "Java", "Python", "Rust", "Kotlin"];
const SERVICES: &[&str] = &[
    "gateway",
    "worker",
    "scheduler",
    "frontend",
    "backend",
    "cache-warmer",
    "importer",
    "exporter",
    "indexer",
    "notifier",
];
const ENV_TYPES: &[&str] = &["development", "testing", "staging", "production"];
const ENV_SHORT: &[&str] = &["dev", "test", "staging", "prod"];
const REPO_KINDS: &[&str] = &["deploy", "manifests", "charts", "config"];
const WEBHOOK_EVENTS: &[&[&str]] = &[
    &["push_events"],
    &["push_events", "tag_push_events"],
    &["push_events", "merge_requests_events"],
    &["push_events", "tag_push_events", "pipeline_events"],
];
const REVISIONS: &[&str] = &["main", "HEAD", "release-1.4", "main"];

/// Sizes of the generated repository for N runtimes.
struct Counts {
    runtimes: usize,
    envs: usize,
    pipeline_envs: usize,
    projects: usize,
    repos: usize,
    bindings: usize,
    pprs: usize,
}

fn ceil_div(a: usize, b: usize) -> usize {
    a.div_ceil(b)
}

impl Counts {
    fn new(n: usize) -> Counts {
        // Per 100 runtimes: 20 envs, 15 projects, 20 code repos, 10 bindings, 5 PPRs.
        let envs = ceil_div(n * 20, 100).max(2);
        // One environment in ten (at least one) runs pipelines; the rest take deployments.
        let pipeline_envs = (envs / 10).max(1);
        let repos = ceil_div(n * 20, 100).max(1);
        // A project's own repository has the project's index, so keep projects <= repos.
        let projects = ceil_div(n * 15, 100).max(1).min(repos);
        Counts {
            runtimes: n,
            envs,
            pipeline_envs,
            projects,
            repos,
            bindings: ceil_div(n * 10, 100).max(1),
            pprs: ceil_div(n * 5, 100).max(1),
        }
    }
    fn deploy_envs(&self) -> usize {
        self.envs - self.pipeline_envs
    }
}

fn project_name(p: usize) -> String {
    let base = PROJECT_NAMES[p % PROJECT_NAMES.len()];
    let round = p / PROJECT_NAMES.len();
    if round == 0 {
        base.to_string()
    } else {
        format!("{base}-{}", round + 1)
    }
}

/// Deployment environments come first (indices 0..deploy_envs), then pipeline ones.
fn env_name(c: &Counts, e: usize) -> String {
    if e < c.deploy_envs() {
        format!("env-{}-{}", ENV_SHORT[e % ENV_SHORT.len()], e)
    } else {
        format!("env-ci-{}", e)
    }
}

fn cluster_name(c: &Counts, e: usize) -> String {
    if e < c.deploy_envs() {
        format!("cluster-{}-{}", ENV_SHORT[e % ENV_SHORT.len()], e)
    } else {
        format!("cluster-ci-{}", e)
    }
}

fn repo_id(r: usize) -> usize {
    1000 + r
}

/// Every tenth repository (index 9, 19, ...) belongs to no project and is shared
/// product-wide; the others belong to project `r % projects`.
fn repo_owner(c: &Counts, r: usize) -> Option<usize> {
    if r % 10 == 9 {
        None
    } else {
        Some(r % c.projects)
    }
}

/// Bindings: first one product-wide binding per shared repository, then bindings on
/// owned repositories (0, 1, 2, ...) that grant one more project.
enum Grant {
    ProductWide,
    Project(usize),
}
struct Binding {
    repo: usize,
    grant: Grant,
    name: String,
}

fn bindings(c: &Counts) -> Vec<Binding> {
    let mut out = Vec::with_capacity(c.bindings);
    let shared: Vec<usize> = (0..c.repos)
        .filter(|&r| repo_owner(c, r).is_none())
        .collect();
    for &r in &shared {
        out.push(Binding {
            repo: r,
            grant: Grant::ProductWide,
            name: format!("share-repo-{}", repo_id(r)),
        });
    }
    let owned: Vec<usize> = (0..c.repos)
        .filter(|&r| repo_owner(c, r).is_some())
        .collect();
    // At most one listed binding per owned repository, granting the next project along.
    for &r in owned.iter().take(c.bindings.saturating_sub(out.len())) {
        let grantee = (repo_owner(c, r).unwrap() + 1) % c.projects;
        out.push(Binding {
            repo: r,
            grant: Grant::Project(grantee),
            name: format!("grant-{}-repo-{}", project_name(grantee), repo_id(r)),
        });
    }
    // (Shared repositories never outnumber the nominal binding count; if they did, all of
    // them would still get their product-wide binding.)
    out
}

fn header(out: &mut String, kind: &str, name: &str) {
    let _ = write!(
        out,
        "apiVersion: {API_VERSION}\nkind: {kind}\nmetadata:\n  creationTimestamp: null\n  name: {name}\nspec:\n"
    );
}

struct Writer {
    files: usize,
    bytes: usize,
}

impl Writer {
    fn write(&mut self, path: &Path, content: &str) -> std::io::Result<()> {
        fs::write(path, content)?;
        self.files += 1;
        self.bytes += content.len();
        Ok(())
    }
}

fn run(out_dir: &Path, n: usize) -> std::io::Result<(Counts, Writer)> {
    let c = Counts::new(n);
    let mut w = Writer { files: 0, bytes: 0 };
    let binds = bindings(&c);
    let mut buf = String::with_capacity(2048);

    // Directories, created once.
    for d in ["envs", "runtimes", "projects", "code-repos", "clusters"] {
        fs::create_dir_all(out_dir.join(d))?;
    }
    let project_dirs: Vec<PathBuf> = (0..c.projects)
        .map(|p| out_dir.join("projects").join(project_name(p)))
        .collect();
    for d in &project_dirs {
        fs::create_dir_all(d)?;
    }
    let repo_dirs: Vec<PathBuf> = (0..c.repos)
        .map(|r| {
            out_dir
                .join("code-repos")
                .join(format!("repo-{}", repo_id(r)))
        })
        .collect();
    for d in &repo_dirs {
        fs::create_dir_all(d)?;
    }

    // Config.
    w.write(
        &out_dir.join(".nautes-lint.yaml"),
        &format!("product: {PRODUCT}\nclusters: clusters\n"),
    )?;

    // Clusters: a host cluster plus one per environment. Every third deployment cluster
    // is a virtual cluster on the host.
    buf.clear();
    cluster_yaml(
        &mut buf,
        "cluster-host",
        "physical",
        "host",
        "",
        None,
        "https://10.0.0.10:6443",
        "host.example.com",
    );
    w.write(&out_dir.join("clusters/cluster-host.yaml"), &buf)?;
    for e in 0..c.envs {
        let name = cluster_name(&c, e);
        let worker_type = if e < c.deploy_envs() {
            "deployment"
        } else {
            "pipeline"
        };
        let virt = e % 3 == 1;
        let api = if virt {
            format!("https://{name}.host.example.com:8443")
        } else {
            format!("https://10.{}.{}.10:6443", 1 + e / 250, e % 250)
        };
        let domain = format!("{name}.example.com");
        buf.clear();
        cluster_yaml(
            &mut buf,
            &name,
            if virt { "virtual" } else { "physical" },
            "worker",
            worker_type,
            if virt { Some("cluster-host") } else { None },
            &api,
            &domain,
        );
        w.write(&out_dir.join("clusters").join(format!("{name}.yaml")), &buf)?;
    }

    // Environments.
    for e in 0..c.envs {
        let name = env_name(&c, e);
        let env_type = if e < c.deploy_envs() {
            ENV_TYPES[e % ENV_TYPES.len()]
        } else {
            "pipeline"
        };
        buf.clear();
        header(&mut buf, "Environment", &name);
        let _ = write!(
            buf,
            "  cluster: {}\n  envType: {env_type}\n  product: {PRODUCT}\n",
            cluster_name(&c, e)
        );
        w.write(&out_dir.join("envs").join(format!("{name}.yaml")), &buf)?;
    }

    // Projects.
    for p in 0..c.projects {
        let name = project_name(p);
        buf.clear();
        header(&mut buf, "Project", &name);
        let _ = write!(
            buf,
            "  language: {}\n  product: {PRODUCT}\n",
            LANGUAGES[p % LANGUAGES.len()]
        );
        w.write(&project_dirs[p].join(format!("{name}.yaml")), &buf)?;
    }

    // Code repos: even ones declared with codeRepoProvider + product, odd ones with url.
    for r in 0..c.repos {
        let id = repo_id(r);
        let owner = repo_owner(&c, r);
        let repo_name = match owner {
            Some(p) => format!(
                "{}-{}",
                project_name(p),
                REPO_KINDS[(r / c.projects.max(1)) % REPO_KINDS.len()]
            ),
            None => format!("platform-{}-{}", REPO_KINDS[r % REPO_KINDS.len()], r),
        };
        buf.clear();
        header(&mut buf, "CodeRepo", &format!("repo-{id}"));
        if r % 2 == 0 {
            buf.push_str("  codeRepoProvider: gitlab\n");
        }
        let _ = write!(
            buf,
            "  deploymentRuntime: true\n  pipelineRuntime: {}\n  product: {PRODUCT}\n",
            r % 3 == 0
        );
        if let Some(p) = owner {
            let _ = writeln!(buf, "  project: {}", project_name(p));
        }
        let _ = writeln!(buf, "  repoName: {repo_name}");
        if r % 2 == 1 {
            let _ = writeln!(buf, "  url: git@gitlab.example.com:{GROUP}/{repo_name}.git");
        }
        buf.push_str("  webhook:\n    events:\n");
        for ev in WEBHOOK_EVENTS[r % WEBHOOK_EVENTS.len()] {
            let _ = writeln!(buf, "    - {ev}");
        }
        w.write(&repo_dirs[r].join(format!("repo-{id}.yaml")), &buf)?;
    }

    // Bindings.
    for b in &binds {
        buf.clear();
        header(&mut buf, "CodeRepoBinding", &b.name);
        let perm = if matches!(b.grant, Grant::ProductWide) {
            "readonly"
        } else {
            "readwrite"
        };
        let _ = write!(
            buf,
            "  codeRepo: repo-{}\n  permissions: {perm}\n  product: {PRODUCT}\n",
            repo_id(b.repo)
        );
        if let Grant::Project(p) = b.grant {
            let _ = writeln!(buf, "  projects:\n  - {}", project_name(p));
        }
        w.write(&repo_dirs[b.repo].join(format!("{}.yaml", b.name)), &buf)?;
    }

    // Extra project granted on each owned repository by listed bindings.
    let mut extra: Vec<Vec<usize>> = vec![Vec::new(); c.repos];
    for b in &binds {
        if let Grant::Project(p) = b.grant {
            extra[b.repo].push(p);
        }
    }

    // Deployment runtimes: each app goes through up to four stages (dev, test, staging,
    // prod); runtime i deploys app a = i / stages to stage s = i % stages, on one of the
    // deployment environments of that stage (environment e has stage e % 4). (app, stage)
    // is unique per runtime and the manifest path names both, so no two runtimes share
    // (codeRepo, targetRevision, path, environment). App a's manifests live in repo
    // a % repos.
    let de = c.deploy_envs();
    let stages = de.min(4);
    let mut projects_ref: Vec<usize> = Vec::with_capacity(4);
    for i in 0..c.runtimes {
        let a = i / stages;
        let s = i % stages;
        let envs_of_stage = (de - s).div_ceil(stages);
        let e = s + stages * (a % envs_of_stage);
        let r = a % c.repos;
        let app = format!("{}-{}", SERVICES[a % SERVICES.len()], a);
        let env = env_name(&c, e);
        let name = format!("{app}-{env}");
        projects_ref.clear();
        match repo_owner(&c, r) {
            Some(p) => {
                projects_ref.push(p);
                // Every other runtime also names the projects granted by bindings.
                if i % 2 == 0 {
                    for &q in &extra[r] {
                        if !projects_ref.contains(&q) {
                            projects_ref.push(q);
                        }
                    }
                }
            }
            // Shared repositories are bound product-wide: any project may use them.
            None => {
                projects_ref.push(a % c.projects);
                projects_ref.push((a + 1) % c.projects);
                projects_ref.dedup();
            }
        }
        buf.clear();
        header(&mut buf, "DeploymentRuntime", &name);
        let _ = write!(
            buf,
            "  destination:\n    environment: {env}\n    namespaces:\n    - {app}\n"
        );
        if i % 4 == 0 {
            let _ = writeln!(buf, "    - {app}-jobs");
        }
        let _ = write!(
            buf,
            "  manifestSource:\n    codeRepo: repo-{}\n    path: deploy/{app}/overlays/{}\n    targetRevision: {}\n  product: {PRODUCT}\n",
            repo_id(r),
            ENV_SHORT[e % ENV_SHORT.len()],
            REVISIONS[a % REVISIONS.len()],
        );
        buf.push_str("  projectsRef:\n");
        for &p in &projects_ref {
            let _ = writeln!(buf, "  - {}", project_name(p));
        }
        w.write(&out_dir.join("runtimes").join(format!("{name}.yaml")), &buf)?;
    }

    // Project pipeline runtimes: PPR q belongs to project q % projects and builds from
    // repository (q % projects) % repos, which that project owns or which is shared
    // product-wide. Each runs in its own namespace of a pipeline environment.
    for q in 0..c.pprs {
        let p = q % c.projects;
        let r = p % c.repos;
        debug_assert!(repo_owner(&c, r).is_none_or(|o| o == p));
        let project = project_name(p);
        let name = format!("{project}-pipeline-{q}");
        let env = env_name(&c, de + q % c.pipeline_envs);
        let id = repo_id(r);
        buf.clear();
        header(&mut buf, "ProjectPipelineRuntime", &name);
        let _ = write!(
            buf,
            "  destination:\n    environment: {env}\n    namespace: {project}-ci-{q}\n\
             \x20 eventSources:\n\
             \x20 - gitlab:\n      events:\n      - push_events\n      repoName: repo-{id}\n      revision: main\n    name: push-main\n\
             \x20 - gitlab:\n      events:\n      - tag_push_events\n      repoName: repo-{id}\n      revision: ^v\\d+\\.\\d+\\.\\d+$\n    name: release-tags\n\
             \x20 isolation: {}\n  pipelineSource: repo-{id}\n\
             \x20 pipelineTriggers:\n  - eventSource: push-main\n    pipeline: build\n  - eventSource: release-tags\n    pipeline: release\n\
             \x20 pipelines:\n  - label: default\n    name: build\n    path: pipelines/build.yaml\n  - label: release\n    name: release\n    path: pipelines/release.yaml\n\
             \x20 project: {project}\n",
            if q % 2 == 0 { "shared" } else { "exclusive" },
        );
        w.write(&project_dirs[p].join(format!("{name}.yaml")), &buf)?;
    }

    Ok((c, w))
}

#[allow(clippy::too_many_arguments)]
fn cluster_yaml(
    buf: &mut String,
    name: &str,
    cluster_type: &str,
    usage: &str,
    worker_type: &str,
    host: Option<&str>,
    api: &str,
    domain: &str,
) {
    let _ = write!(
        buf,
        "apiVersion: {API_VERSION}\nkind: Cluster\nmetadata:\n  creationTimestamp: null\n  name: {name}\n  namespace: nautes\nspec:\n  apiServer: {api}\n  clusterKind: kubernetes\n  clusterType: {cluster_type}\n  componentsList:\n"
    );
    let worker = usage == "worker";
    let comps: &[(&str, &str, &str, bool)] = &[
        ("certManagement", "cert-manager", "cert-manager", true),
        ("deployment", "argocd", "argocd", worker),
        ("eventListener", "argo-events", "argo-events", worker),
        ("gateway", "traefik", "traefik", true),
        ("multiTenant", "hnc", "hnc-system", true),
        ("oauthProxy", "oauth2-proxy", "oauth2-proxy", true),
        ("pipeline", "tekton", "tekton-pipelines", worker),
        (
            "progressiveDelivery",
            "argo-rollouts",
            "argo-rollouts",
            worker,
        ),
        ("secretManagement", "vault", "vault", true),
        ("secretSync", "external-secrets", "external-secrets", true),
    ];
    for &(key, cname, ns, on) in comps {
        if on {
            let _ = write!(
                buf,
                "    {key}:\n      name: {cname}\n      namespace: {ns}\n"
            );
        }
    }
    if let Some(h) = host {
        let _ = writeln!(buf, "  hostCluster: {h}");
    }
    let _ = write!(buf, "  primaryDomain: {domain}\n  usage: {usage}\n");
    if !worker_type.is_empty() {
        let _ = writeln!(buf, "  workerType: {worker_type}");
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: generate OUT_DIR N   (N >= 1 DeploymentRuntimes)";
    if args.len() != 3 {
        eprintln!("{usage}");
        return ExitCode::from(2);
    }
    let out_dir = PathBuf::from(&args[1]);
    let n: usize = match args[2].parse() {
        Ok(n) if n >= 1 => n,
        _ => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
    };
    let start = std::time::Instant::now();
    match run(&out_dir, n) {
        Ok((c, w)) => {
            let n_bindings = bindings(&c).len();
            let resources = c.runtimes + c.envs + c.projects + c.repos + n_bindings + c.pprs;
            println!(
                "wrote {} files, {} bytes to {} in {:.2?}: {} resources ({:.2}/runtime: {} runtimes, {} environments ({} pipeline), {} projects, {} code repos, {} bindings, {} pipeline runtimes) + {} clusters + config",
                w.files,
                w.bytes,
                out_dir.display(),
                start.elapsed(),
                resources,
                resources as f64 / c.runtimes as f64,
                c.runtimes,
                c.envs,
                c.pipeline_envs,
                c.projects,
                c.repos,
                n_bindings,
                c.pprs,
                c.envs + 1,
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("generate: {}: {e}", out_dir.display());
            ExitCode::FAILURE
        }
    }
}
