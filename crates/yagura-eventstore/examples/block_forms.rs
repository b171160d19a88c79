//! Measurement aid for split format 4's event block: bytes per event, encoding CPU and the
//! CPU of reading one row, for a file of ECS JSON lines (e.g. `yagura parse` output of one
//! organization-day), per zstd level and rows per chunk, rows in the order format 4 writes
//! them (dataset, `source.ip`, time) and, for comparison, in time order.
//!
//! ```sh
//! cargo run --release -p yagura-eventstore --example block_forms -- EVENTS.jsonl [LEVELS] [CHUNK_ROWS]
//! ```
//! (`LEVELS` and `CHUNK_ROWS` comma-separated; default `3,9` and `1024,4096,16384`). CPU is
//! the thread's own (`/proc/thread-self/schedstat`), so it holds under load. With a fourth
//! argument `columns`, it prints instead, for entity order and the first chunk size, each
//! column's raw bytes and, per level, its compressed bytes and compression CPU (to choose a
//! level per column).

use yagura_eventstore::block::{BlockReader, BlockWriter};
use yagura_model::Event;

fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn list(arg: Option<String>, default: &str) -> Vec<i64> {
    arg.unwrap_or_else(|| default.to_string())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: block_forms EVENTS.jsonl [LEVELS] [CHUNK_ROWS]")?;
    let levels = list(args.next(), "3,9");
    let chunks = list(args.next(), "1024,4096,16384");
    let per_column = args.next().is_some_and(|a| a == "columns");
    let text = std::fs::read_to_string(&path)?;
    let mut rows: Vec<(Event, String)> = Vec::new();
    for line in text.lines() {
        if let Ok(ev) = serde_json::from_str::<Event>(line) {
            let json = serde_json::to_string(&ev)?;
            rows.push((ev, json));
        }
    }
    let n = rows.len().max(1) as f64;
    let json_bytes: usize = rows.iter().map(|r| r.1.len() + 1).sum();
    println!(
        "{} events, {:.0} B/event of JSON",
        rows.len(),
        json_bytes as f64 / n
    );
    if per_column {
        rows.sort_by(|a, b| {
            (a.0.dataset(), a.0.source.ip, a.0.timestamp).cmp(&(
                b.0.dataset(),
                b.0.source.ip,
                b.0.timestamp,
            ))
        });
        let chunk = chunks.first().copied().unwrap_or(4096) as usize;
        let mut w = BlockWriter::new(1, chunk)?;
        w.keep_raw_frames();
        for (_, json) in &rows {
            w.push(json)?;
        }
        let (_, mut cols) = w.finish_raw()?;
        let raw_of = |c: &yagura_eventstore::block::RawColumn| -> usize {
            c.frames.iter().map(Vec::len).sum()
        };
        cols.sort_by_key(|c| std::cmp::Reverse(raw_of(c)));
        let mut totals = vec![(0usize, 0u64); levels.len()];
        println!(
            "column\traw B/event\t{}",
            levels
                .iter()
                .map(|l| format!("zstd {l}: B/event, ns CPU/event"))
                .collect::<Vec<_>>()
                .join("\t")
        );
        for c in &cols {
            let mut cells = Vec::new();
            for (k, &level) in levels.iter().enumerate() {
                let mut z = zstd::bulk::Compressor::new(level as i32)?;
                z.set_parameter(zstd::stream::raw::CParameter::ChecksumFlag(true))?;
                let c0 = cpu_ns();
                let mut bytes = 0;
                for f in &c.frames {
                    bytes += z.compress(f)?.len();
                }
                let ns = cpu_ns() - c0;
                totals[k].0 += bytes;
                totals[k].1 += ns;
                cells.push(format!("{:.2}\t{:.0}", bytes as f64 / n, ns as f64 / n));
            }
            println!(
                "{}\t{:.1}\t{}",
                c.path,
                raw_of(c) as f64 / n,
                cells.join("\t")
            );
        }
        for (k, &level) in levels.iter().enumerate() {
            println!(
                "total zstd {level}: {:.2} B/event, {:.0} ns CPU/event",
                totals[k].0 as f64 / n,
                totals[k].1 as f64 / n
            );
        }
        return Ok(());
    }
    for order in ["entity", "time"] {
        if order == "entity" {
            rows.sort_by(|a, b| {
                (a.0.dataset(), a.0.source.ip, a.0.timestamp).cmp(&(
                    b.0.dataset(),
                    b.0.source.ip,
                    b.0.timestamp,
                ))
            });
        } else {
            rows.sort_by_key(|r| r.0.timestamp);
        }
        for &level in &levels {
            for &chunk in &chunks {
                let c0 = cpu_ns();
                let mut w = BlockWriter::new(level as i32, chunk as usize)?;
                for (_, json) in &rows {
                    w.push(json)?;
                }
                let bytes = w.finish()?;
                let enc = (cpu_ns() - c0) as f64 / 1e9;
                let size = bytes.len();
                let b = BlockReader::from_bytes(bytes)?;
                // 500 rows read one at a time, spread over the block.
                let picks: Vec<u64> = (0..500u64)
                    .map(|i| (i * 7919 * 104_729) % rows.len().max(1) as u64)
                    .collect();
                let c1 = cpu_ns();
                for &r in &picks {
                    let got = b.get(&[r])?;
                    assert_eq!(got[0], rows[r as usize].1, "round trip");
                }
                let read = (cpu_ns() - c1) as f64 / 1e3 / picks.len() as f64;
                println!(
                    "{order} order, zstd {level}, {chunk} rows per chunk: {:.1} B/event; encode {:.2} µs CPU per event; one row read {read:.0} µs CPU",
                    size as f64 / n,
                    enc * 1e6 / n
                );
            }
        }
    }
    Ok(())
}
