//! JSON-lines plumbing, a borrowed JSON tree ([`J`]) for the hot formats, and the ECS /
//! Winlogbeat pass-through.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use yagura_model::event::{FieldMap, Other, OtherValue};
use yagura_model::{Event, Str};

use super::tree_pool::Tree;
use super::{LineParser, Step};

/// A JSON-lines reader around a per-line function.
pub(crate) struct Lines<F>(pub F);

impl<F: Fn(&str) -> Result<Event, String>> LineParser for Lines<F> {
    fn parse(&mut self, line: &str, _no: u64) -> Step {
        let t = line.trim();
        if t.is_empty() {
            return Step::Skip;
        }
        (self.0)(t).into()
    }
}

/// Parses one JSON object, with a reason that says "truncated" when the text just stops.
pub(crate) fn object(line: &str) -> Result<serde_json::Map<String, Value>, String> {
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(format!(
            "JSON {} where an object was expected",
            kind(&other)
        )),
        Err(e) if e.is_eof() => Err(format!("truncated JSON record: {e}")),
        Err(e) => Err(format!("invalid JSON: {e}")),
    }
}

pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// ECS JSON (and Winlogbeat, which is ECS) straight into [`Event`], after fixing the
/// scalar-versus-list and number-versus-string variations real shippers write.
///
/// Most lines need no fix: they are deserialized directly ([`ecs_direct`], no tree at all),
/// and only the others take the general path, on the borrowed tree ([`ecs_via_tree`]). Both
/// give what the `serde_json::Value` path ([`ecs_via_value`], kept as the reference) gives,
/// event or reason (tested, also as properties).
#[cfg(test)]
pub(crate) fn ecs(line: &str) -> Result<Event, String> {
    super::by_value(|ev| ecs_into(line, ev, &mut EcsSpare::default()))
}

/// The ECS / Winlogbeat reader: [`ecs_into`], keeping the previous event's vendor keys and
/// event data ([`LineParser::recycle`]) to refill them in place for the next record.
#[derive(Debug, Default)]
pub(crate) struct Ecs {
    spare: EcsSpare,
}

/// Buffers of an earlier event, refilled by the next record ([`super::refill`]).
#[derive(Debug, Default)]
pub(crate) struct EcsSpare {
    /// [`Event::other`], values and all.
    other: Other,
    /// `winlog.event_data`.
    data: FieldMap,
}

impl LineParser for Ecs {
    fn parse(&mut self, line: &str, _no: u64) -> Step {
        let t = line.trim();
        if t.is_empty() {
            return Step::Skip;
        }
        super::by_value(|ev| ecs_into(t, ev, &mut EcsSpare::default())).into()
    }

    fn parse_into(&mut self, line: &str, _no: u64, out: &mut Event) -> Step {
        let t = line.trim();
        if t.is_empty() {
            return Step::Skip;
        }
        match ecs_into(t, out, &mut self.spare) {
            Ok(()) => Step::Filled,
            Err(e) => Step::Reject(e),
        }
    }

    fn recycle(&mut self, ev: &mut Event) {
        self.spare.other = std::mem::take(&mut ev.other);
        if !ev.winlog.is_unset() {
            self.spare.data = std::mem::take(&mut ev.winlog.event_data);
        }
    }
}

/// [`ecs`] into the caller's event (which holds `Event::default()`), refilling the buffers
/// of `spare`: no move of the event through the reader's queue.
pub(crate) fn ecs_into(line: &str, out: &mut Event, spare: &mut EcsSpare) -> Result<(), String> {
    // A line naming a group the direct path leaves to the general one (every Winlogbeat line
    // has `winlog`), or holding (written compactly) a category or tags as a single string,
    // goes to the general path at once: the direct path would refuse it after most of its
    // work (5,800 instructions per line of the `json/ecs` bench case for the second kind).
    // The text test only chooses the path, not the result (both give `ecs_via_value`'s).
    if needs_tree_path(line) {
        return ecs_via_tree_into(line, out, spare);
    }
    match ecs_direct(line) {
        Some(ev) => {
            *out = ev;
            Ok(())
        }
        None => ecs_via_tree_into(line, out, spare),
    }
}

/// Whether `line` holds one of [`LEFT_TO_TREE_PATH`] or [`SCALAR_LISTS`].
///
/// One substring search per pattern, stopping at the first found (`"winlog"` of a Winlogbeat
/// line, the first): ~640 instructions per Winlogbeat line. Single passes were measured and
/// are slower on these lines, whose every key and string starts with a quote: `memchr` for
/// each quote then a comparison with the patterns, ~2,100; `aho-corasick`'s automaton (its
/// prefilter is the quote too), ~5,900 (callgrind, `json/winlogbeat`).
fn needs_tree_path(line: &str) -> bool {
    LEFT_TO_TREE_PATH
        .iter()
        .chain(&SCALAR_LISTS)
        .any(|p| line.contains(p))
}

/// List fields written as one string, which the direct path refuses ([`fix_ecs`] wraps them).
/// (`rule.category` is a string and also matches: such lines just take the tree path.)
const SCALAR_LISTS: [&str; 2] = ["\"category\":\"", "\"tags\":\""];

/// The groups [`ecs_direct`] refuses, as quoted keys.
const LEFT_TO_TREE_PATH: [&str; 3] = ["\"winlog\"", "\"process\"", "\"email\""];

/// The direct path of [`ecs`]: `None` whenever the line may need a fix of [`fix_ecs`] or is
/// not valid ECS (the general path then decides, with its reasons).
///
/// Why the result equals [`ecs_via_value`]'s when it is `Some`: every fix either applies to a
/// field the direct deserialization refuses in its unfixed form (a scalar where [`Tags`] or an
/// address list is typed, a number where text is typed: an error here, so `None`), or to a
/// group this path leaves to the general one (`winlog`, `process`, `email`), or to a dotted
/// top-level key (which lands in [`Event::other`] here: `None`). Objects kept in
/// [`Event::other`] take the order the general path gives them: with `serde_json`'s
/// `preserve_order` feature (on in the workspace through feature unification, but not
/// necessarily in every build of this crate) a `Value` object keeps the first position of a
/// key and its last value, as [`Other`]'s own deserialization does; without it, a `Value`
/// object is a sorted map, so the objects are sorted here too ([`value_maps_are_sorted`]).
///
/// [`Tags`]: yagura_model::event::Tags
fn ecs_direct(line: &str) -> Option<Event> {
    let mut ev: Event = serde_json::from_str(line).ok()?;
    if !ev.winlog.is_default() || !ev.process.is_default() || !ev.email.is_default() {
        return None;
    }
    if !ev.other.is_empty() {
        if ev.other.keys().any(|k| k.contains('.')) {
            return None;
        }
        if value_maps_are_sorted() {
            sort_other(&mut ev.other);
        }
    }
    Some(ev)
}

/// Whether a `serde_json` object map sorts its keys (built without `preserve_order`), found
/// once by asking it.
fn value_maps_are_sorted() -> bool {
    static SORTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SORTED.get_or_init(|| {
        serde_json::from_str::<serde_json::Map<String, Value>>(r#"{"b":0,"a":0}"#)
            .map_or(true, |m| m.keys().next().map(String::as_str) == Some("a"))
    })
}

/// Sorts every object of `o` (recursively) by key, as a `serde_json::Map` without
/// `preserve_order` holds it.
fn sort_other(o: &mut Other) {
    for (_, v) in o.iter_mut() {
        sort_other_value(v);
    }
    if o.keys().is_sorted() {
        return;
    }
    let mut pairs: Vec<(Str, OtherValue)> = o
        .iter_mut()
        .map(|(k, v)| (Str::from(k), std::mem::take(v)))
        .collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    *o = pairs.into_iter().collect();
}

fn sort_other_value(v: &mut OtherValue) {
    match v {
        OtherValue::Object(o) => sort_other(o),
        OtherValue::Array(items) => items.iter_mut().for_each(sort_other_value),
        _ => {}
    }
}

/// [`ecs`] on the borrowed tree: the line parsed into [`J`] (objects holding each key once,
/// as a `serde_json::Map` does), fixed as [`fix_ecs`] fixes the `Value` tree
/// ([`fix_ecs_tree`]), then deserialized by [`super::json_de`], which behaves as
/// `serde_json::from_value` does. The same event or reason as [`ecs_via_value`] (tested, also
/// as properties), without a `String` per key and string, the hashing of every key, and the
/// copy of every string into the event.
///
/// When `serde_json` is built without `preserve_order` (never in this workspace: the model
/// crate asks for it), `Value` objects are sorted maps, and the `Value` path is taken.
#[cfg(test)]
pub(crate) fn ecs_via_tree(line: &str) -> Result<Event, String> {
    super::by_value(|ev| ecs_via_tree_into(line, ev, &mut EcsSpare::default()))
}

/// [`ecs_via_tree`] into `out` (which holds `Event::default()`).
///
/// The top-level keys that name no field of [`Event`] are what its flattened
/// [`Event::other`] would collect (in document order, after the other fields' values): they
/// are converted straight into `out.other` (its kept buffer) and taken out of the tree
/// before the deserialization, which then has nothing to buffer (`serde`'s `Content` tree of
/// the unknown keys, then an `Other` built from it). `Other` accepts any value, so no reason
/// can change (tested against the `Value` path).
///
/// Those vendor values are refilled into `spare.other` ([`super::refill`]: the same value as
/// a fresh conversion, in the buffers of an earlier record's), the event data into
/// `spare.data`.
fn ecs_via_tree_into(line: &str, out: &mut Event, spare: &mut EcsSpare) -> Result<(), String> {
    if value_maps_are_sorted() {
        *out = ecs_via_value(line)?;
        return Ok(());
    }
    let mut m = borrowed_object(line)?;
    dedup_obj(&mut m);
    fix_ecs_tree(&mut m);
    if obj_get(&m, "@timestamp").is_none() {
        return Err("ECS record without @timestamp".to_owned());
    }
    let data = take_event_data(&mut m, &mut spare.data);
    let mut other = std::mem::take(&mut spare.other);
    // (Keys are distinct after `dedup_obj`, as `distinct_pairs` needs.)
    super::refill::distinct_pairs(
        &mut other,
        m.iter()
            .filter(|(k, _)| !is_event_field(k))
            .map(|(k, v)| (k.as_ref(), v)),
    );
    m.retain_mut(|(k, v)| {
        if is_event_field(k) {
            return true;
        }
        super::tree_pool::put(std::mem::replace(v, J::Null));
        false
    });
    let ev = m
        .as_j(super::json_de::from_j::<Event>)
        .map_err(|e| format!("not ECS: {e}"))?;
    *out = ev;
    out.other = other;
    if let Some(d) = data
        && !d.is_empty()
    {
        out.winlog.event_data = d;
    }
    Ok(())
}

/// Whether `k` is the key of one of [`Event`]'s typed fields (a `match`: one length dispatch and a comparison
/// or two, where a scan of the list compares up to 22 strings).
fn is_event_field(k: &str) -> bool {
    matches!(
        k,
        "@timestamp"
            | "organization"
            | "event"
            | "source"
            | "destination"
            | "network"
            | "url"
            | "http"
            | "user_agent"
            | "dns"
            | "tls"
            | "user"
            | "host"
            | "email"
            | "file"
            | "process"
            | "winlog"
            | "rule"
            | "observer"
            | "log"
            | "message"
            | "tags"
    )
}

/// The top-level keys of [`Event`]'s fields (every other key goes to [`Event::other`]), in
/// the order of the struct: the list [`is_event_field`] is tested against.
#[cfg(test)]
const EVENT_FIELDS: [&str; 22] = [
    "@timestamp",
    "organization",
    "event",
    "source",
    "destination",
    "network",
    "url",
    "http",
    "user_agent",
    "dns",
    "tls",
    "user",
    "host",
    "email",
    "file",
    "process",
    "winlog",
    "rule",
    "observer",
    "log",
    "message",
    "tags",
];

/// `winlog.event_data` taken out of the fixed tree as the [`FieldMap`] its `Deserialize`
/// would build (pairs sorted by key, as from its `BTreeMap`), when it is an object: after
/// [`fix_ecs_tree`] every value of it is a string, so its deserialization cannot fail and
/// taking it out changes no reason (`None`, and the tree is left as it is, otherwise). Its
/// `BTreeMap<String, Value>` was the largest single cost of a Winlogbeat line.
///
/// The pairs are written into the buffers of `spare` (an earlier record's event data, taken):
/// a key or value equal to the one at its position is kept, another is overwritten in its
/// buffer (a value over 24 bytes, such as a Windows path, costs no allocation then).
fn take_event_data(m: &mut Obj<'_>, spare: &mut FieldMap) -> Option<FieldMap> {
    let Some(J::Obj(w)) = obj_get_mut(m, "winlog") else {
        return None;
    };
    let i = w
        .iter()
        .position(|(k, v)| k == "event_data" && matches!(v, J::Obj(_)))?;
    let (_, J::Obj(d)) = w.remove(i) else {
        return None;
    };
    let mut pairs = std::mem::take(&mut spare.0);
    pairs.reserve(d.len().saturating_sub(pairs.len()));
    for (i, (k, v)) in d.iter().enumerate() {
        // (Always a string here; anything else is kept as its JSON text, as `FieldMap` does.)
        let v: Cow<'_, str> = match v {
            J::Str(s) => Cow::Borrowed(s),
            J::Null => Cow::Borrowed(""),
            other => Cow::Owned(to_value(other).to_string()),
        };
        match pairs.get_mut(i) {
            Some((pk, pv)) => {
                overwrite(pk, k);
                overwrite(pv, &v);
            }
            None => pairs.push((Str::from(k.as_ref()), Str::from(v.as_ref()))),
        }
    }
    pairs.truncate(d.len());
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    super::tree_pool::recycle(d);
    Some(FieldMap(pairs))
}

/// `*s = Str::from(t)`, in the buffer of `s`.
fn overwrite(s: &mut Str, t: &str) {
    if s.as_str() != t {
        s.clear();
        s.push_str(t);
    }
}

/// Each key of every object of `v` once, at its first position with its last value (what
/// `serde_json` makes of the text as a `Value` with `preserve_order`).
pub(crate) fn dedup_tree(v: &mut J<'_>) {
    match v {
        J::Obj(o) => dedup_obj(o),
        J::Arr(a) => a.iter_mut().for_each(dedup_tree),
        _ => {}
    }
}

pub(crate) fn dedup_obj(o: &mut Obj<'_>) {
    if !keys_distinct(o) {
        let mut out: Obj<'_> = Vec::with_capacity(o.len());
        for (k, v) in o.drain(..) {
            match out.iter_mut().find(|(ok, _)| *ok == k) {
                Some(slot) => slot.1 = v,
                None => out.push((k, v)),
            }
        }
        *o = out;
    }
    for (_, v) in o.iter_mut() {
        dedup_tree(v);
    }
}

/// The only pair of `o` named `key` (objects hold each key once after [`dedup_obj`]).
fn obj_get<'o, 'a>(o: &'o Obj<'a>, key: &str) -> Option<&'o J<'a>> {
    o.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

fn obj_get_mut<'o, 'a>(o: &'o mut Obj<'a>, key: &str) -> Option<&'o mut J<'a>> {
    o.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// `serde_json::Map::remove` with `preserve_order`: the last pair takes the removed one's place.
fn obj_remove<'a>(o: &mut Obj<'a>, key: &str) -> Option<J<'a>> {
    let i = o.iter().position(|(k, _)| k == key)?;
    Some(o.swap_remove(i).1)
}

/// `serde_json::Map::insert`: a present key keeps its place and takes the value.
fn obj_insert<'a>(o: &mut Obj<'a>, key: Cow<'a, str>, v: J<'a>) {
    match obj_get_mut(o, &key) {
        Some(slot) => *slot = v,
        None => o.push((key, v)),
    }
}

/// [`crate::util::put`] on the borrowed tree.
fn put_tree<'a>(o: &mut Obj<'a>, path: &str, v: J<'a>) {
    match path.split_once('.') {
        None => obj_insert(o, Cow::Owned(path.to_owned()), v),
        Some((head, tail)) => {
            let i = match o.iter().position(|(k, _)| k == head) {
                Some(i) => i,
                None => {
                    o.push((Cow::Owned(head.to_owned()), J::Obj(Vec::new())));
                    o.len() - 1
                }
            };
            let Some((_, slot)) = o.get_mut(i) else {
                return;
            };
            if !matches!(slot, J::Obj(_)) {
                let old = std::mem::replace(slot, J::Null);
                *slot = J::Obj(vec![(Cow::Borrowed("_value"), old)]);
            }
            if let J::Obj(m) = slot {
                put_tree(m, tail, v);
            }
        }
    }
}

/// The tree as a `serde_json::Value` (objects already hold each key once).
fn to_value(j: &J<'_>) -> Value {
    match j {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::Num(n) => Value::Number(n.clone()),
        J::Str(s) => Value::String(s.as_ref().to_owned()),
        J::Arr(a) => Value::Array(a.iter().map(to_value).collect()),
        J::Obj(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.as_ref().to_owned(), to_value(v)))
                .collect(),
        ),
    }
}

/// [`crate::util::json_text`] on the borrowed tree.
fn tree_text<'o>(v: &'o J<'_>) -> Option<Cow<'o, str>> {
    match v {
        J::Str(s) => Some(Cow::Borrowed(s)),
        J::Num(n) => Some(Cow::Owned(n.to_string())),
        J::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        _ => None,
    }
}

/// Wraps a value in a one-element array.
fn wrap(v: &mut J<'_>) {
    let old = std::mem::replace(v, J::Null);
    let mut a = super::tree_pool::arr(1);
    a.push(old);
    *v = J::Arr(a);
}

/// [`fix_ecs`] on the borrowed tree, step for step (objects hold each key once).
fn fix_ecs_tree(m: &mut Obj<'_>) {
    let dotted: Vec<String> = m
        .iter()
        .filter(|(k, _)| k.contains('.'))
        .map(|(k, _)| k.as_ref().to_owned())
        .collect();
    for k in dotted {
        if let Some(v) = obj_remove(m, &k) {
            put_tree(m, &k, v);
        }
    }
    let lists = [
        ("event", "category"),
        ("event", "type"),
        ("host", "ip"),
        ("dns", "header_flags"),
        ("dns", "resolved_ip"),
    ];
    for (a, b) in lists {
        if let Some(J::Obj(o)) = obj_get_mut(m, a)
            && let Some(v) = obj_get_mut(o, b)
            && !matches!(v, J::Arr(_))
        {
            wrap(v);
        }
    }
    if let Some(v) = obj_get_mut(m, "tags")
        && matches!(v, J::Str(_))
    {
        wrap(v);
    }
    if let Some(J::Obj(e)) = obj_get_mut(m, "email") {
        for k in ["from", "sender", "to", "cc", "reply_to"] {
            if let Some(J::Obj(a)) = obj_get_mut(e, k)
                && let Some(v) = obj_get_mut(a, "address")
                && matches!(v, J::Str(_))
            {
                wrap(v);
            }
        }
    }
    let to_num = [
        ("winlog", "event_id"),
        ("winlog", "record_id"),
        ("process", "pid"),
    ];
    for (a, b) in to_num {
        if let Some(J::Obj(o)) = obj_get_mut(m, a)
            && let Some(v) = obj_get_mut(o, b)
            && let Some(n) = v.as_str().and_then(|s| s.trim().parse::<u64>().ok())
        {
            *v = J::Num(n.into());
        }
    }
    if let Some(J::Obj(p)) = obj_get_mut(m, "process")
        && let Some(J::Obj(_)) = obj_get(p, "pid")
    {
        obj_remove(p, "pid");
    }
    let to_str = [
        ("event", "code"),
        ("winlog", "task"),
        ("winlog", "opcode"),
        ("winlog", "keywords"),
    ];
    for (a, b) in to_str {
        if let Some(J::Obj(o)) = obj_get_mut(m, a)
            && let Some(v) = obj_get_mut(o, b)
        {
            match v {
                J::Num(n) => *v = J::Str(Cow::Owned(n.to_string())),
                J::Arr(items) => {
                    let s: Vec<String> = items
                        .iter()
                        .filter_map(|x| tree_text(x).map(|c| c.into_owned()))
                        .collect();
                    *v = J::Str(Cow::Owned(s.join(",")));
                }
                _ => {}
            }
        }
    }
    if let Some(J::Obj(w)) = obj_get_mut(m, "winlog")
        && let Some(J::Obj(d)) = obj_get_mut(w, "event_data")
    {
        for (_, v) in d.iter_mut() {
            if !matches!(v, J::Str(_)) {
                let s = match &*v {
                    J::Null => String::new(),
                    other => tree_text(other)
                        .map(|c| c.into_owned())
                        .unwrap_or_else(|| to_value(other).to_string()),
                };
                *v = J::Str(Cow::Owned(s));
            }
        }
    }
}

/// The general path of [`ecs`]: a `serde_json::Value` tree, fixed, then converted.
pub(crate) fn ecs_via_value(line: &str) -> Result<Event, String> {
    let mut m = object(line)?;
    fix_ecs(&mut m);
    if !m.contains_key("@timestamp") {
        return Err("ECS record without @timestamp".to_owned());
    }
    serde_json::from_value::<Event>(Value::Object(m)).map_err(|e| format!("not ECS: {e}"))
}

fn fix_ecs(m: &mut serde_json::Map<String, Value>) {
    // Dotted top-level keys (`"source.ip": …`) are legal ECS shorthand: nest them.
    let dotted: Vec<String> = m.keys().filter(|k| k.contains('.')).cloned().collect();
    for k in dotted {
        if let Some(v) = m.remove(&k) {
            crate::util::put(m, &k, v);
        }
    }
    let lists = [
        ("event", "category"),
        ("event", "type"),
        ("host", "ip"),
        ("dns", "header_flags"),
        ("dns", "resolved_ip"),
    ];
    for (a, b) in lists {
        if let Some(Value::Object(o)) = m.get_mut(a)
            && let Some(v) = o.get_mut(b)
            && !v.is_array()
        {
            let old = v.take();
            *v = Value::Array(vec![old]);
        }
    }
    if let Some(v) = m.get_mut("tags")
        && v.is_string()
    {
        let old = v.take();
        *v = Value::Array(vec![old]);
    }
    if let Some(Value::Object(e)) = m.get_mut("email") {
        for k in ["from", "sender", "to", "cc", "reply_to"] {
            if let Some(Value::Object(a)) = e.get_mut(k)
                && let Some(v) = a.get_mut("address")
                && v.is_string()
            {
                let old = v.take();
                *v = Value::Array(vec![old]);
            }
        }
    }
    // Numbers written as strings and the reverse.
    let to_num = [
        ("winlog", "event_id"),
        ("winlog", "record_id"),
        ("process", "pid"),
    ];
    for (a, b) in to_num {
        if let Some(Value::Object(o)) = m.get_mut(a)
            && let Some(v) = o.get_mut(b)
            && let Some(n) = v.as_str().and_then(|s| s.trim().parse::<u64>().ok())
        {
            *v = Value::from(n);
        }
    }
    if let Some(Value::Object(p)) = m.get_mut("process")
        && let Some(Value::Object(_)) = p.get("pid")
    {
        p.remove("pid");
    }
    let to_str = [
        ("event", "code"),
        ("winlog", "task"),
        ("winlog", "opcode"),
        ("winlog", "keywords"),
    ];
    for (a, b) in to_str {
        if let Some(Value::Object(o)) = m.get_mut(a)
            && let Some(v) = o.get_mut(b)
        {
            match v {
                Value::Number(n) => *v = Value::String(n.to_string()),
                Value::Array(items) => {
                    let s: Vec<String> = items
                        .iter()
                        .filter_map(|x| crate::util::json_text(x).map(|c| c.into_owned()))
                        .collect();
                    *v = Value::String(s.join(","));
                }
                _ => {}
            }
        }
    }
    // winlog.event_data values must be strings.
    if let Some(Value::Object(w)) = m.get_mut("winlog")
        && let Some(Value::Object(d)) = w.get_mut("event_data")
    {
        for v in d.values_mut() {
            if !v.is_string() {
                let s = match &*v {
                    Value::Null => String::new(),
                    other => crate::util::json_text(other)
                        .map(|c| c.into_owned())
                        .unwrap_or_else(|| other.to_string()),
                };
                *v = Value::String(s);
            }
        }
    }
}

/// A JSON value borrowed from the line: strings without escapes are slices of the input and
/// objects are vectors of pairs in document order, so parsing costs no key allocation and no
/// hashing (a `serde_json::Value` allocates every key and string and hashes every key).
/// Formats map the fields they know from it and convert only what they keep verbatim.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum J<'a> {
    Null,
    Bool(bool),
    Num(serde_json::Number),
    Str(Cow<'a, str>),
    Arr(Vec<J<'a>>),
    Obj(Obj<'a>),
}

/// A JSON object as pairs in document order (duplicates kept; lookups take the last, as
/// `serde_json::Map` does).
pub(crate) type Obj<'a> = Vec<(Cow<'a, str>, J<'a>)>;

/// The visitor of [`J`]; `map_cap`: the capacity an object starts with (serde_json gives no
/// size hint).
pub(crate) struct JVisitor {
    pub(crate) map_cap: usize,
}

impl<'de> Deserialize<'de> for J<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Nested objects are usually small; the top level is sized by `borrowed_object`.
        d.deserialize_any(JVisitor { map_cap: 8 })
    }
}

impl<'de> Visitor<'de> for JVisitor {
    type Value = J<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<J<'de>, E> {
        Ok(J::Null)
    }
    fn visit_none<E>(self) -> Result<J<'de>, E> {
        Ok(J::Null)
    }
    fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<J<'de>, D2::Error> {
        J::deserialize(d)
    }
    fn visit_bool<E>(self, b: bool) -> Result<J<'de>, E> {
        Ok(J::Bool(b))
    }
    fn visit_u64<E>(self, n: u64) -> Result<J<'de>, E> {
        Ok(J::Num(n.into()))
    }
    fn visit_i64<E>(self, n: i64) -> Result<J<'de>, E> {
        Ok(J::Num(n.into()))
    }
    fn visit_f64<E>(self, n: f64) -> Result<J<'de>, E> {
        // As `serde_json::Value` does: a non-finite float is null.
        Ok(serde_json::Number::from_f64(n).map_or(J::Null, J::Num))
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<J<'de>, E> {
        Ok(J::Str(Cow::Borrowed(s)))
    }
    fn visit_str<E>(self, s: &str) -> Result<J<'de>, E> {
        Ok(J::Str(Cow::Owned(s.to_owned())))
    }
    fn visit_string<E>(self, s: String) -> Result<J<'de>, E> {
        Ok(J::Str(Cow::Owned(s)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<J<'de>, A::Error> {
        // No size hint from serde_json: room for a few items without growing.
        let mut v = Vec::with_capacity(a.size_hint().unwrap_or(4).min(64));
        while let Some(x) = a.next_element()? {
            v.push(x);
        }
        Ok(J::Arr(v))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<J<'de>, A::Error> {
        let mut v = Vec::with_capacity(a.size_hint().unwrap_or(self.map_cap).min(64));
        while let Some(k) = a.next_key::<Key<'de>>()? {
            v.push((k.0, a.next_value()?));
        }
        Ok(J::Obj(v))
    }
}

/// An object key, borrowed unless it holds escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s)))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'a> J<'a> {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            J::Null => "null",
            J::Bool(_) => "boolean",
            J::Num(_) => "number",
            J::Str(_) => "string",
            J::Arr(_) => "array",
            J::Obj(_) => "object",
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            J::Str(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn as_obj(&self) -> Option<&Obj<'a>> {
        match self {
            J::Obj(o) => Some(o),
            _ => None,
        }
    }

    pub(crate) fn as_bool(&self) -> Option<bool> {
        match self {
            J::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub(crate) fn as_i64(&self) -> Option<i64> {
        match self {
            J::Num(n) => n.as_i64(),
            _ => None,
        }
    }

    pub(crate) fn as_f64(&self) -> Option<f64> {
        match self {
            J::Num(n) => n.as_f64(),
            _ => None,
        }
    }

    pub(crate) fn is_null(&self) -> bool {
        matches!(self, J::Null)
    }

    /// A scalar as text (numbers and booleans printed), `None` for null and containers.
    pub(crate) fn text(&self) -> Option<Cow<'_, str>> {
        match self {
            J::Str(s) => Some(Cow::Borrowed(s)),
            J::Num(n) => Some(Cow::Owned(n.to_string())),
            J::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
            _ => None,
        }
    }

    /// A count: an unsigned integer, a whole non-negative float, or a string holding one.
    pub(crate) fn u64(&self) -> Option<u64> {
        match self {
            J::Num(n) => n.as_u64().or_else(|| {
                n.as_f64()
                    .filter(|f| *f >= 0.0 && f.fract() == 0.0)
                    .map(|f| f as u64)
            }),
            J::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// The same value as an [`OtherValue`] (what is kept verbatim under a vendor key), with
    /// the numbers, key order and duplicate semantics of `serde_json::Value`.
    pub(crate) fn to_other(&self) -> OtherValue {
        match self {
            J::Null => OtherValue::Null,
            J::Bool(b) => OtherValue::Bool(*b),
            J::Num(n) => OtherValue::from(n),
            J::Str(s) => OtherValue::Str(Str::from(s.as_ref())),
            J::Arr(a) => OtherValue::Array(a.iter().map(J::to_other).collect()),
            J::Obj(o) => OtherValue::Object(obj_to_other(o)),
        }
    }
}

/// Pairs into an [`Other`] sized once (a later duplicate replaces an earlier value in place,
/// as when `serde_json` parses the text). Keys are compared as borrowed text first: without a
/// duplicate (the usual case) every pair is appended without a lookup in the `Other`.
pub(crate) fn obj_to_other(pairs: &[(Cow<'_, str>, J<'_>)]) -> Other {
    let mut m = Other::with_capacity(pairs.len());
    if keys_distinct(pairs) {
        for (k, v) in pairs {
            m.push_new(k.as_ref(), v.to_other());
        }
    } else {
        for (k, v) in pairs {
            m.insert(k.as_ref(), v.to_other());
        }
    }
    m
}

/// Whether no key of `pairs` is repeated. Each key sets one bit of a 64-bit filter (from its
/// length and first and last bytes); only a key whose bit is already set is compared with
/// the keys before it.
fn keys_distinct(pairs: &[(Cow<'_, str>, J<'_>)]) -> bool {
    let mut seen = 0u64;
    for (i, (k, _)) in pairs.iter().enumerate() {
        let b = k.as_bytes();
        let first = u32::from(b.first().copied().unwrap_or(0));
        let last = u32::from(b.last().copied().unwrap_or(0));
        let h = (b.len() as u32).wrapping_mul(7) ^ first.wrapping_mul(31) ^ last;
        let bit = 1u64 << (h & 63);
        if seen & bit != 0
            && pairs
                .get(..i)
                .is_some_and(|before| before.iter().any(|(p, _)| p == k))
        {
            return false;
        }
        seen |= bit;
    }
    true
}

/// The entries as `serde_json::Map` would hold them: each key once, at its first position,
/// with its last value.
pub(crate) fn entries<'o, 'a>(o: &'o Obj<'a>) -> Vec<(&'o str, &'o J<'a>)> {
    if keys_distinct(o) {
        return o.iter().map(|(k, v)| (k.as_ref(), v)).collect();
    }
    let mut out: Vec<(&'o str, &'o J<'a>)> = Vec::with_capacity(o.len());
    for (k, v) in o {
        match out.iter_mut().find(|(ok, _)| *ok == k.as_ref()) {
            Some(slot) => slot.1 = v,
            None => out.push((k.as_ref(), v)),
        }
    }
    out
}

/// [`entries`] as an iterator: without a vector when no key repeats (the usual case).
pub(crate) fn entries_iter<'o, 'a>(o: &'o Obj<'a>) -> impl Iterator<Item = (&'o str, &'o J<'a>)> {
    enum It<A, B> {
        Direct(A),
        Folded(B),
    }
    impl<T, A: Iterator<Item = T>, B: Iterator<Item = T>> Iterator for It<A, B> {
        type Item = T;
        fn next(&mut self) -> Option<T> {
            match self {
                It::Direct(a) => a.next(),
                It::Folded(b) => b.next(),
            }
        }
        fn size_hint(&self) -> (usize, Option<usize>) {
            match self {
                It::Direct(a) => a.size_hint(),
                It::Folded(b) => b.size_hint(),
            }
        }
    }
    if keys_distinct(o) {
        It::Direct(o.iter().map(|(k, v)| (k.as_ref(), v)))
    } else {
        It::Folded(entries(o).into_iter())
    }
}

/// The last value under `key` (as `serde_json::Map::get` would find it).
pub(crate) fn get<'o, 'a>(o: &'o Obj<'a>, key: &str) -> Option<&'o J<'a>> {
    o.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// The capacity of a record's top-level object.
const TOP_CAP: usize = 32;

/// `serde_json::from_str::<J>`, with room for a whole record's keys in the top-level object
/// (log records hold 10–30: no reallocation as the object fills).
fn parse_top(line: &str) -> serde_json::Result<J<'_>> {
    let mut de = serde_json::Deserializer::from_str(line);
    let j = de.deserialize_any(JVisitor { map_cap: TOP_CAP })?;
    de.end()?;
    Ok(j)
}

/// Parses one JSON object into the borrowed tree, with the same reasons as [`object`].
///
/// Records in the plain subset of JSON that log writers emit take [`super::json_fast`] (the
/// same tree, several times faster); anything else is parsed by `serde_json`.
///
/// The tree's buffers are taken from, and at its drop given back to, this thread's
/// [`super::tree_pool`]: in steady state a record's tree costs no allocation.
pub(crate) fn borrowed_object(line: &str) -> Result<Tree<'_>, String> {
    let parsed = match super::tree_pool::parse(line, TOP_CAP) {
        Some(j) => Ok(j),
        None => parse_top(line),
    };
    match parsed {
        Ok(J::Obj(m)) => Ok(Tree(m)),
        Ok(other) => Err(format!(
            "JSON {} where an object was expected",
            other.kind()
        )),
        Err(e) if e.is_eof() => Err(format!("truncated JSON record: {e}")),
        Err(e) => Err(format!("invalid JSON: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrowed_tree_matches_serde_json() {
        for line in [
            r#"{"a":1,"b":"x\"y","c":[true,null,2.5,-3],"d":{"e":"f"},"a":2}"#,
            r#"{"k\u00e9y":"v\n","empty":{},"list":[]}"#,
            r#"{"big":18446744073709551615,"neg":-9223372036854775808,"f":1e300}"#,
            r#"{"ab":1,"xb":2,"ab":3,"a":{"k":1,"k":[{"z":1,"z":2}]}}"#,
            r#"{"a0":0,"a1":1,"a2":2,"a3":3,"a4":4,"a5":5,"a6":6,"a7":7,"a8":8,"a9":9,"b0":0,"b1":1,"b2":2,"b3":3,"b4":4,"b5":5,"b6":6,"b7":7,"b8":8,"b9":9,"c0":0,"c1":1,"c2":2,"c3":3,"c4":4,"c5":5,"c6":6,"c7":7,"c8":8,"c9":9,"d0":0,"d1":1,"a5":"again"}"#,
        ] {
            let j = borrowed_object(line).expect("object");
            let from_j = obj_to_other(&j).to_json_map();
            let direct: serde_json::Map<String, Value> =
                serde_json::from_str(line).expect("serde_json");
            assert_eq!(from_j, direct, "{line}");
            // Same order too (serde_json keeps the first position of a duplicate).
            let ka: Vec<&String> = from_j.keys().collect();
            let kb: Vec<&String> = direct.keys().collect();
            assert_eq!(ka, kb, "{line}");
            let other = obj_to_other(&j);
            assert_eq!(
                serde_json::to_string(&other).expect("ser"),
                serde_json::to_string(&direct).expect("ser"),
                "{line}"
            );
        }
        let j = borrowed_object(r#"{"a":1,"a":"last","s":"plain"}"#).expect("object");
        assert_eq!(get(&j, "a").and_then(J::as_str), Some("last"));
        assert_eq!(entries(&j).len(), 2);
        // Unescaped strings borrow from the line.
        assert!(matches!(get(&j, "s"), Some(J::Str(Cow::Borrowed("plain")))));
    }

    proptest::proptest! {
        /// Objects with many repeated and colliding keys: the kept copy is what `serde_json`
        /// makes of the text (values, order, each key once), with or without duplicates.
        #[test]
        fn kept_objects_are_serde_json(
            keys in proptest::collection::vec("[a-c_]{0,3}", 0..40),
            vals in proptest::collection::vec(0u32..4, 40),
        ) {
            let body: Vec<String> = keys
                .iter()
                .zip(&vals)
                .map(|(k, v)| format!("{k:?}:{v}"))
                .collect();
            let line = format!("{{{}}}", body.join(","));
            let j = borrowed_object(&line).expect("object");
            let direct: serde_json::Map<String, Value> =
                serde_json::from_str(&line).expect("serde_json");
            let other = obj_to_other(&j);
            proptest::prop_assert_eq!(
                serde_json::to_string(&other).expect("ser"),
                serde_json::to_string(&direct).expect("ser")
            );
            let e: Vec<&str> = entries(&j).iter().map(|(k, _)| *k).collect();
            let d: Vec<&str> = direct.keys().map(String::as_str).collect();
            proptest::prop_assert_eq!(e, d);
        }
    }

    /// Lines of every kind [`fix_ecs`] fixes, and plain ones: the direct path gives what the
    /// general path gives (events or reasons), and is taken for the plain ones.
    #[test]
    fn ecs_direct_path_is_the_value_path() {
        let plain = [
            r#"{"@timestamp":"2026-01-05T00:00:00Z","event":{"id":"e1","dataset":"squid.access","kind":"event","category":["web"]},"source":{"ip":"10.1.0.2"},"destination":{"ip":"203.0.1.2","port":443},"url":{"full":"https://a.example.com/p?q=1","domain":"a.example.com"},"user":{"name":"u1"}}"#,
            r#"{"@timestamp":"2026-01-05T00:00:00.5+02:00","zeek":{"uid":"C1","b":[{"y":1,"x":2}],"a":null},"agent":{"type":"filebeat","name":"h"},"ecs":{"version":"8"},"organization":{"id":"moh"},"tags":["a","b"]}"#,
            r#"{"ecs":{"version":"8","a":{"z":1,"y":2,"z":3}},"@timestamp":"2026-01-05T00:00:00Z","agent":1,"agent":{"b":2.5,"a":-3},"dns":{"question":{"name":"x.example"},"resolved_ip":["192.0.2.1"]},"host":{"ip":["192.0.2.9"]}}"#,
            r#"{"@timestamp":"2026-01-05T00:00:00Z","event":{"code":"4624","unknown":{"x":1}},"message":"m\u00e9\n","labels":{"k":"v"}}"#,
        ];
        let fixed = [
            r#"{"@timestamp":"2026-01-05T00:00:00Z","source.ip":"10.0.0.1","event.dataset":"x"}"#,
            r#"{"@timestamp":"2026-01-05T00:00:00Z","event":{"category":"web","type":"info"}}"#,
            r#"{"@timestamp":"2026-01-05T00:00:00Z","event":{"category":null}}"#,
            r#"{"@timestamp":"2026-01-05T00:00:00Z","host":{"ip":"192.0.2.1"},"tags":"one"}"#,
            r#"{"@timestamp":"2026-01-05T00:00:00Z","dns":{"header_flags":"RD","resolved_ip":"192.0.2.1"}}"#,
            r#"{"@timestamp":"2026-01-05T00:00:00Z","event":{"code":4624}}"#,
            r#"{"@timestamp":"2026-01-05T00:00:00Z","event":{"code":[1,"a"]}}"#,
            r#"{"@timestamp":"2026-01-05T00:00:00Z","winlog":{"event_id":"4624","record_id":" 7 ","task":12,"opcode":[1,2],"keywords":3,"event_data":{"a":1,"b":null,"c":"x","d":[1]}}}"#,
            r#"{"@timestamp":"2026-01-05T00:00:00Z","winlog":{"event_id":4624,"event_data":{"z":"1","a":"2"}},"zeek":{"b":1,"a":2}}"#,
            r#"{"@timestamp":"2026-01-05T00:00:00Z","process":{"pid":"42","name":"x"}}"#,
            r#"{"@timestamp":"2026-01-05T00:00:00Z","process":{"pid":{"x":1}}}"#,
            r#"{"@timestamp":"2026-01-05T00:00:00Z","email":{"from":{"address":"a@b.c"},"to":{"address":["d@e.f"]}}}"#,
            r#"{"@timestamp":"2026-01-05T00:00:00Z","source":{"ip":"10.0.0.1","ip":"10.0.0.2"}}"#,
            r#"{"@timestamp":"2026-01-05T00:00:00Z","@timestamp":"2026-01-06T00:00:00Z"}"#,
            r#"{"event":{"id":"x"}}"#,
            r#"[1]"#,
            r#"{"@timestamp":"2026-01-05T00:00:00Z","#,
            r#"{"@timestamp":"not a time"}"#,
            r#"{"@timestamp":"2026-01-05T00:00:00Z","source":{"port":"x"}}"#,
        ];
        for line in plain.iter().chain(&fixed) {
            tree_is_value(line);
            let general = ecs_via_value(line);
            let chosen = ecs(line);
            assert_eq!(chosen, general, "{line}");
            if let (Ok(a), Ok(b)) = (&chosen, &general) {
                assert_eq!(
                    serde_json::to_string(a).expect("ser"),
                    serde_json::to_string(b).expect("ser"),
                    "{line}"
                );
            }
        }
        for line in plain {
            assert!(ecs_direct(line).is_some(), "direct path not taken: {line}");
        }
        for line in &fixed[..12] {
            assert!(ecs_direct(line).is_none(), "direct path taken: {line}");
        }
    }

    proptest::proptest! {
        /// Any mix of typed fields, fixable variations, vendor keys (repeated, nested, in any
        /// order) and dotted keys: the direct path gives what the general path gives.
        #[test]
        fn ecs_direct_path_is_the_value_path_for_mixed_lines(
            picks in proptest::collection::vec(0usize..32, 0..14),
            ts in proptest::bool::weighted(0.9),
        ) {
            const PARTS: [&str; 32] = [
                r#""event":{"category":["web"],"dataset":"d"}"#,
                r#""event":{"category":"web"}"#,
                r#""event":{"code":7}"#,
                r#""event":{"code":"7","type":["info"]}"#,
                r#""source":{"ip":"10.0.0.1","port":5}"#,
                r#""source":{"ip":"not an ip"}"#,
                r#""source.ip":"10.0.0.3""#,
                r#""destination":{"ip":"2001:db8::1","bytes":12}"#,
                r#""host":{"ip":"192.0.2.1"}"#,
                r#""host":{"ip":["192.0.2.1"],"name":"h"}"#,
                r#""dns":{"resolved_ip":"192.0.2.5"}"#,
                r#""dns":{"question":{"name":"a.b.c"},"header_flags":["RD"]}"#,
                r#""tags":"t""#,
                r#""tags":["t","u"]"#,
                r#""winlog":{"event_id":"1"}"#,
                r#""process":{"pid":"9"}"#,
                r#""email":{"to":{"address":"a@b.c"}}"#,
                r#""zeek":{"uid":"C","b":2,"a":{"y":1,"x":[{"q":1,"p":2}]}}"#,
                r#""zeek":{"a":3}"#,
                r#""agent":{"name":"x","name":"y"}"#,
                r#""agent":null"#,
                r#""b_vendor":[1,-2,3.5,true,null,"s"]"#,
                r#""a_vendor":{}"#,
                r#""Z":1"#,
                r#""a.b":{"c":1}"#,
                r#""url":{"full":"https://x.example/a?b=c"}"#,
                r#""user":{"name":"n"}"#,
                r#""message":"m""#,
                r#""organization":{"id":"org-1"}"#,
                r#""organization":{"id":"Not Valid!"}"#,
                r#""observer":{"name":"o"}"#,
                r#""network":{"transport":"tcp","bytes":1e3}"#,
            ];
            let mut parts: Vec<&str> = picks.iter().map(|&i| PARTS[i]).collect();
            if ts {
                let at = picks.first().copied().unwrap_or(0) % (parts.len() + 1);
                parts.insert(at, r#""@timestamp":"2026-01-05T00:00:00Z""#);
            }
            let line = format!("{{{}}}", parts.join(","));
            tree_is_value(&line);
            let general = ecs_via_value(&line);
            let chosen = ecs(&line);
            proptest::prop_assert_eq!(&chosen, &general, "{}", line);
            if let (Ok(a), Ok(b)) = (&chosen, &general) {
                proptest::prop_assert_eq!(
                    serde_json::to_string(a).expect("ser"),
                    serde_json::to_string(b).expect("ser")
                );
            }
        }
    }

    /// The borrowed-tree path ([`ecs_via_tree`]) gives what the `Value` path gives: the same
    /// event, serialized the same (so vendor keys and event data in the same order), or the
    /// same reason.
    fn tree_is_value(line: &str) {
        // Otherwise `ecs_via_tree` is `ecs_via_value` and nothing is compared.
        assert!(
            !value_maps_are_sorted(),
            "serde_json without preserve_order"
        );
        let reference = ecs_via_value(line);
        let tree = ecs_via_tree(line);
        assert_eq!(tree, reference, "{line}");
        if let (Ok(a), Ok(b)) = (&tree, &reference) {
            assert_eq!(
                serde_json::to_string(a).expect("ser"),
                serde_json::to_string(b).expect("ser"),
                "{line}"
            );
        }
    }

    #[test]
    fn tree_path_is_the_value_path() {
        let mut lines = Vec::new();
        for line in include_str!("../../test_data/winlogbeat.jsonl")
            .lines()
            .chain(include_str!("../../test_data/ecs.jsonl").lines())
            .chain([
                r#"{"@timestamp":"2026-01-05T00:00:00Z","a.b":1,"a":{"c":2},"x.y.z":"s","x":3,"q":0,"winlog.event_id":"7"}"#,
                r#"{"@timestamp":"2026-01-05T00:00:00Z","k.":1,".k":2,"..":3,"m.n":{"o":1},"m.n.p":2,"last":9}"#,
                r#"{"@timestamp":"2026-01-05T00:00:00Z","process":{"a":1,"pid":{"x":1},"b":2,"c":3}}"#,
                r#"{"@timestamp":"2026-01-05T00:00:00Z","winlog":{"event_data":{"o":{"b":[1,{"z":null,"y":"\u00e9"}],"a":1.5e3},"a":[],"n":-0,"f":0.1,"t":false},"keywords":["a",1,null,true,{"x":1}]}}"#,
                r#"{"@timestamp":"2026-01-05T00:00:00Z","winlog":{"event_id":"99999999999","record_id":-1}}"#,
                r#"{"@timestamp":"2026-01-05T00:00:00Z","winlog":{"event_id":"4624","event_data":{"A":"1","A":"2"},"event_data":{"B":"3"}}}"#,
                r#"{"@timestamp":"2026-01-05T00:00:00Z","event":{"code":1.5},"winlog":{"task":-3,"opcode":18446744073709551615}}"#,
                r#"{"@timestamp":"2026-01-05T00:00:00Z","source":{"port":70000}}"#,
                r#"{"@timestamp":"2026-01-05T00:00:00Z","source":{"ip":1},"destination":{"port":"x"}}"#,
                r#"{"@timestamp":"2026-01-05T00:00:00Z","tags":[1]}"#,
                r#"{"@timestamp":"2026-01-05T00:00:00Z","message":["a"]}"#,
                r#"{"@timestamp":"2026-01-05T00:00:00Z","winlog":[1]}"#,
                r#"{"@timestamp":"2026-01-05T00:00:00Z","winlog":null}"#,
                r#"{"@timestamp":null}"#,
                r#"{"@timestamp":"2026-01-05T00:00:00Z","host":{"ip":["not an ip"]}}"#,
                r#"{"@timestamp":"2026-01-05T00:00:00Z","organization":{"id":"Bad Id"}}"#,
                r#"{"@timestamp":"2026-01-05T00:00:00Z","email":{"to":{"address":"a@b.c"},"attachments":[{"file":{"name":"x"}}]}}"#,
                r#"{"@timestamp":"2026-01-05T00:00:00Z","user":{"target":{"name":"t"}},"file":{"hash":{"md5":"ab"}}}"#,
                r#"{"@timestamp":"2026-01-05T00:00:00Z","\u0061gent":{"n\u0061me":"esc"}}"#,
                "{\"@timestamp\":\"2026-01-05T00:00:00Z\",\"message\":\"\\ud83d\\ude00 日本\"}",
                r#"{"@timestamp":"2026-01-05T00:00:00Z"}  "#,
                r#"{"@timestamp":"2026-01-05T00:00:00Z"} x"#,
                r#"{"@timestamp":"2026-01-05T00:00:00Z","#,
                r#""text""#,
                r#"{}"#,
            ])
        {
            tree_is_value(line);
            lines.push(line);
        }
        reused_is_value(&lines);
        lines.reverse();
        reused_is_value(&lines);
    }

    /// A generated Winlogbeat record (see `tree_path_is_the_value_path_on_winlogbeat`).
    fn winlogbeat_line(picks: &[usize], data: &[(usize, usize)], ts: bool, free: &str) -> String {
        const PARTS: [&str; 24] = [
            r#""agent":{"type":"winlogbeat","version":"8.12.0"}"#,
            r#""event":{"code":"4624","kind":"event","provider":"Microsoft-Windows-Security-Auditing","action":"logged-in","category":["authentication"],"type":["start"],"outcome":"success"}"#,
            r#""event":{"code":4625,"category":"authentication","type":"start"}"#,
            r#""event":{"code":[4625,"x"],"created":"2026-01-05T01:02:03.456Z","severity":3}"#,
            r#""host":{"name":"DC01.moh.example","ip":"10.10.0.10"}"#,
            r#""host":{"ip":["10.10.0.10","2001:db8::1"],"hostname":"dc01"}"#,
            r#""source":{"ip":"10.10.3.4","port":51000}"#,
            r#""source":{"port":"51000"}"#,
            r#""user":{"name":"tanaka","domain":"MOH","id":"S-1-5-21"}"#,
            r#""process":{"pid":"42","executable":"C:\\Windows\\x.exe","name":"x.exe"}"#,
            r#""process":{"pid":4242,"command_line":"a \"b\" c"}"#,
            r#""winlog.channel":"Security""#,
            r#""winlog.event_data.Extra":5"#,
            r#""message":"An account was logged on.\n\tSubject: \u00e9 日本""#,
            r#""log":{"level":"information"}"#,
            r#""ecs":{"version":"8.0.0"}"#,
            r#""labels":{"b":"1","a":"2"}"#,
            r#""tags":"beats_input""#,
            r#""tags":["a","b"]"#,
            r#""winlog":{"channel":"Security","event_id":4624,"record_id":"123456","computer_name":"DC01","provider_name":"P","task":12544,"opcode":"Info","keywords":["Audit Success"]}"#,
            r#""winlog":{"event_id":" 7 ","record_id":-1,"task":"Logon","keywords":"0x8020000000000000"}"#,
            r#""winlog":{"event_id":"x","api":"wineventlog","process":{"pid":4,"thread":{"id":8}}}"#,
            r#""observer":{"name":"o"}"#,
            r#""event":{"category":null}"#,
        ];
        const KEYS: [&str; 12] = [
            "TargetUserName",
            "TargetDomainName",
            "LogonType",
            "IpAddress",
            "IpPort",
            "SubjectUserSid",
            "ProcessName",
            "Caf\u{e9}",
            "Z",
            "A",
            "A",
            "quo\"te",
        ];
        let free_json = serde_json::to_string(&free).expect("json");
        let vals: [String; 12] = [
            free_json.clone(),
            r#""tanaka""#.to_owned(),
            "3".to_owned(),
            "-2.5".to_owned(),
            "null".to_owned(),
            "false".to_owned(),
            format!(r#"[{free_json},1,null]"#),
            format!(r#"{{"k":{free_json},"j":{{"b":1,"a":2}}}}"#),
            r#""C:\\Windows\\System32\\svchost.exe""#.to_owned(),
            r#""\u65e5\u672c""#.to_owned(),
            "18446744073709551615".to_owned(),
            "1e400".to_owned(),
        ];
        let data_body: Vec<String> = data
            .iter()
            .map(|&(k, v)| {
                format!(
                    "{}:{}",
                    serde_json::to_string(KEYS[k]).expect("json"),
                    vals[v]
                )
            })
            .collect();
        let mut parts: Vec<String> = picks.iter().map(|&i| PARTS[i].to_owned()).collect();
        let at = picks.first().copied().unwrap_or(0) % (parts.len() + 1);
        parts.insert(
            at,
            format!(
                r#""winlog":{{"event_id":"4624","event_data":{{{}}}}}"#,
                data_body.join(",")
            ),
        );
        if ts {
            let at = picks.last().copied().unwrap_or(0) % (parts.len() + 1);
            parts.insert(at, r#""@timestamp":"2026-01-05T01:02:03.456Z""#.to_owned());
        }
        let line = format!("{{{}}}", parts.join(","));
        line
    }

    /// Lines read one after the other into one event through one [`Ecs`] parser, as
    /// `FileReader::next_into` reads them (`recycle`, `reset`, `parse_into`: the refill
    /// path): each gives what the `Value` path gives for it alone, serialized the same.
    fn reused_is_value(lines: &[&str]) {
        let mut p = Ecs::default();
        let mut ev = Event::default();
        for line in lines {
            p.recycle(&mut ev);
            ev.reset();
            let got = match p.parse_into(line, 1, &mut ev) {
                Step::Filled => Ok(ev.clone()),
                Step::Reject(e) => Err(e),
                Step::Event(e) => Ok(e),
                Step::Skip => continue,
            };
            let want = ecs_via_value(line.trim());
            assert_eq!(got, want, "{line}");
            if let (Ok(a), Ok(b)) = (&got, &want) {
                assert_eq!(
                    serde_json::to_string(a).expect("ser"),
                    serde_json::to_string(b).expect("ser"),
                    "{line}"
                );
            }
        }
    }

    proptest::proptest! {
        /// Generated Winlogbeat records: groups in any order, repeated or missing, numbers
        /// written as strings and the reverse, lists and scalars, event data of every JSON
        /// kind (nested, escaped, non-ASCII, repeated keys), dotted keys.
        #[test]
        fn tree_path_is_the_value_path_on_winlogbeat(
            picks in proptest::collection::vec(0usize..24, 0..12),
            data in proptest::collection::vec((0usize..12, 0usize..12), 0..10),
            ts in proptest::bool::weighted(0.9),
            free in "\\PC{0,10}",
        ) {
            let line = winlogbeat_line(&picks, &data, ts, &free);
            tree_is_value(&line);
            proptest::prop_assert_eq!(ecs(&line), ecs_via_value(&line));
        }

        /// Several generated records in a row through one reused event (the refill path of
        /// `next_into`), mixed with the test data's lines.
        #[test]
        fn refill_path_is_the_value_path_on_winlogbeat(
            recs in proptest::collection::vec(
                (
                    proptest::collection::vec(0usize..24, 0..12),
                    proptest::collection::vec((0usize..12, 0usize..12), 0..10),
                    proptest::bool::weighted(0.9),
                    "\\PC{0,10}",
                ),
                1..5,
            ),
        ) {
            let mut lines: Vec<String> = recs
                .iter()
                .map(|(picks, data, ts, free)| winlogbeat_line(picks, data, *ts, free))
                .collect();
            lines.extend(
                include_str!("../../test_data/winlogbeat.jsonl")
                    .lines()
                    .chain(include_str!("../../test_data/ecs.jsonl").lines())
                    .map(str::to_owned),
            );
            let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
            reused_is_value(&refs);
            let rev: Vec<&str> = refs.iter().rev().copied().collect();
            reused_is_value(&rev);
        }
    }

    /// [`EVENT_FIELDS`] is the list of `Event`'s top-level keys: every typed field, and
    /// nothing [`Event::other`] would take.
    #[test]
    fn event_fields_are_the_typed_fields() {
        use yagura_model::event::Sparse;
        let mut ev = Event::default();
        ev.organization.name = Some(Str::from("o"));
        ev.event.code = Some(Str::from("c"));
        ev.source.port = Some(1);
        ev.destination.port = Some(2);
        ev.network.transport = Some(Str::from("tcp"));
        ev.url.full = Some("u".into());
        ev.http.request.method = Some(Str::from("GET"));
        ev.user_agent.original = Some("ua".into());
        ev.dns.question.name = Some(Str::from("q"));
        ev.tls.client.ja3 = Some(Str::from("j"));
        ev.user.name = Some(Str::from("n"));
        ev.host.name = Some(Str::from("h"));
        ev.email.subject = Some("s".into());
        ev.file.size = Some(1);
        ev.process.pid = Some(1);
        ev.winlog.event_id = Some(1);
        ev.rule = Sparse::from(yagura_model::event::Rule {
            id: Some(Str::from("r")),
            ..Default::default()
        });
        ev.observer.name = Some(Str::from("o"));
        ev.log.level = Some(Str::from("info"));
        ev.message = Some("m".into());
        ev.tags.push(Str::from("t"));
        let v = serde_json::to_value(&ev).expect("ser");
        let keys: Vec<&str> = v
            .as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(keys, EVENT_FIELDS);
        assert!(EVENT_FIELDS.iter().all(|k| is_event_field(k)));
        for k in [
            "agent",
            "labels",
            "Event",
            "events",
            "",
            "@timestamp2",
            "zeek",
        ] {
            assert!(!is_event_field(k), "{k}");
        }
        // And each is typed: an integer there is a reason, not a vendor value.
        for k in EVENT_FIELDS.iter().skip(1) {
            let line = format!(r#"{{"@timestamp":"2026-01-05T00:00:00Z","{k}":12345}}"#);
            assert!(ecs_via_value(&line).is_err(), "{line}");
            tree_is_value(&line);
        }
    }

    #[test]
    fn borrowed_tree_reasons() {
        assert_eq!(
            borrowed_object("[1]").unwrap_err(),
            "JSON array where an object was expected"
        );
        assert!(
            borrowed_object(r#"{"a":"#)
                .unwrap_err()
                .starts_with("truncated JSON record")
        );
        assert!(
            borrowed_object(r#"{"a":1}x"#)
                .unwrap_err()
                .starts_with("invalid JSON")
        );
        assert_eq!(
            borrowed_object(r#"{"a":1}x"#).unwrap_err(),
            object(r#"{"a":1}x"#).unwrap_err()
        );
    }
}
