#!/usr/bin/env bash
# yagura-sigma CI step (idempotent; run from the repo root by .ci/run with CARGO_TARGET_DIR set).
# 1. builds a virtualenv with pySigma and its SQLite backend (reused when already present);
# 2. runs the differential test against it (the peer is required here);
set -euo pipefail

VENV="${YAGURA_PYSIGMA_VENV:-${CARGO_TARGET_DIR:-target}/pysigma-venv}"
if ! "$VENV/bin/python" -c 'import sigma.backends.sqlite' 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check pysigma pysigma-backend-sqlite
fi

YAGURA_REQUIRE_PEERS=1 YAGURA_PYSIGMA_PYTHON="$VENV/bin/python" \
    cargo test -p yagura-sigma --test differential -- --ignored --nocapture

# Fuzz targets (crates/yagura-sigma/fuzz) are run by .ci/steps/fuzz.sh with the others.
