//! Threat intelligence for yagura: indicator normalization, the indicator store, import
//! (STIX 2.1, MISP, CSV, plain lists; format auto-detected), export (STIX 2.1, MISP), MISP
//! warninglists, and the matcher the pipeline calls on every event.
//!
//! Entry points: [`import::import_path`] / [`import::import_bytes`] fill an
//! [`IndicatorStore`]; [`Index::build`] freezes it; [`Matcher::check`] (or
//! [`LiveMatcher::check`] when indicators change while matching runs) reports each [`Match`];
//! [`alert::ioc_alert`] turns a match into the contract's alert.

pub mod import;
pub mod index;
pub mod normalize;
pub mod store;
pub mod warninglist;

pub use index::{Index, Match, MatchVia, Matcher};
pub use store::{IndicatorRef, IndicatorStore, Meta};
pub use warninglist::{Verdict, Warninglists};
