//! The indicator store: compact entries sharing interned provenance.
//!
//! Feeds publish thousands of indicators with the same provenance (a maltrail family file: one
//! source, one set of tags, one TLP), so an entry is just `(kind, port, value, meta id)` and
//! the provenance ([`Meta`]) is interned once. 1.5 M indicators cost about 40 bytes each plus
//! their text. Entries are deduplicated on (kind, value, port, source): importing the same
//! feed twice merges (last seen, confidence, tags) instead of doubling.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

use yagura_model::{Indicator, IndicatorKind, Timestamp, Tlp};

/// Provenance and lifecycle shared by many indicators.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Meta {
    pub source: Box<str>,
    pub confidence: u8,
    pub tlp: Tlp,
    pub first_seen: Option<Timestamp>,
    pub last_seen: Option<Timestamp>,
    pub valid_from: Option<Timestamp>,
    pub valid_until: Option<Timestamp>,
    pub tags: Box<[Box<str>]>,
    pub to_ids: bool,
    pub description: Option<Box<str>>,
}

impl Meta {
    pub fn valid_at(&self, t: Timestamp) -> bool {
        self.valid_from.is_none_or(|from| t >= from)
            && self.valid_until.is_none_or(|until| t < until)
    }

    fn of(i: &Indicator) -> Meta {
        Meta {
            source: i.source.as_str().into(),
            confidence: i.confidence.min(100),
            tlp: i.tlp,
            first_seen: i.first_seen,
            last_seen: i.last_seen,
            valid_from: i.valid_from,
            valid_until: i.valid_until,
            tags: i.tags.iter().map(|t| Box::from(t.as_str())).collect(),
            to_ids: i.to_ids,
            description: i.description.as_deref().map(Box::from),
        }
    }
}

/// One stored indicator: kind, normalized value, optional port and its provenance id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: IndicatorKind,
    pub port: Option<u16>,
    pub value: Box<str>,
    pub meta: u32,
}

/// A borrowed view of one indicator with its provenance.
#[derive(Debug, Clone, Copy)]
pub struct IndicatorRef<'a> {
    pub kind: IndicatorKind,
    pub value: &'a str,
    pub port: Option<u16>,
    pub meta: &'a Meta,
}

impl IndicatorRef<'_> {
    /// The model's owned form.
    pub fn to_indicator(&self) -> Indicator {
        let m = self.meta;
        Indicator {
            kind: self.kind,
            value: self.value.to_owned(),
            port: self.port,
            source: m.source.to_string(),
            confidence: m.confidence,
            tlp: m.tlp,
            first_seen: m.first_seen,
            last_seen: m.last_seen,
            valid_from: m.valid_from,
            valid_until: m.valid_until,
            tags: m.tags.iter().map(|t| t.to_string()).collect(),
            to_ids: m.to_ids,
            description: m.description.as_deref().map(str::to_owned),
        }
    }
}

const NIL: u32 = u32::MAX;

/// Deduplicating, interning collection of indicators.
#[derive(Debug, Clone, Default)]
pub struct IndicatorStore {
    entries: Vec<Entry>,
    metas: Vec<Arc<Meta>>,
    meta_ids: HashMap<Arc<Meta>, u32, foldhash::fast::RandomState>,
    /// identity hash → first entry id; `chain[id]` links entries sharing a hash.
    identity: HashMap<u64, u32, foldhash::fast::RandomState>,
    chain: Vec<u32>,
    hasher: foldhash::fast::RandomState,
}

/// What [`IndicatorStore::insert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    New,
    /// Same (kind, value, port, source) was there: provenance merged.
    Merged,
}

impl IndicatorStore {
    pub fn new() -> IndicatorStore {
        IndicatorStore::default()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn metas(&self) -> &[Arc<Meta>] {
        &self.metas
    }

    /// The entry `id` with its provenance.
    pub fn get(&self, id: usize) -> Option<IndicatorRef<'_>> {
        let e = self.entries.get(id)?;
        let meta = self.metas.get(e.meta as usize)?;
        Some(IndicatorRef {
            kind: e.kind,
            value: &e.value,
            port: e.port,
            meta,
        })
    }

    pub fn iter(&self) -> impl Iterator<Item = IndicatorRef<'_>> {
        (0..self.entries.len()).filter_map(|i| self.get(i))
    }

    pub(crate) fn into_parts(self) -> (Vec<Entry>, Vec<Arc<Meta>>) {
        (self.entries, self.metas)
    }

    /// Rebuilds a store from entries and their provenance table.
    pub(crate) fn from_parts(entries: Vec<Entry>, metas: Vec<Arc<Meta>>) -> IndicatorStore {
        let mut s = IndicatorStore {
            entries,
            ..IndicatorStore::default()
        };
        for (i, m) in metas.iter().enumerate() {
            s.meta_ids
                .insert(m.clone(), u32::try_from(i).unwrap_or(NIL));
        }
        s.metas = metas;
        s.rebuild_identity();
        s
    }

    /// Interns provenance; feeds call this once per file and then [`Self::insert_with_meta`].
    pub fn intern(&mut self, meta: Meta) -> u32 {
        if let Some(&id) = self.meta_ids.get(&meta) {
            return id;
        }
        self.intern_new(Arc::new(meta))
    }

    fn intern_arc(&mut self, meta: Arc<Meta>) -> u32 {
        if let Some(&id) = self.meta_ids.get(&meta) {
            return id;
        }
        self.intern_new(meta)
    }

    fn intern_new(&mut self, meta: Arc<Meta>) -> u32 {
        let id = u32::try_from(self.metas.len()).unwrap_or(NIL);
        self.metas.push(meta.clone());
        self.meta_ids.insert(meta, id);
        id
    }

    /// An empty store whose identity hashes agree with this one's, to fill on another thread
    /// and then [`Self::append_disjoint`] here without hashing its entries again.
    pub(crate) fn empty_like(&self) -> IndicatorStore {
        IndicatorStore {
            hasher: self.hasher.clone(),
            ..IndicatorStore::default()
        }
    }

    /// Moves every entry of `other` — made by [`Self::empty_like`] on this store, and sharing
    /// no source with it — to the end of this store. Because entries are deduplicated per
    /// source, inserting `other`'s records here one by one would have found none of them: the
    /// result (entries, their order, the provenance table and the identity index) is what that
    /// would have built.
    pub(crate) fn append_disjoint(&mut self, other: IndicatorStore) {
        let IndicatorStore {
            entries,
            metas,
            identity,
            chain,
            ..
        } = other;
        // Each entry's identity hash, from the other store's index instead of hashing again.
        let mut hashes = vec![0u64; entries.len()];
        for (&hash, &head) in &identity {
            let mut id = head;
            while let Some(slot) = hashes.get_mut(id as usize) {
                *slot = hash;
                id = chain.get(id as usize).copied().unwrap_or(NIL);
            }
        }
        let remap: Vec<u32> = metas.into_iter().map(|m| self.intern_arc(m)).collect();
        self.entries.reserve(entries.len());
        self.chain.reserve(entries.len());
        self.identity.reserve(identity.len());
        for (e, hash) in entries.into_iter().zip(hashes) {
            let id = u32::try_from(self.entries.len()).unwrap_or(NIL);
            self.entries.push(Entry {
                meta: remap.get(e.meta as usize).copied().unwrap_or(NIL),
                ..e
            });
            let prev = self.identity.insert(hash, id).unwrap_or(NIL);
            self.chain.push(prev);
        }
    }

    fn identity_hash(
        &self,
        kind: IndicatorKind,
        value: &str,
        port: Option<u16>,
        source: &str,
    ) -> u64 {
        let mut h = self.hasher.build_hasher();
        kind.hash(&mut h);
        value.hash(&mut h);
        port.hash(&mut h);
        source.hash(&mut h);
        h.finish()
    }

    fn find(
        &self,
        hash: u64,
        kind: IndicatorKind,
        value: &str,
        port: Option<u16>,
        source: &str,
    ) -> Option<usize> {
        let mut id = *self.identity.get(&hash)?;
        while id != NIL {
            let i = id as usize;
            let e = self.entries.get(i)?;
            if e.kind == kind
                && e.port == port
                && &*e.value == value
                && self
                    .metas
                    .get(e.meta as usize)
                    .is_some_and(|m| &*m.source == source)
            {
                return Some(i);
            }
            id = self.chain.get(i).copied().unwrap_or(NIL);
        }
        None
    }

    /// Inserts an already normalized value with interned provenance `meta`.
    pub fn insert_with_meta(
        &mut self,
        kind: IndicatorKind,
        value: &str,
        port: Option<u16>,
        meta: u32,
    ) -> Inserted {
        let Some(m) = self.metas.get(meta as usize).cloned() else {
            return Inserted::Merged;
        };
        let hash = self.identity_hash(kind, value, port, &m.source);
        if let Some(i) = self.find(hash, kind, value, port, &m.source) {
            let old = self.entries.get(i).map(|e| e.meta).unwrap_or(meta);
            if old != meta {
                let merged = self.metas.get(old as usize).map(|o| merge(o, &m));
                if let Some(merged) = merged {
                    let id = self.intern(merged);
                    if let Some(e) = self.entries.get_mut(i) {
                        e.meta = id;
                    }
                }
            }
            return Inserted::Merged;
        }
        let id = u32::try_from(self.entries.len()).unwrap_or(NIL);
        self.entries.push(Entry {
            kind,
            port,
            value: value.into(),
            meta,
        });
        let prev = self.identity.insert(hash, id).unwrap_or(NIL);
        self.chain.push(prev);
        Inserted::New
    }

    /// Inserts a model indicator (its value must already be normalized).
    pub fn insert(&mut self, i: &Indicator) -> Inserted {
        let meta = self.intern(Meta::of(i));
        self.insert_with_meta(i.kind, &i.value, i.port, meta)
    }

    /// Adds every indicator of `other`.
    pub fn extend_from(&mut self, other: &IndicatorStore) {
        let mut remap = Vec::with_capacity(other.metas.len());
        for m in &other.metas {
            remap.push(self.intern(Meta::clone(m)));
        }
        for e in &other.entries {
            if let Some(&m) = remap.get(e.meta as usize) {
                self.insert_with_meta(e.kind, &e.value, e.port, m);
            }
        }
    }

    /// Removes the indicators for which `keep` is false; returns how many went.
    pub fn retain(&mut self, mut keep: impl FnMut(IndicatorRef<'_>) -> bool) -> usize {
        let before = self.entries.len();
        let metas = std::mem::take(&mut self.metas);
        self.entries.retain(|e| match metas.get(e.meta as usize) {
            Some(meta) => keep(IndicatorRef {
                kind: e.kind,
                value: &e.value,
                port: e.port,
                meta,
            }),
            None => false,
        });
        self.metas = metas;
        self.rebuild_identity();
        before - self.entries.len()
    }

    /// Drops indicators whose `valid_until` is at or before `now`.
    pub fn expire(&mut self, now: Timestamp) -> usize {
        self.retain(|i| i.meta.valid_until.is_none_or(|u| u > now))
    }

    fn rebuild_identity(&mut self) {
        self.identity.clear();
        self.chain.clear();
        for i in 0..self.entries.len() {
            let Some(e) = self.entries.get(i) else { break };
            let source = self
                .metas
                .get(e.meta as usize)
                .map(|m| m.source.clone())
                .unwrap_or_default();
            let hash = self.identity_hash(e.kind, &e.value, e.port, &source);
            let prev = self
                .identity
                .insert(hash, u32::try_from(i).unwrap_or(NIL))
                .unwrap_or(NIL);
            self.chain.push(prev);
        }
    }

    /// The identity index (hash → first entry, chain), for tests comparing two stores.
    #[cfg(test)]
    pub(crate) fn identity_index(&self) -> (Vec<(u64, u32)>, &[u32]) {
        let mut heads: Vec<(u64, u32)> = self.identity.iter().map(|(&h, &i)| (h, i)).collect();
        heads.sort_unstable();
        (heads, &self.chain)
    }

    /// Counts by kind and by source, for `yagura intel stats`.
    pub fn stats(&self) -> Stats {
        let mut s = Stats::default();
        for i in self.iter() {
            s.total += 1;
            *s.by_kind.entry(i.kind).or_default() += 1;
            *s.by_source.entry(i.meta.source.to_string()).or_default() += 1;
            *s.by_tlp.entry(i.meta.tlp).or_default() += 1;
            if i.meta.valid_until.is_some() {
                s.with_expiry += 1;
            }
        }
        s
    }
}

/// Summary counts of a store.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    pub total: usize,
    pub by_kind: std::collections::BTreeMap<IndicatorKind, usize>,
    pub by_source: std::collections::BTreeMap<String, usize>,
    pub by_tlp: std::collections::BTreeMap<Tlp, usize>,
    pub with_expiry: usize,
}

fn max_opt(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

fn min_opt(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Merges the provenance of a re-imported indicator: widest sighting window, the newer
/// validity, higher confidence, the more restrictive TLP, union of tags.
fn merge(old: &Meta, new: &Meta) -> Meta {
    let mut tags: Vec<Box<str>> = old.tags.to_vec();
    for t in new.tags.iter() {
        if !tags.contains(t) {
            tags.push(t.clone());
        }
    }
    Meta {
        source: new.source.clone(),
        confidence: old.confidence.max(new.confidence),
        tlp: old.tlp.max(new.tlp),
        first_seen: min_opt(old.first_seen, new.first_seen),
        last_seen: max_opt(old.last_seen, new.last_seen),
        valid_from: new.valid_from.or(old.valid_from),
        valid_until: match (old.valid_until, new.valid_until) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        },
        tags: tags.into_boxed_slice(),
        to_ids: old.to_ids || new.to_ids,
        description: new.description.clone().or_else(|| old.description.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ind(value: &str, source: &str, conf: u8, tags: &[&str]) -> Indicator {
        Indicator {
            kind: IndicatorKind::Domain,
            value: value.into(),
            port: None,
            source: source.into(),
            confidence: conf,
            tlp: Tlp::Green,
            first_seen: None,
            last_seen: None,
            valid_from: None,
            valid_until: None,
            tags: tags.iter().map(|t| t.to_string()).collect(),
            to_ids: true,
            description: None,
        }
    }

    #[test]
    fn deduplicates_and_merges_per_source() {
        let mut s = IndicatorStore::new();
        assert_eq!(
            s.insert(&ind("evil.example", "a", 50, &["x"])),
            Inserted::New
        );
        assert_eq!(
            s.insert(&ind("evil.example", "a", 70, &["y"])),
            Inserted::Merged
        );
        assert_eq!(s.insert(&ind("evil.example", "b", 10, &[])), Inserted::New);
        assert_eq!(s.len(), 2);
        let first = s.get(0).unwrap().to_indicator();
        assert_eq!(first.confidence, 70);
        assert_eq!(first.tags, vec!["x", "y"]);
        assert_eq!(s.metas().len(), 4, "a/50, a/70, b, merged");
    }

    #[test]
    fn round_trips_model_indicators_and_expires() {
        let mut s = IndicatorStore::new();
        let mut i = ind("evil.example", "a", 50, &["emotet"]);
        i.valid_until = Some(Timestamp::from_secs(100));
        i.port = Some(443);
        s.insert(&i);
        s.insert(&ind("other.example", "a", 50, &[]));
        assert_eq!(s.get(0).unwrap().to_indicator(), i);
        assert_eq!(s.expire(Timestamp::from_secs(99)), 0);
        assert_eq!(s.expire(Timestamp::from_secs(100)), 1);
        assert_eq!(s.len(), 1);
        // The identity index follows the removal.
        assert_eq!(
            s.insert(&ind("other.example", "a", 50, &[])),
            Inserted::Merged
        );
        assert_eq!(s.insert(&i), Inserted::New);
        assert_eq!(s.stats().total, 2);
    }
}
