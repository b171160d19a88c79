#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for e in yagura_sigma::windows::events_from_json_text(text).into_iter().flatten() {
        let _ = yagura_sigma::entities_of(&e);
    }
});
