//! ## What it does
//! Checks that each `projects/<p>/` folder holds exactly one Project and each `code-repos/<r>/`
//! exactly one CodeRepo.
//!
//! ## Why is this bad?
//! The layout says `count: 1`, but Nautes never enforces it: an extra Project or CodeRepo in a
//! folder is loaded, and which one wins depends on file order. **beyond**
//!
//! A folder with no Project or CodeRepo is not reported here: its pipeline runtimes or bindings
//! then fail `ppr-project-not-found` or `binding-coderepo-not-found`, which say more.
//!
//! ## Example
//! ```text
//! projects/api-server/api-server.yaml   # Project api-server
//! projects/api-server/extra.yaml        # Project api-server-extra
//! ```
//!
//! ## How to fix
//! Give the extra resource a folder of its own, named like it.

use super::{Rule, RuleMeta, TreeCtx};
use crate::diagnostic::Finding;
use crate::model::Kind;
use rustc_hash::FxHashMap as HashMap;

super::meta!(
    "folder-count",
    Warning,
    Tree,
    "each project / code repo folder holds exactly one Project / CodeRepo"
);

impl Rule for Check {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_tree(&self, ctx: &TreeCtx<'_>, out: &mut Vec<Finding>) {
        let m = ctx.model;
        let mut by_folder: HashMap<(Kind, &str), Vec<&crate::model::Resource>> = HashMap::default();
        for r in m
            .resources
            .iter()
            .filter(|r| matches!(r.kind, Kind::Project | Kind::CodeRepo))
        {
            if let Some(folder) = super::folder_of(r.kind, m.path(r)) {
                by_folder.entry((r.kind, folder)).or_default().push(r);
            }
        }
        for ((kind, folder), mut list) in by_folder {
            if list.len() < 2 {
                continue;
            }
            // The one named like the folder is the legitimate one; otherwise the first by path.
            list.sort_by_key(|r| (r.name.value != folder, r.file));
            let keep = list[0];
            for extra in &list[1..] {
                let top = kind.layout().0;
                out.push(
                    Finding::at(
                        META.id,
                        extra,
                        &extra.name,
                        format!(
                            "`{top}/{folder}/` holds {} {kind}s; the layout allows one",
                            list.len()
                        ),
                    )
                    .help(format!(
                        "move {kind} `{}` to `{top}/{}/`",
                        extra.name.value, extra.name.value
                    ))
                    .related(
                        &m.paths[keep.file as usize],
                        keep.name.span,
                        format!("{kind} `{}` already lives in this folder", keep.name.value),
                    ),
                );
            }
        }
    }
}
