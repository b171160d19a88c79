//! Shared helpers of the integration tests: the shared data folder and the regression index.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use yagura_model::Event;

pub fn shared() -> PathBuf {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data"));
    assert!(
        p.join("sigma").is_dir(),
        "shared data is missing: expected {} (see the repo README)",
        p.display()
    );
    p
}

pub const RULE_DIRS: &[&str] = &[
    "rules",
    "rules-emerging-threats",
    "rules-threat-hunting",
    "rules-compliance",
    "rules-placeholder",
];

pub fn rule_dirs() -> Vec<PathBuf> {
    let s = shared().join("sigma");
    RULE_DIRS.iter().map(|d| s.join(d)).collect()
}

/// One regression test: rule id, folder, expected match count (None: at least one).
#[derive(Debug, Clone)]
pub struct Regression {
    pub name: String,
    pub rule_id: String,
    pub dir: PathBuf,
    pub match_count: Option<u64>,
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.file_name().is_some_and(|n| n == "info.yml") {
            out.push(p);
        }
    }
}

/// Every regression test that has a regression sample (`regression_tests_info`).
pub fn regressions() -> Vec<Regression> {
    let mut infos = Vec::new();
    walk(&shared().join("sigma/regression_data"), &mut infos);
    infos.sort();
    let mut out = Vec::new();
    for info in infos {
        let text = std::fs::read_to_string(&info).unwrap();
        let y: serde_json::Value = sigma_yaml::from_str(&text).unwrap();
        let Some(tests) = y.get("regression_tests_info").and_then(|t| t.as_array()) else {
            continue;
        };
        let rule_id = y["rule_metadata"][0]["id"].as_str().unwrap().to_owned();
        let dir = info.parent().unwrap().to_path_buf();
        out.push(Regression {
            name: dir.file_name().unwrap().to_string_lossy().into_owned(),
            rule_id,
            dir,
            match_count: tests.first().and_then(|t| t["match_count"].as_u64()),
        });
    }
    out
}

/// The samples that hold more matching records than their `match_count` declares
/// (shared/data/README.md): every engine measured counts the larger number.
pub const KNOWN_UNDERCOUNTED: &[(&str, u64)] = &[
    ("file_event_win_cred_dump_tools_dropped_files", 3),
    ("file_event_win_anydesk_artefact", 3),
    ("proc_creation_win_github_self_hosted_runner", 2),
    ("file_event_win_dtrace_kernel_dump", 2),
    ("registry_set_change_security_zones", 3),
    ("registry_set_disable_administrative_share", 2),
];

pub fn file_with_ext(dir: &Path, ext: &str) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == ext))
}

pub fn json_events(path: &Path) -> Vec<Event> {
    let text = std::fs::read_to_string(path).unwrap();
    yagura_sigma::windows::events_from_json_text(&text)
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .collect()
}

pub fn evtx_events(path: &Path) -> Vec<Event> {
    let mut parser = sigma_evtx::EvtxParser::from_path(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    for rec in parser.records_json_value() {
        let rec = rec.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut e = yagura_sigma::windows::event_from_json(&rec.data)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        e.log.file.path = Some(path.display().to_string().into());
        e.log.file.line = Some(rec.event_record_id);
        out.push(e);
    }
    out
}
