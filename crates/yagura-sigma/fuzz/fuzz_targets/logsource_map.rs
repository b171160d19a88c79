#![no_main]
use libfuzzer_sys::fuzz_target;
use yagura_sigma::LogSourceMap;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(map) = LogSourceMap::from_yaml(text) {
        let mut e = yagura_model::Event::default();
        e.winlog.channel = Some("Security".into());
        e.winlog.event_id = Some(1);
        map.slots_of(&e, |s| {
            let _ = map.plan(s);
        });
    }
});
