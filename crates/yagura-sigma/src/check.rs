//! The report of `yagura sigma check` (DESIGN.md §5): one line per rule not loaded, with its
//! reason, then the closing summary `loaded N, unsupported M, invalid K` and the count of every
//! reason class.

use serde::Serialize;

use crate::ruleset::{LoadReport, LoadStatus, ReasonClass, RuleReport};

/// Machine-readable form (`--json`).
#[derive(Debug, Serialize)]
pub struct CheckSummary<'a> {
    pub loaded: usize,
    pub unsupported: usize,
    pub invalid: usize,
    pub reasons: std::collections::BTreeMap<String, usize>,
    /// Every rule that was not loaded.
    pub rules: Vec<&'a RuleReport>,
}

pub fn summary(report: &LoadReport) -> CheckSummary<'_> {
    CheckSummary {
        loaded: report.count(LoadStatus::Loaded),
        unsupported: report.count(LoadStatus::Unsupported),
        invalid: report.count(LoadStatus::Invalid),
        reasons: report
            .classes()
            .into_iter()
            .map(|(c, n)| (class_name(c).to_owned(), n))
            .collect(),
        rules: report
            .rules
            .iter()
            .filter(|r| r.status != LoadStatus::Loaded)
            .collect(),
    }
}

pub fn class_name(c: ReasonClass) -> &'static str {
    match c {
        ReasonClass::LogsourceNotRead => "logsource-not-read",
        ReasonClass::MissingReference => "missing-reference",
        ReasonClass::Unreadable => "unreadable",
        ReasonClass::ParseError => "parse-error",
        ReasonClass::CompileError => "compile-error",
        ReasonClass::StatusExcluded => "status-excluded",
    }
}

/// The human-readable report.
pub fn render_text(report: &LoadReport) -> String {
    use std::fmt::Write;
    let s = summary(report);
    let mut out = String::new();
    for r in &s.rules {
        let status = match r.status {
            LoadStatus::Loaded => "loaded",
            LoadStatus::Unsupported => "unsupported",
            LoadStatus::Invalid => "invalid",
        };
        let what =
            r.id.as_deref()
                .or(r.title.as_deref())
                .unwrap_or("(unnamed document)");
        let _ = writeln!(
            out,
            "{status}: {} [{what}]: {}: {}",
            r.path,
            r.class.map(class_name).unwrap_or("other"),
            r.reason.as_deref().unwrap_or("")
        );
    }
    let _ = writeln!(
        out,
        "loaded {}, unsupported {}, invalid {}",
        s.loaded, s.unsupported, s.invalid
    );
    if !s.reasons.is_empty() {
        let classes: Vec<String> = s.reasons.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(out, "reasons: {}", classes.join(", "));
    }
    out
}
