//! Threat intelligence for yagura: indicator normalization, the indicator store, import
//! (STIX 2.1, MISP, CSV, plain lists; format auto-detected), export (STIX 2.1, MISP), MISP
//! warninglists, and the matcher the pipeline calls on every event.
//!
//! Entry points: [`import::import_path`] / [`import::import_bytes`] fill an
//! [`IndicatorStore`]; [`Index::build`] freezes it; [`Matcher::check`] (or
//! [`LiveMatcher::check`] when indicators change while matching runs) reports each [`Match`];
//! [`alert::ioc_alert`] turns a match into the contract's alert.

pub mod alert;
pub mod export;
pub mod import;
pub mod index;
pub mod live;
pub mod normalize;
pub mod persist;
pub mod store;
pub mod warninglist;

pub use alert::ioc_alert;
pub use import::{FeedDefaults, Format, ImportReport, import_bytes, import_path, import_paths};
pub use index::{Index, Match, MatchVia, Matcher};
pub use live::LiveMatcher;
pub use store::{IndicatorRef, IndicatorStore, Meta};
pub use warninglist::{Verdict, Warninglists};
