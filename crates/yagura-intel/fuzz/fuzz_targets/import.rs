//! Any bytes in any import format: a report or an error, never a panic; every value read is
//! accounted for; what was stored matches itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use yagura_intel::import::{FeedDefaults, Format, import_bytes};
use yagura_intel::{Index, IndicatorStore, Matcher};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let format = match sel % 5 {
        0 => None,
        1 => Some(Format::List),
        2 => Some(Format::Csv),
        3 => Some(Format::Stix),
        _ => Some(Format::MispEvent),
    };
    let mut store = IndicatorStore::new();
    let d = FeedDefaults { format, ..FeedDefaults::default() };
    if let Ok(r) = import_bytes(&mut store, "fuzz", body, &d) {
        assert_eq!(r.values, r.added + r.merged);
        assert_eq!(store.len(), r.added);
        let _ = yagura_intel::export::to_stix(&store, &Default::default());
        let _ = yagura_intel::export::to_misp(&store, &Default::default());
        let _ = Matcher::new(Index::build(store), Default::default());
    }
});
