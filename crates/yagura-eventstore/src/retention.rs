//! Retention: which published splits to delete, per organization, by age and by size.
//!
//! [`plan`] is a pure function of the catalogue's splits, the time and each organization's
//! [`RetentionPolicy`]; [`crate::EventStore::plan_retention`] computes it on the store (a dry
//! run) and [`crate::EventStore::apply_retention`] computes and applies it under the store's
//! maintenance lock. Whole splits only: a split is deleted once its *newest* event is older
//! than the age limit (a split straddling the limit is kept), then the oldest splits until the
//! organization's total is at most the size limit. Pending events (in the WAL, not yet in a
//! split) are neither counted nor deleted: they become splits at the next flush, and the next
//! retention run deletes them if they are already too old.

use std::collections::BTreeMap;

use yagura_model::{OrgId, Timestamp};

use crate::catalogue::SplitMeta;
use crate::store::MaintenanceReport;

/// Retention of one organization's splits. The default keeps everything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Splits whose newest event is older than this are deleted.
    pub max_age_secs: Option<i64>,
    /// Oldest splits are deleted until the organization's total is at most this.
    pub max_bytes: Option<u64>,
}

impl RetentionPolicy {
    /// Whether the policy never deletes anything.
    pub fn keeps_everything(&self) -> bool {
        self.max_age_secs.is_none() && self.max_bytes.is_none()
    }
}

/// Retention of one organization: its policy, the splits it removes and what stays.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgRetention {
    pub policy: RetentionPolicy,
    /// The splits to delete, oldest first.
    pub removed: Vec<SplitMeta>,
    /// What is left: splits, events and bytes.
    pub kept_splits: usize,
    pub kept_docs: u64,
    pub kept_bytes: u64,
    /// The oldest event left (`None`: no split left).
    pub kept_from: Option<Timestamp>,
}

impl OrgRetention {
    /// The removed splits, events and bytes.
    pub fn report(&self) -> MaintenanceReport {
        MaintenanceReport {
            splits_removed: self.removed.len(),
            splits_added: 0,
            bytes_removed: self.removed.iter().map(|s| s.bytes).sum(),
            docs_removed: self.removed.iter().map(|s| s.num_docs).sum(),
        }
    }
}

/// What retention deletes (or deleted), per organization with published splits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionPlan {
    pub orgs: BTreeMap<OrgId, OrgRetention>,
}

impl RetentionPlan {
    /// Every split to delete.
    pub fn removed(&self) -> impl Iterator<Item = &SplitMeta> {
        self.orgs.values().flat_map(|o| o.removed.iter())
    }

    /// The totals over all organizations.
    pub fn total(&self) -> MaintenanceReport {
        let mut t = MaintenanceReport::default();
        for o in self.orgs.values() {
            let r = o.report();
            t.splits_removed += r.splits_removed;
            t.bytes_removed += r.bytes_removed;
            t.docs_removed += r.docs_removed;
        }
        t
    }
}

/// The retention plan of `splits` at `now` (`policy_for` gives each organization's policy).
pub fn plan(
    splits: Vec<SplitMeta>,
    now: Timestamp,
    policy_for: impl Fn(&OrgId) -> RetentionPolicy,
) -> RetentionPlan {
    let mut by_org: BTreeMap<OrgId, Vec<SplitMeta>> = BTreeMap::new();
    for s in splits {
        by_org.entry(s.org.clone()).or_default().push(s);
    }
    let mut out = RetentionPlan::default();
    for (org, mut splits) in by_org {
        let policy = policy_for(&org);
        // Oldest first: by newest event, then oldest event, then id (a stable order).
        splits.sort_by(|a, b| (a.max_ts, a.min_ts, &a.id).cmp(&(b.max_ts, b.min_ts, &b.id)));
        let limit = policy.max_age_secs.map(|age| now.saturating_sub_secs(age));
        let (mut removed, keep): (Vec<SplitMeta>, Vec<SplitMeta>) = splits
            .into_iter()
            .partition(|s| limit.is_some_and(|l| s.max_ts < l));
        let mut keep = keep.into_iter();
        if let Some(max) = policy.max_bytes {
            let mut total: u64 = keep.clone().map(|s| s.bytes).sum();
            while total > max {
                let Some(s) = keep.next() else { break };
                total -= s.bytes;
                removed.push(s);
            }
        }
        let keep: Vec<SplitMeta> = keep.collect();
        out.orgs.insert(
            org,
            OrgRetention {
                policy,
                kept_splits: keep.len(),
                kept_docs: keep.iter().map(|s| s.num_docs).sum(),
                kept_bytes: keep.iter().map(|s| s.bytes).sum(),
                kept_from: keep.iter().map(|s| s.min_ts).min(),
                removed,
            },
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `splits`: `org:id:min_secs-max_secs:bytes` separated by spaces; `policies`:
    /// `org=age_secs/bytes` (`-`: none; an org not listed keeps everything); `expect`: per
    /// organization `org: -removed ids | kept splits/docs/bytes from`.
    fn check(splits: &str, policies: &str, now: i64, expect: &str) {
        let splits: Vec<SplitMeta> = splits
            .split_whitespace()
            .map(|s| {
                let f: Vec<&str> = s.split(':').collect();
                let (lo, hi) = f[2].split_once('-').unwrap();
                SplitMeta {
                    id: f[1].into(),
                    org: OrgId::new(f[0]).unwrap(),
                    min_ts: Timestamp::from_secs(lo.parse().unwrap()),
                    max_ts: Timestamp::from_secs(hi.parse().unwrap()),
                    num_docs: 10,
                    bytes: f[3].parse().unwrap(),
                    generation: 0,
                    format: 3,
                }
            })
            .collect();
        let policies: BTreeMap<String, RetentionPolicy> = policies
            .split_whitespace()
            .map(|p| {
                let (org, v) = p.split_once('=').unwrap();
                let (age, bytes) = v.split_once('/').unwrap();
                let policy = RetentionPolicy {
                    max_age_secs: age.parse().ok(),
                    max_bytes: bytes.parse().ok(),
                };
                (org.to_string(), policy)
            })
            .collect();
        let plan = plan(splits, Timestamp::from_secs(now), |o| {
            policies.get(o.as_str()).copied().unwrap_or_default()
        });
        let got: Vec<String> = plan
            .orgs
            .iter()
            .map(|(org, r)| {
                let removed: Vec<&str> = r.removed.iter().map(|s| s.id.as_str()).collect();
                format!(
                    "{org}: -{} | {}/{}/{} from {}",
                    removed.join(","),
                    r.kept_splits,
                    r.kept_docs,
                    r.kept_bytes,
                    r.kept_from.map_or(-1, |t| t.secs())
                )
            })
            .collect();
        assert_eq!(got.join("\n"), expect.trim(), "{policies:?}");
        let total = plan.total();
        let bytes: u64 = plan.removed().map(|s| s.bytes).sum();
        assert_eq!(total.bytes_removed, bytes);
        assert_eq!(total.splits_removed, plan.removed().count());
    }

    const SPLITS: &str =
        "a:a1:0-100:10 a:a2:100-250:10 a:a3:200-300:10 b:b1:0-50:40 b:b2:60-70:40 b:b3:80-90:40";

    #[test]
    fn plans() {
        // No policy: nothing deleted, whatever the age or size.
        check(
            SPLITS,
            "",
            1_000_000,
            "a: - | 3/30/30 from 0\nb: - | 3/30/120 from 0",
        );
        check(
            SPLITS,
            "a=-/- b=-/-",
            1_000_000,
            "a: - | 3/30/30 from 0\nb: - | 3/30/120 from 0",
        );
        // Age: a split goes once its newest event is older than now - age; a2 straddles the
        // limit (100..250 against 200) and stays.
        check(
            SPLITS,
            "a=100/-",
            300,
            "a: -a1 | 2/20/20 from 100\nb: - | 3/30/120 from 0",
        );
        // Exactly at the limit: kept (strictly older only).
        check(
            SPLITS,
            "a=200/-",
            300,
            "a: - | 3/30/30 from 0\nb: - | 3/30/120 from 0",
        );
        check(
            SPLITS,
            "a=199/-",
            300,
            "a: -a1 | 2/20/20 from 100\nb: - | 3/30/120 from 0",
        );
        // Everything expired.
        check(
            SPLITS,
            "a=1/-",
            10_000,
            "a: -a1,a2,a3 | 0/0/0 from -1\nb: - | 3/30/120 from 0",
        );
        // Size: oldest first until the total is at most the cap.
        check(
            SPLITS,
            "b=-/80",
            0,
            "a: - | 3/30/30 from 0\nb: -b1 | 2/20/80 from 60",
        );
        check(
            SPLITS,
            "b=-/79",
            0,
            "a: - | 3/30/30 from 0\nb: -b1,b2 | 1/10/40 from 80",
        );
        // A cap under the newest split deletes it too (the cap is a hard limit).
        check(
            SPLITS,
            "b=-/39",
            0,
            "a: - | 3/30/30 from 0\nb: -b1,b2,b3 | 0/0/0 from -1",
        );
        // Age first, then size over what the age kept.
        check(
            SPLITS,
            "a=150/15 b=25/1000",
            100,
            "a: -a1,a2 | 1/10/10 from 200\nb: -b1,b2 | 1/10/40 from 80",
        );
        // Order among equal newest events: oldest first event, then id.
        check(
            "a:x:5-10:10 a:w:5-10:10 a:v:0-10:10",
            "a=-/15",
            0,
            "a: -v,w | 1/10/10 from 5",
        );
        check("", "a=1/1", 0, "");
    }
}
