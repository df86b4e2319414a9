#!/usr/bin/env bash
# Tracker benchmark: Slipway's server measured with a load generator that is not the bottleneck
# (wrk, C, from Debian's `wrk` package), sendfile and curl, then the real MLflow client's end-to-end
# figures with MLflow's own anchor scripts (same workload as the numbers MLflow was measured at).
#
#   cargo build --profile bench -p slipway            # optimised binary -> target/release/slipway
#   bench/tracker.sh                                   # SQLite on disk (a temp dir under $TMPDIR)
#   TMPFS=1 bench/tracker.sh                           # same with the project on /dev/shm
#
# Knobs: SLIPWAY_BIN, PYTHON (venv with mlflow==3.17.2; default target/py-venv, which
# `cargo test` creates), ANCHOR (MLflow anchor scripts dir), DURATION (s per wrk run),
# RUNS (runs for the search benchmark), STEPS (metric history length), ARTIFACT_MIB,
# SKIP_PYTHON=1. Results: bench/out/tracker/summary.md and the raw outputs beside it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=${SLIPWAY_BIN:-$TARGET/release/slipway}
PY=${PYTHON:-$TARGET/py-venv/bin/python}
ANCHOR=${ANCHOR:-$ROOT/../shared/reference/anchor-scripts/mlflow}
DURATION=${DURATION:-10}
RUNS=${RUNS:-10000}
STEPS=${STEPS:-10000}
ARTIFACT_MIB=${ARTIFACT_MIB:-1024}
PORT=${PORT:-5099}
OUT=${OUT:-$ROOT/bench/out/tracker}
if [ "${TMPFS:-0}" = 1 ]; then BASE=$(mktemp -d -p /dev/shm); else BASE=$(mktemp -d); fi
mkdir -p "$OUT"
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 2; }
[ -x "$BIN" ] || { echo "$BIN not found: cargo build --profile bench -p slipway" >&2; exit 2; }

URL=http://127.0.0.1:$PORT
TCK=$(getconf CLK_TCK)
PROJECT=$BASE/project
mkdir -p "$PROJECT"
"$BIN" -q -C "$PROJECT" init
"$BIN" -C "$PROJECT" server --port "$PORT" 2> "$OUT/server.log" &
PID=$!
cleanup() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$BASE"; }
trap cleanup EXIT
for _ in $(seq 100); do curl -sf "$URL/healthz" >/dev/null && break; sleep 0.1; done

ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$PID/status"; }
hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$PID/status"; }

# wrk NAME THREADS CONNECTIONS METHOD PATH [BODY_FILE] -> prints "rps p50_ms p99_ms cpu_us_per_req"
run_wrk() {
  local name=$1 threads=$2 conns=$3 method=$4 path=$5 body=${6:-}
  local before after
  before=$(ticks)
  WRK_METHOD=$method WRK_BODY=$body wrk -t"$threads" -c"$conns" -d"${DURATION}s" --latency \
    -s "$ROOT/bench/wrk_body.lua" "$URL$path" > "$OUT/wrk-$name.txt"
  after=$(ticks)
  awk -v cpu=$((after - before)) -v tck="$TCK" '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /requests in/ { n = $1 }
    /Requests\/sec/ { rps = $2 }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    /Non-2xx/ { bad = $NF }
    END { if (bad > 0) { print "non-2xx responses: " bad > "/dev/stderr"; exit 1 }
          printf "%.0f %.3f %.3f %.1f\n", rps, p50, p99, cpu / tck * 1e6 / n }' "$OUT/wrk-$name.txt"
}

echo "== setup: $RUNS runs (5 params + 5 metrics each) and a $STEPS-step metric" >&2
SETUP=$(python3 "$ROOT/bench/tracker_setup.py" "$URL" "$RUNS" "$STEPS")
echo "$SETUP" > "$OUT/setup.json"
EXP=$(echo "$SETUP" | python3 -c 'import json,sys; print(json.load(sys.stdin)["experiment_id"])')
HIST=$(echo "$SETUP" | python3 -c 'import json,sys; print(json.load(sys.stdin)["history_run_id"])')
LOAD=$(echo "$SETUP" | python3 -c 'import json,sys; print(json.load(sys.stdin)["load_run_id"])')
SETUP_RATE=$(echo "$SETUP" | python3 -c 'import json,sys; print(json.load(sys.stdin)["setup_runs_per_s"])')

printf '{"run_id": "%s", "key": "loss", "value": 0.5, "timestamp": 1700000000000, "step": 1}' "$LOAD" > "$BASE/metric.json"
python3 - "$LOAD" > "$BASE/batch.json" <<'PY'
import json, sys
print(json.dumps({"run_id": sys.argv[1], "metrics": [
    {"key": f"k{i % 10}", "value": i * 0.001, "timestamp": 1700000000000 + i, "step": i} for i in range(1000)]}))
PY
printf '{"experiment_ids": ["%s"], "filter": "metrics.auc > 0.5 and params.lr = '"'"'0.01'"'"'", "order_by": ["metrics.auc DESC"], "max_results": 100}' "$EXP" > "$BASE/search.json"
RETURNED=$(curl -s -XPOST "$URL/api/2.0/mlflow/runs/search" --data-binary @"$BASE/search.json" | python3 -c 'import json,sys; print(len(json.load(sys.stdin).get("runs", [])))')
HISTORY_PATH="/api/2.0/mlflow/metrics/get-history?run_id=$HIST&metric_key=val_loss&max_results=25000"
HIST_N=$(curl -s "$URL$HISTORY_PATH" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["metrics"]))')

echo "== wrk: log-metric, 64 connections" >&2
read -r M_RPS M_P50 M_P99 M_CPU < <(run_wrk log-metric-c64 2 64 POST /api/2.0/mlflow/runs/log-metric "$BASE/metric.json")
echo "== wrk: log-metric, 1 connection" >&2
read -r S_RPS S_P50 S_P99 S_CPU < <(run_wrk log-metric-c1 1 1 POST /api/2.0/mlflow/runs/log-metric "$BASE/metric.json")
echo "== wrk: log-batch (1000 points), 8 connections" >&2
read -r B_RPS B_P50 B_P99 B_CPU < <(run_wrk log-batch-c8 2 8 POST /api/2.0/mlflow/runs/log-batch "$BASE/batch.json")
echo "== wrk: search $RUNS runs, 1 connection" >&2
read -r Q_RPS Q_P50 Q_P99 Q_CPU < <(run_wrk search-c1 1 1 POST /api/2.0/mlflow/runs/search "$BASE/search.json")
echo "== wrk: metric history ($HIST_N points), 1 connection" >&2
read -r H_RPS H_P50 H_P99 H_CPU < <(run_wrk history-c1 1 1 GET "$HISTORY_PATH")

echo "== artifacts: $ARTIFACT_MIB MiB up and down" >&2
head -c "$((ARTIFACT_MIB << 20))" /dev/urandom > "$BASE/big.bin"
RSS0=$(rss_kib)
UPS=() DOWNS=()
for rep in 1 2 3; do
  printf '%s' "$rep" >> "$BASE/big.bin" # a new object each time (no deduplication)
  ART="$URL/api/2.0/mlflow-artifacts/artifacts/$EXP/$LOAD/artifacts/big-$rep.bin"
  UPS+=("$(python3 "$ROOT/bench/upload.py" "$BASE/big.bin" "$ART")")
  RSS_UP=$(rss_kib)
  DOWNS+=("$(curl -s -o /dev/null -w '%{time_total}' "$ART")")
  RSS_DOWN=$(rss_kib)
done
median() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
UP_S=$(median "${UPS[@]}")
DOWN_S=$(median "${DOWNS[@]}")
echo "upload s: ${UPS[*]}; download s: ${DOWNS[*]}" > "$OUT/artifacts.txt"
HWM=$(hwm_kib)
BYTES=$((ARTIFACT_MIB << 20))
rm -f "$BASE/big.bin"

PY_ROWS=""
if [ "${SKIP_PYTHON:-0}" != 1 ] && [ -x "$PY" ] && [ -d "$ANCHOR" ]; then
  echo "== MLflow client (anchor scripts), end to end" >&2
  export MLFLOW_TRACKING_URI=$URL MLFLOW_SERVER_PID=$PID MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true
  (cd "$ANCHOR" &&
    "$PY" bench_log_metric.py --n 2000 --reps 3 --json-out "$OUT/a_log_metric.json" > "$OUT/a_log_metric.log" 2>&1 &&
    "$PY" bench_log_batch.py --calls 100 --batch 1000 --reps 3 --json-out "$OUT/b_log_batch.json" > "$OUT/b_log_batch.log" 2>&1 &&
    "$PY" bench_search.py --runs 2000 --queries 20 --steps 10000 --json-out "$OUT/c_search.json" > "$OUT/c_search.log" 2>&1 &&
    "$PY" bench_artifacts.py --size-mib 50 --reps 5 --json-out "$OUT/e_artifacts.json" > "$OUT/e_artifacts.log" 2>&1 &&
    "$PY" summarize.py "$OUT") > "$OUT/python-summary.md" || echo "python client benchmarks failed; see $OUT/*.log" >&2
fi

{
  echo "## Slipway tracker, $(date -u +%Y-%m-%d), $(nproc) cores, project on $( [ "${TMPFS:-0}" = 1 ] && echo tmpfs || echo disk ), load avg $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "| benchmark (wrk, ${DURATION}s each) | throughput | p50 ms | p99 ms | server CPU / request |"
  echo "|---|---|---|---|---|"
  echo "| log-metric, 64 connections | $M_RPS req/s | $M_P50 | $M_P99 | $M_CPU µs |"
  echo "| log-metric, 1 connection | $S_RPS req/s | $S_P50 | $S_P99 | $S_CPU µs |"
  echo "| log-batch 1000 points, 8 connections | $B_RPS req/s = $((B_RPS * 1000)) points/s | $B_P50 | $B_P99 | $B_CPU µs |"
  echo "| search $RUNS runs (filter + order, $RETURNED returned), 1 connection | $Q_RPS req/s | $Q_P50 | $Q_P99 | $Q_CPU µs |"
  echo "| metric history, $HIST_N points, 1 connection | $H_RPS req/s | $H_P50 | $H_P99 | $H_CPU µs |"
  echo
  awk -v b="$BYTES" -v up="$UP_S" -v down="$DOWN_S" -v r0="$RSS0" -v ru="$RSS_UP" -v rd="$RSS_DOWN" -v hwm="$HWM" 'BEGIN {
    printf "Artifacts (%d MiB, median of 3; upload with sendfile, download with curl): upload %.2f s = %.2f GB/s; download %.2f s = %.2f GB/s; server RSS %d -> %d -> %d MiB (peak %d MiB).\n",
      b / 1048576, up, b / up / 1e9, down, b / down / 1e9, r0 / 1024, ru / 1024, rd / 1024, hwm / 1024 }'
  echo "Setup rate (raw HTTP, one connection): $SETUP_RATE runs/s (create + log-batch)."
  if [ -s "$OUT/python-summary.md" ]; then
    echo
    echo "MLflow 3.17.2 Python client against Slipway (anchor scripts, one client thread):"
    echo
    cat "$OUT/python-summary.md"
  fi
} | tee "$OUT/summary.md"
