//! Batch detection over files and telemetry directories (`yagura detect`).
//!
//! ```text
//!  file 1 ─▶ thread: read ─▶ per-event stages (IOC, Sigma) ─┐
//!  file 2 ─▶ thread: read ─▶ per-event stages               ├─▶ k-way merge by event time
//!  …                                                         │     ─▶ ordered stages (analytics,
//!  file N ─▶ thread: read ─▶ per-event stages ──────────────┘        correlation) ─▶ aggregator
//! ```
//!
//! Per-event stages are `Sync` and run in the reading threads, so parsing and stateless
//! detection use every core; stateful stages see one stream in event-time order.
//!
//! [`run_while_loading`] starts the reading threads before the detectors exist: while the
//! content loads (seconds for millions of indicators and thousands of Sigma rules) each
//! reader parses ahead into its own buffer, bounded ([`LOOKAHEAD_EVENTS`] in all), and runs
//! the per-event stages over what it holds once they are ready. Nothing is dispatched to the
//! ordered stages before every detector has loaded.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use yagura_formats::{FileReader, Format, ReadOptions, Reject};
use yagura_model::{Alert, Event, Inventory, OrgId};

use crate::Stage;
use crate::aggregate::{AggregationConfig, Aggregator};
use crate::merge::{Producer, merge};

/// A stateless detector run on every event in the reading threads.
pub trait EventStage: Send + Sync {
    fn name(&self) -> &'static str;
    fn on_event(&self, event: &Event, out: &mut Vec<Alert>);
}

/// One input file and how to read it.
#[derive(Debug, Clone)]
pub struct InputFile {
    pub path: PathBuf,
    /// The telemetry root it was found under (its first directory names the organization).
    pub root: Option<PathBuf>,
}

/// Why inputs could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Names the telemetry root uses for things that are not telemetry (DESIGN.md §5: `yagura sim`
/// writes `inventory.toml`, `truth.jsonl`, `exercise.json` and `intel/` beside the organizations).
const NOT_TELEMETRY: [&str; 4] = ["inventory.toml", "truth.jsonl", "exercise.json", "intel"];

/// Lists the files to read. A file argument is read as is; a directory is a telemetry root
/// (`ROOT/<org-id>/**`): every regular, non-hidden file below an organization directory.
/// With an inventory, directories that name no organization of it are skipped (returned in
/// the second list so the caller can say so).
pub fn discover(
    paths: &[PathBuf],
    inventory: Option<&Inventory>,
) -> Result<(Vec<InputFile>, Vec<PathBuf>), DiscoverError> {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|source| DiscoverError::Io {
            path: p.display().to_string(),
            source,
        })?;
        if !meta.is_dir() {
            files.push(InputFile {
                path: p.clone(),
                root: None,
            });
            continue;
        }
        for entry in read_dir_sorted(p)? {
            let name = entry
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.starts_with('.') || NOT_TELEMETRY.contains(&name.as_str()) {
                continue;
            }
            if !entry.is_dir() {
                // A file directly under the root belongs to no organization.
                skipped.push(entry);
                continue;
            }
            let known = match inventory {
                Some(inv) => inv.get(&name).is_some(),
                None => OrgId::new(&name).is_ok(),
            };
            if !known {
                skipped.push(entry);
                continue;
            }
            walk(&entry, &mut |f| {
                files.push(InputFile {
                    path: f,
                    root: Some(p.clone()),
                })
            })?;
        }
    }
    Ok((files, skipped))
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>, DiscoverError> {
    let io = |source| DiscoverError::Io {
        path: dir.display().to_string(),
        source,
    };
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(io)?;
    out.sort();
    Ok(out)
}

fn walk(dir: &Path, f: &mut dyn FnMut(PathBuf)) -> Result<(), DiscoverError> {
    for p in read_dir_sorted(dir)? {
        let hidden = p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        if p.is_dir() {
            walk(&p, f)?;
        } else if p.is_file() {
            f(p);
        }
    }
    Ok(())
}

/// Options of a batch run.
#[derive(Debug, Clone, Default)]
pub struct BatchOptions {
    /// Force a format for every file.
    pub format: Option<Format>,
    /// Organization of events that have none (files outside a telemetry root).
    pub default_org: Option<OrgId>,
    pub aggregation: AggregationConfig,
}

/// Counters shared with the progress display while a batch runs.
#[derive(Debug, Default)]
pub struct Progress {
    pub files_done: AtomicU64,
    pub events: AtomicU64,
    pub rejects: AtomicU64,
}

/// What a batch run did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct BatchReport {
    pub files: u64,
    pub files_unreadable: u64,
    pub events: u64,
    pub rejects: u64,
    pub alerts: u64,
    pub raw_alerts: u64,
    pub elapsed_s: f64,
    pub events_per_s: f64,
    /// CPU time of the thread running the ordered stages (the serial part of the pipeline),
    /// when the platform tells (Linux); 0 otherwise.
    pub ordered_cpu_s: f64,
    /// Wall time that thread spent waiting for readers.
    pub ordered_wait_s: f64,
    /// Wall time spent loading the detectors ([`run_while_loading`]; the readers parse ahead
    /// meanwhile). Not part of `elapsed_s`.
    pub load_s: f64,
    /// Events the readers had parsed ahead when the detectors became ready.
    pub parsed_while_loading: u64,
}

/// The detectors of a run.
#[derive(Default)]
pub struct Detectors {
    pub per_event: Vec<Arc<dyn EventStage>>,
    pub ordered: Vec<Box<dyn Stage>>,
}

impl std::fmt::Debug for Detectors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let per: Vec<_> = self.per_event.iter().map(|s| s.name()).collect();
        let ord: Vec<_> = self.ordered.iter().map(|s| s.name()).collect();
        f.debug_struct("Detectors")
            .field("per_event", &per)
            .field("ordered", &ord)
            .finish()
    }
}

/// Events all readers together parse ahead while the detectors load (each holds at most its
/// share, and at least one batch): bounds the memory of the look-ahead (an `Event` is ~2 KiB
/// with its buffers, so ~100 MiB) while keeping the cores busy that loading leaves idle.
pub const LOOKAHEAD_EVENTS: usize = 49_152;

/// Runs every detector over every file. Rejects go to `on_reject` (from the reading threads,
/// serialized by a lock); file-level failures (unreadable, unrecognized) are rejects too.
pub fn run(
    files: Vec<InputFile>,
    detectors: Detectors,
    options: &BatchOptions,
    progress: Arc<Progress>,
    on_reject: Arc<Mutex<dyn FnMut(Reject) + Send>>,
) -> (Vec<Alert>, BatchReport) {
    let loaded: Result<_, std::convert::Infallible> =
        run_while_loading(files, || Ok(detectors), options, progress, on_reject);
    match loaded {
        Ok(r) => r,
        Err(never) => match never {},
    }
}

/// The per-event stages, handed to the reading threads once loaded.
struct Gate {
    /// Set once the state is no longer `Loading` (checked per event while parsing ahead).
    settled: AtomicBool,
    state: Mutex<GateState>,
    changed: Condvar,
}

enum GateState {
    Loading,
    Ready(Arc<Vec<Arc<dyn EventStage>>>),
    /// Loading failed: readers stop.
    Cancelled,
}

impl Gate {
    fn new() -> Gate {
        Gate {
            settled: AtomicBool::new(false),
            state: Mutex::new(GateState::Loading),
            changed: Condvar::new(),
        }
    }

    fn settled(&self) -> bool {
        self.settled.load(Ordering::Acquire)
    }

    fn settle(&self, to: GateState) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = to;
        self.settled.store(true, Ordering::Release);
        self.changed.notify_all();
    }

    /// Blocks until the stages are ready (`None`: loading failed).
    fn wait(&self) -> Option<Arc<Vec<Arc<dyn EventStage>>>> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            match &*state {
                GateState::Loading => {
                    state = self.changed.wait(state).unwrap_or_else(|p| p.into_inner());
                }
                GateState::Ready(stages) => return Some(Arc::clone(stages)),
                GateState::Cancelled => return None,
            }
        }
    }
}

/// [`run`] with the detectors built by `load` on the calling thread while the readers
/// already parse ahead (see the module docs). An error from `load` stops the readers and is
/// returned.
pub fn run_while_loading<E>(
    files: Vec<InputFile>,
    load: impl FnOnce() -> Result<Detectors, E>,
    options: &BatchOptions,
    progress: Arc<Progress>,
    on_reject: Arc<Mutex<dyn FnMut(Reject) + Send>>,
) -> Result<(Vec<Alert>, BatchReport), E> {
    let load_started = Instant::now();
    let n_files = files.len() as u64;
    let gate = Arc::new(Gate::new());
    let lookahead = (LOOKAHEAD_EVENTS / files.len().max(1)).max(crate::merge::BATCH);
    let parsed_ahead = Arc::new(AtomicU64::new(0));
    let raw_alerts = Arc::new(Mutex::new(Vec::<Alert>::new()));
    let unreadable = Arc::new(AtomicU64::new(0));

    let producers: Vec<Producer<Event>> = files
        .into_iter()
        .map(|input| {
            let gate = Arc::clone(&gate);
            let parsed_ahead = Arc::clone(&parsed_ahead);
            let raw_alerts = Arc::clone(&raw_alerts);
            let progress = Arc::clone(&progress);
            let on_reject = Arc::clone(&on_reject);
            let unreadable = Arc::clone(&unreadable);
            let mut opts = ReadOptions {
                format: options.format,
                ..ReadOptions::default()
            };
            if let Some(root) = &input.root {
                opts.root = Some(root.clone());
            }
            let default_org = options.default_org.clone();
            let producer: Producer<Event> = Box::new(move |sink| {
                let reject = |r: Reject| {
                    progress.rejects.fetch_add(1, Ordering::Relaxed);
                    let mut f = on_reject.lock().unwrap_or_else(|p| p.into_inner());
                    f(r);
                };
                let mut reader = match FileReader::open(&input.path, &opts) {
                    Ok(r) => r,
                    Err(e) => {
                        unreadable.fetch_add(1, Ordering::Relaxed);
                        reject(Reject::new(
                            &input.path.display().to_string(),
                            0,
                            e.to_string(),
                            b"",
                        ));
                        progress.files_done.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                };
                let mut local_alerts = Vec::new();
                let mut since_update = 0u64;
                // `None` while the detectors load: events are parsed and held in the sink
                // (at most `lookahead`), detected and sent once the stages are ready.
                let mut stages: Option<Arc<Vec<Arc<dyn EventStage>>>> = None;
                // Each record is read into the sink's next slot: an event of a batch the
                // merge is done with, refilled in place (its buffers kept) rather than a new
                // event built, moved into the batch and later dropped.
                loop {
                    let ev = sink.slot();
                    match reader.next_into(ev) {
                        None => break,
                        Some(Err(r)) => reject(r),
                        Some(Ok(())) => {
                            if ev.organization.id.is_none() {
                                ev.organization.id.clone_from(&default_org);
                            }
                            if stages.is_none() {
                                sink.hold();
                                if gate.settled() || sink.held().len() >= lookahead {
                                    let Some(ready) = gate.wait() else { return };
                                    parsed_ahead
                                        .fetch_add(sink.held().len() as u64, Ordering::Relaxed);
                                    for ev in sink.held().iter() {
                                        for stage in ready.iter() {
                                            stage.on_event(ev, &mut local_alerts);
                                        }
                                    }
                                    since_update += sink.held().len() as u64;
                                    stages = Some(ready);
                                    if !sink.send() {
                                        break;
                                    }
                                }
                                continue;
                            }
                            for stage in stages.iter().flat_map(|s| s.iter()) {
                                stage.on_event(ev, &mut local_alerts);
                            }
                            since_update += 1;
                            if since_update >= 4096 {
                                progress.events.fetch_add(since_update, Ordering::Relaxed);
                                since_update = 0;
                            }
                            if !sink.commit() {
                                break;
                            }
                        }
                    }
                }
                if stages.is_none() {
                    // The file ended (or held nothing yet) before the detectors were ready.
                    let Some(ready) = gate.wait() else { return };
                    parsed_ahead.fetch_add(sink.held().len() as u64, Ordering::Relaxed);
                    for ev in sink.held().iter() {
                        for stage in ready.iter() {
                            stage.on_event(ev, &mut local_alerts);
                        }
                    }
                    since_update += sink.held().len() as u64;
                }
                progress.events.fetch_add(since_update, Ordering::Relaxed);
                progress.files_done.fetch_add(1, Ordering::Relaxed);
                if !local_alerts.is_empty() {
                    raw_alerts
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .append(&mut local_alerts);
                }
            });
            producer
        })
        .collect();

    // The readers start now and parse ahead while the detectors load on this thread.
    let mut merged = merge(producers, |e: &Event| e.timestamp);
    let mut detectors = match load() {
        Ok(d) => d,
        Err(e) => {
            gate.settle(GateState::Cancelled);
            merged.join();
            return Err(e);
        }
    };
    gate.settle(GateState::Ready(Arc::new(std::mem::take(
        &mut detectors.per_event,
    ))));
    let load_s = load_started.elapsed().as_secs_f64();
    let started = Instant::now();

    let mut aggregator = Aggregator::new(options.aggregation);
    let mut ordered_alerts = Vec::new();
    let mut raw_count = 0u64;
    let ordered_cpu_start = thread_cpu_s();
    while let Some(ev) = merged.next_ref() {
        for stage in detectors.ordered.iter_mut() {
            stage.on_event(ev, &mut ordered_alerts);
        }
        raw_count += ordered_alerts.len() as u64;
        for a in ordered_alerts.drain(..) {
            aggregator.push(a);
        }
    }
    let ordered_wait = merged.waited();
    let crashed = merged.join();
    if crashed > 0 {
        tracing::error!(
            crashed,
            "reader threads panicked; their files are incomplete"
        );
    }
    for stage in detectors.ordered.iter_mut() {
        stage.finish(&mut ordered_alerts);
    }
    raw_count += ordered_alerts.len() as u64;
    for a in ordered_alerts.drain(..) {
        aggregator.push(a);
    }
    let shared = std::mem::take(&mut *raw_alerts.lock().unwrap_or_else(|p| p.into_inner()));
    raw_count += shared.len() as u64;
    for a in shared {
        aggregator.push(a);
    }
    let alerts = aggregator.finish();
    let ordered_cpu_s = (thread_cpu_s() - ordered_cpu_start).max(0.0);
    let elapsed = started.elapsed().max(Duration::from_micros(1));
    let events = progress.events.load(Ordering::Relaxed);
    let report = BatchReport {
        files: n_files,
        files_unreadable: unreadable.load(Ordering::Relaxed),
        events,
        rejects: progress.rejects.load(Ordering::Relaxed),
        alerts: alerts.len() as u64,
        raw_alerts: raw_count,
        elapsed_s: elapsed.as_secs_f64(),
        events_per_s: events as f64 / elapsed.as_secs_f64(),
        ordered_cpu_s,
        ordered_wait_s: ordered_wait.as_secs_f64(),
        load_s,
        parsed_while_loading: parsed_ahead.load(Ordering::Relaxed),
    };
    Ok((alerts, report))
}

/// CPU time of the calling thread in seconds (Linux `/proc/thread-self/schedstat`; 0 where it
/// cannot be read).
fn thread_cpu_s() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records what the ordered stages see.
    struct Record(Arc<Mutex<Vec<(i64, String, u64)>>>);

    impl Stage for Record {
        fn name(&self) -> &'static str {
            "record"
        }
        fn on_event(&mut self, ev: &Event, _out: &mut Vec<Alert>) {
            let line = ev.log.file.line.unwrap_or(0);
            let url = ev.url.full.as_deref().unwrap_or("").to_owned();
            self.0
                .lock()
                .unwrap()
                .push((ev.timestamp.nanos(), url, line));
        }
        fn finish(&mut self, _out: &mut Vec<Alert>) {}
    }

    /// Events go through the merge in recycled slots (readers refill consumed events in
    /// place): the ordered stages must see every event exactly as the reader's iterator API
    /// yields it, in time order, with nothing left over from an earlier event of the slot,
    /// and rejects counted, not passed on.
    /// Counts what a per-event stage sees.
    struct Count(Arc<AtomicU64>);

    impl EventStage for Count {
        fn name(&self) -> &'static str {
            "count"
        }
        fn on_event(&self, _event: &Event, _out: &mut Vec<Alert>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn ordered_stages_see_every_event_as_read() {
        events_as_read(None, 3, 2_000);
    }

    /// With the detectors loading slowly, the readers parse ahead (bounded) and then run the
    /// per-event stages over what they held: every event is still detected once and reaches
    /// the ordered stages once, in time order.
    #[test]
    fn readers_parse_ahead_while_the_detectors_load() {
        // Files that end while loading, and (200 files: one batch each) files whose readers
        // reach their share of the look-ahead and wait.
        for (files, lines) in [(3, 2_000), (200, 400)] {
            let report = events_as_read(Some(Duration::from_millis(400)), files, lines);
            assert!(report.parsed_while_loading > 0, "{report:?}");
            assert!(report.load_s >= 0.4, "{report:?}");
        }
    }

    #[test]
    fn a_failed_load_stops_the_readers() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("access.log");
        let line = "1700000000.000 12 10.0.0.1 TCP_MISS/200 100 GET http://h.example/ - HIER_DIRECT/192.0.2.1 -\n";
        std::fs::write(&p, line.repeat(20_000)).unwrap();
        let options = BatchOptions {
            format: Some(Format::Squid),
            default_org: Some(OrgId::new("org-a").unwrap()),
            ..BatchOptions::default()
        };
        let files = vec![InputFile {
            path: p,
            root: None,
        }];
        let on_reject: Arc<Mutex<dyn FnMut(Reject) + Send>> = Arc::new(Mutex::new(|_r: Reject| {}));
        let r = run_while_loading(
            files,
            || {
                std::thread::sleep(Duration::from_millis(100));
                Err("no content")
            },
            &options,
            Arc::new(Progress::default()),
            on_reject,
        );
        assert_eq!(r.err(), Some("no content"));
    }

    fn events_as_read(load_delay: Option<Duration>, files: u64, lines: u64) -> BatchReport {
        let dir = tempfile::tempdir().unwrap();
        let mut paths = Vec::new();
        for f in 0..files {
            let mut text = String::new();
            for i in 0..lines {
                if i % 97 == 5 {
                    text.push_str("not a squid line\n");
                    continue;
                }
                // Fields present on some lines only, so a stale value would show.
                let url = if i % 3 == 0 {
                    format!("http://h{f}.example/{i}?{}", "x".repeat((i % 50) as usize))
                } else {
                    format!("h{f}.example:443")
                };
                let method = if i % 3 == 0 { "GET" } else { "CONNECT" };
                text.push_str(&format!(
                    "{}.{:03} 12 10.0.{f}.{} TCP_MISS/200 {} {method} {url} - HIER_DIRECT/192.0.2.{} -\n",
                    1_700_000_000 + i * 2 + f,
                    i % 1000,
                    i % 250 + 1,
                    100 + i,
                    i % 250 + 1,
                ));
            }
            let p = dir.path().join(format!("access{f}.log"));
            std::fs::write(&p, text).unwrap();
            paths.push(p);
        }
        let options = BatchOptions {
            format: Some(Format::Squid),
            default_org: Some(OrgId::new("org-a").unwrap()),
            ..BatchOptions::default()
        };
        let mut expected = Vec::new();
        let mut expected_rejects = 0;
        for p in &paths {
            let opts = ReadOptions {
                format: options.format,
                ..ReadOptions::default()
            };
            for r in FileReader::open(p, &opts).unwrap() {
                match r {
                    Ok(ev) => expected.push((
                        ev.timestamp.nanos(),
                        ev.url.full.as_deref().unwrap_or("").to_owned(),
                        ev.log.file.line.unwrap_or(0),
                    )),
                    Err(_) => expected_rejects += 1,
                }
            }
        }
        assert!(expected.len() > 5_000 && expected_rejects > 0);

        let seen = Arc::new(Mutex::new(Vec::new()));
        let detected = Arc::new(AtomicU64::new(0));
        let detectors = Detectors {
            per_event: vec![Arc::new(Count(Arc::clone(&detected)))],
            ordered: vec![Box::new(Record(Arc::clone(&seen)))],
        };
        let rejects = Arc::new(Mutex::new(0u64));
        let r2 = Arc::clone(&rejects);
        let on_reject: Arc<Mutex<dyn FnMut(Reject) + Send>> =
            Arc::new(Mutex::new(move |_r: Reject| *r2.lock().unwrap() += 1));
        let files = paths
            .iter()
            .map(|p| InputFile {
                path: p.clone(),
                root: None,
            })
            .collect();
        let load = || {
            if let Some(d) = load_delay {
                std::thread::sleep(d);
            }
            Ok::<_, ()>(detectors)
        };
        let (_, report) = run_while_loading(
            files,
            load,
            &options,
            Arc::new(Progress::default()),
            on_reject,
        )
        .unwrap();
        let mut seen = std::mem::take(&mut *seen.lock().unwrap());
        assert_eq!(report.events, expected.len() as u64);
        assert_eq!(detected.load(Ordering::Relaxed), expected.len() as u64);
        // Bounded look-ahead: at most the budget, or one batch per file.
        assert!(
            report.parsed_while_loading as usize
                <= LOOKAHEAD_EVENTS.max(paths.len() * crate::merge::BATCH)
        );
        assert_eq!(report.rejects, expected_rejects);
        assert_eq!(*rejects.lock().unwrap(), expected_rejects);
        assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0), "time order");
        seen.sort();
        expected.sort();
        assert_eq!(seen, expected);
        report
    }
}
