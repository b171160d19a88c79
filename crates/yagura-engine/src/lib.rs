//! The detection pipeline: events from the readers go through every detector (IOC, Sigma,
//! analytics, policy); the alerts they raise are aggregated and handed on.
//!
//! Architecture invariant: the engine owns no detection logic of its own. It composes
//! [`Stage`]s (adapters over the detector crates) and aggregates what they raise.

pub mod aggregate;
pub mod batch;
pub mod incidents;
pub mod merge;
pub mod retro;
pub mod stages;
pub mod stream;

pub use aggregate::{AggregationConfig, Aggregator, alert_id};
pub use incidents::{Correlation, CorrelationConfig, correlate};

pub use serde_json::value::RawValue;
use yagura_model::{Alert, Event};

/// One detector family in the pipeline.
pub trait Stage: Send {
    /// A short name for summaries (`ioc`, `sigma`, `analytics`).
    fn name(&self) -> &'static str;
    /// Looks at one event; pushes any alerts it raises.
    fn on_event(&mut self, event: &Event, out: &mut Vec<Alert>);
    /// End of input: flushes windows in progress.
    fn finish(&mut self, out: &mut Vec<Alert>);
    /// The stage's state for a streaming checkpoint (`None`: the stage keeps no state worth
    /// keeping across a restart, or cannot serialize it).
    ///
    /// The state is JSON text written straight from the stage's tables (no `serde_json::Value`
    /// tree: the stream writes it at every flush, and a tree of a large estate's analytics
    /// cost more than detecting).
    fn checkpoint(&self) -> Result<Option<Box<RawValue>>, String> {
        Ok(None)
    }
    /// Restores what [`Stage::checkpoint`] returned.
    fn restore(&mut self, _state: &RawValue) -> Result<(), String> {
        Ok(())
    }
}
