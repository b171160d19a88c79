//! The data-dir snapshot round-trips every indicator with its provenance.

use yagura_intel::import::{FeedDefaults, import_path};
use yagura_intel::{IndicatorStore, persist};

#[test]
fn snapshot_round_trip() {
    let mut store = IndicatorStore::new();
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data");
    let d = FeedDefaults::default();
    for f in [
        "stix/bundle.json",
        "misp/event.json",
        "csv/feed.csv",
        "list/plain.txt",
    ] {
        import_path(&mut store, &data.join(f), &d).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        persist::load(dir.path()).unwrap().len(),
        0,
        "absent snapshot is empty"
    );
    let path = persist::save(&store, dir.path()).unwrap();
    assert!(path.ends_with("intel/indicators.jsonl"));
    let back = persist::load(dir.path()).unwrap();
    let a: Vec<_> = store.iter().map(|i| i.to_indicator()).collect();
    let b: Vec<_> = back.iter().map(|i| i.to_indicator()).collect();
    assert_eq!(a, b);
    assert!(a.len() > 20);

    // A damaged snapshot is an error naming the line, never a panic or a silent loss.
    let text = std::fs::read_to_string(&path).unwrap();
    let broken = format!("{text}[\"nonsense-kind\",\"x\",null,0]\n");
    std::fs::write(&path, broken).unwrap();
    let e = persist::load(dir.path()).unwrap_err().to_string();
    assert!(e.contains("indicators.jsonl line"), "{e}");
}
