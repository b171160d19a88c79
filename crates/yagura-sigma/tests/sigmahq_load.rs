//! `sigma check` over every SigmaHQ rule folder: each rule is loaded or has a reason, and no
//! SigmaHQ rule is invalid.

mod common;

use yagura_sigma::{LoadOptions, LoadStatus, RuleSet};

#[test]
fn every_sigmahq_rule_loads_or_says_why() {
    for dir in common::rule_dirs() {
        let set = RuleSet::load_with(
            std::slice::from_ref(&dir),
            LoadOptions {
                builtin: false,
                ..LoadOptions::default()
            },
        )
        .unwrap();
        let report = set.report();
        let text = yagura_sigma::check::render_text(report);
        let closing: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("loaded ") || l.starts_with("reasons: "))
            .collect();
        println!("{}: {}", dir.display(), closing.join(" | "));
        assert!(!report.rules.is_empty(), "{}", dir.display());
        assert_eq!(report.count(LoadStatus::Invalid), 0, "{text}");
        for r in &report.rules {
            if r.status != LoadStatus::Loaded {
                assert!(r.reason.as_deref().is_some_and(|s| !s.is_empty()), "{r:?}");
                assert!(r.class.is_some(), "{r:?}");
            }
        }
    }
}
