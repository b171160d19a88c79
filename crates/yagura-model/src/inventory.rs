//! The inventory (`inventory.toml`, DESIGN.md §4): organizations, the supervision tree, and
//! fast address lookups.
//!
//! Loading is two-step: the TOML is read into loose "raw" records (everything a string), then
//! validated into [`Organization`]s. Validation collects *every* problem, each naming the
//! organization and the field, so an operator fixes a file in one pass.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use prefix_trie::PrefixMap;
use serde::Deserialize;

use crate::{OrgId, OrgKind, Organization, Scope, Sector};

/// One problem found in an inventory, naming where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The organization (its id as written, or `#N` for the N-th `[[org]]` without a usable id).
    pub org: String,
    /// The field at fault.
    pub field: &'static str,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "org {}: {}: {}", self.org, self.field, self.message)
    }
}

/// Why an inventory could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("inventory is not valid TOML: {0}")]
    Syntax(#[from] toml::de::Error),
    #[error("inventory has {} problem(s):\n{}", .0.len(), ProblemList(.0))]
    Invalid(Vec<Problem>),
}

struct ProblemList<'a>(&'a [Problem]);

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "  - {p}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInventory {
    #[serde(default)]
    org: Vec<RawOrg>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrg {
    id: Option<String>,
    name: Option<String>,
    kind: Option<String>,
    sector: Option<String>,
    monitored_by: Option<String>,
    #[serde(default)]
    internal_networks: Vec<String>,
    #[serde(default)]
    egress_gateways: Vec<String>,
    #[serde(default)]
    isolated_networks: Vec<String>,
}

/// A validated inventory: organizations, the supervision tree and the address index.
#[derive(Debug, Clone)]
pub struct Inventory {
    orgs: Vec<Organization>,
    by_id: HashMap<OrgId, usize>,
    /// Direct children in the supervision tree (org index → child indexes), sorted by id.
    children: Vec<Vec<usize>>,
    addresses: AddressIndex,
}

impl Inventory {
    /// Parses and validates an `inventory.toml` text.
    pub fn from_toml(text: &str) -> Result<Inventory, InventoryError> {
        let raw: RawInventory = toml::from_str(text)?;
        Inventory::validate(raw)
    }

    /// Builds an inventory from organizations already in memory (validated the same way).
    pub fn from_orgs(orgs: Vec<Organization>) -> Result<Inventory, InventoryError> {
        let raw = RawInventory {
            org: orgs
                .into_iter()
                .map(|o| RawOrg {
                    id: Some(o.id.to_string()),
                    name: Some(o.name),
                    kind: Some(o.kind.as_str().to_owned()),
                    sector: o.sector.map(|s| s.as_str().to_owned()),
                    monitored_by: o.monitored_by.map(|m| m.to_string()),
                    internal_networks: o.internal_networks.iter().map(|n| n.to_string()).collect(),
                    egress_gateways: o.egress_gateways.iter().map(|n| n.to_string()).collect(),
                    isolated_networks: o.isolated_networks.iter().map(|n| n.to_string()).collect(),
                })
                .collect(),
        };
        Inventory::validate(raw)
    }

    fn validate(raw: RawInventory) -> Result<Inventory, InventoryError> {
        let mut problems = Vec::new();
        let mut orgs = Vec::with_capacity(raw.org.len());
        let mut seen = HashMap::new();
        let mut monitored_by_raw = Vec::with_capacity(raw.org.len());

        for (n, r) in raw.org.into_iter().enumerate() {
            let label = r.id.clone().unwrap_or_else(|| format!("#{}", n + 1));
            let mut problem = |field: &'static str, message: String| {
                problems.push(Problem {
                    org: label.clone(),
                    field,
                    message,
                });
            };
            let id = match r.id.as_deref().map(OrgId::new) {
                None => {
                    problem("id", "missing".into());
                    continue;
                }
                Some(Err(e)) => {
                    problem("id", e.to_string());
                    continue;
                }
                Some(Ok(id)) => id,
            };
            if let Some(first) = seen.insert(id.clone(), n) {
                problem(
                    "id",
                    format!(
                        "duplicate id: [[org]] #{} repeats the id of [[org]] #{}",
                        n + 1,
                        first + 1
                    ),
                );
                continue;
            }
            let name = r.name.unwrap_or_else(|| {
                problem("name", "missing".into());
                String::new()
            });
            let kind = match r.kind.as_deref() {
                None => {
                    problem("kind", "missing".into());
                    OrgKind::Ministry
                }
                Some(k) => OrgKind::ALL
                    .into_iter()
                    .find(|o| o.as_str() == k)
                    .unwrap_or_else(|| {
                        problem(
                            "kind",
                            format!(
                                "{k:?} is not one of {}",
                                OrgKind::ALL.map(OrgKind::as_str).join(", ")
                            ),
                        );
                        OrgKind::Ministry
                    }),
            };
            let sector = match r.sector.as_deref() {
                None => None,
                Some(s) => match Sector::parse(s) {
                    Some(sector) => Some(sector),
                    None => {
                        problem(
                            "sector",
                            format!(
                                "{s:?} is not one of the 13 sectors ({})",
                                Sector::ALL.map(Sector::as_str).join(", ")
                            ),
                        );
                        None
                    }
                },
            };
            let mut nets = |field: &'static str, values: Vec<String>| -> Vec<IpNet> {
                values
                    .into_iter()
                    .filter_map(|v| match parse_net(&v) {
                        Ok(net) => Some(net),
                        Err(e) => {
                            problem(field, format!("{v:?} is not a valid CIDR network: {e}"));
                            None
                        }
                    })
                    .collect()
            };
            let internal_networks = nets("internal_networks", r.internal_networks);
            let isolated_networks = nets("isolated_networks", r.isolated_networks);
            let egress_gateways = r
                .egress_gateways
                .into_iter()
                .filter_map(|v| match v.parse::<IpAddr>() {
                    Ok(ip) => Some(ip),
                    Err(e) => {
                        problem(
                            "egress_gateways",
                            format!("{v:?} is not an IP address: {e}"),
                        );
                        None
                    }
                })
                .collect();
            monitored_by_raw.push(r.monitored_by);
            orgs.push(Organization {
                id,
                name,
                kind,
                sector,
                monitored_by: None,
                internal_networks,
                egress_gateways,
                isolated_networks,
            });
        }

        let by_id: HashMap<OrgId, usize> = orgs
            .iter()
            .enumerate()
            .map(|(i, o)| (o.id.clone(), i))
            .collect();

        // Parent links: must name a known center, not the org itself.
        let mut parent: Vec<Option<usize>> = vec![None; orgs.len()];
        for (i, raw_parent) in monitored_by_raw.into_iter().enumerate() {
            let Some(p) = raw_parent else { continue };
            let label = orgs[i].id.to_string();
            let problem = |message: String| Problem {
                org: label.clone(),
                field: "monitored_by",
                message,
            };
            match by_id.get(p.as_str()) {
                None => problems.push(problem(format!("unknown organization {p:?}"))),
                Some(&j) if j == i => {
                    problems.push(problem("an organization cannot monitor itself".into()))
                }
                Some(&j) if !orgs[j].is_center() => problems.push(problem(format!(
                    "{p:?} is a {}, only a center can monitor other organizations",
                    orgs[j].kind
                ))),
                Some(&j) => {
                    parent[i] = Some(j);
                    orgs[i].monitored_by = Some(orgs[j].id.clone());
                }
            }
        }

        // Cycles: follow parents; a walk longer than the org count has looped.
        let mut reported = BTreeSet::new();
        for start in 0..orgs.len() {
            let mut cur = start;
            let mut steps = 0;
            while let Some(p) = parent[cur] {
                cur = p;
                steps += 1;
                if steps > orgs.len() {
                    break;
                }
            }
            if steps > orgs.len() {
                // Collect the members of the loop reachable from `start` once.
                let mut members = BTreeSet::new();
                let mut c = cur;
                while members.insert(orgs[c].id.to_string()) {
                    c = parent[c].unwrap_or(c);
                }
                if reported.insert(members.clone()) {
                    problems.push(Problem {
                        org: orgs[cur].id.to_string(),
                        field: "monitored_by",
                        message: format!(
                            "supervision cycle: {}",
                            members.into_iter().collect::<Vec<_>>().join(" → ")
                        ),
                    });
                }
            }
        }

        // Overlapping internal networks of different organizations.
        let mut all_nets: Vec<(IpNet, usize)> = orgs
            .iter()
            .enumerate()
            .flat_map(|(i, o)| o.internal_networks.iter().map(move |n| (*n, i)))
            .collect();
        all_nets.sort_by_key(|(n, _)| (n.network(), n.prefix_len()));
        for (a_pos, (a, ai)) in all_nets.iter().enumerate() {
            for (b, bi) in &all_nets[a_pos + 1..] {
                if b.network() > a.broadcast() {
                    break;
                }
                if ai != bi && (a.contains(b) || b.contains(a)) {
                    problems.push(Problem {
                        org: orgs[*bi].id.to_string(),
                        field: "internal_networks",
                        message: format!("{b} overlaps {a} of organization {}", orgs[*ai].id),
                    });
                }
            }
        }

        if !problems.is_empty() {
            return Err(InventoryError::Invalid(problems));
        }

        let mut children = vec![Vec::new(); orgs.len()];
        for (i, p) in parent.iter().enumerate() {
            if let Some(p) = p {
                children[*p].push(i);
            }
        }
        for c in &mut children {
            c.sort_by(|a, b| orgs[*a].id.cmp(&orgs[*b].id));
        }
        let addresses = AddressIndex::build(&orgs);
        Ok(Inventory {
            orgs,
            by_id,
            children,
            addresses,
        })
    }

    pub fn orgs(&self) -> &[Organization] {
        &self.orgs
    }

    pub fn get(&self, id: &str) -> Option<&Organization> {
        self.by_id.get(id).map(|&i| &self.orgs[i])
    }

    pub fn len(&self) -> usize {
        self.orgs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.orgs.is_empty()
    }

    /// Organizations without a supervisor (normally the central center alone).
    pub fn roots(&self) -> impl Iterator<Item = &Organization> {
        self.orgs.iter().filter(|o| o.monitored_by.is_none())
    }

    /// Direct children of `id` in the supervision tree.
    pub fn children(&self, id: &str) -> impl Iterator<Item = &Organization> {
        self.by_id
            .get(id)
            .into_iter()
            .flat_map(move |&i| self.children[i].iter().map(move |&c| &self.orgs[c]))
    }

    /// The visibility rule: `id` and every organization it supervises, transitively.
    /// Never a sibling, never a parent. An unknown id sees nothing.
    pub fn visible_from(&self, id: &str) -> Scope {
        let mut out = BTreeSet::new();
        let Some(&start) = self.by_id.get(id) else {
            return Scope::none();
        };
        let mut stack = vec![start];
        while let Some(i) = stack.pop() {
            if out.insert(self.orgs[i].id.clone()) {
                stack.extend(self.children[i].iter().copied());
            }
        }
        Scope::orgs(out)
    }

    /// Does `supervisor` supervise `org`, directly or transitively (or is it the same org)?
    pub fn supervises(&self, supervisor: &str, org: &str) -> bool {
        let mut cur = self.get(org);
        while let Some(o) = cur {
            if o.id.as_str() == supervisor {
                return true;
            }
            cur = o.monitored_by.as_ref().and_then(|p| self.get(p.as_str()));
        }
        false
    }

    /// Path from the root down to `id` (inclusive).
    pub fn ancestry(&self, id: &str) -> Vec<&Organization> {
        let mut path = Vec::new();
        let mut cur = self.get(id);
        while let Some(o) = cur {
            path.push(o);
            cur = o.monitored_by.as_ref().and_then(|p| self.get(p.as_str()));
        }
        path.reverse();
        path
    }

    pub fn addresses(&self) -> &AddressIndex {
        &self.addresses
    }

    /// Counts per kind, for summaries.
    pub fn count_by_kind(&self) -> BTreeMap<OrgKind, usize> {
        let mut m = BTreeMap::new();
        for o in &self.orgs {
            *m.entry(o.kind).or_insert(0) += 1;
        }
        m
    }
}

fn parse_net(s: &str) -> Result<IpNet, String> {
    let net: IpNet = s
        .parse()
        .map_err(|e: ipnet::AddrParseError| e.to_string())?;
    if net.trunc() != net {
        return Err(format!("host bits are set (did you mean {}?)", net.trunc()));
    }
    Ok(net)
}

/// What the inventory says about one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AddressClass<'a> {
    /// The organization whose internal networks contain the address (longest prefix).
    pub owner: Option<&'a OrgId>,
    /// Inside some organization's internal networks.
    pub internal: bool,
    /// Inside some organization's isolated networks (and which).
    pub isolated_in: Option<&'a OrgId>,
    /// A sanctioned egress gateway (and whose).
    pub egress_gateway_of: Option<&'a OrgId>,
}

/// Prefix tries over the inventory's networks: O(prefix length) lookups, no linear scans.
#[derive(Debug, Clone, Default)]
pub struct AddressIndex {
    internal_v4: PrefixMap<Ipv4Net, OrgId>,
    internal_v6: PrefixMap<Ipv6Net, OrgId>,
    isolated_v4: PrefixMap<Ipv4Net, OrgId>,
    isolated_v6: PrefixMap<Ipv6Net, OrgId>,
    gateways: HashMap<IpAddr, OrgId>,
}

impl AddressIndex {
    fn build(orgs: &[Organization]) -> AddressIndex {
        let mut idx = AddressIndex::default();
        for o in orgs {
            for net in &o.internal_networks {
                match net {
                    IpNet::V4(n) => idx.internal_v4.insert(*n, o.id.clone()),
                    IpNet::V6(n) => idx.internal_v6.insert(*n, o.id.clone()),
                };
            }
            for net in &o.isolated_networks {
                match net {
                    IpNet::V4(n) => idx.isolated_v4.insert(*n, o.id.clone()),
                    IpNet::V6(n) => idx.isolated_v6.insert(*n, o.id.clone()),
                };
            }
            for gw in &o.egress_gateways {
                idx.gateways.insert(*gw, o.id.clone());
            }
        }
        idx
    }

    /// The organization owning `ip` (longest matching internal network).
    pub fn owner(&self, ip: IpAddr) -> Option<&OrgId> {
        lpm(&self.internal_v4, &self.internal_v6, ip)
    }

    pub fn is_internal(&self, ip: IpAddr) -> bool {
        self.owner(ip).is_some()
    }

    /// The organization whose isolated networks contain `ip`.
    pub fn isolated_in(&self, ip: IpAddr) -> Option<&OrgId> {
        lpm(&self.isolated_v4, &self.isolated_v6, ip)
    }

    pub fn egress_gateway_of(&self, ip: IpAddr) -> Option<&OrgId> {
        self.gateways.get(&ip)
    }

    pub fn classify(&self, ip: IpAddr) -> AddressClass<'_> {
        let owner = self.owner(ip);
        AddressClass {
            owner,
            internal: owner.is_some(),
            isolated_in: self.isolated_in(ip),
            egress_gateway_of: self.egress_gateway_of(ip),
        }
    }
}

fn lpm<'a>(
    v4: &'a PrefixMap<Ipv4Net, OrgId>,
    v6: &'a PrefixMap<Ipv6Net, OrgId>,
    ip: IpAddr,
) -> Option<&'a OrgId> {
    match ip {
        IpAddr::V4(a) => v4.get_lpm(&Ipv4Net::from(a)).map(|(_, v)| v),
        IpAddr::V6(a) => v6.get_lpm(&Ipv6Net::from(a)).map(|(_, v)| v),
    }
}

#[cfg(test)]
mod tests;
