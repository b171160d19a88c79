//! Loading rule sets once and evaluating events against them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rsigma_eval::{CompiledDetection, CompiledMatcher, CompiledRule, EvaluationResult};
use rsigma_parser::{ConditionExpr, CorrelationRule, FilterRule, SigmaCollection, SigmaRule};
use serde::Serialize;
use yagura_model::{AttackId, Event, Severity};

use crate::fields::{EventKeys, FieldTable, SigmaView};
use crate::logsource::{FieldPlan, LogSourceMap, Selector};
use crate::prefilter::{Candidates, Index, IndexStats, Instance, SlotNames};

/// Errors that stop loading altogether (a single bad rule never does).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read rule directory {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Outcome of loading one rule (one YAML document).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LoadStatus {
    Loaded,
    /// Valid Sigma that yagura does not evaluate (log source it does not read, a reference to
    /// a rule that is not loaded, …).
    Unsupported,
    /// Not valid Sigma (YAML, schema, condition or modifier errors).
    Invalid,
}

/// The class of a reason, for the closing summary of `sigma check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReasonClass {
    /// The rule's log source covers nothing yagura reads.
    LogsourceNotRead,
    /// A correlation or filter refers to a rule that is not loaded.
    MissingReference,
    /// The file is not readable text.
    Unreadable,
    /// YAML or Sigma schema error.
    ParseError,
    /// The detection or condition does not compile (bad modifier, regex, condition, …).
    CompileError,
    /// Deprecated or unsupported status in SigmaHQ's own terms, kept out on purpose.
    StatusExcluded,
}

/// One line of the load report.
#[derive(Debug, Clone, Serialize)]
pub struct RuleReport {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub kind: RuleKind,
    pub status: LoadStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class: Option<ReasonClass>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Kind of Sigma document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleKind {
    Detection,
    Correlation,
    Filter,
    Unknown,
}

/// Per-rule load report of a rule set.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LoadReport {
    pub rules: Vec<RuleReport>,
}

impl LoadReport {
    pub fn count(&self, s: LoadStatus) -> usize {
        self.rules.iter().filter(|r| r.status == s).count()
    }

    /// Number of rules per reason class, in class order.
    pub fn classes(&self) -> Vec<(ReasonClass, usize)> {
        let mut m: std::collections::BTreeMap<ReasonClass, usize> = Default::default();
        for r in &self.rules {
            if let Some(c) = r.class {
                *m.entry(c).or_default() += 1;
            }
        }
        m.into_iter().collect()
    }
}

/// What the alert layer needs to know about a loaded rule.
#[derive(Debug, Clone, Serialize)]
pub struct RuleInfo {
    /// The rule's `id`, or `name`, or its title when it has neither.
    pub id: String,
    pub title: String,
    pub severity: Severity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    pub tags: Vec<String>,
    pub attack: Vec<AttackId>,
    pub description: Option<String>,
    pub path: String,
    pub kind: RuleKind,
    pub logsource: String,
    /// Built into yagura rather than loaded from a directory.
    pub builtin: bool,
    /// The log-source slots that serve the rule.
    #[serde(skip)]
    pub(crate) slots: Vec<usize>,
    /// A loaded correlation rule refers to this detection rule.
    #[serde(skip)]
    pub(crate) feeds_correlation: bool,
}

/// A rule that matched an event.
#[derive(Debug, Clone)]
pub struct SigmaMatch<'r> {
    pub rule: &'r RuleInfo,
    /// For correlation rules: the group and the aggregated value.
    pub correlation: Option<CorrelationHit>,
}

/// Details of a correlation firing.
#[derive(Debug, Clone, PartialEq)]
pub struct CorrelationHit {
    pub group: Vec<(String, String)>,
    pub value: f64,
    pub timespan_secs: u64,
}

/// Options of [`RuleSet::load_with`].
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Include the rules built into yagura (`crates/yagura-sigma/rules`).
    pub builtin: bool,
    /// The log-source map; [`LogSourceMap::builtin`] by default.
    pub logsources: LogSourceMap,
    /// Load rules whose status is `deprecated` or `unsupported` too.
    pub include_deprecated: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            builtin: true,
            logsources: LogSourceMap::builtin(),
            include_deprecated: false,
        }
    }
}

/// What a slot needs to read its events: the field plan and its names resolved in advance.
struct SlotData {
    plan: FieldPlan,
    table: FieldTable,
}

/// A compiled rule set: rules compiled once, dispatched by log source, and pre-filtered by one
/// cross-rule Aho–Corasick automaton (see [`crate::prefilter`]) so that most rules are never
/// evaluated on most events.
pub struct RuleSet {
    map: LogSourceMap,
    /// Per slot: its plan, when some rule is served by it.
    slots: Vec<Option<SlotData>>,
    /// Compiled detection rules; index `i` is `rules[i]`.
    compiled: Vec<CompiledRule>,
    /// Prefilter over every (slot, detection rule) instance.
    index: Index,
    /// Prefilter over the instances of detection rules that feed correlations.
    corr_index: Index,
    rules: Vec<RuleInfo>,
    pub(crate) correlations: Vec<CorrelationRule>,
    /// Detection rules referenced by correlations (by id or name), for the correlator.
    pub(crate) referenced: Vec<SigmaRule>,
    /// Detection rules referenced only by correlations without `generate: true`: their
    /// matches feed the correlations and are not reported on their own (Sigma 2.1). Kept
    /// here rather than left to rsigma, whose suppression misses rules referenced by `name`.
    pub(crate) correlation_only: std::collections::HashSet<String>,
    /// key (id / name / title) → index in `rules`, for correlation results.
    by_key: HashMap<String, usize>,
    report: LoadReport,
    timings: LoadTimings,
}

/// Where load time went (seconds of wall time; parse and compile run on every core).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct LoadTimings {
    /// Reading the rule files.
    pub read_s: f64,
    /// YAML parsing and rule compilation (regular expressions included), in parallel.
    pub parse_compile_s: f64,
    /// Log-source dispatch, references, filters, bookkeeping.
    pub assemble_s: f64,
    /// Field tables and the prefilter (the cross-rule automaton).
    pub index_s: f64,
    /// Threads used for parsing and compilation.
    pub threads: usize,
}

impl std::fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleSet")
            .field("rules", &self.rules.len())
            .field("correlations", &self.correlations.len())
            .field("slots", &self.slots.iter().filter(|s| s.is_some()).count())
            .field("prefilter", &self.index.stats)
            .finish()
    }
}

/// One document read from a file, parsed and (for detection rules) compiled.
enum Doc {
    /// `None` when the rule's status keeps it out (not compiled).
    Rule(Box<SigmaRule>, Option<Result<Box<CompiledRule>, String>>),
    Correlation(Box<CorrelationRule>),
    Filter(Box<FilterRule>),
}

/// One source after parsing.
enum Parsed {
    Unreadable(String),
    Unparsable(String),
    Docs { errors: Vec<String>, docs: Vec<Doc> },
}

struct Source {
    path: String,
    builtin: bool,
    text: Result<String, String>,
}

fn parse_source(text: &Result<String, String>, include_deprecated: bool) -> Parsed {
    let text = match text {
        Ok(t) => t,
        Err(e) => return Parsed::Unreadable(e.clone()),
    };
    match rsigma_parser::parse_sigma_yaml(text) {
        Ok(c) => {
            let SigmaCollection {
                rules,
                correlations,
                filters,
                errors,
                ..
            } = c;
            let mut docs = Vec::with_capacity(rules.len() + correlations.len() + filters.len());
            for r in rules {
                let compiled = status_excluded(r.status, include_deprecated)
                    .is_none()
                    .then(|| {
                        rsigma_eval::compile_rule(&r)
                            .map(Box::new)
                            .map_err(|e| e.to_string())
                    });
                docs.push(Doc::Rule(Box::new(r), compiled));
            }
            docs.extend(
                correlations
                    .into_iter()
                    .map(|c| Doc::Correlation(Box::new(c))),
            );
            docs.extend(filters.into_iter().map(|f| Doc::Filter(Box::new(f))));
            Parsed::Docs { errors, docs }
        }
        Err(e) => Parsed::Unparsable(e.to_string()),
    }
}

/// Parses and compiles every source on every available core (rules are independent; the
/// order of the result is the order of `sources`).
fn parse_all(sources: &[Source], include_deprecated: bool) -> (Vec<Parsed>, usize) {
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .clamp(1, 8)
        .min(sources.len().max(1));
    if threads <= 1 {
        let out = sources
            .iter()
            .map(|s| parse_source(&s.text, include_deprecated))
            .collect();
        return (out, 1);
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut parts: Vec<Vec<(usize, Parsed)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(s) = sources.get(i) else { break };
                        mine.push((i, parse_source(&s.text, include_deprecated)));
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let mut all: Vec<(usize, Parsed)> = parts.iter_mut().flat_map(std::mem::take).collect();
    all.sort_by_key(|(i, _)| *i);
    (all.into_iter().map(|(_, p)| p).collect(), threads)
}

/// The slot facts the prefilter needs.
struct Names<'a> {
    slots: &'a [Option<SlotData>],
}

impl SlotNames for Names<'_> {
    fn slot_count(&self) -> usize {
        self.slots.len()
    }
    fn is_windows(&self, slot: usize) -> bool {
        self.slots
            .get(slot)
            .and_then(Option::as_ref)
            .is_some_and(|s| s.plan.windows)
    }
    fn windows_source(&self, slot: usize, field: &str) -> Option<crate::fields::WindowsSource> {
        self.slots
            .get(slot)
            .and_then(Option::as_ref)
            .and_then(|s| s.table.windows_source(field))
    }
    fn needs_probe(&self, slot: usize, field: &str) -> bool {
        self.slots
            .get(slot)
            .and_then(Option::as_ref)
            .and_then(|s| s.table.windows_dotted(field))
            .unwrap_or(true)
    }
}

/// Every field name a compiled rule reads.
fn field_names<'r>(rule: &'r CompiledRule, out: &mut Vec<&'r str>) {
    fn matcher<'r>(m: &'r CompiledMatcher, out: &mut Vec<&'r str>) {
        match m {
            CompiledMatcher::FieldRef { field, .. } => out.push(field),
            CompiledMatcher::Not(inner) => matcher(inner, out),
            CompiledMatcher::TimestampPart { inner, .. } => matcher(inner, out),
            CompiledMatcher::AnyOf(c) | CompiledMatcher::AllOf(c) => {
                c.iter().for_each(|x| matcher(x, out))
            }
            CompiledMatcher::CaseInsensitiveGroup { children, .. } => {
                children.iter().for_each(|x| matcher(x, out))
            }
            _ => {}
        }
    }
    fn det<'r>(d: &'r CompiledDetection, out: &mut Vec<&'r str>, depth: usize) {
        if depth > 64 {
            return;
        }
        match d {
            CompiledDetection::AllOf(items) => {
                for i in items {
                    if let Some(f) = &i.field {
                        out.push(f);
                    }
                    matcher(&i.matcher, out);
                }
            }
            CompiledDetection::AnyOf(s) | CompiledDetection::And(s) => {
                s.iter().for_each(|x| det(x, out, depth + 1))
            }
            CompiledDetection::Keywords(m) => matcher(m, out),
            CompiledDetection::ArrayMatch { field, .. } => out.push(field),
            CompiledDetection::Conditional { .. } => {}
        }
    }
    for d in rule.detections.values() {
        det(d, out, 0);
    }
}

/// Applies a meta filter to the compiled rules it names (rsigma's semantics: the filter's
/// detections are added under `__filter_N_` names and every condition becomes
/// `(condition) and (filter condition)`).
fn apply_filter(
    rules: &mut [CompiledRule],
    filter: &FilterRule,
    counter: usize,
) -> Result<(), String> {
    use rsigma_parser::FilterRuleTarget;
    let mut dets = Vec::new();
    for (name, d) in &filter.detection.named {
        dets.push((
            name.clone(),
            rsigma_eval::compiler::compile_detection(d).map_err(|e| e.to_string())?,
        ));
    }
    if dets.is_empty() {
        return Ok(());
    }
    let prefixed = |name: &str| format!("__filter_{counter}_{name}");
    let cond = match filter.detection.conditions.first() {
        Some(c) => rewrite_identifiers(c, &prefixed),
        None if dets.len() == 1 => ConditionExpr::Identifier(prefixed(&dets[0].0)),
        None => ConditionExpr::And(
            dets.iter()
                .map(|(n, _)| ConditionExpr::Identifier(prefixed(n)))
                .collect(),
        ),
    };
    for rule in rules.iter_mut() {
        let named = match &filter.rules {
            FilterRuleTarget::Any => true,
            FilterRuleTarget::Specific(refs) => refs
                .iter()
                .any(|r| rule.id.as_deref() == Some(r.as_str()) || rule.title == *r),
        };
        if !named {
            continue;
        }
        if let Some(ls) = &filter.logsource {
            let within = |f: &Option<String>, r: &Option<String>| match f {
                None => true,
                Some(fv) => r.as_ref().is_some_and(|rv| fv.eq_ignore_ascii_case(rv)),
            };
            if !(within(&ls.category, &rule.logsource.category)
                && within(&ls.product, &rule.logsource.product)
                && within(&ls.service, &rule.logsource.service))
            {
                continue;
            }
        }
        for (name, d) in &dets {
            rule.detections.insert(prefixed(name), d.clone());
        }
        rule.conditions = rule
            .conditions
            .iter()
            .map(|c| ConditionExpr::And(vec![c.clone(), cond.clone()]))
            .collect();
    }
    Ok(())
}

fn rewrite_identifiers(e: &ConditionExpr, name: &dyn Fn(&str) -> String) -> ConditionExpr {
    match e {
        ConditionExpr::Identifier(n) => ConditionExpr::Identifier(name(n)),
        ConditionExpr::And(c) => {
            ConditionExpr::And(c.iter().map(|x| rewrite_identifiers(x, name)).collect())
        }
        ConditionExpr::Or(c) => {
            ConditionExpr::Or(c.iter().map(|x| rewrite_identifiers(x, name)).collect())
        }
        ConditionExpr::Not(c) => ConditionExpr::Not(Box::new(rewrite_identifiers(c, name))),
        ConditionExpr::Selector { .. } => e.clone(),
    }
}

/// Which detection rules an evaluation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Which {
    /// Every detection rule.
    All,
    /// Only the rules that feed correlations.
    Correlated,
}

impl RuleSet {
    /// Loads every `.yml`/`.yaml` file under `dirs` (recursively) plus the built-in rules.
    pub fn load<P: AsRef<Path>>(dirs: &[P]) -> Result<RuleSet, LoadError> {
        Self::load_with(dirs, LoadOptions::default())
    }

    /// [`RuleSet::load`] with options.
    pub fn load_with<P: AsRef<Path>>(dirs: &[P], opts: LoadOptions) -> Result<RuleSet, LoadError> {
        let started = std::time::Instant::now();
        let mut sources = Vec::new();
        if opts.builtin {
            for (name, text) in crate::builtin::RULES {
                sources.push(Source {
                    path: format!("builtin:{name}"),
                    builtin: true,
                    text: Ok((*text).to_owned()),
                });
            }
        }
        for d in dirs {
            let mut files = Vec::new();
            collect_files(d.as_ref(), &mut files)?;
            files.sort();
            for f in files {
                let text = std::fs::read(&f)
                    .map_err(|e| e.to_string())
                    .and_then(|b| String::from_utf8(b).map_err(|e| e.to_string()));
                sources.push(Source {
                    path: f.display().to_string(),
                    builtin: false,
                    text,
                });
            }
        }
        Ok(Self::from_sources(
            sources,
            opts,
            started.elapsed().as_secs_f64(),
        ))
    }

    /// Compiles rules from in-memory YAML texts (`(name, text)` pairs), without built-ins.
    pub fn from_texts<'a>(
        texts: impl IntoIterator<Item = (&'a str, &'a str)>,
        logsources: LogSourceMap,
    ) -> RuleSet {
        let sources = texts
            .into_iter()
            .map(|(p, t)| Source {
                path: p.to_owned(),
                builtin: false,
                text: Ok(t.to_owned()),
            })
            .collect();
        Self::from_sources(
            sources,
            LoadOptions {
                builtin: false,
                logsources,
                include_deprecated: false,
            },
            0.0,
        )
    }

    fn from_sources(sources: Vec<Source>, opts: LoadOptions, read_s: f64) -> RuleSet {
        let t0 = std::time::Instant::now();
        let map = opts.logsources;
        let mut report = LoadReport::default();
        let (parsed, threads) = parse_all(&sources, opts.include_deprecated);
        let parse_compile_s = t0.elapsed().as_secs_f64();
        let t1 = std::time::Instant::now();

        let mut rules: Vec<RuleInfo> = Vec::new();
        let mut compiled: Vec<CompiledRule> = Vec::new();
        let mut by_key: HashMap<String, usize> = HashMap::new();
        let mut per_slot: Vec<Vec<u32>> = (0..map.slot_count()).map(|_| Vec::new()).collect();
        let mut detection_asts: HashMap<String, usize> = HashMap::new();
        let mut asts: Vec<SigmaRule> = Vec::new();
        let mut correlations = Vec::new();
        let mut filters = Vec::new();

        for (s, p) in sources.into_iter().zip(parsed) {
            let invalid = |class, reason| RuleReport {
                path: s.path.clone(),
                id: None,
                title: None,
                kind: RuleKind::Unknown,
                status: LoadStatus::Invalid,
                class: Some(class),
                reason: Some(reason),
            };
            let docs = match p {
                Parsed::Unreadable(e) => {
                    report.rules.push(invalid(ReasonClass::Unreadable, e));
                    continue;
                }
                Parsed::Unparsable(e) => {
                    report.rules.push(invalid(ReasonClass::ParseError, e));
                    continue;
                }
                Parsed::Docs { errors, docs } => {
                    for e in errors {
                        report.rules.push(invalid(ReasonClass::ParseError, e));
                    }
                    docs
                }
            };
            for doc in docs {
                match doc {
                    Doc::Rule(rule, compiled_rule) => {
                        let sel = Selector::new(
                            rule.logsource.category.as_deref(),
                            rule.logsource.product.as_deref(),
                            rule.logsource.service.as_deref(),
                        );
                        let mut rep = RuleReport {
                            path: s.path.clone(),
                            id: rule.id.clone(),
                            title: Some(rule.title.clone()),
                            kind: RuleKind::Detection,
                            status: LoadStatus::Loaded,
                            class: None,
                            reason: None,
                        };
                        let c = match compiled_rule {
                            None => {
                                rep.status = LoadStatus::Unsupported;
                                rep.class = Some(ReasonClass::StatusExcluded);
                                rep.reason = status_excluded(rule.status, false);
                                report.rules.push(rep);
                                continue;
                            }
                            Some(Err(e)) => {
                                rep.status = LoadStatus::Invalid;
                                rep.class = Some(ReasonClass::CompileError);
                                rep.reason = Some(e);
                                report.rules.push(rep);
                                continue;
                            }
                            Some(Ok(c)) => c,
                        };
                        let slots = map.slots_for(&sel);
                        if slots.is_empty() {
                            rep.status = LoadStatus::Unsupported;
                            rep.class = Some(ReasonClass::LogsourceNotRead);
                            rep.reason =
                                Some(format!("log source `{sel}` maps to nothing yagura reads"));
                            report.rules.push(rep);
                            continue;
                        }
                        let idx = rules.len();
                        let mut info = info_of_rule(&rule, &s.path, s.builtin, &sel);
                        info.slots = slots.clone();
                        let ast = asts.len();
                        for k in [rule.id.as_ref(), rule.name.as_ref(), Some(&rule.title)]
                            .into_iter()
                            .flatten()
                        {
                            by_key.entry(k.clone()).or_insert(idx);
                            detection_asts.entry(k.clone()).or_insert(ast);
                        }
                        asts.push(*rule);
                        for sl in slots {
                            if let Some(v) = per_slot.get_mut(sl) {
                                v.push(idx as u32);
                            }
                        }
                        rules.push(info);
                        compiled.push(*c);
                        report.rules.push(rep);
                    }
                    Doc::Correlation(c) => correlations.push((s.path.clone(), s.builtin, c)),
                    Doc::Filter(f) => filters.push((s.path.clone(), f)),
                }
            }
        }
        let n_detections = rules.len();

        // Correlations: every referenced rule must be loaded.
        let mut loaded_corr = Vec::new();
        let mut referenced: Vec<SigmaRule> = Vec::new();
        let mut referenced_ids: std::collections::HashSet<String> = Default::default();
        let mut correlation_only: std::collections::HashSet<String> = Default::default();
        let mut feeds_correlation = vec![false; n_detections];
        for (path, builtin, c) in correlations {
            let mut rep = RuleReport {
                path: path.clone(),
                id: c.id.clone(),
                title: Some(c.title.clone()),
                kind: RuleKind::Correlation,
                status: LoadStatus::Loaded,
                class: None,
                reason: None,
            };
            let missing: Vec<&String> = c
                .rules
                .iter()
                .filter(|r| !by_key.contains_key(r.as_str()))
                .collect();
            if !missing.is_empty() {
                rep.status = LoadStatus::Unsupported;
                rep.class = Some(ReasonClass::MissingReference);
                rep.reason = Some(format!(
                    "refers to rules that are not loaded: {}",
                    missing
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                report.rules.push(rep);
                continue;
            }
            if let Err(e) = rsigma_eval::correlation::compile_correlation(&c) {
                rep.status = LoadStatus::Invalid;
                rep.class = Some(ReasonClass::CompileError);
                rep.reason = Some(e.to_string());
                report.rules.push(rep);
                continue;
            }
            for r in &c.rules {
                if let Some(i) = by_key.get(r)
                    && let Some(info) = rules.get(*i)
                {
                    if let Some(f) = feeds_correlation.get_mut(*i) {
                        *f = true;
                    }
                    if !c.generate {
                        correlation_only.insert(info.id.clone());
                    }
                }
                if let Some(ast) = detection_asts.get(r).and_then(|a| asts.get(*a)) {
                    let key = ast.id.clone().unwrap_or_else(|| ast.title.clone());
                    if referenced_ids.insert(key) {
                        referenced.push(ast.clone());
                    }
                }
            }
            let idx = rules.len();
            rules.push(info_of_correlation(&c, &path, builtin));
            for k in [c.id.as_ref(), c.name.as_ref(), Some(&c.title)]
                .into_iter()
                .flatten()
            {
                by_key.entry(k.clone()).or_insert(idx);
            }
            report.rules.push(rep);
            loaded_corr.push(*c);
        }
        drop(asts);

        // Meta filters, applied to the compiled rules they name.
        for (counter, (path, f)) in filters.into_iter().enumerate() {
            let mut rep = RuleReport {
                path,
                id: f.id.clone(),
                title: Some(f.title.clone()),
                kind: RuleKind::Filter,
                status: LoadStatus::Loaded,
                class: None,
                reason: None,
            };
            if let Err(e) = apply_filter(&mut compiled, &f, counter) {
                rep.status = LoadStatus::Invalid;
                rep.class = Some(ReasonClass::CompileError);
                rep.reason = Some(e);
            }
            report.rules.push(rep);
        }
        let assemble_s = t1.elapsed().as_secs_f64();
        let t2 = std::time::Instant::now();

        // Per slot: the plan with the names of its rules resolved; then the prefilters.
        let mut slots: Vec<Option<SlotData>> = Vec::with_capacity(per_slot.len());
        let mut instances = Vec::new();
        let mut corr_instances = Vec::new();
        for (s, members) in per_slot.iter().enumerate() {
            if members.is_empty() {
                slots.push(None);
                continue;
            }
            let plan = map.plan(s);
            let mut names: Vec<&str> = Vec::new();
            for &g in members {
                if let Some(r) = compiled.get(g as usize) {
                    field_names(r, &mut names);
                }
            }
            let table = FieldTable::build(&plan, names);
            slots.push(Some(SlotData { plan, table }));
            let slot = u16::try_from(s).unwrap_or(u16::MAX);
            for &g in members {
                instances.push(Instance { slot, rule: g });
                if feeds_correlation.get(g as usize).copied().unwrap_or(false) {
                    corr_instances.push(Instance { slot, rule: g });
                }
            }
        }
        let names = Names { slots: &slots };
        let index = Index::build(instances, &compiled, &names);
        let corr_index = Index::build(corr_instances, &compiled, &names);
        let index_s = t2.elapsed().as_secs_f64();
        for (info, feeds) in rules.iter_mut().zip(&feeds_correlation) {
            info.feeds_correlation = *feeds;
        }

        RuleSet {
            map,
            slots,
            compiled,
            index,
            corr_index,
            rules,
            correlations: loaded_corr,
            referenced,
            correlation_only,
            by_key,
            report,
            timings: LoadTimings {
                read_s,
                parse_compile_s,
                assemble_s,
                index_s,
                threads,
            },
        }
    }

    /// The per-rule load report.
    pub fn report(&self) -> &LoadReport {
        &self.report
    }

    /// Where load time went.
    pub fn load_timings(&self) -> LoadTimings {
        self.timings
    }

    /// Loaded rules (detections, then correlations).
    pub fn rules(&self) -> &[RuleInfo] {
        &self.rules
    }

    pub fn logsources(&self) -> &LogSourceMap {
        &self.map
    }

    /// Evaluates the detection rules on one event; calls `f` once per matching rule, including
    /// rules that only feed correlations (see [`RuleSet::detect`] for what should be alerted).
    pub fn evaluate<'s>(&'s self, event: &Event, mut f: impl FnMut(SigmaMatch<'s>)) {
        self.evaluate_raw(event, Which::All, |_, _, rule| {
            f(SigmaMatch {
                rule,
                correlation: None,
            })
        });
    }

    /// The stateless half of detection: every detection rule on one event, calling `f` for
    /// each match that is reported on its own — rules referenced only by correlations without
    /// `generate: true` are left out (they feed [`crate::Correlator::correlate`]). Safe to call
    /// from many threads at once.
    pub fn detect<'s>(&'s self, event: &Event, mut f: impl FnMut(SigmaMatch<'s>)) {
        self.evaluate_raw(event, Which::All, |_, _, rule| {
            if !self.correlation_only.contains(&rule.id) {
                f(SigmaMatch {
                    rule,
                    correlation: None,
                })
            }
        });
    }

    /// Whether some loaded correlation rule refers to a detection rule.
    pub fn has_correlations(&self) -> bool {
        !self.correlations.is_empty()
    }

    /// Evaluates and hands out the rsigma results per slot (the correlator needs them).
    /// Each rule is reported at most once per event, for the first slot it matches in.
    pub(crate) fn evaluate_raw<'s>(
        &'s self,
        event: &Event,
        which: Which,
        mut f: impl FnMut(usize, &EvaluationResult, &'s RuleInfo),
    ) {
        let index = match which {
            Which::All => &self.index,
            Which::Correlated => &self.corr_index,
        };
        let mut slots: smallvec::SmallVec<[usize; 8]> = smallvec::SmallVec::new();
        self.map.slots_of(event, |s| {
            if index.serves(s) && !slots.contains(&s) {
                slots.push(s);
            }
        });
        if slots.is_empty() {
            return;
        }
        let keys = (!event.winlog.event_data.is_empty()).then(|| EventKeys::of(event));
        let keys = keys.as_ref();
        let view = |s: usize| match self.slots.get(s).and_then(Option::as_ref) {
            Some(d) => SigmaView::with_table(event, &d.plan, &d.table, keys),
            None => SigmaView::new(event, &EMPTY_PLAN),
        };
        let is_windows = |s: usize| {
            self.slots
                .get(s)
                .and_then(Option::as_ref)
                .is_some_and(|d| d.plan.windows)
        };
        // The candidate bit set is reused by the thread's next event (one allocation per
        // thread instead of one per event); a nested call finds none and makes its own.
        thread_local! {
            static CANDIDATES: std::cell::Cell<Candidates> =
                std::cell::Cell::new(Candidates::default());
        }
        let mut cand = CANDIDATES.with(std::cell::Cell::take);
        index.candidates(event, keys, &slots, is_windows, view, &mut cand);
        let mut seen: smallvec::SmallVec<[u32; 8]> = smallvec::SmallVec::new();
        for &s in &slots {
            let v = view(s);
            for i in cand.iter_range(index.slot_range(s)) {
                let Some(inst) = index.instance(i) else {
                    continue;
                };
                if seen.contains(&inst.rule) {
                    continue;
                }
                let (Some(rule), Some(info)) = (
                    self.compiled.get(inst.rule as usize),
                    self.rules.get(inst.rule as usize),
                ) else {
                    continue;
                };
                if let Some(r) = rsigma_eval::evaluate_rule(rule, &v) {
                    seen.push(inst.rule);
                    f(s, &r, info);
                }
            }
        }
        CANDIDATES.with(|c| c.set(cand));
    }

    /// Evaluates every rule of the event's slots without the prefilter, calling `f` with the
    /// rule index of each match (ascending per slot, each rule once). Slow: for checking that
    /// the prefilter changes nothing (`tests/prefilter.rs`), not for the pipeline.
    #[doc(hidden)]
    pub fn evaluate_exhaustive(&self, event: &Event, mut f: impl FnMut(&RuleInfo)) {
        let mut slots: smallvec::SmallVec<[usize; 8]> = smallvec::SmallVec::new();
        self.map.slots_of(event, |s| {
            if self.index.serves(s) && !slots.contains(&s) {
                slots.push(s);
            }
        });
        let mut seen: Vec<u32> = Vec::new();
        for s in slots {
            let Some(v) = self.view(event, s) else {
                continue;
            };
            for i in self.index.slot_range(s) {
                let Some(inst) = self.index.instance(i) else {
                    continue;
                };
                if seen.contains(&inst.rule) {
                    continue;
                }
                if let (Some(rule), Some(info)) = (
                    self.compiled.get(inst.rule as usize),
                    self.rules.get(inst.rule as usize),
                ) && rsigma_eval::evaluate_rule(rule, &v).is_some()
                {
                    seen.push(inst.rule);
                    f(info);
                }
            }
        }
    }

    /// Whether the rule's log source covers the event (the rule would be evaluated on it).
    pub fn covers(&self, rule: &RuleInfo, event: &Event) -> bool {
        let mut hit = false;
        self.map.slots_of(event, |s| hit |= rule.slots.contains(&s));
        hit
    }

    /// The view of an event through a slot (for the correlator).
    pub(crate) fn view<'a>(&'a self, event: &'a Event, slot: usize) -> Option<SigmaView<'a>> {
        self.slots
            .get(slot)
            .and_then(Option::as_ref)
            .map(|d| SigmaView::with_table(event, &d.plan, &d.table, None))
    }

    pub(crate) fn rule_by_key(&self, key: &str) -> Option<&RuleInfo> {
        self.by_key.get(key).and_then(|i| self.rules.get(*i))
    }

    /// Number of log-source slots serving rules and of (slot, rule) instances (a rule served
    /// by two slots counts twice; it is compiled once).
    pub fn engine_stats(&self) -> (usize, usize) {
        let engines = self.slots.iter().flatten().count();
        (engines, self.index.stats.instances)
    }

    /// What the prefilter could do with the loaded rules.
    pub fn prefilter_stats(&self) -> IndexStats {
        self.index.stats
    }
}

static EMPTY_PLAN: std::sync::LazyLock<FieldPlan> = std::sync::LazyLock::new(FieldPlan::default);

fn status_excluded(s: Option<rsigma_parser::Status>, include: bool) -> Option<String> {
    use rsigma_parser::Status;
    if include {
        return None;
    }
    match s {
        Some(Status::Deprecated) => {
            Some("status `deprecated`: superseded rule, not evaluated".into())
        }
        Some(Status::Unsupported) => {
            Some("status `unsupported`: marked by its authors as not usable as is".into())
        }
        _ => None,
    }
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let io = |e| LoadError::Io {
        path: dir.to_path_buf(),
        source: e,
    };
    let meta = std::fs::metadata(dir).map_err(io)?;
    if meta.is_file() {
        out.push(dir.to_path_buf());
        return Ok(());
    }
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let p = entry.path();
        let ft = entry.file_type().map_err(io)?;
        if ft.is_dir() {
            collect_files(&p, out)?;
        } else if p
            .extension()
            .is_some_and(|x| x.eq_ignore_ascii_case("yml") || x.eq_ignore_ascii_case("yaml"))
        {
            out.push(p);
        }
    }
    Ok(())
}

fn severity_of(level: Option<rsigma_parser::Level>) -> Severity {
    level
        .and_then(|l| l.as_str().parse().ok())
        .unwrap_or(Severity::Medium)
}

fn attack_of(tags: &[String]) -> Vec<AttackId> {
    let mut out: Vec<AttackId> = Vec::new();
    for t in tags {
        let lower = t.to_ascii_lowercase();
        if let Some(rest) = lower.strip_prefix("attack.")
            && rest.starts_with('t')
            && let Ok(id) = AttackId::parse(t)
            && !out.contains(&id)
        {
            out.push(id);
        }
    }
    out
}

fn info_of_rule(r: &SigmaRule, path: &str, builtin: bool, sel: &Selector) -> RuleInfo {
    RuleInfo {
        id: r
            .id
            .clone()
            .or_else(|| r.name.clone())
            .unwrap_or_else(|| r.title.clone()),
        title: r.title.clone(),
        severity: severity_of(r.level),
        status: r.status.map(|s| format!("{s:?}").to_ascii_lowercase()),
        tags: r.tags.clone(),
        attack: attack_of(&r.tags),
        description: r.description.clone(),
        path: path.to_owned(),
        kind: RuleKind::Detection,
        logsource: sel.to_string(),
        builtin,
        slots: Vec::new(),
        feeds_correlation: false,
    }
}

fn info_of_correlation(c: &CorrelationRule, path: &str, builtin: bool) -> RuleInfo {
    RuleInfo {
        id: c
            .id
            .clone()
            .or_else(|| c.name.clone())
            .unwrap_or_else(|| c.title.clone()),
        title: c.title.clone(),
        severity: severity_of(c.level),
        status: c.status.map(|s| format!("{s:?}").to_ascii_lowercase()),
        tags: c.tags.clone(),
        attack: attack_of(&c.tags),
        description: c.description.clone(),
        path: path.to_owned(),
        kind: RuleKind::Correlation,
        logsource: String::new(),
        builtin,
        slots: Vec::new(),
        feeds_correlation: false,
    }
}
