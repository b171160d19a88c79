//! The check every reader's fuzz target runs (included by each target with `#[path]`):
//! arbitrary bytes through the whole reader with a small line cap, so the over-long-line path is
//! exercised too. Must never panic; every record must come back as an event or a reject, and
//! serializing an event must not panic either. The same records must come back through
//! `FileReader::next_into` (one reused event: the readers' refill paths) as through the iterator.

use yagura_formats::{Event, FileReader, Format, ReadOptions, read_bytes};

pub fn check(data: &[u8], format: Option<Format>) {
    let opts = ReadOptions {
        format,
        max_line: 4096,
        max_evtx: 1 << 22,
        ..ReadOptions::default()
    };
    let Ok(records) = read_bytes(data, "fuzz.log", &opts) else {
        return;
    };
    for ev in records.iter().flatten() {
        let _ = serde_json::to_vec(ev);
        assert!(ev.log.file.line.is_some());
    }
    let Ok(mut reader) =
        FileReader::from_reader(std::io::Cursor::new(data.to_vec()), "fuzz.log", &opts)
    else {
        panic!("read_bytes opened the input, from_reader did not");
    };
    let mut ev = Event::default();
    let mut i = 0;
    while let Some(r) = reader.next_into(&mut ev) {
        match (r, records.get(i)) {
            (Ok(()), Some(Ok(e))) => assert_eq!(&ev, e, "record {i}"),
            (Err(a), Some(Err(b))) => assert_eq!(&a, b, "record {i}"),
            (r, e) => panic!("record {i}: next_into {r:?}, iterator {e:?}"),
        }
        i += 1;
    }
    assert_eq!(i, records.len());
}
