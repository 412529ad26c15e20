//! Function-level benchmarks of the core. Whole-process numbers come from `scripts/bench.sh`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use nautes_lint::engine::{Settings, validate};
use nautes_lint::model::Kind;
use nautes_lint::tree::MemoryTree;
use std::hint::black_box;
use std::path::Path;

const DR: &str = include_str!("../fixtures/valid/demo/runtimes/dr-api-server-dev.yaml");

fn read_tree(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for e in std::fs::read_dir(&dir).expect("fixture folder") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                todo.push(p);
            } else {
                let rel = p
                    .strip_prefix(root)
                    .expect("inside")
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push((rel, std::fs::read(&p).expect("readable")));
            }
        }
    }
    out
}

/// `n` runtimes of one product on one environment and code repo, each with its own path: the
/// shape that would be quadratic if any rule compared runtimes pairwise.
fn synthetic(n: usize) -> MemoryTree {
    let mut files: Vec<(String, String)> = vec![
        ("envs/env-dev.yaml".into(), "apiVersion: nautes.resource.nautes.io/v1alpha1\nkind: Environment\nmetadata: {name: env-dev}\nspec: {cluster: c1, envType: dev, product: product-7}\n".into()),
        ("projects/app/app.yaml".into(), "apiVersion: nautes.resource.nautes.io/v1alpha1\nkind: Project\nmetadata: {name: app}\nspec: {language: Go, product: product-7}\n".into()),
        ("code-repos/repo-1/repo-1.yaml".into(), "apiVersion: nautes.resource.nautes.io/v1alpha1\nkind: CodeRepo\nmetadata: {name: repo-1}\nspec: {codeRepoProvider: gitlab, product: product-7, project: app}\n".into()),
    ];
    for i in 0..n {
        files.push((
            format!("runtimes/dr-{i}.yaml"),
            DR.replace("dr-api-server-dev", &format!("dr-{i}"))
                .replace("repo-42", "repo-1")
                .replace("api-server\n", "app\n")
                .replace("deploy/overlays/development", &format!("deploy/{i}")),
        ));
    }
    MemoryTree::new(files)
}

fn benches(c: &mut Criterion) {
    c.bench_function("saphyr events one runtime (baseline)", |b| {
        b.iter(|| {
            saphyr_parser::Parser::new_from_str(black_box(DR))
                .filter(Result::is_ok)
                .count()
        })
    });
    c.bench_function("yaml::parse one runtime", |b| {
        b.iter(|| nautes_lint::yaml::parse(black_box(DR)))
    });
    let root = nautes_lint::yaml::parse(DR).documents.remove(0).root;
    let json = root.to_json();
    nautes_lint::schema::warm_up();
    c.bench_function("schema::validate one runtime", |b| {
        b.iter(|| nautes_lint::schema::validate(Kind::DeploymentRuntime, black_box(&json)))
    });
    c.bench_function("to_json one runtime", |b| {
        b.iter(|| black_box(&root).to_json())
    });

    let demo = MemoryTree::new(read_tree(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/valid/demo"
    ))));
    let settings = Settings::default();
    c.bench_function("validate demo (32 resources)", |b| {
        b.iter(|| validate(black_box(&demo), None, &settings))
    });

    let mut group = c.benchmark_group("validate n runtimes");
    group.sample_size(10);
    for n in [1_000usize, 10_000] {
        let tree = synthetic(n);
        let report = validate(&tree, None, &settings);
        assert_eq!(report.errors(), 0, "the synthetic tree is valid");
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &tree, |b, t| {
            b.iter(|| validate(t, None, &settings))
        });
    }
    group.finish();
}

criterion_group!(core, benches);
criterion_main!(core);
