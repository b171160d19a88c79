//! DGA model validation on `../shared/data/dga` (50+ families) against benign lists
//! (andrewaeva's Alexa sample; MISP warninglists' Tranco top 10k as test data only).
//! Prints per-family recall; asserts the targets recorded in BENCHMARKS.md.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use yagura_analytics::config::DgaConfig;
use yagura_analytics::dga::unpronounceable;
use yagura_analytics::ngram::dga_label;

fn domains_in(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|l| l.trim().to_ascii_lowercase())
        .filter(|l| !l.is_empty() && !l.starts_with('#') && l.contains('.'))
        .collect()
}

fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|e| e == "txt") {
            out.push(p);
        }
    }
}

/// Names the detector can judge (a registered domain with a label of `min_name_len`+).
fn judgeable(name: &str, cfg: &DgaConfig) -> bool {
    dga_label(name)
        .is_some_and(|l| l.bytes().filter(u8::is_ascii_alphanumeric).count() >= cfg.min_name_len)
}

#[derive(Default, Debug)]
struct Tally {
    names: usize,
    judgeable: usize,
    flagged: usize,
}

/// Per name: `None` when not judgeable, else the model's score.
fn scores(names: &[String], cfg: &DgaConfig) -> Vec<Option<f64>> {
    let all = DgaConfig {
        max_log_likelihood: 0.0,
        ..cfg.clone()
    };
    names
        .iter()
        .map(|n| {
            judgeable(n, cfg)
                .then(|| unpronounceable(n, &all))
                .flatten()
        })
        .collect()
}

fn tally_scores(scores: &[Option<f64>], threshold: f64) -> Tally {
    Tally {
        names: scores.len(),
        judgeable: scores.iter().filter(|s| s.is_some()).count(),
        flagged: scores
            .iter()
            .filter(|s| s.is_some_and(|v| v < threshold))
            .count(),
    }
}

fn tally(names: &[String], cfg: &DgaConfig) -> Tally {
    let t = tally_scores(&scores(names, cfg), cfg.max_log_likelihood);
    // The detector's own predicate agrees with the precomputed scores.
    let direct = names
        .iter()
        .filter(|n| judgeable(n, cfg) && unpronounceable(n, cfg).is_some())
        .count();
    assert_eq!(t.flagged, direct);
    t
}

/// Families whose generators concatenate dictionary words: a pronounceability model cannot
/// and should not flag them (documented limitation).
const DICTIONARY: &[&str] = &[
    "suppobox",
    "matsnu",
    "nymaim2",
    "gozi",
    "charbot",
    "banjori",
    "bazarbackdoor",
];

#[test]
fn dga_lists_against_benign_lists() {
    let data = support::shared_data();
    let cfg = DgaConfig::default();
    // Benign.
    let alexa = domains_in(&data.join("dga/andrewaeva/help/1000domains/alexa_1000.txt"));
    let tranco: Vec<String> = {
        let text =
            std::fs::read_to_string(data.join("intel/misp-warninglists/lists/tranco10k/list.json"))
                .expect("tranco10k warninglist");
        let v: serde_json::Value = serde_json::from_str(&text).expect("json");
        v["list"]
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect()
    };
    let b_alexa = tally(&alexa, &cfg);
    let b_tranco = tally(&tranco, &cfg);
    // DGA families.
    let mut families: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut files = Vec::new();
    walk(&data.join("dga/baderj"), &mut files);
    for f in files {
        let fam = f
            .strip_prefix(data.join("dga/baderj"))
            .ok()
            .and_then(|p| p.components().next())
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .unwrap_or_default();
        if f.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("words"))
        {
            continue;
        }
        families
            .entry(format!("baderj/{fam}"))
            .or_default()
            .extend(domains_in(&f));
    }
    for fam in [
        "conficker",
        "cryptolocker",
        "matsnu",
        "pushdo",
        "ramdo",
        "rovnix",
        "tinba",
        "zeus",
    ] {
        let f = data.join(format!("dga/andrewaeva/help/1000domains/{fam}_1000.txt"));
        families.insert(format!("andrewaeva/{fam}"), domains_in(&f));
    }
    let mut total = Tally::default();
    let mut total_random = Tally::default();
    println!(
        "{:<34} {:>6} {:>9} {:>8} {:>7}",
        "family", "names", "judgeable", "flagged", "recall"
    );
    for (fam, names) in &families {
        let t = tally(names, &cfg);
        let recall = t.flagged as f64 / t.judgeable.max(1) as f64;
        println!(
            "{fam:<34} {:>6} {:>9} {:>8} {:>6.1}%",
            t.names,
            t.judgeable,
            t.flagged,
            recall * 100.0
        );
        total.names += t.names;
        total.judgeable += t.judgeable;
        total.flagged += t.flagged;
        if !DICTIONARY.iter().any(|d| fam.ends_with(d)) {
            total_random.names += t.names;
            total_random.judgeable += t.judgeable;
            total_random.flagged += t.flagged;
        }
    }
    let fpr_alexa = b_alexa.flagged as f64 / b_alexa.judgeable.max(1) as f64;
    let fpr_tranco = b_tranco.flagged as f64 / b_tranco.judgeable.max(1) as f64;
    let recall_all = total.flagged as f64 / total.judgeable.max(1) as f64;
    let recall_random = total_random.flagged as f64 / total_random.judgeable.max(1) as f64;
    // Precision on a balanced set: as many benign names as DGA names, at the benign rate.
    let fp_balanced = fpr_tranco * total.judgeable as f64;
    let precision = total.flagged as f64 / (total.flagged as f64 + fp_balanced).max(1.0);
    println!(
        "benign alexa_1000: {} judgeable, {} flagged ({:.1}%)",
        b_alexa.judgeable,
        b_alexa.flagged,
        fpr_alexa * 100.0
    );
    println!(
        "benign tranco10k:  {} judgeable, {} flagged ({:.1}%)",
        b_tranco.judgeable,
        b_tranco.flagged,
        fpr_tranco * 100.0
    );
    println!(
        "DGA all families: recall {:.1}% of {} judgeable names",
        recall_all * 100.0,
        total.judgeable
    );
    println!(
        "DGA non-dictionary families: recall {:.1}% of {}",
        recall_random * 100.0,
        total_random.judgeable
    );
    println!(
        "precision on a balanced set (tranco rate): {:.1}%",
        precision * 100.0
    );
    // Threshold sweep (benign flag rate vs recall on random-character families).
    println!("threshold sweep: max_log_likelihood  benign(tranco)  recall(non-dictionary)");
    let tranco_scores = scores(&tranco, &cfg);
    let random_scores: Vec<Option<f64>> = families
        .iter()
        .filter(|(fam, _)| !DICTIONARY.iter().any(|d| fam.ends_with(d)))
        .flat_map(|(_, names)| scores(names, &cfg))
        .collect();
    for th in [-3.4, -3.5, -3.6, -3.7, -3.8, -3.9, -4.0, -4.2] {
        let b = tally_scores(&tranco_scores, th);
        let r = tally_scores(&random_scores, th);
        println!(
            "  {th:>5.1}  {:>5.1}%  {:>5.1}%",
            100.0 * b.flagged as f64 / b.judgeable.max(1) as f64,
            100.0 * r.flagged as f64 / r.judgeable.max(1) as f64
        );
    }
    assert!(fpr_tranco <= 0.05, "benign flag rate {fpr_tranco}");
    assert!(fpr_alexa <= 0.05, "benign flag rate {fpr_alexa}");
    assert!(
        recall_random >= 0.90,
        "recall on random-character DGAs {recall_random}"
    );
}
