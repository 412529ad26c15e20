//! Trees of the tenant context: a small `default.project` of one product, shared by
//! `tests/it/serve_tenant.rs` and the memory benchmark (`examples/tenant_scale.rs`).

/// A small `default.project` of `product`: environments `env-dev` (on `cluster-dev`) and
/// `env-test` (on `cluster-test`), one project and code repo, and the runtimes
/// (name, environment, explicit namespaces), each with its own manifest path.
pub fn product_tree(product: &str, runtimes: &[(&str, &str, &[&str])]) -> Vec<(String, String)> {
    let mut files = vec![
        (
            "projects/api-server/api-server.yaml".to_owned(),
            format!(
                "apiVersion: nautes.resource.nautes.io/v1alpha1\nkind: Project\nmetadata:\n  \
                 name: api-server\nspec:\n  language: Go\n  product: {product}\n"
            ),
        ),
        (
            "code-repos/repo-42/repo-42.yaml".to_owned(),
            format!(
                "apiVersion: nautes.resource.nautes.io/v1alpha1\nkind: CodeRepo\nmetadata:\n  \
                 name: repo-42\nspec:\n  codeRepoProvider: gitlab\n  product: {product}\n  \
                 project: api-server\n  repoName: api-server\n  webhook:\n    events:\n    \
                 - push_events\n"
            ),
        ),
    ];
    for (env, cluster, kind) in [
        ("env-dev", "cluster-dev", "development"),
        ("env-test", "cluster-test", "test"),
    ] {
        files.push((
            format!("envs/{env}.yaml"),
            format!(
                "apiVersion: nautes.resource.nautes.io/v1alpha1\nkind: Environment\nmetadata:\n  \
                 name: {env}\nspec:\n  cluster: {cluster}\n  envType: {kind}\n  \
                 product: {product}\n"
            ),
        ));
    }
    for (name, env, namespaces) in runtimes {
        let ns: String = namespaces.iter().map(|n| format!("    - {n}\n")).collect();
        files.push((
            format!("runtimes/{name}.yaml"),
            format!(
                "apiVersion: nautes.resource.nautes.io/v1alpha1\nkind: DeploymentRuntime\n\
                 metadata:\n  name: {name}\nspec:\n  destination:\n    environment: {env}\n    \
                 namespaces:\n{ns}  manifestSource:\n    codeRepo: repo-42\n    path: deploy/{name}\n    \
                 targetRevision: HEAD\n  product: {product}\n  projectsRef:\n  - api-server\n"
            ),
        ));
    }
    files
}

/// The Cluster files of `fixtures/valid/clusters` under the tenant repository's clusters folder,
/// with `cluster-dev` turned into a pipeline cluster when `dev_is_pipeline`.
pub fn tenant_clusters(dev_is_pipeline: bool) -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/valid/clusters");
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .expect("fixtures/valid/clusters")
        .map(|e| {
            let p = e.expect("entry").path();
            let name = p
                .file_name()
                .and_then(|n| n.to_str())
                .expect("name")
                .to_owned();
            let mut text = std::fs::read_to_string(&p).expect("read");
            if dev_is_pipeline && name == "cluster-dev.yaml" {
                assert!(text.contains("workerType: deployment"));
                text = text.replace("workerType: deployment", "workerType: pipeline");
            }
            (format!("nautes/overlays/production/clusters/{name}"), text)
        })
        .collect();
    files.sort();
    files
}
