//! Test support: shared data location, a minimal Zeek TSV/JSON → Event adapter, synthetic
//! events.
#![allow(dead_code)]

pub mod synth;
pub mod zeek;

use std::path::PathBuf;

/// `../shared/data`, relative to the crate. Panics (loudly) when it is missing: the tests
/// that call this evaluate on real public data and must not pass silently without it.
pub fn shared_data() -> PathBuf {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data"));
    assert!(
        p.join("README.md").is_file(),
        "shared test data missing at {} (see the repository's README)",
        p.display()
    );
    p
}
