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

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use yagura_model::event::{Observable, ObservableKind, ObservableValue};
use yagura_model::{Event, IndicatorKind, Timestamp};

use crate::normalize::{self, HI, le_partial, le4, le4_end, le8, le8_end, name_chunk_classes};
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
    /// Two bits per IPv4 /16 (bit `2k` of the bitmap: some exact IPv4 entry lies in /16
    /// number `k`; bit `2k + 1`: some listed IPv4 network overlaps it), 16 KiB, empty when
    /// nothing IPv4 is listed. One read tells most addresses (internal ranges above all) that
    /// neither the exact map nor the networks can hold them: no hash, no filter word, no
    /// per-length network probe.
    v4_16: Vec<u64>,
    has_v6_ips: bool,
    has_v6_nets: bool,
    /// Every exact IP and text key, as Bloom filters (no false negatives): one per class of
    /// table ([`filter_class`]), each sized to its own keys, so the probes of the smaller
    /// tables (URLs, paths) read a filter small enough to stay cached while the large one
    /// (domains) is read for domain probes only.
    filters: [Prefilter; FILTER_CLASSES],
    /// The authorities (`host[:port]`) of the URL-table keys: an event URL whose authority is
    /// not here cannot equal any URL indicator, so its two URL-table probes are not hashed.
    url_hosts: Prefilter,
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
            v4_16: Vec::new(),
            has_v6_ips: false,
            has_v6_nets: false,
            filters: Default::default(),
            url_hosts: Prefilter::default(),
            tables: [false; 256],
            min_domain_labels: usize::MAX,
        }
    }
}

/// A blocked Bloom filter over 64-bit key hashes: each key sets three bits of one 64-bit
/// word, so a lookup touches one word. Sized at about 12 bits per key (false-positive rate
/// near 1–2 %), at least 8 KiB and at most 2 MiB (then fewer bits per key, a little more
/// false positives); an empty filter says "maybe" to everything.
#[derive(Debug, Default, Clone)]
pub(crate) struct Prefilter {
    words: Vec<u64>,
    mask: u64,
}

impl Prefilter {
    const MAX_WORDS: usize = 1 << 18; // 2 MiB: one core's L2 on the reference machine

    pub(crate) fn with_keys(keys: usize) -> Prefilter {
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

    pub(crate) fn insert(&mut self, h: u64) {
        if self.words.is_empty() {
            return;
        }
        let (w, bits) = self.slot(h);
        if let Some(word) = self.words.get_mut(w) {
            *word |= bits;
        }
    }

    #[inline]
    pub(crate) fn may_contain(&self, h: u64) -> bool {
        // An empty filter (no words, mask 0) has no word 0: "maybe".
        let (w, bits) = self.slot(h);
        self.words.get(w).is_none_or(|word| word & bits == bits)
    }
}

/// Words of [`Index::v4_16`]: 65,536 /16s, two bits each.
const V4_16_WORDS: usize = (1 << 16) * 2 / 64;
/// The bit of [`Index::v4_16`] for an exact address in a /16, and for a network overlapping it.
const V4_16_EXACT: u64 = 1;
const V4_16_NET: u64 = 2;

/// Sets `bit` ([`V4_16_EXACT`] or [`V4_16_NET`]) for /16s `first..=last`.
fn mark_v4_16(bits: &mut Vec<u64>, first: u32, last: u32, bit: u64) {
    if bits.is_empty() {
        *bits = vec![0; V4_16_WORDS];
    }
    for b in first..=last.min(0xffff) {
        if let Some(w) = bits.get_mut((b / 32) as usize) {
            *w |= bit << (2 * (b % 32));
        }
    }
}

/// The two bits of [`Index::v4_16`] for the /16 of `ip` (0 when the bitmap is empty).
#[inline(always)]
fn v4_16_bits(bits: &[u64], ip: std::net::Ipv4Addr) -> u64 {
    let b = u32::from(ip) >> 16;
    bits.get((b / 32) as usize)
        .map_or(0, |w| (w >> (2 * (b % 32))) & 3)
}

/// The table byte the prefilters use for exact IP addresses (text tables use letters).
const IP_TABLE: u8 = 0;
/// The hash seed byte of URL-key authorities (see [`Index::url_hosts`]); not a table.
const URL_HOST_TABLE: u8 = b'u';

/// The authority of a URL-table key (`host[:port]/path?query`): everything before the first
/// `/`. An event's URL probe keys all start with the event URL's authority and a `/`, so a
/// key equal to one of them has the same authority.
fn url_authority(key: &str) -> &str {
    key.split('/').next().unwrap_or(key)
}
const FILTER_CLASSES: usize = 5;

/// Which prefilter covers a table: IPs, domains, URLs and paths each have their own, the
/// small tables (hashes, e-mail, file names, JA3/JA4) share one.
fn filter_class(table: u8) -> usize {
    match table {
        IP_TABLE => 0,
        b'D' => 1,
        b'U' => 2,
        b'P' => 3,
        _ => 4,
    }
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
            chain: vec![NIL; entries.len()],
            ..Index::default()
        };
        let mut keys = [0usize; FILTER_CLASSES];
        for e in &entries {
            let class = match e.kind {
                IndicatorKind::Ipv4 | IndicatorKind::Ipv6 => Some(filter_class(IP_TABLE)),
                IndicatorKind::Cidr => None,
                kind => table_of(kind, &e.value).map(filter_class),
            };
            if let Some(k) = class.and_then(|c| keys.get_mut(c)) {
                *k += 1;
            }
        }
        ix.filters = keys.map(Prefilter::with_keys);
        if let Some(&urls) = keys.get(filter_class(b'U')) {
            ix.url_hosts = Prefilter::with_keys(urls);
        }
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
                        match a {
                            IpAddr::V4(v4) => {
                                let b = u32::from(v4) >> 16;
                                mark_v4_16(&mut ix.v4_16, b, b, V4_16_EXACT);
                            }
                            IpAddr::V6(_) => ix.has_v6_ips = true,
                        }
                        let h = ix.hash_ip(a);
                        ix.filter_mut(IP_TABLE).insert(h);
                        let head = ix.ips.insert(a, id);
                        link(head, &mut ix.chain);
                    }
                }
                IndicatorKind::Cidr => {
                    if let Ok(n) = e.value.parse::<IpNet>() {
                        match n {
                            IpNet::V4(n) => mark_v4_16(
                                &mut ix.v4_16,
                                u32::from(n.network()) >> 16,
                                u32::from(n.broadcast()) >> 16,
                                V4_16_NET,
                            ),
                            IpNet::V6(_) => ix.has_v6_nets = true,
                        }
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
                        let key = key_of(e);
                        let h = ix.hash(t, key);
                        ix.filter_mut(t).insert(h);
                        if t == b'U' {
                            let a = ix.hash(URL_HOST_TABLE, url_authority(key));
                            ix.url_hosts.insert(a);
                        }
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

    fn filter(&self, table: u8) -> &Prefilter {
        // `filter_class` is always in range; an empty filter says "maybe".
        static EMPTY: Prefilter = Prefilter {
            words: Vec::new(),
            mask: 0,
        };
        self.filters.get(filter_class(table)).unwrap_or(&EMPTY)
    }

    fn filter_mut(&mut self, table: u8) -> &mut Prefilter {
        let last = FILTER_CLASSES - 1;
        let c = filter_class(table).min(last);
        &mut self.filters[c]
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// A store holding the same indicators (for merging with a delta).
    pub fn to_store(&self) -> IndicatorStore {
        IndicatorStore::from_parts(self.entries.clone(), self.metas.clone())
    }

    /// The hash of a key in text table `table`. Domain-table keys hash label by label from
    /// the right ([`domain_hash`]) so that an event name's parents cost one step each.
    /// Inlined: the table is a constant at every hot call site, so the seed folds away.
    #[inline]
    fn hash(&self, table: u8, key: &str) -> u64 {
        if table == b'D' {
            return domain_hash(key);
        }
        // The same one-multiply-per-16-bytes mix as a domain label, seeded per table.
        mix_bytes(fold_mul(u64::from(table) ^ DK[2], DK[3]), key.as_bytes())
    }

    fn hash_ip(&self, ip: IpAddr) -> u64 {
        match ip {
            IpAddr::V4(a) => fold_mul(u64::from(u32::from(a)) ^ DK[0], DK[1]),
            IpAddr::V6(a) => {
                let a = u128::from(a);
                fold_mul((a as u64) ^ DK[0], ((a >> 64) as u64) ^ DK[3])
            }
        }
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

    /// Calls `f` for each entry in table `t` whose key is `key` (`h` is its hash).
    fn walk_text<'s>(&'s self, t: u8, h: u64, key: &str, mut f: impl FnMut(IndicatorRef<'s>)) {
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
        let (exact, nets) = self.ip_lookups(ip);
        if exact {
            self.walk_ip(self.ips.get(&ip), port, &mut f);
        }
        if nets {
            self.check_nets(ip, port, &mut f);
        }
    }

    /// Which lookups a canonical address needs: (the exact map, the networks). `false` means
    /// certainly no entry there. An IPv4 address reads one word of [`Index::v4_16`] and, only
    /// when its /16 holds a listed address, hashes itself for the exact-IP prefilter.
    #[inline(always)]
    fn ip_lookups(&self, ip: IpAddr) -> (bool, bool) {
        let (exact, nets) = match ip {
            IpAddr::V4(a) => {
                let bits = v4_16_bits(&self.v4_16, a);
                (bits & V4_16_EXACT != 0, bits & V4_16_NET != 0)
            }
            IpAddr::V6(_) => (self.has_v6_ips, self.has_v6_nets),
        };
        (
            exact && self.filter(IP_TABLE).may_contain(self.hash_ip(ip)),
            nets,
        )
    }

    /// Longest-prefix network lookup of a canonical address (which [`Index::ip_lookups`] says
    /// may lie in a listed network).
    fn check_nets<'s>(
        &'s self,
        ip: IpAddr,
        port: Option<u16>,
        f: &mut impl FnMut(IndicatorRef<'s>, MatchVia),
    ) {
        let v4 = ip.is_ipv4();
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

    /// Calls `f(probe)` for each hash-table probe of the text observable `raw` of kind
    /// `kind`, in lookup order (most specific first), with the prefilter's verdict. Only the
    /// probes the filter cannot rule out are reported, unless `all` (for tests). The key is
    /// normalized once (borrowed from the event when it is canonical already, else built in a
    /// local buffer), each probe key is hashed once and its filter word read at once.
    fn text_probes(
        &self,
        kind: ObservableKind,
        raw: &str,
        all: bool,
        f: &mut impl FnMut(Probe<'_>),
    ) {
        match kind {
            ObservableKind::Domain => {
                self.domain_probes(raw, all, &mut |_, p| f(p));
            }
            ObservableKind::Url => self.url_probes(raw, normalize::KnownHost::default(), all, f),
            kind => {
                let t = match kind {
                    ObservableKind::Hash => b'H',
                    ObservableKind::Email => b'E',
                    ObservableKind::FileName => b'F',
                    ObservableKind::Ja3 => b'3',
                    ObservableKind::Ja4 => b'4',
                    _ => return,
                };
                if !self.tables[usize::from(t)] {
                    return;
                }
                let Some(key) = text_key(kind, raw) else {
                    return;
                };
                let hash = self.hash(t, &key);
                let maybe = self.filter(t).may_contain(hash);
                if maybe || all {
                    f(Probe {
                        table: t,
                        key: &key,
                        hash,
                        via: MatchVia::Exact,
                        maybe,
                    });
                }
            }
        }
    }

    /// The domain-table probes of an event name: the name itself, then its parents down to
    /// the fewest labels any listed domain has. One right-to-left pass checks the name and
    /// derives each suffix's hash from its parent's (a name that is not canonical is
    /// normalized first); the filter verdicts are taken during that pass and only the
    /// suffixes the filter cannot rule out are kept.
    /// `f` also gets the whole name's canonical form (the text the probe keys are suffixes of).
    /// Returns `raw` as a [`normalize::KnownHost`] when the pass found it to be one.
    #[inline]
    fn domain_probes<'r>(
        &self,
        raw: &'r str,
        all: bool,
        f: &mut impl FnMut(&str, Probe<'_>),
    ) -> Option<normalize::KnownHost<'r>> {
        if !self.tables[usize::from(b'D')] {
            return None;
        }
        let filter = self.filter(b'D');
        let mut plan = DomainPlan::new(self.min_domain_labels, all);
        let normalized;
        let pass = canonical_domain_pass(raw.as_bytes(), |start, h| plan.suffix(filter, start, h));
        let known = (pass == Some(true)).then_some(normalize::KnownHost {
            name: raw.as_bytes(),
        });
        let key: &str = if pass.is_some() {
            raw
        } else {
            let Ok(k) = normalize::domain(raw) else {
                return None;
            };
            normalized = k;
            plan = DomainPlan::new(self.min_domain_labels, all);
            for_each_domain_suffix(&normalized, |start, h| plan.suffix(filter, start, h));
            &normalized
        };
        plan.finish(filter, key);
        for &(start, hash, maybe) in plan.kept.iter().rev() {
            f(
                key,
                Probe {
                    table: b'D',
                    key: key.get(start as usize..).unwrap_or(""),
                    hash,
                    via: if start == 0 {
                        MatchVia::Exact
                    } else {
                        MatchVia::ParentDomain
                    },
                    maybe,
                },
            );
        }
        known
    }

    /// Looks up one event name: `f(indicator, via, name)`, `name` the event name's canonical
    /// form (so a warninglist verdict need not normalize it again). Returns `raw` as a
    /// [`normalize::KnownHost`] when it is one.
    #[inline]
    fn check_domain<'s, 'r>(
        &'s self,
        raw: &'r str,
        f: &mut impl FnMut(IndicatorRef<'s>, MatchVia, &str),
    ) -> Option<normalize::KnownHost<'r>> {
        self.domain_probes(raw, false, &mut |name, p| {
            if p.maybe {
                self.run_probe(&p, &mut |r, via| f(r, via, name));
            }
        })
    }

    /// Looks up one event URL; `known_host` as in [`Index::url_probes`].
    #[inline]
    fn check_url<'s>(
        &'s self,
        raw: &str,
        known_host: normalize::KnownHost<'_>,
        f: &mut impl FnMut(IndicatorRef<'s>, MatchVia),
    ) {
        self.url_probes(raw, known_host, false, &mut |p| {
            if p.maybe {
                self.run_probe(&p, f);
            }
        });
    }

    /// The URL probes of an event URL: its resource (`host[:port]/path?query`) with and
    /// without the query in the URL table, its path with and without the query in the path
    /// table. `known_host` is empty or an event name the name pass found to be a URL host
    /// (the event's `destination.domain`, usually the URL's host: its check is not repeated,
    /// see `normalize::url_fast_known_host`); the probes do not depend on it.
    fn url_probes(
        &self,
        raw: &str,
        known_host: normalize::KnownHost<'_>,
        all: bool,
        f: &mut impl FnMut(Probe<'_>),
    ) {
        let (urls, paths) = (
            self.tables[usize::from(b'U')],
            self.tables[usize::from(b'P')],
        );
        if !urls && !paths {
            return;
        }
        let normalized;
        // (the text the keys are slices of, resource start, the split)
        let (text, base, k) = match normalize::url_fast_known_host(raw, known_host) {
            Some(fu) => (raw, raw.len() - fu.resource.len(), fu),
            None => {
                let Ok(n) = normalize::url(raw) else {
                    return;
                };
                let r = normalize::url_resource(&n);
                // A resource without a path probes the path `/` (see
                // `normalize::split_resource`).
                normalized = if r.contains('/') {
                    r.to_owned()
                } else {
                    format!("{r}/")
                };
                let path = normalized.find('/').unwrap_or(normalized.len());
                let query = memchr::memchr(b'?', normalized.as_bytes()).unwrap_or(normalized.len());
                (
                    normalized.as_str(),
                    0,
                    normalize::FastUrl {
                        resource: "",
                        path,
                        query,
                    },
                )
            }
        };
        let end = text.len();
        let (path, query) = (base + k.path, base + k.query);
        // `text[base..path]` is the authority: `path` is the first `/` of the resource (the
        // host and port cannot hold one). Most event URLs' hosts are on no URL indicator:
        // one short hash and filter word then stand for both URL-table probes.
        let host_maybe = urls
            && self
                .url_hosts
                .may_contain(self.hash(URL_HOST_TABLE, text.get(base..path).unwrap_or("")));
        let mut probe = |table: u8, a: usize, b: usize, via: MatchVia| {
            let key = text.get(a..b).unwrap_or("");
            let hash = self.hash(table, key);
            let maybe = (table != b'U' || host_maybe) && self.filter(table).may_contain(hash);
            if maybe || all {
                f(Probe {
                    table,
                    key,
                    hash,
                    via,
                    maybe,
                });
            }
        };
        if urls && (host_maybe || all) {
            probe(b'U', base, end, MatchVia::Exact);
            if query < end {
                probe(b'U', base, query, MatchVia::UrlWithoutQuery);
            }
        }
        if paths {
            probe(b'P', path, end, MatchVia::UrlPath);
            if query < end {
                probe(b'P', path, query, MatchVia::UrlPath);
            }
        }
    }

    /// Looks up one probe (its prefilter verdict was "maybe").
    fn run_probe<'s>(&'s self, p: &Probe<'_>, f: &mut impl FnMut(IndicatorRef<'s>, MatchVia)) {
        self.walk_text(p.table, p.hash, p.key, |r| {
            if p.via != MatchVia::ParentDomain || r.kind == IndicatorKind::Domain {
                f(r, p.via);
            }
        });
    }

    /// Looks up one text observable.
    fn check_text<'s>(
        &'s self,
        kind: ObservableKind,
        raw: &str,
        f: &mut impl FnMut(IndicatorRef<'s>, MatchVia),
    ) {
        self.text_probes(kind, raw, false, &mut |p| {
            if p.maybe {
                self.run_probe(&p, f);
            }
        });
    }

    /// Checks one observable; `dst_port` restricts `ip:port` indicators on `destination.ip`.
    pub fn check_observable<'s>(
        &'s self,
        o: &Observable<'_>,
        dst_port: Option<u16>,
        mut f: impl FnMut(IndicatorRef<'s>, MatchVia),
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
            ObservableValue::Text(kind, v) => self.check_text(kind, v, &mut f),
        }
    }
}

/// One hash-table probe of an event's observable: table, key text, its hash, how a hit
/// matches, and the prefilter's verdict (`false`: certainly absent).
#[derive(Debug, Clone, Copy)]
struct Probe<'k> {
    table: u8,
    key: &'k str,
    hash: u64,
    via: MatchVia,
    maybe: bool,
}

/// The domain probes of one name being planned: its suffixes arrive from the right (TLD
/// first); those with at least `min` labels are probed, and the whole name always.
struct DomainPlan {
    min: usize,
    all: bool,
    labels: usize,
    /// (start, hash, filter verdict) of the kept suffixes, TLD side first.
    kept: smallvec::SmallVec<[(u32, u64, bool); 4]>,
}

impl DomainPlan {
    fn new(min_domain_labels: usize, all: bool) -> DomainPlan {
        DomainPlan {
            min: min_domain_labels.max(1),
            all,
            labels: 0,
            kept: smallvec::SmallVec::new(),
        }
    }

    #[inline(always)]
    fn suffix(&mut self, filter: &Prefilter, start: usize, hash: u64) {
        self.labels += 1;
        let start = start as u32;
        if self.labels >= self.min {
            self.keep(filter, start, hash);
        }
    }

    #[inline(always)]
    fn keep(&mut self, filter: &Prefilter, start: u32, hash: u64) {
        let maybe = filter.may_contain(hash);
        if maybe || self.all {
            self.kept.push((start, hash, maybe));
        }
    }

    /// A name with fewer labels than any listed domain is still probed itself (host names):
    /// `name` is the whole name the suffixes came from (its hash is hashed again here, on
    /// this rare path, rather than remembered for every label of every name).
    fn finish(&mut self, filter: &Prefilter, name: &str) {
        if self.labels > 0 && self.labels < self.min {
            self.keep(filter, 0, domain_hash(name));
        }
    }
}

/// The hot-path lookup key of a text observable (normalized, borrowed when it already is),
/// or `None` when the value cannot be an indicator value of that kind.
fn text_key(kind: ObservableKind, v: &str) -> Option<Cow<'_, str>> {
    match kind {
        ObservableKind::Domain => normalize::domain_key(v),
        ObservableKind::Url => normalize::url_key(v),
        ObservableKind::Hash | ObservableKind::Ja3 | ObservableKind::Ja4 => {
            Some(normalize::hash_key(v))
        }
        ObservableKind::Email => normalize::email_key(v),
        ObservableKind::FileName => normalize::file_name(v).ok().map(Cow::Owned),
        ObservableKind::User | ObservableKind::Ip => None,
    }
}

/// Seed of the domain-table hash chain (the hash of the empty suffix).
const DOMAIN_SEED: u64 = 0x6479_6167_7572_6144;

/// 64×64→128-bit multiply, halves folded (the mixing step of foldhash and friends).
#[inline(always)]
fn fold_mul(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

const DK: [u64; 4] = [
    0x243f_6a88_85a3_08d3,
    0x1319_8a2e_0370_7344,
    0xa409_3822_299f_31d0,
    0x082e_fa98_ec4e_6c89,
];

/// One step of the domain hash: the hash of `label.parent` from the hash of `parent`. One
/// folded multiply for a label of up to 16 bytes (overlapping reads of its first and last
/// bytes plus its length encode it uniquely, as in foldhash), one more per further 16 bytes.
#[inline]
fn domain_step(parent: u64, label: &[u8]) -> u64 {
    mix_bytes(parent, label)
}

/// Hashes `label` (any bytes) into `seed` (see [`domain_step`]).
#[inline]
fn mix_bytes(seed: u64, label: &[u8]) -> u64 {
    let len = label.len();
    let mut s = seed;
    let (lo, hi) = if len <= 16 {
        if len >= 8 {
            (le8(label), le8_end(label))
        } else if len >= 4 {
            (le4(label), le4_end(label))
        } else if let Some(&first) = label.first() {
            let mid = label.get(len / 2).copied().unwrap_or(0);
            let last = label.last().copied().unwrap_or(0);
            (
                u64::from(first) | u64::from(mid) << 8 | u64::from(last) << 16,
                0,
            )
        } else {
            (0, 0)
        }
    } else {
        let mut chunks = label.chunks_exact(16);
        for c in &mut chunks {
            let (a, b) = c.split_at(8);
            s = fold_mul(le8(a) ^ s ^ DK[2], le8(b) ^ DK[3]);
        }
        let tail = label.get(len - 16..).unwrap_or_default();
        (le8(tail), le8_end(tail))
    };
    fold_mul(lo ^ s ^ DK[0], hi ^ DK[1] ^ len as u64)
}

/// The hash of a name in the domain table: built label by label from the right, so that a
/// name's parents' hashes are the intermediate values of its own (see
/// [`for_each_domain_suffix`]).
pub(crate) fn domain_hash(name: &str) -> u64 {
    let mut h = DOMAIN_SEED;
    for_each_domain_suffix(name, |_, s| h = s);
    h
}

/// Calls `f(start, hash)` for each suffix `name[start..]` that begins a label, from the last
/// label (the TLD) to the whole name, in one right-to-left pass: `hash` equals
/// [`domain_hash`] of that suffix.
#[inline]
pub(crate) fn for_each_domain_suffix(name: &str, mut f: impl FnMut(usize, u64)) {
    let b = name.as_bytes();
    let mut h = DOMAIN_SEED;
    let mut end = b.len();
    loop {
        let head = b.get(..end).unwrap_or_default();
        let start = memchr::memrchr(b'.', head).map_or(0, |p| p + 1);
        h = domain_step(h, head.get(start..).unwrap_or_default());
        f(start, h);
        if start == 0 {
            return;
        }
        end = start - 1;
    }
}

/// The matcher's pass over an event's domain name, right to left, eight bytes at a time
/// (byte classes by SWAR arithmetic on a `u64`, see [`name_chunk_classes`]): true when the
/// name is canonical (exactly what `normalize::is_canonical_domain` accepts), calling
/// `f(start, hash)` with each label-aligned suffix's start and [`domain_hash`], TLD first.
/// On `false`, the calls made so far were for junk.
#[inline(always)]
pub(crate) fn canonical_domain_suffixes(name: &[u8], f: impl FnMut(usize, u64)) -> bool {
    canonical_domain_pass(name, f).is_some()
}

/// [`canonical_domain_suffixes`], also telling whether the name is a URL host as
/// `normalize::url_fast` reads one (no `_`, no label starting `xn--`; one more test per
/// chunk and per label): `None` when the name is not canonical, else `Some(url_host)`.
#[inline(always)]
pub(crate) fn canonical_domain_pass(name: &[u8], mut f: impl FnMut(usize, u64)) -> Option<bool> {
    let len = name.len();
    if len == 0 || len > normalize::MAX_DOMAIN_LEN {
        return None;
    }
    let mut unders = 0u64;
    let mut xn = false;
    let mut h = DOMAIN_SEED;
    // End (exclusive) of the label being scanned; bytes at `pos..` are checked.
    let mut end = len;
    let mut pos = len;
    while pos > 0 {
        let (x, base, valid) = if pos >= 8 {
            (le8(name.get(pos - 8..pos).unwrap_or_default()), pos - 8, HI)
        } else {
            let head = name.get(..pos).unwrap_or_default();
            (le_partial(head), 0, HI & ((1u64 << (8 * pos)) - 1))
        };
        let (bad, dots, u) = name_chunk_classes(x);
        if bad & valid != 0 {
            return None;
        }
        unders |= u & valid;
        let mut d = dots & valid;
        while d != 0 {
            // The rightmost dot of the chunk not yet taken (little endian: the highest bit).
            let top = 63 - d.leading_zeros() as usize;
            d ^= 1u64 << top;
            let dot = base + top / 8;
            let label = name.get(dot + 1..end).unwrap_or_default();
            if label.is_empty() || label.len() > normalize::MAX_LABEL_LEN {
                return None;
            }
            xn |= label.starts_with(b"xn--");
            h = domain_step(h, label);
            f(dot + 1, h);
            end = dot;
        }
        pos = base;
    }
    let label = name.get(..end).unwrap_or_default();
    if label.is_empty() || label.len() > normalize::MAX_LABEL_LEN {
        return None;
    }
    xn |= label.starts_with(b"xn--");
    f(0, domain_step(h, label));
    Some(unders == 0 && !xn)
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
    // Not inlined into callers: one call per event costs nothing measurable, and it keeps the
    // per-event cost countable by symbol (`valgrind --toggle-collect='*Matcher::check*'`,
    // BENCHMARKS.md).
    #[inline(never)]
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
    // One walk over the event's observables: each distinct value's probe keys are normalized
    // and hashed once, the prefilter rules out almost all of them, and the few it cannot are
    // looked up at once (so nothing is planned, stored and walked a second time).
    // Distinct values only (`url.domain` is usually `destination.domain`): the first field
    // wins. Addresses are compared with addresses and text with text of the same kind only
    // (an address never equals a text value), length first. User names are not indicators.
    // Addresses are looked up before they are de-duplicated (see below): only the few that
    // may match are recorded, so a `Vec` that rarely allocates.
    let mut seen_ips: Vec<IpAddr> = Vec::new();
    let mut seen_text = Seen::<(ObservableKind, &'e str), 4>::new((ObservableKind::User, ""));
    // The last event name the name pass found to be a URL host: an event URL's host is
    // usually that name (`destination.domain`), see `normalize::url_fast_known_host`.
    let mut known_host = normalize::KnownHost::default();
    let mut n = 0;
    ev.observables(|o| {
        // (canonical address, exact-map lookup, network lookup) of an address that may match.
        let mut ip_lookups = None;
        match o.value {
            ObservableValue::Ip(ip) => {
                // Most addresses are ruled out here by one bitmap word (or their filter word).
                // A repeated address gets the same answer, so de-duplicating (as observed, first
                // field wins) only the ones that may match reports exactly the same.
                let canonical = normalize::canonical_ip(ip);
                let (exact, nets) = index.ip_lookups(canonical);
                if !(exact || nets) || seen_ips.contains(&ip) {
                    return;
                }
                seen_ips.push(ip);
                ip_lookups = Some((canonical, exact, nets));
            }
            ObservableValue::Text(kind, v) => {
                if kind == ObservableKind::User
                    || !seen_text.insert((kind, v), |&(k, s), &(kind, v)| {
                        s.len() == v.len() && k == kind && s == v
                    })
                {
                    return;
                }
            }
        }
        // `name`: the canonical form of an event name (for its warninglist verdict).
        let mut emit = |r: IndicatorRef<'s>, via: MatchVia, name: Option<&str>| {
            if !r.meta.valid_at(t) || !keep(&r) {
                return;
            }
            n += 1;
            let warninglist = match (name, o.value) {
                (Some(name), ObservableValue::Text(_, raw)) => {
                    warninglists.name_verdict(raw, name, &r)
                }
                _ => warninglists.verdict(&o.value, &r),
            };
            f(Match {
                field: o.field,
                observed: o.value,
                indicator: r,
                via,
                warninglist,
            });
        };
        match o.value {
            ObservableValue::Ip(_) => {
                if let Some((ip, exact, nets)) = ip_lookups {
                    let port = if o.field == "destination.ip" {
                        dst_port
                    } else {
                        None
                    };
                    let mut emit = |r, via| emit(r, via, None);
                    if exact {
                        index.walk_ip(index.ips.get(&ip), port, &mut emit);
                    }
                    if nets {
                        index.check_nets(ip, port, &mut emit);
                    }
                }
            }
            ObservableValue::Text(ObservableKind::Domain, v) => {
                if let Some(k) = index.check_domain(v, &mut |r, via, name| emit(r, via, Some(name)))
                {
                    known_host = k;
                }
            }
            ObservableValue::Text(ObservableKind::Url, v) => {
                index.check_url(v, known_host, &mut |r, via| emit(r, via, None));
            }
            ObservableValue::Text(kind, v) => {
                index.check_text(kind, v, &mut |r, via| emit(r, via, None));
            }
        }
    });
    n
}

/// The distinct values of one event seen so far: the first `N` inline, any further ones in a
/// `Vec` (events with more than a few addresses or names are rare). A plain array and a count
/// (`SmallVec`'s inline/spilled test on every access cost more than the comparisons).
struct Seen<T, const N: usize> {
    inline: [T; N],
    len: usize,
    more: Vec<T>,
}

impl<T: Copy, const N: usize> Seen<T, N> {
    fn new(fill: T) -> Self {
        Seen {
            inline: [fill; N],
            len: 0,
            more: Vec::new(),
        }
    }

    /// Records `v` unless an equal value (`eq`) was seen; true when it is new.
    #[inline(always)]
    fn insert(&mut self, v: T, eq: impl Fn(&T, &T) -> bool) -> bool {
        let inline = self.inline.get(..self.len.min(N)).unwrap_or_default();
        if inline.iter().any(|x| eq(x, &v)) || self.more.iter().any(|x| eq(x, &v)) {
            return false;
        }
        match self.inline.get_mut(self.len) {
            Some(slot) => *slot = v,
            None => self.more.push(v),
        }
        self.len += 1;
        true
    }
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn f<T: Send + Sync>() {}
    f::<Index>();
    f::<Matcher>();
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The right-to-left walk yields, for every label-aligned suffix, exactly the hash of
        /// that suffix as a string (what the index stored for it), from the TLD outwards.
        #[test]
        fn incremental_suffix_hash_is_hash_of_suffix(
            labels in prop::collection::vec("[a-z0-9_-]{0,20}", 1..7)
        ) {
            let name = labels.join(".");
            let mut seen = Vec::new();
            for_each_domain_suffix(&name, |start, hash| seen.push((start, hash)));
            prop_assert_eq!(seen.len(), labels.len());
            prop_assert_eq!(seen.last().map(|s| s.0), Some(0));
            for w in seen.windows(2) {
                prop_assert!(w[1].0 < w[0].0);
            }
            for &(start, hash) in &seen {
                let suffix = &name[start..];
                prop_assert!(start == 0 || name.as_bytes()[start - 1] == b'.');
                prop_assert_eq!(hash, domain_hash(suffix), "suffix {:?}", suffix);
            }
        }

        /// The matcher's one-pass check of an event name accepts exactly the canonical names
        /// (`normalize::is_canonical_domain`) and yields the same suffix hashes as the index's
        /// walk.
        #[test]
        fn event_name_pass_agrees_with_check_and_walk(
            name in "[a-zA-Z0-9._é -]{0,24}|([a-z0-9-]{0,70}\\.){0,4}[a-z]{0,70}"
        ) {
            let mut fused = Vec::new();
            let ok = canonical_domain_suffixes(name.as_bytes(), |start, h| fused.push((start, h)));
            prop_assert_eq!(ok, normalize::is_canonical_domain(name.as_bytes()));
            if ok {
                let mut walk = Vec::new();
                for_each_domain_suffix(&name, |start, h| walk.push((start, h)));
                prop_assert_eq!(fused, walk);
            }
        }

        /// The same on raw bytes around every class boundary of the SWAR check (and bytes
        /// above 0x7f), at every alignment.
        #[test]
        fn event_name_pass_agrees_on_boundary_bytes(
            name in prop::collection::vec(prop::sample::select(vec![
                0u8, b' ', b',', b'-', b'.', b'/', b'0', b'9', b':', b'@', b'A', b'Z', b'[',
                b'^', b'_', b'`', b'a', b'm', b'z', b'{', 0x7f, 0x80, 0xae, 0xe1, 0xff,
                b'a', b'b', b'-', b'.', b'.', b'7', b'_',
            ]), 0..40)
        ) {
            let mut fused = Vec::new();
            let ok = canonical_domain_suffixes(&name, |start, h| fused.push((start, h)));
            prop_assert_eq!(ok, normalize::is_canonical_domain(&name));
            if ok {
                let name = std::str::from_utf8(&name).expect("canonical names are ASCII");
                let mut walk = Vec::new();
                for_each_domain_suffix(name, |start, h| walk.push((start, h)));
                prop_assert_eq!(fused, walk);
            }
        }

        /// The name pass's URL-host verdict: canonical, no `_`, no label starting `xn--`; the
        /// suffix hashes are the same as without it.
        #[test]
        fn name_pass_url_host_verdict(
            labels in prop::collection::vec("[a-z0-9_-]{0,5}|xn--[a-z0-9]{0,3}|[A-Z.]{1,2}", 1..6)
        ) {
            let name = labels.join(".");
            let mut with = Vec::new();
            let pass = canonical_domain_pass(name.as_bytes(), |start, h| with.push((start, h)));
            let canonical = normalize::is_canonical_domain(name.as_bytes());
            prop_assert_eq!(pass.is_some(), canonical);
            if canonical {
                let url_host = !name.contains('_') && !name.split('.').any(|l| l.starts_with("xn--"));
                prop_assert_eq!(pass, Some(url_host));
                let mut walk = Vec::new();
                for_each_domain_suffix(&name, |start, h| walk.push((start, h)));
                prop_assert_eq!(with, walk);
            }
        }

        /// Different names (as the index sees them) get different hashes in practice; in
        /// particular moving a dot changes the hash, and so does any one byte.
        #[test]
        fn label_boundaries_take_part_in_the_hash(
            a in "[a-z]{1,40}", b in "[a-z]{1,40}", i in 0usize..40, c in b'a'..=b'z'
        ) {
            let joined = format!("{a}{b}");
            let dotted = format!("{a}.{b}");
            prop_assert_ne!(domain_hash(&joined), domain_hash(&dotted));
            let mut other = a.clone().into_bytes();
            let i = i % other.len();
            if other[i] != c {
                other[i] = c;
                let other = String::from_utf8(other).expect("ascii");
                prop_assert_ne!(domain_hash(&a), domain_hash(&other));
            }
        }
    }

    proptest! {
        /// `Seen` keeps exactly the first of equal values, inline and past its inline part.
        #[test]
        fn seen_records_each_value_once(values in prop::collection::vec(0u8..12, 0..20)) {
            let mut seen = Seen::<u8, 4>::new(0);
            let mut reference = Vec::new();
            for v in values {
                let new = !reference.contains(&v);
                if new {
                    reference.push(v);
                }
                prop_assert_eq!(seen.insert(v, |a, b| a == b), new);
            }
        }
    }

    #[test]
    fn domain_probes_cover_name_and_parents_down_to_the_shortest_listed_domain() {
        let mut store = IndicatorStore::new();
        let d = crate::import::FeedDefaults::default();
        crate::import::import_bytes(&mut store, "evil.txt", b"evil.example\n", &d).expect("import");
        let ix = Index::build(store);
        for raw in ["a.b.evil.example", "A.B.Evil.Example."] {
            let mut probes = Vec::new();
            ix.text_probes(ObservableKind::Domain, raw, true, &mut |p| {
                probes.push((p.key.to_owned(), p.via, p.maybe, p.hash))
            });
            let keys: Vec<(&str, MatchVia, bool)> = probes
                .iter()
                .map(|(k, via, maybe, _)| (k.as_str(), *via, *maybe))
                .collect();
            assert_eq!(
                keys,
                vec![
                    ("a.b.evil.example", MatchVia::Exact, keys[0].2),
                    ("b.evil.example", MatchVia::ParentDomain, keys[1].2),
                    ("evil.example", MatchVia::ParentDomain, true),
                ]
            );
            for (k, _, _, h) in &probes {
                assert_eq!(*h, ix.hash(b'D', k));
            }
            // Without `all`, only what the filter cannot rule out, in the same order.
            let mut maybe = Vec::new();
            ix.text_probes(ObservableKind::Domain, raw, false, &mut |p| {
                maybe.push(p.key.to_owned())
            });
            let expect: Vec<String> = probes.iter().filter(|p| p.2).map(|p| p.0.clone()).collect();
            assert_eq!(maybe, expect);
        }
    }

    #[test]
    fn a_name_shorter_than_every_listed_domain_is_still_probed_itself() {
        let mut store = IndicatorStore::new();
        let d = crate::import::FeedDefaults::default();
        crate::import::import_bytes(&mut store, "evil.txt", b"a.evil.example\n", &d)
            .expect("import");
        let ix = Index::build(store);
        let mut probes = Vec::new();
        ix.text_probes(ObservableKind::Domain, "Example.", true, &mut |p| {
            probes.push((p.key.to_owned(), p.via))
        });
        assert_eq!(probes, vec![("example".to_owned(), MatchVia::Exact)]);
    }

    #[test]
    fn url_probes_cover_resource_without_query_and_paths() {
        let mut store = IndicatorStore::new();
        let d = crate::import::FeedDefaults::default();
        let list = b"http://evil.example/gate.php\n/a/gate.php\n";
        crate::import::import_bytes(&mut store, "evil.txt", list, &d).expect("import");
        let ix = Index::build(store);
        for raw in [
            "http://evil.example:8080/a/gate.php?id=1",
            "HTTP://Evil.Example:8080/a/./gate.php?id=1",
        ] {
            let mut probes = Vec::new();
            ix.text_probes(ObservableKind::Url, raw, true, &mut |p| {
                probes.push((p.table, p.key.to_owned(), p.via, p.hash))
            });
            let keys: Vec<(u8, &str, MatchVia)> =
                probes.iter().map(|p| (p.0, p.1.as_str(), p.2)).collect();
            assert_eq!(
                keys,
                vec![
                    (b'U', "evil.example:8080/a/gate.php?id=1", MatchVia::Exact),
                    (
                        b'U',
                        "evil.example:8080/a/gate.php",
                        MatchVia::UrlWithoutQuery
                    ),
                    (b'P', "/a/gate.php?id=1", MatchVia::UrlPath),
                    (b'P', "/a/gate.php", MatchVia::UrlPath),
                ],
                "{raw}"
            );
            for p in &probes {
                assert_eq!(p.3, ix.hash(p.0, &p.1));
            }
        }
    }
}
