//! Log-source map: which yagura events a Sigma `logsource` covers, and how the rule's field
//! names are read from those events.
//!
//! The map is the THOR-style YAML SigmaHQ publishes (`logsources: NAME: {category, product,
//! service, conditions, rewrite, sources, fieldmappings}`) plus three yagura keys for sources
//! that are not Windows event logs (`datasets`, `fields`, `raw`); see `config/logsources.yml`.
//!
//! An *entry* is one way an event can belong to a log source. A rule is served by every entry
//! whose selector (`category`/`product`/`service`) agrees with the rule's; an event belongs to
//! every entry whose event-side test (channel, `conditions`, `datasets`) it passes. Rules are
//! compiled once per entry that serves them, so evaluating an event only touches the rules of
//! the entries it belongs to.

use std::collections::BTreeMap;

use serde::Deserialize;
use yagura_model::Event;

use crate::fields::lookup_windows;

/// The log-source map built into yagura.
pub const BUILTIN_LOGSOURCES: &str = include_str!("../config/logsources.yml");

/// Errors of a log-source map.
#[derive(Debug, thiserror::Error)]
pub enum LogSourceError {
    #[error("log-source map is not valid YAML: {0}")]
    Yaml(String),
    #[error("log-source entry `{entry}`: {reason}")]
    Entry { entry: String, reason: String },
}

#[derive(Debug, Deserialize)]
struct RawMap {
    #[serde(default)]
    logsources: BTreeMap<String, RawEntry>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct RawEntry {
    category: Option<String>,
    product: Option<String>,
    service: Option<String>,
    conditions: BTreeMap<String, sigma_yaml::Value>,
    rewrite: Option<RawRewrite>,
    sources: Vec<String>,
    fieldmappings: BTreeMap<String, sigma_yaml::Value>,
    datasets: Vec<String>,
    fields: BTreeMap<String, Vec<String>>,
    raw: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
struct RawRewrite {
    product: Option<String>,
    service: Option<String>,
}

/// The rule side of a log source: lower-cased `category`, `product`, `service`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Selector {
    pub category: Option<String>,
    pub product: Option<String>,
    pub service: Option<String>,
}

impl Selector {
    pub fn new(category: Option<&str>, product: Option<&str>, service: Option<&str>) -> Self {
        let norm = |s: Option<&str>| s.map(|s| s.trim().to_ascii_lowercase());
        Selector {
            category: norm(category),
            product: norm(product),
            service: norm(service),
        }
    }
}

impl std::fmt::Display for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut first = true;
        for (k, v) in [
            ("product", &self.product),
            ("category", &self.category),
            ("service", &self.service),
        ] {
            if let Some(v) = v {
                if !first {
                    f.write_str(", ")?;
                }
                write!(f, "{k}: {v}")?;
                first = false;
            }
        }
        if first {
            f.write_str("(empty logsource)")?;
        }
        Ok(())
    }
}

/// A condition value of an entry: one of a set of texts.
#[derive(Debug, Clone, PartialEq)]
struct CondValues(Vec<String>);

/// How Sigma field names are resolved on the events of one entry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldPlan {
    /// Windows event log source (EventData names, `EventID`, `Channel`, …).
    pub windows: bool,
    /// Sigma name (lower-cased) → name used instead (THOR `fieldmappings`).
    pub renames: BTreeMap<String, String>,
    /// Sigma name (lower-cased) → ECS paths tried in order.
    pub ecs: BTreeMap<String, Vec<String>>,
    /// Prefix under [`Event::other`] where the source's own field names live.
    pub raw: Option<String>,
}

/// One way an event can belong to a log source.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub selector: Selector,
    /// Windows channels (lower-cased) of the entry's service, empty when not channel-based.
    channels: Vec<String>,
    /// For category entries: the service whose channels the event must come from.
    rewrite_service: Option<String>,
    conditions: Vec<(String, CondValues)>,
    datasets: Vec<String>,
    pub plan: FieldPlan,
}

/// A compiled log-source map.
#[derive(Debug, Clone)]
pub struct LogSourceMap {
    entries: Vec<Entry>,
    /// service name → channels (lower-cased), for rewrites.
    service_channels: BTreeMap<String, Vec<String>>,
    /// Products that have at least one entry (rules naming only a product apply to all of its
    /// events: one pseudo entry per product, after the real entries).
    products: Vec<String>,
    /// Dispatch index: the only entries an event can belong to, by its lower-cased channel and
    /// dataset, plus the entries keyed by neither (tested on every event).
    by_channel: std::collections::HashMap<String, Vec<usize>>,
    by_dataset: std::collections::HashMap<String, Vec<usize>>,
    unkeyed: Vec<usize>,
}

impl LogSourceMap {
    /// The map shipped with yagura.
    pub fn builtin() -> Self {
        // The built-in map is part of the crate and covered by tests; failing to parse it is a
        // build defect, so fall back to an empty map rather than panic on a release binary.
        Self::from_yaml(BUILTIN_LOGSOURCES).unwrap_or_else(|_| Self::empty())
    }

    pub fn empty() -> Self {
        LogSourceMap {
            entries: Vec::new(),
            service_channels: BTreeMap::new(),
            products: Vec::new(),
            by_channel: Default::default(),
            by_dataset: Default::default(),
            unkeyed: Vec::new(),
        }
    }

    /// Parses a map; several maps can be merged with [`LogSourceMap::merge`].
    pub fn from_yaml(text: &str) -> Result<Self, LogSourceError> {
        let raw: RawMap =
            sigma_yaml::from_str(text).map_err(|e| LogSourceError::Yaml(e.to_string()))?;
        let mut map = LogSourceMap::empty();
        map.add_raw(raw)?;
        Ok(map)
    }

    /// Adds the entries of another map (later entries add to, never replace, earlier ones).
    pub fn merge(&mut self, text: &str) -> Result<(), LogSourceError> {
        let raw: RawMap =
            sigma_yaml::from_str(text).map_err(|e| LogSourceError::Yaml(e.to_string()))?;
        self.add_raw(raw)
    }

    fn add_raw(&mut self, raw: RawMap) -> Result<(), LogSourceError> {
        // First pass: services and their channels (rewrites refer to them).
        for e in raw.logsources.values() {
            if let Some(service) = &e.service {
                let channels: Vec<String> = e
                    .sources
                    .iter()
                    .filter_map(|s| s.strip_prefix("WinEventLog:"))
                    .map(|c| c.to_ascii_lowercase())
                    .collect();
                if !channels.is_empty() {
                    self.service_channels
                        .entry(service.to_ascii_lowercase())
                        .or_default()
                        .extend(channels);
                }
            }
        }
        for (name, e) in raw.logsources {
            let selector = Selector::new(
                e.category.as_deref(),
                e.product.as_deref(),
                e.service.as_deref(),
            );
            let channels: Vec<String> = e
                .sources
                .iter()
                .filter_map(|s| s.strip_prefix("WinEventLog:"))
                .map(|c| c.to_ascii_lowercase())
                .collect();
            let rewrite_service = e
                .rewrite
                .as_ref()
                .and_then(|r| r.service.as_deref())
                .map(str::to_ascii_lowercase);
            let rewrite_product = e
                .rewrite
                .as_ref()
                .and_then(|r| r.product.as_deref())
                .map(str::to_ascii_lowercase);
            let mut conditions = Vec::new();
            for (k, v) in &e.conditions {
                let values = yaml_texts(v).ok_or_else(|| LogSourceError::Entry {
                    entry: name.clone(),
                    reason: format!("condition `{k}` must be a scalar or a list of scalars"),
                })?;
                conditions.push((k.clone(), CondValues(values)));
            }
            let windows = !channels.is_empty()
                || rewrite_service.is_some() && !e.conditions.is_empty()
                || selector.product.as_deref() == Some("windows")
                || rewrite_product.as_deref() == Some("windows");
            let mut renames = BTreeMap::new();
            for (k, v) in &e.fieldmappings {
                // THOR maps one name to one name; a list means alternatives: keep the first.
                let target = yaml_texts(v)
                    .and_then(|t| t.into_iter().next())
                    .ok_or_else(|| LogSourceError::Entry {
                        entry: name.clone(),
                        reason: format!("fieldmapping `{k}` must name a field"),
                    })?;
                renames.insert(k.to_ascii_lowercase(), target);
            }
            let ecs = e
                .fields
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                .collect();
            let has_event_side = !channels.is_empty()
                || !conditions.is_empty()
                || !e.datasets.is_empty()
                || rewrite_service.is_some();
            if !has_event_side {
                // e.g. `File:/var/log/...` sources: yagura reads no events by file glob here.
                continue;
            }
            let product = selector
                .product
                .clone()
                .or(rewrite_product)
                .or_else(|| windows.then(|| "windows".to_owned()));
            if let Some(p) = product
                && !self.products.contains(&p)
            {
                self.products.push(p);
            }
            self.entries.push(Entry {
                name,
                selector,
                channels,
                rewrite_service,
                conditions,
                datasets: e.datasets.iter().map(|d| d.to_ascii_lowercase()).collect(),
                plan: FieldPlan {
                    windows,
                    renames,
                    ecs,
                    raw: e.raw,
                },
            });
        }
        self.index_entries();
        Ok(())
    }

    /// Rebuilds the dispatch index (mirrors the tests of [`LogSourceMap::slots_of`]: an entry
    /// is filed under what it requires; the full test still runs on each candidate).
    fn index_entries(&mut self) {
        self.by_channel.clear();
        self.by_dataset.clear();
        self.unkeyed.clear();
        for (i, e) in self.entries.iter().enumerate() {
            let channels: Option<&Vec<String>> = if !e.channels.is_empty() {
                Some(&e.channels)
            } else if !e.datasets.is_empty() && e.conditions.is_empty() {
                None
            } else {
                e.rewrite_service
                    .as_ref()
                    .and_then(|svc| self.service_channels.get(svc))
            };
            if let Some(chs) = channels {
                for c in chs {
                    let v = self.by_channel.entry(c.clone()).or_default();
                    if !v.contains(&i) {
                        v.push(i);
                    }
                }
            } else if !e.datasets.is_empty() {
                for d in &e.datasets {
                    let v = self.by_dataset.entry(d.clone()).or_default();
                    if !v.contains(&i) {
                        v.push(i);
                    }
                }
            } else {
                self.unkeyed.push(i);
            }
        }
    }

    /// The real entries (pseudo product entries are not listed).
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Number of dispatch slots: one per entry plus one per product.
    pub fn slot_count(&self) -> usize {
        self.entries.len() + self.products.len()
    }

    /// The field plan of a slot.
    pub fn plan(&self, slot: usize) -> FieldPlan {
        match self.entries.get(slot) {
            Some(e) => e.plan.clone(),
            None => {
                let windows = self
                    .products
                    .get(slot - self.entries.len())
                    .is_some_and(|p| p == "windows");
                FieldPlan {
                    windows,
                    ..FieldPlan::default()
                }
            }
        }
    }

    /// Human name of a slot.
    pub fn slot_name(&self, slot: usize) -> String {
        match self.entries.get(slot) {
            Some(e) => e.name.clone(),
            None => format!(
                "product:{}",
                self.products
                    .get(slot - self.entries.len())
                    .map(String::as_str)
                    .unwrap_or("?")
            ),
        }
    }

    /// The slots serving a rule's log source; empty when yagura reads nothing it covers.
    pub fn slots_for(&self, rule: &Selector) -> Vec<usize> {
        let mut out = Vec::new();
        if rule.category.is_none()
            && rule.service.is_none()
            && let Some(p) = &rule.product
        {
            if let Some(i) = self.products.iter().position(|x| x == p) {
                out.push(self.entries.len() + i);
            }
            return out;
        }
        for (i, e) in self.entries.iter().enumerate() {
            if selector_serves(&e.selector, e.rewrite_service.as_deref(), rule) {
                out.push(i);
            }
        }
        out
    }

    /// Calls `f` with each slot the event belongs to.
    pub fn slots_of(&self, event: &Event, mut f: impl FnMut(usize)) {
        // Called for every event (twice: detection in the readers, correlation in order):
        // the folded names and the event id are built inline (up to 24 bytes), not on the heap.
        let fold = |s: &str| {
            let mut folded = compact_str::CompactString::new(s);
            folded.make_ascii_lowercase();
            folded
        };
        let channel = event.winlog.channel.as_deref().map(fold);
        let dataset = event.event.dataset.as_deref().map(fold);
        let mut product_hits: smallvec_like::Set = Default::default();
        let event_id = event
            .winlog
            .event_id
            .map(|n| compact_str::ToCompactString::to_compact_string(&n));
        let mut candidates: smallvec::SmallVec<[usize; 16]> = smallvec::SmallVec::new();
        if let Some(c) = channel.as_deref()
            && let Some(v) = self.by_channel.get(c)
        {
            candidates.extend_from_slice(v);
        }
        if let Some(d) = dataset.as_deref()
            && let Some(v) = self.by_dataset.get(d)
        {
            candidates.extend_from_slice(v);
        }
        candidates.extend_from_slice(&self.unkeyed);
        candidates.sort_unstable();
        candidates.dedup();
        for i in candidates {
            let Some(e) = self.entries.get(i) else {
                continue;
            };
            let belongs = if !e.channels.is_empty() {
                channel
                    .as_deref()
                    .is_some_and(|c| e.channels.iter().any(|x| x == c))
            } else if !e.datasets.is_empty() && e.conditions.is_empty() {
                dataset
                    .as_deref()
                    .is_some_and(|d| e.datasets.iter().any(|x| x == d))
            } else {
                let svc_ok = match &e.rewrite_service {
                    Some(svc) => match (self.service_channels.get(svc), channel.as_deref()) {
                        (Some(chs), Some(c)) => chs.iter().any(|x| x == c),
                        (Some(_), None) => false,
                        (None, _) => true,
                    },
                    None => true,
                };
                svc_ok
                    && (e.datasets.is_empty()
                        || dataset
                            .as_deref()
                            .is_some_and(|d| e.datasets.iter().any(|x| x == d)))
                    && e.conditions
                        .iter()
                        .all(|(k, v)| condition_holds(event, event_id.as_deref(), k, v))
            };
            if belongs {
                f(i);
                let p = e.selector.product.as_deref().or(if e.plan.windows {
                    Some("windows")
                } else {
                    None
                });
                if let Some(p) = p
                    && let Some(pi) = self.products.iter().position(|x| x == p)
                {
                    product_hits.insert(pi);
                }
            }
        }
        // A Windows event from a channel no entry names is still a Windows event.
        if channel.is_some()
            && let Some(pi) = self.products.iter().position(|x| x == "windows")
        {
            product_hits.insert(pi);
        }
        for pi in product_hits.iter() {
            f(self.entries.len() + pi);
        }
    }
}

fn selector_serves(entry: &Selector, rewrite_service: Option<&str>, rule: &Selector) -> bool {
    // Category: both set and equal, or both unset.
    if entry.category != rule.category {
        return false;
    }
    // Product: unset on the entry means any product.
    if let (Some(a), Some(b)) = (&entry.product, &rule.product)
        && a != b
    {
        return false;
    }
    if entry.product.is_some() && rule.product.is_none() && entry.category.is_none() {
        return false;
    }
    match (&entry.service, &rule.service) {
        (Some(a), Some(b)) => a == b,
        (Some(_), None) => false,
        // A rule with category and service (`category: process_creation, service: sysmon`)
        // is served by the category entries rewritten to that service.
        (None, Some(b)) => rewrite_service == Some(b.as_str()),
        (None, None) => true,
    }
}

fn condition_holds(event: &Event, event_id: Option<&str>, key: &str, want: &CondValues) -> bool {
    if let Some(id) = event_id
        && key.eq_ignore_ascii_case("EventID")
    {
        // The common condition, with the number formatted once per event.
        return want.0.iter().any(|w| w.eq_ignore_ascii_case(id));
    }
    let mut ok = false;
    if key.contains('.') {
        event.for_each_value(key, |v| {
            let t = v.to_text();
            if want.0.iter().any(|w| w.eq_ignore_ascii_case(&t)) {
                ok = true;
            }
        });
        return ok;
    }
    match lookup_windows(event, key) {
        Some(t) => want.0.iter().any(|w| w.eq_ignore_ascii_case(&t)),
        None => false,
    }
}

fn yaml_texts(v: &sigma_yaml::Value) -> Option<Vec<String>> {
    use sigma_yaml::Value as Y;
    match v {
        Y::String(s) => Some(vec![s.clone()]),
        Y::Number(n) => Some(vec![n.to_string()]),
        Y::Bool(b) => Some(vec![b.to_string()]),
        Y::Sequence(items) => {
            let mut out = Vec::new();
            for i in items {
                out.extend(yaml_texts(i)?);
            }
            Some(out)
        }
        _ => None,
    }
}

/// A tiny ordered set of small integers (products are few).
mod smallvec_like {
    #[derive(Default)]
    pub struct Set(Vec<usize>);
    impl Set {
        pub fn insert(&mut self, v: usize) {
            if !self.0.contains(&v) {
                self.0.push(v);
            }
        }
        pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
            self.0.iter().copied()
        }
    }
}

#[cfg(test)]
mod tests;
