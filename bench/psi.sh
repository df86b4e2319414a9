#!/usr/bin/env bash
# PSI over N rows x 20 float64 features, side by side: NumPy (fit + score, score only, and a
# comparison-counting variant) and Evidently's DataDriftPreset(method="psi"), both timed from
# DataFrames already in memory, against `slipway monitor psi --json` end to end from the two
# Parquet files (process start, read, fit the baseline's deciles, score the current file, print).
# Each method runs in its own process under /usr/bin/time -v (peak RSS = "Maximum resident set
# size"); the Python processes' peak includes the two loaded frames.
#
#   bench/psi.sh                                   # 1M and 10M rows; Evidently at 1M only
#   ROWS=1000000 METHODS="numpy slipway" bench/psi.sh
#
# Env: ROWS           rows per file, a list (default "1000000 10000000")
#      METHODS        any of: numpy_score_only numpy numpy_cmp evidently slipway (default: all)
#      RUNS           timed runs per method, median reported (3)
#      RUNS_EVIDENTLY timed runs for Evidently (1; it takes ~40-80 s per run at 1M)
#      EVIDENTLY_10M  1 to also run Evidently above 1M rows (~14 min and ~13 GB at 10M)
#      PY             venv python with numpy pyarrow "pandas<3" evidently==0.7.23; default: a
#                     venv under bench/out/psi-venv, created on first use
#      SLIPWAY        the binary (default OUT/slipway, copied from target/release/slipway if
#                     missing, so that a rebuild during the run does not change it)
#      OUT            output dir (bench/out/psi); DATA data dir (OUT/data, reused if present)
# OUT gets per-process outputs (*.json, *.time), results.jsonl and summary.txt.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
out="${OUT:-$here/out/psi}"
data="${DATA:-$out/data}"
rows_list="${ROWS:-1000000 10000000}"
methods="${METHODS:-numpy_score_only numpy numpy_cmp evidently slipway}"
runs="${RUNS:-3}"
runs_evidently="${RUNS_EVIDENTLY:-1}"
[[ -x /usr/bin/time ]] || { echo "/usr/bin/time is needed: apt-get install time" >&2; exit 2; }
if [[ -z ${PY:-} ]]; then
    PY="$here/out/psi-venv/bin/python"
    if [[ ! -x $PY ]]; then
        echo "creating $here/out/psi-venv (numpy, pyarrow, pandas<3, evidently 0.7.23)..." >&2
        python3 -m venv "$here/out/psi-venv"
        # evidently 0.7.23 says pandas>=1.3.5 but fails to import with pandas 3.
        "$here/out/psi-venv/bin/pip" install -q numpy pyarrow "pandas<3" evidently==0.7.23 >&2
    fi
fi
mkdir -p "$out" "$data"
if [[ -z ${SLIPWAY:-} ]]; then
    SLIPWAY="$out/slipway"
    if [[ ! -x $SLIPWAY ]]; then
        [[ -x $root/target/release/slipway ]] ||
            { echo "no $root/target/release/slipway: cargo build --release -p slipway" >&2; exit 2; }
        cp "$root/target/release/slipway" "$SLIPWAY"
    fi
fi
SLIPWAY="$(realpath "$SLIPWAY")"
results="$out/results.jsonl"
: > "$results"

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
time_field() { # FILE LABEL -> value of "LABEL: value" in /usr/bin/time -v output
    awk -F': ' -v k="$2" '$1 ~ "^[ \t]*" k "$" { print $2 }' "$1"
}

# One Python method, one process: its JSON line plus the process's peak RSS and the load.
run_python() { # ROWS METHOD
    local n=$1 m=$2 tag="$2_$1" load
    local r=$runs; [[ $m == evidently ]] && r=$runs_evidently
    load=$(loadavg)
    echo "  $m, $n rows ($r run(s)), load $load" >&2
    RUNS=$r /usr/bin/time -v "$PY" "$here/psi_python.py" "$m" "$data/baseline_$n.parquet" \
        "$data/current_$n.parquet" > "$out/$tag.json" 2> "$out/$tag.time" ||
        { echo "psi.sh: $m at $n rows failed:" >&2; tail -20 "$out/$tag.time" >&2; exit 1; }
    "$PY" - "$out/$tag.json" "$(time_field "$out/$tag.time" "Maximum resident set size \\(kbytes\\)")" \
        "$load" "$(loadavg)" >> "$results" <<'EOF'
import json, sys
d = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
d.update(peak_rss_mb=round(int(sys.argv[2]) / 1024, 1), load_before=sys.argv[3], load_after=sys.argv[4])
print(json.dumps(d))
EOF
}

# Slipway end to end from the files, RUNS processes; exit 1 (a feature drifted) is not an error.
run_slipway() { # ROWS
    local n=$1 i rc t0 t1 load walls=() rss=() user=() sys=()
    load=$(loadavg)
    echo "  slipway, $n rows ($runs run(s)), load $load" >&2
    for i in $(seq "$runs"); do
        local tag="slipway_${n}_$i"
        t0=$(date +%s%N); rc=0
        /usr/bin/time -v "$SLIPWAY" monitor psi --json --baseline "$data/baseline_$n.parquet" \
            --current "$data/current_$n.parquet" > "$out/$tag.json" 2> "$out/$tag.time" || rc=$?
        t1=$(date +%s%N)
        ((rc <= 1)) || { echo "psi.sh: slipway at $n rows exited $rc:" >&2; tail -20 "$out/$tag.time" >&2; exit 1; }
        walls+=("$(((t1 - t0) / 1000))")
        rss+=("$(time_field "$out/$tag.time" "Maximum resident set size \\(kbytes\\)")")
        user+=("$(time_field "$out/$tag.time" "User time \\(seconds\\)")")
        sys+=("$(time_field "$out/$tag.time" "System time \\(seconds\\)")")
    done
    "$PY" - "$out/slipway_${n}_1.json" "$n" "${walls[*]}" "${rss[*]}" "${user[*]}" "${sys[*]}" \
        "$load" "$(loadavg)" >> "$results" <<'EOF'
import json, statistics, sys
d = json.load(open(sys.argv[1]))
walls = [int(w) / 1e6 for w in sys.argv[3].split()]
print(json.dumps({
    "method": "slipway", "rows": int(sys.argv[2]), "runs": len(walls),
    "times_s": [round(w, 4) for w in walls], "median_s": round(statistics.median(walls), 4),
    "peak_rss_mb": round(max(int(k) for k in sys.argv[4].split()) / 1024, 1),
    "user_s": [float(u) for u in sys.argv[5].split()], "sys_s": [float(s) for s in sys.argv[6].split()],
    "load_before": sys.argv[7], "load_after": sys.argv[8], "drifted": d.get("drifted"),
    "psi": {f["name"]: f["psi"] for f in d["features"]},
}))
EOF
}

for n in $rows_list; do
    if [[ ! -s $data/baseline_$n.parquet || ! -s $data/current_$n.parquet ]]; then
        echo "generating $n rows x 20 features into $data..." >&2
        "$PY" "$here/psi_data.py" "$data" "$n"
    fi
    for m in $methods; do
        case $m in
        numpy_score_only | numpy | numpy_cmp) run_python "$n" "$m" ;;
        evidently)
            if ((n > 1000000)) && [[ ${EVIDENTLY_10M:-0} != 1 ]]; then
                echo "  evidently, $n rows: skipped (EVIDENTLY_10M=1 to run it; ~14 min, ~13 GB at 10M)" >&2
                continue
            fi
            run_python "$n" evidently ;;
        slipway) run_slipway "$n" ;;
        *) echo "unknown method '$m' in METHODS" >&2; exit 2 ;;
        esac
    done
done

"$PY" - "$results" "$(nproc)" <<'EOF' | tee "$out/summary.txt"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(f"PSI, 20 float64 features, baseline vs current (f00..f04 shifted 0.3 sd), {sys.argv[2]} cores")
print("Python methods: timed from DataFrames already loaded (load not timed), peak RSS includes the "
      "frames; slipway: whole process, from the Parquet files")
fmt = "{:>10} {:<17} {:>9} {:>5} {:>9} {:>9} {:>10}  {:<24} {}"
print(fmt.format("rows", "method", "median s", "runs", "peak MB", "loaded MB", "/slipway", "runs s", "load before"))
slip = {r["rows"]: r for r in rows if r["method"] == "slipway"}
for r in rows:
    s = slip.get(r["rows"])
    ratio = f"{r['median_s'] / s['median_s']:.1f}" if s and r["method"] != "slipway" else "-"
    runs_s = ", ".join(f"{t:.3g}" for t in r["times_s"])
    print(fmt.format(f"{r['rows']:,}", r["method"], f"{r['median_s']:.3f}", r["runs"], f"{r['peak_rss_mb']:.0f}",
                     f"{r['rss_loaded_mb']:.0f}" if "rss_loaded_mb" in r else "-", ratio, runs_s, r["load_before"]))
for n, s in slip.items():
    print(f"slipway {n:,} rows: user s {s['user_s']}, sys s {s['sys_s']}, features drifted (PSI >= 0.25): {s['drifted']}")
print("agreement with numpy (same binning: np.quantile deciles, searchsorted side=right, floor 1e-4):")
for r in rows:
    s = slip.get(r["rows"])
    if not s or not r["method"].startswith("numpy"):
        continue
    diff = max(abs(s["psi"][k] - v) for k, v in r["psi"].items())
    print(f"  {r['rows']:,} rows, {r['method']}: PSI f00 slipway {s['psi']['f00']!r} numpy {r['psi']['f00']!r}, "
          f"max |diff| over 20 features {diff:.3g}")
for r in rows:
    if r["method"] == "evidently":
        p = r["psi"]
        print(f"  {r['rows']:,} rows, evidently (Sturges equal-width bins, not deciles): "
              f"f00..f04 {', '.join(f'{p[k]:.4f}' for k in ('f00', 'f01', 'f02', 'f03', 'f04'))}, "
              f"drifted columns {r.get('drifted_columns')}")
EOF
echo "raw outputs: $out" >&2
