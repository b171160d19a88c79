//! MISP warninglists: values known to be benign (top sites, public resolvers, RFC 1918, TLDs)
//! or known infrastructure (dynamic DNS providers).
//!
//! Lists are read in MISP's `list.json` format. Types: `string` (exact, case-insensitive),
//! `hostname` (the entry and its subdomains; an entry starting with `.` only its subdomains),
//! `cidr` (addresses in the networks; bare addresses are /32 and /128), `substring`. `regex`
//! lists are not evaluated and are reported by [`Warninglists::skipped`], never silently
//! ignored. `matching_attributes` restricts a list to MISP attribute types (mapped onto
//! indicator kinds); a list without it applies to every kind.
//!
//! A list's `category` (`false-positive`, MISP's default, or `known`) decides what a hit
//! means: a false-positive list marks the value benign, so the match must not alert; a `known`
//! list only annotates; when both name a value, see [`Warninglists::check`]. Lists without a category whose name or description is about dynamic
//! DNS are `known`: a host under a dynamic DNS provider is infrastructure, not a benign value,
//! and suppressing it would hide exactly the indicators such feeds are full of.
//!
//! A URL indicator is judged by host lists only when it names a whole site (`http://host/`):
//! a path on a popular host (a phishing page on a file-sharing site) stays an indicator.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;
use serde::Deserialize;
use smallvec::SmallVec;
use yagura_model::IndicatorKind;
use yagura_model::event::{ObservableKind, ObservableValue};

use crate::index::{Prefilter, canonical_domain_suffixes, domain_hash, for_each_domain_suffix};
use crate::normalize;
use crate::store::IndicatorRef;

/// What a hit on a list means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    FalsePositive,
    Known,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListType {
    String,
    Hostname,
    Cidr,
    Substring,
}

const A_IP: u8 = 1;
const A_DOMAIN: u8 = 2;
const A_URL: u8 = 4;
const A_HASH: u8 = 8;
const A_EMAIL: u8 = 16;
const A_OTHER: u8 = 32;
const A_ALL: u8 = 63;

fn attr_bit(misp_type: &str) -> u8 {
    match misp_type {
        "ip-src" | "ip-dst" | "ip-src|port" | "ip-dst|port" => A_IP,
        "domain|ip" => A_IP | A_DOMAIN,
        "domain" | "hostname" | "hostname|port" => A_DOMAIN,
        "url" | "uri" | "link" => A_URL,
        t if t.starts_with("email") => A_EMAIL,
        "md5" | "sha1" | "sha256" | "filename|md5" | "filename|sha1" | "filename|sha256" => A_HASH,
        _ => A_OTHER,
    }
}

fn kind_bit(kind: IndicatorKind) -> u8 {
    use IndicatorKind as K;
    match kind {
        K::Ipv4 | K::Ipv6 | K::Cidr => A_IP,
        K::Domain | K::Hostname => A_DOMAIN,
        K::Url => A_URL,
        K::Md5 | K::Sha1 | K::Sha256 => A_HASH,
        K::Email => A_EMAIL,
        K::FileName | K::Ja3 | K::Ja4 => A_OTHER,
    }
}

/// One loaded list.
#[derive(Debug, Clone)]
pub struct Warninglist {
    pub name: String,
    pub description: String,
    pub version: Option<u64>,
    pub category: Category,
    /// Entries loaded.
    pub entries: usize,
    kind: ListType,
    attrs: u8,
}

/// A warninglist hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict<'a> {
    /// The list's `name`.
    pub list: &'a str,
    pub category: Category,
    /// True when the event's value (not the indicator's) is on the list: a network or
    /// parent-domain match reaching a listed address or host.
    pub observed_value: bool,
}

impl Verdict<'_> {
    /// A false-positive list: the value is benign and must not alert.
    pub fn benign(&self) -> bool {
        self.category == Category::FalsePositive
    }
}

/// Why a list was not loaded.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WarninglistError {
    #[error("{path}: {reason}")]
    Invalid { path: String, reason: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::sync::Arc<std::io::Error>,
    },
}

#[derive(Deserialize)]
struct ListJson {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    version: Option<serde_json::Value>,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    matching_attributes: Vec<String>,
    list: Vec<serde_json::Value>,
}

type Ids = SmallVec<[(u16, bool); 2]>;
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// All loaded warninglists, indexed for lookups.
#[derive(Debug, Default)]
pub struct Warninglists {
    lists: Vec<Warninglist>,
    strings: Map<Box<str>, Ids>,
    hostnames: Map<Box<str>, Ids>,
    nets: HashMap<(u8, bool), Map<IpAddr, Ids>>,
    net_lengths: Vec<(u8, bool)>,
    substrings: Vec<(Box<str>, u16)>,
    skipped: Vec<(String, String)>,
    /// The keys of `strings` and of `hostnames` by their domain-table hash
    /// ([`crate::index::domain_hash`]), as Bloom filters: a name is checked by one pass over
    /// its suffixes' hashes, and only the suffixes the filters cannot rule out are looked up
    /// (the whole name in `strings`, every suffix in `hostnames`).
    string_names: NameFilter,
    host_names: NameFilter,
}

/// A name filter and how many keys it may take before it is rebuilt larger.
#[derive(Debug, Default)]
struct NameFilter {
    filter: Prefilter,
    keys: usize,
    capacity: usize,
}

impl NameFilter {
    /// `key` was added to `map` (the map this filter covers): into the filter, which is
    /// rebuilt twice as large when full (so loading stays linear).
    fn add(&mut self, key: &str, map: &Map<Box<str>, Ids>) {
        if self.keys < self.capacity {
            self.filter.insert(domain_hash(key));
            self.keys += 1;
            return;
        }
        let capacity = (2 * map.len()).max(4096);
        let mut filter = Prefilter::with_keys(capacity);
        for k in map.keys() {
            filter.insert(domain_hash(k));
        }
        *self = NameFilter {
            filter,
            keys: map.len(),
            capacity,
        };
    }
}

/// The (start, hash) of each label-aligned suffix of a name, TLD first, the whole name last.
type Suffixes = SmallVec<[(usize, u64); 8]>;

fn suffixes(name: &str) -> Suffixes {
    let mut out = Suffixes::new();
    // Canonical names (every name the matcher passes) take the matcher's 8-bytes-at-a-time
    // pass; anything else the plain walk, which yields the same hashes.
    if canonical_domain_suffixes(name.as_bytes(), |start, h| out.push((start, h))) {
        return out;
    }
    out.clear();
    // (the empty suffix after a trailing dot is not a label)
    for_each_domain_suffix(name, |start, h| {
        if start < name.len() || start == 0 {
            out.push((start, h));
        }
    });
    out
}

impl Warninglist {
    /// The MISP list type (`string`, `hostname`, `cidr`, `substring`).
    pub fn list_type(&self) -> &'static str {
        match self.kind {
            ListType::String => "string",
            ListType::Hostname => "hostname",
            ListType::Cidr => "cidr",
            ListType::Substring => "substring",
        }
    }
}

impl Warninglists {
    pub fn new() -> Warninglists {
        Warninglists::default()
    }

    pub fn lists(&self) -> &[Warninglist] {
        &self.lists
    }

    /// Lists or entries not loaded: (list name, reason).
    pub fn skipped(&self) -> &[(String, String)] {
        &self.skipped
    }

    /// Loads every `list.json` below `dir` (the `lists/` folder of misp-warninglists or any
    /// folder of such lists), in path order.
    pub fn load_dir(dir: &Path) -> Result<Warninglists, WarninglistError> {
        let mut files = Vec::new();
        collect(dir, &mut files)?;
        files.sort();
        let mut wl = Warninglists::new();
        for f in files {
            let text = std::fs::read_to_string(&f).map_err(|e| WarninglistError::Io {
                path: f.display().to_string(),
                source: std::sync::Arc::new(e),
            })?;
            wl.add_json(&f.display().to_string(), &text)?;
        }
        Ok(wl)
    }

    /// Adds one list from its `list.json` text; `origin` names it in errors.
    pub fn add_json(&mut self, origin: &str, text: &str) -> Result<(), WarninglistError> {
        let invalid = |reason: String| WarninglistError::Invalid {
            path: origin.to_owned(),
            reason,
        };
        let j: ListJson = serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let kind = match j.kind.as_str() {
            "string" => ListType::String,
            "hostname" => ListType::Hostname,
            "cidr" => ListType::Cidr,
            "substring" => ListType::Substring,
            other => {
                self.skipped.push((
                    j.name.clone(),
                    format!(
                        "list type {other:?} is not evaluated (only string, hostname, cidr, substring)"
                    ),
                ));
                return Ok(());
            }
        };
        let id = u16::try_from(self.lists.len()).map_err(|_| invalid("too many lists".into()))?;
        let category = match j.category.as_deref() {
            Some("known") => Category::Known,
            Some(_) => Category::FalsePositive,
            None => {
                let about = format!("{} {}", j.name, j.description).to_ascii_lowercase();
                if about.contains("dynamic dns") {
                    Category::Known
                } else {
                    Category::FalsePositive
                }
            }
        };
        let attrs = if j.matching_attributes.is_empty() {
            A_ALL
        } else {
            j.matching_attributes.iter().fold(0, |a, t| a | attr_bit(t))
        };
        let mut entries = 0;
        for v in &j.list {
            let Some(v) = v.as_str() else {
                self.skipped
                    .push((j.name.clone(), format!("entry {v} is not a string")));
                continue;
            };
            let v = v.trim();
            if v.is_empty() {
                continue;
            }
            let ok = match kind {
                ListType::String => {
                    let key = v.to_lowercase();
                    let key = key.strip_suffix('.').unwrap_or(&key);
                    if push(&mut self.strings, key, (id, false)) {
                        self.string_names.add(key, &self.strings);
                    }
                    true
                }
                ListType::Hostname => {
                    let (sub_only, name) = match v.strip_prefix('.') {
                        Some(rest) => (true, rest),
                        None => (false, v),
                    };
                    match normalize::domain(name) {
                        Ok(d) => {
                            if push(&mut self.hostnames, &d, (id, sub_only)) {
                                self.host_names.add(&d, &self.hostnames);
                            }
                            true
                        }
                        Err(_) => false,
                    }
                }
                ListType::Cidr => {
                    let net = normalize::cidr(v).or_else(|_| normalize::ip(v).map(IpNet::from));
                    match net {
                        Ok(n) => {
                            let key = (n.prefix_len(), n.addr().is_ipv4());
                            let map = self.nets.entry(key).or_default();
                            let ids = map.entry(n.network()).or_default();
                            if !ids.contains(&(id, false)) {
                                ids.push((id, false));
                            }
                            true
                        }
                        Err(_) => false,
                    }
                }
                ListType::Substring => {
                    self.substrings.push((v.to_lowercase().into(), id));
                    true
                }
            };
            if ok {
                entries += 1;
            } else {
                self.skipped.push((
                    j.name.clone(),
                    format!("entry {v:?} is not a valid {}", j.kind),
                ));
            }
        }
        let mut lengths: Vec<_> = self.nets.keys().copied().collect();
        lengths.sort_by(|a, b| b.cmp(a));
        self.net_lengths = lengths;
        self.lists.push(Warninglist {
            name: j.name,
            description: j.description,
            version: j
                .version
                .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok())),
            category,
            entries,
            kind,
            attrs,
        });
        Ok(())
    }

    /// Picks the list that decides among those naming the same value. For the value itself a
    /// false-positive list wins (`duckdns.org` is a popular site); for a subdomain a known list
    /// wins (`x.duckdns.org` is a user's dynamic DNS host, not the popular site).
    fn pick(&self, ids: &Ids, bit: u8, subdomain: bool) -> Option<&Warninglist> {
        let preferred = if subdomain {
            Category::Known
        } else {
            Category::FalsePositive
        };
        let mut found: Option<&Warninglist> = None;
        for &(id, sub_only) in ids {
            if sub_only && !subdomain {
                continue;
            }
            let Some(l) = self.lists.get(usize::from(id)) else {
                continue;
            };
            if l.attrs & bit == 0 {
                continue;
            }
            if found.is_none_or(|f| f.category != preferred && l.category == preferred) {
                found = Some(l);
            }
        }
        found
    }

    /// Checks one normalized value of indicator kind `kind`; returns the list it is on. The
    /// most specific name that any list names decides; among the lists naming it, a
    /// false-positive list wins for the value itself and a known list for a subdomain.
    pub fn check<'s>(&'s self, kind: IndicatorKind, value: &str) -> Option<&'s Warninglist> {
        if self.lists.is_empty() {
            return None;
        }
        let bit = kind_bit(kind);
        match kind {
            IndicatorKind::Ipv4 | IndicatorKind::Ipv6 | IndicatorKind::Cidr => {
                let addr = normalize::ip(value)
                    .ok()
                    .or_else(|| normalize::cidr(value).ok().map(|n| n.network()))?;
                if let Some(l) = self
                    .strings
                    .get(value)
                    .and_then(|ids| self.pick(ids, bit, false))
                {
                    return Some(l);
                }
                self.check_ip(addr, bit)
            }
            IndicatorKind::Domain | IndicatorKind::Hostname => self.check_name(value, bit),
            IndicatorKind::Url => {
                if value.starts_with('/') {
                    return None;
                }
                if let Some(l) = self
                    .strings
                    .get(value)
                    .and_then(|ids| self.pick(ids, bit, false))
                {
                    return Some(l);
                }
                let (host, path) = normalize::split_resource(normalize::url_resource(value));
                if path != "/" {
                    return None;
                }
                let host = host.split(':').next().unwrap_or(host);
                self.check_name(host, bit)
            }
            _ => {
                let lower = value.to_lowercase();
                if let Some(l) = self
                    .strings
                    .get(lower.as_str())
                    .and_then(|ids| self.pick(ids, bit, false))
                {
                    return Some(l);
                }
                self.check_substring(&lower, bit)
            }
        }
    }

    fn check_ip(&self, addr: IpAddr, bit: u8) -> Option<&Warninglist> {
        let v4 = addr.is_ipv4();
        for &(len, is_v4) in &self.net_lengths {
            if is_v4 != v4 {
                continue;
            }
            let Ok(net) = IpNet::new(addr, len) else {
                continue;
            };
            let ids = self
                .nets
                .get(&(len, is_v4))
                .and_then(|m| m.get(&net.network()));
            if let Some(l) = ids.and_then(|ids| self.pick(ids, bit, false)) {
                return Some(l);
            }
        }
        None
    }

    fn check_name(&self, name: &str, bit: u8) -> Option<&Warninglist> {
        self.check_name_hashed(name, &suffixes(name), 0, bit)
    }

    /// The list naming `name[from..]` (exactly, on a string list) or it or a parent
    /// (hostname lists), most specific first; `sfx` are `name`'s [`suffixes`], so a name and
    /// its parents share one hashing pass. Only the suffixes the name filters cannot rule out
    /// are looked up in the maps.
    fn check_name_hashed(
        &self,
        name: &str,
        sfx: &[(usize, u64)],
        from: usize,
        bit: u8,
    ) -> Option<&Warninglist> {
        let rest = name.get(from..).unwrap_or_default();
        let mut within = sfx.iter().rev().skip_while(|&&(start, _)| start < from);
        if let Some(&(start, h)) = within.clone().next()
            && start == from
            && self.string_names.filter.may_contain(h)
            && let Some(l) = self
                .strings
                .get(rest)
                .and_then(|ids| self.pick(ids, bit, false))
        {
            return Some(l);
        }
        for &(start, h) in &mut within {
            if !self.host_names.filter.may_contain(h) {
                continue;
            }
            let hit = name
                .get(start..)
                .and_then(|s| self.hostnames.get(s))
                .and_then(|ids| self.pick(ids, bit, start != from));
            if hit.is_some() {
                return hit;
            }
        }
        self.check_substring(rest, bit)
    }

    fn check_substring(&self, value: &str, bit: u8) -> Option<&Warninglist> {
        self.substrings
            .iter()
            .filter(|(s, _)| value.contains(&**s))
            .filter_map(|(_, id)| self.lists.get(usize::from(*id)))
            .find(|l| l.attrs & bit != 0)
    }

    /// [`Warninglists::verdict`] of a match on an event name whose canonical form
    /// (`normalize::domain_key` of `raw`) the matcher already has: `name`. Saves the second
    /// check of the name; the answer is the same.
    pub(crate) fn name_verdict<'s>(
        &'s self,
        raw: &str,
        name: &str,
        ind: &IndicatorRef<'_>,
    ) -> Option<Verdict<'s>> {
        if self.lists.is_empty() {
            return None;
        }
        if matches!(ind.kind, IndicatorKind::Domain | IndicatorKind::Hostname)
            && let Some(verdict) = self.name_match_verdict(raw, name, ind)
        {
            return verdict;
        }
        self.verdict(&ObservableValue::Text(ObservableKind::Domain, raw), ind)
    }

    /// The verdict when the indicator's value is the event name `name` (canonical; `raw` as
    /// observed) or one of its parents: one hashing pass over the event name serves both the
    /// indicator's value and the observed name. `None` when the indicator is not such a name.
    fn name_match_verdict<'s>(
        &'s self,
        raw: &str,
        name: &str,
        ind: &IndicatorRef<'_>,
    ) -> Option<Option<Verdict<'s>>> {
        let from = name.len().checked_sub(ind.value.len())?;
        if !name.ends_with(ind.value) || (from != 0 && name.as_bytes().get(from - 1) != Some(&b'.'))
        {
            return None;
        }
        let sfx = suffixes(name);
        if let Some(l) = self.check_name_hashed(name, &sfx, from, kind_bit(ind.kind)) {
            return Some(Some(Verdict {
                list: &l.name,
                category: l.category,
                observed_value: false,
            }));
        }
        if raw == ind.value || ind.kind != IndicatorKind::Domain {
            return Some(None);
        }
        Some(
            self.check_name_hashed(name, &sfx, 0, A_DOMAIN)
                .map(|l| Verdict {
                    list: &l.name,
                    category: l.category,
                    observed_value: true,
                }),
        )
    }

    /// The verdict on a match: the indicator's own value first, then the event's value when
    /// it differs (a network or parent-domain match).
    pub fn verdict<'s>(
        &'s self,
        observed: &ObservableValue<'_>,
        ind: &IndicatorRef<'_>,
    ) -> Option<Verdict<'s>> {
        if self.lists.is_empty() {
            return None;
        }
        if let ObservableValue::Text(_, v) = *observed
            && matches!(ind.kind, IndicatorKind::Domain | IndicatorKind::Hostname)
            && let Some(name) = normalize::domain_key(v)
            && let Some(verdict) = self.name_match_verdict(v, &name, ind)
        {
            return verdict;
        }
        if let Some(l) = self.check(ind.kind, ind.value) {
            return Some(Verdict {
                list: &l.name,
                category: l.category,
                observed_value: false,
            });
        }
        let hit = match *observed {
            ObservableValue::Ip(ip) => {
                let a = normalize::canonical_ip(ip);
                if ind.value.parse::<IpAddr>().ok() == Some(a) {
                    None
                } else {
                    self.check_ip(a, A_IP)
                }
            }
            ObservableValue::Text(_, v) if ind.kind == IndicatorKind::Domain && v != ind.value => {
                normalize::domain_key(v).and_then(|k| self.check_name(&k, A_DOMAIN))
            }
            ObservableValue::Text(_, _) => None,
        };
        hit.map(|l| Verdict {
            list: &l.name,
            category: l.category,
            observed_value: true,
        })
    }
}

/// Adds `v` to `key`'s ids; true when the key is new to the map.
fn push(map: &mut Map<Box<str>, Ids>, key: &str, v: (u16, bool)) -> bool {
    match map.get_mut(key) {
        Some(ids) => {
            if !ids.contains(&v) {
                ids.push(v);
            }
            false
        }
        None => {
            let mut ids = Ids::new();
            ids.push(v);
            map.insert(key.into(), ids);
            true
        }
    }
}

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> Result<(), WarninglistError> {
    let io = |e: std::io::Error| WarninglistError::Io {
        path: dir.display().to_string(),
        source: std::sync::Arc::new(e),
    };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let p = entry.map_err(io)?.path();
        if p.is_dir() {
            collect(&p, out)?;
        } else if p.file_name().is_some_and(|n| n == "list.json") {
            out.push(p);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Meta;
    use proptest::prelude::*;
    use yagura_model::Tlp;

    /// `check_name` without the name filter (the loop it replaced): every suffix looked up.
    fn check_name_unfiltered<'s>(w: &'s Warninglists, name: &str, bit: u8) -> Option<&'s str> {
        if let Some(l) = w.strings.get(name).and_then(|ids| w.pick(ids, bit, false)) {
            return Some(&l.name);
        }
        let mut rest = name;
        let mut subdomain = false;
        loop {
            if let Some(l) = w
                .hostnames
                .get(rest)
                .and_then(|ids| w.pick(ids, bit, subdomain))
            {
                return Some(&l.name);
            }
            match rest.split_once('.') {
                Some((_, parent)) if !parent.is_empty() => {
                    rest = parent;
                    subdomain = true;
                }
                _ => break,
            }
        }
        w.check_substring(name, bit).map(|l| &*l.name)
    }

    fn wl_name() -> impl Strategy<Value = String> {
        let label = prop::sample::select(vec!["a", "b", "ab", "com", "co", "jp", "x-y", "duck"]);
        prop::collection::vec(label, 1..5).prop_map(|ls| ls.join("."))
    }

    proptest! {
        /// The name filter never hides a listed name or parent: with lists of every kind
        /// (string, hostname, subdomain-only hostname, false-positive and known), added one by
        /// one so that the filter is rebuilt while loading, a name's verdict equals the
        /// unfiltered walk's, for the name itself, its subdomains and names with odd dots.
        #[test]
        fn name_filter_never_hides_a_listed_name(
            lists in prop::collection::vec(
                (0u8..3, any::<bool>(), prop::collection::vec((wl_name(), any::<bool>()), 0..40)),
                1..6,
            ),
            filler in 0usize..6000,
            names in prop::collection::vec((wl_name(), 0u8..4), 1..20),
        ) {
            let mut w = Warninglists::new();
            for (i, (kind, known, entries)) in lists.iter().enumerate() {
                let kind = ["string", "hostname", "hostname"][usize::from(*kind)];
                let category = if *known { "known" } else { "false-positive" };
                let list: Vec<String> = entries
                    .iter()
                    .map(|(e, sub)| if *sub && kind == "hostname" { format!(".{e}") } else { e.clone() })
                    .chain((0..if i == 0 { filler } else { 0 }).map(|n| format!("filler{n}.example")))
                    .collect();
                let j = serde_json::json!({
                    "name": format!("list {i}"), "type": kind, "category": category, "list": list,
                });
                w.add_json("prop", &j.to_string()).unwrap();
            }
            prop_assert_eq!(w.string_names.keys, w.strings.len(), "every key is in the filter");
            prop_assert_eq!(w.host_names.keys, w.hostnames.len(), "every key is in the filter");
            for (name, spell) in &names {
                let name = match spell {
                    0 => name.clone(),
                    1 => format!("www.{name}"),
                    2 => format!("{name}."),
                    _ => format!(".{name}"),
                };
                let got = w.check_name(&name, A_DOMAIN).map(|l| &*l.name);
                prop_assert_eq!(got, check_name_unfiltered(&w, &name, A_DOMAIN), "{}", name);
            }
        }
    }

    proptest! {
        /// The matcher's verdict on an event name it has already normalized equals the
        /// general verdict: names spelled in upper case or with a trailing dot, indicators
        /// (domain and hostname) naming the event name, a parent of it, or something else,
        /// lists of every kind and category.
        #[test]
        fn name_verdict_equals_verdict(
            lists in prop::collection::vec(
                (0u8..3, any::<bool>(), prop::collection::vec((wl_name(), any::<bool>()), 0..12)),
                1..5,
            ),
            name in wl_name(),
            spell in 0u8..4,
            ind in (any::<bool>(), 0usize..6, wl_name()),
        ) {
            let mut w = Warninglists::new();
            for (i, (kind, known, entries)) in lists.iter().enumerate() {
                let kind = ["string", "hostname", "hostname"][usize::from(*kind)];
                let category = if *known { "known" } else { "false-positive" };
                let list: Vec<String> = entries
                    .iter()
                    .map(|(e, sub)| if *sub && kind == "hostname" { format!(".{e}") } else { e.clone() })
                    .collect();
                let j = serde_json::json!({
                    "name": format!("list {i}"), "type": kind, "category": category, "list": list,
                });
                w.add_json("prop", &j.to_string()).unwrap();
            }
            let raw = match spell {
                0 => name.clone(),
                1 => name.to_uppercase(),
                2 => format!("{name}."),
                _ => format!("www.{name}"),
            };
            let key = normalize::domain_key(&raw).expect("a valid name");
            // The indicator: the name itself or one of its parents (skip `ind.1` labels), or
            // an unrelated name.
            let (hostname, skip, other) = ind;
            let value = if skip == 5 {
                other
            } else {
                let labels: Vec<&str> = key.split('.').collect();
                labels[skip.min(labels.len() - 1)..].join(".")
            };
            let meta = Meta {
                source: "t".into(),
                confidence: 50,
                tlp: Tlp::Green,
                first_seen: None,
                last_seen: None,
                valid_from: None,
                valid_until: None,
                tags: Box::new([]),
                to_ids: true,
                description: None,
            };
            let r = IndicatorRef {
                kind: if hostname { IndicatorKind::Hostname } else { IndicatorKind::Domain },
                value: &value,
                port: None,
                meta: &meta,
            };
            let general = w.verdict(&ObservableValue::Text(ObservableKind::Domain, &raw), &r);
            prop_assert_eq!(w.name_verdict(&raw, &key, &r), general, "{} / {}", raw, value);
        }
    }

    fn lists() -> Warninglists {
        let mut w = Warninglists::new();
        let add = |w: &mut Warninglists, j: &str| w.add_json("test", j).unwrap();
        add(
            &mut w,
            r#"{"name":"Top sites","type":"hostname","list":["google.com"],"matching_attributes":["domain","hostname","url"]}"#,
        );
        add(
            &mut w,
            r#"{"name":"RFC 1918","type":"cidr","list":["10.0.0.0/8","1.1.1.1"],"matching_attributes":["ip-dst","ip-src"]}"#,
        );
        add(
            &mut w,
            r#"{"name":"List of known dynamic DNS domains","type":"hostname","list":[".duckdns.org"]}"#,
        );
        add(
            &mut w,
            r#"{"name":"TLDs","type":"string","list":["COM","Example"]}"#,
        );
        add(&mut w, r#"{"name":"Regexes","type":"regex","list":["^a"]}"#);
        w
    }

    /// `kind value` → `list name (category)` or `-`.
    fn check(w: &Warninglists, input: &str, expect: &str) {
        let (k, v) = input.split_once(' ').unwrap();
        let got = w
            .check(k.parse().unwrap(), v)
            .map(|l| format!("{} ({:?})", l.name, l.category))
            .unwrap_or_else(|| "-".into());
        assert_eq!(got, expect, "{input}");
    }

    #[test]
    fn list_semantics() {
        let w = lists();
        check(&w, "domain google.com", "Top sites (FalsePositive)");
        check(&w, "domain mail.google.com", "Top sites (FalsePositive)");
        check(&w, "domain notgoogle.com", "-");
        check(&w, "url https://google.com/", "Top sites (FalsePositive)");
        check(&w, "url https://google.com/phish/login.html", "-");
        check(&w, "ipv4 10.2.3.4", "RFC 1918 (FalsePositive)");
        check(&w, "ipv4 1.1.1.1", "RFC 1918 (FalsePositive)");
        check(&w, "cidr 10.1.0.0/16", "RFC 1918 (FalsePositive)");
        check(&w, "ipv4 11.0.0.1", "-");
        check(&w, "domain duckdns.org", "-");
        check(
            &w,
            "domain evil.duckdns.org",
            "List of known dynamic DNS domains (Known)",
        );
        check(&w, "domain com", "TLDs (FalsePositive)");
        check(&w, "domain example", "TLDs (FalsePositive)");
        check(&w, "sha256 00", "-");
        assert_eq!(w.skipped().len(), 1);
        assert!(w.skipped()[0].1.contains("regex"));
    }

    #[test]
    fn verdict_checks_the_observed_value_of_wider_matches() {
        let w = lists();
        let meta = Meta {
            source: "t".into(),
            confidence: 50,
            tlp: Tlp::Green,
            first_seen: None,
            last_seen: None,
            valid_from: None,
            valid_until: None,
            tags: Box::new([]),
            to_ids: true,
            description: None,
        };
        let net = IndicatorRef {
            kind: IndicatorKind::Cidr,
            value: "8.0.0.0/7",
            port: None,
            meta: &meta,
        };
        let v = w.verdict(&ObservableValue::Ip("9.1.1.1".parse().unwrap()), &net);
        assert_eq!(v, None);
        let v = w
            .verdict(&ObservableValue::Ip("1.1.1.1".parse().unwrap()), &net)
            .unwrap();
        assert!(v.observed_value && v.benign());
    }

    #[test]
    fn loads_the_shared_misp_warninglists() {
        let dir = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/data/intel/misp-warninglists/lists"
        );
        let w = Warninglists::load_dir(Path::new(dir))
            .unwrap_or_else(|e| panic!("shared data missing or unreadable: {e}"));
        assert_eq!(w.lists().len(), 9);
        assert!(w.skipped().is_empty(), "{:?}", w.skipped());
        check(
            &w,
            "ipv4 8.8.8.8",
            "List of known IPv4 public DNS resolvers (FalsePositive)",
        );
        check(
            &w,
            "ipv4 192.168.1.1",
            "List of RFC 1918 CIDR blocks (FalsePositive)",
        );
        check(
            &w,
            "domain x-y-z.google.com",
            "Top 1000 website from Alexa (FalsePositive)",
        );
        check(
            &w,
            "domain x.duckdns.org",
            "List of known dynamic DNS domains (Known)",
        );
    }
}
