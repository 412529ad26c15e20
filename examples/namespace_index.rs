//! The namespace index at the size issue 11 names (1,000 products of 100 runtimes) for
//! BENCHMARKS.md: the heap it holds, and what a lookup costs.
//!
//! ```text
//! cargo run --release --example namespace_index -- generate FILE [PRODUCTS] [RUNTIMES]
//! /usr/bin/time -v target/release/examples/namespace_index index FILE
//! ```
//!
//! `generate` writes a context document: each product's runtimes spread over 20 clusters, every
//! runtime with one explicit namespace and every other one with a second. `index` reads it as
//! `check --context` does, builds the index, drops the document, and prints the bytes the index
//! still holds (counted by the allocator below) and the mean time of a lookup.

use nautes_lint::context::{Claim, Context, NamespaceIndex, ProductClaims};
use std::alloc::{GlobalAlloc, Layout, System};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, counting the bytes in use.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const CLUSTERS: usize = 20;

fn generate(products: usize, runtimes: usize) -> Context {
    let mut ctx = Context::new();
    for p in 0..products {
        let mut claims = Vec::new();
        for r in 0..runtimes {
            let cluster = format!("cluster-{:02}", (p + r) % CLUSTERS);
            let runtime = format!("dr-{p}-{r}");
            let path = format!("runtimes/{runtime}.yaml");
            let mut namespaces = vec![format!("p{p}-ns-{r}")];
            if r % 2 == 0 {
                namespaces.push(format!("p{p}-shared-{}", r % 10));
            }
            for (i, namespace) in namespaces.into_iter().enumerate() {
                claims.push(Claim {
                    cluster: cluster.clone(),
                    namespace,
                    runtime: runtime.clone(),
                    path: path.clone(),
                    line: 11 + i as u32,
                    column: 7,
                });
            }
        }
        ctx.products.push(ProductClaims {
            product: format!("product-{}", 1000 + p),
            project: format!("tenant/product-{p}/default.project"),
            commit: format!("{:040x}", p),
            claims,
        });
    }
    ctx
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    match (args.get(1).map(String::as_str), args.get(2)) {
        (Some("generate"), Some(file)) => {
            let n = |i: usize, default: usize| {
                args.get(i).and_then(|s| s.parse().ok()).unwrap_or(default)
            };
            let ctx = generate(n(3, 1000), n(4, 100));
            if let Err(e) = std::fs::write(file, ctx.to_json()) {
                eprintln!("{file}: {e}");
                return ExitCode::from(2);
            }
            ExitCode::SUCCESS
        }
        (Some("index"), Some(file)) => {
            let bytes = match std::fs::read(file) {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("{file}: {e}");
                    return ExitCode::from(2);
                }
            };
            let size = bytes.len();
            let ctx = match Context::from_json(&bytes) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("{file}: {e}");
                    return ExitCode::from(2);
                }
            };
            drop(bytes);
            // Probes: every claimed pair once, and as many that nobody claims.
            let probes: Vec<(String, String)> = ctx
                .products
                .iter()
                .flat_map(|p| &p.claims)
                .flat_map(|c| {
                    [
                        (c.cluster.clone(), c.namespace.clone()),
                        (c.cluster.clone(), format!("{}-free", c.namespace)),
                    ]
                })
                .collect();
            let before = LIVE.load(Ordering::Relaxed);
            let started = std::time::Instant::now();
            let index: NamespaceIndex = ctx.namespace_index(None);
            let built = started.elapsed();
            let held = LIVE.load(Ordering::Relaxed) - before;
            drop(ctx);
            let started = std::time::Instant::now();
            let mut found = 0usize;
            for (cluster, namespace) in &probes {
                found += index.lookup(cluster, namespace).len();
            }
            let looked = started.elapsed();
            println!(
                "document {:.1} MB, {} claims, index {:.1} MB of heap, built in {:.0} ms",
                size as f64 / 1e6,
                index.len(),
                held as f64 / 1e6,
                built.as_secs_f64() * 1e3
            );
            println!(
                "{} lookups ({found} owners found) in {:.1} ms: {:.0} ns each",
                probes.len(),
                looked.as_secs_f64() * 1e3,
                looked.as_secs_f64() * 1e9 / probes.len() as f64
            );
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("usage: namespace_index generate FILE [PRODUCTS] [RUNTIMES] | index FILE");
            ExitCode::from(2)
        }
    }
}
