//! A kept JSON tree refilled in place: what [`J::to_other`] builds, written into the
//! [`OtherValue`] tree of the previous record instead of a new one.
//!
//! A reader that keeps a record's leftovers verbatim (Suricata's `suricata.eve`) builds a
//! tree of a dozen or more nodes per record, with a vector per object and a heap string per
//! text over 24 bytes, and drops it at the next record. Consecutive records of one writer
//! share their shape (same keys, same kinds of values), so the previous tree, taken back
//! before the reset ([`super::LineParser::recycle`]), is refilled here: keys that match are
//! kept, strings are overwritten in their buffers, vectors keep their capacity. Whatever the
//! previous tree held, the result equals `to_other` of the new value (`refill_is_to_other`).

use std::borrow::Cow;

use yagura_model::event::{Other, OtherValue};

use super::json::{J, obj_to_other};

/// `*dst = src.to_other()`, reusing the buffers of `dst`.
pub(crate) fn value(dst: &mut OtherValue, src: &J<'_>) {
    match (dst, src) {
        (OtherValue::Str(d), J::Str(s)) => {
            if d.as_str() != s.as_ref() {
                d.clear();
                d.push_str(s);
            }
        }
        (OtherValue::Object(d), J::Obj(pairs)) => object(d, pairs),
        (OtherValue::Array(d), J::Arr(items)) => {
            for (i, x) in items.iter().enumerate() {
                match d.get_mut(i) {
                    Some(v) => value(v, x),
                    None => d.push(x.to_other()),
                }
            }
            d.truncate(items.len());
        }
        (dst, src) => *dst = src.to_other(),
    }
}

/// `*dst = obj_to_other(pairs)` (a repeated key keeps its first position and takes its last
/// value), reusing the buffers of `dst`.
pub(crate) fn object(dst: &mut Other, pairs: &[(Cow<'_, str>, J<'_>)]) {
    if !keys_distinct(pairs.iter().map(|(k, _)| k.as_ref())) {
        *dst = obj_to_other(pairs);
        return;
    }
    distinct_pairs(dst, pairs.iter().map(|(k, v)| (k.as_ref(), v)));
}

/// `dst` = the pairs in order, whose keys the caller knows to be distinct, reusing the
/// buffers of `dst`.
pub(crate) fn distinct_pairs<'o, 'a: 'o>(
    dst: &mut Other,
    pairs: impl Iterator<Item = (&'o str, &'o J<'a>)>,
) {
    let mut n = 0;
    for (k, v) in pairs {
        match dst.entry_at_mut(n) {
            Some((dk, dv)) => {
                if dk.as_str() != k {
                    dk.clear();
                    dk.push_str(k);
                }
                value(dv, v);
            }
            None => dst.push_new(k, v.to_other()),
        }
        n += 1;
    }
    dst.truncate(n);
}

/// Whether no key is repeated. Each key sets one bit of a 64-bit filter (from its length and
/// first and last bytes); only a key whose bit is already set is compared with the keys
/// before it.
pub(crate) fn keys_distinct<'k>(keys: impl Iterator<Item = &'k str> + Clone) -> bool {
    let mut seen = 0u64;
    for (i, k) in keys.clone().enumerate() {
        let b = k.as_bytes();
        let first = u32::from(b.first().copied().unwrap_or(0));
        let last = u32::from(b.last().copied().unwrap_or(0));
        let h = (b.len() as u32).wrapping_mul(7) ^ first.wrapping_mul(31) ^ last;
        let bit = 1u64 << (h & 63);
        if seen & bit != 0 && keys.clone().take(i).any(|p| p == k) {
            return false;
        }
        seen |= bit;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// JSON text of small trees whose keys and values often repeat (so that refills meet
    /// equal and unequal keys, strings of both sizes, and every change of kind).
    fn json_text() -> impl Strategy<Value = String> {
        let key = prop_oneof![
            Just("a".to_owned()),
            Just("b".to_owned()),
            Just("start".to_owned()),
            Just("a_key_longer_than_twenty_four_bytes".to_owned()),
            "[a-c]{1,3}",
        ];
        let leaf = prop_oneof![
            Just("null".to_owned()),
            Just("true".to_owned()),
            Just("false".to_owned()),
            any::<u32>().prop_map(|n| n.to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            (0u32..1000, 0u32..1000).prop_map(|(a, b)| format!("{a}.{b}")),
            Just("\"x\"".to_owned()),
            Just("\"2021-06-06T16:38:55.855844+0200\"".to_owned()),
            "[a-z\\\\\"é]{0,30}".prop_map(|s| serde_json::to_string(&s).unwrap_or_default()),
        ];
        leaf.prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6)
                    .prop_map(|v| format!("[{}]", v.join(","))),
                prop::collection::vec((key.clone(), inner), 0..7).prop_map(|v| {
                    let body: Vec<String> = v
                        .iter()
                        .map(|(k, x)| {
                            format!("{}:{x}", serde_json::to_string(k).unwrap_or_default())
                        })
                        .collect();
                    format!("{{{}}}", body.join(","))
                }),
            ]
        })
    }

    fn tree(text: &str) -> J<'_> {
        super::super::json_fast::parse(text, 8)
            .or_else(|| serde_json::from_str(text).ok())
            .unwrap_or(J::Null)
    }

    proptest! {
        /// Refilling any previous tree gives what a fresh conversion gives, serialized byte
        /// for byte alike.
        #[test]
        fn refill_is_to_other(a in json_text(), b in json_text(), c in json_text()) {
            let (ja, jb, jc) = (tree(&a), tree(&b), tree(&c));
            let mut dst = ja.to_other();
            for src in [&jb, &jc, &ja, &jb] {
                value(&mut dst, src);
                let fresh = src.to_other();
                prop_assert_eq!(&dst, &fresh);
                prop_assert_eq!(
                    serde_json::to_string(&dst).unwrap_or_default(),
                    serde_json::to_string(&fresh).unwrap_or_default()
                );
            }
            if let (J::Obj(pa), J::Obj(pb)) = (&ja, &jb) {
                let mut o = obj_to_other(pa);
                object(&mut o, pb);
                prop_assert_eq!(o, obj_to_other(pb));
            }
        }
    }

    #[test]
    fn duplicate_keys_keep_the_first_position_and_the_last_value() {
        let prev = tree(r#"{"a":1,"b":{"c":"a string longer than twenty-four"}}"#);
        let next = tree(r#"{"b":1,"a":2,"b":3}"#);
        let mut dst = prev.to_other();
        value(&mut dst, &next);
        assert_eq!(
            serde_json::to_string(&dst).unwrap_or_default(),
            r#"{"b":3,"a":2}"#
        );
        assert!(keys_distinct(["a", "b", "ab", "ba"].into_iter()));
        assert!(!keys_distinct(["a", "b", "a"].into_iter()));
    }
}
