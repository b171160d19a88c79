//! Tailing: growth, unfinished lines, rotation by rename and by truncation, restarts from a
//! checkpoint (also after a rotation that happened while stopped), over-long lines.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use yagura_ingest::{CheckpointFile, Line, TailOptions, Tailer};

fn append(path: &Path, text: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

fn texts(lines: &[Line]) -> Vec<String> {
    lines
        .iter()
        .map(|l| match l {
            Line::Text(t) => String::from_utf8_lossy(t).into_owned(),
            Line::TooLong { len, offset } => format!("<too long: {len} bytes at {offset}>"),
        })
        .collect()
}

fn poll_all(t: &mut Tailer) -> Vec<String> {
    texts(&t.poll(usize::MAX).unwrap().lines)
}

fn opts() -> TailOptions {
    TailOptions {
        max_line: 32,
        chunk: 7, // small, so lines straddle reads
    }
}

#[test]
fn follows_growth_and_holds_back_unfinished_lines() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("access.log");
    let mut t = Tailer::new(&p, None, opts()).unwrap();
    assert!(
        poll_all(&mut t).is_empty(),
        "a missing file is not an error"
    );
    append(&p, "one\ntwo\r\nthr");
    assert_eq!(poll_all(&mut t), ["one", "two"]);
    assert_eq!(t.checkpoint().unwrap().offset, 9);
    append(&p, "ee\n");
    assert_eq!(poll_all(&mut t), ["three"]);
    assert!(poll_all(&mut t).is_empty());
}

#[test]
fn batches_respect_the_line_limit_and_resume() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.log");
    append(&p, "1\n2\n3\n4\n5\n");
    let mut t = Tailer::new(&p, None, opts()).unwrap();
    let b = t.poll(2).unwrap();
    assert_eq!(texts(&b.lines), ["1", "2"]);
    assert_eq!((b.from.offset, b.to.offset), (0, 4));
    assert_eq!(texts(&t.poll(2).unwrap().lines), ["3", "4"]);
    assert_eq!(texts(&t.poll(2).unwrap().lines), ["5"]);
}

#[test]
fn rotation_by_rename_keeps_the_writers_last_lines() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("access.log");
    append(&p, "a1\na2\n");
    let mut t = Tailer::new(&p, None, opts()).unwrap();
    assert_eq!(poll_all(&mut t), ["a1", "a2"]);
    // The writer adds a line, logrotate renames, the writer's last unterminated line lands in
    // the old file, and a new file starts.
    append(&p, "a3\n");
    std::fs::rename(&p, dir.path().join("access.log.1")).unwrap();
    append(&dir.path().join("access.log.1"), "a4-no-lf");
    append(&p, "b1\n");
    assert_eq!(poll_all(&mut t), ["a3", "a4-no-lf", "b1"]);
    append(&p, "b2\n");
    assert_eq!(poll_all(&mut t), ["b2"]);
}

#[test]
fn copy_truncate_starts_over() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.log");
    append(&p, "old line one\nold line two\n");
    let mut t = Tailer::new(&p, None, opts()).unwrap();
    assert_eq!(poll_all(&mut t).len(), 2);
    std::fs::write(&p, "").unwrap();
    append(&p, "new\n");
    assert_eq!(poll_all(&mut t), ["new"]);
}

#[test]
fn restart_resumes_at_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.log");
    let store = CheckpointFile::new(dir.path().join("checkpoints.json"));
    append(&p, "1\n2\n3\n");
    let mut t = Tailer::new(&p, None, opts()).unwrap();
    let b = t.poll(2).unwrap();
    assert_eq!(texts(&b.lines), ["1", "2"]);
    // Lines 1 and 2 are durable: store the checkpoint; line 3 was read but not committed
    // before the "crash".
    let mut cps = store.load().unwrap();
    cps.insert(p.display().to_string(), b.to);
    store.store(&cps).unwrap();
    drop(t);
    append(&p, "4\n");
    let cps = store.load().unwrap();
    let mut t = Tailer::new(&p, cps.get(&p.display().to_string()).copied(), opts()).unwrap();
    assert_eq!(poll_all(&mut t), ["3", "4"]);
}

#[test]
fn restart_after_rotation_while_stopped_drains_the_old_file_first() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("access.log");
    append(&p, "a1\na2\n");
    let mut t = Tailer::new(&p, None, opts()).unwrap();
    let b = t.poll(1).unwrap();
    assert_eq!(texts(&b.lines), ["a1"]);
    drop(t);
    append(&p, "a3\n");
    std::fs::rename(&p, dir.path().join("access.log-20261126")).unwrap();
    append(&p, "b1\n");
    let mut t = Tailer::new(&p, Some(b.to), opts()).unwrap();
    assert_eq!(poll_all(&mut t), ["a2", "a3", "b1"]);
}

#[test]
fn over_long_lines_are_reported_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.log");
    let long = "x".repeat(100);
    append(&p, &format!("ok\n{long}\nafter\n"));
    let mut t = Tailer::new(&p, None, opts()).unwrap();
    assert_eq!(
        poll_all(&mut t),
        ["ok", "<too long: 100 bytes at 3>", "after"]
    );
}

#[test]
fn batch_ids_are_the_same_when_the_same_lines_are_read_again() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.log");
    append(&p, "1\n2\n");
    let first = Tailer::new(&p, None, opts()).unwrap().poll(10).unwrap();
    let again = Tailer::new(&p, None, opts()).unwrap().poll(10).unwrap();
    assert_eq!(first.id(&p), again.id(&p));
    let mut t = Tailer::new(&p, None, opts()).unwrap();
    let part = t.poll(1).unwrap();
    assert_ne!(part.id(&p), first.id(&p));
}
