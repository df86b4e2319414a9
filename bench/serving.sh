#!/usr/bin/env bash
# Serving, side by side in one run: the same logistic regression (20 float features, one row
# per request) behind `mlflow models serve`, a hand-written FastAPI server, a bare axum handler
# (the Rust floor: parse the rows JSON, answer a constant) and Slipway's serving gateway.
#
#   bench/serving.sh                              # builds both Rust servers (release) first
#   ONLY=python DURATION=5 bench/serving.sh       # MLflow and FastAPI only
#
# Env: PY       venv python with mlflow scikit-learn fastapi uvicorn pandas (the mlflow CLI is
#               taken from the same bin dir); default: a venv under bench/out/venv, created
#               (with the reference's package versions) on first use
#      SLIPWAY, BARE_AXUM   binaries (default: `cargo build --release` of this checkout's
#               `slipway` and its `bare_axum` example)
#      ONLY     all (default) | python | rust | a list of: mlflow fastapi bare-axum slipway
#      DURATION (15 s), CONNS (32), READY_TIMEOUT (120 s), OUT (bench/out/serving)
# OUT gets the raw wrk outputs, server logs, first responses, results.tsv and summary.txt.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${OUT:-$here/out/serving}"
root="$(cd "$here/.." && pwd)"
if [[ -z ${PY:-} ]]; then
    PY="$here/out/venv/bin/python"
    if [[ ! -x $PY ]]; then
        echo "creating $here/out/venv (mlflow, scikit-learn, fastapi, uvicorn; a few minutes)..." >&2
        python3 -m venv "$here/out/venv"
        "$here/out/venv/bin/pip" install -q mlflow==3.17.2 scikit-learn==1.9.1 fastapi==0.165.0 \
            uvicorn==0.54.0 pandas >&2
    fi
fi
if [[ -z ${SLIPWAY:-} || -z ${BARE_AXUM:-} ]] && [[ ${ONLY:-all} != python ]]; then
    (cd "$root" && cargo build --release -p slipway >&2 && cargo build --release -p slipway-server --example bare_axum >&2)
    SLIPWAY="${SLIPWAY:-$root/target/release/slipway}"
    BARE_AXUM="${BARE_AXUM:-$root/target/release/examples/bare_axum}"
fi
duration="${DURATION:-15}"; conns="${CONNS:-32}"; ready_s="${READY_TIMEOUT:-120}"
case "${ONLY:-all}" in
    all) parts="mlflow fastapi bare-axum slipway" ;;
    python) parts="mlflow fastapi" ;;
    rust) parts="bare-axum slipway" ;;
    *) parts="$ONLY" ;;
esac
for tool in wrk curl setsid; do
    command -v "$tool" > /dev/null || { echo "$tool is needed (apt-get install wrk curl)" >&2; exit 2; }
done
[[ -x $PY ]] || { echo "PY=$PY is not a python; make a venv with mlflow scikit-learn fastapi uvicorn pandas" >&2; exit 2; }
# Absolute, because Slipway runs from its project directory.
[[ -z ${SLIPWAY:-} ]] || SLIPWAY="$(realpath "$SLIPWAY")"
[[ -z ${BARE_AXUM:-} ]] || BARE_AXUM="$(realpath "$BARE_AXUM")"

mkdir -p "$out"
rm -rf "$out/work" "$out/tmp" "$out/slipway-project" "$out"/wrk_* "$out"/*.log "$out"/response_* \
    "$out/results.tsv" "$out/summary.txt"
mkdir -p "$out/tmp"
work="$out/work"
export TMPDIR="$out/tmp"   # `mlflow models serve` copies the model to a new temp dir per start, never removed
export MLFLOW_TRACKING_URI="file:$work/mlruns" MLFLOW_ALLOW_FILE_STORE=true
export PATH="$(dirname "$PY"):$PATH"   # `mlflow models serve` runs `uvicorn` from PATH
"$PY" "$here/serving_setup.py" "$work" 2> "$out/setup.log" || { cat "$out/setup.log" >&2; exit 1; }
run_id="$(cat "$work/run_id")"

# One server at a time, in its own session, so that stopping it also stops whatever it forked
# (mlflow's CLI starts uvicorn as a child) and nothing else.
server_pid="" name="" log=""
stop() {
    [[ -n $server_pid ]] || return 0
    kill -- "-$server_pid" 2> /dev/null || true
    for _ in $(seq 50); do pgrep -s "$server_pid" > /dev/null || break; sleep 0.1; done
    kill -9 -- "-$server_pid" 2> /dev/null || true
    wait "$server_pid" 2> /dev/null || true
    server_pid=""
}
trap stop EXIT
trap 'exit 130' INT TERM
fail() { echo "serving.sh: $name: $*" >&2; [[ -z $log ]] || tail -20 "$log" >&2; exit 1; }
start() { # NAME DIR CMD...
    name=$1 log="$out/$1.log"; local dir=$2; shift 2
    (cd "$dir" && exec setsid "$@") > "$log" 2>&1 &
    server_pid=$!
}
free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
alive() { kill -0 "$server_pid" 2> /dev/null || fail "exited before it was ready"; }

# Ready = the benchmarked request itself gets a 2xx, which also proves the body is accepted.
# Not listening yet (000) or 503 (still loading) means wait; any other status is an error.
ready() { # URL BODY
    local deadline=$((SECONDS + ready_s)) code resp="$out/response_${name}${3}.json"
    while :; do
        code=$(curl -s -o "$resp" -w '%{http_code}' -H 'Content-Type: application/json' \
            --data-binary @"$2" "$1" || true)
        [[ $code == 2* ]] && return 0
        [[ $code == 000 || $code == 503 ]] || fail "POST $1 answered $code: $(head -c 300 "$resp")"
        alive
        ((SECONDS < deadline)) || fail "not ready after ${ready_s}s"
        sleep 0.2
    done
}

# wrk prints latencies as 812.00us, 1.20ms or 2.01s; the table is in ms.
parse_wrk() { # SERVER ENDPOINT FILE RSS_MB -> one TSV row
    awk -v server="$1" -v endpoint="$2" -v rss="$4" '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0
                         if (v ~ /m$/) return v * 60000; return v * 1000 }
        /Requests\/sec/ { rps = $2 }
        $1 == "50%" { p50 = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        /Non-2xx/ { non2xx = $NF }
        /Socket errors/ { gsub(/[^0-9 ]/, ""); for (i = 1; i <= NF; i++) errors += $i }
        END { printf "%s\t%s\t%.0f\t%.2f\t%.2f\t%d\t%d\t%d\n", server, endpoint, rps, p50, p99, non2xx, errors, rss }
    ' "$3"
}

measure() { # ENDPOINT URL BODY
    local tag="${1//[^A-Za-z0-9]/_}" file
    file="$out/wrk_${name}${tag}.txt"
    ready "$2" "$3" "$tag"
    WRK_BODY="$3" wrk -t1 -c"$conns" -d3s -s "$here/wrk_body.lua" "$2" > /dev/null
    { echo "# $name POST $1 body $(basename "$3"), loadavg before: $(cut -d' ' -f1-3 /proc/loadavg)"
      WRK_BODY="$3" wrk -t1 -c"$conns" -d"${duration}s" --latency -s "$here/wrk_body.lua" "$2"; } > "$file"
    local rss; rss=$(ps -o rss= -s "$server_pid" | awk '{ kb += $1 } END { printf "%d", kb / 1024 }')
    parse_wrk "$name" "$1" "$file" "$rss" >> "$out/results.tsv"
    echo "  $name $1: $(grep Requests/sec "$file" | awk '{print $2}') req/s" >&2
}

skip() { echo "skipping $1: $2 is not set" >&2; }
for part in $parts; do
    case $part in
    mlflow)
        port=$(free_port)
        start mlflow "$work" mlflow models serve -m "runs:/$run_id/model" \
            --env-manager local -h 127.0.0.1 -p "$port" -w 1
        measure /invocations "http://127.0.0.1:$port/invocations" "$work/single_split.json" ;;
    fastapi)
        port=$(free_port)
        start fastapi "$work" "$PY" "$here/serving_fastapi.py" "$port" "runs:/$run_id/model"
        measure /invocations "http://127.0.0.1:$port/invocations" "$work/single_split.json" ;;
    bare-axum)
        [[ -n ${BARE_AXUM:-} ]] || { skip bare-axum BARE_AXUM; continue; }
        port=$(free_port)
        start bare-axum "$work" "$BARE_AXUM" "$port"
        measure /predict "http://127.0.0.1:$port/predict" "$work/single_rows.json" ;;
    slipway)
        [[ -n ${SLIPWAY:-} ]] || { skip slipway SLIPWAY; continue; }
        project="$out/slipway-project"; mkdir -p "$project"
        # A fresh project; the low risk tier (the default) promotes without approvals or gate.
        version=$(cd "$project" && "$SLIPWAY" init > /dev/null &&
            "$SLIPWAY" models register credit --artifact "$work/model.json" | tail -1)
        (cd "$project" && "$SLIPWAY" models promote "$version" > /dev/null)
        start slipway "$project" "$SLIPWAY" server --port 0
        deadline=$((SECONDS + ready_s)) url=""
        until url=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$log" | head -1); [[ -n $url ]]; do
            alive; ((SECONDS < deadline)) || fail "no 'listening on' line after ${ready_s}s"; sleep 0.1
        done
        measure /v1/models/credit/slots/default:predict \
            "$url/v1/models/credit/slots/default:predict" "$work/single_rows.json"
        measure /v1/models/credit/invocations "$url/v1/models/credit/invocations" "$work/single_split.json" ;;
    *) echo "unknown part '$part' in ONLY" >&2; exit 2 ;;
    esac
    stop
done

# Ratios are req/s of each Slipway endpoint over each other server's (one endpoint each).
summary() {
    echo "serving, 1 row per request: wrk -t1 -c$conns -d${duration}s after a 3 s warm-up, $(nproc) cores"
    awk -F'\t' '
        { row[NR] = $0; if ($1 != "slipway") base[$1] = $3 }
        function ratio(s, r) { return (s in base) && base[s] > 0 ? sprintf("%.2f", r / base[s]) : "-" }
        END {
            fmt = "%-10s %-40s %8s %8s %8s %7s %6s %6s %8s %9s %11s\n"
            printf fmt, "server", "endpoint", "req/s", "p50 ms", "p99 ms", "non-2xx", "errors", "RSS MB", "x mlflow", "x fastapi", "x bare-axum"
            for (i = 1; i <= NR; i++) {
                split(row[i], f, "\t"); m = fa = ax = ""
                if (f[1] == "slipway") { m = ratio("mlflow", f[3]); fa = ratio("fastapi", f[3]); ax = ratio("bare-axum", f[3]) }
                printf fmt, f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], m, fa, ax
            }
        }' "$out/results.tsv"
    echo "expected P(label 1) for the row: $(cat "$work/single_expected.json") (MLflow's pyfunc answers the label)"
    for r in "$out"/response_*; do echo "  $(basename "$r" .json): $(head -c 160 "$r")"; done
}
[[ -s $out/results.tsv ]] || { echo "nothing was measured (ONLY=${ONLY:-all})" >&2; exit 1; }
summary | tee "$out/summary.txt"
echo "raw wrk outputs and logs: $out" >&2
