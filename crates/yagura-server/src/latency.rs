//! A lock-free latency histogram (microseconds, log-linear buckets: exact below 16 µs, then
//! eight buckets per power of two, i.e. ≤ 12.5 % error), for the server's own measurements
//! (how long store calls queue and run), read by benchmarks and tests.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Exact buckets below this many microseconds.
const LINEAR: u64 = 16;
/// Buckets per power of two above [`LINEAR`].
const SUB: u64 = 8;
/// Enough buckets for 2^40 µs (12 days).
const BUCKETS: usize = (LINEAR + (40 - 4) * SUB) as usize;

/// Counts of durations by bucket.
pub struct LatencyHistogram {
    counts: Box<[AtomicU64]>,
    sum_us: AtomicU64,
}

impl std::fmt::Debug for LatencyHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LatencyHistogram")
            .field("count", &self.count())
            .finish_non_exhaustive()
    }
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            sum_us: AtomicU64::new(0),
        }
    }
}

fn bucket(us: u64) -> usize {
    if us < LINEAR {
        return us as usize;
    }
    // `us` ≥ 16: its leading power of two is 2^e with e ≥ 4; the next three bits pick the
    // sub-bucket.
    let e = 63 - u64::from(us.leading_zeros());
    let sub = (us >> (e - 3)) & (SUB - 1);
    ((LINEAR + (e - 4) * SUB + sub) as usize).min(BUCKETS - 1)
}

/// The largest duration (µs) a bucket holds.
fn upper(b: usize) -> u64 {
    let b = b as u64;
    if b < LINEAR {
        return b;
    }
    let e = (b - LINEAR) / SUB + 4;
    let sub = (b - LINEAR) % SUB;
    ((SUB + sub + 1) << (e - 3)) - 1
}

impl LatencyHistogram {
    pub fn record(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.counts[bucket(us)].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// The mean in microseconds (0 when empty).
    pub fn mean_us(&self) -> f64 {
        let n = self.count();
        if n == 0 {
            return 0.0;
        }
        self.sum_us.load(Ordering::Relaxed) as f64 / n as f64
    }

    /// The `q` quantile (0–1) in microseconds: the upper bound of the bucket it falls in
    /// (0 when empty).
    pub fn quantile_us(&self, q: f64) -> u64 {
        let counts: Vec<u64> = self
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        let n: u64 = counts.iter().sum();
        if n == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * n as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (b, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return upper(b);
            }
        }
        upper(BUCKETS - 1)
    }

    /// Starts counting afresh.
    pub fn reset(&self) {
        for c in self.counts.iter() {
            c.store(0, Ordering::Relaxed);
        }
        self.sum_us.store(0, Ordering::Relaxed);
    }

    /// `n=… mean=… p50=… p90=… p99=… max=…` (milliseconds), for reports.
    pub fn summary(&self) -> String {
        let ms = |us: u64| us as f64 / 1000.0;
        format!(
            "n={} mean={:.2} ms p50={:.2} ms p90={:.2} ms p99={:.2} ms max={:.2} ms",
            self.count(),
            self.mean_us() / 1000.0,
            ms(self.quantile_us(0.5)),
            ms(self.quantile_us(0.9)),
            ms(self.quantile_us(0.99)),
            ms(self.quantile_us(1.0)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_and_bound_their_values() {
        let mut last = None;
        for us in (0..5000).chain([65_535, 65_536, 1 << 30, u64::MAX]) {
            let b = bucket(us);
            assert!(us <= upper(b) || b == BUCKETS - 1, "{us} above bucket {b}");
            if b > 0 && b < BUCKETS - 1 {
                assert!(us > upper(b - 1), "{us} belongs below bucket {b}");
            }
            if let Some(l) = last {
                assert!(b >= l);
            }
            last = Some(b);
        }
        // Relative error above the linear range stays within one eighth.
        for us in [17u64, 100, 1000, 33_000, 1_000_000] {
            let u = upper(bucket(us));
            assert!((u - us) as f64 <= us as f64 / 8.0, "{us} → {u}");
        }
    }

    #[test]
    fn quantiles_of_a_known_distribution() {
        let h = LatencyHistogram::default();
        assert_eq!(h.quantile_us(0.99), 0);
        for us in 1..=100u64 {
            h.record(Duration::from_micros(us * 1000));
        }
        assert_eq!(h.count(), 100);
        let p50 = h.quantile_us(0.5);
        assert!((50_000..=56_250).contains(&p50), "{p50}");
        let p99 = h.quantile_us(0.99);
        assert!((99_000..=111_375).contains(&p99), "{p99}");
        assert!((h.mean_us() - 50_500.0).abs() < 1.0);
        h.reset();
        assert_eq!(h.count(), 0);
    }
}
