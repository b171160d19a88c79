#![no_main]
//! Indicator normalization and URL host extraction on arbitrary text: no panics, idempotent.
use libfuzzer_sys::fuzz_target;
use yagura_eventstore::terms::{domain_and_parents, normalize_indicator, url_host};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let _ = url_host(s);
    if let Some(n) = normalize_indicator(s) {
        assert_eq!(normalize_indicator(&n).as_deref(), Some(n.as_str()));
    }
    domain_and_parents(s, |p| assert!(s.ends_with(p)));
});
