//! Sigma for yagura: the whole Sigma 2.1 rule language over every log source yagura reads.
//!
//! The rule language (parsing, all modifiers, the condition grammar, correlation and filter
//! rules) is the `rsigma-parser`/`rsigma-eval` 0.23 engine, chosen by measurement (see
//! `BENCHMARKS.md`); this crate adds what is yagura's own, as thin adapters:
//!
//! * [`logsource`]: the log-source map (Windows channels/EventIDs, THOR-compatible; proxy, DNS,
//!   Zeek, firewall, webserver, mail and authentication over ECS datasets) that decides which
//!   rules an event is evaluated against and how rule field names are read;
//! * [`fields`]: the view of a [`yagura_model::Event`] rules see ([`fields::SigmaView`]);
//! * [`RuleSet`]: rules compiled once (in parallel), dispatched by log-source slot and
//!   pre-filtered by one cross-rule Aho–Corasick automaton (`prefilter`), with a per-rule
//!   [`LoadReport`]; [`RuleSet::detect`] calls back with each [`SigmaMatch`];
//! * [`Correlator`]: correlation windows over event time;
//! * [`SigmaMatch::to_alert`]: the contract alert (detector `sigma`);
//! * [`windows`]: evtx JSON → `Event`, for the conformance samples;
//! * [`builtin`]: detection content written for yagura.

pub mod alert;
pub mod builtin;
pub mod check;
pub mod correlation;
pub mod detector;
pub mod fields;
pub mod logsource;
mod prefilter;
pub mod ruleset;
pub mod windows;

pub use alert::{AlertError, entities_of};
pub use correlation::{Correlator, CorrelatorError, RestoreError};
pub use detector::{SigmaCorrelations, SigmaDetections, SigmaDetector};
pub use logsource::{LogSourceError, LogSourceMap, Selector};
pub use prefilter::IndexStats;
pub use ruleset::{
    CorrelationHit, LoadError, LoadOptions, LoadReport, LoadStatus, LoadTimings, ReasonClass,
    RuleInfo, RuleKind, RuleReport, RuleSet, SigmaMatch,
};
