#![no_main]
//! Arbitrary bytes after the segment magic: the WAL scanner must never panic, and its valid
//! prefix must rescan to the same records with no defect.
use libfuzzer_sys::fuzz_target;
use yagura_eventstore::wal::{MAGIC, check_segment};

fuzz_target!(|data: &[u8]| {
    let mut seg = MAGIC.to_vec();
    seg.extend_from_slice(data);
    let c = check_segment(&seg, 1);
    let prefix = &seg[..c.valid_len as usize];
    let again = check_segment(prefix, 1);
    assert_eq!(again.records, c.records);
    assert_eq!(again.defect, None);
});
