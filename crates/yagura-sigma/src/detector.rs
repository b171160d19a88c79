//! The pipeline-facing detectors, turning events into contract alerts (detector `sigma`):
//! [`SigmaDetector`] (one stream: detections and correlations), or its two halves for a
//! parallel pipeline — [`SigmaDetections`] (stateless, any thread) and [`SigmaCorrelations`]
//! (correlation state, event-time order).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use yagura_model::{Alert, Event, OrgId};

use crate::correlation::{Correlator, CorrelatorError, RestoreError};
use crate::ruleset::RuleSet;

/// Stateful Sigma detection for one stream of events (in event-time order).
#[derive(Debug)]
pub struct SigmaDetector {
    rules: Arc<RuleSet>,
    correlator: Correlator,
    fallback_org: Option<OrgId>,
    /// Matches that could not become alerts (event without organization and no fallback).
    pub dropped: u64,
}

impl SigmaDetector {
    pub fn new(rules: Arc<RuleSet>, fallback_org: Option<OrgId>) -> Result<Self, CorrelatorError> {
        let correlator = Correlator::new(&rules)?;
        Ok(SigmaDetector {
            rules,
            correlator,
            fallback_org,
            dropped: 0,
        })
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// The correlation windows in progress, for a streaming checkpoint (see
    /// [`Correlator::checkpoint`]); `None` without correlation rules.
    pub fn checkpoint(&self) -> Result<Option<serde_json::Value>, serde_json::Error> {
        self.correlator.checkpoint()
    }

    /// Resumes the windows of [`SigmaDetector::checkpoint`].
    pub fn restore(&mut self, state: serde_json::Value) -> Result<(), RestoreError> {
        self.correlator.restore(state)
    }

    /// Evaluates one event and appends its alerts to `out`.
    pub fn on_event(&mut self, event: &Event, out: &mut Vec<Alert>) {
        let rules = Arc::clone(&self.rules);
        let fallback = self.fallback_org.as_ref();
        let mut dropped = 0;
        self.correlator
            .process(&rules, event, |m| match m.to_alert(event, fallback) {
                Ok(a) => out.push(a),
                Err(_) => dropped += 1,
            });
        self.dropped += dropped;
    }
}

/// The stateless half of [`SigmaDetector`]: every detection rule, no correlation state.
/// `Sync`: the pipeline runs it in its reading threads, one event at a time per thread.
#[derive(Debug)]
pub struct SigmaDetections {
    rules: Arc<RuleSet>,
    fallback_org: Option<OrgId>,
    /// Matches that could not become alerts (event without organization and no fallback).
    pub dropped: AtomicU64,
}

impl SigmaDetections {
    pub fn new(rules: Arc<RuleSet>, fallback_org: Option<OrgId>) -> Self {
        SigmaDetections {
            rules,
            fallback_org,
            dropped: AtomicU64::new(0),
        }
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// Evaluates one event and appends its alerts to `out`: detection matches except those
    /// of rules that only feed correlations (`generate: false`).
    pub fn on_event(&self, event: &Event, out: &mut Vec<Alert>) {
        let fallback = self.fallback_org.as_ref();
        self.rules
            .detect(event, |m| match m.to_alert(event, fallback) {
                Ok(a) => out.push(a),
                Err(_) => {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                }
            });
    }
}

/// The stateful half of [`SigmaDetector`]: evaluates only the detection rules that feed
/// correlations and raises the correlation alerts. Needs events in event-time order.
#[derive(Debug)]
pub struct SigmaCorrelations {
    rules: Arc<RuleSet>,
    correlator: Correlator,
    fallback_org: Option<OrgId>,
    /// Firings that could not become alerts (event without organization and no fallback).
    pub dropped: u64,
}

impl SigmaCorrelations {
    /// `None` when the rule set holds no correlation rule (nothing to keep in order).
    pub fn new(
        rules: Arc<RuleSet>,
        fallback_org: Option<OrgId>,
    ) -> Result<Option<Self>, CorrelatorError> {
        if !rules.has_correlations() {
            return Ok(None);
        }
        let correlator = Correlator::new(&rules)?;
        Ok(Some(SigmaCorrelations {
            rules,
            correlator,
            fallback_org,
            dropped: 0,
        }))
    }

    /// Number of live correlation windows.
    pub fn state_entries(&self) -> usize {
        self.correlator.state_entries()
    }

    /// The correlation windows in progress, for a streaming checkpoint (see
    /// [`Correlator::checkpoint`]).
    pub fn checkpoint(&self) -> Result<Option<serde_json::Value>, serde_json::Error> {
        self.correlator.checkpoint()
    }

    /// Resumes the windows of [`SigmaCorrelations::checkpoint`].
    pub fn restore(&mut self, state: serde_json::Value) -> Result<(), RestoreError> {
        self.correlator.restore(state)
    }

    /// Evaluates one event and appends the correlation alerts it completes to `out`.
    pub fn on_event(&mut self, event: &Event, out: &mut Vec<Alert>) {
        let rules = Arc::clone(&self.rules);
        let fallback = self.fallback_org.as_ref();
        let mut dropped = 0;
        self.correlator
            .correlate(&rules, event, |m| match m.to_alert(event, fallback) {
                Ok(a) => out.push(a),
                Err(_) => dropped += 1,
            });
        self.dropped += dropped;
    }
}
