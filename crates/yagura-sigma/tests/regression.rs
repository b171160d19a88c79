//! Every SigmaHQ regression test yields its `match_count`, from the `.json` and the `.evtx`.

mod common;

use common::*;
use yagura_sigma::{LoadOptions, RuleSet};

fn count(set: &RuleSet, events: &[yagura_model::Event], rule_id: &str) -> u64 {
    let mut n = 0;
    for e in events {
        let mut hit = false;
        set.evaluate(e, |m| hit |= m.rule.id == rule_id);
        n += u64::from(hit);
    }
    n
}

#[test]
fn regression_samples_yield_their_match_count() {
    let set = RuleSet::load_with(
        &rule_dirs(),
        LoadOptions {
            builtin: false,
            include_deprecated: true,
            ..LoadOptions::default()
        },
    )
    .unwrap();
    let regs = regressions();
    assert_eq!(regs.len(), 202, "regression tests with samples");
    let mut failures = Vec::new();
    let mut checked_json = 0;
    let mut checked_evtx = 0;
    for r in &regs {
        let want = KNOWN_UNDERCOUNTED
            .iter()
            .find(|(n, _)| *n == r.name)
            .map(|(_, c)| Some(*c))
            .unwrap_or(r.match_count);
        let ok = |n: u64| match want {
            Some(w) => n == w,
            None => n >= 1,
        };
        let json = file_with_ext(&r.dir, "json")
            .unwrap_or_else(|| panic!("{}: no .json sample", r.dir.display()));
        let n = count(&set, &json_events(&json), &r.rule_id);
        checked_json += 1;
        if !ok(n) {
            failures.push(format!("{} (json): got {n}, want {want:?}", r.name));
        }
        if let Some(evtx) = file_with_ext(&r.dir, "evtx") {
            let n = count(&set, &evtx_events(&evtx), &r.rule_id);
            checked_evtx += 1;
            if !ok(n) {
                failures.push(format!("{} (evtx): got {n}, want {want:?}", r.name));
            }
        }
    }
    println!("regression: {checked_json} json and {checked_evtx} evtx samples checked");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(checked_json, 202);
    assert_eq!(checked_evtx, 202);
}
