#![no_main]
//! The columnar event block of format 4 splits. Even first byte: the rest is a block file,
//! which must decode or fail with an error, never panic. Odd first byte: the rest is a list of
//! NUL-separated rows (any text, JSON or not), which must round-trip byte for byte; then one
//! byte of the block is flipped and decoding must again error or decode without panicking.
use libfuzzer_sys::fuzz_target;
use yagura_eventstore::block::{BlockReader, BlockWriter};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        if let Ok(b) = BlockReader::from_bytes(rest.to_vec()) {
            let _ = b.all();
            let _ = b.get(&[0, b.num_rows().saturating_sub(1), u64::MAX]);
        }
        return;
    }
    let text = String::from_utf8_lossy(rest);
    let rows: Vec<&str> = text.split('\0').collect();
    let mut w = BlockWriter::new(1, 1 + usize::from(mode >> 1) % 7).expect("writer");
    for r in &rows {
        w.push(r).expect("push");
    }
    let bytes = w.finish().expect("finish");
    let b = BlockReader::from_bytes(bytes.clone()).expect("own block decodes");
    assert_eq!(b.all().expect("rows"), rows);
    let mut bad = bytes;
    let i = rest.len().wrapping_mul(31) % bad.len();
    bad[i] ^= mode | 1;
    if let Ok(b) = BlockReader::from_bytes(bad) {
        let _ = b.all();
    }
});
