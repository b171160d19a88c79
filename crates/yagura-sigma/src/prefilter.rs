//! The cross-rule prefilter: which rules can possibly match an event, decided with one
//! multi-pattern automaton over the literals of every rule instead of evaluating every rule.
//!
//! **Rule side (load time).** Each compiled rule is reduced to a *need*: either `Open` (no
//! cheap necessary condition, the rule is always evaluated) or a set of atoms of which at least
//! one holds on every event the rule matches. The reduction walks the condition: `or` unions the
//! atoms of its branches, `and` keeps the most selective branch, `not` gives nothing. A detection
//! item yields the literals of its matcher (`contains`/`startswith`/`endswith`/exact values, the
//! mandatory literals of a regular expression) or, failing that, the presence of its field.
//!
//! **Event side.** Literals are matched case-insensitively (ASCII folding; values that are not
//! ASCII are lowercased first, as the matchers do) by Aho–Corasick automata:
//! * Windows slots: every value the view can return for a non-dotted name (EventData values and
//!   the System fields) plus the message is scanned once, whatever field the literal belongs to
//!   (a superset of what the rule looks at, never a subset), by one automaton shared by every
//!   slot;
//! * keyword literals: the strings keyword detections search, by the same shared automaton;
//! * other slots, and dotted names on Windows slots: the field is read through the slot's view
//!   and its value scanned by an automaton holding only that (slot, field)'s literals.
//!
//! A rule is evaluated only when one of its atoms holds. The prefilter never decides a match:
//! candidates are evaluated in full by rsigma, so results are exactly those of evaluating every
//! rule (the regression and differential tests check this on the real rule set).

use std::borrow::Cow;

use rsigma_eval::matcher::GroupMode;
use rsigma_eval::{CompiledDetection, CompiledMatcher, CompiledRule, EventValue};
use rsigma_parser::{ConditionExpr, Quantifier};
use sigma_aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use yagura_model::Event;

use crate::fields::{EventKeys, WindowsSource};

/// One necessary condition of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Atom {
    /// The value of `field` (any string value searched by keywords when `None`) contains
    /// `lit` (lower-case ASCII), case-insensitively.
    Lit { field: Option<String>, lit: String },
    /// `field` is present.
    Present(String),
    /// `field` holds a number equal to this one (`f64` bits) as rsigma's `NumericEq` compares:
    /// `EventID: 4728` and the like, which presence alone cannot tell apart.
    Num { field: String, bits: u64 },
}

impl Atom {
    /// Lower is more selective.
    fn rank(&self) -> u8 {
        match self {
            Atom::Lit { lit, .. } if lit.len() >= 6 => 0,
            // An exact number on a named field (`EventID: 4663`): selective, but some event
            // ids make up much of a channel (measured: ranking numbers above long literals
            // raised the candidates per EVTX-ATTACK-SAMPLES event from 5.5 to 8.3).
            Atom::Num { .. } => 1,
            Atom::Lit { lit, .. } if lit.len() >= 3 => 1,
            Atom::Lit { field: Some(_), .. } => 2,
            Atom::Lit { field: None, .. } => 3,
            Atom::Present(_) => 4,
        }
    }
}

#[derive(Debug, Clone)]
enum Need {
    Open,
    Any(Vec<Atom>),
}

fn or_all(parts: impl IntoIterator<Item = Need>) -> Need {
    let mut out = Vec::new();
    for p in parts {
        match p {
            Need::Open => return Need::Open,
            Need::Any(a) => out.extend(a),
        }
    }
    if out.is_empty() {
        Need::Open
    } else {
        Need::Any(out)
    }
}

fn and_best(parts: impl IntoIterator<Item = Need>) -> Need {
    // Lower is better: the worst atom's rank, then fewer atoms, then a longer shortest
    // literal (of `ObjectServer: Security` and `ObjectName|startswith: \Device\CdRom`, the
    // second is far rarer).
    let score = |a: &[Atom]| {
        let shortest = a
            .iter()
            .map(|x| match x {
                Atom::Lit { lit, .. } => lit.len(),
                _ => usize::MAX,
            })
            .min()
            .unwrap_or(0);
        (
            a.iter().map(Atom::rank).max().unwrap_or(u8::MAX),
            a.len(),
            std::cmp::Reverse(shortest),
        )
    };
    let mut best: Option<Vec<Atom>> = None;
    for p in parts {
        if let Need::Any(a) = p
            && !a.is_empty()
            && best.as_ref().is_none_or(|b| score(&a) < score(b))
        {
            best = Some(a);
        }
    }
    best.map_or(Need::Open, Need::Any)
}

/// The necessary condition of a compiled rule.
fn need_of_rule(rule: &CompiledRule) -> Need {
    if rule.conditions.is_empty() {
        return Need::Open;
    }
    let mut need = or_all(
        rule.conditions
            .iter()
            .map(|c| need_of_condition(c, &rule.detections, 0)),
    );
    if let Need::Any(a) = &mut need {
        let mut seen = Vec::with_capacity(a.len());
        a.retain(|x| {
            if seen.contains(x) {
                false
            } else {
                seen.push(x.clone());
                true
            }
        });
    }
    need
}

type Detections = std::collections::HashMap<String, CompiledDetection>;

fn need_of_condition(c: &ConditionExpr, dets: &Detections, depth: usize) -> Need {
    if depth > 64 {
        return Need::Open;
    }
    match c {
        ConditionExpr::Identifier(name) => dets.get(name).map_or(Need::Open, need_of_detection),
        ConditionExpr::And(parts) => {
            and_best(parts.iter().map(|p| need_of_condition(p, dets, depth + 1)))
        }
        ConditionExpr::Or(parts) => {
            or_all(parts.iter().map(|p| need_of_condition(p, dets, depth + 1)))
        }
        ConditionExpr::Not(_) => Need::Open,
        ConditionExpr::Selector {
            quantifier,
            pattern,
        } => {
            let selected = dets
                .iter()
                .filter(|(n, _)| pattern.matches_detection_name(n))
                .map(|(_, d)| d);
            match quantifier {
                Quantifier::Count(0) => Need::Open,
                Quantifier::All => and_best(selected.map(need_of_detection)),
                Quantifier::Any | Quantifier::Count(_) => {
                    let v: Vec<Need> = selected.map(need_of_detection).collect();
                    if v.is_empty() { Need::Open } else { or_all(v) }
                }
            }
        }
    }
}

fn need_of_detection(d: &CompiledDetection) -> Need {
    match d {
        CompiledDetection::AllOf(items) => and_best(items.iter().map(|i| {
            let Some(field) = i.field.as_deref() else {
                return need_of_matcher(&i.matcher, None);
            };
            match i.exists {
                Some(true) => return Need::Any(vec![Atom::Present(field.to_owned())]),
                Some(false) => return Need::Open,
                None => {}
            }
            if matches!(i.matcher, CompiledMatcher::Null) {
                // Matches when the field is absent.
                return Need::Open;
            }
            // Any other matcher fails on an absent field: presence at least.
            match need_of_matcher(&i.matcher, Some(field)) {
                Need::Any(a) => Need::Any(a),
                Need::Open => Need::Any(vec![Atom::Present(field.to_owned())]),
            }
        })),
        CompiledDetection::AnyOf(subs) => {
            if subs.is_empty() {
                Need::Open
            } else {
                or_all(subs.iter().map(need_of_detection))
            }
        }
        CompiledDetection::And(subs) => and_best(subs.iter().map(need_of_detection)),
        CompiledDetection::Keywords(m) => need_of_matcher(m, None),
        CompiledDetection::ArrayMatch {
            field, quantifier, ..
        } => {
            use rsigma_parser::ArrayQuantifier;
            match quantifier {
                ArrayQuantifier::Any | ArrayQuantifier::All => {
                    Need::Any(vec![Atom::Present(field.clone())])
                }
                _ => Need::Open,
            }
        }
        CompiledDetection::Conditional { .. } => Need::Open,
    }
}

fn lit_need(value: &str, field: Option<&str>) -> Need {
    match literal_of(value) {
        Some(lit) => Need::Any(vec![Atom::Lit {
            field: field.map(str::to_owned),
            lit,
        }]),
        None => Need::Open,
    }
}

/// The longest ASCII run of a literal, lower-cased: every string containing the literal (in
/// any case, or lowercased as the matchers lowercase) contains the run ASCII-case-insensitively.
fn literal_of(value: &str) -> Option<String> {
    let run = value
        .split(|c: char| !c.is_ascii())
        .max_by_key(|r| r.len())
        .unwrap_or("");
    if run.is_empty() {
        None
    } else {
        Some(run.to_ascii_lowercase())
    }
}

fn need_of_matcher(m: &CompiledMatcher, field: Option<&str>) -> Need {
    match m {
        CompiledMatcher::Exact { value, .. }
        | CompiledMatcher::Contains { value, .. }
        | CompiledMatcher::StartsWith { value, .. }
        | CompiledMatcher::EndsWith { value, .. } => lit_need(value, field),
        CompiledMatcher::AhoCorasickSet { needles, .. } => {
            or_all(needles.iter().map(|n| lit_need(n, field)))
        }
        CompiledMatcher::Regex(re) => regex_need(re.as_str(), field),
        CompiledMatcher::NumericEq(n) => match field {
            Some(f) if !n.is_nan() => Need::Any(vec![Atom::Num {
                field: f.to_owned(),
                bits: n.to_bits(),
            }]),
            _ => Need::Open,
        },
        CompiledMatcher::RegexSetMatch { set, mode } => {
            let parts = set.patterns().iter().map(|p| regex_need(p, field));
            match mode {
                GroupMode::Any => or_all(parts),
                GroupMode::All => and_best(parts),
            }
        }
        CompiledMatcher::AnyOf(children) => {
            if children.is_empty() {
                Need::Open
            } else {
                or_all(children.iter().map(|c| need_of_matcher(c, field)))
            }
        }
        CompiledMatcher::AllOf(children) => {
            and_best(children.iter().map(|c| need_of_matcher(c, field)))
        }
        CompiledMatcher::CaseInsensitiveGroup { children, mode } => {
            let parts = children.iter().map(|c| need_of_matcher(c, field));
            match mode {
                GroupMode::Any if children.is_empty() => Need::Open,
                GroupMode::Any => or_all(parts),
                GroupMode::All => and_best(parts),
            }
        }
        _ => Need::Open,
    }
}

fn regex_need(pattern: &str, field: Option<&str>) -> Need {
    let Ok(hir) = sigma_regex_syntax::Parser::new().parse(pattern) else {
        return Need::Open;
    };
    match hir_literals(&hir, 0) {
        Some(lits) if lits.iter().all(|l| l.len() >= 2) => Need::Any(
            lits.into_iter()
                .map(|lit| Atom::Lit {
                    field: field.map(str::to_owned),
                    lit,
                })
                .collect(),
        ),
        _ => Need::Open,
    }
}

/// The lower-case ASCII letter a character class stands for when it is that letter in any case
/// (`(?i)a` is the class `[Aa]`); `None` for any other class.
fn class_letter(class: &sigma_regex_syntax::hir::Class) -> Option<char> {
    use sigma_regex_syntax::hir::Class;
    let mut chars: Vec<char> = Vec::new();
    match class {
        Class::Unicode(u) => {
            for r in u.iter() {
                if (r.end() as u32) - (r.start() as u32) > 4 {
                    return None;
                }
                chars.extend(r.start()..=r.end());
            }
        }
        Class::Bytes(b) => {
            for r in b.iter() {
                if r.end() - r.start() > 4 {
                    return None;
                }
                chars.extend((r.start()..=r.end()).map(char::from));
            }
        }
    }
    let first = *chars.first()?;
    let lower: String = first.to_lowercase().collect();
    let mut it = lower.chars();
    let c = it.next()?;
    if it.next().is_some() || !c.is_ascii() {
        return None;
    }
    // Every member must lowercase to the same ASCII character (the haystack is lowercased
    // before scanning when it is not ASCII).
    let all = chars.iter().all(|m| {
        let l: String = m.to_lowercase().collect();
        l.len() == 1 && l.starts_with(c)
    });
    all.then_some(c.to_ascii_lowercase())
}

/// Literals such that every string the pattern matches contains one of them.
fn hir_literals(hir: &sigma_regex_syntax::hir::Hir, depth: usize) -> Option<Vec<String>> {
    use sigma_regex_syntax::hir::HirKind;
    if depth > 32 {
        return None;
    }
    match hir.kind() {
        HirKind::Literal(l) => {
            let s = std::str::from_utf8(&l.0).ok()?;
            literal_of(s).map(|x| vec![x])
        }
        HirKind::Class(c) => class_letter(c).map(|c| vec![c.to_string()]),
        HirKind::Concat(children) => {
            // Consecutive literal characters form runs; any run, or any child's own set, is
            // mandatory. Keep the candidate whose weakest literal is longest.
            let mut best: Option<Vec<String>> = None;
            let mut consider = |cand: Vec<String>| {
                let key = |v: &Vec<String>| {
                    (
                        v.iter().map(String::len).min().unwrap_or(0),
                        std::cmp::Reverse(v.len()),
                    )
                };
                if best.as_ref().is_none_or(|b| key(&cand) > key(b)) {
                    best = Some(cand);
                }
            };
            let mut run = String::new();
            for ch in children {
                let piece: Option<String> = match ch.kind() {
                    HirKind::Literal(l) => std::str::from_utf8(&l.0)
                        .ok()
                        .filter(|s| s.is_ascii())
                        .map(str::to_ascii_lowercase),
                    HirKind::Class(c) => class_letter(c).map(|c| c.to_string()),
                    _ => None,
                };
                match piece {
                    Some(p) => run.push_str(&p),
                    None => {
                        if !run.is_empty() {
                            consider(vec![std::mem::take(&mut run)]);
                        }
                        if let Some(set) = hir_literals(ch, depth + 1) {
                            consider(set);
                        }
                    }
                }
            }
            if !run.is_empty() {
                consider(vec![run]);
            }
            best
        }
        HirKind::Alternation(children) => {
            let mut out = Vec::new();
            for c in children {
                out.extend(hir_literals(c, depth + 1)?);
            }
            Some(out)
        }
        HirKind::Repetition(r) if r.min >= 1 => hir_literals(&r.sub, depth + 1),
        HirKind::Capture(c) => hir_literals(&c.sub, depth + 1),
        _ => None,
    }
}

/// A literal found by the shared automaton (Windows values and keyword strings; probed fields
/// have their own, see [`Probe`]).
#[derive(Debug, Clone, Copy)]
struct Entry {
    slot: u16,
    /// Windows scan literals of a resolved field: the values the field reads; the literal
    /// counts only when found in one of them. `None`: found in any scanned value.
    src: Option<WindowsSource>,
    /// Instance number (position in [`Index::instances`]).
    inst: u32,
}

/// One slot's share of the index.
#[derive(Debug, Default)]
struct SlotPart {
    /// Instances of the slot: `first..first + len` in [`Index::instances`].
    first: u32,
    len: u32,
    /// Instances evaluated on every event of the slot.
    always: Vec<u32>,
    /// Field → instances that need it present.
    presence: Vec<(String, Vec<u32>)>,
    /// Field → (number, instance) sorted by number: instances that need the field to equal
    /// the number (see [`mark_numeric`]).
    numeric: Vec<(String, Vec<(f64, u32)>)>,
    /// Fields read and scanned individually, each with an automaton over only its literals.
    probes: Vec<Probe>,
    /// Whether some instance has a literal for the shared automaton (Windows values, keywords).
    has_scan: bool,
    /// Windows slots: which values the shared automaton's literals can be found in — every value
    /// (`scan_all`: keyword literals, or a name the slot's table does not resolve), else the
    /// `EventData` entries whose normalized name hashes to one of `scan_keys` (sorted) and the
    /// System fields of `scan_sys`.
    scan_all: bool,
    scan_keys: Vec<u64>,
    scan_sys: u8,
}

/// A probed field of a slot: its literals in an automaton of their own, so that scanning the
/// field's value neither walks nor reports the thousands of other literals (measured: with
/// every SigmaHQ rule loaded, scanning proxy and DNS fields through the automaton of all
/// literals was most of Sigma's cost on network events).
#[derive(Default)]
struct Probe {
    field: String,
    /// Literals (deduplicated) and their positions, until the automaton is built.
    patterns: Vec<String>,
    ids: std::collections::HashMap<String, usize>,
    automaton: Option<AhoCorasick>,
    /// Pattern → instances it makes candidates.
    insts: Vec<Vec<u32>>,
}

impl std::fmt::Debug for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probe")
            .field("field", &self.field)
            .field("patterns", &self.insts.len())
            .finish()
    }
}

impl Probe {
    fn add(&mut self, lit: String, inst: u32) {
        match self.ids.get(&lit) {
            Some(&pid) => {
                if let Some(v) = self.insts.get_mut(pid)
                    && v.last() != Some(&inst)
                {
                    v.push(inst);
                }
            }
            None => {
                self.ids.insert(lit.clone(), self.patterns.len());
                self.patterns.push(lit);
                self.insts.push(vec![inst]);
            }
        }
    }

    /// Builds the automaton; false if it cannot be built.
    fn finish(&mut self) -> bool {
        self.ids = Default::default();
        self.automaton = automaton(&std::mem::take(&mut self.patterns));
        self.automaton.is_some()
    }
}

fn automaton(patterns: &[String]) -> Option<AhoCorasick> {
    if patterns.is_empty() {
        return None;
    }
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::Standard)
        // Measured: a DFA over the ~14,000 SigmaHQ literals scans ~10% faster but
        // costs ~150 MiB and 1.3 s more to build; the contiguous NFA is the balance.
        .kind(Some(AhoCorasickKind::ContiguousNFA))
        .build(patterns)
        .ok()
}

/// A compiled rule as placed in a slot.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Instance {
    pub slot: u16,
    /// Index of the rule in the rule set's compiled store.
    pub rule: u32,
}

/// The prefilter over a set of (slot, rule) instances.
pub(crate) struct Index {
    instances: Vec<Instance>,
    slots: Vec<SlotPart>,
    automaton: Option<AhoCorasick>,
    /// Pattern → entries.
    entries: Vec<Vec<Entry>>,
    /// Statistics: instances by kind (open, presence only, literal).
    pub stats: IndexStats,
}

/// What the prefilter could do with the rules it holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndexStats {
    pub instances: usize,
    /// Evaluated on every event of their log source (no necessary literal or field).
    pub always: usize,
    /// Candidates when a field is present (no literal or number; e.g. `|cidr` or `|gt`).
    pub presence: usize,
    /// Candidates only when one of their literals occurs (or, for some of their atoms, a
    /// number equals).
    pub literal: usize,
    /// Candidates only when a field equals one of their numbers (e.g. `EventID: 4728`) or is
    /// present.
    pub numeric: usize,
    pub patterns: usize,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index").field("stats", &self.stats).finish()
    }
}

/// How a slot reads names: whether it is a Windows slot and how a rule name is renamed.
pub(crate) trait SlotNames {
    fn slot_count(&self) -> usize;
    fn is_windows(&self, slot: usize) -> bool;
    /// Whether, on a Windows slot, `field` can only be read through an ECS path (dotted).
    fn needs_probe(&self, slot: usize, field: &str) -> bool;
    /// On a Windows slot, the values a non-dotted `field` reads.
    fn windows_source(&self, slot: usize, field: &str) -> Option<crate::fields::WindowsSource>;
}

impl Index {
    /// Builds the index. `instances` must be grouped by slot (ascending).
    pub(crate) fn build(
        instances: Vec<Instance>,
        rules: &[CompiledRule],
        names: &impl SlotNames,
    ) -> Index {
        let mut slots: Vec<SlotPart> = (0..names.slot_count())
            .map(|_| SlotPart::default())
            .collect();
        let mut patterns: Vec<String> = Vec::new();
        let mut pattern_ids: std::collections::HashMap<String, usize> = Default::default();
        let mut entries: Vec<Vec<Entry>> = Vec::new();
        let mut stats = IndexStats {
            instances: instances.len(),
            ..Default::default()
        };
        let mut needs_cache: std::collections::HashMap<u32, Need> = Default::default();
        let mut distinct: std::collections::HashSet<String> = Default::default();
        for (i, inst) in instances.iter().enumerate() {
            let i = i as u32;
            let s = inst.slot as usize;
            let Some(part) = slots.get_mut(s) else {
                continue;
            };
            if part.len == 0 {
                part.first = i;
            }
            part.len = i + 1 - part.first;
            let need = needs_cache
                .entry(inst.rule)
                .or_insert_with(|| {
                    rules
                        .get(inst.rule as usize)
                        .map_or(Need::Open, need_of_rule)
                })
                .clone();
            let atoms = match need {
                Need::Open => {
                    part.always.push(i);
                    stats.always += 1;
                    continue;
                }
                Need::Any(a) => a,
            };
            if atoms.iter().any(|a| matches!(a, Atom::Lit { .. })) {
                stats.literal += 1;
            } else if atoms.iter().any(|a| matches!(a, Atom::Num { .. })) {
                stats.numeric += 1;
            } else {
                stats.presence += 1;
            }
            for atom in atoms {
                match atom {
                    Atom::Present(field) => {
                        match part.presence.iter_mut().find(|(f, _)| *f == field) {
                            Some((_, v)) => v.push(i),
                            None => part.presence.push((field, vec![i])),
                        }
                    }
                    Atom::Num { field, bits } => {
                        let n = (f64::from_bits(bits), i);
                        match part.numeric.iter_mut().find(|(f, _)| *f == field) {
                            Some((_, v)) => v.push(n),
                            None => part.numeric.push((field, vec![n])),
                        }
                    }
                    Atom::Lit { field, lit } => {
                        let mut entry_src = None;
                        if names.is_windows(s) {
                            match field.as_deref().map(|f| (f, names.needs_probe(s, f))) {
                                Some((_, true)) => {}
                                Some((f, false)) => match names.windows_source(s, f) {
                                    Some(src) => {
                                        if src.data {
                                            part.scan_keys.push(src.hash);
                                        }
                                        part.scan_sys |= src.sys;
                                        entry_src = Some(src);
                                    }
                                    None => part.scan_all = true,
                                },
                                None => part.scan_all = true,
                            }
                        }
                        distinct.insert(lit.clone());
                        let probe = match field {
                            None => None,
                            Some(f) if names.is_windows(s) && !names.needs_probe(s, &f) => None,
                            Some(f) => Some(f),
                        };
                        if let Some(f) = probe {
                            let pi = match part.probes.iter().position(|p| p.field == f) {
                                Some(p) => p,
                                None => {
                                    part.probes.push(Probe {
                                        field: f,
                                        ..Probe::default()
                                    });
                                    part.probes.len() - 1
                                }
                            };
                            if let Some(p) = part.probes.get_mut(pi) {
                                p.add(lit, i);
                            }
                            continue;
                        }
                        part.has_scan = true;
                        let pid = *pattern_ids.entry(lit.clone()).or_insert_with(|| {
                            patterns.push(lit);
                            entries.push(Vec::new());
                            patterns.len() - 1
                        });
                        let e = Entry {
                            slot: inst.slot,
                            src: entry_src,
                            inst: i,
                        };
                        if let Some(v) = entries.get_mut(pid) {
                            v.push(e);
                        }
                    }
                }
            }
        }
        for part in &mut slots {
            for (_, table) in &mut part.numeric {
                table.sort_by(|a, b| a.0.total_cmp(&b.0));
            }
            part.scan_keys.sort_unstable();
            part.scan_keys.dedup();
        }
        stats.patterns = distinct.len();
        let automaton = automaton(&patterns);
        let mut failed = !patterns.is_empty() && automaton.is_none();
        for part in &mut slots {
            for probe in &mut part.probes {
                failed |= !probe.finish();
            }
        }
        if failed {
            // Cannot happen with plain literals; stay exact by evaluating everything.
            for part in &mut slots {
                part.always = (part.first..part.first + part.len).collect();
            }
        }
        Index {
            instances,
            slots,
            automaton,
            entries,
            stats,
        }
    }

    pub(crate) fn instance(&self, i: u32) -> Option<Instance> {
        self.instances.get(i as usize).copied()
    }

    /// Whether the index holds instances of `slot`.
    pub(crate) fn serves(&self, slot: usize) -> bool {
        self.slots.get(slot).is_some_and(|p| p.len > 0)
    }

    /// Marks the candidate instances of `slots` for an event in `out` (a bit set over
    /// instances). `view(slot)` is the event as the slot's rules see it; `windows_scan` visits
    /// the values a Windows slot's non-dotted names can return, `keyword_scan` the strings
    /// keyword detections search on other slots.
    pub(crate) fn candidates<V: rsigma_eval::Event>(
        &self,
        event: &Event,
        keys: Option<&EventKeys>,
        slots: &[usize],
        is_windows: impl Fn(usize) -> bool,
        view: impl Fn(usize) -> V,
        out: &mut Candidates,
    ) {
        out.reset(self.instances.len());
        let mut scan_win = false;
        let mut scan_kw = false;
        let mut win = WindowsScan::default();
        for &s in slots {
            let Some(part) = self.slots.get(s) else {
                continue;
            };
            if part.len == 0 {
                continue;
            }
            for &i in &part.always {
                out.set(i);
            }
            if !part.presence.is_empty() {
                let v = view(s);
                for (field, insts) in &part.presence {
                    if v.get_field(field).is_some() {
                        for &i in insts {
                            out.set(i);
                        }
                    }
                }
            }
            if !part.numeric.is_empty() {
                let v = view(s);
                for (field, table) in &part.numeric {
                    if let Some(value) = v.get_field(field) {
                        for_each_number(&value, &mut |x| mark_numeric(table, x, out));
                    }
                }
            }
            if part.has_scan {
                if is_windows(s) {
                    scan_win = true;
                    win.all |= part.scan_all;
                    win.sys |= part.scan_sys;
                    if !part.scan_keys.is_empty() {
                        win.keys.push(&part.scan_keys);
                    }
                } else {
                    scan_kw = true;
                }
            }
        }
        for &s in slots {
            let Some(part) = self.slots.get(s) else {
                continue;
            };
            if part.probes.is_empty() {
                continue;
            }
            let v = view(s);
            for probe in &part.probes {
                let Some(ac) = &probe.automaton else {
                    continue;
                };
                if let Some(value) = v.get_field(&probe.field) {
                    for_each_text(&value, &mut |t| {
                        scan(ac, t, |pid| {
                            for &i in probe.insts.get(pid).map_or(&[][..], Vec::as_slice) {
                                out.set(i);
                            }
                        })
                    });
                }
            }
        }
        let Some(ac) = &self.automaton else {
            return;
        };
        let mut mark = |hay: &str, found: Found| {
            let windows = !matches!(found, Found::Keyword);
            scan(ac, hay, |pid| {
                let Some(list) = self.entries.get(pid) else {
                    return;
                };
                for e in list {
                    if is_windows(e.slot as usize) == windows
                        && found.reaches(e.src)
                        && slots.contains(&(e.slot as usize))
                    {
                        out.set(e.inst);
                    }
                }
            })
        };
        if scan_win {
            windows_values(event, keys, &win, &mut |v, found| mark(v, found));
        }
        if scan_kw {
            crate::fields::visit_strings(event, false, &mut |v| mark(v, Found::Keyword));
        }
    }

    /// The instances of `slot`, in order.
    pub(crate) fn slot_range(&self, slot: usize) -> std::ops::Range<u32> {
        self.slots
            .get(slot)
            .map_or(0..0, |p| p.first..p.first + p.len)
    }
}

/// Runs the automaton over a value, folding non-ASCII values as the matchers do.
fn scan(ac: &AhoCorasick, hay: &str, mut hit: impl FnMut(usize)) {
    let folded: Cow<'_, str> = if hay.is_ascii() {
        Cow::Borrowed(hay)
    } else {
        Cow::Owned(hay.to_lowercase())
    };
    for m in ac.find_overlapping_iter(folded.as_ref()) {
        hit(m.pattern().as_usize());
    }
}

/// The texts a value is matched as (numbers and booleans as the string matchers see them).
fn for_each_text(v: &EventValue<'_>, f: &mut dyn FnMut(&str)) {
    match v {
        EventValue::Str(s) => f(s),
        EventValue::Int(n) => f(&n.to_string()),
        EventValue::Float(x) => f(&x.to_string()),
        EventValue::Bool(b) => f(if *b { "true" } else { "false" }),
        EventValue::Array(a) => a.iter().for_each(|x| for_each_text(x, f)),
        _ => {}
    }
}

/// The numbers a value is compared as by rsigma's numeric matchers (strings parsed as `f64`).
fn for_each_number(v: &EventValue<'_>, f: &mut dyn FnMut(f64)) {
    match v {
        EventValue::Int(n) => f(*n as f64),
        EventValue::Float(x) => f(*x),
        EventValue::Str(s) => {
            if let Ok(x) = s.parse::<f64>() {
                f(x);
            }
        }
        EventValue::Array(a) => a.iter().for_each(|x| for_each_number(x, f)),
        _ => {}
    }
}

/// Marks the instances whose number `n` the event number `x` equals as rsigma's `NumericEq`
/// decides (`(x - n).abs() < f64::EPSILON`). The table is searched over a window wide enough
/// to hold every such `n` (twice the tolerance), and the exact predicate decides inside it.
fn mark_numeric(table: &[(f64, u32)], x: f64, out: &mut Candidates) {
    if x.is_nan() {
        return;
    }
    let (lo, hi) = (x - 2.0 * f64::EPSILON, x + 2.0 * f64::EPSILON);
    let start = table.partition_point(|(n, _)| *n < lo);
    for &(n, inst) in table.get(start..).unwrap_or_default() {
        if n > hi {
            break;
        }
        if (x - n).abs() < f64::EPSILON {
            out.set(inst);
        }
    }
}

/// Where a scanned value came from.
#[derive(Debug, Clone, Copy)]
enum Found {
    /// A string keyword detections search on other slots, or a probed field's value.
    Keyword,
    /// A Windows event's message (no field name reads it).
    WindowsMessage,
    /// A Windows `EventData` entry with this normalized name hash.
    WindowsData(u64),
    /// A Windows System field (a bit of `sys_bits`).
    WindowsSys(u8),
}

impl Found {
    /// Whether a Windows literal reading `src` (`None`: any value) can be found here.
    fn reaches(self, src: Option<WindowsSource>) -> bool {
        let Some(src) = src else {
            return true;
        };
        match self {
            Found::Keyword => true,
            Found::WindowsMessage => false,
            Found::WindowsData(h) => src.data && src.hash == h,
            Found::WindowsSys(bit) => src.sys & bit != 0,
        }
    }
}

/// Which values of a Windows event the literals of its slots can be found in (the union over
/// the slots, see [`SlotPart::scan_all`]).
#[derive(Default)]
struct WindowsScan<'i> {
    all: bool,
    sys: u8,
    keys: smallvec::SmallVec<[&'i [u64]; 4]>,
}

impl WindowsScan<'_> {
    fn wants_key(&self, hash: u64) -> bool {
        self.all || self.keys.iter().any(|k| k.binary_search(&hash).is_ok())
    }

    fn wants_sys(&self, bit: u8) -> bool {
        self.all || self.sys & bit != 0
    }
}

/// The values a Windows slot can return for the names its literals belong to (every value
/// and the message when `scan.all`). A literal of a field is only found in the values that
/// field reads, so skipping the others never drops a candidate.
fn windows_values(
    event: &Event,
    keys: Option<&EventKeys>,
    scan: &WindowsScan<'_>,
    f: &mut dyn FnMut(&str, Found),
) {
    use crate::fields::sys_bits::*;
    let w = &event.winlog;
    if scan.all
        && let Some(m) = &event.message
    {
        f(m, Found::WindowsMessage);
    }
    let hashes = keys
        .map(EventKeys::hashes)
        .filter(|h| h.len() == w.event_data.len());
    for (i, (k, v)) in w.event_data.iter().enumerate() {
        let h = match hashes.and_then(|h| h.get(i)) {
            Some(h) => *h,
            None => crate::fields::norm_hash(k),
        };
        if scan.wants_key(h) {
            f(v, Found::WindowsData(h));
        }
    }
    if let Some(id) = w.event_id
        && scan.wants_sys(EVENT_ID)
    {
        f(&id.to_string(), Found::WindowsSys(EVENT_ID));
    }
    if let Some(r) = w.record_id
        && scan.wants_sys(RECORD_ID)
    {
        f(&r.to_string(), Found::WindowsSys(RECORD_ID));
    }
    for (bit, s) in [
        (CHANNEL, &w.channel),
        (PROVIDER, &w.provider_name),
        (COMPUTER, &w.computer_name),
        (KEYWORDS, &w.keywords),
        (TASK, &w.task),
        (OPCODE, &w.opcode),
    ] {
        if let Some(s) = s
            && scan.wants_sys(bit)
        {
            f(s, Found::WindowsSys(bit));
        }
    }
}

/// A reusable bit set of candidate instances.
#[derive(Debug, Default)]
pub(crate) struct Candidates {
    bits: Vec<u64>,
}

impl Candidates {
    fn reset(&mut self, n: usize) {
        let words = n.div_ceil(64);
        self.bits.clear();
        self.bits.resize(words, 0);
    }

    fn set(&mut self, i: u32) {
        if let Some(w) = self.bits.get_mut((i / 64) as usize) {
            *w |= 1u64 << (i % 64);
        }
    }

    /// Candidates within `range`, ascending.
    pub(crate) fn iter_range(&self, range: std::ops::Range<u32>) -> impl Iterator<Item = u32> + '_ {
        let (start, end) = (range.start, range.end);
        let first_word = (start / 64) as usize;
        let last_word = (end.div_ceil(64) as usize).min(self.bits.len());
        (first_word..last_word).flat_map(move |w| {
            let mut bits = self.bits.get(w).copied().unwrap_or(0);
            let base = (w as u32) * 64;
            if base < start {
                bits &= u64::MAX << (start - base);
            }
            if base + 64 > end {
                let keep = end - base;
                bits &= if keep >= 64 {
                    u64::MAX
                } else {
                    (1u64 << keep) - 1
                };
            }
            std::iter::from_fn(move || {
                if bits == 0 {
                    return None;
                }
                let tz = bits.trailing_zeros();
                bits &= bits - 1;
                Some(base + tz)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn need(yaml: &str) -> Need {
        let c = rsigma_parser::parse_sigma_yaml(yaml).expect("parses");
        let r = rsigma_eval::compile_rule(&c.rules[0]).expect("compiles");
        need_of_rule(&r)
    }

    fn lits(n: &Need) -> Vec<String> {
        match n {
            Need::Open => vec!["<open>".into()],
            Need::Any(a) => a
                .iter()
                .map(|a| match a {
                    Atom::Lit { field, lit } => {
                        format!("{}:{lit}", field.as_deref().unwrap_or("*"))
                    }
                    Atom::Present(f) => format!("{f}?"),
                    Atom::Num { field, bits } => format!("{field}=={}", f64::from_bits(*bits)),
                })
                .collect(),
        }
    }

    fn rule(det: &str) -> String {
        format!("title: t\nlogsource: {{product: windows}}\ndetection:\n{det}")
    }

    #[test]
    fn numbers_are_atoms_and_ties_prefer_the_longer_literal() {
        let n = need(&rule("  sel:\n    EventID: 4728\n  condition: sel\n"));
        assert_eq!(lits(&n), ["EventID==4728"]);
        let n = need(&rule(
            "  sel:\n    EventID:\n      - 4728\n      - 4729\n    SubjectUserName|contains: 'ab'\n  condition: sel\n",
        ));
        assert_eq!(lits(&n), ["EventID==4728", "EventID==4729"]);
        // `ObjectServer: Security` would fire on most Security events; the path is rare.
        let n = need(&rule(
            "  sel:\n    EventID: 4663\n    ObjectServer: 'Security'\n    ObjectName|startswith: '\\Device\\CdRom'\n  condition: sel\n",
        ));
        assert_eq!(lits(&n), ["ObjectName:\\device\\cdrom"]);
    }

    fn marked(table: &[(f64, u32)], x: f64) -> Vec<u32> {
        let mut c = Candidates::default();
        c.reset(64);
        mark_numeric(table, x, &mut c);
        c.iter_range(0..64).collect()
    }

    #[test]
    fn numeric_marks_exactly_what_numeric_eq_matches() {
        let table = [
            (-1.0, 0),
            (0.0, 1),
            (1.0, 2),
            (4728.0, 3),
            (f64::INFINITY, 4),
        ];
        assert_eq!(marked(&table, 4728.0), [3]);
        assert_eq!(marked(&table, 4727.999), Vec::<u32>::new());
        assert_eq!(marked(&table, 1.0 - f64::EPSILON / 4.0), [2]);
        assert_eq!(marked(&table, -0.0), [1]);
        assert_eq!(marked(&table, f64::NAN), Vec::<u32>::new());
        assert_eq!(marked(&table, f64::INFINITY), Vec::<u32>::new());
    }

    use proptest::strategy::Strategy as _;

    proptest::proptest! {
        /// The windowed search never drops an instance the matcher's predicate accepts, and
        /// marks none it rejects.
        #[test]
        fn numeric_window_is_exact(
            mut ns in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::num::f64::NORMAL | proptest::num::f64::ZERO | proptest::num::f64::SUBNORMAL,
                    (-3i64..3).prop_map(|k| 1.0 + k as f64 * f64::EPSILON / 2.0),
                    (-4i64..5000).prop_map(|k| k as f64),
                ],
                1..20,
            ),
            x in proptest::prop_oneof![
                proptest::num::f64::ANY,
                (-3i64..3).prop_map(|k| 1.0 + k as f64 * f64::EPSILON / 2.0),
                (-4i64..5000).prop_map(|k| k as f64),
            ],
        ) {
            ns.sort_by(|a, b| a.total_cmp(b));
            let table: Vec<(f64, u32)> = ns.iter().enumerate().map(|(i, n)| (*n, i as u32)).collect();
            let want: Vec<u32> = table
                .iter()
                .filter(|(n, _)| (x - n).abs() < f64::EPSILON)
                .map(|(_, i)| *i)
                .collect();
            proptest::prop_assert_eq!(marked(&table, x), want);
        }
    }

    #[test]
    fn and_keeps_the_most_selective_part_or_unions() {
        let n = need(&rule(
            "  sel:\n    Image|endswith: '\\WhoAmI.exe'\n    User|contains: 'a'\n  condition: sel\n",
        ));
        assert_eq!(lits(&n), ["Image:\\whoami.exe"]);
        let n = need(&rule(
            "  a:\n    Image|endswith: '\\cmd.exe'\n  b:\n    CommandLine|contains: 'vssadmin'\n  condition: a or b\n",
        ));
        assert_eq!(lits(&n), ["Image:\\cmd.exe", "CommandLine:vssadmin"]);
        let n = need(&rule("  a:\n    Image: 'x'\n  condition: not a\n"));
        assert_eq!(lits(&n), ["<open>"]);
    }

    #[test]
    fn numeric_and_null_items() {
        let n = need(&rule("  a:\n    Count|gt: 5\n  condition: a\n"));
        assert_eq!(lits(&n), ["Count?"]);
        let n = need(&rule("  a:\n    Missing: null\n  condition: a\n"));
        assert_eq!(lits(&n), ["<open>"]);
    }

    #[test]
    fn regex_and_wildcard_literals() {
        let n = need(&rule(
            "  a:\n    CommandLine|re: '(?i)invoke-(mimikatz|kerberoast)'\n  condition: a\n",
        ));
        // The alternation's literals are longer than `invoke-`; `s` is not folded (its class
        // holds `ſ`, which does not lowercase to `s`), so `kerberoast` keeps `kerberoa`.
        assert_eq!(lits(&n), ["CommandLine:mimikatz", "CommandLine:kerberoa"]);
        let n = need(&rule(
            "  a:\n    Image: 'C:\\Users*AppData\\Local\\Temp*.exe'\n  condition: a\n",
        ));
        // (`\*` would be an escaped, literal asterisk.) A wildcard value is a regex or a
        // prefix/contains/suffix conjunction; either way one of its long runs is kept.
        let l = lits(&n);
        assert!(
            l == ["Image:appdata\\local\\temp"] || l == ["Image:c:\\users"],
            "{l:?}"
        );
        let n = need(&rule(
            "  a:\n    - 'mimikatz'\n    - 'sekurlsa'\n  condition: a\n",
        ));
        assert_eq!(lits(&n), ["*:mimikatz", "*:sekurlsa"]);
    }

    #[test]
    fn non_ascii_literals_keep_their_ascii_run() {
        assert_eq!(literal_of("Ünïcode-pårt"), Some("code-p".into()));
        assert_eq!(literal_of("ÄÖÜ"), None);
    }
}
