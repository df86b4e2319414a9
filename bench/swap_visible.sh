#!/usr/bin/env bash
# How long after `slipway models rollback` / `promote` returns does the gateway answer with the
# new version? Alternates rollback and promote ROUNDS times on a running server and polls
# `:predict` (a fresh curl each time) until the `slipway-model-version` header changes.
#
#   bench/swap_visible.sh          # ROUNDS=10; builds the release binary first
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
out="${OUT:-$here/out/swap_visible}"
rounds="${ROUNDS:-10}"
rm -rf "$out" && mkdir -p "$out/project"
(cd "$root" && cargo build --release -p slipway > /dev/null 2>&1)
slipway="$root/target/release/slipway"
cd "$out/project"
"$slipway" init -q > /dev/null
for bias in 0 3; do
    cat > "model$bias.json" << JSON
{"format": "slipway-model/1", "task": "binary_classification",
 "signature": {"inputs": [{"name": "x", "type": "float"}], "outputs": [{"name": "probability", "type": "float"}]},
 "model": {"kind": "linear", "link": "logistic", "intercept": $bias, "weights": [1.0]}}
JSON
    "$slipway" models register m --artifact "model$bias.json" > /dev/null 2>&1
done
"$slipway" models promote m@1 > /dev/null 2>&1
"$slipway" server --port 0 2> "$out/server.log" &
server=$!
trap 'kill $server 2> /dev/null || true' EXIT
for _ in $(seq 100); do grep -q "listening on" "$out/server.log" 2> /dev/null && break; sleep 0.1; done
url="$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$out/server.log" | head -1)/v1/models/m/slots/default:predict"
version() { curl -s -D - -o /dev/null -X POST -d '{"rows": [{"x": 1}]}' "$url" | tr -d '\r' | sed -n 's/^slipway-model-version: //p'; }
[[ $(version) == 1 ]] || { echo "m@1 is not served" >&2; exit 1; }
ms=()
for i in $(seq "$rounds"); do
    if ((i % 2)); then "$slipway" models promote m@2 > /dev/null 2>&1; want=2
    else "$slipway" models rollback m --reason drill > /dev/null 2>&1; want=1; fi
    start=$(date +%s%N)
    until [[ $(version) == "$want" ]]; do :; done
    ms+=($((($(date +%s%N) - start) / 1000000)))
done
printf '%s\n' "${ms[@]}" | sort -n | awk '{ v[NR] = $1 } END {
    printf "swap visible after the CLI returned, %d rounds: median %d ms, max %d ms\n", NR, v[int((NR + 1) / 2)], v[NR] }'
