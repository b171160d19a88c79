//! [`Other`]: the vendor fields of an event that have no typed home, as a small ordered tree.
//!
//! It replaces a `serde_json::Map<String, Value>` on the readers' hot path: keys are [`Str`]
//! (inline up to 24 bytes, so field names cost no allocation), scalars are inline (strings up
//! to 24 bytes included), objects are vectors of pairs in insertion order (no hashing). The
//! serde form is exactly what the `serde_json` map (with `preserve_order`) produced: objects in
//! insertion order, a key inserted again keeps its first position and takes the new value,
//! integers as integers, finite floats as `serde_json` prints them, non-finite floats as
//! `null`.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use crate::Str;

/// An insertion-ordered JSON object of vendor fields (and the type of [`crate::Event::other`]).
///
/// Each key appears once: [`Other::insert`] replaces the value of an existing key in place.
/// Lookups are linear, which beats hashing at the sizes events have (a few dozen keys).
#[derive(Clone, Default, PartialEq)]
pub struct Other(Vec<(Str, OtherValue)>);

/// One value of an [`Other`] object: a JSON value with inline strings and ordered objects.
///
/// Integers are `UInt` when non-negative and `Int` only when negative (the constructors
/// normalize, as `serde_json::Number` does), floats are finite (a non-finite float becomes
/// `Null`, as `serde_json::Value::from(f64)` does).
#[derive(Clone, Default, PartialEq)]
pub enum OtherValue {
    #[default]
    Null,
    Bool(bool),
    UInt(u64),
    /// A negative integer.
    Int(i64),
    /// A finite float.
    Float(f64),
    Str(Str),
    Array(Vec<OtherValue>),
    Object(Other),
}

impl Other {
    pub const fn new() -> Self {
        Other(Vec::new())
    }

    pub fn with_capacity(n: usize) -> Self {
        Other(Vec::with_capacity(n))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn reserve(&mut self, n: usize) {
        self.0.reserve(n);
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// The value of the top-level `key` (no path splitting; see [`Other::get_path`]).
    pub fn get(&self, key: &str) -> Option<&OtherValue> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut OtherValue> {
        self.0.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Inserts `value` under `key`: an existing key keeps its position and takes the new
    /// value (the old one is returned), a new key goes last.
    pub fn insert(
        &mut self,
        key: impl Into<Str> + AsRef<str>,
        value: OtherValue,
    ) -> Option<OtherValue> {
        match self.get_mut(key.as_ref()) {
            Some(slot) => Some(std::mem::replace(slot, value)),
            None => {
                self.0.push((key.into(), value));
                None
            }
        }
    }

    /// Appends `key` without looking for it first: for callers that know the key is not
    /// present (distinct column names of one header, keys already deduplicated). A duplicate
    /// appended this way would be serialized twice.
    pub fn push_new(&mut self, key: impl Into<Str>, value: OtherValue) {
        self.0.push((key.into(), value));
    }

    /// Keeps the first `n` entries, dropping the others (for callers refilling an emptied
    /// object in place, see [`Other::entry_at_mut`]).
    pub fn truncate(&mut self, n: usize) {
        self.0.truncate(n);
    }

    /// The `i`-th entry in insertion order, key and value both writable: for a reader that
    /// refills a previous record's object in place (same keys, new values) instead of
    /// dropping it and building it again. Like [`Other::push_new`], it leaves the keys'
    /// uniqueness to the caller.
    pub fn entry_at_mut(&mut self, i: usize) -> Option<(&mut Str, &mut OtherValue)> {
        self.0.get_mut(i).map(|(k, v)| (k, v))
    }

    /// Removes `key`, keeping the order of the others.
    pub fn remove(&mut self, key: &str) -> Option<OtherValue> {
        let i = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(i).1)
    }

    /// The object under `key`, created (empty, last) when absent. `None` when `key` holds
    /// something else than an object.
    pub fn object_mut(&mut self, key: &str) -> Option<&mut Other> {
        let i = match self.0.iter().position(|(k, _)| k == key) {
            Some(i) => i,
            None => {
                self.0
                    .push((Str::from(key), OtherValue::Object(Other::new())));
                self.0.len() - 1
            }
        };
        match self.0.get_mut(i) {
            Some((_, OtherValue::Object(o))) => Some(o),
            _ => None,
        }
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &OtherValue)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn iter_mut(&mut self) -> impl ExactSizeIterator<Item = (&str, &mut OtherValue)> {
        self.0.iter_mut().map(|(k, v)| (k.as_str(), v))
    }

    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }

    pub fn values(&self) -> impl ExactSizeIterator<Item = &OtherValue> {
        self.0.iter().map(|(_, v)| v)
    }

    /// The value at a dotted `path`. A key may itself contain dots (a vendor name kept
    /// verbatim), so the whole remaining path is tried as one key before descending at each
    /// dot in turn. Arrays are not descended (see [`crate::Event::for_each_value`] for that).
    pub fn get_path(&self, path: &str) -> Option<&OtherValue> {
        if let Some(v) = self.get(path) {
            return Some(v);
        }
        let mut split = 0;
        while let Some(dot) = path.get(split..).and_then(|p| p.find('.')) {
            let (head, tail) = (&path[..split + dot], &path[split + dot + 1..]);
            if let Some(v) = self.get(head) {
                return match v {
                    OtherValue::Object(m) => m.get_path(tail),
                    _ => None,
                };
            }
            split += dot + 1;
        }
        None
    }

    /// Sets `value` at a dotted `path`, creating objects on the way (each dot separates two
    /// keys). Returns false when a non-object is in the way (objects created before it
    /// stay, empty).
    pub fn set_path(&mut self, path: &str, value: OtherValue) -> bool {
        let mut cur = self;
        let mut parts = path.split('.').peekable();
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                cur.insert(part, value);
                return true;
            }
            if !matches!(cur.get(part), None | Some(OtherValue::Object(_))) {
                return false;
            }
            match cur.object_mut(part) {
                Some(o) => cur = o,
                None => return false,
            }
        }
        false
    }

    /// The same object as a `serde_json` map.
    pub fn to_json_map(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::with_capacity(self.0.len());
        for (k, v) in &self.0 {
            m.insert(k.to_string(), v.to_json());
        }
        m
    }
}

impl OtherValue {
    pub fn is_null(&self) -> bool {
        matches!(self, OtherValue::Null)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            OtherValue::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        match self {
            OtherValue::UInt(n) => Some(*n),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            OtherValue::UInt(n) => i64::try_from(*n).ok(),
            OtherValue::Int(n) => Some(*n),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            OtherValue::UInt(n) => Some(*n as f64),
            OtherValue::Int(n) => Some(*n as f64),
            OtherValue::Float(f) => Some(*f),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            OtherValue::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[OtherValue]> {
        match self {
            OtherValue::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&Other> {
        match self {
            OtherValue::Object(o) => Some(o),
            _ => None,
        }
    }

    /// The member `key` of an object (`None` for other values), like `serde_json::Value::get`.
    pub fn get(&self, key: &str) -> Option<&OtherValue> {
        self.as_object().and_then(|o| o.get(key))
    }

    /// The same value as a `serde_json::Value`.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            OtherValue::Null => J::Null,
            OtherValue::Bool(b) => J::Bool(*b),
            OtherValue::UInt(n) => J::from(*n),
            OtherValue::Int(n) => J::from(*n),
            OtherValue::Float(f) => J::from(*f),
            OtherValue::Str(s) => J::String(s.to_string()),
            OtherValue::Array(a) => J::Array(a.iter().map(OtherValue::to_json).collect()),
            OtherValue::Object(o) => J::Object(o.to_json_map()),
        }
    }
}

// ---- conversions ---------------------------------------------------------------------------

impl From<serde_json::Value> for OtherValue {
    fn from(v: serde_json::Value) -> Self {
        use serde_json::Value as J;
        match v {
            J::Null => OtherValue::Null,
            J::Bool(b) => OtherValue::Bool(b),
            J::Number(n) => OtherValue::from(&n),
            J::String(s) => OtherValue::Str(Str::from(s)),
            J::Array(a) => OtherValue::Array(a.into_iter().map(OtherValue::from).collect()),
            J::Object(m) => OtherValue::Object(Other::from(m)),
        }
    }
}

impl From<&serde_json::Value> for OtherValue {
    fn from(v: &serde_json::Value) -> Self {
        use serde_json::Value as J;
        match v {
            J::Null => OtherValue::Null,
            J::Bool(b) => OtherValue::Bool(*b),
            J::Number(n) => OtherValue::from(n),
            J::String(s) => OtherValue::Str(Str::from(s.as_str())),
            J::Array(a) => OtherValue::Array(a.iter().map(OtherValue::from).collect()),
            J::Object(m) => OtherValue::Object(
                m.iter()
                    .map(|(k, v)| (Str::from(k.as_str()), OtherValue::from(v)))
                    .collect(),
            ),
        }
    }
}

impl From<&serde_json::Number> for OtherValue {
    fn from(n: &serde_json::Number) -> Self {
        match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => OtherValue::UInt(u),
            (None, Some(i), _) => OtherValue::Int(i),
            (None, None, Some(f)) => OtherValue::from(f),
            (None, None, None) => OtherValue::Null,
        }
    }
}

impl From<serde_json::Map<String, serde_json::Value>> for Other {
    /// The keys of a `serde_json` map are unique: no lookups while converting.
    fn from(m: serde_json::Map<String, serde_json::Value>) -> Self {
        Other(
            m.into_iter()
                .map(|(k, v)| (Str::from(k), OtherValue::from(v)))
                .collect(),
        )
    }
}

impl FromIterator<(Str, OtherValue)> for Other {
    /// Pairs in order; a repeated key keeps its first position and takes the last value.
    fn from_iter<I: IntoIterator<Item = (Str, OtherValue)>>(iter: I) -> Self {
        let iter = iter.into_iter();
        let mut o = Other::with_capacity(iter.size_hint().0);
        for (k, v) in iter {
            o.insert(k, v);
        }
        o
    }
}

impl From<&str> for OtherValue {
    fn from(s: &str) -> Self {
        OtherValue::Str(Str::from(s))
    }
}

impl From<String> for OtherValue {
    fn from(s: String) -> Self {
        OtherValue::Str(Str::from(s))
    }
}

impl From<Str> for OtherValue {
    fn from(s: Str) -> Self {
        OtherValue::Str(s)
    }
}

impl From<bool> for OtherValue {
    fn from(b: bool) -> Self {
        OtherValue::Bool(b)
    }
}

impl From<u64> for OtherValue {
    fn from(n: u64) -> Self {
        OtherValue::UInt(n)
    }
}

macro_rules! from_int {
    ($($t:ty => $via:ty),*) => {$(
        impl From<$t> for OtherValue {
            fn from(n: $t) -> Self {
                OtherValue::from(<$via>::from(n))
            }
        }
    )*};
}
from_int!(u8 => u64, u16 => u64, u32 => u64, i8 => i64, i16 => i64, i32 => i64);

impl From<i64> for OtherValue {
    fn from(n: i64) -> Self {
        match u64::try_from(n) {
            Ok(u) => OtherValue::UInt(u),
            Err(_) => OtherValue::Int(n),
        }
    }
}

impl From<f64> for OtherValue {
    /// A non-finite float is `Null` (JSON has no NaN or infinity), as in `serde_json`.
    fn from(f: f64) -> Self {
        if f.is_finite() {
            OtherValue::Float(f)
        } else {
            OtherValue::Null
        }
    }
}

impl From<Other> for OtherValue {
    fn from(o: Other) -> Self {
        OtherValue::Object(o)
    }
}

impl<T: Into<OtherValue>> From<Vec<T>> for OtherValue {
    fn from(v: Vec<T>) -> Self {
        OtherValue::Array(v.into_iter().map(Into::into).collect())
    }
}

impl<T: Into<OtherValue>> From<Option<T>> for OtherValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(OtherValue::Null, Into::into)
    }
}

// ---- debug: as the JSON text, which is what one wants to read ------------------------------

impl fmt::Debug for Other {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

impl fmt::Debug for OtherValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OtherValue::Null => f.write_str("null"),
            OtherValue::Bool(b) => write!(f, "{b}"),
            OtherValue::UInt(n) => write!(f, "{n}"),
            OtherValue::Int(n) => write!(f, "{n}"),
            OtherValue::Float(x) => write!(f, "{x:?}"),
            OtherValue::Str(s) => write!(f, "{s:?}"),
            OtherValue::Array(a) => f.debug_list().entries(a).finish(),
            OtherValue::Object(o) => o.fmt(f),
        }
    }
}

impl fmt::Display for OtherValue {
    /// Compact JSON text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = serde_json::to_string(self).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

// ---- serde -----------------------------------------------------------------------------------

impl Serialize for Other {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k.as_str(), v)?;
        }
        m.end()
    }
}

impl Serialize for OtherValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            OtherValue::Null => s.serialize_unit(),
            OtherValue::Bool(b) => s.serialize_bool(*b),
            OtherValue::UInt(n) => s.serialize_u64(*n),
            OtherValue::Int(n) => s.serialize_i64(*n),
            OtherValue::Float(f) => s.serialize_f64(*f),
            OtherValue::Str(v) => s.serialize_str(v),
            OtherValue::Array(a) => {
                let mut seq = s.serialize_seq(Some(a.len()))?;
                for v in a {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
            OtherValue::Object(o) => o.serialize(s),
        }
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = OtherValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<OtherValue, E> {
        Ok(OtherValue::Null)
    }
    fn visit_none<E>(self) -> Result<OtherValue, E> {
        Ok(OtherValue::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<OtherValue, D::Error> {
        OtherValue::deserialize(d)
    }
    fn visit_bool<E>(self, b: bool) -> Result<OtherValue, E> {
        Ok(OtherValue::Bool(b))
    }
    fn visit_u64<E>(self, n: u64) -> Result<OtherValue, E> {
        Ok(OtherValue::UInt(n))
    }
    fn visit_i64<E>(self, n: i64) -> Result<OtherValue, E> {
        Ok(OtherValue::from(n))
    }
    fn visit_f64<E>(self, n: f64) -> Result<OtherValue, E> {
        Ok(OtherValue::from(n))
    }
    fn visit_str<E>(self, s: &str) -> Result<OtherValue, E> {
        Ok(OtherValue::Str(Str::from(s)))
    }
    fn visit_string<E>(self, s: String) -> Result<OtherValue, E> {
        Ok(OtherValue::Str(Str::from(s)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<OtherValue, A::Error> {
        let mut v = Vec::with_capacity(a.size_hint().unwrap_or(0).min(256));
        while let Some(x) = a.next_element()? {
            v.push(x);
        }
        Ok(OtherValue::Array(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, a: A) -> Result<OtherValue, A::Error> {
        visit_object(a).map(OtherValue::Object)
    }
}

/// Reads an object; a repeated key keeps its first position and takes the last value, as
/// `serde_json::Map` does. Large objects check duplicates through a hash set of the keys
/// instead of scanning (a hostile record must not cost quadratic time).
fn visit_object<'de, A: MapAccess<'de>>(mut a: A) -> Result<Other, A::Error> {
    const SCAN: usize = 32;
    let mut o = Other::with_capacity(a.size_hint().unwrap_or(0).min(256));
    let mut index: Option<std::collections::HashMap<Str, usize>> = None;
    while let Some(k) = a.next_key::<Str>()? {
        let v: OtherValue = a.next_value()?;
        if o.0.len() < SCAN && index.is_none() {
            o.insert(k, v);
            continue;
        }
        let idx = index.get_or_insert_with(|| {
            o.0.iter()
                .enumerate()
                .map(|(i, (k, _))| (k.clone(), i))
                .collect()
        });
        match idx.get(&k).and_then(|&i| o.0.get_mut(i)) {
            Some(slot) => slot.1 = v,
            None => {
                idx.insert(k.clone(), o.0.len());
                o.0.push((k, v));
            }
        }
    }
    Ok(o)
}

impl<'de> Deserialize<'de> for OtherValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

impl<'de> Deserialize<'de> for Other {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Other;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, a: A) -> Result<Other, A::Error> {
                visit_object(a)
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_like_serde_json_map() {
        for text in [
            r#"{"a":1,"b":"x\"y","c":[true,null,2.5,-3],"d":{"e":"f","g":{}},"a":2}"#,
            r#"{"k\u00e9y":"v\n","empty":{},"list":[],"f":1.0,"g":1e300,"h":-0.0}"#,
            r#"{"big":18446744073709551615,"neg":-9223372036854775808,"z":0}"#,
        ] {
            let direct: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(text).expect("serde_json");
            let ours: Other = serde_json::from_str(text).expect("ours");
            assert_eq!(
                serde_json::to_string(&ours).expect("ser"),
                serde_json::to_string(&direct).expect("ser"),
                "{text}"
            );
            assert_eq!(Other::from(direct.clone()), ours, "{text}");
            assert_eq!(ours.to_json_map(), direct, "{text}");
        }
    }

    #[test]
    fn large_objects_deduplicate_like_small_ones() {
        let mut text = String::from("{");
        for i in 0..100 {
            text.push_str(&format!("\"k{}\":{i},", i % 70));
        }
        text.push_str("\"last\":true}");
        let direct: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&text).expect("serde_json");
        let ours: Other = serde_json::from_str(&text).expect("ours");
        assert_eq!(ours.len(), 71);
        assert_eq!(
            serde_json::to_string(&ours).expect("ser"),
            serde_json::to_string(&direct).expect("ser")
        );
    }

    #[test]
    fn insert_keeps_first_position() {
        let mut o = Other::new();
        assert!(o.insert("a", 1u64.into()).is_none());
        o.insert("b", "x".into());
        assert_eq!(
            o.insert("a", OtherValue::from(-2i64)),
            Some(OtherValue::UInt(1))
        );
        assert_eq!(
            serde_json::to_string(&o).expect("ser"),
            r#"{"a":-2,"b":"x"}"#
        );
        assert_eq!(o.remove("a"), Some(OtherValue::Int(-2)));
        assert_eq!(o.keys().collect::<Vec<_>>(), ["b"]);
    }

    #[test]
    fn refilled_in_place() {
        let mut o = Other::new();
        o.push_new("a", 1u64.into());
        o.push_new("b", "x".into());
        o.push_new("c", OtherValue::Null);
        if let Some((k, v)) = o.entry_at_mut(1) {
            k.clear();
            k.push_str("d");
            *v = OtherValue::Bool(true);
        }
        assert!(o.entry_at_mut(3).is_none());
        o.truncate(2);
        assert_eq!(
            serde_json::to_string(&o).expect("ser"),
            r#"{"a":1,"d":true}"#
        );
        assert_eq!(o.get("d"), Some(&OtherValue::Bool(true)));
        assert!(o.get("b").is_none());
    }

    #[test]
    fn numbers_are_normalized() {
        assert_eq!(OtherValue::from(5i64), OtherValue::UInt(5));
        assert_eq!(OtherValue::from(f64::NAN), OtherValue::Null);
        assert_eq!(OtherValue::from(f64::INFINITY), OtherValue::Null);
        assert_eq!(OtherValue::from(serde_json::json!(-1)), OtherValue::Int(-1));
    }

    #[test]
    fn paths() {
        let mut o = Other::new();
        assert!(o.set_path("zeek.conn.history", "ShADad".into()));
        assert!(o.set_path("zeek.conn.orig_ip_bytes", 60u64.into()));
        assert!(!o.set_path("zeek.conn.history.x", 1u64.into()));
        o.object_mut("zeek")
            .and_then(|z| z.object_mut("conn"))
            .map(|c| c.insert("id.orig_h", "10.0.0.1".into()));
        assert_eq!(
            serde_json::to_string(&o).expect("ser"),
            r#"{"zeek":{"conn":{"history":"ShADad","orig_ip_bytes":60,"id.orig_h":"10.0.0.1"}}}"#
        );
        assert_eq!(
            o.get_path("zeek.conn.id.orig_h")
                .and_then(OtherValue::as_str),
            Some("10.0.0.1")
        );
        assert_eq!(
            o.get_path("zeek.conn.history").and_then(OtherValue::as_str),
            Some("ShADad")
        );
        assert!(o.get_path("zeek.dns").is_none());
        assert!(o.get("zeek").and_then(|z| z.get("conn")).is_some());
    }
}
