//! Incident correlation: alerts → incidents → campaigns. Deterministic: the same alerts and
//! the same existing incidents always give the same incidents, ids included.
//!
//! **Incidents.** Alerts of one organization are joined when they share an entity and their
//! `[first_seen, last_seen]` ranges are at most [`CorrelationConfig::window_secs`] apart
//! (chains count: A–B–C in one incident even if A and C are further apart). Entities:
//! - host: the host name, and the source address (the machine that did it, or the attacker
//!   address of an inbound attack);
//! - user: the user name, except generic service principals (`system`, `local service`, …);
//! - destination: the domain, the URL's host and the destination address when it is public
//!   (internal destinations such as the DNS resolver are shared by every host and would join
//!   unrelated alerts).
//!
//! Existing open incidents take part as seeds: an alert that correlates with one joins it
//! (keeping its id, assignee and status; a contained, eradicated or recovered incident that
//! gets new alerts moves back to investigating). Two existing incidents are never merged
//! into one. Alerts already in an incident are not correlated again. A group of new alerts
//! opens an incident only when one of them is at least [`CorrelationConfig::open_severity`];
//! weaker alerts only join incidents.
//!
//! Incident severity is the highest of its alerts, raised one level when three or more
//! distinct rules corroborate each other. Incident ids are UUIDv5 over the organization and
//! the earliest alert id, so re-running a batch yields the same incidents.
//!
//! **Campaigns.** Incidents of different organizations that share infrastructure (a
//! destination domain or public address), with time ranges at most
//! [`CorrelationConfig::campaign_window_secs`] apart, are linked into a campaign; every
//! incident, open or closed, takes part. A campaign keeps the id already carried by its
//! earliest member, else gets a UUIDv5 over its earliest incident id.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use uuid::Uuid;
use yagura_model::{Alert, Campaign, Incident, IncidentStatus, OrgId, Severity, Timestamp};

const INCIDENT_NAMESPACE: Uuid = Uuid::from_u128(0x3c1d_7e52_0a94_4b6f_8d2e_61f0_c4a9_b713);
const CAMPAIGN_NAMESPACE: Uuid = Uuid::from_u128(0x5a8e_19c4_d273_4e0b_9f61_0b2d_e8c7_4a25);

/// User names shared by every machine: never evidence that two alerts are related.
const GENERIC_USERS: &[&str] = &[
    "-",
    "system",
    "nt authority\\system",
    "local service",
    "network service",
    "anonymous logon",
    "anonymous",
    "root",
    "nobody",
];

/// How alerts are correlated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CorrelationConfig {
    /// Largest gap between alerts sharing an entity in one incident.
    pub window_secs: i64,
    /// Largest gap between incidents sharing infrastructure in one campaign.
    pub campaign_window_secs: i64,
    /// Weakest severity with which new alerts open an incident.
    pub open_severity: Severity,
}

impl Default for CorrelationConfig {
    fn default() -> Self {
        CorrelationConfig {
            window_secs: 24 * 3600,
            campaign_window_secs: 30 * 86_400,
            open_severity: Severity::Medium,
        }
    }
}

/// What a correlation run produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Correlation {
    /// New incidents and existing ones that changed (alerts, times, severity, status or
    /// campaign), sorted by id.
    pub incidents: Vec<Incident>,
    /// Every campaign over the existing and new incidents, sorted by id.
    pub campaigns: Vec<Campaign>,
    /// Alerts that joined an existing incident, opened a new one, or stayed alone (below
    /// `open_severity` with nothing to join).
    pub joined: usize,
    pub opened: usize,
    pub unassigned: usize,
}

/// The entity keys of an alert: (kind, value) with kind `host`, `user` or `dst`.
fn alert_keys(a: &Alert) -> Vec<(Kind, String)> {
    let e = &a.entities;
    let mut keys = Vec::new();
    if let Some(h) = e.host.as_deref().map(norm).filter(|h| !h.is_empty()) {
        keys.push((Kind::Host, h));
    }
    if let Some(ip) = e.src_ip.as_deref().and_then(canonical_ip) {
        keys.push((Kind::Host, ip));
    }
    if let Some(u) = e.user.as_deref().map(norm)
        && !u.is_empty()
        && !GENERIC_USERS.contains(&u.as_str())
    {
        keys.push((Kind::User, u));
    }
    if let Some(d) = e
        .domain
        .as_deref()
        .map(norm_domain)
        .filter(|d| !d.is_empty())
    {
        keys.push((Kind::Dst, d));
    }
    if let Some(h) = e.url.as_deref().and_then(url_host) {
        match canonical_ip(&h) {
            Some(ip) if is_public(&ip) => keys.push((Kind::Dst, ip)),
            Some(_) => {}
            None => keys.push((Kind::Dst, h)),
        }
    }
    if let Some(ip) = e.dst_ip.as_deref().and_then(canonical_ip)
        && is_public(&ip)
    {
        keys.push((Kind::Dst, ip));
    }
    keys.sort();
    keys.dedup();
    keys
}

/// The keys of an existing incident, from its entity lists.
fn incident_keys(i: &Incident) -> Vec<(Kind, String)> {
    let mut keys: Vec<(Kind, String)> = i
        .hosts
        .iter()
        .map(|h| (Kind::Host, h.clone()))
        .chain(i.users.iter().map(|u| (Kind::User, u.clone())))
        .chain(i.destinations.iter().map(|d| (Kind::Dst, d.clone())))
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Kind {
    Host,
    User,
    Dst,
}

fn norm(s: &str) -> String {
    s.trim().to_lowercase()
}

fn norm_domain(s: &str) -> String {
    s.trim()
        .trim_end_matches(|c: char| c == '.' || c.is_whitespace())
        .to_lowercase()
}

fn canonical_ip(s: &str) -> Option<String> {
    let s = s.trim();
    let s = s
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(s);
    s.parse::<IpAddr>().ok().map(|ip| ip.to_string())
}

/// The host of a URL (with or without scheme), lowercased, without port or credentials.
fn url_host(url: &str) -> Option<String> {
    let rest = url.trim();
    let rest = rest.split_once("://").map_or(rest, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        authority.split(':').next()?
    };
    let host = norm_domain(host);
    (!host.is_empty()).then_some(host)
}

/// Routable on the internet: not private, loopback, link-local, shared (CGNAT), multicast,
/// unspecified or broadcast. Documentation ranges count as public (simulations use them).
fn is_public(ip: &str) -> bool {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || (a == 100 && (64..128).contains(&b)))
        }
        Ok(IpAddr::V6(v6)) => {
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
        Err(_) => false,
    }
}

/// Union-find whose components hold at most one seed (an existing incident).
struct Components {
    parent: Vec<usize>,
    seed: Vec<Option<usize>>,
}

impl Components {
    fn new(seeds: impl Iterator<Item = Option<usize>>) -> Components {
        let seed: Vec<Option<usize>> = seeds.collect();
        Components {
            parent: (0..seed.len()).collect(),
            seed,
        }
    }

    fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] != x {
            self.parent[x] = self.parent[self.parent[x]];
            x = self.parent[x];
        }
        x
    }

    /// Joins the components of `a` and `b` unless both hold a seed. The smaller index becomes
    /// the root, so the result does not depend on hash order.
    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb || (self.seed[ra].is_some() && self.seed[rb].is_some()) {
            return;
        }
        let (root, child) = if ra < rb { (ra, rb) } else { (rb, ra) };
        self.parent[child] = root;
        if self.seed[root].is_none() {
            self.seed[root] = self.seed[child];
        }
    }
}

/// One item to chain: a time range and its keys (already in processing order).
struct Item<'a> {
    start: i64,
    end: i64,
    keys: &'a [(Kind, String)],
}

/// Chains items that share a key within `window` nanoseconds (items sorted by start). An item
/// that could join several components joins them earliest first (a component's root is its
/// earliest member), so when two existing incidents compete it joins the earlier one whatever
/// the order of its keys.
fn chain(items: &[Item<'_>], window: i64, comps: &mut Components) {
    let mut last: HashMap<&(Kind, String), (usize, i64)> = HashMap::new();
    let mut holders: Vec<usize> = Vec::new();
    for (i, it) in items.iter().enumerate() {
        holders.clear();
        for k in it.keys {
            match last.get_mut(k) {
                Some((holder, end)) if it.start.saturating_sub(*end) <= window => {
                    holders.push(*holder);
                    *holder = i;
                    *end = (*end).max(it.end);
                }
                _ => {
                    last.insert(k, (i, it.end));
                }
            }
        }
        let mut roots: Vec<usize> = holders.iter().map(|&h| comps.find(h)).collect();
        roots.sort_unstable();
        roots.dedup();
        for r in roots {
            comps.union(i, r);
        }
    }
}

fn rank(s: Severity) -> usize {
    Severity::ALL.iter().position(|x| *x == s).unwrap_or(0)
}

fn max_severity(a: Severity, b: Severity) -> Severity {
    if rank(b) > rank(a) { b } else { a }
}

/// Correlates `alerts` with the `existing` incidents (and campaigns). `now` stamps what is
/// created or updated (wall time of the caller; the correlation itself uses event time only).
pub fn correlate(
    existing: &[Incident],
    existing_campaigns: &[Campaign],
    alerts: &[Alert],
    cfg: &CorrelationConfig,
    now: Timestamp,
) -> Correlation {
    let window = cfg.window_secs.max(0).saturating_mul(1_000_000_000);
    let known: BTreeSet<&str> = existing
        .iter()
        .flat_map(|i| i.alert_ids.iter().map(String::as_str))
        .collect();
    let mut by_id: BTreeMap<&str, &Alert> = BTreeMap::new();
    for a in alerts {
        if !known.contains(a.id.as_str()) {
            by_id.entry(a.id.as_str()).or_insert(a);
        }
    }

    // Per organization: seeds (open existing incidents) and new alerts.
    enum Member<'a> {
        Seed(&'a Incident),
        Alert(&'a Alert),
    }
    type Keyed<'a> = (Member<'a>, Vec<(Kind, String)>);
    let mut per_org: BTreeMap<&OrgId, Vec<Keyed<'_>>> = BTreeMap::new();
    for inc in existing.iter().filter(|i| i.status.is_open()) {
        per_org
            .entry(&inc.org)
            .or_default()
            .push((Member::Seed(inc), incident_keys(inc)));
    }
    for a in by_id.values() {
        per_org
            .entry(&a.org)
            .or_default()
            .push((Member::Alert(a), alert_keys(a)));
    }

    let mut out = Correlation::default();
    let mut changed: BTreeMap<String, Incident> = BTreeMap::new();
    for (org, mut members) in per_org {
        // Processing order: start time, seeds before alerts, then id.
        members.sort_by(|(a, _), (b, _)| {
            let key = |m: &Member<'_>| match m {
                Member::Seed(i) => (i.first_seen, 0, i.id.clone()),
                Member::Alert(a) => (a.first_seen, 1, a.id.clone()),
            };
            key(a).cmp(&key(b))
        });
        let items: Vec<Item<'_>> = members
            .iter()
            .map(|(m, keys)| {
                let (s, e) = match m {
                    Member::Seed(i) => (i.first_seen, i.last_seen),
                    Member::Alert(a) => (a.first_seen, a.last_seen),
                };
                Item {
                    start: s.nanos(),
                    end: e.nanos().max(s.nanos()),
                    keys,
                }
            })
            .collect();
        let mut comps = Components::new(
            members
                .iter()
                .enumerate()
                .map(|(i, (m, _))| matches!(m, Member::Seed(_)).then_some(i)),
        );
        chain(&items, window, &mut comps);
        let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for i in 0..members.len() {
            let r = comps.find(i);
            groups.entry(r).or_default().push(i);
        }
        for (root, idx) in groups {
            let group_alerts: Vec<&Alert> = idx
                .iter()
                .filter_map(|&i| match members[i].0 {
                    Member::Alert(a) => Some(a),
                    Member::Seed(_) => None,
                })
                .collect();
            if group_alerts.is_empty() {
                continue; // a seed nothing joined
            }
            let keys: Vec<&(Kind, String)> = idx.iter().flat_map(|&i| &members[i].1).collect();
            match comps.seed[root].map(|s| &members[s].0) {
                Some(Member::Seed(seed)) => {
                    out.joined += group_alerts.len();
                    let inc = extend((*seed).clone(), &group_alerts, &keys, now);
                    changed.insert(inc.id.clone(), inc);
                }
                _ => {
                    let strongest = group_alerts
                        .iter()
                        .map(|a| a.severity)
                        .fold(Severity::Informational, max_severity);
                    if rank(strongest) < rank(cfg.open_severity) {
                        out.unassigned += group_alerts.len();
                        continue;
                    }
                    out.opened += group_alerts.len();
                    let inc = open(org, &group_alerts, &keys, now);
                    changed.insert(inc.id.clone(), inc);
                }
            }
        }
    }

    // Campaigns over every incident (existing ones as updated above).
    let mut all: BTreeMap<String, Incident> =
        existing.iter().map(|i| (i.id.clone(), i.clone())).collect();
    for (id, inc) in &changed {
        all.insert(id.clone(), inc.clone());
    }
    let campaigns = link_campaigns(&all, existing_campaigns, cfg, now);
    for c in &campaigns {
        for id in &c.incident_ids {
            if let Some(inc) = all.get(id)
                && inc.campaign_id.as_deref() != Some(c.id.as_str())
            {
                let mut inc = changed.remove(id).unwrap_or_else(|| inc.clone());
                inc.campaign_id = Some(c.id.clone());
                inc.updated = now;
                changed.insert(id.clone(), inc);
            }
        }
    }
    out.incidents = changed.into_values().collect();
    out.campaigns = campaigns;
    out
}

/// Sets the entity lists of `inc` from `keys`, merged with what it had.
fn set_entities(inc: &mut Incident, keys: &[&(Kind, String)]) {
    let mut hosts: BTreeSet<String> = inc.hosts.drain(..).collect();
    let mut users: BTreeSet<String> = inc.users.drain(..).collect();
    let mut dsts: BTreeSet<String> = inc.destinations.drain(..).collect();
    for (k, v) in keys {
        match k {
            Kind::Host => hosts.insert(v.clone()),
            Kind::User => users.insert(v.clone()),
            Kind::Dst => dsts.insert(v.clone()),
        };
    }
    inc.hosts = hosts.into_iter().collect();
    inc.users = users.into_iter().collect();
    inc.destinations = dsts.into_iter().collect();
}

fn sorted_alert_ids(alerts: &[&Alert]) -> Vec<(Timestamp, String)> {
    let mut v: Vec<(Timestamp, String)> = alerts
        .iter()
        .map(|a| (a.first_seen, a.id.clone()))
        .collect();
    v.sort();
    v
}

fn distinct_rules(alerts: &[&Alert]) -> usize {
    alerts
        .iter()
        .map(|a| a.rule_id.as_str())
        .collect::<BTreeSet<_>>()
        .len()
}

fn severity_of(alerts: &[&Alert]) -> Severity {
    let max = alerts
        .iter()
        .map(|a| a.severity)
        .fold(Severity::Informational, max_severity);
    if distinct_rules(alerts) >= 3 {
        max.raised()
    } else {
        max
    }
}

fn open(org: &OrgId, alerts: &[&Alert], keys: &[&(Kind, String)], now: Timestamp) -> Incident {
    let ordered = sorted_alert_ids(alerts);
    let first_id = ordered.first().map(|(_, id)| id.as_str()).unwrap_or("");
    let id = Uuid::new_v5(
        &INCIDENT_NAMESPACE,
        format!("{}\u{0}{first_id}", org.as_str()).as_bytes(),
    )
    .to_string();
    // Title: the most severe alert's title (earliest on ties) and how many more.
    let lead = alerts.iter().min_by_key(|a| {
        (
            std::cmp::Reverse(rank(a.severity)),
            a.first_seen,
            a.id.clone(),
        )
    });
    let lead_title = lead.map_or_else(|| "Incident".to_string(), |a| a.title.clone());
    let title = match alerts.len() {
        0 | 1 => lead_title,
        2 => format!("{lead_title} and 1 related alert"),
        n => format!("{lead_title} and {} related alerts", n - 1),
    };
    let mut inc = Incident {
        id,
        org: org.clone(),
        title,
        severity: severity_of(alerts),
        status: IncidentStatus::New,
        assignee: None,
        first_seen: alerts.iter().map(|a| a.first_seen).min().unwrap_or(now),
        last_seen: alerts.iter().map(|a| a.last_seen).max().unwrap_or(now),
        created: now,
        updated: now,
        alert_ids: ordered.into_iter().map(|(_, id)| id).collect(),
        hosts: Vec::new(),
        users: Vec::new(),
        destinations: Vec::new(),
        campaign_id: None,
    };
    set_entities(&mut inc, keys);
    inc
}

fn extend(
    mut inc: Incident,
    alerts: &[&Alert],
    keys: &[&(Kind, String)],
    now: Timestamp,
) -> Incident {
    // The seed's own alerts are ordered already; new ones are merged by time.
    let mut ids = inc.alert_ids.clone();
    let new: Vec<String> = sorted_alert_ids(alerts)
        .into_iter()
        .map(|(_, id)| id)
        .collect();
    let first_new = alerts.iter().map(|a| a.first_seen).min().unwrap_or(now);
    if first_new < inc.first_seen {
        let mut merged = new;
        merged.extend(ids);
        ids = merged;
    } else {
        ids.extend(new);
    }
    inc.alert_ids = ids;
    inc.first_seen = inc.first_seen.min(first_new);
    inc.last_seen = inc
        .last_seen
        .max(alerts.iter().map(|a| a.last_seen).max().unwrap_or(now));
    inc.severity = max_severity(inc.severity, severity_of(alerts));
    if matches!(
        inc.status,
        IncidentStatus::Contained | IncidentStatus::Eradicated | IncidentStatus::Recovered
    ) {
        inc.status = IncidentStatus::Investigating;
    }
    inc.updated = now;
    set_entities(&mut inc, keys);
    inc
}

fn link_campaigns(
    all: &BTreeMap<String, Incident>,
    existing: &[Campaign],
    cfg: &CorrelationConfig,
    now: Timestamp,
) -> Vec<Campaign> {
    let window = cfg
        .campaign_window_secs
        .max(0)
        .saturating_mul(1_000_000_000);
    let mut incs: Vec<&Incident> = all.values().collect();
    incs.sort_by(|a, b| (a.first_seen, &a.id).cmp(&(b.first_seen, &b.id)));
    let keys: Vec<Vec<(Kind, String)>> = incs
        .iter()
        .map(|i| {
            let mut k: Vec<(Kind, String)> = i
                .destinations
                .iter()
                .map(|d| (Kind::Dst, d.clone()))
                .collect();
            k.sort();
            k.dedup();
            k
        })
        .collect();
    let items: Vec<Item<'_>> = incs
        .iter()
        .zip(&keys)
        .map(|(i, k)| Item {
            start: i.first_seen.nanos(),
            end: i.last_seen.nanos().max(i.first_seen.nanos()),
            keys: k,
        })
        .collect();
    let mut comps = Components::new(std::iter::repeat_n(None, incs.len()));
    chain(&items, window, &mut comps);
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..incs.len() {
        let r = comps.find(i);
        groups.entry(r).or_default().push(i);
    }
    let before: HashMap<&str, &Campaign> = existing.iter().map(|c| (c.id.as_str(), c)).collect();
    let mut out = Vec::new();
    for idx in groups.into_values() {
        let orgs: BTreeSet<&OrgId> = idx.iter().map(|&i| &incs[i].org).collect();
        if orgs.len() < 2 {
            continue;
        }
        // Infrastructure seen by two or more organizations.
        let mut seen_by: BTreeMap<&str, BTreeSet<&OrgId>> = BTreeMap::new();
        for &i in &idx {
            for (_, d) in &keys[i] {
                seen_by.entry(d.as_str()).or_default().insert(&incs[i].org);
            }
        }
        let infrastructure: Vec<String> = seen_by
            .into_iter()
            .filter(|(_, o)| o.len() >= 2)
            .map(|(d, _)| d.to_string())
            .collect();
        // idx is in (first_seen, id) order: the earliest member decides the id.
        let id = idx
            .iter()
            .find_map(|&i| incs[i].campaign_id.clone())
            .unwrap_or_else(|| {
                Uuid::new_v5(&CAMPAIGN_NAMESPACE, incs[idx[0]].id.as_bytes()).to_string()
            });
        let severity = idx
            .iter()
            .map(|&i| incs[i].severity)
            .fold(Severity::Informational, max_severity);
        let mut incident_ids: Vec<String> = idx.iter().map(|&i| incs[i].id.clone()).collect();
        incident_ids.sort();
        let shown: Vec<&str> = infrastructure.iter().take(3).map(String::as_str).collect();
        let more = infrastructure.len().saturating_sub(3);
        let title = format!(
            "Shared infrastructure {}{} in {} organizations",
            shown.join(", "),
            if more > 0 {
                format!(" (+{more})")
            } else {
                String::new()
            },
            orgs.len()
        );
        let mut campaign = Campaign {
            created: now,
            id,
            title,
            severity,
            first_seen: idx.iter().map(|&i| incs[i].first_seen).min().unwrap_or(now),
            last_seen: idx.iter().map(|&i| incs[i].last_seen).max().unwrap_or(now),
            updated: now,
            infrastructure,
            orgs: orgs.into_iter().cloned().collect(),
            incident_ids,
        };
        // An unchanged campaign keeps its times; a changed one keeps its creation time.
        if let Some(prev) = before.get(campaign.id.as_str()) {
            campaign.created = prev.created;
            let mut same = campaign.clone();
            same.updated = prev.updated;
            if same == **prev {
                campaign = same;
            }
        }
        out.push(campaign);
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// Stores `alerts` in the state store, correlates them with the incidents and campaigns of
/// `scope` already there, and stores what changed. `scope` should cover every organization of
/// the alerts (a system job's scope); alerts outside it are still stored, but correlated
/// only with each other.
pub fn correlate_into_store(
    state: &dyn yagura_store::StateStore,
    scope: &yagura_model::Scope,
    alerts: &[Alert],
    cfg: &CorrelationConfig,
    now: Timestamp,
) -> Result<Correlation, yagura_store::StoreError> {
    use yagura_store::{IncidentFilter, Page};
    state.upsert_alerts(alerts)?;
    let page_size = Page::MAX_LIMIT;
    let mut existing = Vec::new();
    loop {
        let page = Page {
            offset: existing.len() as u64,
            limit: page_size,
        };
        let got = state.list_incidents(scope, &IncidentFilter::default(), &page)?;
        let n = got.len() as u64;
        existing.extend(got);
        if n < page_size {
            break;
        }
    }
    let mut campaigns = Vec::new();
    loop {
        let page = Page {
            offset: campaigns.len() as u64,
            limit: page_size,
        };
        let got = state.list_campaigns(scope, &page)?;
        let n = got.len() as u64;
        campaigns.extend(got);
        if n < page_size {
            break;
        }
    }
    let out = correlate(&existing, &campaigns, alerts, cfg, now);
    for inc in &out.incidents {
        state.upsert_incident(inc)?;
    }
    let before: HashMap<&str, &Campaign> = campaigns.iter().map(|c| (c.id.as_str(), c)).collect();
    for c in &out.campaigns {
        if before.get(c.id.as_str()) != Some(&c) {
            state.upsert_campaign(c)?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
