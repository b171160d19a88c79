//! ECS JSON into `Event` and back: never panics; what parses re-serializes and re-parses equal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use yagura_model::Event;

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = serde_json::from_slice::<Event>(data) {
        let text = serde_json::to_string(&e).expect("an event always serializes");
        let back: Event = serde_json::from_str(&text).expect("what we write we read");
        let _ = back.first_value("winlog.event_data.TargetUserName");
        back.observables(|_| {});
    }
});
