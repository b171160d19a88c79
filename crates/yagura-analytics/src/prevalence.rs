//! Estate-wide prevalence: for each destination (registered domain or external address),
//! the distinct hosts and organizations that contacted it and when it was first seen.
//!
//! This is the one structure shared across organizations: a destination that many hosts in
//! many organizations contact (antivirus, updates, CDNs) is *popular*, one that one or two
//! hosts contact is *rare*, and one first seen after the learning period is *new*. Host and
//! organization sets are exact up to a small cap (beyond it only "at least the cap" matters).

use std::collections::HashMap;

use rustc_hash::FxBuildHasher;
use serde::{Deserialize, Serialize};
use yagura_model::Timestamp;

use crate::bounded::{LastSeen, enforce_cap};
use crate::config::PrevalenceConfig;

/// What the estate knows about one destination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DestStats {
    pub first_seen: i64,
    pub last_seen: i64,
    /// Distinct host hashes, sorted, at most `host_cap`.
    hosts: Vec<u32>,
    /// Distinct organization hashes, sorted, at most `org_cap`.
    orgs: Vec<u32>,
}

impl LastSeen for DestStats {
    fn last_seen(&self) -> i64 {
        self.last_seen
    }
}

impl DestStats {
    pub fn hosts(&self) -> u32 {
        self.hosts.len() as u32
    }
    pub fn orgs(&self) -> u32 {
        self.orgs.len() as u32
    }
}

fn insert_capped(set: &mut Vec<u32>, v: u32, cap: usize) {
    if set.len() >= cap {
        return;
    }
    if let Err(pos) = set.binary_search(&v) {
        set.insert(pos, v);
    }
}

/// Classification of a destination at some time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Prevalence {
    pub hosts: u32,
    pub orgs: u32,
    pub popular: bool,
    pub rare: bool,
    pub new: bool,
    pub first_seen: Option<Timestamp>,
}

impl Prevalence {
    /// A short phrase for alert summaries.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "{} host(s) in {} organization(s) contacted it",
            self.hosts, self.orgs
        );
        if let Some(f) = self.first_seen {
            s.push_str(&format!(", first seen in the estate {f}"));
        }
        if self.new {
            s.push_str(" (new)");
        } else if self.popular {
            s.push_str(" (popular)");
        } else if self.rare {
            s.push_str(" (rare)");
        }
        s
    }
}

/// The estate-wide table.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PrevalenceTable {
    dests: HashMap<u64, DestStats, FxBuildHasher>,
    /// Organizations seen at all (to judge "many organizations" in small estates).
    orgs_seen: Vec<u32>,
    /// Event time of the first event (start of the learning period).
    start: Option<i64>,
}

impl PrevalenceTable {
    pub fn len(&self) -> usize {
        self.dests.len()
    }

    pub fn is_empty(&self) -> bool {
        self.dests.is_empty()
    }

    /// Records that `host` of `org` contacted `dest` at `t` (nanoseconds), and classifies
    /// `dest` as of `t` with this contact included (what [`Self::classify`] would then say).
    pub fn record(
        &mut self,
        cfg: &PrevalenceConfig,
        dest: u64,
        host: u32,
        org: u32,
        t: i64,
    ) -> Prevalence {
        self.start = Some(self.start.map_or(t, |s| s.min(t)));
        insert_capped(&mut self.orgs_seen, org, 64);
        let host_cap = (cfg.popular_hosts as usize).max(cfg.rare_hosts as usize + 1);
        let org_cap = (cfg.popular_orgs as usize).max(1);
        let d = self.dests.entry(dest).or_insert_with(|| DestStats {
            first_seen: t,
            last_seen: t,
            hosts: Vec::new(),
            orgs: Vec::new(),
        });
        d.first_seen = d.first_seen.min(t);
        d.last_seen = d.last_seen.max(t);
        insert_capped(&mut d.hosts, host, host_cap);
        insert_capped(&mut d.orgs, org, org_cap);
        let prevalence = judge(cfg, d, self.orgs_seen.len(), self.start, t);
        if self.dests.len() > cfg.max_destinations {
            enforce_cap(&mut self.dests, cfg.max_destinations);
        }
        prevalence
    }

    /// Classifies `dest` as of `now` (nanoseconds).
    pub fn classify(&self, cfg: &PrevalenceConfig, dest: u64, now: i64) -> Prevalence {
        let Some(d) = self.dests.get(&dest) else {
            return Prevalence {
                rare: true,
                ..Prevalence::default()
            };
        };
        judge(cfg, d, self.orgs_seen.len(), self.start, now)
    }
}

/// Classifies `d` as of `now`, in an estate where `orgs_seen` organizations were seen and
/// the learning period began at `start`.
fn judge(
    cfg: &PrevalenceConfig,
    d: &DestStats,
    orgs_seen: usize,
    start: Option<i64>,
    now: i64,
) -> Prevalence {
    let orgs_needed = cfg.popular_orgs.min(orgs_seen as u32).max(1);
    let learning_end = start
        .unwrap_or(i64::MAX)
        .saturating_add(secs_to_nanos(cfg.learning_secs));
    let new = d.first_seen >= learning_end
        && now.saturating_sub(d.first_seen) <= secs_to_nanos(cfg.new_for_secs);
    Prevalence {
        hosts: d.hosts(),
        orgs: d.orgs(),
        popular: d.hosts() >= cfg.popular_hosts && d.orgs() >= orgs_needed,
        rare: d.hosts() <= cfg.rare_hosts,
        new,
        first_seen: Some(Timestamp::from_nanos(d.first_seen)),
    }
}

pub(crate) fn secs_to_nanos(s: u64) -> i64 {
    i64::try_from(s)
        .unwrap_or(i64::MAX / 1_000_000_000)
        .saturating_mul(1_000_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000_000_000;

    #[test]
    fn popular_rare_and_new() {
        let cfg = PrevalenceConfig::default();
        let mut t = PrevalenceTable::default();
        // 30 hosts in 4 orgs contact dest 1 from the start.
        for h in 0..30u32 {
            t.record(&cfg, 1, h, h % 4, 0);
        }
        t.record(&cfg, 2, 7, 0, H);
        // dest 3 first appears after the learning period.
        t.record(&cfg, 3, 7, 0, 30 * H);
        let p1 = t.classify(&cfg, 1, 31 * H);
        assert!(p1.popular && !p1.rare && !p1.new, "{p1:?}");
        assert_eq!((p1.hosts, p1.orgs), (20, 3));
        let p2 = t.classify(&cfg, 2, 31 * H);
        assert!(!p2.popular && p2.rare && !p2.new, "{p2:?}");
        let p3 = t.classify(&cfg, 3, 31 * H);
        assert!(p3.rare && p3.new, "{p3:?}");
        assert!(!t.classify(&cfg, 3, 30 * H + 8 * 24 * H).new);
        assert!(t.classify(&cfg, 99, 0).rare);
    }

    #[test]
    fn single_organization_estates_can_have_popular_destinations() {
        let cfg = PrevalenceConfig::default();
        let mut t = PrevalenceTable::default();
        for h in 0..25u32 {
            t.record(&cfg, 1, h, 0, 0);
        }
        assert!(t.classify(&cfg, 1, 0).popular);
    }

    #[test]
    fn destinations_are_capped() {
        let cfg = PrevalenceConfig {
            max_destinations: 100,
            ..PrevalenceConfig::default()
        };
        let mut t = PrevalenceTable::default();
        for d in 0..1000u64 {
            t.record(&cfg, d, 1, 1, d as i64);
        }
        assert!(t.len() <= 100);
        assert!(t.classify(&cfg, 999, 999).hosts == 1);
    }
}
