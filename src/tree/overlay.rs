use super::{ReadError, Tree, TreeEntry};
use std::collections::HashMap;

/// A tree with some files' contents replaced: what a tree would look like after `--fix`, checked
/// without writing anything (`--fix --dry-run`).
pub struct Overlay<'a> {
    base: &'a dyn Tree,
    replaced: HashMap<usize, Vec<u8>>,
}

impl<'a> Overlay<'a> {
    /// `replaced` maps entry indexes of `base` to their new contents.
    pub fn new(base: &'a dyn Tree, replaced: HashMap<usize, Vec<u8>>) -> Self {
        Overlay { base, replaced }
    }
}

impl Tree for Overlay<'_> {
    fn entries(&self) -> &[TreeEntry] {
        self.base.entries()
    }

    fn read(&self, index: usize) -> Result<Vec<u8>, ReadError> {
        match self.replaced.get(&index) {
            Some(c) => Ok(c.clone()),
            None => self.base.read(index),
        }
    }
}
