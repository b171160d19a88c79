//! Fuzz target: arbitrary bytes through the whole reader (format forced to Syslog); the checks are
//! `common::check`'s (never a panic, every record an event or a reject, `next_into` with one
//! reused event returning what the iterator returns).
#![no_main]

#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::check(data, Some(yagura_formats::Format::Syslog)));
