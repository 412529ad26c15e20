//! The fake GitLab of the integration tests as a standalone server, for the load benchmark
//! (`scripts/bench-serve.sh`) and the memory benchmark (`scripts/bench-serve-memory.sh`): it
//! serves one directory (or one ready-made `.tar.gz` file, as it is) as the archive of every
//! revision, takes statuses and notes, and counts results at `GET /_stats`.
//!
//! ```text
//! cargo run --release --example fake_gitlab -- 127.0.0.1:18081 TOKEN DIR|FILE.tar.gz
//! ```

// The tests' fake GitLab, of which the benchmark serves only the archives.
#[allow(dead_code)]
#[path = "../tests/it/common/fake_gitlab.rs"]
mod fake_gitlab;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, token, dir] = args.as_slice() else {
        eprintln!("usage: fake_gitlab ADDR TOKEN DIR|FILE.tar.gz");
        return std::process::ExitCode::from(2);
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let gl = fake_gitlab::FakeGitLab::start_on(addr, token, false).await;
        let path = std::path::Path::new(dir);
        let archive = if path.is_file() {
            std::fs::read(path).expect("read the archive")
        } else {
            fake_gitlab::tar_gz_of_dir(path, "repo-x-x")
        };
        eprintln!(
            "fake GitLab on {} serving {dir} ({} bytes)",
            gl.url,
            archive.len()
        );
        gl.set_fallback_archive(archive);
        std::future::pending::<()>().await;
    });
    std::process::ExitCode::SUCCESS
}
