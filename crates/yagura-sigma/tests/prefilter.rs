//! The prefilter never changes a result: on every regression sample and every event of
//! shared/data/windows, with every SigmaHQ rule loaded, the rules matched through the
//! prefilter are exactly those matched by evaluating every rule of the event's log sources.

mod common;

use yagura_sigma::{LoadOptions, RuleSet};

fn ids(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn prefilter_matches_exhaustive_evaluation() {
    let set = RuleSet::load_with(&common::rule_dirs(), LoadOptions::default()).unwrap();
    let stats = set.prefilter_stats();
    assert!(stats.literal > stats.always, "{stats:?}");
    let mut events = Vec::new();
    for r in common::regressions() {
        if let Some(p) = common::file_with_ext(&r.dir, "json") {
            events.extend(common::json_events(&p));
        }
    }
    let mut evtx = Vec::new();
    collect(&common::shared().join("windows"), &mut evtx);
    for p in &evtx {
        events.extend(common::evtx_events(p));
    }
    assert!(events.len() > 4000, "{}", events.len());
    let (mut matches, mut evaluated) = (0usize, 0usize);
    for e in &events {
        let mut fast = Vec::new();
        set.evaluate(e, |m| fast.push(m.rule.id.clone()));
        let mut full = Vec::new();
        set.evaluate_exhaustive(e, |r| full.push(r.id.clone()));
        assert_eq!(
            ids(fast),
            ids(full.clone()),
            "event {:?} record {:?}",
            e.log.file.path,
            e.log.file.line
        );
        matches += full.len();
        evaluated += 1;
    }
    println!("prefilter: {evaluated} events, {matches} matches, identical; {stats:?}");
    assert!(matches > 300);
}

fn collect(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut v: Vec<_> = rd.flatten().map(|e| e.path()).collect();
    v.sort();
    for p in v {
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|x| x == "evtx") {
            out.push(p);
        }
    }
}
