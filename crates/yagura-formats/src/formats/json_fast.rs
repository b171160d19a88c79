//! A fast path for the borrowed JSON tree ([`J`]): one recursive-descent pass over the bytes
//! of a record, with no `serde` visitor machinery in between.
//!
//! It accepts only the plain subset log records are written in and answers `None` for
//! anything else (a `\u` surrogate, a number that is not a plain unsigned integer and that
//! `serde_json` refuses, nesting deeper than [`MAX_DEPTH`], any syntax error…); the caller
//! then parses the record with `serde_json`, which decides (and words the reject reason).
//! Whenever it answers `Some`, the tree is the one `serde_json` builds from the same text
//! (`fast_path_is_serde_json` in the tests): the same strings, borrowed where `serde_json`
//! borrows them, the same duplicate keys in document order, the same numbers (plain unsigned
//! integers and plain decimals computed as `serde_json` computes them, every other number
//! parsed by `serde_json` itself, so floats round as it rounds them).

use std::borrow::Cow;

use serde::Deserializer as _;

use super::json::{J, JVisitor, Obj};
use super::tree_pool::Pool;
use crate::util::zero_bytes;

/// Deeper records go to `serde_json` (whose own limit is 128 levels).
const MAX_DEPTH: u32 = 100;

/// The capacity of nested objects (as [`J`]'s `Deserialize` gives them) and of arrays (as its
/// visitor gives them without a size hint).
const NESTED_CAP: usize = 8;
const ARRAY_CAP: usize = 4;

/// `line` as a [`J`], with `top_cap` room in a top-level object; `None`: ask `serde_json`.
pub(crate) fn parse(line: &str, top_cap: usize) -> Option<J<'_>> {
    parse_in(line, top_cap, &mut Pool::default())
}

/// [`parse`], taking the tree's vectors and escaped strings from `pool`.
pub(crate) fn parse_in<'a>(line: &'a str, top_cap: usize, pool: &mut Pool) -> Option<J<'a>> {
    let mut p = P {
        s: line,
        b: line.as_bytes(),
        i: 0,
        pool,
    };
    p.ws();
    let v = p.value(0, top_cap)?;
    p.ws();
    (p.i == p.b.len()).then_some(v)
}

struct P<'a, 'p> {
    s: &'a str,
    b: &'a [u8],
    i: usize,
    pool: &'p mut Pool,
}

/// The bytes that end a run of plain string text: `"`, `\` and the control characters
/// (`< 0x20`, which JSON forbids raw inside strings), exactly, as high bits.
#[inline(always)]
fn specials(x: u64) -> u64 {
    const QUOTE: u64 = 0x2222_2222_2222_2222;
    const BSLASH: u64 = 0x5c5c_5c5c_5c5c_5c5c;
    const HIGH3: u64 = 0xe0e0_e0e0_e0e0_e0e0;
    zero_bytes(x ^ QUOTE) | zero_bytes(x ^ BSLASH) | zero_bytes(x & HIGH3)
}

impl<'a> P<'a, '_> {
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// Skips JSON whitespace (space, tab, line feed, carriage return).
    #[inline(always)]
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    fn value(&mut self, depth: u32, cap: usize) -> Option<J<'a>> {
        match self.peek()? {
            b'"' => {
                self.i += 1;
                self.string().map(J::Str)
            }
            b'{' => self.object(depth + 1, cap),
            b'[' => self.array(depth + 1),
            b't' => self.literal(b"true", J::Bool(true)),
            b'f' => self.literal(b"false", J::Bool(false)),
            b'n' => self.literal(b"null", J::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn literal(&mut self, text: &[u8], v: J<'a>) -> Option<J<'a>> {
        if self.b.get(self.i..self.i + text.len())? == text {
            self.i += text.len();
            Some(v)
        } else {
            None
        }
    }

    fn object(&mut self, depth: u32, cap: usize) -> Option<J<'a>> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.i += 1;
        self.ws();
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(J::Obj(Vec::new()));
        }
        let mut v: Obj<'a> = self.pool.obj(cap);
        loop {
            if self.peek()? != b'"' {
                return None;
            }
            self.i += 1;
            let k = self.string()?;
            self.ws();
            if self.peek()? != b':' {
                return None;
            }
            self.i += 1;
            self.ws();
            let x = self.value(depth, NESTED_CAP)?;
            v.push((k, x));
            self.ws();
            match self.peek()? {
                b',' => {
                    self.i += 1;
                    self.ws();
                }
                b'}' => {
                    self.i += 1;
                    return Some(J::Obj(v));
                }
                _ => return None,
            }
        }
    }

    fn array(&mut self, depth: u32) -> Option<J<'a>> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.i += 1;
        self.ws();
        if self.peek()? == b']' {
            self.i += 1;
            return Some(J::Arr(Vec::new()));
        }
        let mut v = self.pool.arr(ARRAY_CAP);
        loop {
            let x = self.value(depth, NESTED_CAP)?;
            v.push(x);
            self.ws();
            match self.peek()? {
                b',' => {
                    self.i += 1;
                    self.ws();
                }
                b']' => {
                    self.i += 1;
                    return Some(J::Arr(v));
                }
                _ => return None,
            }
        }
    }

    /// The offset of the first `"`, `\` or control character at or after `self.i`.
    #[inline(always)]
    fn special_from(&self, mut i: usize) -> Option<usize> {
        while let Some(w) = self.b.get(i..).and_then(<[u8]>::first_chunk::<8>) {
            let m = specials(u64::from_le_bytes(*w));
            if m != 0 {
                return Some(i + (m.trailing_zeros() / 8) as usize);
            }
            i += 8;
        }
        while let Some(&c) = self.b.get(i) {
            if c == b'"' || c == b'\\' || c < 0x20 {
                return Some(i);
            }
            i += 1;
        }
        None
    }

    /// A string whose opening quote was consumed: borrowed when it holds no escape.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        let start = self.i;
        let end = self.special_from(start)?;
        match self.b.get(end)? {
            b'"' => {
                // `start` follows an ASCII quote and `end` is an ASCII byte: char boundaries.
                let s = self.s.get(start..end)?;
                self.i = end + 1;
                Some(Cow::Borrowed(s))
            }
            b'\\' => {
                self.i = end;
                self.escaped(start)
            }
            _ => None,
        }
    }

    /// The rest of a string with escapes, from `self.i` (at a `\`); `start` is its first
    /// byte. `\u` escapes of surrogates go to `serde_json`.
    fn escaped(&mut self, start: usize) -> Option<Cow<'a, str>> {
        let mut out = self.pool.string(self.i - start + 16);
        out.push_str(self.s.get(start..self.i)?);
        loop {
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    return Some(Cow::Owned(out));
                }
                b'\\' => {
                    let c = match *self.b.get(self.i + 1)? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hex = self.b.get(self.i + 2..self.i + 6)?;
                            let mut n = 0u32;
                            for &h in hex {
                                n = n * 16 + char::from(h).to_digit(16)?;
                            }
                            self.i += 4;
                            // A surrogate (half of a pair, or a lone one): `serde_json`.
                            char::from_u32(n)?
                        }
                        _ => return None,
                    };
                    out.push(c);
                    self.i += 2;
                }
                c if c < 0x20 => return None,
                _ => {
                    let run = self.i;
                    let end = self.special_from(run)?;
                    out.push_str(self.s.get(run..end)?);
                    self.i = end;
                }
            }
        }
    }

    /// A number: a plain unsigned integer here, anything else parsed by `serde_json`.
    fn number(&mut self) -> Option<J<'a>> {
        let start = self.i;
        while let Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') = self.peek() {
            self.i += 1;
        }
        let tok = self.b.get(start..self.i)?;
        // Up to 19 digits always fit a u64; a leading zero is only valid alone.
        if tok.len() <= 19
            && tok.iter().all(u8::is_ascii_digit)
            && (tok.len() == 1 || tok.first() != Some(&b'0'))
        {
            let n = tok.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
            return Some(J::Num(n.into()));
        }
        if let Some(f) = plain_decimal(tok) {
            // As `J`'s visitor: a float that is not finite is null (this one always is).
            return Some(serde_json::Number::from_f64(f).map_or(J::Null, J::Num));
        }
        let text = self.s.get(start..self.i)?;
        let mut de = serde_json::Deserializer::from_str(text);
        let j = (&mut de)
            .deserialize_any(JVisitor {
                map_cap: NESTED_CAP,
            })
            .ok()?;
        de.end().ok()?;
        matches!(j, J::Num(_) | J::Null).then_some(j)
    }
}

/// `DIGITS.DIGITS` (no sign, no exponent, a leading zero only alone, at most 19 digits in
/// all) as `serde_json` computes it without its `float_roundtrip` feature: every digit into
/// one integer significand (19 digits cannot overflow a `u64`), divided by the power of ten
/// of the fraction's length (`f64_from_parts`; its table holds the same correctly rounded
/// literals).
fn plain_decimal(tok: &[u8]) -> Option<f64> {
    const POW10: [f64; 19] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18,
    ];
    if tok.len() > 20 {
        return None;
    }
    let dot = tok.iter().position(|&c| c == b'.')?;
    let (int, frac) = (tok.get(..dot)?, tok.get(dot + 1..)?);
    if int.is_empty()
        || frac.is_empty()
        || (int.len() > 1 && int.first() == Some(&b'0'))
        || !int.iter().chain(frac).all(u8::is_ascii_digit)
    {
        return None;
    }
    let sig = int
        .iter()
        .chain(frac)
        .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
    Some(sig as f64 / POW10.get(frac.len())?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What `serde_json` makes of the text through [`J`]'s visitor.
    fn serde(line: &str) -> Option<J<'_>> {
        let mut de = serde_json::Deserializer::from_str(line);
        let j = (&mut de).deserialize_any(JVisitor { map_cap: 32 }).ok()?;
        de.end().ok()?;
        Some(j)
    }

    /// Same tree, and the same strings borrowed.
    fn same(a: &J<'_>, b: &J<'_>) -> bool {
        let borrowed = |c: &Cow<'_, str>| matches!(c, Cow::Borrowed(_));
        match (a, b) {
            (J::Str(x), J::Str(y)) => x == y && borrowed(x) == borrowed(y),
            (J::Arr(x), J::Arr(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
            }
            (J::Obj(x), J::Obj(y)) => {
                x.len() == y.len()
                    && x.iter().zip(y).all(|((kp, p), (kq, q))| {
                        kp == kq && borrowed(kp) == borrowed(kq) && same(p, q)
                    })
            }
            (J::Num(x), J::Num(y)) => x == y && x.to_string() == y.to_string(),
            _ => a == b,
        }
    }

    /// The fast path never disagrees with `serde_json`: when it answers, the tree is the
    /// same; when `serde_json` refuses the text, so does it.
    fn check(line: &str) -> Option<bool> {
        let fast = parse(line, 32);
        match (&fast, serde(line)) {
            (Some(f), Some(s)) => assert!(same(f, &s), "{line:?}: {f:?} != {s:?}"),
            (Some(f), None) => panic!("{line:?}: fast path accepted {f:?}, serde_json refuses"),
            (None, _) => {}
        }
        Some(fast.is_some())
    }

    #[test]
    fn fast_path_edge_cases() {
        let accepted = [
            r#"{"a":1,"b":"x\"y","c":[true,null,2.5,-3],"d":{"e":"f"},"a":2}"#,
            r#"{"k\u00e9y":"v\n","empty":{},"list":[], "t" : "\t\\\/\b\f\r" }"#,
            r#"{"big":18446744073709551615,"neg":-9223372036854775808,"f":1e300,"z":0,"m":-0}"#,
            r#"{"n":1234567890123456789,"n2":12345678901234567890,"x":0.1,"y":1E5,"w":-1.5e-7}"#,
            " \t{\"a\" :\n[ 1 , 2 ] }\r\n",
            r#"{"u":"\u0000\u001f\u00ff\uFFFF\u20ac","long":"0123456789abcdefghijklmnopqrstuvwxyz\u0041"}"#,
            "{\"utf8\":\"日本語 é\",\"日本\":\"x\"}",
            "[1,\"a\",{}]",
            "\"s\"",
            "true",
            "null",
            "12",
        ];
        for line in accepted {
            assert_eq!(
                check(line),
                Some(true),
                "{line:?} should take the fast path"
            );
        }
        for line in [
            "",
            "{",
            "{\"a\":1,}",
            "[1,]",
            "{\"a\" 1}",
            "{\"a\":01}",
            "{\"a\":1.}",
            "{\"a\":-}",
            "{\"a\":1e400}",
            "{\"a\":1-2}",
            "{\"a\":1.5x}",
            "{\"a\":tru}",
            "{\"a\":truex}",
            "{\"a\":\"\u{1}\"}",
            "{\"a\":\"x\ty\"}",
            "{\"a\":\"\\x\"}",
            "{\"a\":\"\\ud83d\\ude00\"}",
            "{\"a\":\"\\ud83d\"}",
            "{\"a\":\"\\u12\"}",
            "{\"a\":\"abc",
            "{\"a\":1} x",
            "{\"a\":1}{}",
            "{'a':1}",
        ] {
            assert_eq!(check(line), Some(false), "{line:?} should go to serde_json");
        }
        let deep = format!("{}{}", "[".repeat(150), "]".repeat(150));
        assert_eq!(check(&deep), Some(false));
        let ok_deep = format!("{}{}", "[".repeat(90), "]".repeat(90));
        assert_eq!(check(&ok_deep), Some(true));
    }

    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        use serde_json::Value;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            (0u32..1000, 0u32..100)
                .prop_map(|(a, b)| Value::from(f64::from(a) + f64::from(b) / 100.0)),
            "\\PC{0,12}".prop_map(Value::from),
            "[a-z\"\\\\/\u{0}-\u{1f}\u{e9}\u{1f600}]{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
                proptest::collection::vec(("[a-c\"\\\\é]{0,3}", inner), 0..6)
                    .prop_map(|kv| { Value::Object(kv.into_iter().collect()) }),
            ]
        })
    }

    proptest! {
        /// Every JSON text `serde_json` writes, compact or pretty, takes the fast path (but
        /// for the few forms it leaves to `serde_json`) and gives `serde_json`'s tree.
        #[test]
        fn fast_path_is_serde_json(v in json_value(), pretty: bool) {
            let line = if pretty {
                serde_json::to_string_pretty(&v).expect("json")
            } else {
                serde_json::to_string(&v).expect("json")
            };
            check(&line);
        }

        /// Arbitrary edits of valid records: whatever the fast path accepts, `serde_json`
        /// accepts as the same tree.
        #[test]
        fn fast_path_on_damaged_text(v in json_value(), at in 0usize..200, len in 0usize..4, junk in "[\\[\\]{}\",:\\\\u0-9a-fe.+ -]{0,4}") {
            let mut line = serde_json::to_string(&v).expect("json");
            let mut at = at.min(line.len());
            while !line.is_char_boundary(at) {
                at -= 1;
            }
            let mut end = (at + len).min(line.len());
            while !line.is_char_boundary(end) {
                end -= 1;
            }
            line.replace_range(at..end, &junk);
            check(&line);
        }

        /// Decimals of every length around the 19-digit limit, leading zeros included.
        #[test]
        fn fast_path_decimals_are_serde_json(int in "[0-9]{1,12}", frac in "[0-9]{1,12}", neg: bool, exp in proptest::option::of(-30i32..30)) {
            let sign = if neg { "-" } else { "" };
            let e = exp.map(|e| format!("e{e}")).unwrap_or_default();
            check(&format!("{{\"x\":{sign}{int}.{frac}{e},\"y\":[{int}.{frac}]}}"));
            check(&format!("{int}.{frac}"));
        }

        /// Arbitrary text.
        #[test]
        fn fast_path_on_any_text(s in "\\PC{0,40}") {
            check(&s);
        }
    }
}
