#!/usr/bin/env bash
# yagura-sim CI step (called by .ci/run after `cargo test --workspace`; idempotent).
# Short fuzz runs of the simulator's parsers of untrusted input: scenario files and the
# alert/truth JSON lines given to `yagura exercise score`.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v cargo-fuzz >/dev/null 2>&1 || ! rustup toolchain list | grep -q nightly; then
    if [ "${YAGURA_REQUIRE_PEERS:-0}" = "1" ]; then
        echo "yagura-sim: cargo-fuzz or the nightly toolchain is missing" >&2
        exit 1
    fi
    echo "yagura-sim: skipping fuzz runs (cargo-fuzz or nightly missing)"
    exit 0
fi
for target in scenario score_inputs; do
    cargo +nightly fuzz run --fuzz-dir crates/yagura-sim/fuzz "$target" -- \
        -max_total_time=30 -rss_limit_mb=2048
done
