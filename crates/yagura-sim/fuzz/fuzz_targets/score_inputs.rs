//! Alerts and truth files handed to `yagura exercise score`: reading and scoring never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use yagura_model::Alert;
use yagura_sim::TruthItem;
use yagura_sim::score::{read_jsonl, score};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (a, t) = text.split_once("\n--\n").unwrap_or((text, ""));
    let alerts = read_jsonl::<Alert>("alerts", a).unwrap_or_default();
    let truth = read_jsonl::<TruthItem>("truth", t).unwrap_or_default();
    let s = score(&truth, &alerts);
    let _ = s.table();
});
