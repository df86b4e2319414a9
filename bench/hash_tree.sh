#!/usr/bin/env bash
# Benchmark: hashing a 2 GiB directory of 2,000 files with `slipway artifacts hash`, against a
# raw read (`cat`), `b3sum` and `sha256sum` of the same files, in one run on one machine.
#
#   bench/hash_tree.sh            # builds slipway (release) if needed, prints a table
#   FILES=500 FILE_KB=1024 bench/hash_tree.sh   # a smaller tree
#
# "cold" runs drop the page cache first (needs root; skipped otherwise); "warm" runs read from
# the page cache. The stat-cached run is a second `slipway artifacts hash` of the unchanged tree.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
out="${OUT:-$here/out/hash_tree}"
files="${FILES:-2000}"
file_kb="${FILE_KB:-1024}"
runs="${RUNS:-3}"
slipway="${SLIPWAY:-$root/target/release/slipway}"

if [[ ! -x "$slipway" ]]; then
    (cd "$root" && cargo build --release -p slipway)
fi

tree="$out/tree"
mkdir -p "$out"
if [[ ! -f "$tree/.complete-$files-$file_kb" ]]; then
    echo "generating $files files of $file_kb KiB in $tree ..." >&2
    rm -rf "$tree"
    python3 - "$tree" "$files" "$file_kb" <<'PY'
import os, random, sys
tree, files, kb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(2026)
for i in range(files):
    d = os.path.join(tree, f"part{i % 20:02d}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i:05d}.bin"), "wb") as f:
        f.write(rng.randbytes(kb * 1024))
PY
    touch -d '1 hour ago' "$tree"/*/*.bin
    touch "$tree/.complete-$files-$file_kb"
fi
rm -f "$tree"/.complete-* 2>/dev/null || true
trap 'touch "$tree/.complete-$files-$file_kb"' EXIT

can_drop=0
if sync && echo 3 > /proc/sys/vm/drop_caches 2>/dev/null; then can_drop=1; fi
drop() { if [[ $can_drop == 1 ]]; then sync; echo 3 > /proc/sys/vm/drop_caches; fi; }

ms() { # run a command, print elapsed milliseconds
    local start end
    start=$(date +%s%N)
    "$@" > /dev/null
    end=$(date +%s%N)
    echo $(( (end - start) / 1000000 ))
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

ws="$out/ws"
fresh_ws() { rm -rf "$ws"; mkdir -p "$ws"; "$slipway" -q -C "$ws" init > /dev/null; }
slipway_first() { fresh_ws; ms "$slipway" -C "$ws" artifacts hash "$tree"; }

cat_all() { find "$tree" -type f -name '*.bin' -print0 | xargs -0 cat > /dev/null; }
b3_all() { find "$tree" -type f -name '*.bin' -print0 | xargs -0 b3sum > /dev/null; }
sha_all() { find "$tree" -type f -name '*.bin' -print0 | xargs -0 sha256sum > /dev/null; }

declare -A result
measure() { # name, cold?, command...
    local name="$1" cold="$2"; shift 2
    local samples=()
    for _ in $(seq "$runs"); do
        if [[ $cold == cold ]]; then drop; fi
        if [[ "$1" == slipway_first ]]; then samples+=("$(slipway_first)"); else samples+=("$(ms "$@")"); fi
    done
    result[$name]=$(printf '%s\n' "${samples[@]}" | median)
}

bytes=$(( files * file_kb * 1024 ))
modes=(warm)
if [[ $can_drop == 1 ]]; then modes=(cold warm); fi
for mode in "${modes[@]}"; do
    cat_all # prime (warm) or no-op (cold runs drop before each sample)
    measure "cat/$mode" "$mode" cat_all
    if command -v b3sum > /dev/null; then measure "b3sum/$mode" "$mode" b3_all; fi
    measure "sha256sum/$mode" "$mode" sha_all
    measure "slipway/$mode" "$mode" slipway_first
done
cat_all
"$slipway" -C "$ws" artifacts hash "$tree" > /dev/null # ensure the stat cache is filled
samples=()
for _ in $(seq 10); do samples+=("$(ms "$slipway" -C "$ws" artifacts hash "$tree")"); done
cached=$(printf '%s\n' "${samples[@]}" | median)

echo
echo "Hashing $files files, $(( bytes / 1048576 )) MiB, on $(nproc) cores ($(uname -m)); median of $runs runs"
printf '%-22s %10s %10s\n' "tool" "ms" "GB/s"
for key in $(printf '%s\n' "${!result[@]}" | sort); do
    t=${result[$key]}
    printf '%-22s %10s %10.2f\n' "$key" "$t" "$(echo "$bytes / ($t * 1000000)" | bc -l)"
done
printf '%-22s %10s\n' "slipway/stat-cached" "$cached"
for mode in "${modes[@]}"; do
    printf 'slipway/%s vs cat/%s: %.2fx the raw read time\n' "$mode" "$mode" \
        "$(echo "${result[slipway/$mode]} / ${result[cat/$mode]}" | bc -l)"
done
