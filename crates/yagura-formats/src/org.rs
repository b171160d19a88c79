//! Tenancy from the telemetry directory layout: `ROOT/<org-id>/**/<file>` (DESIGN.md §4).

use std::path::{Component, Path};

use yagura_model::OrgId;

/// The organization a file belongs to: the first directory under `root`, when it is a valid
/// org id. `None` when `file` is not under `root` or the directory name is not an org id.
pub fn org_from_path(root: &Path, file: &Path) -> Option<OrgId> {
    let rel = file.strip_prefix(root).ok()?;
    let mut comps = rel.components();
    let first = comps.next()?;
    // The org directory must contain the file, not be the file.
    comps.next()?;
    match first {
        Component::Normal(name) => OrgId::new(name.to_str()?).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(root: &str, file: &str, expect: Option<&str>) {
        let got = org_from_path(Path::new(root), Path::new(file));
        assert_eq!(got.as_ref().map(OrgId::as_str), expect, "{root} {file}");
    }

    #[test]
    fn org_dirs() {
        check("/t", "/t/moh/proxy/access.log", Some("moh"));
        check("/t", "/t/moh/access.log", Some("moh"));
        check("/t/", "/t/city-01/a/b/c.log.gz", Some("city-01"));
        check("/t", "/t/access.log", None);
        check("/t", "/t/Bad_Org/access.log", None);
        check("/t", "/elsewhere/moh/access.log", None);
        check("t", "t/moh/x.log", Some("moh"));
    }
}
