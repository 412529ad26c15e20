//! The tenant context: what a check needs to know beyond its own tree. The Clusters of the tenant
//! configuration repository (what `--clusters` reads) and every other product's namespace claims
//! (for `dr-namespace-used-by-other-product`), as one versioned JSON document. `serve` builds it
//! from GitLab and hands it out at `GET /api/v1/context`; `check --context FILE` and the hooks
//! read it back.

use crate::model::{Kind, Model};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// The only version of the document this build reads and writes.
pub const VERSION: u32 = 1;

/// The context document, version 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Context {
    pub version: u32,
    /// Where the clusters came from; `None` when the service has no tenant repository.
    pub tenant: Option<TenantInfo>,
    /// The Cluster files as read, so they are parsed by the same loader as `--clusters`.
    pub clusters: Vec<ClusterFile>,
    pub products: Vec<ProductClaims>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantInfo {
    /// The tenant configuration repository, path with namespace.
    pub project: String,
    /// The commit the clusters were read at.
    pub commit: String,
    /// When the service last read them, RFC 3339.
    pub updated_at: String,
}

/// One Cluster file of the tenant repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterFile {
    /// Its path, as reports show it.
    pub path: String,
    pub text: String,
}

/// The namespace claims of one product's `default.project` on its default branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductClaims {
    /// `product-<group id>`.
    pub product: String,
    /// The `default.project` repository, path with namespace.
    pub project: String,
    pub commit: String,
    pub claims: Vec<Claim>,
}

/// One explicit `destination.namespaces` entry of a DeploymentRuntime, on the cluster of its
/// Environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    pub cluster: String,
    pub namespace: String,
    /// The DeploymentRuntime's name.
    pub runtime: String,
    /// Its file in the product's repository.
    pub path: String,
    /// Where the namespace entry is, 1-based.
    pub line: u32,
    pub column: u32,
}

/// Why a context document cannot be used. A check never goes on without it: a context that was
/// asked for and cannot be read would make the cross-product rule pass on nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContextError {
    /// Not JSON, or not the shape of the version it says it is.
    Invalid(String),
    /// No `version`, or one this build does not read.
    Version(Option<u64>),
}

impl std::fmt::Display for ContextError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ContextError::Invalid(e) => write!(f, "not a tenant context document: {e}"),
            ContextError::Version(None) => write!(
                f,
                "the tenant context has no `version`; this nautes-lint reads version {VERSION}"
            ),
            ContextError::Version(Some(v)) => write!(
                f,
                "the tenant context is version {v}; this nautes-lint reads version {VERSION} (fetch it again from a service of the same release, or update nautes-lint)"
            ),
        }
    }
}

impl std::error::Error for ContextError {}

impl Context {
    /// An empty document of the current version.
    pub fn new() -> Context {
        Context {
            version: VERSION,
            tenant: None,
            clusters: Vec::new(),
            products: Vec::new(),
        }
    }

    /// Reads a document. The version is checked first, so a newer document says so rather than
    /// failing on a field this build does not know.
    pub fn from_json(bytes: &[u8]) -> Result<Context, ContextError> {
        #[derive(Deserialize)]
        struct Probe {
            version: Option<serde_json::Value>,
        }
        let probe: Probe =
            serde_json::from_slice(bytes).map_err(|e| ContextError::Invalid(e.to_string()))?;
        match probe.version {
            None => return Err(ContextError::Version(None)),
            Some(v) if v.as_u64() == Some(u64::from(VERSION)) => {}
            Some(v) => {
                return match v.as_u64() {
                    Some(n) => Err(ContextError::Version(Some(n))),
                    None => Err(ContextError::Invalid(format!(
                        "`version` must be a number, not {v}"
                    ))),
                };
            }
        }
        serde_json::from_slice(bytes).map_err(|e| ContextError::Invalid(e.to_string()))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("plain strings and numbers always serialize")
    }

    /// The cluster inventory the document holds, parsed as `--clusters` parses files; `None` when
    /// it holds none (no tenant and no Cluster files: the service has no inventory, so the
    /// cluster rules stay skipped rather than finding every cluster missing).
    pub fn inventory(
        &self,
    ) -> Result<Option<crate::clusters::Inventory>, crate::clusters::ClustersError> {
        if self.tenant.is_none() && self.clusters.is_empty() {
            return Ok(None);
        }
        let files = self
            .clusters
            .iter()
            .map(|c| (c.path.clone(), c.text.clone()))
            .collect();
        crate::clusters::parse(files).map(Some)
    }

    /// The namespace index of every product in the document but `except`.
    pub fn namespace_index(&self, except: Option<&str>) -> NamespaceIndex {
        NamespaceIndex::new(&self.products, except)
    }
}

impl Default for Context {
    fn default() -> Context {
        Context::new()
    }
}

/// The namespace claims of one product's tree: every DeploymentRuntime's explicit
/// `destination.namespaces`, on the cluster of its Environment. A runtime whose Environment (or
/// its cluster) is missing, or that names no namespaces (the legacy string destination included),
/// claims nothing: Nautes compares only explicit namespaces.
pub fn claims_of(model: &Model) -> Vec<Claim> {
    let mut out = Vec::new();
    for r in model.of_kind(Kind::DeploymentRuntime) {
        let Some(d) = r.dr() else { continue };
        if d.namespaces.is_empty() {
            continue;
        }
        let Some(cluster) = model.cluster_of(r) else {
            continue;
        };
        for ns in &d.namespaces {
            out.push(Claim {
                cluster: cluster.value.clone(),
                namespace: ns.value.clone(),
                runtime: r.name.value.clone(),
                path: model.path(r).to_owned(),
                line: ns.span.start.line,
                column: ns.span.start.col + 1,
            });
        }
    }
    out
}

/// Who claims a namespace on a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimOwner {
    /// `product-<group id>`, shared by every claim of the product.
    pub product: Arc<str>,
    /// The product's `default.project`, path with namespace.
    pub project: Arc<str>,
    pub runtime: Box<str>,
    pub path: Box<str>,
    pub line: u32,
    pub column: u32,
}

/// (cluster, namespace) -> the runtimes of other products that claim it. Built once; a lookup is
/// one hash probe on the borrowed pair, allocating nothing.
#[derive(Debug, Default)]
pub struct NamespaceIndex {
    by_key: FxHashMap<Key, Vec<ClaimOwner>>,
    claims: usize,
}

/// The owned key: the cluster is shared by all its claims.
#[derive(Debug)]
struct Key {
    cluster: Arc<str>,
    namespace: Box<str>,
}

/// A (cluster, namespace) pair, owned or borrowed, so the map can be probed with two `&str`.
trait Pair {
    fn pair(&self) -> (&str, &str);
}

impl Pair for Key {
    fn pair(&self) -> (&str, &str) {
        (&self.cluster, &self.namespace)
    }
}

impl Pair for (&str, &str) {
    fn pair(&self) -> (&str, &str) {
        (self.0, self.1)
    }
}

impl<'a> Borrow<dyn Pair + 'a> for Key {
    fn borrow(&self) -> &(dyn Pair + 'a) {
        self
    }
}

impl Hash for dyn Pair + '_ {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.pair().hash(state);
    }
}

impl PartialEq for dyn Pair + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.pair() == other.pair()
    }
}

impl Eq for dyn Pair + '_ {}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Must hash as the borrowed form does.
        (self as &dyn Pair).hash(state);
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.pair() == other.pair()
    }
}

impl Eq for Key {}

impl NamespaceIndex {
    /// The claims of `products` except those of product `except` (the product being checked: its
    /// tree replaces its own runtimes, so moving a namespace between two of them is never an
    /// error).
    pub fn new<'a>(
        products: impl IntoIterator<Item = &'a ProductClaims>,
        except: Option<&str>,
    ) -> NamespaceIndex {
        let mut index = NamespaceIndex::default();
        let mut clusters: FxHashMap<&str, Arc<str>> = FxHashMap::default();
        for p in products {
            if Some(p.product.as_str()) == except {
                continue;
            }
            let product: Arc<str> = Arc::from(p.product.as_str());
            let project: Arc<str> = Arc::from(p.project.as_str());
            for c in &p.claims {
                let owner = ClaimOwner {
                    product: product.clone(),
                    project: project.clone(),
                    runtime: c.runtime.as_str().into(),
                    path: c.path.as_str().into(),
                    line: c.line,
                    column: c.column,
                };
                let probe: &dyn Pair = &(c.cluster.as_str(), c.namespace.as_str());
                if let Some(owners) = index.by_key.get_mut(probe) {
                    owners.push(owner);
                } else {
                    let cluster = clusters
                        .entry(c.cluster.as_str())
                        .or_insert_with(|| Arc::from(c.cluster.as_str()))
                        .clone();
                    let key = Key {
                        cluster,
                        namespace: c.namespace.as_str().into(),
                    };
                    index.by_key.insert(key, vec![owner]);
                }
                index.claims += 1;
            }
        }
        for owners in index.by_key.values_mut() {
            owners.shrink_to_fit();
        }
        index.by_key.shrink_to_fit();
        index
    }

    /// Who claims `namespace` on `cluster`.
    pub fn lookup(&self, cluster: &str, namespace: &str) -> &[ClaimOwner] {
        let probe: &dyn Pair = &(cluster, namespace);
        self.by_key.get(probe).map_or(&[], Vec::as_slice)
    }

    /// How many claims it holds.
    pub fn len(&self) -> usize {
        self.claims
    }

    pub fn is_empty(&self) -> bool {
        self.claims == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::MemoryTree;

    fn runtime(name: &str, env: &str, namespaces: &[&str]) -> (String, Vec<u8>) {
        let ns = if namespaces.is_empty() {
            String::new()
        } else {
            format!(
                "    namespaces:\n{}",
                namespaces
                    .iter()
                    .map(|n| format!("    - {n}\n"))
                    .collect::<String>()
            )
        };
        (
            format!("runtimes/{name}.yaml"),
            format!(
                "apiVersion: nautes.resource.nautes.io/v1alpha1\nkind: DeploymentRuntime\nmetadata:\n  name: {name}\nspec:\n  destination:\n    environment: {env}\n{ns}  manifestSource:\n    codeRepo: repo-42\n    path: manifests\n    targetRevision: HEAD\n  product: product-7\n  projectsRef:\n  - api-server\n"
            )
            .into_bytes(),
        )
    }

    fn environment(name: &str, cluster: &str) -> (String, Vec<u8>) {
        (
            format!("envs/{name}.yaml"),
            format!("apiVersion: nautes.resource.nautes.io/v1alpha1\nkind: Environment\nmetadata:\n  name: {name}\nspec:\n  cluster: {cluster}\n  envType: development\n  product: product-7\n").into_bytes(),
        )
    }

    fn model(files: Vec<(String, Vec<u8>)>) -> Model {
        crate::engine::model_of(&MemoryTree::new(files), &crate::Settings::default())
    }

    #[test]
    fn claims_are_explicit_namespaces_on_the_environments_cluster() {
        let legacy = (
            "runtimes/dr-old.yaml".to_owned(),
            b"apiVersion: nautes.resource.nautes.io/v1alpha1\nkind: DeploymentRuntime\nmetadata:\n  name: dr-old\nspec:\n  destination: env-dev\n  product: product-7\n".to_vec(),
        );
        let m = model(vec![
            environment("env-dev", "cluster-a"),
            runtime("dr-a", "env-dev", &["ns-1", "ns-2"]),
            // No explicit namespaces: deploys to `dr-default`, which Nautes does not compare.
            runtime("dr-default", "env-dev", &[]),
            // Its environment does not exist: no cluster, no claim.
            runtime("dr-lost", "env-gone", &["ns-3"]),
            legacy,
        ]);
        let claims = claims_of(&m);
        assert_eq!(
            claims,
            vec![
                Claim {
                    cluster: "cluster-a".into(),
                    namespace: "ns-1".into(),
                    runtime: "dr-a".into(),
                    path: "runtimes/dr-a.yaml".into(),
                    line: 9,
                    column: 7,
                },
                Claim {
                    cluster: "cluster-a".into(),
                    namespace: "ns-2".into(),
                    runtime: "dr-a".into(),
                    path: "runtimes/dr-a.yaml".into(),
                    line: 10,
                    column: 7,
                },
            ]
        );
    }

    fn claims(product: &str, list: &[(&str, &str, &str)]) -> ProductClaims {
        ProductClaims {
            product: product.into(),
            project: format!("group-{product}/default.project"),
            commit: "0123abcd".into(),
            claims: list
                .iter()
                .map(|(cluster, ns, runtime)| Claim {
                    cluster: (*cluster).into(),
                    namespace: (*ns).into(),
                    runtime: (*runtime).into(),
                    path: format!("runtimes/{runtime}.yaml"),
                    line: 9,
                    column: 7,
                })
                .collect(),
        }
    }

    #[test]
    fn the_index_finds_owners_by_cluster_and_namespace_and_leaves_one_product_out() {
        let products = [
            claims(
                "product-1",
                &[("c1", "shared", "dr-a"), ("c1", "a-only", "dr-a")],
            ),
            claims(
                "product-2",
                &[("c1", "shared", "dr-b"), ("c2", "a-only", "dr-b")],
            ),
            claims("product-3", &[("c1", "shared", "dr-c")]),
        ];
        let all = NamespaceIndex::new(&products, None);
        assert_eq!(all.len(), 5);
        let owners: Vec<&str> = all
            .lookup("c1", "shared")
            .iter()
            .map(|o| &*o.product)
            .collect();
        assert_eq!(owners, ["product-1", "product-2", "product-3"]);
        // The same namespace on another cluster is another key.
        assert_eq!(all.lookup("c2", "a-only")[0].runtime.as_ref(), "dr-b");
        assert_eq!(all.lookup("c1", "a-only")[0].runtime.as_ref(), "dr-a");
        assert!(all.lookup("c2", "shared").is_empty());
        // The pair is not a concatenation: ("c1s", "hared") is not ("c1", "shared").
        assert!(all.lookup("c1s", "hared").is_empty());

        let without = NamespaceIndex::new(&products, Some("product-1"));
        assert_eq!(without.len(), 3);
        assert!(without.lookup("c1", "a-only").is_empty());
        let owners: Vec<&str> = without
            .lookup("c1", "shared")
            .iter()
            .map(|o| &*o.product)
            .collect();
        assert_eq!(owners, ["product-2", "product-3"]);
        let o = &without.lookup("c2", "a-only")[0];
        assert_eq!(
            (&*o.project, &*o.path, o.line, o.column),
            (
                "group-product-2/default.project",
                "runtimes/dr-b.yaml",
                9,
                7
            )
        );
    }

    #[test]
    fn the_document_round_trips_and_checks_its_version() {
        let mut ctx = Context::new();
        ctx.tenant = Some(TenantInfo {
            project: "tenant/config".into(),
            commit: "abc".into(),
            updated_at: "2026-11-30T21:00:00Z".into(),
        });
        ctx.clusters.push(ClusterFile {
            path: "nautes/overlays/production/clusters/c1.yaml".into(),
            text: "apiVersion: nautes.resource.nautes.io/v1alpha1\nkind: Cluster\nmetadata:\n  name: c1\nspec:\n  usage: worker\n  workerType: deployment\n".into(),
        });
        ctx.products
            .push(claims("product-2", &[("c1", "ns", "dr-b")]));
        let json = ctx.to_json();
        assert_eq!(Context::from_json(json.as_bytes()), Ok(ctx.clone()));
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["version"], 1);
        assert_eq!(v["products"][0]["claims"][0]["namespace"], "ns");

        let inv = ctx.inventory().unwrap().expect("an inventory");
        assert_eq!(
            inv.clusters["c1"].worker_type.as_deref(),
            Some("deployment")
        );
        assert_eq!(
            inv.clusters["c1"].path,
            "nautes/overlays/production/clusters/c1.yaml"
        );
        assert!(Context::new().inventory().unwrap().is_none());

        let other = json.replacen("\"version\":1", "\"version\":2", 1);
        assert_eq!(
            Context::from_json(other.as_bytes()),
            Err(ContextError::Version(Some(2)))
        );
        let e = Context::from_json(br#"{"tenant":null,"clusters":[],"products":[]}"#);
        assert_eq!(e, Err(ContextError::Version(None)));
        assert!(matches!(
            Context::from_json(br#"{"version":"1"}"#),
            Err(ContextError::Invalid(_))
        ));
        assert!(matches!(
            Context::from_json(b"not json"),
            Err(ContextError::Invalid(_))
        ));
        // A field that is misspelt is an error, not a document without claims.
        let typo = json.replacen("\"products\"", "\"prodcuts\"", 1);
        assert!(matches!(
            Context::from_json(typo.as_bytes()),
            Err(ContextError::Invalid(_))
        ));
        // A broken Cluster file is the same error `--clusters` gives.
        ctx.clusters[0].text = "kind: [\n".into();
        assert!(
            ctx.inventory()
                .unwrap_err()
                .to_string()
                .contains("invalid YAML")
        );
    }
}
