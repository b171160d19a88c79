#!/usr/bin/env bash
# Short fuzz runs of every cargo-fuzz target of every crate (crates/*/fuzz), on the preinstalled
# nightly toolchain. Each target runs FUZZ_SECONDS (default 10) from a corpus kept in the cache.
# All fuzz crates share one target directory, so common dependencies are built once.
# A fuzz crate that does not build, or a target that crashes, fails CI; the reproducer and the
# panic message are printed in the log.
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds="${FUZZ_SECONDS:-10}"
if ! rustup toolchain list | grep -q '^nightly'; then
  echo "fuzz: no nightly toolchain on this machine; fuzzing not run" >&2
  [ "${YAGURA_REQUIRE_PEERS:-0}" = 1 ] && exit 1
  exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz"
  cargo install cargo-fuzz --locked --quiet
fi

cache="${FUZZ_CACHE:-/root/.cache/yagura-fuzz}"
failures=()
for dir in crates/*/fuzz; do
  [ -f "$dir/Cargo.toml" ] || continue
  crate=$(basename "$(dirname "$dir")")
  echo "fuzz: building $crate targets"
  build_log=$(mktemp)
  if ! cargo +nightly fuzz build --fuzz-dir "$dir" --target-dir "$cache/target" >"$build_log" 2>&1; then
    echo "fuzz: $crate: the fuzz crate does not build:" >&2
    tail -n 40 "$build_log" >&2
    rm -f "$build_log"
    failures+=("$crate (build)")
    continue
  fi
  rm -f "$build_log"
  for target in $(cargo +nightly fuzz list --fuzz-dir "$dir"); do
    corpus="$cache/corpus/$crate/$target"
    mkdir -p "$corpus"
    log=$(mktemp)
    echo "fuzz: $crate/$target for ${seconds}s"
    status=0
    cargo +nightly fuzz run --fuzz-dir "$dir" --target-dir "$cache/target" "$target" "$corpus" -- \
      -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=0 \
      >"$log" 2>&1 || status=$?
    grep -E '^(#[0-9]+ +DONE|Done [0-9]+ runs)' "$log" | tail -n 1 || true
    if [ "$status" -ne 0 ] || ls "$dir/artifacts/$target"/crash-* >/dev/null 2>&1; then
      echo "fuzz: $crate/$target FAILED (exit $status):" >&2
      grep -E -A 12 '(panicked|ERROR: libFuzzer|==[0-9]+==ERROR|SUMMARY|Test unit written|Base64)' "$log" | head -n 60 >&2 || tail -n 40 "$log" >&2
      failures+=("$crate/$target")
    fi
    rm -f "$log"
  done
done

if [ "${#failures[@]}" -gt 0 ]; then
  echo "fuzz: ${#failures[@]} failure(s): ${failures[*]}" >&2
  exit 1
fi
echo "fuzz: done, every target ran ${seconds}s without a crash"
