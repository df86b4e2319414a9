#!/usr/bin/env python3
"""Python side of the PSI benchmark (bench/psi.sh).

    psi_python.py METHOD BASELINE CURRENT        # Parquet files from bench/psi_data.py

Loads both files into pandas DataFrames (not timed), then times RUNS (default 3) calls of
METHOD, each from the two in-memory DataFrames to a dict of per-column PSI values, and prints
one JSON line: method, rows, load_s, import_s, times_s, median_s, rss_loaded_mb (VmRSS with both
frames loaded), method_peak_mb (VmHWM reset just before the timed calls, so the peak reached
inside them), psi {column: value} at full precision, and for evidently drifted_columns.

METHOD
  numpy             fit + score: interior edges np.quantile(baseline, [0.1, ..., 0.9]) (linear)
                    per column, baseline and current counted with np.searchsorted(edges, x,
                    side="right") + np.bincount (a value equal to an edge goes right; faster
                    than np.histogram with numpy 2.4), shares floored at 1e-4,
                    PSI = sum((cur - base) * ln(cur / base)).
  numpy_score_only  the same, with the baseline's edges and shares fitted once outside the
                    timing; only the current window is counted and scored (what a monitor
                    does per window).
  numpy_cmp         the same fit + score as numpy, counting with one vectorised comparison per
                    edge (np.count_nonzero(x < edge)) instead of a search per value: several
                    times faster in numpy, and the same counts.
  evidently         Evidently 0.7.23: Dataset.from_pandas x2 with DataDefinition(
                    numerical_columns=...), Report([DataDriftPreset(method="psi")]).run(...),
                    snapshot.dict(), the ValueDrift value of each column. Its binning differs
                    (Sturges equal-width bins over both samples), so its values do too. Import
                    time is reported as import_s, not timed.
"""
import json
import os
import statistics
import sys
import time

import numpy as np
import pandas as pd

BINS = 10
FLOOR = 1e-4
CUTS = np.arange(1, BINS) / BINS  # exactly the literals 0.1 .. 0.9 (np.linspace differs in the last bit)


def status_mb(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def psi_of(base_shares, cur_shares):
    return float(np.sum((cur_shares - base_shares) * np.log(cur_shares / base_shares)))


def shares_searchsorted(x, edges):
    counts = np.bincount(np.searchsorted(edges, x, side="right"), minlength=BINS)
    return np.maximum(counts / x.size, FLOOR)


def shares_cmp(x, edges):
    below = [np.count_nonzero(x < e) for e in edges]  # values strictly left of each edge
    counts = np.diff(np.array([0, *below, x.size]))
    return np.maximum(counts / x.size, FLOOR)


def fit(base, shares):
    fitted = {}
    for name in base.columns:
        x = base[name].to_numpy()
        edges = np.quantile(x, CUTS)
        fitted[name] = (edges, shares(x, edges))
    return fitted


def score(fitted, cur, shares):
    return {name: psi_of(base_shares, shares(cur[name].to_numpy(), edges))
            for name, (edges, base_shares) in fitted.items()}


def evidently_psi(base, cur):
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    definition = DataDefinition(numerical_columns=list(base.columns))
    snapshot = Report([DataDriftPreset(method="psi")]).run(
        current_data=Dataset.from_pandas(cur, data_definition=definition),
        reference_data=Dataset.from_pandas(base, data_definition=definition))
    result = {}
    for metric in snapshot.dict()["metrics"]:
        name = metric.get("metric_name", "")
        if name.startswith("ValueDrift("):
            result[metric["config"]["column"]] = float(metric["value"])
        elif name.startswith("DriftedColumnsCount"):
            result["_drifted_columns"] = metric["value"]
    return result


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    method, base_path, cur_path = sys.argv[1:]
    runs = int(os.environ.get("RUNS", 3))

    t0 = time.perf_counter()
    base = pd.read_parquet(base_path)
    cur = pd.read_parquet(cur_path)
    load_s = time.perf_counter() - t0
    import_s = 0.0
    if method == "numpy":
        fn = lambda: score(fit(base, shares_searchsorted), cur, shares_searchsorted)  # noqa: E731
    elif method == "numpy_cmp":
        fn = lambda: score(fit(base, shares_cmp), cur, shares_cmp)  # noqa: E731
    elif method == "numpy_score_only":
        fitted = fit(base, shares_searchsorted)  # once, untimed
        fn = lambda: score(fitted, cur, shares_searchsorted)  # noqa: E731
    elif method == "evidently":
        t0 = time.perf_counter()
        import evidently.presets  # noqa: F401
        import_s = time.perf_counter() - t0
        fn = lambda: evidently_psi(base, cur)  # noqa: E731
    else:
        sys.exit(f"unknown method {method!r}\n{__doc__}")

    rss_loaded = status_mb("VmRSS")
    peak_ok = reset_peak()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    line = {
        "method": method, "rows": len(cur), "baseline_rows": len(base), "runs": runs,
        "load_s": round(load_s, 3), "import_s": round(import_s, 3),
        "times_s": [round(t, 4) for t in times], "median_s": round(statistics.median(times), 4),
        "rss_loaded_mb": round(rss_loaded, 1),
        "method_peak_mb": round(status_mb("VmHWM"), 1) if peak_ok else None,
        "psi": {k: v for k, v in result.items() if not k.startswith("_")},
    }
    if "_drifted_columns" in result:
        line["drifted_columns"] = result["_drifted_columns"]
    print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
