//! Loading rule sets once and evaluating events against them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rsigma_eval::{CompiledRule, Engine, EvaluationResult};
use rsigma_parser::{CorrelationRule, FilterRule, SigmaCollection, SigmaRule};
use serde::Serialize;
use yagura_model::{AttackId, Event, Severity};

use crate::fields::SigmaView;
use crate::logsource::{FieldPlan, LogSourceMap, Selector};

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

struct Slot {
    engine: Engine,
    plan: FieldPlan,
    /// rule key (id or title) → global rule index.
    keys: HashMap<String, usize>,
}

/// A compiled rule set: rules dispatched by log source, each slot with its own rsigma engine
/// (inverted index plus one cross-rule Aho–Corasick automaton over the rules' literals).
pub struct RuleSet {
    map: LogSourceMap,
    slots: Vec<Option<Slot>>,
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
}

impl std::fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleSet")
            .field("rules", &self.rules.len())
            .field("correlations", &self.correlations.len())
            .field("slots", &self.slots.iter().filter(|s| s.is_some()).count())
            .finish()
    }
}

/// One document read from a file, before compilation.
enum Doc {
    Rule(Box<SigmaRule>),
    Correlation(Box<CorrelationRule>),
    Filter(Box<FilterRule>),
}

struct Source {
    path: String,
    builtin: bool,
    text: Result<String, String>,
}

impl RuleSet {
    /// Loads every `.yml`/`.yaml` file under `dirs` (recursively) plus the built-in rules.
    pub fn load<P: AsRef<Path>>(dirs: &[P]) -> Result<RuleSet, LoadError> {
        Self::load_with(dirs, LoadOptions::default())
    }

    /// [`RuleSet::load`] with options.
    pub fn load_with<P: AsRef<Path>>(dirs: &[P], opts: LoadOptions) -> Result<RuleSet, LoadError> {
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
        Ok(Self::from_sources(sources, opts))
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
        )
    }

    fn from_sources(sources: Vec<Source>, opts: LoadOptions) -> RuleSet {
        let map = opts.logsources;
        let mut report = LoadReport::default();
        let mut docs: Vec<(String, bool, Doc)> = Vec::new();
        for s in sources {
            let text = match s.text {
                Ok(t) => t,
                Err(e) => {
                    report.rules.push(RuleReport {
                        path: s.path,
                        id: None,
                        title: None,
                        kind: RuleKind::Unknown,
                        status: LoadStatus::Invalid,
                        class: Some(ReasonClass::Unreadable),
                        reason: Some(e),
                    });
                    continue;
                }
            };
            match rsigma_parser::parse_sigma_yaml(&text) {
                Ok(c) => {
                    let SigmaCollection {
                        rules,
                        correlations,
                        filters,
                        errors,
                        ..
                    } = c;
                    for e in errors {
                        report.rules.push(RuleReport {
                            path: s.path.clone(),
                            id: None,
                            title: None,
                            kind: RuleKind::Unknown,
                            status: LoadStatus::Invalid,
                            class: Some(ReasonClass::ParseError),
                            reason: Some(e),
                        });
                    }
                    docs.extend(
                        rules
                            .into_iter()
                            .map(|r| (s.path.clone(), s.builtin, Doc::Rule(Box::new(r)))),
                    );
                    docs.extend(
                        correlations
                            .into_iter()
                            .map(|r| (s.path.clone(), s.builtin, Doc::Correlation(Box::new(r)))),
                    );
                    docs.extend(
                        filters
                            .into_iter()
                            .map(|r| (s.path.clone(), s.builtin, Doc::Filter(Box::new(r)))),
                    );
                }
                Err(e) => report.rules.push(RuleReport {
                    path: s.path,
                    id: None,
                    title: None,
                    kind: RuleKind::Unknown,
                    status: LoadStatus::Invalid,
                    class: Some(ReasonClass::ParseError),
                    reason: Some(e.to_string()),
                }),
            }
        }

        let mut rules: Vec<RuleInfo> = Vec::new();
        let mut by_key: HashMap<String, usize> = HashMap::new();
        let mut per_slot: Vec<Vec<(usize, CompiledRule)>> =
            (0..map.slot_count()).map(|_| Vec::new()).collect();
        let mut detection_asts: HashMap<String, SigmaRule> = HashMap::new();
        let mut correlations = Vec::new();
        let mut filters = Vec::new();

        for (path, builtin, doc) in docs {
            match doc {
                Doc::Rule(rule) => {
                    let sel = Selector::new(
                        rule.logsource.category.as_deref(),
                        rule.logsource.product.as_deref(),
                        rule.logsource.service.as_deref(),
                    );
                    let mut rep = RuleReport {
                        path: path.clone(),
                        id: rule.id.clone(),
                        title: Some(rule.title.clone()),
                        kind: RuleKind::Detection,
                        status: LoadStatus::Loaded,
                        class: None,
                        reason: None,
                    };
                    if let Some(reason) = status_excluded(rule.status, opts.include_deprecated) {
                        rep.status = LoadStatus::Unsupported;
                        rep.class = Some(ReasonClass::StatusExcluded);
                        rep.reason = Some(reason);
                        report.rules.push(rep);
                        continue;
                    }
                    let compiled = match rsigma_eval::compile_rule(&rule) {
                        Ok(c) => c,
                        Err(e) => {
                            rep.status = LoadStatus::Invalid;
                            rep.class = Some(ReasonClass::CompileError);
                            rep.reason = Some(e.to_string());
                            report.rules.push(rep);
                            continue;
                        }
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
                    let mut info = info_of_rule(&rule, &path, builtin, &sel);
                    info.slots = slots.clone();
                    for k in [rule.id.as_ref(), rule.name.as_ref(), Some(&rule.title)]
                        .into_iter()
                        .flatten()
                    {
                        by_key.entry(k.clone()).or_insert(idx);
                        detection_asts
                            .entry(k.clone())
                            .or_insert_with(|| (*rule).clone());
                    }
                    for s in slots {
                        if let Some(v) = per_slot.get_mut(s) {
                            v.push((idx, compiled.clone()));
                        }
                    }
                    rules.push(info);
                    report.rules.push(rep);
                }
                Doc::Correlation(c) => correlations.push((path, builtin, c)),
                Doc::Filter(f) => filters.push((path, f)),
            }
        }

        // Correlations: every referenced rule must be loaded.
        let mut loaded_corr = Vec::new();
        let mut referenced: Vec<SigmaRule> = Vec::new();
        let mut referenced_ids: std::collections::HashSet<String> = Default::default();
        let mut correlation_only: std::collections::HashSet<String> = Default::default();
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
                if !c.generate
                    && let Some(i) = by_key.get(r)
                    && let Some(info) = rules.get(*i)
                {
                    correlation_only.insert(info.id.clone());
                }
                if let Some(ast) = detection_asts.get(r) {
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

        // Engines, one per slot that serves rules.
        let mut slots: Vec<Option<Slot>> = Vec::with_capacity(per_slot.len());
        for (s, compiled) in per_slot.into_iter().enumerate() {
            if compiled.is_empty() {
                slots.push(None);
                continue;
            }
            let mut engine = Engine::new();
            let mut keys = HashMap::new();
            let mut batch = Vec::with_capacity(compiled.len());
            for (g, c) in compiled {
                keys.insert(result_key(c.id.as_deref(), &c.title), g);
                batch.push(c);
            }
            engine.extend_compiled_rules(batch);
            slots.push(Some(Slot {
                engine,
                plan: map.plan(s),
                keys,
            }));
        }

        // Meta filters, applied to every engine that holds a rule they name.
        for (path, f) in filters {
            let mut rep = RuleReport {
                path,
                id: f.id.clone(),
                title: Some(f.title.clone()),
                kind: RuleKind::Filter,
                status: LoadStatus::Loaded,
                class: None,
                reason: None,
            };
            let mut err = None;
            for slot in slots.iter_mut().flatten() {
                if let Err(e) = slot.engine.apply_filter(&f) {
                    err = Some(e.to_string());
                    break;
                }
            }
            if let Some(e) = err {
                rep.status = LoadStatus::Invalid;
                rep.class = Some(ReasonClass::CompileError);
                rep.reason = Some(e);
            }
            report.rules.push(rep);
        }
        for slot in slots.iter_mut().flatten() {
            slot.engine.set_cross_rule_ac(true);
        }

        RuleSet {
            map,
            slots,
            rules,
            correlations: loaded_corr,
            referenced,
            correlation_only,
            by_key,
            report,
        }
    }

    /// The per-rule load report.
    pub fn report(&self) -> &LoadReport {
        &self.report
    }

    /// Loaded rules (detections, then correlations).
    pub fn rules(&self) -> &[RuleInfo] {
        &self.rules
    }

    pub fn logsources(&self) -> &LogSourceMap {
        &self.map
    }

    /// Evaluates the detection rules on one event; calls `f` once per matching rule.
    pub fn evaluate<'s>(&'s self, event: &Event, mut f: impl FnMut(SigmaMatch<'s>)) {
        self.evaluate_raw(event, |_, _, r| {
            if let Some(rule) = r {
                f(SigmaMatch {
                    rule,
                    correlation: None,
                })
            }
        });
    }

    /// Evaluates and hands out the rsigma results per slot (the correlator needs them).
    pub(crate) fn evaluate_raw<'s>(
        &'s self,
        event: &Event,
        mut f: impl FnMut(usize, &EvaluationResult, Option<&'s RuleInfo>),
    ) {
        let mut seen: smallvec::SmallVec<[usize; 8]> = smallvec::SmallVec::new();
        self.map.slots_of(event, |s| {
            let Some(Some(slot)) = self.slots.get(s) else {
                return;
            };
            let view = SigmaView::new(event, &slot.plan);
            for r in slot.engine.evaluate(&view) {
                let key = result_key(r.header.rule_id.as_deref(), &r.header.rule_title);
                let g = slot.keys.get(&key).copied();
                if let Some(g) = g {
                    if seen.contains(&g) {
                        continue;
                    }
                    seen.push(g);
                }
                f(s, &r, g.and_then(|g| self.rules.get(g)));
            }
        });
    }

    /// Whether the rule's log source covers the event (the rule would be evaluated on it).
    pub fn covers(&self, rule: &RuleInfo, event: &Event) -> bool {
        let mut hit = false;
        self.map.slots_of(event, |s| hit |= rule.slots.contains(&s));
        hit
    }

    /// The field plan of a slot (for the correlator's views).
    pub(crate) fn plan(&self, slot: usize) -> Option<&FieldPlan> {
        self.slots
            .get(slot)
            .and_then(|s| s.as_ref())
            .map(|s| &s.plan)
    }

    pub(crate) fn rule_by_key(&self, key: &str) -> Option<&RuleInfo> {
        self.by_key.get(key).and_then(|i| self.rules.get(*i))
    }

    /// Number of slot engines and compiled rule instances (a rule served by two entries is
    /// compiled twice).
    pub fn engine_stats(&self) -> (usize, usize) {
        let engines = self.slots.iter().flatten().count();
        let instances = self
            .slots
            .iter()
            .flatten()
            .map(|s| s.engine.rule_count())
            .sum();
        (engines, instances)
    }
}

fn result_key(id: Option<&str>, title: &str) -> String {
    match id {
        Some(id) => format!("id:{id}"),
        None => format!("title:{title}"),
    }
}

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
    }
}
