//! The parsing half of HTTP push intake, alone: an NDJSON body of ECS events read with
//! [`yagura_formats::read_bytes`] as `yagura serve` reads a pushed body (format detected),
//! for instruction counts of the intake's parse step under callgrind:
//!
//! ```sh
//! cargo build --release -p yagura-formats --example ecs_intake
//! valgrind --tool=callgrind --callgrind-out-file=/tmp/x.out \
//!   target/release/examples/ecs_intake BODY.ndjson [REPEAT]
//! ```
//!
//! Prints the events and rejects read (the body is read `REPEAT` times, default 1).

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: ecs_intake BODY.ndjson [REPEAT]");
        std::process::exit(2);
    };
    let repeat: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(1);
    let body = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("reading {path}: {e}");
            std::process::exit(1);
        }
    };
    let opts = yagura_formats::ReadOptions::default();
    let (mut events, mut rejects) = (0u64, 0u64);
    for _ in 0..repeat {
        match yagura_formats::read_bytes(&body, "http/org/batch", &opts) {
            Ok(records) => {
                for r in records {
                    match r {
                        Ok(_) => events += 1,
                        Err(_) => rejects += 1,
                    }
                }
            }
            Err(e) => {
                eprintln!("{path}: {e}");
                std::process::exit(1);
            }
        }
    }
    println!("{events} events, {rejects} rejects");
}
