"""Fills a Slipway (or MLflow) tracker for the search and history benchmarks, over raw HTTP
(keep-alive, no MLflow client, so setup is quick): one experiment with RUNS runs shaped like
MLflow's anchor benchmark (5 params + 5 metrics each, seed 42), and one run with a STEPS-point
metric history. Prints a JSON object with the ids to stdout.

Usage: python3 tracker_setup.py http://127.0.0.1:5000 RUNS STEPS
"""

import http.client
import json
import random
import sys
import time
import urllib.parse
import uuid


def main():
    url, runs, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    parsed = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port)

    def post(path, body):
        conn.request("POST", "/api/2.0/mlflow/" + path, json.dumps(body), {"Content-Type": "application/json"})
        response = conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise SystemExit(f"{path}: {response.status} {data[:300]!r}")
        return json.loads(data or b"{}")

    rnd = random.Random(42)
    exp = post("experiments/create", {"name": f"bench-search-{uuid.uuid4().hex[:8]}"})["experiment_id"]
    started = time.perf_counter()
    for i in range(runs):
        run_id = post("runs/create", {"experiment_id": exp, "run_name": f"r{i}"})["run"]["info"]["run_id"]
        ts = int(time.time() * 1000)
        params = [
            ("lr", rnd.choice(["0.01", "0.1", "0.001"])),
            ("batch_size", rnd.choice(["32", "64", "128"])),
            ("optimizer", rnd.choice(["adam", "sgd"])),
            ("depth", str(rnd.randint(2, 12))),
            ("seed", str(i)),
        ]
        metrics = [
            ("auc", rnd.random()),
            ("accuracy", rnd.random()),
            ("loss", rnd.random() * 3),
            ("f1", rnd.random()),
            ("latency_ms", rnd.random() * 100),
        ]
        post("runs/log-batch", {
            "run_id": run_id,
            "params": [{"key": k, "value": v} for k, v in params],
            "metrics": [{"key": k, "value": v, "timestamp": ts, "step": 0} for k, v in metrics],
        })
    setup_s = time.perf_counter() - started
    history = post("runs/create", {"experiment_id": exp, "run_name": "history"})["run"]["info"]["run_id"]
    for start in range(0, steps, 1000):
        ts = int(time.time() * 1000)
        post("runs/log-batch", {"run_id": history, "metrics": [
            {"key": "val_loss", "value": 1.0 / (1 + s), "timestamp": ts, "step": s}
            for s in range(start, min(start + 1000, steps))
        ]})
    target = post("runs/create", {"experiment_id": exp, "run_name": "load"})["run"]["info"]["run_id"]
    print(json.dumps({"experiment_id": exp, "history_run_id": history, "load_run_id": target,
                      "setup_runs_per_s": round(runs / setup_s, 1)}))


if __name__ == "__main__":
    main()
