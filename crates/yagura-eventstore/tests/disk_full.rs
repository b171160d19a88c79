//! A real full disk: a 512 KiB tmpfs mounted for the test. Ingest until the disk is full; the
//! error must be a clean "disk full", every acknowledged batch must survive a reopen, and the
//! log must accept batches again once space is freed.
//!
//! Mounting needs root (CAP_SYS_ADMIN). Without it the test prints a notice and passes, unless
//! `YAGURA_REQUIRE_PEERS=1` (as in `.ci/run`), where it fails. The injected-error variant in
//! `wal::tests` always runs.

#![cfg(feature = "store")]

use std::path::Path;
use std::process::Command;

use yagura_eventstore::{EventStore, StoreError, StoreOptions, WalError, WalOptions};
use yagura_model::{Event, Timestamp};

struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn mount_tmpfs(at: &Path, size: &str) -> Result<Mount, String> {
    let out = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(at)
        .output()
        .map_err(|e| format!("cannot run mount: {e}"))?;
    if out.status.success() {
        Ok(Mount(at.to_path_buf()))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

fn event(b: usize, i: usize) -> Event {
    let json = format!(
        r#"{{"@timestamp":"{}","organization":{{"id":"org-a"}},"event":{{"id":"{b}-{i}"}},
            "url":{{"full":"http://padding-{b}-{i}.example.com/{}"}}}}"#,
        Timestamp::from_secs(1_700_000_000 + b as i64).to_rfc3339(),
        "x".repeat(200)
    );
    serde_json::from_str(&json).expect("valid event")
}

#[test]
fn full_tmpfs_stops_intake_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _mount = match mount_tmpfs(dir.path(), "512k") {
        Ok(m) => m,
        Err(why) => {
            if std::env::var("YAGURA_REQUIRE_PEERS").as_deref() == Ok("1") {
                panic!("YAGURA_REQUIRE_PEERS=1 but a tmpfs cannot be mounted: {why}");
            }
            eprintln!("NOTICE: skipping the real disk-full test (cannot mount a tmpfs: {why})");
            return;
        }
    };
    let data = dir.path().join("store");
    let opts = StoreOptions {
        flush_events: usize::MAX,
        wal: WalOptions {
            segment_bytes: 1 << 30,
            ..WalOptions::default()
        },
        ..StoreOptions::default()
    };
    let mut acked = 0usize;
    {
        let store = EventStore::open(&data, opts.clone()).expect("open on tmpfs");
        // Ballast, freed later to simulate an operator making room.
        std::fs::write(dir.path().join("ballast"), vec![7u8; 64 * 1024]).expect("ballast");
        let mut full_at = None;
        for b in 0..10_000 {
            let events = (0..10).map(|i| event(b, i)).collect();
            match store.ingest(&format!("b{b}"), events) {
                Ok(_) => acked += 1,
                Err(StoreError::Wal(WalError::DiskFull(e))) => {
                    full_at = Some(b);
                    eprintln!("disk full after {acked} batches: {e}");
                    break;
                }
                Err(e) => panic!("unexpected error instead of disk full: {e}"),
            }
        }
        let b = full_at.expect("the disk filled up");
        assert!(acked > 10, "some batches fit before the disk filled");
        // Still full: still a clean refusal.
        let events = (0..10).map(|i| event(b, i)).collect();
        assert!(matches!(
            store.ingest(&format!("b{b}"), events),
            Err(StoreError::Wal(WalError::DiskFull(_)))
        ));
        // Free space: intake resumes with the same batch id (it was never stored).
        std::fs::remove_file(dir.path().join("ballast")).expect("free space");
        let events = (0..10).map(|i| event(b, i)).collect();
        let ack = store
            .ingest(&format!("b{b}"), events)
            .expect("ingest after freeing space");
        assert!(!ack.duplicate);
        acked += 1;
    }
    // Reopen: every acknowledged batch, nothing torn.
    let store = EventStore::open(&data, opts).expect("reopen");
    let stats = store.stats().expect("stats");
    assert_eq!(stats.pending_events, acked * 10);
}
