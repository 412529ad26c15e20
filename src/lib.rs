//! nautes-lint: validates a Nautes `default.project` repository.
//!
//! The core is [`validate`]: a function of a [`tree::Tree`] and [`Settings`] that returns a
//! [`Report`]; it does no I/O of its own. Sources (working directory, in-memory) sit in [`tree`],
//! outputs in [`render`], the command line in `cli`. Without default features only the core
//! builds: `cli` adds git revisions (`git`), the webhook service (`service`) and `lsp`.
#![forbid(unsafe_code)]

#[cfg(feature = "cli")]
pub mod cli;
pub mod clusters;
pub mod config;
pub mod context;
pub mod diagnostic;
pub mod engine;
pub mod fix;
#[cfg(feature = "cli")]
pub mod lsp;
pub mod model;
pub mod render;
pub mod rules;
pub mod schema;
#[cfg(feature = "service")]
pub mod server;
pub mod suggest;
pub mod tree;
pub mod yaml;

pub use engine::{Report, Settings, validate};
