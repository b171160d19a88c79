//! Bounding state: every per-key map of a detector is capped; beyond the cap the least
//! recently seen keys (by event time) are evicted, a tenth of the cap at a time so that the
//! cost is amortized O(1) per insertion. Ties are broken by key, so eviction is deterministic.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};

/// Something with an event time of last activity.
pub trait LastSeen {
    fn last_seen(&self) -> i64;
}

/// Removes and returns, in key order (deterministic alerts), the entries whose window —
/// starting at `start(entry)` and `window` nanoseconds long — has ended at `now`.
pub fn take_ended<V, S>(
    map: &mut HashMap<u64, V, S>,
    now: i64,
    window: i64,
    start: impl Fn(&V) -> i64,
) -> Vec<V>
where
    S: BuildHasher,
{
    let mut ended: Vec<u64> = map
        .iter()
        .filter(|(_, v)| now >= start(v).saturating_add(window))
        .map(|(k, _)| *k)
        .collect();
    ended.sort_unstable();
    ended.into_iter().filter_map(|k| map.remove(&k)).collect()
}

/// Evicts the least recently seen entries when `map` holds more than `cap`, down to 90% of
/// `cap`. Returns how many were evicted.
pub fn enforce_cap<K, V, S>(map: &mut HashMap<K, V, S>, cap: usize) -> usize
where
    K: Hash + Eq + Ord + Clone,
    V: LastSeen,
    S: BuildHasher,
{
    if map.len() <= cap {
        return 0;
    }
    let keep = cap - cap / 10;
    let excess = map.len() - keep;
    let mut order: Vec<(i64, K)> = map
        .iter()
        .map(|(k, v)| (v.last_seen(), k.clone()))
        .collect();
    order.select_nth_unstable(excess.saturating_sub(1));
    for (_, k) in order.iter().take(excess) {
        map.remove(k);
    }
    excess
}

#[cfg(test)]
mod tests {
    use super::*;

    struct T(i64);
    impl LastSeen for T {
        fn last_seen(&self) -> i64 {
            self.0
        }
    }

    #[test]
    fn evicts_the_oldest_down_to_ninety_percent() {
        let mut m: HashMap<u32, T> = (0..=100).map(|i| (i, T(i64::from(i)))).collect();
        assert_eq!(enforce_cap(&mut m, 100), 11);
        assert_eq!(m.len(), 90);
        assert!((0..11).all(|i| !m.contains_key(&i)));
        assert!((11..=100).all(|i| m.contains_key(&i)));
        assert_eq!(enforce_cap(&mut m, 100), 0);
    }

    #[test]
    fn tiny_caps_work() {
        let mut m: HashMap<u32, T> = (0..3).map(|i| (i, T(0))).collect();
        enforce_cap(&mut m, 1);
        assert_eq!(m.len(), 1);
        assert!(m.contains_key(&2));
    }

    #[test]
    fn ended_windows_leave_in_key_order_and_open_ones_stay() {
        // (key, window start): with a 10-unit window at time 20, starts ≤ 10 have ended.
        let mut m: HashMap<u64, i64> = [(7, 10), (3, 0), (5, 11), (1, 10), (9, i64::MAX)].into();
        let ended = take_ended(&mut m, 20, 10, |start| *start);
        assert_eq!(ended, vec![10, 0, 10]); // keys 1, 3, 7
        let mut open: Vec<u64> = m.keys().copied().collect();
        open.sort_unstable();
        assert_eq!(open, vec![5, 9]);
        assert!(take_ended(&mut m, 20, 10, |start| *start).is_empty());
    }
}
