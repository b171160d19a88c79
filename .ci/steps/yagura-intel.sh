#!/usr/bin/env bash
# CI step for yagura-intel: the external validators of the STIX 2.1 and MISP exports
# (stix2-validator --strict, pymisp's JSON schema, the OASIS stix2 library's ids), run from the
# virtualenv of .ci/setup/yagura-intel-venv.sh. Idempotent; run from the repo root.
set -euo pipefail
bash "$(dirname "$0")/../setup/yagura-intel-venv.sh"
export YAGURA_VENV="${YAGURA_VENV:-/root/.cache/yagura-venv}"
# With YAGURA_REQUIRE_PEERS=1 a missing validator is a failure, not a skip.
export YAGURA_REQUIRE_PEERS=1
cargo test -p yagura-intel --test export_validators -- --nocapture
# Fuzz targets (crates/yagura-intel/fuzz) run in the shared .ci/steps/fuzz.sh.
