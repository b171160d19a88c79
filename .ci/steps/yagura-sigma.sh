#!/usr/bin/env bash
# yagura-sigma CI step (idempotent; run from the repo root by .ci/run with CARGO_TARGET_DIR set).
# 1. builds a virtualenv with pySigma and its SQLite backend (reused when already present);
# 2. runs the differential test against it (the peer is required here);
# 3. runs each Sigma fuzz target briefly when cargo-fuzz and a nightly toolchain are present.
set -euo pipefail

VENV="${YAGURA_PYSIGMA_VENV:-${CARGO_TARGET_DIR:-target}/pysigma-venv}"
if ! "$VENV/bin/python" -c 'import sigma.backends.sqlite' 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check pysigma pysigma-backend-sqlite
fi

YAGURA_REQUIRE_PEERS=1 YAGURA_PYSIGMA_PYTHON="$VENV/bin/python" \
    cargo test -p yagura-sigma --test differential -- --nocapture

if command -v cargo-fuzz >/dev/null 2>&1 && rustup toolchain list 2>/dev/null | grep -q nightly; then
    for t in $(cargo +nightly fuzz list --fuzz-dir crates/yagura-sigma/fuzz); do
        cargo +nightly fuzz run --fuzz-dir crates/yagura-sigma/fuzz "$t" -- -max_total_time=30
    done
else
    echo "yagura-sigma: cargo-fuzz or nightly absent, fuzz runs skipped"
fi
