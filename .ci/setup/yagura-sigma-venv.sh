#!/usr/bin/env bash
# Creates (once) the virtualenv with pySigma and its SQLite backend that yagura-sigma's
# differential test (crates/yagura-sigma/tests/differential.rs) compares against. Idempotent.
set -euo pipefail
VENV="${YAGURA_PYSIGMA_VENV:-/root/.cache/yagura-pysigma-venv}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import sigma.backends.sqlite' 2>/dev/null; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check pysigma pysigma-backend-sqlite
fi
echo "pySigma peer ready in $VENV"
