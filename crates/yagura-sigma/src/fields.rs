//! The view of a yagura [`Event`] that Sigma rules see: the adapter between rsigma's
//! [`rsigma_eval::Event`] trait and our typed ECS event, driven by a [`FieldPlan`].
//!
//! Resolution of a rule field name, in order:
//! 1. the entry's THOR `fieldmappings` rename (`Image` → `NewProcessName` for 4688);
//! 2. Windows sources: `EventID`, `Channel`, `Provider_Name`, `Computer`, … from `winlog`, then
//!    the `EventData` name (exact, then case-insensitive, then ignoring spaces, so `SourceName`
//!    finds `Source Name`);
//! 3. other sources: the source's raw name under the entry's `raw` prefix, then the entry's
//!    `fields` list of ECS paths (first present wins);
//! 4. finally the name as an ECS dotted path (`url.domain`, `zeek.conn.history`).

use std::borrow::Cow;

use rsigma_eval::EventValue;
use yagura_model::Event;
use yagura_model::event::{FieldValue, OtherValue};

use crate::logsource::FieldPlan;

/// A yagura event seen through one log-source entry's field plan.
#[derive(Debug, Clone, Copy)]
pub struct SigmaView<'a> {
    pub event: &'a Event,
    pub plan: &'a FieldPlan,
    /// The plan applied in advance to the names the slot's rules use.
    table: Option<&'a FieldTable>,
    /// The event's `EventData` names, hashed once per event.
    keys: Option<&'a EventKeys>,
}

/// FNV-1a over the ASCII-lowercased bytes of a name, spaces skipped: names that are equal
/// exactly, case-insensitively or ignoring spaces hash alike.
pub(crate) fn norm_hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        if b != b' ' {
            h ^= u64::from(b.to_ascii_lowercase());
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// The normalized hashes of an event's `EventData` names (same order), so that looking a
/// name up compares integers and only verifies the names whose hash agrees.
#[derive(Debug, Default)]
pub struct EventKeys {
    hashes: smallvec::SmallVec<[u64; 32]>,
}

impl EventKeys {
    /// The normalized hashes, in `EventData` order.
    pub(crate) fn hashes(&self) -> &[u64] {
        &self.hashes
    }

    pub fn of(event: &Event) -> EventKeys {
        EventKeys {
            hashes: event
                .winlog
                .event_data
                .iter()
                .map(|(k, _)| norm_hash(k))
                .collect(),
        }
    }
}

/// The System field a Windows name reads (as [`lookup_windows`] decides, in advance).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sys {
    EventId,
    Channel,
    Provider,
    /// `EventData` first, then the System `Computer`.
    Computer,
    RecordId,
    /// `EventData` first, then these System fields.
    Keywords,
    Task,
    Opcode,
    /// `EventData` only.
    None,
}

/// Which values of a Windows event a (non-dotted) field name can read: `EventData` entries
/// whose normalized name hashes to `hash` (when `data`), and the System fields in `sys`
/// (bits of [`sys_bits`]). The prefilter scans only these values for the field's literals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WindowsSource {
    pub hash: u64,
    pub data: bool,
    pub sys: u8,
}

/// Bits of [`WindowsSource::sys`].
pub(crate) mod sys_bits {
    pub const EVENT_ID: u8 = 1;
    pub const CHANNEL: u8 = 2;
    pub const PROVIDER: u8 = 4;
    pub const RECORD_ID: u8 = 8;
    pub const COMPUTER: u8 = 16;
    pub const KEYWORDS: u8 = 32;
    pub const TASK: u8 = 64;
    pub const OPCODE: u8 = 128;
}

impl Sys {
    /// Where a name deciding this System field reads, as [`SigmaView::windows`] does.
    fn source(self, hash: u64) -> WindowsSource {
        use sys_bits::*;
        let (data, sys) = match self {
            Sys::EventId => (false, EVENT_ID),
            Sys::Channel => (false, CHANNEL),
            Sys::Provider => (false, PROVIDER),
            Sys::RecordId => (false, RECORD_ID),
            Sys::Computer => (true, COMPUTER),
            Sys::Keywords => (true, KEYWORDS),
            Sys::Task => (true, TASK),
            Sys::Opcode => (true, OPCODE),
            Sys::None => (true, 0),
        };
        WindowsSource { hash, data, sys }
    }

    fn of(name: &str) -> Sys {
        let is = |x: &str| name.eq_ignore_ascii_case(x);
        if is("EventID") {
            Sys::EventId
        } else if is("Channel") {
            Sys::Channel
        } else if is("Provider_Name") || is("Provider") {
            Sys::Provider
        } else if is("Computer") || is("ComputerName") {
            Sys::Computer
        } else if is("EventRecordID") {
            Sys::RecordId
        } else if is("Keywords") {
            Sys::Keywords
        } else if is("Task") {
            Sys::Task
        } else if is("Opcode") {
            Sys::Opcode
        } else {
            Sys::None
        }
    }
}

/// A small, fast hasher for the field tables (keys are rule field names from the rule set).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type FnvMap<V> = std::collections::HashMap<String, V, std::hash::BuildHasherDefault<Fnv>>;

/// How one rule field name is read on a slot: the plan applied once at load time instead of
/// on every lookup (rename, raw prefix, ECS alternatives).
#[derive(Debug, Clone)]
enum Resolved {
    Windows {
        /// The name after the THOR rename.
        name: String,
        dotted: bool,
        sys: Sys,
        hash: u64,
    },
    Other {
        /// `raw.prefix.name`, tried first.
        raw: Option<String>,
        /// The entry's ECS alternatives for the name, when it has some.
        ecs: Option<Vec<String>>,
        name: String,
    },
}

/// The field names of a slot's rules, resolved through its plan.
#[derive(Debug, Clone, Default)]
pub struct FieldTable {
    names: FnvMap<Resolved>,
}

impl FieldTable {
    /// Resolves `names` through `plan`, exactly as [`SigmaView`] would on each lookup.
    pub fn build<'n>(plan: &FieldPlan, names: impl IntoIterator<Item = &'n str>) -> FieldTable {
        let mut out = FnvMap::default();
        for path in names {
            if out.contains_key(path) {
                continue;
            }
            let name = rename_in(plan, path).into_owned();
            let r = if plan.windows {
                Resolved::Windows {
                    dotted: name.contains('.'),
                    sys: Sys::of(&name),
                    hash: norm_hash(&name),
                    name,
                }
            } else {
                Resolved::Other {
                    raw: plan.raw.as_ref().map(|p| format!("{p}.{name}")),
                    ecs: plan
                        .ecs
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(&name))
                        .map(|(_, v)| v.clone()),
                    name,
                }
            };
            out.insert(path.to_owned(), r);
        }
        FieldTable { names: out }
    }

    /// On a Windows plan, the values a non-dotted `field` reads (`None`: not a resolved
    /// Windows name, or dotted).
    pub(crate) fn windows_source(&self, field: &str) -> Option<WindowsSource> {
        match self.names.get(field)? {
            Resolved::Windows {
                dotted: false,
                sys,
                hash,
                ..
            } => Some(sys.source(*hash)),
            _ => None,
        }
    }

    /// Whether `field` is read through an ECS path on a Windows plan (a dotted name).
    pub fn windows_dotted(&self, field: &str) -> Option<bool> {
        match self.names.get(field)? {
            Resolved::Windows { dotted, .. } => Some(*dotted),
            Resolved::Other { .. } => None,
        }
    }
}

fn rename_in<'p>(plan: &FieldPlan, path: &'p str) -> Cow<'p, str> {
    for (k, v) in &plan.renames {
        if k.eq_ignore_ascii_case(path) {
            return Cow::Owned(v.clone());
        }
    }
    Cow::Borrowed(path)
}

impl<'a> SigmaView<'a> {
    pub fn new(event: &'a Event, plan: &'a FieldPlan) -> Self {
        SigmaView {
            event,
            plan,
            table: None,
            keys: None,
        }
    }

    /// A view that reads the names of `table` without resolving them again (`keys`: the
    /// event's [`EventKeys`], when computed).
    pub fn with_table(
        event: &'a Event,
        plan: &'a FieldPlan,
        table: &'a FieldTable,
        keys: Option<&'a EventKeys>,
    ) -> Self {
        SigmaView {
            event,
            plan,
            table: Some(table),
            keys,
        }
    }

    /// `EventData` by name through the hashed names (same precedence as [`event_data`]).
    fn data(&self, name: &str, hash: u64) -> Option<&'a str> {
        let data = &self.event.winlog.event_data;
        let Some(keys) = self.keys.filter(|k| k.hashes.len() == data.len()) else {
            return event_data(self.event, name);
        };
        let mut folded = None;
        let mut spaced = None;
        for ((k, v), h) in data.iter().zip(&keys.hashes) {
            if *h != hash {
                continue;
            }
            if k == name {
                return Some(v);
            }
            if folded.is_none() {
                if k.eq_ignore_ascii_case(name) {
                    folded = Some(v);
                } else if spaced.is_none() && eq_ignoring_spaces(k, name) {
                    spaced = Some(v);
                }
            }
        }
        folded.or(spaced)
    }

    /// [`lookup_windows`] with the System field decided in advance.
    fn windows(&self, name: &str, sys: Sys, hash: u64) -> Option<Cow<'a, str>> {
        let w = &self.event.winlog;
        let s = |x: Option<&'a str>| x.map(Cow::Borrowed);
        match sys {
            Sys::EventId => w.event_id.map(|n| Cow::Owned(n.to_string())),
            Sys::Channel => s(w.channel.as_deref()),
            Sys::Provider => s(w.provider_name.as_deref()),
            Sys::RecordId => w.record_id.map(|n| Cow::Owned(n.to_string())),
            Sys::Computer => self
                .data(name, hash)
                .map(Cow::Borrowed)
                .or_else(|| s(w.computer_name.as_deref())),
            Sys::Keywords => self
                .data(name, hash)
                .map(Cow::Borrowed)
                .or_else(|| s(w.keywords.as_deref())),
            Sys::Task => self
                .data(name, hash)
                .map(Cow::Borrowed)
                .or_else(|| s(w.task.as_deref())),
            Sys::Opcode => self
                .data(name, hash)
                .map(Cow::Borrowed)
                .or_else(|| s(w.opcode.as_deref())),
            Sys::None => self.data(name, hash).map(Cow::Borrowed),
        }
    }

    fn resolved(&self, r: &Resolved) -> Option<EventValue<'a>> {
        match r {
            Resolved::Windows {
                name,
                dotted,
                sys,
                hash,
            } => {
                if let Some(v) = self.windows(name, *sys, *hash) {
                    return Some(windows_value(v));
                }
                if *dotted {
                    return ecs_value(self.event, name);
                }
                None
            }
            Resolved::Other { raw, ecs, name } => {
                if let Some(raw) = raw
                    && let Some(v) = ecs_value(self.event, raw)
                {
                    return Some(v);
                }
                if let Some(paths) = ecs {
                    return paths.iter().find_map(|p| ecs_value(self.event, p));
                }
                ecs_value(self.event, name)
            }
        }
    }

    fn rename<'p>(&self, path: &'p str) -> Cow<'p, str> {
        rename_in(self.plan, path)
    }
}

/// Reads a Windows field: System fields by their Sigma names, then `EventData`.
pub fn lookup_windows<'e>(event: &'e Event, name: &str) -> Option<Cow<'e, str>> {
    let w = &event.winlog;
    let sys = |s: Option<&'e str>| s.map(Cow::Borrowed);
    if name.eq_ignore_ascii_case("EventID") {
        return w.event_id.map(|n| Cow::Owned(n.to_string()));
    }
    if name.eq_ignore_ascii_case("Channel") {
        return sys(w.channel.as_deref());
    }
    if name.eq_ignore_ascii_case("Provider_Name") || name.eq_ignore_ascii_case("Provider") {
        return sys(w.provider_name.as_deref());
    }
    if name.eq_ignore_ascii_case("Computer") || name.eq_ignore_ascii_case("ComputerName") {
        if let Some(v) = event_data(event, name) {
            return Some(Cow::Borrowed(v));
        }
        return sys(w.computer_name.as_deref());
    }
    if name.eq_ignore_ascii_case("EventRecordID") {
        return w.record_id.map(|n| Cow::Owned(n.to_string()));
    }
    if let Some(v) = event_data(event, name) {
        return Some(Cow::Borrowed(v));
    }
    if name.eq_ignore_ascii_case("Keywords") {
        return sys(w.keywords.as_deref());
    }
    if name.eq_ignore_ascii_case("Task") {
        return sys(w.task.as_deref());
    }
    if name.eq_ignore_ascii_case("Opcode") {
        return sys(w.opcode.as_deref());
    }
    None
}

/// `EventData` by name: the exact name, else the first case-insensitive match, else the first
/// match ignoring spaces — in one pass over the (short) list.
fn event_data<'e>(event: &'e Event, name: &str) -> Option<&'e str> {
    let mut folded = None;
    let mut spaced = None;
    for (k, v) in event.winlog.event_data.iter() {
        if k == name {
            return Some(v);
        }
        if folded.is_some() {
            continue;
        }
        if k.eq_ignore_ascii_case(name) {
            folded = Some(v);
        } else if spaced.is_none()
            && (k.contains(' ') || name.contains(' '))
            && eq_ignoring_spaces(k, name)
        {
            spaced = Some(v);
        }
    }
    folded.or(spaced)
}

/// ASCII case-insensitive equality that skips spaces on both sides.
fn eq_ignoring_spaces(a: &str, b: &str) -> bool {
    let mut x = a.bytes().filter(|c| *c != b' ');
    let mut y = b.bytes().filter(|c| *c != b' ');
    loop {
        match (x.next(), y.next()) {
            (None, None) => return true,
            (Some(p), Some(q)) if p.eq_ignore_ascii_case(&q) => {}
            _ => return false,
        }
    }
}

fn to_event_value(v: FieldValue<'_>) -> EventValue<'_> {
    match v {
        FieldValue::Str(s) => EventValue::Str(Cow::Borrowed(s)),
        FieldValue::UInt(n) => match i64::try_from(n) {
            Ok(i) => EventValue::Int(i),
            Err(_) => EventValue::Str(Cow::Owned(n.to_string())),
        },
        FieldValue::Int(n) => EventValue::Int(n),
        FieldValue::Bool(b) => EventValue::Bool(b),
        FieldValue::Ip(ip) => EventValue::Str(Cow::Owned(ip.to_string())),
        FieldValue::Time(t) => EventValue::Str(Cow::Owned(t.to_rfc3339())),
        FieldValue::Json(j) => other_value(j),
    }
}

/// A vendor value (under `Event::other`) as a Sigma value, borrowing its strings.
fn other_value(v: &OtherValue) -> EventValue<'_> {
    match v {
        OtherValue::Null => EventValue::Null,
        OtherValue::Bool(b) => EventValue::Bool(*b),
        OtherValue::UInt(n) => match i64::try_from(*n) {
            Ok(i) => EventValue::Int(i),
            Err(_) => EventValue::Float(*n as f64),
        },
        OtherValue::Int(n) => EventValue::Int(*n),
        OtherValue::Float(f) => EventValue::Float(*f),
        OtherValue::Str(s) => EventValue::Str(Cow::Borrowed(s.as_str())),
        OtherValue::Array(a) => EventValue::Array(a.iter().map(other_value).collect()),
        OtherValue::Object(o) => EventValue::Map(
            o.iter()
                .map(|(k, v)| (Cow::Borrowed(k), other_value(v)))
                .collect(),
        ),
    }
}

/// All values at an ECS path as one Sigma value (an array when there are several).
fn ecs_value<'e>(event: &'e Event, path: &str) -> Option<EventValue<'e>> {
    // One value (the usual case) without allocating a list.
    let mut first: Option<EventValue<'e>> = None;
    let mut more: Vec<EventValue<'e>> = Vec::new();
    event.for_each_value(path, |v| {
        let v = to_event_value(v);
        match &first {
            None => first = Some(v),
            Some(_) => more.push(v),
        }
    });
    let first = first?;
    if more.is_empty() {
        return Some(first);
    }
    more.insert(0, first);
    Some(EventValue::Array(more))
}

/// Windows values are kept as text in `EventData`; give integers back as integers so numeric
/// comparisons (`|gt`, plain `EventID: 4624`) behave as on the original JSON.
fn windows_value(text: Cow<'_, str>) -> EventValue<'_> {
    let t: &str = &text;
    if !t.is_empty()
        && t.len() < 19
        && t.bytes().all(|b| b.is_ascii_digit())
        && !(t.len() > 1 && t.starts_with('0'))
        && let Ok(n) = t.parse::<i64>()
    {
        return EventValue::Int(n);
    }
    EventValue::Str(text)
}

impl rsigma_eval::Event for SigmaView<'_> {
    fn get_field(&self, path: &str) -> Option<EventValue<'_>> {
        if let Some(t) = self.table
            && let Some(r) = t.names.get(path)
        {
            return self.resolved(r);
        }
        let name = self.rename(path);
        let name: &str = &name;
        if self.plan.windows {
            if let Some(v) = lookup_windows(self.event, name) {
                return Some(windows_value(v));
            }
            if name.contains('.') {
                return ecs_value(self.event, name);
            }
            return None;
        }
        if let Some(prefix) = &self.plan.raw {
            let raw = format!("{prefix}.{name}");
            if let Some(v) = ecs_value(self.event, &raw) {
                return Some(v);
            }
        }
        for (k, paths) in &self.plan.ecs {
            if k.eq_ignore_ascii_case(name) {
                for p in paths {
                    if let Some(v) = ecs_value(self.event, p) {
                        return Some(v);
                    }
                }
                return None;
            }
        }
        ecs_value(self.event, name)
    }

    fn any_string_value(&self, pred: &dyn Fn(&str) -> bool) -> bool {
        let mut hit = false;
        self.visit_string_values(&mut |s| {
            if !hit && pred(s) {
                hit = true;
            }
        });
        hit
    }

    fn all_string_values(&self) -> Vec<Cow<'_, str>> {
        let mut out: Vec<Cow<'_, str>> = Vec::new();
        visit_strings(self.event, self.plan.windows, &mut |s| {
            out.push(Cow::Owned(s.to_owned()))
        });
        out
    }

    fn visit_string_values(&self, visit: &mut dyn FnMut(&str)) {
        visit_strings(self.event, self.plan.windows, visit);
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self.event).unwrap_or(serde_json::Value::Null)
    }
}

/// The string values keyword detections search: `EventData` values for Windows events, the
/// message and the text fields of other events (including vendor fields under `other`).
pub fn visit_strings(event: &Event, windows: bool, visit: &mut dyn FnMut(&str)) {
    if let Some(m) = &event.message {
        visit(m);
    }
    if windows {
        for (_, v) in event.winlog.event_data.iter() {
            visit(v);
        }
        return;
    }
    if let Some(o) = &event.event.original {
        visit(o);
    }
    for path in KEYWORD_PATHS {
        event.for_each_value(path, |v| {
            if let FieldValue::Str(s) = v {
                visit(s);
            }
        });
    }
    fn walk(v: &OtherValue, visit: &mut dyn FnMut(&str), depth: usize) {
        if depth > 32 {
            return;
        }
        match v {
            OtherValue::Str(s) => visit(s),
            OtherValue::Array(a) => a.iter().for_each(|x| walk(x, visit, depth + 1)),
            OtherValue::Object(o) => o.values().for_each(|x| walk(x, visit, depth + 1)),
            _ => {}
        }
    }
    for v in event.other.values() {
        walk(v, visit, 0);
    }
}

const KEYWORD_PATHS: &[&str] = &[
    "url.full",
    "url.original",
    "url.domain",
    "url.path",
    "url.query",
    "user_agent.original",
    "http.request.method",
    "http.request.referrer",
    "dns.question.name",
    "dns.answers.data",
    "tls.client.server_name",
    "user.name",
    "host.name",
    "process.command_line",
    "process.executable",
    "file.name",
    "file.path",
    "email.subject",
    "email.from.address",
    "email.to.address",
    "email.attachments.file.name",
    "destination.domain",
    "rule.name",
];

#[cfg(test)]
mod tests {
    use super::*;
    use rsigma_eval::Event as _;

    fn windows_event() -> Event {
        let mut e = Event::default();
        e.winlog.event_id = Some(4688);
        e.winlog.channel = Some("Security".into());
        e.winlog
            .event_data
            .insert("NewProcessName", "C:\\x\\cmd.exe");
        e.winlog
            .event_data
            .insert("Source Name", "Service Control Manager");
        e.winlog.event_data.insert("ProcessId", "4460");
        e.winlog.event_data.insert("LogonId", "0x3e7");
        e
    }

    fn check(plan: &FieldPlan, event: &Event, field: &str, expect: Option<EventValue<'_>>) {
        let view = SigmaView::new(event, plan);
        assert_eq!(view.get_field(field), expect, "field {field}");
    }

    #[test]
    fn windows_fields_resolve() {
        let e = windows_event();
        let mut plan = FieldPlan {
            windows: true,
            ..Default::default()
        };
        plan.renames.insert("image".into(), "NewProcessName".into());
        let s = |v: &'static str| Some(EventValue::Str(Cow::Borrowed(v)));
        check(&plan, &e, "EventID", Some(EventValue::Int(4688)));
        check(&plan, &e, "Image", s("C:\\x\\cmd.exe"));
        check(&plan, &e, "newprocessname", s("C:\\x\\cmd.exe"));
        check(&plan, &e, "SourceName", s("Service Control Manager"));
        check(&plan, &e, "ProcessId", Some(EventValue::Int(4460)));
        check(&plan, &e, "LogonId", s("0x3e7"));
        check(&plan, &e, "Channel", s("Security"));
        check(&plan, &e, "Missing", None);
    }

    #[test]
    fn ecs_fields_resolve_in_order() {
        let mut e = Event::default();
        e.url.full = Some("http://a.example/x?q=1".into());
        e.dns.answers = vec![
            yagura_model::event::DnsAnswer {
                data: Some("1.2.3.4".into()),
                ..Default::default()
            },
            yagura_model::event::DnsAnswer {
                data: Some("5.6.7.8".into()),
                ..Default::default()
            },
        ];
        e.set_other("zeek.dns.qtype_name", "TXT".into());
        let mut plan = FieldPlan {
            raw: Some("zeek.dns".into()),
            ..Default::default()
        };
        plan.ecs.insert(
            "c-uri".into(),
            vec!["url.original".into(), "url.full".into()],
        );
        plan.ecs
            .insert("answer".into(), vec!["dns.answers.data".into()]);
        check(
            &plan,
            &e,
            "c-uri",
            Some(EventValue::Str(Cow::Borrowed("http://a.example/x?q=1"))),
        );
        check(
            &plan,
            &e,
            "answer",
            Some(EventValue::Array(vec![
                EventValue::Str(Cow::Borrowed("1.2.3.4")),
                EventValue::Str(Cow::Borrowed("5.6.7.8")),
            ])),
        );
        check(
            &plan,
            &e,
            "qtype_name",
            Some(EventValue::Str(Cow::Borrowed("TXT"))),
        );
        check(
            &plan,
            &e,
            "url.full",
            Some(EventValue::Str(Cow::Borrowed("http://a.example/x?q=1"))),
        );
        check(&plan, &e, "nothing", None);
    }

    #[test]
    fn spaces_are_ignored_only_as_a_fallback() {
        assert!(eq_ignoring_spaces("Source Name", "SourceName"));
        assert!(eq_ignoring_spaces("a b", "AB"));
        assert!(!eq_ignoring_spaces("ab", "abc"));
    }
}
