#!/usr/bin/env python3
"""Data for the PSI benchmark (bench/psi.sh).

    psi_data.py OUTDIR N

writes OUTDIR/baseline_N.parquet and OUTDIR/current_N.parquet: N rows x 20 float64 columns
f00..f19. One generator, np.random.default_rng(42): mu_j ~ U(-5, 5) and sigma_j ~ U(0.5, 3)
for the 20 features, then the baseline's N x 20 standard normals, then the current's, each
scaled to Normal(mu_j, sigma_j); in the current file f00..f04 are shifted by +0.3 sigma_j.

The normals are drawn in blocks of CHUNK rows (row-major, the baseline's all before the
current's), which yields the same stream of values as one rng.standard_normal((N, 20)) call per
frame, so the files hold the same numbers as the in-memory frames of the reference measurement,
while generating 10M rows needs only one block in memory. Each block becomes one Parquet row
group; everything else is pyarrow's default (snappy compression, statistics, dictionary
fallback to plain).
"""
import os
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

N_FEATURES = 20
N_SHIFTED = 5
SHIFT_SD = 0.3
SEED = 42
CHUNK = int(os.environ.get("CHUNK", 1_000_000))
COLUMNS = [f"f{j:02d}" for j in range(N_FEATURES)]


def write_frame(path, rng, rows, mu, sigma, shift):
    schema = pa.schema([(c, pa.float64()) for c in COLUMNS])
    tmp = path + ".tmp"
    with pq.ParquetWriter(tmp, schema) as writer:
        done = 0
        while done < rows:
            k = min(CHUNK, rows - done)
            block = rng.standard_normal((k, N_FEATURES))
            # In place, same values as block * sigma + mu (+ shift * sigma for f00..f04).
            block *= sigma
            block += mu
            if shift:
                block[:, :N_SHIFTED] += shift * sigma[:N_SHIFTED]
            cols = np.ascontiguousarray(block.T)  # one contiguous row per column
            del block
            table = pa.Table.from_arrays([pa.array(cols[j]) for j in range(N_FEATURES)], schema=schema)
            writer.write_table(table, row_group_size=k)
            del table, cols
            done += k
    os.replace(tmp, path)  # a killed run never leaves a truncated file behind


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    outdir, rows = sys.argv[1], int(sys.argv[2])
    os.makedirs(outdir, exist_ok=True)
    rng = np.random.default_rng(SEED)
    mu = rng.uniform(-5, 5, N_FEATURES)
    sigma = rng.uniform(0.5, 3.0, N_FEATURES)
    # The baseline first: the current's normals come after all of the baseline's in the stream.
    write_frame(os.path.join(outdir, f"baseline_{rows}.parquet"), rng, rows, mu, sigma, 0.0)
    write_frame(os.path.join(outdir, f"current_{rows}.parquet"), rng, rows, mu, sigma, SHIFT_SD)


if __name__ == "__main__":
    main()
