//! ## What it does
//! Checks that each namespace of a DeploymentRuntime (`destination.namespaces`, and the default,
//! the runtime's own name, when none is listed) is a DNS-1123 label: lower case letters, digits
//! and `-`, at most 63 characters.
//!
//! ## Why is this bad?
//! Kubernetes cannot create the namespace, so the deployment fails in the cluster long after the
//! commit. A runtime named with a `.` or longer than 63 characters is a valid name but not a valid
//! default namespace. **beyond**
//!
//! ## Example
//! ```yaml
//! spec:
//!   destination:
//!     environment: env-dev
//!     namespaces: [Team_A]
//! ```
//!
//! ## How to fix
//! Use a valid label (`team-a`), or list an explicit namespace when the runtime's name is not one.

use super::{Rule, RuleMeta, TreeCtx};
use crate::diagnostic::Finding;
use crate::model::Kind;

super::meta!(
    "dr-invalid-namespace",
    Error,
    Tree,
    "each namespace is a DNS-1123 label of at most 63 characters"
);

impl Rule for Check {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check_tree(&self, ctx: &TreeCtx<'_>, out: &mut Vec<Finding>) {
        for r in ctx.model.of_kind(Kind::DeploymentRuntime) {
            let Some(d) = r.dr() else { continue };
            if d.namespaces.is_empty() {
                let name = &r.name.value;
                if super::is_dns1123_subdomain(name) && !super::is_dns1123_label(name) {
                    out.push(
                        Finding::at(&META, r, &r.name, format!("the default namespace, the runtime's name `{name}`, is not a valid namespace (DNS-1123 label, at most 63 characters)"))
                            .help("list a valid namespace under `destination.namespaces`"),
                    );
                }
                continue;
            }
            for ns in &d.namespaces {
                if !super::is_dns1123_label(&ns.value) {
                    let lower = ns.value.to_ascii_lowercase().replace(['_', '.'], "-");
                    let help = if super::is_dns1123_label(&lower) {
                        format!("use `{lower}`")
                    } else {
                        "use lower case letters, digits and `-`, at most 63 characters".into()
                    };
                    out.push(Finding::at(&META, r, ns, format!("`{}` is not a valid namespace (DNS-1123 label, at most 63 characters)", ns.value)).help(help));
                }
            }
        }
    }
}
