//! Adapters that put each detector crate into the pipeline.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::RawValue;
use yagura_analytics::Analytics;
use yagura_intel::{LiveMatcher, ioc_alert};
use yagura_model::{Alert, Event, OrgId};
use yagura_sigma::{CorrelatorError, RuleSet, SigmaCorrelations, SigmaDetections, SigmaDetector};

use crate::Stage;
use crate::batch::EventStage;

/// Indicator matching (detector `ioc`): stateless, runs in the reading threads.
#[derive(Debug)]
pub struct IocStage {
    matcher: Arc<LiveMatcher>,
    /// Matches a warninglist marked benign (reported, not alerted).
    pub suppressed: AtomicU64,
    /// Matches that could not become alerts (event without organization).
    pub dropped: AtomicU64,
}

impl IocStage {
    pub fn new(matcher: Arc<LiveMatcher>) -> IocStage {
        IocStage {
            matcher,
            suppressed: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        }
    }
}

impl EventStage for IocStage {
    fn name(&self) -> &'static str {
        "ioc"
    }

    fn on_event(&self, event: &Event, out: &mut Vec<Alert>) {
        self.matcher.check(event, |m| {
            if !m.alerts() {
                self.suppressed.fetch_add(1, Ordering::Relaxed);
                return;
            }
            match ioc_alert(event, &m) {
                Ok(a) => out.push(a),
                Err(_) => {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
}

/// Sigma detection rules (detector `sigma`): stateless, so they run in the reading threads
/// like IOC matching; only correlation rules need the ordered stream ([`SigmaCorrelationStage`]).
#[derive(Debug)]
pub struct SigmaDetectStage(pub SigmaDetections);

impl EventStage for SigmaDetectStage {
    fn name(&self) -> &'static str {
        "sigma"
    }

    fn on_event(&self, event: &Event, out: &mut Vec<Alert>) {
        self.0.on_event(event, out);
    }
}

/// Sigma correlation rules (detector `sigma`): on the ordered stream, because they keep
/// windows in event time. Evaluates only the detection rules that correlations refer to.
#[derive(Debug)]
pub struct SigmaCorrelationStage(pub SigmaCorrelations);

/// Sigma's (small) correlation state as JSON text.
fn sigma_state(
    state: Result<Option<serde_json::Value>, serde_json::Error>,
) -> Result<Option<Box<RawValue>>, String> {
    match state.map_err(|e| e.to_string())? {
        Some(v) => serde_json::value::to_raw_value(&v)
            .map(Some)
            .map_err(|e| e.to_string()),
        None => Ok(None),
    }
}

impl Stage for SigmaCorrelationStage {
    fn name(&self) -> &'static str {
        "sigma-correlation"
    }

    fn on_event(&mut self, event: &Event, out: &mut Vec<Alert>) {
        self.0.on_event(event, out);
    }

    fn finish(&mut self, _out: &mut Vec<Alert>) {}

    fn checkpoint(&self) -> Result<Option<Box<RawValue>>, String> {
        sigma_state(self.0.checkpoint())
    }

    fn restore(&mut self, state: &RawValue) -> Result<(), String> {
        let state = serde_json::from_str(state.get()).map_err(|e| e.to_string())?;
        self.0.restore(state).map_err(|e| e.to_string())
    }
}

/// The Sigma stages of a pipeline (see [`sigma_stages`]).
pub struct SigmaStages {
    /// Every detection rule: a per-event stage for the reading threads.
    pub detect: Arc<dyn EventStage>,
    /// Correlation rules, when some are loaded: an ordered stage.
    pub correlate: Option<Box<dyn Stage>>,
}

impl std::fmt::Debug for SigmaStages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigmaStages")
            .field("detect", &self.detect.name())
            .field("correlate", &self.correlate.as_ref().map(|s| s.name()))
            .finish()
    }
}

/// The Sigma stages of a pipeline for `rules`: detection in the reading threads, plus the
/// ordered correlation stage when the set holds correlation rules.
pub fn sigma_stages(
    rules: Arc<RuleSet>,
    fallback_org: Option<OrgId>,
) -> Result<SigmaStages, CorrelatorError> {
    let correlations = SigmaCorrelations::new(Arc::clone(&rules), fallback_org.clone())?;
    let detect: Arc<dyn EventStage> =
        Arc::new(SigmaDetectStage(SigmaDetections::new(rules, fallback_org)));
    let correlate = correlations.map(|c| Box::new(SigmaCorrelationStage(c)) as Box<dyn Stage>);
    Ok(SigmaStages { detect, correlate })
}

/// Sigma detection and correlation in one ordered stage (one stream, e.g. a single reader).
#[derive(Debug)]
pub struct SigmaStage(pub SigmaDetector);

impl Stage for SigmaStage {
    fn name(&self) -> &'static str {
        "sigma"
    }

    fn on_event(&mut self, event: &Event, out: &mut Vec<Alert>) {
        self.0.on_event(event, out);
    }

    fn finish(&mut self, _out: &mut Vec<Alert>) {}

    fn checkpoint(&self) -> Result<Option<Box<RawValue>>, String> {
        sigma_state(self.0.checkpoint())
    }

    fn restore(&mut self, state: &RawValue) -> Result<(), String> {
        let state = serde_json::from_str(state.get()).map_err(|e| e.to_string())?;
        self.0.restore(state).map_err(|e| e.to_string())
    }
}

/// Behavioural analytics and network policy (detectors `analytic`, `policy`).
#[derive(Debug)]
pub struct AnalyticsStage(pub Analytics);

impl Stage for AnalyticsStage {
    fn name(&self) -> &'static str {
        "analytics"
    }

    fn on_event(&mut self, event: &Event, out: &mut Vec<Alert>) {
        self.0.observe(event);
        out.extend(self.0.drain_alerts());
    }

    fn finish(&mut self, out: &mut Vec<Alert>) {
        out.extend(self.0.finish());
    }

    fn checkpoint(&self) -> Result<Option<Box<RawValue>>, String> {
        let cp = self.0.checkpoint().map_err(|e| e.to_string())?;
        serde_json::value::to_raw_value(&cp)
            .map(Some)
            .map_err(|e| e.to_string())
    }

    fn restore(&mut self, state: &RawValue) -> Result<(), String> {
        let cp: yagura_analytics::Checkpoint =
            serde_json::from_str(state.get()).map_err(|e| e.to_string())?;
        self.0.restore(cp).map_err(|e| e.to_string())
    }
}

/// Writes every event of a run into the event store (`yagura detect --store`), in batches.
/// Not a detector: it raises no alerts. Ingest failures are kept in the shared
/// [`StoreStageReport`] (a stage cannot fail the stream); after the first one the stage stops
/// writing, so a full disk does not turn into one error per batch.
pub struct StoreStage {
    store: Arc<yagura_eventstore::EventStore>,
    run_id: String,
    batch: Vec<Event>,
    batch_size: usize,
    next_batch: u64,
    report: Arc<std::sync::Mutex<StoreStageReport>>,
}

/// What a [`StoreStage`] stored.
#[derive(Debug, Default)]
pub struct StoreStageReport {
    pub events: u64,
    pub batches: u64,
    /// Batches acknowledged as already stored (a re-run within the WAL's retention).
    pub duplicates: u64,
    /// Events dropped because they carry no organization.
    pub without_org: u64,
    pub error: Option<String>,
}

impl std::fmt::Debug for StoreStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreStage")
            .field("run_id", &self.run_id)
            .field("batch_size", &self.batch_size)
            .finish_non_exhaustive()
    }
}

impl StoreStage {
    /// `run_id` names the run in batch ids (`<run_id>/<n>`): the same id for the same input
    /// makes a retried run idempotent while its batches are in the write-ahead log.
    pub fn new(
        store: Arc<yagura_eventstore::EventStore>,
        run_id: impl Into<String>,
        batch_size: usize,
        report: Arc<std::sync::Mutex<StoreStageReport>>,
    ) -> StoreStage {
        StoreStage {
            store,
            run_id: run_id.into(),
            batch: Vec::new(),
            batch_size: batch_size.max(1),
            next_batch: 0,
            report,
        }
    }

    fn write(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let events = std::mem::take(&mut self.batch);
        let mut report = self.report.lock().unwrap_or_else(|p| p.into_inner());
        if report.error.is_some() {
            return;
        }
        let id = format!("{}/{}", self.run_id, self.next_batch);
        self.next_batch += 1;
        let n = events.len() as u64;
        match self.store.ingest(&id, events) {
            Ok(ack) => {
                report.batches += 1;
                report.events += n;
                report.duplicates += u64::from(ack.duplicate);
            }
            Err(e) => report.error = Some(format!("storing batch {id}: {e}")),
        }
    }

    /// Writes the last partial batch and flushes the store into splits.
    fn close(&mut self) {
        self.write();
        let mut report = self.report.lock().unwrap_or_else(|p| p.into_inner());
        if report.error.is_none()
            && let Err(e) = self.store.flush()
        {
            report.error = Some(format!("flushing the event store: {e}"));
        }
    }
}

impl Stage for StoreStage {
    fn name(&self) -> &'static str {
        "store"
    }

    fn on_event(&mut self, event: &Event, _out: &mut Vec<Alert>) {
        if event.org().is_none() {
            self.report
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .without_org += 1;
            return;
        }
        self.batch.push(event.clone());
        if self.batch.len() >= self.batch_size {
            self.write();
        }
    }

    fn finish(&mut self, _out: &mut Vec<Alert>) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use yagura_model::Timestamp;
    use yagura_sigma::LoadOptions;

    fn failed_logon(t: i64) -> Event {
        let mut e = Event::default();
        e.organization.id = Some(OrgId::new("moh").unwrap());
        e.timestamp = Timestamp::from_secs(t);
        e.winlog.channel = Some("Security".into());
        e.winlog.event_id = Some(4625);
        e.winlog
            .event_data
            .insert("TargetUserName", "administrator");
        e.winlog.event_data.insert("IpAddress", "203.0.113.50");
        e.winlog.event_data.insert("LogonType", "3");
        e
    }

    /// The ordered Sigma stage hands its correlation windows to the stream checkpoint through
    /// the `Stage` trait, and a fresh stage resumes them: 12 + 13 failures across a restart are
    /// the same brute-force alerts as 25 in one run.
    #[test]
    fn sigma_correlation_stage_checkpoints_its_windows() {
        let rules = Arc::new(RuleSet::load_with::<&str>(&[], LoadOptions::default()).unwrap());
        let stage = || {
            sigma_stages(Arc::clone(&rules), None)
                .unwrap()
                .correlate
                .unwrap()
        };
        let t0 = 1_767_571_200;
        let mut uninterrupted = Vec::new();
        let mut once = stage();
        for i in 0..25 {
            once.on_event(&failed_logon(t0 + i * 5), &mut uninterrupted);
        }
        assert!(!uninterrupted.is_empty());
        assert!(
            uninterrupted
                .iter()
                .all(|a| a.title == "Brute Force Against One Account")
        );

        let mut out = Vec::new();
        let mut before = stage();
        for i in 0..12 {
            before.on_event(&failed_logon(t0 + i * 5), &mut out);
        }
        assert!(out.is_empty());
        let state = before.checkpoint().unwrap().expect("correlation state");
        let mut after = stage();
        after.restore(&state).unwrap();
        for i in 12..25 {
            after.on_event(&failed_logon(t0 + i * 5), &mut out);
        }
        assert_eq!(out, uninterrupted);
        let not_a_state = serde_json::value::to_raw_value(&serde_json::json!([])).unwrap();
        assert!(after.restore(&not_a_state).is_err());
    }
}
