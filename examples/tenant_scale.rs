//! A fake GitLab holding a tenant of PRODUCTS products of RUNTIMES DeploymentRuntimes each (one
//! explicit namespace per runtime, alternately on cluster-dev and cluster-test) and the tenant
//! repository, for the memory benchmark of the service's namespace index
//! (`scripts/bench-tenant-memory.sh`; results in BENCHMARKS.md, "Tenant context").
//!
//! ```text
//! cargo run --example tenant_scale -- 127.0.0.1:18281 TOKEN 1000 100
//! ```

// The tests' fake GitLab, of which this uses a part.
#[allow(dead_code)]
#[path = "../tests/it/common/fake_gitlab.rs"]
mod fake_gitlab;
#[path = "../tests/it/common/tenant.rs"]
mod tenant;

use fake_gitlab::{FakeGitLab, Project, tar_gz_of_files};

/// The tenant repository: `tenant/config`, id 1.
const TENANT: i64 = 1;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, token, products, runtimes] = args.as_slice() else {
        eprintln!("usage: tenant_scale ADDR TOKEN PRODUCTS RUNTIMES");
        return std::process::ExitCode::from(2);
    };
    let (Ok(products), Ok(runtimes)) = (products.parse::<i64>(), runtimes.parse::<usize>()) else {
        eprintln!("PRODUCTS and RUNTIMES are numbers");
        return std::process::ExitCode::from(2);
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        // Not recording calls: a crawl makes thousands.
        let gl = FakeGitLab::start_on(addr, token, false).await;
        gl.add_project(Project {
            id: TENANT,
            path_with_namespace: "tenant/config".into(),
            namespace_id: 1,
            default_branch: "main".into(),
        });
        let head = "7e1a000000000000000000000000000000000001";
        gl.set_branch(TENANT, "main", head);
        gl.add_project_archive(
            TENANT,
            head,
            tar_gz_of_files(&tenant::tenant_clusters(false), "config"),
        );
        for p in 0..products {
            let (id, group) = (1000 + p, 5000 + p);
            let product = format!("product-{group}");
            let names: Vec<(String, &str, String)> = (0..runtimes)
                .map(|r| {
                    let env = if r % 2 == 0 { "env-dev" } else { "env-test" };
                    (format!("dr-{group}-{r}"), env, format!("ns-{group}-{r}"))
                })
                .collect();
            let one: Vec<(&str, &str, [&str; 1])> = names
                .iter()
                .map(|(n, e, ns)| (n.as_str(), *e, [ns.as_str()]))
                .collect();
            let runtimes: Vec<(&str, &str, &[&str])> =
                one.iter().map(|(n, e, ns)| (*n, *e, &ns[..])).collect();
            gl.add_project(Project {
                id,
                path_with_namespace: format!("g{group}/default.project"),
                namespace_id: group,
                default_branch: "main".into(),
            });
            let sha = format!("{:040x}", id);
            gl.set_branch(id, "main", &sha);
            gl.add_project_archive(
                id,
                &sha,
                tar_gz_of_files(
                    &tenant::product_tree(&product, &runtimes),
                    "default-project",
                ),
            );
        }
        eprintln!(
            "fake GitLab on {}: the tenant and {products} products of {runtimes} runtimes",
            gl.url
        );
        std::future::pending::<()>().await;
    });
    std::process::ExitCode::SUCCESS
}
