//! The monitored estate: organizations, their networks, hosts, users and log formats.
//!
//! The estate is a pure function of `(seed, orgs, hosts)`. It is written out as
//! `inventory.toml` (DESIGN.md §4) and drives both benign telemetry and the campaigns.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv4Net};
use yagura_model::{Inventory, OrgId, OrgKind, Organization, Sector};

use crate::SimError;
use crate::rng::SimRng;

/// How an organization's sensors write their logs (chosen by organization kind so that every
/// format of the readers appears in a default estate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebFormat {
    /// Squid native `access.log` at the proxy.
    Squid,
    /// Suricata EVE `http`/`tls` events of clients talking to the explicit proxy.
    Eve,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetFormat {
    ZeekTsv,
    ZeekJson,
    Eve,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirewallFormat {
    /// RFC 5424 with key=value messages.
    Syslog5424,
    /// RFC 3164 with netfilter `LOG` messages.
    Syslog3164,
}

/// Which files an organization has and in which format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Formats {
    pub web: WebFormat,
    /// DNS and border flows.
    pub net: NetFormat,
    pub firewall: Option<FirewallFormat>,
}

/// One end-user PC with its primary user.
#[derive(Debug, Clone)]
pub struct Pc {
    pub name: String,
    pub ip: Ipv4Addr,
    pub user: String,
    /// How busy the user is on the web (multiplies the daily volume).
    pub activity: f64,
    /// Works late (activity extends into the evening).
    pub late_worker: bool,
}

/// A server of the organization.
#[derive(Debug, Clone)]
pub struct Server {
    pub name: String,
    pub ip: Ipv4Addr,
}

/// An organization as the simulator sees it.
#[derive(Debug, Clone)]
pub struct OrgPlan {
    pub org: Organization,
    /// Index in the estate (also the second octet of its network).
    pub index: usize,
    pub net: Ipv4Net,
    /// Mail and web domain (`moh.go.example`).
    pub domain: String,
    /// Active Directory NetBIOS domain (`MOH`).
    pub ad_domain: String,
    pub proxy: Ipv4Addr,
    /// The address the organization's traffic leaves by (proxy, NAT or the security cloud).
    pub egress: Ipv4Addr,
    pub resolver: Ipv4Addr,
    /// Where the internal resolver forwards: a public resolver (the resolver is then a
    /// sanctioned connection point), or for a city the security cloud's resolver.
    pub upstream_dns: Ipv4Addr,
    pub dc: Server,
    pub mail_gw: Server,
    pub file_server: Server,
    pub servers: Vec<Server>,
    pub pcs: Vec<Pc>,
    /// Hosts in the isolated network (resident records, control systems, classified systems).
    pub isolated: Vec<Server>,
    pub isolated_net: Option<Ipv4Net>,
    /// Local governments' second layer: the segment connected to the inter-government network
    /// (LGWAN), never to the internet (listed in `isolated_networks` too).
    pub lgwan: Vec<Server>,
    /// The prefecture's LGWAN hub, which every local government's LGWAN segment talks to.
    pub lgwan_hub: Option<Ipv4Addr>,
    pub service_accounts: Vec<String>,
    pub admins: Vec<String>,
    pub formats: Formats,
}

impl OrgPlan {
    pub fn id(&self) -> &str {
        self.org.id.as_str()
    }

    pub fn email_of(&self, user: &str) -> String {
        format!("{user}@{}", self.domain)
    }
}

/// The estate: the inventory plus the simulator's plan of every organization.
#[derive(Debug, Clone)]
pub struct Estate {
    pub inventory: Inventory,
    pub orgs: Vec<OrgPlan>,
}

const MINISTRIES: &[(&str, &str)] = &[
    ("moh", "Ministry of Health"),
    ("mof", "Ministry of Finance"),
    ("mext", "Ministry of Education"),
    ("meti", "Ministry of Economy and Industry"),
    ("mlit", "Ministry of Land and Transport"),
    ("moj", "Ministry of Justice"),
    ("mofa", "Ministry of Foreign Affairs"),
    ("maff", "Ministry of Agriculture"),
    ("moe", "Ministry of the Environment"),
    ("mic", "Ministry of Internal Affairs"),
];
const AGENCIES: &[(&str, &str)] = &[
    ("aist", "Institute of Industrial Science"),
    ("jasso", "Student Services Organization"),
    ("nite", "Institute of Technology and Evaluation"),
    ("jetro", "External Trade Organization"),
    (
        "nict",
        "Institute of Information and Communications Technology",
    ),
];
const DESIGNATED: &[(&str, &str)] = &[
    ("pension", "Pension Service"),
    ("hwy", "Expressway Company"),
    ("post", "Postal Holdings"),
];
const CITIES: &[(&str, &str)] = &[
    ("city-minato", "Minato City"),
    ("city-aoba", "Aoba City"),
    ("city-kita", "Kita City"),
    ("city-nishi", "Nishi City"),
];
const CI: &[(&str, &str, Sector)] = &[
    ("power-east", "East Electric Power", Sector::ElectricPower),
    ("rail-central", "Central Railway", Sector::Railways),
    ("bank-sakura", "Sakura Bank", Sector::Finance),
    ("gas-metro", "Metro Gas", Sector::Gas),
    ("air-sora", "Sora Airlines", Sector::Aviation),
    ("water-kawa", "Kawa Waterworks", Sector::Water),
    ("hosp-univ", "University Hospital", Sector::Medical),
    (
        "telco-hikari",
        "Hikari Telecom",
        Sector::InformationCommunications,
    ),
    ("logi-express", "Express Logistics", Sector::Logistics),
    ("chem-kasei", "Kasei Chemicals", Sector::Chemicals),
    ("card-pay", "Pay Card Services", Sector::CreditCards),
    ("oil-nihon", "Nihon Petroleum", Sector::Petroleum),
];

const SURNAMES: &[&str] = &[
    "sato",
    "suzuki",
    "takahashi",
    "tanaka",
    "ito",
    "watanabe",
    "yamamoto",
    "nakamura",
    "kobayashi",
    "kato",
    "yoshida",
    "yamada",
    "sasaki",
    "yamaguchi",
    "matsumoto",
    "inoue",
    "kimura",
    "hayashi",
    "shimizu",
    "yamazaki",
    "mori",
    "abe",
    "ikeda",
    "hashimoto",
    "yamashita",
    "ishikawa",
    "nakajima",
    "maeda",
    "fujita",
    "ogawa",
    "goto",
    "okada",
    "hasegawa",
    "murakami",
    "kondo",
    "ishii",
    "saito",
    "sakamoto",
    "endo",
    "aoki",
    "fujii",
    "nishimura",
    "fukuda",
    "ota",
    "miura",
    "fujiwara",
    "okamoto",
    "matsuda",
    "nakagawa",
    "nakano",
];

/// The kind sequence of monitored organizations after the two centers.
const KIND_CYCLE: [OrgKind; 8] = [
    OrgKind::Ministry,
    OrgKind::DesignatedCorporation,
    OrgKind::CiOperator,
    OrgKind::LocalGovernment,
    OrgKind::Agency,
    OrgKind::Ministry,
    OrgKind::CiOperator,
    OrgKind::Agency,
];

/// The port of every organization's explicit web proxy.
pub const PROXY_PORT: u16 = 8080;

/// The prefecture's hub on the inter-government network (its LGWAN segment, `10.3.100.0/24`).
pub const LGWAN_HUB: Ipv4Addr = Ipv4Addr::new(10, 3, 100, 10);

/// The public resolver the estate's resolvers forward to.
pub const PUBLIC_RESOLVER: Ipv4Addr = Ipv4Addr::new(61, 122, 112, 97);

/// Smallest estate that still has every kind of organization.
pub const MIN_ORGS: usize = 8;
/// Largest estate (one /16 per organization under 10.0.0.0/8, with room for the prefecture).
pub const MAX_ORGS: usize = 200;

/// Builds the estate.
pub fn build(seed: u64, n_orgs: usize, hosts: usize) -> Result<Estate, SimError> {
    if !(MIN_ORGS..=MAX_ORGS).contains(&n_orgs) {
        return Err(SimError::Config(format!(
            "--orgs must be between {MIN_ORGS} and {MAX_ORGS} (got {n_orgs})"
        )));
    }
    if !(4..=20_000).contains(&hosts) {
        return Err(SimError::Config(format!(
            "--hosts must be between 4 and 20000 (got {hosts})"
        )));
    }
    // Names: the two centers, the prefecture running the shared security cloud, then the cycle.
    let mut specs: Vec<(String, String, OrgKind, Option<Sector>)> = vec![
        (
            "central".into(),
            "Central monitoring center".into(),
            OrgKind::Center,
            None,
        ),
        (
            "delegated".into(),
            "Delegated monitoring center (technical agency)".into(),
            OrgKind::Center,
            None,
        ),
        (
            "pref-cloud".into(),
            "Prefecture (shared security cloud)".into(),
            OrgKind::LocalGovernment,
            Some(Sector::Government),
        ),
    ];
    let mut counters = [0usize; 6];
    let mut i = 0;
    while specs.len() < n_orgs {
        let kind = KIND_CYCLE[i % KIND_CYCLE.len()];
        i += 1;
        let slot = kind as usize;
        let n = counters[slot];
        counters[slot] += 1;
        let pick = |list: &[(&str, &str)], prefix: &str, label: &str| -> (String, String) {
            match list.get(n) {
                Some((id, name)) => ((*id).to_owned(), (*name).to_owned()),
                None => (
                    format!("{prefix}-{:02}", n - list.len() + 1),
                    format!("{label} {}", n - list.len() + 1),
                ),
            }
        };
        let (id, name, sector) = match kind {
            OrgKind::Ministry => {
                let (a, b) = pick(MINISTRIES, "ministry", "Ministry");
                (a, b, Some(Sector::Government))
            }
            OrgKind::Agency => {
                let (a, b) = pick(AGENCIES, "agency", "Administrative agency");
                (a, b, Some(Sector::Government))
            }
            OrgKind::DesignatedCorporation => {
                let (a, b) = pick(DESIGNATED, "corp", "Designated corporation");
                (a, b, Some(Sector::Government))
            }
            OrgKind::LocalGovernment => {
                let (a, b) = pick(CITIES, "city", "City");
                (a, b, Some(Sector::Government))
            }
            OrgKind::CiOperator => match CI.get(n) {
                Some((id, name, sector)) => ((*id).into(), (*name).into(), Some(*sector)),
                None => {
                    let sector = Sector::ALL
                        .iter()
                        .copied()
                        .filter(|s| *s != Sector::Government)
                        .nth(n % 12)
                        .unwrap_or(Sector::Finance);
                    (
                        format!("ci-{:02}", n - CI.len() + 1),
                        format!("{} operator {}", sector.as_str(), n - CI.len() + 1),
                        Some(sector),
                    )
                }
            },
            OrgKind::Center => continue,
        };
        specs.push((id, name, kind, sector));
    }

    let cloud_proxy = Ipv4Addr::new(10, 3, 0, 5);
    let mut plans = Vec::with_capacity(n_orgs);
    for (index, (id, name, kind, sector)) in specs.into_iter().enumerate() {
        let mut rng = SimRng::new(seed, &format!("estate/{id}"));
        let oid = OrgId::new(&id).map_err(|e| SimError::Config(e.to_string()))?;
        let octet = u8::try_from(index + 1)
            .map_err(|_| SimError::Config("too many organizations".into()))?;
        let net = Ipv4Net::new(Ipv4Addr::new(10, octet, 0, 0), 16)
            .map_err(|e| SimError::Config(e.to_string()))?;
        let at = |c: u8, d: u8| Ipv4Addr::new(10, octet, c, d);
        let monitored_by = match kind {
            OrgKind::Center if id == "central" => None,
            OrgKind::Center => Some("central"),
            OrgKind::Agency | OrgKind::DesignatedCorporation => Some("delegated"),
            _ => Some("central"),
        }
        .map(OrgId::new)
        .transpose()
        .map_err(|e| SimError::Config(e.to_string()))?;
        let tld = match kind {
            OrgKind::LocalGovernment => "lg.example",
            OrgKind::CiOperator => "co.example",
            _ => "go.example",
        };
        let domain = format!("{id}.{tld}");
        let ad_domain: String = id
            .split('-')
            .next()
            .unwrap_or(&id)
            .to_ascii_uppercase()
            .chars()
            .take(15)
            .collect();
        let is_city = kind == OrgKind::LocalGovernment && id != "pref-cloud";
        let formats = match kind {
            OrgKind::Center | OrgKind::Ministry => Formats {
                web: WebFormat::Squid,
                net: NetFormat::ZeekTsv,
                firewall: None,
            },
            OrgKind::Agency | OrgKind::DesignatedCorporation => Formats {
                web: WebFormat::Squid,
                net: NetFormat::ZeekJson,
                firewall: None,
            },
            OrgKind::LocalGovernment => Formats {
                web: WebFormat::Squid,
                net: NetFormat::ZeekTsv,
                firewall: Some(FirewallFormat::Syslog3164),
            },
            OrgKind::CiOperator => Formats {
                web: WebFormat::Eve,
                net: NetFormat::Eve,
                firewall: Some(FirewallFormat::Syslog5424),
            },
        };
        let proxy = at(0, 5);
        let egress = if is_city { cloud_proxy } else { proxy };
        let short = id
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(6)
            .collect::<String>();
        let server = |name: &str, d: u8| Server {
            name: format!("{name}.{domain}"),
            ip: at(0, d),
        };
        let dc = server(&format!("dc01-{short}"), 10);
        let mail_gw = server("mx1", 25);
        let file_server = server(&format!("fs01-{short}"), 20);
        let servers: Vec<Server> = (0..8u8)
            .map(|k| server(&format!("srv{:02}-{short}", k + 1), 30 + k))
            .collect();
        // Size varies by kind around the requested number of PCs.
        let scale = match kind {
            OrgKind::Center => 0.5,
            OrgKind::Ministry => 1.5,
            OrgKind::DesignatedCorporation => 1.2,
            OrgKind::LocalGovernment if !is_city => 0.3,
            _ => 1.0,
        };
        let n_pcs = ((hosts as f64 * scale).round() as usize).clamp(4, 20_000);
        let mut used = std::collections::HashSet::new();
        let mut pcs = Vec::with_capacity(n_pcs);
        for h in 0..n_pcs {
            let surname = rng.pick(SURNAMES).copied().unwrap_or("sato");
            let mut user = String::new();
            let _ = write!(user, "{surname}.");
            rng.letters(1, &mut user);
            while !used.insert(user.clone()) {
                rng.letters(1, &mut user);
            }
            let c = u8::try_from(10 + h / 250).unwrap_or(99);
            let d = u8::try_from(10 + h % 250).unwrap_or(255);
            pcs.push(Pc {
                name: format!("pc-{:04}", h + 1),
                ip: at(c, d),
                user,
                activity: (0.6 + rng.exp(0.4)).min(2.5),
                late_worker: rng.chance(0.12),
            });
        }
        let (isolated_net, isolated) = match kind {
            OrgKind::Center => (None, Vec::new()),
            _ => {
                let n =
                    Ipv4Net::new(at(200, 0), 24).map_err(|e| SimError::Config(e.to_string()))?;
                let label = match kind {
                    OrgKind::LocalGovernment => "juki",
                    OrgKind::CiOperator => "scada",
                    _ => "secure",
                };
                let hosts = (0..4u8)
                    .map(|k| Server {
                        name: format!("{label}{:02}.{domain}", k + 1),
                        ip: at(200, 10 + k),
                    })
                    .collect();
                (Some(n), hosts)
            }
        };
        // The three layers of a local government: the resident-number network (isolated
        // above, no connection at all), the LGWAN-connected segment (reaches only the
        // inter-government network through the prefecture's hub) and the internet (PCs, only
        // through the prefecture's security cloud).
        let (lgwan_net, lgwan) = if kind == OrgKind::LocalGovernment {
            let n = Ipv4Net::new(at(100, 0), 24).map_err(|e| SimError::Config(e.to_string()))?;
            let hosts = ["lgwan-mail", "lgwan-app"]
                .iter()
                .enumerate()
                .map(|(k, label)| Server {
                    name: format!("{label}.{domain}"),
                    ip: at(100, 10 + k as u8),
                })
                .collect();
            (Some(n), hosts)
        } else {
            (None, Vec::new())
        };
        let lgwan_hub = (kind == OrgKind::LocalGovernment).then_some(LGWAN_HUB);
        let service_accounts = vec![
            "svc-backup".to_owned(),
            "svc-sql".to_owned(),
            "svc-scan".to_owned(),
        ];
        let admins = vec![format!("adm-{}", short), "administrator".to_owned()];
        let internal_networks = vec![IpNet::V4(net)];
        let (egress_gateways, upstream_dns) = if is_city {
            (vec![IpAddr::V4(egress)], Ipv4Addr::new(10, 3, 0, 53))
        } else {
            (
                vec![IpAddr::V4(egress), IpAddr::V4(at(0, 53))],
                PUBLIC_RESOLVER,
            )
        };
        plans.push(OrgPlan {
            org: Organization {
                id: oid,
                name,
                kind,
                sector,
                monitored_by,
                internal_networks,
                egress_gateways,
                isolated_networks: isolated_net
                    .into_iter()
                    .chain(lgwan_net)
                    .map(IpNet::V4)
                    .collect(),
            },
            index,
            net,
            domain,
            ad_domain,
            proxy,
            egress,
            resolver: at(0, 53),
            upstream_dns,
            dc,
            mail_gw,
            file_server,
            servers,
            pcs,
            isolated,
            isolated_net,
            lgwan,
            lgwan_hub,
            service_accounts,
            admins,
            formats,
        });
    }
    let inventory = Inventory::from_orgs(plans.iter().map(|p| p.org.clone()).collect())
        .map_err(|e| SimError::Config(format!("generated inventory is invalid: {e}")))?;
    Ok(Estate {
        inventory,
        orgs: plans,
    })
}

impl Estate {
    /// `inventory.toml` (DESIGN.md §4).
    pub fn inventory_toml(&self) -> String {
        let mut s =
            String::from("# Simulated estate written by `yagura sim` (DESIGN.md section 4).\n");
        for p in &self.orgs {
            let o = &p.org;
            let _ = writeln!(s, "\n[[org]]");
            let _ = writeln!(s, "id = {}", toml_str(o.id.as_str()));
            let _ = writeln!(s, "name = {}", toml_str(&o.name));
            let _ = writeln!(s, "kind = {}", toml_str(o.kind.as_str()));
            if let Some(sector) = o.sector {
                let _ = writeln!(s, "sector = {}", toml_str(sector.as_str()));
            }
            if let Some(m) = &o.monitored_by {
                let _ = writeln!(s, "monitored_by = {}", toml_str(m.as_str()));
            }
            let list =
                |v: Vec<String>| v.iter().map(|x| toml_str(x)).collect::<Vec<_>>().join(", ");
            let _ = writeln!(
                s,
                "internal_networks = [{}]",
                list(o.internal_networks.iter().map(|n| n.to_string()).collect())
            );
            let _ = writeln!(
                s,
                "egress_gateways = [{}]",
                list(o.egress_gateways.iter().map(|n| n.to_string()).collect())
            );
            if !o.isolated_networks.is_empty() {
                let _ = writeln!(
                    s,
                    "isolated_networks = [{}]",
                    list(o.isolated_networks.iter().map(|n| n.to_string()).collect())
                );
            }
        }
        s
    }

    pub fn get(&self, id: &str) -> Option<&OrgPlan> {
        self.orgs.iter().find(|o| o.id() == id)
    }
}

fn toml_str(s: &str) -> String {
    // TOML basic strings share JSON's escapes for everything the estate contains.
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estate_has_every_kind_and_a_valid_inventory() {
        let e = build(1, 12, 20).unwrap();
        let inv = Inventory::from_toml(&e.inventory_toml()).unwrap();
        assert_eq!(inv.len(), 12);
        let kinds = inv.count_by_kind();
        for k in OrgKind::ALL {
            assert!(kinds.get(&k).copied().unwrap_or(0) >= 1, "{k}");
        }
        assert!(inv.supervises("central", "delegated"));
        assert!(inv.supervises("delegated", "pension"));
        assert!(!inv.supervises("delegated", "moh"));
        // The city leaves only through the prefecture's security cloud.
        let city = e.get("city-minato").unwrap();
        assert_eq!(
            inv.addresses()
                .egress_gateway_of(IpAddr::V4(city.egress))
                .map(|o| o.as_str()),
            Some("city-minato")
        );
        assert_eq!(
            inv.addresses()
                .owner(IpAddr::V4(city.egress))
                .map(|o| o.as_str()),
            Some("pref-cloud")
        );
        let juki = city.isolated.first().unwrap();
        assert_eq!(
            inv.addresses()
                .isolated_in(IpAddr::V4(juki.ip))
                .map(|o| o.as_str()),
            Some("city-minato")
        );
    }

    #[test]
    fn fifty_orgs_fit_and_bounds_are_errors() {
        let e = build(1, 50, 4).unwrap();
        assert_eq!(e.orgs.len(), 50);
        let mut ids: Vec<&str> = e.orgs.iter().map(|o| o.id()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 50);
        assert!(build(1, 7, 10).is_err());
        assert!(build(1, 12, 0).is_err());
    }

    #[test]
    fn same_seed_same_estate() {
        let a = build(9, 12, 10).unwrap().inventory_toml();
        let b = build(9, 12, 10).unwrap().inventory_toml();
        assert_eq!(a, b);
        let pa = build(9, 12, 10).unwrap().orgs[3].pcs[0].user.clone();
        let pb = build(9, 12, 10).unwrap().orgs[3].pcs[0].user.clone();
        assert_eq!(pa, pb);
    }
}
