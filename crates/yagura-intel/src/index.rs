//! The immutable match index built from an [`IndicatorStore`].
//!
//! Lookups are hash probes keyed by a 64-bit hash of (table, key text); the key text is not
//! stored a second time: a probe walks the chain of entries with that hash and compares the
//! key derived from each entry's value. Tables:
//!
//! * `D` domains and host names (a domain also matches its subdomains: the event name and each
//!   parent suffix are probed, most specific first; a host name matches only itself);
//! * `U` URL resources `host[:port]/path?query` (the scheme does not take part: `http` and
//!   `https` fetch the same resource from a blocklist's point of view), probed with and without
//!   the query; `P` bare paths, probed with the event URL's path (with and without query);
//! * `H` hashes, `E` e-mail addresses, `F` file names, `3`/`4` JA3/JA4;
//! * IPs in their own exact map, networks in one map per prefix length present, probed from
//!   the longest length down (longest-prefix match).
//!
//! In front of the exact IP map and the text tables sits a [`Prefilter`]: a blocked Bloom
//! filter small enough to stay in a core's L2 cache. Almost every probe of real traffic is a
//! miss, and a miss in a table of a million entries is a cache miss in main memory; the filter
//! answers most of them from cache (measured in BENCHMARKS.md, "Threat intelligence").
//! Domains are probed only down to the fewest labels any listed domain has, and tables with
//! no entries are not probed at all.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use yagura_model::event::{Observable, ObservableKind, ObservableValue};
use yagura_model::{Event, IndicatorKind, Timestamp};

use crate::normalize;
use crate::store::{Entry, IndicatorRef, IndicatorStore, Meta};

const NIL: u32 = u32::MAX;

/// Identity hasher for keys that already are hashes.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct PreHashed(u64);

impl Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type PreHashedMap<V> = HashMap<u64, V, BuildHasherDefault<PreHashed>>;

/// How an observable met an indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchVia {
    /// Same normalized value.
    Exact,
    /// The event name is a subdomain of the listed domain.
    ParentDomain,
    /// The address lies in the listed network (longest prefix).
    Network,
    /// Same URL resource with the query ignored (the indicator has no query).
    UrlWithoutQuery,
    /// The indicator is a bare path and the event URL has that path.
    UrlPath,
    /// Address and destination port both match an `ip:port` indicator.
    AddressAndPort,
}

impl MatchVia {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchVia::Exact => "exact",
            MatchVia::ParentDomain => "parent-domain",
            MatchVia::Network => "network",
            MatchVia::UrlWithoutQuery => "url-without-query",
            MatchVia::UrlPath => "url-path",
            MatchVia::AddressAndPort => "address-and-port",
        }
    }
}

/// One indicator hit on one event field.
#[derive(Debug, Clone, Copy)]
pub struct Match<'a> {
    /// The ECS field of the event that matched (`destination.domain`, `url.full`, …).
    pub field: &'static str,
    /// The event's value as observed.
    pub observed: ObservableValue<'a>,
    pub indicator: IndicatorRef<'a>,
    pub via: MatchVia,
    /// The MISP warninglist the value is on, if any. A false-positive list's verdict means
    /// the match is reported (so the caller can say why) but must not raise an alert.
    pub warninglist: Option<crate::warninglist::Verdict<'a>>,
}

impl Match<'_> {
    /// Should this match raise an alert? Not when a warninglist says the value is benign,
    /// nor when the indicator is not meant for detection (MISP `to_ids` false).
    pub fn alerts(&self) -> bool {
        self.indicator.meta.to_ids && !self.warninglist.is_some_and(|v| v.benign())
    }
}

/// Immutable lookup structure over a set of indicators.
#[derive(Debug)]
pub struct Index {
    entries: Vec<Entry>,
    metas: Vec<Arc<Meta>>,
    text: PreHashedMap<u32>,
    chain: Vec<u32>,
    ips: HashMap<IpAddr, u32, foldhash::fast::RandomState>,
    /// Per prefix length (longest first): network address → first entry id.
    nets: Vec<(u8, bool, HashMap<IpAddr, u32, foldhash::fast::RandomState>)>,
    /// One bit per IPv4 /16 that some listed IPv4 network overlaps: most addresses skip the
    /// per-length network probes after one bit test.
    v4_net16: Vec<u64>,
    has_v6_nets: bool,
    hasher: foldhash::fast::FixedState,
    /// Every exact IP and text key, as a Bloom filter (no false negatives).
    filter: Prefilter,
    /// Which text tables hold at least one entry (indexed by table byte).
    tables: [bool; 256],
    /// The fewest labels of any domain indicator: shorter parents cannot match.
    min_domain_labels: usize,
}

impl Default for Index {
    fn default() -> Index {
        Index {
            entries: Vec::new(),
            metas: Vec::new(),
            text: PreHashedMap::default(),
            chain: Vec::new(),
            ips: HashMap::default(),
            nets: Vec::new(),
            v4_net16: Vec::new(),
            has_v6_nets: false,
            hasher: foldhash::fast::FixedState::default(),
            filter: Prefilter::default(),
            tables: [false; 256],
            min_domain_labels: usize::MAX,
        }
    }
}

/// A blocked Bloom filter over 64-bit key hashes: each key sets three bits of one 64-bit
/// word, so a lookup touches one word. Sized at about 12 bits per key (false-positive rate
/// near 1–2 %), at most 2 MiB (then more per key, a little more false positives); an empty filter says "maybe" to everything.
#[derive(Debug, Default, Clone)]
pub(crate) struct Prefilter {
    words: Vec<u64>,
    mask: u64,
}

impl Prefilter {
    const MAX_WORDS: usize = 1 << 18; // 2 MiB: one core's L2 on the reference machine

    fn with_keys(keys: usize) -> Prefilter {
        let words = (keys.saturating_mul(12) / 64)
            .next_power_of_two()
            .clamp(1024, Self::MAX_WORDS);
        Prefilter {
            words: vec![0; words],
            mask: (words - 1) as u64,
        }
    }

    /// The word index and the three bits of a key hash (the hash is mixed again so that
    /// table hashes with weak low bits still spread).
    fn slot(&self, h: u64) -> (usize, u64) {
        let h = h.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let word = ((h >> 40) & self.mask) as usize;
        let bits = (1u64 << (h & 63)) | (1u64 << ((h >> 6) & 63)) | (1u64 << ((h >> 12) & 63));
        (word, bits)
    }

    fn insert(&mut self, h: u64) {
        if self.words.is_empty() {
            return;
        }
        let (w, bits) = self.slot(h);
        if let Some(word) = self.words.get_mut(w) {
            *word |= bits;
        }
    }

    #[inline]
    fn may_contain(&self, h: u64) -> bool {
        if self.words.is_empty() {
            return true;
        }
        let (w, bits) = self.slot(h);
        self.words.get(w).is_none_or(|word| word & bits == bits)
    }
}

fn mark_v4_net(bits: &mut [u64], n: &IpNet) {
    let IpNet::V4(n) = n else { return };
    let first = u32::from(n.network()) >> 16;
    let last = u32::from(n.broadcast()) >> 16;
    for b in first..=last {
        if let Some(w) = bits.get_mut((b / 64) as usize) {
            *w |= 1 << (b % 64);
        }
    }
}

fn v4_net16_set(bits: &[u64], ip: std::net::Ipv4Addr) -> bool {
    let b = u32::from(ip) >> 16;
    bits.get((b / 64) as usize)
        .is_some_and(|w| w & (1 << (b % 64)) != 0)
}

fn table_of(kind: IndicatorKind, value: &str) -> Option<u8> {
    use IndicatorKind as K;
    Some(match kind {
        K::Domain | K::Hostname => b'D',
        K::Url if value.starts_with('/') => b'P',
        K::Url => b'U',
        K::Md5 | K::Sha1 | K::Sha256 => b'H',
        K::Email => b'E',
        K::FileName => b'F',
        K::Ja3 => b'3',
        K::Ja4 => b'4',
        K::Ipv4 | K::Ipv6 | K::Cidr => return None,
    })
}

fn key_of(e: &Entry) -> &str {
    match e.kind {
        IndicatorKind::Url => normalize::url_resource(&e.value),
        _ => &e.value,
    }
}

impl Index {
    /// Builds the index; the store's entries move into it.
    pub fn build(store: IndicatorStore) -> Index {
        let (entries, metas) = store.into_parts();
        let mut ix = Index {
            hasher: foldhash::fast::FixedState::with_seed(0x7961_6775_7261),
            ..Index::default()
        };
        ix.chain = vec![NIL; entries.len()];
        ix.filter = Prefilter::with_keys(entries.len());
        let mut nets: HashMap<(u8, bool), HashMap<IpAddr, u32, foldhash::fast::RandomState>> =
            HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            let id = u32::try_from(i).unwrap_or(NIL);
            let link = |head: Option<u32>, chain: &mut Vec<u32>| {
                if let (Some(prev), Some(slot)) = (head, chain.get_mut(i)) {
                    *slot = prev;
                }
            };
            match e.kind {
                IndicatorKind::Ipv4 | IndicatorKind::Ipv6 => {
                    if let Ok(a) = e.value.parse::<IpAddr>() {
                        let h = ix.hash_ip(a);
                        ix.filter.insert(h);
                        let head = ix.ips.insert(a, id);
                        link(head, &mut ix.chain);
                    }
                }
                IndicatorKind::Cidr => {
                    if let Ok(n) = e.value.parse::<IpNet>() {
                        if ix.v4_net16.is_empty() {
                            ix.v4_net16 = vec![0; 1024];
                        }
                        mark_v4_net(&mut ix.v4_net16, &n);
                        ix.has_v6_nets |= !n.addr().is_ipv4();
                        let head = nets
                            .entry((n.prefix_len(), n.addr().is_ipv4()))
                            .or_default()
                            .insert(n.network(), id);
                        link(head, &mut ix.chain);
                    }
                }
                kind => {
                    if let Some(t) = table_of(kind, &e.value) {
                        if kind == IndicatorKind::Domain {
                            let labels = e.value.split('.').count();
                            ix.min_domain_labels = ix.min_domain_labels.min(labels);
                        }
                        ix.tables[usize::from(t)] = true;
                        let h = ix.hash(t, key_of(e));
                        ix.filter.insert(h);
                        let head = ix.text.insert(h, id);
                        link(head, &mut ix.chain);
                    }
                }
            }
        }
        let mut nets: Vec<_> = nets.into_iter().map(|((l, v4), m)| (l, v4, m)).collect();
        nets.sort_by_key(|n| std::cmp::Reverse(n.0));
        ix.nets = nets;
        ix.entries = entries;
        ix.metas = metas;
        ix
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// A store holding the same indicators (for merging with a delta).
    pub fn to_store(&self) -> IndicatorStore {
        IndicatorStore::from_parts(self.entries.clone(), self.metas.clone())
    }

    fn hash(&self, table: u8, key: &str) -> u64 {
        let mut h = self.hasher.build_hasher();
        h.write_u8(table);
        h.write(key.as_bytes());
        h.finish()
    }

    fn hash_ip(&self, ip: IpAddr) -> u64 {
        let mut h = self.hasher.build_hasher();
        match ip {
            IpAddr::V4(a) => h.write_u32(u32::from(a)),
            IpAddr::V6(a) => h.write_u128(u128::from(a)),
        }
        h.finish()
    }

    fn get(&self, id: u32) -> Option<(IndicatorRef<'_>, &Entry)> {
        let e = self.entries.get(id as usize)?;
        let meta = self.metas.get(e.meta as usize)?;
        Some((
            IndicatorRef {
                kind: e.kind,
                value: &e.value,
                port: e.port,
                meta,
            },
            e,
        ))
    }

    /// Calls `f` for each entry in table `t` whose key is `key`.
    fn probe<'s>(&'s self, t: u8, key: &str, mut f: impl FnMut(IndicatorRef<'s>)) {
        if !self.tables[usize::from(t)] {
            return;
        }
        let h = self.hash(t, key);
        if !self.filter.may_contain(h) {
            return;
        }
        let Some(&head) = self.text.get(&h) else {
            return;
        };
        let mut id = head;
        while id != NIL {
            if let Some((r, e)) = self.get(id)
                && table_of(e.kind, &e.value) == Some(t)
                && key_of(e) == key
            {
                f(r);
            }
            id = self.chain.get(id as usize).copied().unwrap_or(NIL);
        }
    }

    /// Is this exact indicator (kind, normalized value, port, source) in the index?
    pub fn contains(
        &self,
        kind: IndicatorKind,
        value: &str,
        port: Option<u16>,
        source: &str,
    ) -> bool {
        let same = |id: u32| {
            self.get(id).is_some_and(|(r, _)| {
                r.kind == kind && r.value == value && r.port == port && &*r.meta.source == source
            })
        };
        let mut head = match kind {
            IndicatorKind::Ipv4 | IndicatorKind::Ipv6 => match value.parse::<IpAddr>() {
                Ok(a) => self.ips.get(&a).copied(),
                Err(_) => None,
            },
            IndicatorKind::Cidr => match value.parse::<IpNet>() {
                Ok(n) => self
                    .nets
                    .iter()
                    .find(|(l, v4, _)| *l == n.prefix_len() && *v4 == n.addr().is_ipv4())
                    .and_then(|(_, _, m)| m.get(&n.network()).copied()),
                Err(_) => None,
            },
            _ => table_of(kind, value).and_then(|t| {
                let k = if kind == IndicatorKind::Url {
                    normalize::url_resource(value)
                } else {
                    value
                };
                self.text.get(&self.hash(t, k)).copied()
            }),
        };
        while let Some(id) = head.filter(|&id| id != NIL) {
            if same(id) {
                return true;
            }
            head = self.chain.get(id as usize).copied();
        }
        false
    }

    /// Looks up one IP: exact (honouring port restrictions) and the longest covering network.
    pub fn check_ip<'s>(
        &'s self,
        ip: IpAddr,
        port: Option<u16>,
        mut f: impl FnMut(IndicatorRef<'s>, MatchVia),
    ) {
        let ip = normalize::canonical_ip(ip);
        if !self.ips.is_empty() && self.filter.may_contain(self.hash_ip(ip)) {
            self.walk_ip(self.ips.get(&ip), port, &mut f);
        }
        let v4 = match ip {
            IpAddr::V4(a) => {
                if !v4_net16_set(&self.v4_net16, a) {
                    return;
                }
                true
            }
            IpAddr::V6(_) => {
                if !self.has_v6_nets {
                    return;
                }
                false
            }
        };
        for (len, is_v4, map) in &self.nets {
            if *is_v4 != v4 {
                continue;
            }
            let Ok(net) = IpNet::new(ip, *len) else {
                continue;
            };
            if let Some(head) = map.get(&net.network()) {
                let mut id = *head;
                let mut any = false;
                while id != NIL {
                    if let Some((r, _)) = self.get(id)
                        && r.port.is_none_or(|p| Some(p) == port)
                    {
                        any = true;
                        f(r, MatchVia::Network);
                    }
                    id = self.chain.get(id as usize).copied().unwrap_or(NIL);
                }
                if any {
                    return;
                }
            }
        }
    }

    fn walk_ip<'s>(
        &'s self,
        head: Option<&u32>,
        port: Option<u16>,
        f: &mut impl FnMut(IndicatorRef<'s>, MatchVia),
    ) {
        let mut id = head.copied().unwrap_or(NIL);
        while id != NIL {
            if let Some((r, _)) = self.get(id) {
                match r.port {
                    None => f(r, MatchVia::Exact),
                    Some(p) if Some(p) == port => f(r, MatchVia::AddressAndPort),
                    Some(_) => {}
                }
            }
            id = self.chain.get(id as usize).copied().unwrap_or(NIL);
        }
    }

    /// Looks up a domain name: itself, then each parent suffix (domain indicators only).
    pub fn check_domain<'s>(&'s self, name: &str, mut f: impl FnMut(IndicatorRef<'s>, MatchVia)) {
        let Some(key) = normalize::domain_key(name) else {
            return;
        };
        let mut rest: &str = &key;
        let mut labels = rest.bytes().filter(|&b| b == b'.').count() + 1;
        let mut via = MatchVia::Exact;
        loop {
            self.probe(b'D', rest, |r| {
                if via == MatchVia::Exact || r.kind == IndicatorKind::Domain {
                    f(r, via);
                }
            });
            // Parents only match domain indicators, and none has fewer labels than this.
            if labels <= self.min_domain_labels {
                break;
            }
            match rest.split_once('.') {
                Some((_, parent)) if !parent.is_empty() => {
                    rest = parent;
                    labels -= 1;
                    via = MatchVia::ParentDomain;
                }
                _ => break,
            }
        }
    }

    /// Looks up a URL: the resource with and without query, and its path.
    pub fn check_url<'s>(&'s self, url: &str, mut f: impl FnMut(IndicatorRef<'s>, MatchVia)) {
        let Some(key) = normalize::url_key(url) else {
            return;
        };
        let key: &str = &key;
        self.probe(b'U', key, |r| f(r, MatchVia::Exact));
        let no_query = key.split_once('?').map(|(k, _)| k);
        if let Some(nq) = no_query {
            self.probe(b'U', nq, |r| f(r, MatchVia::UrlWithoutQuery));
        }
        let (_, path) = normalize::split_resource(key);
        self.probe(b'P', path, |r| f(r, MatchVia::UrlPath));
        if let Some((p, _)) = path.split_once('?') {
            self.probe(b'P', p, |r| f(r, MatchVia::UrlPath));
        }
    }

    fn check_text<'s>(
        &'s self,
        table: u8,
        key: &str,
        mut f: impl FnMut(IndicatorRef<'s>, MatchVia),
    ) {
        self.probe(table, key, |r| f(r, MatchVia::Exact));
    }

    /// Calls `key` with every prefilter hash a lookup of `o` would probe, or returns `false`
    /// when `o` cannot be screened by the prefilter (it must then be looked up).
    fn screen_keys(&self, o: &Observable<'_>, mut key: impl FnMut(u64)) -> bool {
        match o.value {
            ObservableValue::Ip(ip) => {
                let ip = normalize::canonical_ip(ip);
                let nets = match ip {
                    IpAddr::V4(a) => v4_net16_set(&self.v4_net16, a),
                    IpAddr::V6(_) => self.has_v6_nets,
                };
                if nets {
                    return false;
                }
                if !self.ips.is_empty() {
                    key(self.hash_ip(ip));
                }
                true
            }
            ObservableValue::Text(ObservableKind::Domain, v) => {
                if !self.tables[usize::from(b'D')] {
                    return true;
                }
                let Some(name) = normalize::domain_key(v) else {
                    return true;
                };
                let mut rest: &str = &name;
                let mut labels = rest.bytes().filter(|&b| b == b'.').count() + 1;
                loop {
                    key(self.hash(b'D', rest));
                    if labels <= self.min_domain_labels {
                        break;
                    }
                    match rest.split_once('.') {
                        Some((_, parent)) if !parent.is_empty() => {
                            rest = parent;
                            labels -= 1;
                        }
                        _ => break,
                    }
                }
                true
            }
            ObservableValue::Text(ObservableKind::Url, v) => {
                let (u, p) = (
                    self.tables[usize::from(b'U')],
                    self.tables[usize::from(b'P')],
                );
                if !u && !p {
                    return true;
                }
                let Some(k) = normalize::url_key(v) else {
                    return true;
                };
                let k: &str = &k;
                let no_query = k.split_once('?').map(|(k, _)| k);
                if u {
                    key(self.hash(b'U', k));
                    if let Some(nq) = no_query {
                        key(self.hash(b'U', nq));
                    }
                }
                if p {
                    let (_, path) = normalize::split_resource(k);
                    key(self.hash(b'P', path));
                    if let Some((path, _)) = path.split_once('?') {
                        key(self.hash(b'P', path));
                    }
                }
                true
            }
            ObservableValue::Text(..) => false,
        }
    }

    /// Checks one observable; `dst_port` restricts `ip:port` indicators on `destination.ip`.
    pub fn check_observable<'s>(
        &'s self,
        o: &Observable<'_>,
        dst_port: Option<u16>,
        f: impl FnMut(IndicatorRef<'s>, MatchVia),
    ) {
        match o.value {
            ObservableValue::Ip(ip) => {
                let port = if o.field == "destination.ip" {
                    dst_port
                } else {
                    None
                };
                self.check_ip(ip, port, f);
            }
            ObservableValue::Text(kind, v) => match kind {
                ObservableKind::Domain => self.check_domain(v, f),
                ObservableKind::Url => self.check_url(v, f),
                ObservableKind::Hash => self.check_text(b'H', &normalize::hash_key(v), f),
                ObservableKind::Email => {
                    if let Some(k) = normalize::email_key(v) {
                        self.check_text(b'E', &k, f);
                    }
                }
                ObservableKind::FileName => {
                    if let Ok(k) = normalize::file_name(v) {
                        self.check_text(b'F', &k, f);
                    }
                }
                ObservableKind::Ja3 => self.check_text(b'3', &normalize::hash_key(v), f),
                ObservableKind::Ja4 => self.check_text(b'4', &normalize::hash_key(v), f),
                ObservableKind::User | ObservableKind::Ip => {}
            },
        }
    }
}

/// The observables of an event worth checking, deduplicated (`url.domain` is usually the same
/// as `destination.domain`); user names are not indicators.
pub(crate) fn for_each_distinct_observable<'e>(ev: &'e Event, mut f: impl FnMut(Observable<'e>)) {
    let mut seen: smallvec::SmallVec<[ObservableValue<'e>; 8]> = smallvec::SmallVec::new();
    ev.observables(|o| {
        if o.value.kind() == ObservableKind::User || seen.contains(&o.value) {
            return;
        }
        seen.push(o.value);
        f(o);
    });
}

/// A matcher: an index plus warninglists, checking whole events.
#[derive(Debug, Default)]
pub struct Matcher {
    index: Index,
    warninglists: Arc<crate::warninglist::Warninglists>,
}

impl Matcher {
    pub fn new(index: Index, warninglists: Arc<crate::warninglist::Warninglists>) -> Matcher {
        Matcher {
            index,
            warninglists,
        }
    }

    pub fn index(&self) -> &Index {
        &self.index
    }

    /// Calls `f` for every indicator in force at the event's time that one of the event's
    /// indicator-bearing fields matches; returns the number of matches.
    pub fn check<'s, 'e: 's>(&'s self, ev: &'e Event, mut f: impl FnMut(Match<'s>)) -> usize {
        check_event(&self.index, &self.warninglists, ev, &mut f, &|_| true)
    }
}

pub(crate) fn check_event<'s, 'e: 's>(
    index: &'s Index,
    warninglists: &'s crate::warninglist::Warninglists,
    ev: &'e Event,
    f: &mut impl FnMut(Match<'s>),
    keep: &dyn Fn(&IndicatorRef<'_>) -> bool,
) -> usize {
    let t: Timestamp = ev.timestamp;
    let dst_port = ev.destination.port;
    // Screening first: every prefilter word the event's lookups would touch is read in one
    // tight loop of independent loads, so their cache misses overlap instead of queueing one
    // behind the other; only observables the filter cannot rule out are looked up.
    let mut observables: smallvec::SmallVec<[Observable<'e>; 8]> = smallvec::SmallVec::new();
    for_each_distinct_observable(ev, |o| observables.push(o));
    let mut keys: smallvec::SmallVec<[(usize, u64); 24]> = smallvec::SmallVec::new();
    let mut candidates = vec_of_false(observables.len());
    for (i, o) in observables.iter().enumerate() {
        if !index.screen_keys(o, |h| keys.push((i, h))) {
            set(&mut candidates, i);
        }
    }
    for &(i, h) in &keys {
        if index.filter.may_contain(h) {
            set(&mut candidates, i);
        }
    }
    let mut n = 0;
    for (i, o) in observables.into_iter().enumerate() {
        if !candidates.get(i).copied().unwrap_or(true) {
            continue;
        }
        index.check_observable(&o, dst_port, |r, via| {
            if !r.meta.valid_at(t) || !keep(&r) {
                return;
            }
            n += 1;
            let warninglist = warninglists.verdict(&o.value, &r);
            f(Match {
                field: o.field,
                observed: o.value,
                indicator: r,
                via,
                warninglist,
            });
        });
    }
    n
}

fn vec_of_false(n: usize) -> smallvec::SmallVec<[bool; 8]> {
    smallvec::smallvec![false; n]
}

fn set(flags: &mut [bool], i: usize) {
    if let Some(f) = flags.get_mut(i) {
        *f = true;
    }
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn f<T: Send + Sync>() {}
    f::<Index>();
    f::<Matcher>();
}
