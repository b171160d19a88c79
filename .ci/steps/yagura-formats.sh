#!/usr/bin/env bash
# yagura-formats: short cargo-fuzz runs of every reader (after `cargo test --workspace`).
# Idempotent; run from the repository root. Needs nightly + cargo-fuzz: when they are missing
# the step is skipped with a notice, unless YAGURA_REQUIRE_PEERS=1 (then it fails).
set -euo pipefail

FUZZ_DIR=crates/yagura-formats/fuzz
SECS="${YAGURA_FORMATS_FUZZ_SECS:-8}"

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    if [ "${YAGURA_REQUIRE_PEERS:-0}" = "1" ]; then
        echo "yagura-formats: cargo +nightly fuzz is required (YAGURA_REQUIRE_PEERS=1) but missing" >&2
        exit 1
    fi
    echo "yagura-formats: SKIPPED fuzz runs (cargo +nightly fuzz not installed)"
    exit 0
fi

# Fuzz builds go to their own target dir so they never invalidate the test build.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/fuzz-formats"
targets=$(sed -n 's/^name = "\([a-z_]*\)"$/\1/p' "$FUZZ_DIR/Cargo.toml" | grep -v '^yagura-formats-fuzz$')
cargo +nightly fuzz build --fuzz-dir "$FUZZ_DIR" -O
seeds=crates/yagura-formats/test_data
for t in $targets; do
    corpus="$CARGO_TARGET_DIR/corpus/$t"
    mkdir -p "$corpus"
    echo "yagura-formats: fuzzing $t for ${SECS}s"
    cargo +nightly fuzz run --fuzz-dir "$FUZZ_DIR" -O "$t" "$corpus" "$seeds" -- \
        -max_total_time="$SECS" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=0 >/dev/null 2>"$corpus.log" || {
        echo "yagura-formats: fuzz target $t failed:" >&2
        tail -40 "$corpus.log" >&2
        exit 1
    }
done
echo "yagura-formats: fuzz runs passed ($(echo $targets | wc -w) targets x ${SECS}s)"
