#!/usr/bin/env bash
# CI step for yagura-intel: the external validators of the STIX 2.1 and MISP exports
# (stix2-validator --strict, pymisp's JSON schema, the OASIS stix2 library's ids) from a
# virtualenv this step creates once. Idempotent; run from the repo root.
set -euo pipefail

VENV="${YAGURA_VENV:-/root/.cache/yagura-venv}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import stix2validator, pymisp, stix2' 2>/dev/null; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check stix2-validator pymisp stix2
fi

# The export tests run the validators from the venv; with YAGURA_REQUIRE_PEERS=1 a missing
# validator is a failure, not a skip.
export YAGURA_VENV="$VENV"
export YAGURA_REQUIRE_PEERS=1
cargo test -p yagura-intel --test export_validators -- --nocapture
# Fuzz targets (crates/yagura-intel/fuzz) run in the shared .ci/steps/fuzz.sh.
