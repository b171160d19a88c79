#!/usr/bin/env bash
# Creates (once) the virtualenv with the STIX 2.1 and MISP validators that yagura-intel's export
# tests run: stix2-validator, stix2 (OASIS library) and pymisp (its JSON schema). Idempotent.
# `.ci/run` must call this before `cargo test --workspace`, which runs with
# YAGURA_REQUIRE_PEERS=1 and then fails if the validators are missing.
set -euo pipefail
VENV="${YAGURA_VENV:-/root/.cache/yagura-venv}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import stix2validator, pymisp, stix2' 2>/dev/null; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check stix2-validator pymisp stix2
fi
echo "yagura-intel validators ready in $VENV"
