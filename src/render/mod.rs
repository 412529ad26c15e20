//! Output formats. Each renders the same [`Report`](crate::Report); none of them checks anything.

pub mod human;
pub mod json;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
}
