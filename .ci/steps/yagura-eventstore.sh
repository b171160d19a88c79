#!/usr/bin/env bash
# yagura-eventstore: short fuzz runs of the WAL segment scanner and indicator normalization.
# Idempotent; runs from the repository root. The fuzz crate builds without the `store`
# feature (no tantivy/SQLite), so the build stays small.
set -euo pipefail
fuzz_dir=crates/yagura-eventstore/fuzz
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    if [[ "${YAGURA_REQUIRE_PEERS:-}" == 1 ]]; then
        echo "yagura-eventstore: cargo +nightly fuzz is required (YAGURA_REQUIRE_PEERS=1)" >&2
        exit 1
    fi
    echo "NOTICE: yagura-eventstore: cargo-fuzz/nightly absent, fuzz runs skipped"
    exit 0
fi
for target in wal_segment indicator; do
    cargo +nightly fuzz run --fuzz-dir "$fuzz_dir" "$target" -- -max_total_time=30
done
