//! Warninglist JSON: loaded or an error, never a panic; checks on any value are total.
#![no_main]

use libfuzzer_sys::fuzz_target;
use yagura_intel::warninglist::Warninglists;
use yagura_model::IndicatorKind;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let mut w = Warninglists::new();
    if w.add_json("fuzz", s).is_ok() {
        for k in IndicatorKind::ALL {
            let _ = w.check(k, s);
            let _ = w.check(k, "1.2.3.4");
            let _ = w.check(k, "a.example");
        }
    }
});
