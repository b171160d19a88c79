use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};

type Replayed = Vec<(u64, String, Vec<u8>)>;

fn open(dir: &Path, opts: WalOptions, after: u64) -> (Wal, ReplayStats, Replayed) {
    let mut got = Vec::new();
    let (wal, stats) = Wal::open::<std::convert::Infallible>(dir, opts, after, |r| {
        got.push((
            r.lsn,
            String::from_utf8_lossy(r.batch_id).into_owned(),
            r.payload.to_vec(),
        ));
        Ok(())
    })
    .unwrap();
    (wal, stats, got)
}

fn recs(n: usize, tag: &str) -> Vec<Vec<u8>> {
    (0..n).map(|i| format!("{tag}-{i}").into_bytes()).collect()
}

fn only_segment(dir: &Path) -> PathBuf {
    let segs = list_segments(dir).unwrap();
    assert_eq!(segs.len(), 1);
    segs[0].path.clone()
}

#[test]
fn append_then_replay_in_order() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (wal, stats, got) = open(dir.path(), WalOptions::default(), 0);
        assert!(got.is_empty());
        assert_eq!(stats.next_lsn, 1);
        let a = wal.append(b"a", recs(3, "a")).unwrap();
        assert_eq!((a.first_lsn, a.count, a.duplicate), (1, 3, false));
        let b = wal.append(b"b", recs(2, "b")).unwrap();
        assert_eq!((b.first_lsn, b.last_lsn()), (4, 5));
    }
    let (_wal, stats, got) = open(dir.path(), WalOptions::default(), 0);
    assert_eq!(stats.records_replayed, 5);
    assert_eq!(stats.batches_replayed, 2);
    assert_eq!(stats.next_lsn, 6);
    let lsns: Vec<u64> = got.iter().map(|g| g.0).collect();
    assert_eq!(lsns, [1, 2, 3, 4, 5]);
    assert_eq!(got[4].2, b"b-1");
}

#[test]
fn replay_starts_after_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (wal, _, _) = open(dir.path(), WalOptions::default(), 0);
        wal.append(b"a", recs(3, "a")).unwrap();
        wal.append(b"b", recs(3, "b")).unwrap();
    }
    let (wal, stats, got) = open(dir.path(), WalOptions::default(), 3);
    assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), [4, 5, 6]);
    assert_eq!(stats.next_lsn, 7);
    // Ids of batches before the checkpoint still deduplicate while their segment exists.
    assert!(wal.append(b"a", recs(3, "a")).unwrap().duplicate);
}

#[test]
fn duplicate_batch_id_is_acknowledged_once() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (wal, _, _) = open(dir.path(), WalOptions::default(), 0);
        let first = wal.append(b"batch-1", recs(4, "x")).unwrap();
        let again = wal.append(b"batch-1", recs(4, "x")).unwrap();
        assert!(again.duplicate);
        assert_eq!(
            (again.first_lsn, again.count),
            (first.first_lsn, first.count)
        );
    }
    let (wal, _, got) = open(dir.path(), WalOptions::default(), 0);
    assert_eq!(got.len(), 4, "written once");
    // Survives the restart too.
    assert!(wal.append(b"batch-1", recs(4, "x")).unwrap().duplicate);
}

#[test]
fn invalid_batches_are_rejected_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let opts = WalOptions {
        max_record_bytes: 8,
        max_batch_records: 2,
        ..WalOptions::default()
    };
    let (wal, _, _) = open(dir.path(), opts, 0);
    let check = |id: &[u8], r: Vec<Vec<u8>>, expect: &str| {
        let e = wal.append(id, r).unwrap_err().to_string();
        assert!(e.contains(expect), "{e:?} should contain {expect:?}");
    };
    check(b"", recs(1, "a"), "batch id must be");
    check(&[b'x'; 256], recs(1, "a"), "batch id must be");
    check(b"a", vec![], "no records");
    check(b"a", recs(3, "a"), "3 records, the limit is 2");
    check(b"a", vec![vec![0; 9]], "record 0 has 9 bytes");
}

/// Writes batches `a`, `b`, `c` (3 records each), damages the file with `damage`, reopens and
/// expects the listed batches to survive and `cut` bytes to be truncated.
fn check_tail(damage: impl FnOnce(&Path, u64), expect: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let mut ends = Vec::new();
    {
        let (wal, _, _) = open(dir.path(), WalOptions::default(), 0);
        for id in ["a", "b", "c"] {
            wal.append(id.as_bytes(), recs(3, id)).unwrap();
            ends.push(fs::metadata(only_segment(dir.path())).unwrap().len());
        }
    }
    let seg = only_segment(dir.path());
    let end_of_b = ends[1];
    damage(&seg, end_of_b);
    let (wal, stats, got) = open(dir.path(), WalOptions::default(), 0);
    let mut ids: Vec<String> = got.iter().map(|g| g.1.clone()).collect();
    ids.dedup();
    assert_eq!(ids, expect);
    let len = fs::metadata(&seg).unwrap().len();
    let kept_end = if expect.len() == 3 { ends[2] } else { end_of_b };
    assert_eq!(len, kept_end, "file truncated to the last complete batch");
    assert_eq!(stats.next_lsn, 1 + 3 * expect.len() as u64);
    // The log continues cleanly after the cut.
    let ack = wal.append(b"d", recs(1, "d")).unwrap();
    assert_eq!(ack.first_lsn, stats.next_lsn);
    drop(wal);
    let (_wal, _, got) = open(dir.path(), WalOptions::default(), 0);
    assert_eq!(got.last().map(|g| g.1.as_str()), Some("d"));
}

fn set_len(p: &Path, n: u64) {
    OpenOptions::new()
        .write(true)
        .open(p)
        .unwrap()
        .set_len(n)
        .unwrap();
}

fn flip(p: &Path, at: u64) {
    let mut data = fs::read(p).unwrap();
    data[at as usize] ^= 0x5a;
    fs::write(p, data).unwrap();
}

#[test]
fn torn_tail_cut_inside_last_record() {
    check_tail(
        |p, _| {
            let n = fs::metadata(p).unwrap().len();
            set_len(p, n - 3);
        },
        &["a", "b"],
    );
}

#[test]
fn torn_tail_cut_inside_header() {
    check_tail(|p, end_b| set_len(p, end_b + 5), &["a", "b"]);
}

#[test]
fn torn_tail_missing_last_records_of_batch() {
    // Batch c lost its last record entirely (frame boundary): incomplete batch is dropped.
    check_tail(
        |p, end_b| {
            let data = fs::read(p).unwrap();
            let first_len =
                u32::from_le_bytes(data[end_b as usize..end_b as usize + 4].try_into().unwrap());
            set_len(p, end_b + 8 + u64::from(first_len));
        },
        &["a", "b"],
    );
}

#[test]
fn torn_tail_checksum_mismatch() {
    check_tail(|p, end_b| flip(p, end_b + 20), &["a", "b"]);
}

#[test]
fn torn_tail_garbage_appended() {
    check_tail(
        |p, _| {
            let mut f = OpenOptions::new().append(true).open(p).unwrap();
            f.write_all(&[0xff; 13]).unwrap();
        },
        &["a", "b", "c"],
    );
}

#[test]
fn corruption_in_sealed_segment_fails_open() {
    let dir = tempfile::tempdir().unwrap();
    let opts = WalOptions {
        segment_bytes: 64,
        ..WalOptions::default()
    };
    {
        let (wal, _, _) = open(dir.path(), opts.clone(), 0);
        for i in 0..4 {
            wal.append(format!("b{i}").as_bytes(), recs(2, "r"))
                .unwrap();
        }
    }
    let segs = list_segments(dir.path()).unwrap();
    assert!(segs.len() >= 3, "rotation happened: {segs:?}");
    flip(&segs[0].path, 20);
    let err = Wal::open::<std::convert::Infallible>(dir.path(), opts, 0, |_| Ok(())).unwrap_err();
    assert!(err.to_string().contains("corrupt"), "{err}");
}

#[test]
fn rotation_and_truncation_through_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let opts = WalOptions {
        segment_bytes: 100,
        ..WalOptions::default()
    };
    {
        let (wal, _, _) = open(dir.path(), opts.clone(), 0);
        for i in 0..10 {
            wal.append(format!("b{i}").as_bytes(), recs(2, "r"))
                .unwrap();
        }
        let before = list_segments(dir.path()).unwrap();
        assert!(before.len() > 3);
        // Checkpoint at lsn 10 (batches b0..b4): every segment entirely <= 10 goes.
        let removed = wal.truncate_through(10).unwrap();
        assert!(removed > 0);
        let after = list_segments(dir.path()).unwrap();
        assert_eq!(after.len(), before.len() - removed);
        assert!(
            after[0].first_lsn <= 11,
            "nothing above the checkpoint removed"
        );
    }
    let (_wal, stats, got) = open(dir.path(), opts, 10);
    assert_eq!(got.first().map(|g| g.0), Some(11));
    assert_eq!(got.len(), 10);
    assert_eq!(stats.next_lsn, 21);
}

#[test]
fn checkpoint_beyond_log_starts_fresh() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (wal, _, _) = open(dir.path(), WalOptions::default(), 0);
        wal.append(b"a", recs(2, "a")).unwrap();
    }
    let (wal, stats, got) = open(dir.path(), WalOptions::default(), 50);
    assert!(got.is_empty());
    assert_eq!(stats.next_lsn, 51);
    assert_eq!(wal.append(b"z", recs(1, "z")).unwrap().first_lsn, 51);
    drop(wal);
    let (_wal, stats, _) = open(dir.path(), WalOptions::default(), 50);
    assert_eq!(stats.next_lsn, 52);
}

#[test]
fn concurrent_appenders_share_group_commits() {
    let dir = tempfile::tempdir().unwrap();
    let (wal, _, _) = open(dir.path(), WalOptions::default(), 0);
    let wal = Arc::new(wal);
    let mut handles = Vec::new();
    for t in 0..8 {
        let wal = Arc::clone(&wal);
        handles.push(std::thread::spawn(move || {
            let mut acks = Vec::new();
            for i in 0..50 {
                acks.push(
                    wal.append(format!("t{t}-{i}").as_bytes(), recs(3, "r"))
                        .unwrap(),
                );
            }
            acks
        }));
    }
    let mut lsns: Vec<u64> = Vec::new();
    for h in handles {
        for a in h.join().unwrap() {
            lsns.extend(a.first_lsn..=a.last_lsn());
        }
    }
    lsns.sort_unstable();
    assert_eq!(lsns, (1..=1200).collect::<Vec<_>>(), "dense, no overlap");
    drop(wal);
    let (_wal, stats, got) = open(dir.path(), WalOptions::default(), 0);
    assert_eq!(got.len(), 1200);
    assert_eq!(stats.batches_replayed, 400);
}

/// Fails the `n`th write (0-based) after writing `partial` bytes of it, with ENOSPC.
#[derive(Debug)]
struct FullAt {
    n: usize,
    partial: usize,
    writes: AtomicUsize,
}

impl FaultInjector for FullAt {
    fn before_write(&self, len: usize) -> Result<(), (usize, io::Error)> {
        if self.writes.fetch_add(1, Ordering::SeqCst) == self.n {
            Err((self.partial.min(len), io::Error::from_raw_os_error(28)))
        } else {
            Ok(())
        }
    }
}

#[test]
fn disk_full_is_a_clean_error_and_corrupts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let fault = Arc::new(FullAt {
        n: 1,
        partial: 30,
        writes: AtomicUsize::new(0),
    });
    let opts = WalOptions {
        fault: Some(fault),
        ..WalOptions::default()
    };
    {
        let (wal, _, _) = open(dir.path(), opts, 0);
        wal.append(b"ok-1", recs(2, "a")).unwrap();
        let err = wal.append(b"full", recs(2, "b")).unwrap_err();
        assert!(matches!(err, WalError::DiskFull(_)), "{err:?}");
        assert!(err.to_string().contains("disk full"));
        // The log keeps working when space is back, and the failed id is not remembered.
        let again = wal.append(b"full", recs(2, "b")).unwrap();
        assert_eq!((again.first_lsn, again.duplicate), (3, false));
    }
    let (_wal, stats, got) = open(dir.path(), WalOptions::default(), 0);
    assert_eq!(stats.truncated_bytes, 0, "the partial write was undone");
    let ids: Vec<&str> = got.iter().map(|g| g.1.as_str()).collect();
    assert_eq!(ids, ["ok-1", "ok-1", "full", "full"]);
}

#[derive(Debug)]
struct SyncFails;

impl FaultInjector for SyncFails {
    fn before_write(&self, _: usize) -> Result<(), (usize, io::Error)> {
        Ok(())
    }
    fn before_sync(&self) -> io::Result<()> {
        Err(io::Error::other("injected EIO"))
    }
}

#[test]
fn failed_fsync_poisons_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let opts = WalOptions {
        fault: Some(Arc::new(SyncFails)),
        ..WalOptions::default()
    };
    let (wal, _, _) = open(dir.path(), opts, 0);
    assert!(matches!(
        wal.append(b"a", recs(1, "a")),
        Err(WalError::Poisoned(_))
    ));
    assert!(matches!(
        wal.append(b"b", recs(1, "b")),
        Err(WalError::Poisoned(_))
    ));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
    /// Whatever the damage at the tail, reopening never fails, never invents records and keeps
    /// a prefix of the acknowledged batches.
    #[test]
    fn any_tail_damage_keeps_a_prefix(
        sizes in proptest::collection::vec(1usize..5, 1..6),
        cut in 0usize..400,
        garbage in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut written = Vec::new();
        {
            let (wal, _, _) = open(dir.path(), WalOptions::default(), 0);
            for (i, n) in sizes.iter().enumerate() {
                let id = format!("b{i}");
                wal.append(id.as_bytes(), recs(*n, &id)).unwrap();
                for r in recs(*n, &id) { written.push((id.clone(), r)); }
            }
        }
        let seg = only_segment(dir.path());
        let len = fs::metadata(&seg).unwrap().len();
        set_len(&seg, len.saturating_sub(cut as u64).max(8));
        OpenOptions::new().append(true).open(&seg).unwrap().write_all(&garbage).unwrap();
        let (_wal, _, got) = open(dir.path(), WalOptions::default(), 0);
        proptest::prop_assert!(got.len() <= written.len());
        for (g, w) in got.iter().zip(&written) {
            proptest::prop_assert_eq!(&g.1, &w.0);
            proptest::prop_assert_eq!(&g.2, &w.1);
        }
        // Whole batches only.
        if let Some(last) = got.last() {
            let n = written.iter().filter(|w| w.0 == last.1).count();
            let k = got.iter().filter(|g| g.1 == last.1).count();
            proptest::prop_assert_eq!(n, k);
        }
    }
}

/// `read_segments(after, through)` of `wal`'s directory as (lsn, payload) pairs.
fn read_back(wal: &Wal, after: u64, through: u64) -> (ReadBack, Vec<(u64, String)>) {
    let mut got = Vec::new();
    let rb = read_segments::<std::convert::Infallible>(wal.dir(), after, through, false, |r| {
        got.push((r.lsn, String::from_utf8_lossy(r.payload).into_owned()));
        Ok(())
    })
    .unwrap();
    (rb, got)
}

#[test]
fn read_back_gives_a_range_across_segments_and_says_where_a_truncated_log_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let opts = WalOptions {
        segment_bytes: 1,
        ..WalOptions::default()
    };
    let (wal, _, _) = open(dir.path(), opts, 0);
    for i in 0..5 {
        wal.append(format!("b{i}").as_bytes(), recs(2, &format!("b{i}")))
            .unwrap();
    }
    assert_eq!(
        list_segments(dir.path()).unwrap().len(),
        5,
        "a segment per batch"
    );
    let check = |after, through, expect: &[u64]| {
        let (rb, got) = read_back(&wal, after, through);
        let lsns: Vec<u64> = got.iter().map(|g| g.0).collect();
        assert_eq!(lsns, expect, "read_back({after}, {through})");
        assert_eq!(rb.records, expect.len() as u64);
        assert_eq!(rb.first_lsn, expect.first().copied());
    };
    check(0, 10, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    check(3, 7, &[4, 5, 6, 7]);
    check(9, 10, &[10]);
    check(10, 10, &[]);
    check(7, 3, &[]);
    let (_, got) = read_back(&wal, 4, 5);
    assert_eq!(got[0].1, "b2-0");
    // Segments wholly at or below 6 removed: a read from 0 resumes at 7.
    wal.truncate_through(6).unwrap();
    check(0, 10, &[7, 8, 9, 10]);
    // The writer goes on appending while a read is made; records past `through` are not read.
    wal.append(b"b5", recs(2, "b5")).unwrap();
    check(8, 10, &[9, 10]);
    check(8, 12, &[9, 10, 11, 12]);
}

#[test]
fn read_back_ignores_a_torn_tail_past_its_range_and_reports_one_inside_it() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (wal, _, _) = open(dir.path(), WalOptions::default(), 0);
        wal.append(b"a", recs(3, "a")).unwrap();
        wal.append(b"b", recs(3, "b")).unwrap();
    }
    let seg = only_segment(dir.path());
    let (wal, _, _) = open(dir.path(), WalOptions::default(), 6);
    // A frame being written past lsn 6 (as the writer's next append would leave it, torn).
    let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
    f.write_all(&[9, 0, 0, 0, 1, 2]).unwrap();
    drop(f);
    let (_, got) = read_back(&wal, 0, 6);
    assert_eq!(got.len(), 6, "the torn tail is past the range");
    let err =
        read_segments::<std::convert::Infallible>(wal.dir(), 0, 7, false, |_| Ok(())).unwrap_err();
    assert!(err.to_string().contains("corrupt"), "{err}");
}
