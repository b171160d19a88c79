#!/bin/bash
# Instructions per request of the alert list API, load-independent (BENCHMARKS.md, server
# session 7): runs the alert_list bench under callgrind (the server process only; wrk is not
# traced) with few connections, and per shape zeroes the counters 3 s after wrk starts
# (caches warm) and dumps them when wrk ends.
#
#   BIN=target/release/deps/alert_list-… DB=/tmp/…/alerts.db \
#       crates/yagura-server/benches/alert_list_instructions.sh [DURATION] [CONNECTIONS]
#
# Needs valgrind and wrk; the db must hold the alerts already (fill it with the bench first).
set -eu
DUR=${1:-15}; C=${2:-8}
OUT=${OUT:-$(mktemp -d /tmp/alert-list-cg.XXXXXX)}
mkdir -p "$OUT"
valgrind --tool=callgrind --callgrind-out-file="$OUT/cg.out" "$BIN" --alerts 1000000 \
    --connections "$C" --duration "$DUR" --db "$DB" --who analyst > "$OUT/bench.txt" 2> "$OUT/vg.err" &
VP=$!
for shape in 1 2 3; do
  W=""
  while [ -z "$W" ]; do
    sleep 0.1
    W=$(pgrep -P "$VP" wrk || true)
    kill -0 "$VP" 2>/dev/null || break
  done
  [ -z "$W" ] && break
  sleep 3
  callgrind_control -z "$VP" >/dev/null 2>&1
  t0=$(date +%s.%N)
  while kill -0 "$W" 2>/dev/null; do sleep 0.05; done
  callgrind_control -d "shape$shape" "$VP" >/dev/null 2>&1
  t1=$(date +%s.%N)
  echo "$t0 $t1" > "$OUT/window$shape"
done
wait "$VP"
for shape in 1 2 3; do
  f=$(grep -l "shape$shape" "$OUT"/cg.out.* | head -1)
  ir=$(grep -E "^(summary|totals):" "$f" | head -1 | awk '{print $2}')
  req=$(grep "requests in" "$OUT/bench.txt" | sed -n "${shape}p" | awk '{print $1}')
  path=$(grep "^=== " "$OUT/bench.txt" | sed -n "${shape}p" | awk '{print $4}')
  read -r t0 t1 < "$OUT/window$shape"
  # Requests in the window, assuming the rate was even over the run.
  python3 -c "
w = min($t1 - $t0, $DUR - 3); r = $req * w / $DUR
print('%s: %.0fk instructions per request (%d requests in %d s, %.1f s counted)' % ('$path', $ir / r / 1e3, $req, $DUR, w))"
done
echo "callgrind files: $OUT (callgrind_annotate --inclusive=yes --tree=caller FILE)"
