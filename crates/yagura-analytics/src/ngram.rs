//! A character trigram model of pronounceable names, for DGA detection.
//!
//! Trained at first use from `data/benign-words.txt`, a list the crate ships (English words
//! from SCOWL, licence beside the file): `include_str!` embeds it, so the model is the same on
//! every machine and needs no file or network at run time. Training takes a few milliseconds
//! and happens once per process ([`NgramModel::shipped`]).
//!
//! The score of a name is its mean log-probability per character (natural log) under an
//! interpolated trigram/bigram/unigram model with boundary markers: pronounceable names
//! (`facebook`, `weather`, `mail-server`) score around -2.5, random strings (`xkqzjvwp`,
//! `a8f3k2lq9d`) well below -3.5. Letter runs, digit runs and hyphens are scored
//! separately (see [`NgramModel::score`]).

use std::sync::OnceLock;

const ALPHABET: usize = 38; // a-z, 0-9, '-', boundary
const BOUNDARY: usize = 37;

const L_TRI: f64 = 0.6;
const L_BI: f64 = 0.3;
const L_UNI: f64 = 0.09;
const L_FLOOR: f64 = 0.01;

static SHIPPED: OnceLock<NgramModel> = OnceLock::new();

/// Trigram log-probabilities over `[a-z0-9-]` plus a boundary marker.
#[derive(Clone)]
pub struct NgramModel {
    logp: Vec<f32>,
}

impl std::fmt::Debug for NgramModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NgramModel")
            .field("alphabet", &ALPHABET)
            .finish_non_exhaustive()
    }
}

fn class(b: u8) -> Option<usize> {
    match b {
        b'a'..=b'z' => Some(usize::from(b - b'a')),
        b'A'..=b'Z' => Some(usize::from(b - b'A')),
        b'0'..=b'9' => Some(26 + usize::from(b - b'0')),
        b'-' | b'_' => Some(36),
        _ => None,
    }
}

impl NgramModel {
    /// The model trained on the list the crate ships.
    pub fn shipped() -> &'static NgramModel {
        SHIPPED.get_or_init(|| NgramModel::train(include_str!("../data/benign-words.txt").lines()))
    }

    /// Trains on names (one per item); characters outside `[a-z0-9-_]` are skipped.
    pub fn train<'a>(names: impl IntoIterator<Item = &'a str>) -> NgramModel {
        let mut uni = vec![0u64; ALPHABET];
        let mut bi = vec![0u64; ALPHABET * ALPHABET];
        let mut tri = vec![0u64; ALPHABET * ALPHABET * ALPHABET];
        for name in names {
            let mut a = BOUNDARY;
            let mut b = BOUNDARY;
            let chars = name
                .bytes()
                .filter_map(class)
                .chain(std::iter::once(BOUNDARY));
            for c in chars {
                uni[c] += 1;
                bi[b * ALPHABET + c] += 1;
                tri[(a * ALPHABET + b) * ALPHABET + c] += 1;
                a = b;
                b = c;
            }
        }
        // Context totals.
        let uni_total: u64 = uni.iter().sum::<u64>().max(1);
        let mut bi_ctx = vec![0u64; ALPHABET];
        for (i, n) in bi.iter().enumerate() {
            bi_ctx[i / ALPHABET] += n;
        }
        let mut tri_ctx = vec![0u64; ALPHABET * ALPHABET];
        for (i, n) in tri.iter().enumerate() {
            tri_ctx[i / ALPHABET] += n;
        }
        let mut logp = vec![0f32; ALPHABET * ALPHABET * ALPHABET];
        for a in 0..ALPHABET {
            for b in 0..ALPHABET {
                for c in 0..ALPHABET {
                    let ab = a * ALPHABET + b;
                    let t = ratio(tri[ab * ALPHABET + c], tri_ctx[ab]);
                    let bg = ratio(bi[b * ALPHABET + c], bi_ctx[b]);
                    let u = uni[c] as f64 / uni_total as f64;
                    let p = L_TRI * t + L_BI * bg + L_UNI * u + L_FLOOR / ALPHABET as f64;
                    logp[ab * ALPHABET + c] = p.ln() as f32;
                }
            }
        }
        NgramModel { logp }
    }

    /// Mean log-probability per character of `label`; `None` when the label has no
    /// scorable character.
    ///
    /// The label is cut into runs: each run of letters is scored as a word of its own (with
    /// boundary markers), each run of digits counts as one token of probability
    /// [`DIGIT_RUN_P`], and hyphens/underscores only separate runs. So `notepad-plus-plus`,
    /// `office365` and `17track` stay pronounceable, while `a8f3k2lq9d`, which switches
    /// between letters and digits at every character, does not.
    pub fn score(&self, label: &str) -> Option<f64> {
        let mut sum = 0f64;
        let mut n = 0u32;
        let bytes = label.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes.get(i).copied().unwrap_or(b'.');
            if b.is_ascii_digit() {
                while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
                sum += DIGIT_RUN_P.ln();
                n += 1;
            } else if b.is_ascii_alphabetic() {
                let start = i;
                while bytes.get(i).is_some_and(u8::is_ascii_alphabetic) {
                    i += 1;
                }
                let (s, k) = self.score_word(bytes.get(start..i).unwrap_or_default())?;
                sum += s;
                n += k;
            } else {
                i += 1;
            }
        }
        (n > 0).then(|| sum / f64::from(n))
    }

    /// Sum of log-probabilities of a run of letters and the number of predictions (letters
    /// plus the end marker).
    fn score_word(&self, word: &[u8]) -> Option<(f64, u32)> {
        let mut a = BOUNDARY;
        let mut b = BOUNDARY;
        let mut sum = 0f64;
        let mut n = 0u32;
        for c in word
            .iter()
            .filter_map(|&c| class(c))
            .chain(std::iter::once(BOUNDARY))
        {
            sum += f64::from(*self.logp.get((a * ALPHABET + b) * ALPHABET + c)?);
            n += 1;
            a = b;
            b = c;
        }
        Some((sum, n))
    }
}

/// Probability of one run of digits inside a label (about as likely as an unusual letter).
pub const DIGIT_RUN_P: f64 = 0.03;

fn ratio(n: u64, d: u64) -> f64 {
    if d == 0 { 0.0 } else { n as f64 / d as f64 }
}

/// The part of a DNS name the DGA score looks at: the label left of the public suffix
/// (`ksjdhfkqwe` in `www.ksjdhfkqwe.net`), with its length in scorable characters.
pub fn dga_label(name: &str) -> Option<&str> {
    let reg = crate::domain::registered_domain(name)?;
    Some(crate::domain::second_level_label(reg))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(label: &str, pronounceable: bool) {
        let s = NgramModel::shipped().score(label).unwrap();
        assert_eq!(s > -3.3, pronounceable, "{label}: {s}");
    }

    #[test]
    fn pronounceable_and_not() {
        for l in [
            "facebook",
            "weather",
            "microsoft",
            "mailserver",
            "wikipedia",
            "stackoverflow",
        ] {
            check(l, true);
        }
        for l in [
            "xkqzjvwpq",
            "a8f3k2lq9d",
            "qwxzvbnmkj",
            "kdjfhgqpzx",
            "1v3k9z0q7w",
        ] {
            check(l, false);
        }
    }

    #[test]
    fn empty_and_odd_labels() {
        let m = NgramModel::shipped();
        assert_eq!(m.score(""), None);
        assert_eq!(m.score("..."), None);
        assert!(m.score("ÄÖÜ-x").is_some());
    }

    #[test]
    fn dga_labels() {
        assert_eq!(dga_label("www.ksjdhfkqwe.co.uk"), Some("ksjdhfkqwe"));
        assert_eq!(dga_label("com"), None);
    }

    proptest::proptest! {
        #[test]
        fn scores_are_finite_and_negative(s in "\\PC{0,64}") {
            if let Some(v) = NgramModel::shipped().score(&s) {
                proptest::prop_assert!(v.is_finite() && v < 0.0);
            }
        }
    }
}
