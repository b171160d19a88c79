//! Live updates while matching runs.
//!
//! Readers never block: the current [`Snapshot`] (a large immutable base index, a small delta
//! index of recent additions and a set of removed base indicators) sits behind an
//! [`arc_swap::ArcSwap`]; a check loads it with one atomic operation and works on it
//! unchanged until it is done. Writers (serialized by a mutex among themselves) build a new
//! snapshot off to the side and swap it in: an addition rebuilds only the delta; when the delta
//! outgrows [`LiveMatcher::with_compaction_threshold`] the writer folds it into a new base.
//! Readers that loaded the old snapshot finish on it; the next check sees the new one.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use yagura_model::{Event, IndicatorKind, Timestamp};

use crate::index::{Index, Match, check_event};
use crate::store::{IndicatorRef, IndicatorStore};
use crate::warninglist::Warninglists;

/// Identity of an indicator: (kind, value, port, source).
fn key(kind: IndicatorKind, value: &str, port: Option<u16>, source: &str) -> String {
    format!(
        "{kind}\u{1f}{}\u{1f}{source}\u{1f}{value}",
        port.map(|p| p.to_string()).unwrap_or_default()
    )
}

fn key_of(r: &IndicatorRef<'_>) -> String {
    key(r.kind, r.value, r.port, &r.meta.source)
}

/// One consistent state of the indicator set.
#[derive(Debug, Default)]
pub struct Snapshot {
    base: Arc<Index>,
    delta: Arc<Index>,
    /// Base indicators removed or superseded by the delta.
    removed: Arc<HashSet<String>>,
    generation: u64,
}

impl Snapshot {
    /// Number of indicators in force in this snapshot.
    pub fn len(&self) -> usize {
        (self.base.len() + self.delta.len()).saturating_sub(self.removed.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Incremented by every write.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn delta_len(&self) -> usize {
        self.delta.len()
    }

    /// All indicators in force, as a store.
    pub fn to_store(&self) -> IndicatorStore {
        let mut s = self.base.to_store();
        if !self.removed.is_empty() {
            s.retain(|r| !self.removed.contains(&key_of(&r)));
        }
        s.extend_from(&self.delta.to_store());
        s
    }
}

/// A matcher whose indicators change while it runs.
#[derive(Debug)]
pub struct LiveMatcher {
    state: ArcSwap<Snapshot>,
    writer: Mutex<()>,
    warninglists: Arc<Warninglists>,
    compact_at: usize,
}

impl LiveMatcher {
    pub fn new(base: IndicatorStore, warninglists: Arc<Warninglists>) -> LiveMatcher {
        LiveMatcher {
            state: ArcSwap::from_pointee(Snapshot {
                base: Arc::new(Index::build(base)),
                ..Snapshot::default()
            }),
            writer: Mutex::new(()),
            warninglists,
            compact_at: 50_000,
        }
    }

    /// Fold the delta into the base once it holds more than `n` indicators.
    pub fn with_compaction_threshold(mut self, n: usize) -> LiveMatcher {
        self.compact_at = n;
        self
    }

    /// The current snapshot (for statistics or export).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.state.load_full()
    }

    /// Like [`crate::Matcher::check`], on the snapshot current when the call starts.
    pub fn check(&self, ev: &Event, mut f: impl FnMut(Match<'_>)) -> usize {
        let snap = self.state.load();
        let removed = &snap.removed;
        let n = if removed.is_empty() {
            check_event(&snap.base, &self.warninglists, ev, &mut f, &|_| true)
        } else {
            check_event(&snap.base, &self.warninglists, ev, &mut f, &|r| {
                !removed.contains(&key_of(r))
            })
        };
        if snap.delta.is_empty() {
            return n;
        }
        n + check_event(&snap.delta, &self.warninglists, ev, &mut f, &|_| true)
    }

    fn write(&self, build: impl FnOnce(&Snapshot) -> Snapshot) {
        // A poisoned lock only means another writer panicked; the snapshot itself is intact.
        let _guard = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let cur = self.state.load_full();
        let mut next = build(&cur);
        next.generation = cur.generation + 1;
        self.state.store(Arc::new(next));
    }

    /// Adds (or updates) indicators; readers see them from their next check.
    pub fn add(&self, additions: &IndicatorStore) {
        let compact_at = self.compact_at;
        self.write(|cur| {
            let mut delta = cur.delta.to_store();
            delta.extend_from(additions);
            // A re-added base indicator is superseded by its delta version.
            let mut removed = (*cur.removed).clone();
            for r in additions.iter() {
                if cur.base.contains(r.kind, r.value, r.port, &r.meta.source) {
                    removed.insert(key_of(&r));
                }
            }
            if delta.len() > compact_at {
                compact(cur, &removed, delta, None)
            } else {
                Snapshot {
                    base: cur.base.clone(),
                    delta: Arc::new(Index::build(delta)),
                    removed: Arc::new(removed),
                    generation: 0,
                }
            }
        });
    }

    /// Removes one indicator, identified by kind, normalized value, port and source.
    pub fn remove(&self, kind: IndicatorKind, value: &str, port: Option<u16>, source: &str) {
        let k = key(kind, value, port, source);
        self.write(|cur| {
            let mut delta = cur.delta.to_store();
            delta.retain(|r| key_of(&r) != k);
            let mut removed = (*cur.removed).clone();
            if cur.base.contains(kind, value, port, source) {
                removed.insert(k.clone());
            }
            Snapshot {
                base: cur.base.clone(),
                delta: Arc::new(Index::build(delta)),
                removed: Arc::new(removed),
                generation: 0,
            }
        });
    }

    /// Drops indicators expired at `now` and folds the delta into a new base.
    pub fn expire(&self, now: Timestamp) {
        self.write(|cur| {
            let removed = (*cur.removed).clone();
            compact(cur, &removed, cur.delta.to_store(), Some(now))
        });
    }

    /// Replaces the whole indicator set.
    pub fn replace(&self, store: IndicatorStore) {
        self.write(|_| Snapshot {
            base: Arc::new(Index::build(store)),
            ..Snapshot::default()
        });
    }
}

fn compact(
    cur: &Snapshot,
    removed: &HashSet<String>,
    delta: IndicatorStore,
    expire_at: Option<Timestamp>,
) -> Snapshot {
    let mut base = cur.base.to_store();
    base.retain(|r| !removed.contains(&key_of(&r)));
    base.extend_from(&delta);
    if let Some(now) = expire_at {
        base.expire(now);
    }
    Snapshot {
        base: Arc::new(Index::build(base)),
        ..Snapshot::default()
    }
}
