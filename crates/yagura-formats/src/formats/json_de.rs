//! A `serde` [`Deserializer`] over the borrowed JSON tree [`J`], behaving as
//! `serde_json::Value`'s own deserializer (what `serde_json::from_value` uses) does on the
//! same tree: the same visitor calls, the same errors (`serde_json::Error`, without a
//! position, worded by the same `serde` helpers), the same checks of unread elements.
//!
//! Objects must already hold each key once, as a `serde_json::Map` holds it (see
//! `json::dedup_tree`): a derived struct would otherwise see a field twice.
//!
//! The differences with `Value` are only in how a string reaches the visitor: a string of the
//! line without escapes is given as `visit_borrowed_str` (the visitor may keep a slice of the
//! line), any other as `visit_str`, where `Value` gives its owned `String` (`visit_string`).
//! Every `Deserialize` of this workspace and of `serde` builds the same value from the three.

use std::borrow::Cow;

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, Expected, IntoDeserializer, MapAccess,
    SeqAccess, Unexpected, VariantAccess, Visitor,
};
use serde::forward_to_deserialize_any;
use serde_json::{Error, Number};

use super::json::J;

/// Deserializes `T` from `j` as `serde_json::from_value` would from the same tree as a
/// `serde_json::Value`.
pub(crate) fn from_j<'de, T: de::Deserialize<'de>>(j: &J<'de>) -> Result<T, Error> {
    T::deserialize(JDe(j))
}

/// A deserializer of one node.
#[derive(Clone, Copy)]
pub(crate) struct JDe<'a, 'de>(pub(crate) &'a J<'de>);

fn unexpected<'x>(j: &'x J<'_>) -> Unexpected<'x> {
    match j {
        J::Null => Unexpected::Unit,
        J::Bool(b) => Unexpected::Bool(*b),
        J::Num(n) => number_unexpected(n),
        J::Str(s) => Unexpected::Str(s),
        J::Arr(_) => Unexpected::Seq,
        J::Obj(_) => Unexpected::Map,
    }
}

/// As `serde_json`'s `Number::unexpected`: unsigned, signed or float by its representation.
fn number_unexpected(n: &Number) -> Unexpected<'static> {
    if let Some(u) = n.as_u64() {
        Unexpected::Unsigned(u)
    } else if let Some(i) = n.as_i64() {
        Unexpected::Signed(i)
    } else {
        Unexpected::Float(n.as_f64().unwrap_or(f64::NAN))
    }
}

#[cold]
fn invalid_type(j: &J<'_>, exp: &dyn Expected) -> Error {
    de::Error::invalid_type(unexpected(j), exp)
}

fn visit_text<'de, V: Visitor<'de>>(s: &Cow<'de, str>, visitor: V) -> Result<V::Value, Error> {
    match s {
        Cow::Borrowed(b) => visitor.visit_borrowed_str(b),
        Cow::Owned(o) => visitor.visit_str(o),
    }
}

fn visit_array<'a, 'de, V: Visitor<'de>>(
    items: &'a [J<'de>],
    visitor: V,
) -> Result<V::Value, Error> {
    let mut seq = Seq { it: items.iter() };
    let v = visitor.visit_seq(&mut seq)?;
    if seq.it.len() == 0 {
        Ok(v)
    } else {
        Err(de::Error::invalid_length(
            items.len(),
            &"fewer elements in array",
        ))
    }
}

fn visit_object<'a, 'de, V: Visitor<'de>>(
    pairs: &'a [(Cow<'de, str>, J<'de>)],
    visitor: V,
) -> Result<V::Value, Error> {
    let mut map = Map {
        it: pairs.iter(),
        value: None,
    };
    let v = visitor.visit_map(&mut map)?;
    if map.it.len() == 0 {
        Ok(v)
    } else {
        Err(de::Error::invalid_length(
            pairs.len(),
            &"fewer elements in map",
        ))
    }
}

macro_rules! number {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            match self.0 {
                J::Num(n) => n.deserialize_any(visitor),
                other => Err(invalid_type(other, &visitor)),
            }
        }
    )*};
}

impl<'a, 'de> Deserializer<'de> for JDe<'a, 'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            J::Null => visitor.visit_unit(),
            J::Bool(b) => visitor.visit_bool(*b),
            J::Num(n) => n.deserialize_any(visitor),
            J::Str(s) => visit_text(s, visitor),
            J::Arr(a) => visit_array(a, visitor),
            J::Obj(o) => visit_object(o, visitor),
        }
    }

    number!(deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
        deserialize_f32 deserialize_f64);

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            J::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            J::Obj(o) => match o.as_slice() {
                [(variant, value)] => visitor.visit_enum(Enum {
                    variant,
                    value: Some(value),
                }),
                _ => Err(de::Error::invalid_value(
                    Unexpected::Map,
                    &"map with a single key",
                )),
            },
            J::Str(variant) => visitor.visit_enum(Enum {
                variant,
                value: None,
            }),
            other => Err(de::Error::invalid_type(unexpected(other), &"string or map")),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        // (`serde_json::value::RawValue`, the one newtype `Value` treats apart, is not used
        // by anything deserialized from this tree.)
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            J::Bool(b) => visitor.visit_bool(*b),
            other => Err(invalid_type(other, &visitor)),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            J::Str(s) => visit_text(s, visitor),
            other => Err(invalid_type(other, &visitor)),
        }
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_byte_buf(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            J::Str(s) => visit_text(s, visitor),
            J::Arr(a) => visit_array(a, visitor),
            other => Err(invalid_type(other, &visitor)),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            J::Null => visitor.visit_unit(),
            other => Err(invalid_type(other, &visitor)),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            J::Arr(a) => visit_array(a, visitor),
            other => Err(invalid_type(other, &visitor)),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            J::Obj(o) => visit_object(o, visitor),
            other => Err(invalid_type(other, &visitor)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            J::Arr(a) => visit_array(a, visitor),
            J::Obj(o) => visit_object(o, visitor),
            other => Err(invalid_type(other, &visitor)),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_string(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}

struct Seq<'a, 'de> {
    it: std::slice::Iter<'a, J<'de>>,
}

impl<'a, 'de> SeqAccess<'de> for Seq<'a, 'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        match self.it.next() {
            Some(x) => seed.deserialize(JDe(x)).map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.it.len())
    }
}

struct Map<'a, 'de> {
    it: std::slice::Iter<'a, (Cow<'de, str>, J<'de>)>,
    value: Option<&'a J<'de>>,
}

impl<'a, 'de> MapAccess<'de> for Map<'a, 'de> {
    type Error = Error;

    fn next_key_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        match self.it.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(KeyDe(k)).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, Error> {
        match self.value.take() {
            Some(v) => seed.deserialize(JDe(v)),
            None => Err(de::Error::custom("value is missing")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.it.len())
    }
}

/// An object key, as `serde_json`'s `MapKeyDeserializer`: text, or a number or boolean
/// written as text when the key type asks for one.
struct KeyDe<'a, 'de>(&'a Cow<'de, str>);

/// What `serde_json` answers for a key that is not a number where one is asked for (its
/// `ExpectedNumericKey` at no position prints just this).
const EXPECTED_NUMERIC_KEY: &str = "invalid value: expected key to be a number in quotes";

/// A key read as a number (no key of the types deserialized here is one): the key's text
/// parsed as a JSON number and given as `serde_json` gives numbers (`visit_u64`, `visit_i64`
/// or `visit_f64`).
macro_rules! numeric_key {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            if !matches!(self.0.as_bytes().first(), Some(b'0'..=b'9' | b'-')) {
                return Err(de::Error::custom(EXPECTED_NUMERIC_KEY));
            }
            let n: Number = serde_json::from_str(self.0)
                .map_err(|_| <Error as de::Error>::custom(EXPECTED_NUMERIC_KEY))?;
            n.deserialize_any(visitor)
        }
    )*};
}

impl<'a, 'de> Deserializer<'de> for KeyDe<'a, 'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visit_text(self.0, visitor)
    }

    numeric_key!(deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
        deserialize_f32 deserialize_f64);

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0.as_ref() {
            "true" => visitor.visit_bool(true),
            "false" => visitor.visit_bool(false),
            other => Err(de::Error::invalid_type(Unexpected::Str(other), &visitor)),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let d: de::value::StrDeserializer<'_, Error> = self.0.as_ref().into_deserializer();
        d.deserialize_enum(name, variants, visitor)
    }

    forward_to_deserialize_any! {
        char str string bytes byte_buf unit unit_struct seq tuple tuple_struct
        map struct identifier ignored_any
    }
}

/// An enum as `serde_json` writes one: a variant name, or a map of one variant to its value.
struct Enum<'a, 'de> {
    variant: &'a Cow<'de, str>,
    value: Option<&'a J<'de>>,
}

impl<'a, 'de> EnumAccess<'de> for Enum<'a, 'de> {
    type Error = Error;
    type Variant = Variant<'a, 'de>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Variant<'a, 'de>), Error> {
        let d: de::value::StrDeserializer<'_, Error> = self.variant.as_ref().into_deserializer();
        seed.deserialize(d)
            .map(|v| (v, Variant { value: self.value }))
    }
}

struct Variant<'a, 'de> {
    value: Option<&'a J<'de>>,
}

impl<'a, 'de> VariantAccess<'de> for Variant<'a, 'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        match self.value {
            Some(v) => de::Deserialize::deserialize(JDe(v)),
            None => Ok(()),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        match self.value {
            Some(v) => seed.deserialize(JDe(v)),
            None => Err(de::Error::invalid_type(
                Unexpected::UnitVariant,
                &"newtype variant",
            )),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Some(J::Arr(a)) if a.is_empty() => visitor.visit_unit(),
            Some(J::Arr(a)) => visit_array(a, visitor),
            Some(other) => Err(de::Error::invalid_type(unexpected(other), &"tuple variant")),
            None => Err(de::Error::invalid_type(
                Unexpected::UnitVariant,
                &"tuple variant",
            )),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.value {
            Some(J::Obj(o)) => visit_object(o, visitor),
            Some(other) => Err(de::Error::invalid_type(
                unexpected(other),
                &"struct variant",
            )),
            None => Err(de::Error::invalid_type(
                Unexpected::UnitVariant,
                &"struct variant",
            )),
        }
    }
}
