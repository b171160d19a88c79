//! Fuzz target: arbitrary bytes through the whole reader (format forced to Ecs), with a small line cap so
//! the over-long-line path is exercised too. Must never panic; every record must come back as
//! an event or a reject.
#![no_main]

use libfuzzer_sys::fuzz_target;
#[allow(unused_imports)]
use yagura_formats::{Format, ReadOptions, read_bytes};

fuzz_target!(|data: &[u8]| {
    let opts = ReadOptions {
        format: Some(Format::Ecs),
        max_line: 4096,
        max_evtx: 1 << 22,
        ..ReadOptions::default()
    };
    if let Ok(records) = read_bytes(data, "fuzz.log", &opts) {
        for r in records {
            if let Ok(ev) = r {
                // Serializing must not panic either.
                let _ = serde_json::to_vec(&ev);
                assert!(ev.log.file.line.is_some());
            }
        }
    }
});
