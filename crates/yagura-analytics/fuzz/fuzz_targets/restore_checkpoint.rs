//! Arbitrary JSON as a checkpoint (a persisted state file can be corrupted): restore either
//! fails cleanly or yields analytics that keep working.
#![no_main]

use libfuzzer_sys::fuzz_target;
use yagura_analytics::{Analytics, AnalyticsConfig, Checkpoint};
use yagura_model::{Event, Inventory, Timestamp};

fuzz_target!(|data: &[u8]| {
    let Ok(cp) = serde_json::from_slice::<Checkpoint>(data) else { return };
    let Ok(inventory) = Inventory::from_toml("") else { return };
    let Ok(mut a) = Analytics::new(AnalyticsConfig::default(), &inventory) else { return };
    if a.restore(cp).is_ok() {
        let mut ev = Event::default();
        ev.timestamp = Timestamp::from_secs(1_800_000_000);
        a.observe(&ev);
        let _ = a.finish();
    }
});
