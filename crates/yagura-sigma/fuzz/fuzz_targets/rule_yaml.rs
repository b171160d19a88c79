#![no_main]
//! Any text as a rule file: loading reports, never panics; evaluating the result on a few
//! events never panics either.
use libfuzzer_sys::fuzz_target;
use yagura_sigma::{LogSourceMap, RuleSet};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let set = RuleSet::from_texts([("fuzz.yml", text)], LogSourceMap::builtin());
    let mut e = yagura_model::Event::default();
    e.winlog.channel = Some("Security".into());
    e.winlog.event_id = Some(4625);
    e.winlog.event_data.insert("TargetUserName", "admin");
    set.evaluate(&e, |_| {});
    e.event.dataset = Some("squid.access".into());
    e.url.full = Some("http://198.51.100.7/a.exe".into());
    set.evaluate(&e, |_| {});
});
