//! Robust statistics used by the detectors: quantiles, median absolute deviation, Bowley
//! skewness, Shannon entropy. All functions are total: empty input gives `None` or 0.

/// The `q`-quantile (0..=1) of sorted data, linear interpolation between closest ranks.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let a = *sorted.get(lo)?;
    let b = *sorted.get(hi)?;
    Some(a + (b - a) * (pos - lo as f64))
}

/// Quartiles and dispersion of a sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub q1: f64,
    pub median: f64,
    pub q3: f64,
    /// Median absolute deviation from the median.
    pub mad: f64,
}

impl Spread {
    /// `None` for fewer than 4 values or non-finite ones.
    pub fn of(values: &mut [f64]) -> Option<Spread> {
        if values.len() < 4 || values.iter().any(|v| !v.is_finite()) {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let q1 = quantile_sorted(values, 0.25)?;
        let median = quantile_sorted(values, 0.5)?;
        let q3 = quantile_sorted(values, 0.75)?;
        let mut dev: Vec<f64> = values.iter().map(|v| (v - median).abs()).collect();
        dev.sort_by(f64::total_cmp);
        let mad = quantile_sorted(&dev, 0.5)?;
        Some(Spread {
            q1,
            median,
            q3,
            mad,
        })
    }

    /// Bowley (quartile) skewness in -1..=1; 0 for symmetric data and for zero spread.
    pub fn bowley_skew(&self) -> f64 {
        let den = self.q3 - self.q1;
        if den <= f64::EPSILON * self.median.abs().max(1.0) {
            return 0.0;
        }
        ((self.q3 + self.q1 - 2.0 * self.median) / den).clamp(-1.0, 1.0)
    }

    /// MAD relative to the median (the coefficient of dispersion), 0 when the median is 0.
    pub fn relative_mad(&self) -> f64 {
        if self.median <= 0.0 {
            return if self.mad <= 0.0 { 0.0 } else { f64::INFINITY };
        }
        self.mad / self.median
    }
}

/// Shannon entropy of the bytes of `s`, in bits per character.
pub fn entropy(s: &str) -> f64 {
    let b = s.as_bytes();
    if b.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &c in b {
        counts[usize::from(c)] += 1;
    }
    let n = b.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// A 64-bit FxHash of some bytes (deterministic across runs and machines).
pub fn hash_bytes(parts: &[&[u8]]) -> u64 {
    use std::hash::Hasher;
    let mut h = rustc_hash::FxHasher::default();
    for p in parts {
        h.write(p);
        h.write_u8(0xff);
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(mut input: Vec<f64>, expect: Option<(f64, f64, f64, f64, f64)>) {
        let got = Spread::of(&mut input).map(|s| (s.q1, s.median, s.q3, s.mad, s.bowley_skew()));
        match (got, expect) {
            (None, None) => {}
            (Some(g), Some(e)) => {
                let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
                assert!(
                    close(g.0, e.0)
                        && close(g.1, e.1)
                        && close(g.2, e.2)
                        && close(g.3, e.3)
                        && close(g.4, e.4),
                    "got {g:?}, expected {e:?}"
                );
            }
            (g, e) => panic!("got {g:?}, expected {e:?}"),
        }
    }

    #[test]
    fn spreads() {
        check(vec![], None);
        check(vec![1.0, 2.0, 3.0], None);
        check(vec![1.0, f64::NAN, 3.0, 4.0], None);
        check(vec![60.0; 10], Some((60.0, 60.0, 60.0, 0.0, 0.0)));
        check(
            vec![1.0, 2.0, 3.0, 4.0, 5.0],
            Some((2.0, 3.0, 4.0, 1.0, 0.0)),
        );
        // right-skewed: q1=2, median=3, q3=10 -> (10+2-6)/8 = 0.75
        check(
            vec![1.0, 2.0, 3.0, 10.0, 20.0],
            Some((2.0, 3.0, 10.0, 2.0, 0.75)),
        );
    }

    #[test]
    fn entropy_of_strings() {
        assert_eq!(entropy(""), 0.0);
        assert_eq!(entropy("aaaa"), 0.0);
        assert!((entropy("abcd") - 2.0).abs() < 1e-12);
        assert!(entropy("x7f3k9q2m1z8") > 3.4);
    }

    proptest::proptest! {
        #[test]
        fn spread_is_ordered_and_skew_bounded(v in proptest::collection::vec(0.0f64..1e6, 4..64)) {
            let mut v = v;
            let s = Spread::of(&mut v).unwrap();
            proptest::prop_assert!(s.q1 <= s.median && s.median <= s.q3);
            proptest::prop_assert!(s.mad >= 0.0);
            proptest::prop_assert!((-1.0..=1.0).contains(&s.bowley_skew()));
        }
    }
}
