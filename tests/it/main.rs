//! The integration tests: one crate (one link of the library and its dependencies) with a module
//! per area. Each runs the real binary, real `git`, the fake GitLab and SQLite on disk.

mod common;

mod bad_input;
mod container;
mod context;
mod fingerprints;
mod fix;
mod fixtures;
mod formats;
mod git_hooks;
mod json_contract;
mod lsp;
mod proptest_loader;
mod serve;
mod serve_catchup;
mod serve_limits;
mod serve_queue;
mod serve_replicas;
mod serve_tenant;
mod serve_threads;
