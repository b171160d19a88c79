//! kill -9 during sustained ingest, in a loop: every acknowledged batch is in the store exactly
//! once after each restart, and nothing is ever duplicated.
//!
//! The parent re-executes this test binary as a child (`child_writer` with
//! `YAGURA_EVENTSTORE_CHILD_DIR` set). The child ingests batches of events with unique
//! `event.id`s and prints `ACK <batch>` only after `ingest` returned; it also retries some
//! batches to exercise idempotency, and flushes often so kills land inside flushes, WAL
//! truncation and split builds too, and a second thread compacts all the while (sealed windows
//! of format 3 splits rewritten into format 4, tiered storage), so kills land inside
//! conversions and their catalogue swaps as well. The parent SIGKILLs it at a random moment,
//! reopens the store and counts ids.

#![cfg(feature = "store")]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use yagura_eventstore::{CompactOptions, EventStore, HuntQuery, StoreOptions, WalOptions};
use yagura_model::{Event, OrgId, Scope, Timestamp};

const CHILD_ENV: &str = "YAGURA_EVENTSTORE_CHILD_DIR";
const START_ENV: &str = "YAGURA_EVENTSTORE_CHILD_START";
const BATCH: usize = 20;

fn opts() -> StoreOptions {
    StoreOptions {
        flush_events: 400,
        writer_memory: 15_000_000,
        wal: WalOptions {
            segment_bytes: 64 * 1024,
            ..WalOptions::default()
        },
        ..StoreOptions::default()
    }
}

fn event(batch: u64, i: usize) -> Event {
    let json = format!(
        r#"{{"@timestamp":"{}","organization":{{"id":"org-{}"}},"event":{{"id":"{batch}-{i}","dataset":"zeek.dns"}},
            "source":{{"ip":"10.0.{}.{}"}},"dns":{{"question":{{"name":"host{}.example.com"}}}}}}"#,
        Timestamp::from_secs(1_700_000_000 + (batch as i64 * 7) % 20_000).to_rfc3339(),
        batch % 3,
        batch % 200,
        i,
        batch % 50
    );
    serde_json::from_str(&json).expect("valid test event")
}

#[test]
fn child_writer() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return; // only meaningful as the child of `kill_9_loop`
    };
    let start: u64 = std::env::var(START_ENV)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let store =
        std::sync::Arc::new(EventStore::open(Path::new(&dir), opts()).expect("child opens store"));
    // Compaction beside ingest: every hour-window of these (2023) events is sealed, so its
    // format 3 splits are rewritten into format 4, again and again as flushes add more.
    let compactor = std::sync::Arc::clone(&store);
    std::thread::spawn(move || {
        loop {
            let r = compactor.compact(CompactOptions {
                window_secs: 3600,
                ..CompactOptions::default()
            });
            if let Err(e) = r {
                println!("COMPACT-ERROR {e}");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    let mut out = std::io::stdout(); // not locked: the compaction thread prints too
    writeln!(out, "OPEN").ok();
    out.flush().ok();
    for b in start.. {
        let events = (0..BATCH).map(|i| event(b, i)).collect();
        let ack = store.ingest(&format!("batch-{b}"), events).expect("ingest");
        assert!(!ack.duplicate);
        writeln!(out, "ACK {b}").ok();
        out.flush().ok();
        if b % 7 == 3 {
            // A client retry of an acknowledged batch must not store it again.
            let events = (0..BATCH).map(|i| event(b, i)).collect();
            let again = store.ingest(&format!("batch-{b}"), events).expect("retry");
            assert!(again.duplicate, "retry of batch {b} stored twice");
        }
    }
}

fn count_ids(dir: &Path) -> BTreeMap<String, usize> {
    let store = EventStore::open(dir, opts()).expect("reopen after kill");
    let scope = Scope::orgs(
        ["org-0", "org-1", "org-2"]
            .iter()
            .map(|o| OrgId::new(o).expect("org"))
            .collect(),
    );
    let r = store
        .hunt(&HuntQuery {
            scope,
            ..HuntQuery::default()
        })
        .expect("hunt everything");
    let mut ids = BTreeMap::new();
    for h in r.hits {
        let id = h.event.event.id.map(|s| s.to_string()).unwrap_or_default();
        *ids.entry(id).or_insert(0) += 1;
    }
    ids
}

#[test]
fn kill_9_loop() {
    let rounds: usize = std::env::var("YAGURA_KILL_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("test binary path");
    let mut acked: BTreeSet<u64> = BTreeSet::new();
    let mut next_batch = 0u64;
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for round in 0..rounds {
        let mut child = Command::new(&exe)
            .args(["child_writer", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .env(START_ENV, next_batch.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("child stdout");
        let (tx, rx) = std::sync::mpsc::channel::<u64>();
        let reader = std::thread::spawn(move || {
            let mut errors = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(b) = line.strip_prefix("ACK ") {
                    let _ = tx.send(b.parse::<u64>().expect("batch number"));
                } else if line.starts_with("COMPACT-ERROR") {
                    errors.push(line);
                }
            }
            errors
        });
        // Wait for the first acknowledgement of this round (start-up and replay take a
        // machine-dependent time), let it run 0..500 ms more, then kill -9: the kill lands at
        // a random point of ingest, flush, split build or WAL truncation.
        let mut acks = Vec::new();
        if let Ok(b) = rx.recv_timeout(Duration::from_secs(120)) {
            acks.push(b);
        }
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(seed % 500));
        child.kill().expect("SIGKILL child");
        child.wait().expect("reap child");
        let errors = reader.join().expect("reader thread");
        assert!(errors.is_empty(), "round {round}: {errors:?}");
        acks.extend(rx.try_iter());
        if let Some(&last) = acks.last() {
            next_batch = last + 1;
        }
        // A batch written but killed before its ACK line may exist; start after it.
        next_batch += 1;
        acked.extend(acks);

        let ids = count_ids(dir.path());
        let dups: Vec<_> = ids.iter().filter(|(_, n)| **n > 1).collect();
        assert!(dups.is_empty(), "round {round}: duplicated events {dups:?}");
        for b in &acked {
            for i in 0..BATCH {
                assert!(
                    ids.contains_key(&format!("{b}-{i}")),
                    "round {round}: acknowledged event {b}-{i} lost"
                );
            }
        }
        // Nothing exists that was not sent: every id is of a whole batch.
        let mut per_batch: BTreeMap<&str, usize> = BTreeMap::new();
        for id in ids.keys() {
            if let Some((b, _)) = id.split_once('-') {
                *per_batch.entry(b).or_default() += 1;
            }
        }
        assert!(
            per_batch.values().all(|n| *n == BATCH),
            "round {round}: partial batch stored"
        );
    }
    let formats: BTreeSet<u32> = EventStore::open(dir.path(), opts())
        .expect("reopen")
        .splits()
        .expect("splits")
        .iter()
        .map(|s| s.format)
        .collect();
    assert!(
        formats.contains(&4),
        "compaction converted sealed windows to format 4 ({formats:?})"
    );
    assert!(
        acked.len() >= rounds,
        "the child made progress in every round ({} batches acknowledged)",
        acked.len()
    );
    println!(
        "kill -9 loop: {rounds} rounds, {} acknowledged batches ({} events), none lost or duplicated",
        acked.len(),
        acked.len() * BATCH
    );
}
