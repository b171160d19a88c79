//! Correlation state over event time: a thin adapter around rsigma's `CorrelationEngine`.
//!
//! Detection runs in the rule set's per-log-source engines; the correlator only receives the
//! detections (with the event seen through the same field plan, so `group-by` fields resolve
//! as the detection did) and keeps the windows keyed by the event's `@timestamp`, never by the
//! wall clock. Correlation types, `group-by`, `timespan`, `aliases` and `generate` are rsigma's.

use rsigma_eval::{
    CorrelationConfig, CorrelationEngine, CorrelationSnapshot, EvaluationResult, ResultBody,
};
use yagura_model::Event;

use crate::ruleset::{CorrelationHit, RuleSet, SigmaMatch, Which};

/// Errors of [`Correlator::new`].
#[derive(Debug, thiserror::Error)]
#[error("correlation rule set does not compile: {0}")]
pub struct CorrelatorError(pub String);

/// Errors of [`Correlator::restore`]: a checkpoint this build cannot resume from.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The checkpoint is not a correlation snapshot at all.
    #[error("correlation checkpoint is malformed: {0}")]
    Malformed(String),
    /// The snapshot was written by an engine version whose state layout differs.
    #[error("correlation checkpoint has snapshot version {found}, this build reads another")]
    Version {
        /// The version recorded in the checkpoint.
        found: u32,
    },
}

/// Stateful evaluation of a rule set's detections and correlations.
pub struct Correlator {
    engine: Option<CorrelationEngine>,
}

impl std::fmt::Debug for Correlator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Correlator")
            .field(
                "state_entries",
                &self.engine.as_ref().map(CorrelationEngine::state_count),
            )
            .finish()
    }
}

impl Correlator {
    /// A correlator for `rules` (cheap when the set has no correlation rules).
    pub fn new(rules: &RuleSet) -> Result<Correlator, CorrelatorError> {
        if rules.correlations.is_empty() {
            return Ok(Correlator { engine: None });
        }
        let mut engine = CorrelationEngine::new(CorrelationConfig {
            // We filter correlation-only detections ourselves (see `RuleSet::correlation_only`).
            emit_detections: true,
            ..CorrelationConfig::default()
        });
        for r in &rules.referenced {
            engine
                .add_rule(r)
                .map_err(|e| CorrelatorError(e.to_string()))?;
        }
        for c in &rules.correlations {
            engine
                .add_correlation(c)
                .map_err(|e| CorrelatorError(e.to_string()))?;
        }
        Ok(Correlator {
            engine: Some(engine),
        })
    }

    /// Number of live correlation windows (memory accounting).
    pub fn state_entries(&self) -> usize {
        self.engine
            .as_ref()
            .map(CorrelationEngine::state_count)
            .unwrap_or(0)
    }

    /// The correlation windows in progress (per correlation rule and group: the window's
    /// entries, the last firing for suppression, buffered event references), as JSON for a
    /// streaming checkpoint. `None` when the rule set holds no correlation rule. Windows are
    /// keyed by the rule's stable identifier (id, else name, else title), so a checkpoint
    /// survives a reload of the rules; windows of rules no longer loaded are dropped on
    /// [`Correlator::restore`].
    pub fn checkpoint(&self) -> Result<Option<serde_json::Value>, serde_json::Error> {
        let Some(engine) = self.engine.as_ref() else {
            return Ok(None);
        };
        serde_json::to_value(engine.export_state()).map(Some)
    }

    /// Resumes the windows of [`Correlator::checkpoint`]. Call before the first event.
    /// A correlator without correlation rules ignores the state.
    pub fn restore(&mut self, state: serde_json::Value) -> Result<(), RestoreError> {
        let Some(engine) = self.engine.as_mut() else {
            return Ok(());
        };
        let snapshot: CorrelationSnapshot =
            serde_json::from_value(state).map_err(|e| RestoreError::Malformed(e.to_string()))?;
        let found = snapshot.version;
        if engine.import_state(snapshot) {
            Ok(())
        } else {
            Err(RestoreError::Version { found })
        }
    }

    /// Evaluates one event: detection matches (without those that only feed a correlation
    /// with `generate: false`) and correlation firings, in event-time order of the caller.
    pub fn process<'s>(
        &mut self,
        rules: &'s RuleSet,
        event: &Event,
        mut f: impl FnMut(SigmaMatch<'s>),
    ) {
        let Some(engine) = self.engine.as_mut() else {
            return rules.detect(event, f);
        };
        let mut per_slot: Vec<(usize, Vec<EvaluationResult>)> = Vec::new();
        rules.evaluate_raw(event, Which::All, |s, r, rule| {
            if !rules.correlation_only.contains(&rule.id) {
                f(SigmaMatch {
                    rule,
                    correlation: None,
                });
            }
            if rule.feeds_correlation {
                push(&mut per_slot, s, r);
            }
        });
        feed(engine, rules, event, per_slot, &mut f);
    }

    /// The stateful half of detection: evaluates only the detection rules that feed
    /// correlations and reports correlation firings (never plain detections; those come from
    /// [`RuleSet::detect`], which can run on other threads). Call in event-time order.
    pub fn correlate<'s>(
        &mut self,
        rules: &'s RuleSet,
        event: &Event,
        mut f: impl FnMut(SigmaMatch<'s>),
    ) {
        let Some(engine) = self.engine.as_mut() else {
            return;
        };
        let mut per_slot: Vec<(usize, Vec<EvaluationResult>)> = Vec::new();
        rules.evaluate_raw(event, Which::Correlated, |s, r, _| {
            push(&mut per_slot, s, r)
        });
        feed(engine, rules, event, per_slot, &mut f);
    }
}

fn push(per_slot: &mut Vec<(usize, Vec<EvaluationResult>)>, s: usize, r: &EvaluationResult) {
    match per_slot.iter_mut().find(|(x, _)| *x == s) {
        Some((_, v)) => v.push(r.clone()),
        None => per_slot.push((s, vec![r.clone()])),
    }
}

/// Feeds a slot's detections to the correlation engine and reports its firings.
fn feed<'s>(
    engine: &mut CorrelationEngine,
    rules: &'s RuleSet,
    event: &Event,
    per_slot: Vec<(usize, Vec<EvaluationResult>)>,
    f: &mut impl FnMut(SigmaMatch<'s>),
) {
    let ts = event.timestamp.secs();
    for (s, dets) in per_slot {
        let Some(view) = rules.view(event, s) else {
            continue;
        };
        for r in engine.process_with_detections(&view, dets, ts) {
            let ResultBody::Correlation(c) = &r.body else {
                continue;
            };
            let key = r
                .header
                .rule_id
                .clone()
                .unwrap_or_else(|| r.header.rule_title.clone());
            let Some(rule) = rules
                .rule_by_key(&key)
                .or_else(|| rules.rule_by_key(&r.header.rule_title))
            else {
                continue;
            };
            f(SigmaMatch {
                rule,
                correlation: Some(CorrelationHit {
                    group: c.group_key.clone(),
                    value: c.aggregated_value,
                    timespan_secs: c.timespan_secs,
                }),
            });
        }
    }
}
