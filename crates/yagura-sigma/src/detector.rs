//! The pipeline-facing detector: a loaded [`RuleSet`] plus correlation state, turning events
//! into contract alerts (detector `sigma`).

use std::sync::Arc;

use yagura_model::{Alert, Event, OrgId};

use crate::correlation::{Correlator, CorrelatorError};
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
