#!/usr/bin/env bash
# Benchmark of the built-in stages, end to end through `slipway run` (release build):
#   1. slipway/validate over ROWS x COLS float columns (+ a 0/1 label) from Parquet, 9
#      expectations per float column (type, nullable, null fraction, min, max, mean range,
#      std range) and 3 on the label: wall time and peak RSS of the whole process;
#   2. the same with the distribution test against a reference table of the same size (another
#      sample, 5 columns shifted by 0.3 sd: PSI about 0.09 there, about 1e-5 elsewhere);
#   3. slipway/train (logistic) on TRAIN_ROWS x COLS.
#
#   bench/builtins.sh                       # 1M x 20 validation, 100k x 20 training
#   ROWS=200000 RUNS=1 bench/builtins.sh    # smaller
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
out="${OUT:-$here/out/builtins}"
rows="${ROWS:-1000000}"
cols="${COLS:-20}"
train_rows="${TRAIN_ROWS:-100000}"
runs="${RUNS:-3}"

(cd "$root" && cargo build --release -p slipway && cargo build --release -p slipway-data --example gen_table)
slipway="$target/release/slipway"
gen="$target/release/examples/gen_table"

mkdir -p "$out"
proj="$out/project"
rm -rf "$proj" && mkdir -p "$proj/data"
"$gen" "$proj/data/table.parquet" "$rows" "$cols"
"$gen" "$proj/data/reference.parquet" "$rows" "$cols" 0.3 8   # another sample; f00-f04 shifted 0.3 sd
"$gen" "$proj/data/train.parquet" "$train_rows" "$cols"
mv "$proj/data/table.parquet.schema.yaml" "$proj/schema.yaml"
cat > "$proj/slipway.yaml" <<YAML
stages:
  validate:
    uses: slipway/validate
    with: {data: data/table.parquet, schema: schema.yaml, report: reports/validation.json}
  validate-psi:
    uses: slipway/validate
    with: {data: data/table.parquet, schema: schema.yaml, reference: data/reference.parquet, report: reports/validation-psi.json}
  train:
    uses: slipway/train
    with: {data: data/train.parquet, label: label, model: logistic, seed: 1}
YAML
cd "$proj"
"$slipway" -q init
"$slipway" -q artifacts hash data > /dev/null   # warm the stat cache, as a project would be

measure() {  # stage -> prints "wall_s peak_rss_mb" per run
    local stage=$1
    for _ in $(seq "$runs"); do
        /usr/bin/time -f "%e %M" -o "$out/time.txt" "$slipway" -q run "$stage" --force > /dev/null 2>&1 || true
        awk '{printf "%.2f %.0f\n", $1, $2/1024}' "$out/time.txt"
    done
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "# slipway built-ins benchmark: $(nproc) cores, $(date -u +%Y-%m-%d), load $(cut -d' ' -f1 /proc/loadavg)"
echo "validate: $rows rows x $cols float columns + label: $(( cols * 7 + 3 + 1 )) expectations ($(( cols * 9 + 3 + 1 )) bounds checked)"
for stage in validate validate-psi train; do
    res=$(measure "$stage")
    wall=$(echo "$res" | awk '{print $1}' | median)
    rss=$(echo "$res" | awk '{print $2}' | sort -n | tail -1)
    echo "$stage: median wall ${wall} s over $runs run(s) (all: $(echo "$res" | awk '{print $1}' | paste -sd' ')), peak RSS ${rss} MB"
done
grep -h "validated\|trained" .slipway/logs/validate.log .slipway/logs/validate-psi.log .slipway/logs/train.log
