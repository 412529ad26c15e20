#![forbid(unsafe_code)]

// Parsing allocates many small nodes on every worker thread; mimalloc's thread-local pools make
// that markedly cheaper than glibc's arenas (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    nautes_lint::cli::main()
}
