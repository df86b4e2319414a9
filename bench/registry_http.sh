#!/usr/bin/env bash
# Registry latency over HTTP on a registry of 10,000 versions (100 models x 100 versions):
# MLflow's get-model-version-by-alias and get-latest-versions(Production) ("what is live"),
# measured with wrk (one connection for latency, 32 for throughput).
#
#   bench/registry_http.sh          # needs wrk (apt-get install wrk)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
out="${OUT:-$here/out/registry_http}"
rm -rf "$out" && mkdir -p "$out/project"
command -v wrk > /dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 2; }
(cd "$root" && cargo build --release -p slipway > /dev/null 2>&1)
echo "building the registry (in-process benchmark, also prints in-process latencies)..." >&2
(cd "$root" && SLIPWAY_BENCH_PROJECT="$out/project" cargo bench -p slipway-store --bench registry 2>/dev/null | tail -5)
slipway="$out/slipway"; cp "$root/target/release/slipway" "$slipway"
(cd "$out/project" && "$slipway" server --port 0 2> "$out/server.log" &)
for _ in $(seq 100); do grep -q "listening on" "$out/server.log" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$out/server.log" | head -1)
trap 'pkill -f "$slipway server" || true' EXIT
alias_path="/api/2.0/mlflow/registered-models/alias?name=model-042&alias=champion"
live_path="/api/2.0/mlflow/registered-models/get-latest-versions?name=model-042&stages=Production"
curl -sf "$url$alias_path" > /dev/null
for name in alias live; do
    path=$alias_path; [[ $name == live ]] && path=$live_path
    for c in 1 32; do
        echo "== $name, $c connection(s)"
        wrk -t1 -c"$c" -d10s --latency "$url$path" | grep -E "Requests/sec|50%|90%|99%"
    done
done
