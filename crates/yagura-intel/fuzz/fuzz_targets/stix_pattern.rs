//! STIX patterns: reduced or rejected with a reason, never a panic; reduced values re-export
//! to a pattern that reduces to the same values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use yagura_intel::export::pattern_of;
use yagura_intel::import::stix::reduce_pattern;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(values) = reduce_pattern(s) {
        for n in values {
            if let Ok(p) = pattern_of(n.kind, &n.value, n.port) {
                let back = reduce_pattern(&p).expect("our own pattern reduces");
                assert_eq!(back.len(), 1);
                assert_eq!(back[0], n, "{p}");
            }
        }
    }
});
