//! Explicitly seeded randomness.
//!
//! Every random stream of the simulator is a [`Pcg64Mcg`] seeded from the exercise seed and a
//! *label* (an organization id, `"campaigns"`, `"intel"`, …) through a fixed mixing function,
//! so each organization's logs depend only on `(seed, org id)`: the same seed gives the same
//! bytes whatever the number of threads or the order in which organizations are generated.
//!
//! The sampling helpers are written here rather than taken from `rand`'s distributions so that
//! the value streams are part of this crate and cannot change under a dependency upgrade.

use rand_core::{Rng as _, SeedableRng};
use rand_pcg::Pcg64Mcg;

/// SplitMix64 finalizer: a bijective 64-bit mixer.
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A stable 64-bit hash of a seed and a label (FNV-1a over the label, then mixed).
pub fn derive(seed: u64, label: &str) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for b in label.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    mix64(seed ^ mix64(h))
}

/// The simulator's random source.
#[derive(Debug, Clone)]
pub struct SimRng(Pcg64Mcg);

impl SimRng {
    /// The stream for `label` under `seed`.
    pub fn new(seed: u64, label: &str) -> SimRng {
        let a = derive(seed, label);
        let b = mix64(a ^ 0x5851_F42D_4C95_7F2D);
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&a.to_le_bytes());
        bytes[8..].copy_from_slice(&b.to_le_bytes());
        SimRng(Pcg64Mcg::from_seed(bytes))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `0..n` (Lemire's multiply-shift, unbiased). `n == 0` gives 0.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        loop {
            let x = self.next_u64();
            let m = u128::from(x) * u128::from(n);
            let low = m as u64;
            if low >= n.wrapping_neg() % n {
                return (m >> 64) as u64;
            }
        }
    }

    /// Uniform index into a slice of length `n` (0 for an empty one).
    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// Uniform in `lo..=hi` (`lo` when `hi < lo`).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below(hi - lo + 1)
    }

    /// Uniform in `[0, 1)` with 53 bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Exponential with the given mean.
    pub fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }

    /// Approximately normal (sum of four uniforms), mean 0, standard deviation 1.
    pub fn gauss(&mut self) -> f64 {
        let s: f64 = (0..4).map(|_| self.unit()).sum();
        (s - 2.0) * (3.0f64).sqrt()
    }

    /// Rounds `x` randomly so that the expectation is `x` (for per-hour counts).
    pub fn round_stochastic(&mut self, x: f64) -> u64 {
        if x <= 0.0 {
            return 0;
        }
        let f = x.floor();
        f as u64 + u64::from(self.chance(x - f))
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.index(items.len()))
    }

    /// Lower-case alphanumeric string of length `n` into `out`.
    pub fn alnum(&mut self, n: usize, out: &mut String) {
        const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        for _ in 0..n {
            let c = CHARS.get(self.index(CHARS.len())).copied().unwrap_or(b'a');
            out.push(char::from(c));
        }
    }

    /// Lower-case letters only.
    pub fn letters(&mut self, n: usize, out: &mut String) {
        for _ in 0..n {
            out.push(char::from(b'a' + self.below(26) as u8));
        }
    }

    pub fn hex(&mut self, n: usize, out: &mut String) {
        const HEX: &[u8] = b"0123456789abcdef";
        for _ in 0..n {
            let c = HEX.get(self.index(16)).copied().unwrap_or(b'0');
            out.push(char::from(c));
        }
    }
}

/// A Zipf(s) sampler over ranks `0..n` by inverse CDF (binary search over a table).
#[derive(Debug, Clone)]
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    pub fn new(n: usize, s: f64) -> Zipf {
        let mut cdf = Vec::with_capacity(n);
        let mut acc = 0.0;
        for k in 1..=n.max(1) {
            acc += 1.0 / (k as f64).powf(s);
            cdf.push(acc);
        }
        for c in &mut cdf {
            *c /= acc;
        }
        Zipf { cdf }
    }

    pub fn len(&self) -> usize {
        self.cdf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cdf.is_empty()
    }

    /// A rank in `0..n`; rank 0 is the most popular.
    pub fn sample(&self, rng: &mut SimRng) -> usize {
        let u = rng.unit();
        self.cdf
            .partition_point(|&c| c < u)
            .min(self.cdf.len().saturating_sub(1))
    }

    /// The probability of rank `k`.
    pub fn probability(&self, k: usize) -> f64 {
        let hi = self.cdf.get(k).copied().unwrap_or(0.0);
        let lo = if k == 0 {
            0.0
        } else {
            self.cdf.get(k - 1).copied().unwrap_or(hi)
        };
        hi - lo
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_depend_on_seed_and_label_only() {
        let a: Vec<u64> = (0..4)
            .map({
                let mut r = SimRng::new(7, "moh");
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..4)
            .map({
                let mut r = SimRng::new(7, "moh");
                move |_| r.next_u64()
            })
            .collect();
        let c = SimRng::new(7, "mof").next_u64();
        let d = SimRng::new(8, "moh").next_u64();
        assert_eq!(a, b);
        assert_ne!(a[0], c);
        assert_ne!(a[0], d);
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut r = SimRng::new(1, "t");
        let mut seen = [0u32; 7];
        for _ in 0..7000 {
            let v = r.below(7) as usize;
            assert!(v < 7);
            seen[v] += 1;
        }
        assert!(seen.iter().all(|&n| n > 800), "{seen:?}");
        assert_eq!(r.below(0), 0);
        assert_eq!(r.range(5, 5), 5);
        assert_eq!(r.range(5, 3), 5);
    }

    #[test]
    fn zipf_top_rank_frequency_matches_its_probability() {
        let z = Zipf::new(1000, 1.0);
        let mut r = SimRng::new(3, "zipf");
        let n = 200_000;
        let mut top = 0;
        let mut tenth = 0;
        for _ in 0..n {
            match z.sample(&mut r) {
                0 => top += 1,
                9 => tenth += 1,
                _ => {}
            }
        }
        let p0 = z.probability(0);
        let f0 = f64::from(top) / f64::from(n);
        assert!((f0 - p0).abs() < 0.01, "{f0} vs {p0}");
        // Zipf with s = 1: rank 1 is ten times as frequent as rank 10.
        let ratio = f64::from(top) / f64::from(tenth);
        assert!((7.0..13.0).contains(&ratio), "{ratio}");
    }
}
