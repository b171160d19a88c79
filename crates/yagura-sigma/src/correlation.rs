//! Correlation state over event time: a thin adapter around rsigma's `CorrelationEngine`.
//!
//! Detection runs in the rule set's per-log-source engines; the correlator only receives the
//! detections (with the event seen through the same field plan, so `group-by` fields resolve
//! as the detection did) and keeps the windows keyed by the event's `@timestamp`, never by the
//! wall clock. Correlation types, `group-by`, `timespan`, `aliases` and `generate` are rsigma's.

use rsigma_eval::{CorrelationConfig, CorrelationEngine, EvaluationResult, ResultBody};
use yagura_model::Event;

use crate::ruleset::{CorrelationHit, RuleSet, SigmaMatch, Which};

/// Errors of [`Correlator::new`].
#[derive(Debug, thiserror::Error)]
#[error("correlation rule set does not compile: {0}")]
pub struct CorrelatorError(pub String);

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
