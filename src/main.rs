#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    nautes_lint::cli::main()
}
