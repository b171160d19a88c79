use std::net::IpAddr;
use std::path::Path;

use super::*;

/// Golden-file check: every `test_data/inventory/*.toml` has a `.expected` beside it with the
/// rendered outcome. `UPDATE_EXPECT=1 cargo test` rewrites them.
fn check(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let actual = match Inventory::from_toml(&text) {
        Ok(inv) => render(&inv),
        Err(e) => format!("error: {e}\n"),
    };
    let expected_path = path.with_extension("expected");
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&expected_path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&expected_path).unwrap_or_else(|_| {
        panic!(
            "missing {}; run with UPDATE_EXPECT=1",
            expected_path.display()
        )
    });
    assert_eq!(actual, expected, "{}", path.display());
}

fn render(inv: &Inventory) -> String {
    let mut out = String::new();
    fn tree(inv: &Inventory, o: &Organization, depth: usize, out: &mut String) {
        out.push_str(&format!("{}{} ({})\n", "  ".repeat(depth), o.id, o.kind));
        for c in inv.children(o.id.as_str()) {
            tree(inv, c, depth + 1, out);
        }
    }
    for root in inv.roots() {
        tree(inv, root, 0, &mut out);
    }
    out
}

#[test]
fn golden_inventories() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/inventory");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            check(&path);
            n += 1;
        }
    }
    assert!(n >= 4);
}

fn valid() -> Inventory {
    let text = include_str!("../../test_data/inventory/valid.toml");
    Inventory::from_toml(text).unwrap()
}

fn ids(scope: &Scope) -> Vec<&str> {
    scope.iter().map(OrgId::as_str).collect()
}

#[test]
fn visibility_follows_the_supervision_tree() {
    let inv = valid();
    assert_eq!(
        ids(&inv.visible_from("central")),
        [
            "central",
            "delegated",
            "mof",
            "moh",
            "pension",
            "power-east"
        ]
    );
    assert_eq!(
        ids(&inv.visible_from("delegated")),
        ["delegated", "pension", "power-east"]
    );
    assert_eq!(ids(&inv.visible_from("moh")), ["moh"]);
    assert!(inv.visible_from("nobody").is_empty());
    assert!(inv.supervises("central", "pension"));
    assert!(!inv.supervises("delegated", "moh"));
    assert!(!inv.supervises("pension", "delegated"));
    let path: Vec<_> = inv
        .ancestry("pension")
        .iter()
        .map(|o| o.id.as_str())
        .collect();
    assert_eq!(path, ["central", "delegated", "pension"]);
}

#[test]
fn address_lookups() {
    let inv = valid();
    let a = inv.addresses();
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert_eq!(a.owner(ip("10.10.3.4")).map(OrgId::as_str), Some("moh"));
    assert_eq!(a.owner(ip("10.11.255.255")).map(OrgId::as_str), Some("mof"));
    assert_eq!(a.owner(ip("fd00:11::1234")).map(OrgId::as_str), Some("mof"));
    assert_eq!(a.owner(ip("8.8.8.8")), None);
    assert!(!a.is_internal(ip("203.0.113.9")));
    assert_eq!(
        a.isolated_in(ip("10.10.200.7")).map(OrgId::as_str),
        Some("moh")
    );
    assert_eq!(a.isolated_in(ip("10.10.201.7")), None);
    assert_eq!(
        a.egress_gateway_of(ip("10.20.0.5")).map(OrgId::as_str),
        Some("pension")
    );
    let c = a.classify(ip("10.30.100.1"));
    assert!(c.internal && c.isolated_in.is_some() && c.egress_gateway_of.is_none());
}

#[test]
fn from_orgs_round_trips() {
    let inv = valid();
    let again = Inventory::from_orgs(inv.orgs().to_vec()).unwrap();
    assert_eq!(again.orgs(), inv.orgs());
}

mod visibility_properties {
    use proptest::prelude::*;

    use super::*;

    /// A random forest: org i's parent is some center among 0..i (or none).
    fn arb_inventory() -> impl Strategy<Value = Inventory> {
        (1usize..40)
            .prop_flat_map(|n| {
                (
                    Just(n),
                    proptest::collection::vec(any::<bool>(), n),
                    proptest::collection::vec(any::<prop::sample::Index>(), n),
                    proptest::collection::vec(any::<bool>(), n),
                )
            })
            .prop_map(|(n, centers, parents, has_parent)| {
                let mut orgs: Vec<Organization> = Vec::new();
                for i in 0..n {
                    let kind = if centers[i] || i == 0 {
                        OrgKind::Center
                    } else {
                        OrgKind::Ministry
                    };
                    let candidates: Vec<usize> = (0..i).filter(|&j| orgs[j].is_center()).collect();
                    let monitored_by = if has_parent[i] && !candidates.is_empty() {
                        Some(
                            orgs[candidates[parents[i].index(candidates.len())]]
                                .id
                                .clone(),
                        )
                    } else {
                        None
                    };
                    orgs.push(Organization {
                        id: OrgId::new(&format!("o{i}")).unwrap(),
                        name: format!("org {i}"),
                        kind,
                        sector: None,
                        monitored_by,
                        internal_networks: vec![],
                        egress_gateways: vec![],
                        isolated_networks: vec![],
                    });
                }
                Inventory::from_orgs(orgs).unwrap()
            })
    }

    proptest! {
        #[test]
        fn never_a_sibling_or_a_parent(inv in arb_inventory()) {
            for viewer in inv.orgs() {
                let scope = inv.visible_from(viewer.id.as_str());
                prop_assert!(scope.contains(viewer.id.as_str()));
                for other in inv.orgs() {
                    let visible = scope.contains(other.id.as_str());
                    // Visible exactly when the viewer is on the path from the root to `other`.
                    let on_path = inv.ancestry(other.id.as_str()).iter().any(|a| a.id == viewer.id);
                    prop_assert_eq!(visible, on_path, "{} sees {}?", viewer.id, other.id);
                    // Never a parent (strict ancestor) of the viewer.
                    if other.id != viewer.id && inv.supervises(other.id.as_str(), viewer.id.as_str()) {
                        prop_assert!(!visible);
                    }
                    // Never a sibling.
                    if other.id != viewer.id && other.monitored_by.is_some() && other.monitored_by == viewer.monitored_by {
                        prop_assert!(!visible);
                    }
                }
            }
        }
    }
}
