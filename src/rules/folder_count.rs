//! ## What it does
//! Checks that each `projects/<p>/` folder holds exactly one Project and each `code-repos/<r>/`
//! exactly one CodeRepo.
//!
//! ## Why is this bad?
//! The layout says `count: 1`, but Nautes never enforces it: an extra Project or CodeRepo in a
//! folder is loaded, and which one wins depends on file order. **beyond**
//!
//! A folder that holds resources but no Project (or CodeRepo) at all, say a binding left behind
//! when its code repo moved, is reported too, on its first resource: Nautes would load the
//! binding into a folder with no code repo of its own.
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
use crate::model::Resource;
use std::collections::BTreeMap;

/// The folder `path` sits in (`projects/<p>/x.yaml`: Project, `p`) and the kind that owns that
/// folder, by the layout of Projects and CodeRepos.
fn owning_folder(path: &str) -> Option<(Kind, &str)> {
    let [top, folder, _file] = path.split('/').collect::<Vec<_>>()[..] else {
        return None;
    };
    [Kind::Project, Kind::CodeRepo]
        .into_iter()
        .find(|k| k.layout() == (top, 3))
        .map(|k| (k, folder))
}

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
        // Every resource under `projects/<p>/` or `code-repos/<r>/`, by folder, in path order.
        let mut by_folder: BTreeMap<(Kind, &str), Vec<&Resource>> = BTreeMap::new();
        for r in &m.resources {
            if let Some(owner) = owning_folder(m.path(r)) {
                by_folder.entry(owner).or_default().push(r);
            }
        }
        for ((kind, folder), list) in by_folder {
            let top = kind.layout().0;
            let mut owners: Vec<&Resource> =
                list.iter().copied().filter(|r| r.kind == kind).collect();
            let Some(first) = list.first() else { continue };
            if owners.is_empty() {
                out.push(
                    Finding::at(
                        &META,
                        first,
                        &first.name,
                        format!("`{top}/{folder}/` holds no {kind}; the layout gives each folder one"),
                    )
                    .help(format!(
                        "add {kind} `{folder}` to `{top}/{folder}/`, or move these files to the folder of the {kind} they belong to"
                    )),
                );
                continue;
            }
            // The one named like the folder is the legitimate one; otherwise the first by path.
            owners.sort_by_key(|r| (r.name.value != folder, r.file));
            let keep = owners[0];
            for extra in &owners[1..] {
                out.push(
                    Finding::at(
                        &META,
                        extra,
                        &extra.name,
                        format!(
                            "`{top}/{folder}/` already holds {kind} `{}`; the layout allows one",
                            keep.name.value
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
