#!/usr/bin/env python3
"""Pipeline benchmark: slipway side by side with DVC (when `dvc` is on PATH) on the same
generated pipelines, in one run on one machine. Stdlib only.

    python3 bench/pipeline.py [--reps 3] [--sections wide,scale,chain,par,data] [--dvc PATH]

Workloads (the same as the DVC anchor measurements in shared/reference/dvc.md):
  wide   200 independent tiny stages `cp in/NNN.txt out/NNN.txt`
  scale  the same with 2,000 stages (slipway only unless --dvc-scale: DVC is quadratic)
  chain  100 stages in a chain
  par    4 independent `sleep 1` stages: --jobs 1 vs default
  data   one stage over a 2 GiB / 2,000-file directory (`--data-files`, `--data-kib`)

Both tools read the same pipeline file (slipway.yaml is dvc.yaml's format). Wall seconds and
CPU seconds (user+sys of the tool and its children) are reported; medians over --reps.
"""
import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SLIPWAY = os.environ.get("SLIPWAY", os.path.join(ROOT, "target", "release", "slipway"))
RESULTS = {}


def run(cmd, cwd, check=True):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    env = dict(os.environ, DVC_NO_ANALYTICS="1", DVC_SITE_CACHE_DIR=os.path.join(cwd, ".site_cache"))
    p = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    if check and p.returncode != 0:
        sys.exit(f"{cmd} failed in {cwd}:\n{p.stdout[-3000:]}")
    return {"wall": wall, "cpu": cpu}


def median(samples, key):
    return statistics.median(s[key] for s in samples)


def record(name, samples, **extra):
    RESULTS[name] = {"wall": median(samples, "wall"), "cpu": median(samples, "cpu"), **extra}
    r = RESULTS[name]
    print(f"  {name:45s} wall {r['wall']*1000:9.1f} ms   cpu {r['cpu']*1000:9.1f} ms", flush=True)


def write(path, text):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def stage(name, cmd, deps, outs):
    lines = [f"  {name}:", f"    cmd: {cmd}"]
    if deps:
        lines += ["    deps:"] + [f"    - {d}" for d in deps]
    if outs:
        lines += ["    outs:"] + [f"    - {o}" for o in outs]
    return "\n".join(lines)


def gen(root, kind, n=0, files=0, kib=0):
    stages = []
    if kind == "wide":
        for i in range(n):
            write(f"{root}/in/{i:04d}.txt", f"wide input {i}\n")
            stages.append(stage(f"w{i:04d}", f"cp in/{i:04d}.txt out/{i:04d}.txt", [f"in/{i:04d}.txt"], [f"out/{i:04d}.txt"]))
        os.makedirs(f"{root}/out", exist_ok=True)
    elif kind == "chain":
        for i in range(n):
            write(f"{root}/chain_in/{i:03d}.txt", f"chain input {i}\n")
            if i == 0:
                cmd, deps = "cat chain_in/000.txt > chain/000.txt", ["chain_in/000.txt"]
            else:
                cmd = f"cat chain/{i-1:03d}.txt chain_in/{i:03d}.txt > chain/{i:03d}.txt"
                deps = [f"chain/{i-1:03d}.txt", f"chain_in/{i:03d}.txt"]
            stages.append(stage(f"c{i:03d}", cmd, deps, [f"chain/{i:03d}.txt"]))
        os.makedirs(f"{root}/chain", exist_ok=True)
    elif kind == "par":
        for i in range(n):
            write(f"{root}/pin/{i}.txt", f"par input {i}\n")
            stages.append(stage(f"p{i}", f"sleep 1 && cp pin/{i}.txt pout/{i}.txt", [f"pin/{i}.txt"], [f"pout/{i}.txt"]))
        os.makedirs(f"{root}/pout", exist_ok=True)
    elif kind == "data":
        rng = random.Random(7)
        for i in range(files):
            p = f"{root}/raw/{i:05d}.bin"
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(rng.randbytes(kib * 1024))
        old = time.time() - 3600
        for i in range(files):
            os.utime(f"{root}/raw/{i:05d}.bin", (old, old))
        stages = [
            stage("summarize", "tail -q -c 64 raw/*.bin | md5sum > summary.txt", ["raw"], ["summary.txt"]),
            stage("report", "cut -c1-32 summary.txt > report.txt", ["summary.txt"], ["report.txt"]),
            stage("final", "md5sum report.txt > final.txt", ["report.txt"], ["final.txt"]),
            stage("size", "wc -c < summary.txt > size.txt", ["summary.txt"], ["size.txt"]),
        ]
    text = "stages:\n" + "\n".join(stages) + "\n"
    write(f"{root}/slipway.yaml", text)
    write(f"{root}/dvc.yaml", text)


class Slipway:
    name = "slipway"

    def __init__(self, root):
        self.root = root

    def reset(self, out_dirs):
        for d in [".slipway", "slipway.lock"] + out_dirs:
            p = os.path.join(self.root, d)
            if os.path.isdir(p):
                shutil.rmtree(p)
            elif os.path.exists(p):
                os.remove(p)
        for d in out_dirs:
            os.makedirs(os.path.join(self.root, d), exist_ok=True)
        run([SLIPWAY, "-q", "init"], self.root)

    def repro(self, *args):
        return run([SLIPWAY, "-q", "run", *args], self.root)

    def status(self):
        return run([SLIPWAY, "-q", "status"], self.root)


class Dvc:
    name = "dvc"

    def __init__(self, root, exe):
        self.root, self.exe = root, exe

    def reset(self, out_dirs):
        for d in [".dvc/cache", ".site_cache", "dvc.lock"] + out_dirs:
            p = os.path.join(self.root, d)
            if os.path.isdir(p):
                shutil.rmtree(p)
            elif os.path.exists(p):
                os.remove(p)
        for d in out_dirs:
            os.makedirs(os.path.join(self.root, d), exist_ok=True)
        if not os.path.isdir(os.path.join(self.root, ".dvc")):
            run([self.exe, "init", "-q"], self.root)

    def repro(self, *args):
        args = [a for a in args if not a.startswith("--jobs")]
        return run([self.exe, "repro", *args], self.root)

    def status(self):
        return run([self.exe, "status"], self.root)


def repo(work, name, kind, **kw):
    root = os.path.join(work, name)
    os.makedirs(root)
    gen(root, kind, **kw)
    run(["git", "init", "-q"], root)
    write(f"{root}/.gitignore", "/raw\n.site_cache\n")
    run(["git", "add", "-A"], root)
    run(["git", "-c", "user.email=b@b", "-c", "user.name=bench", "commit", "-qm", "gen"], root)
    return root


def tools(root, dvc_exe):
    yield Slipway(root)
    if dvc_exe:
        yield Dvc(root, dvc_exe)


def sec_wide(work, reps, dvc_exe, n=200, tag="wide", dvc_ok=True):
    print(f"== {tag}: {n} independent stages", flush=True)
    root = repo(work, tag, "wide", n=n)
    for tool in tools(root, dvc_exe if dvc_ok else None):
        jobs_list = ["--jobs=1", "--jobs=2"] if tool.name == "slipway" else ["--jobs=1"]
        for jobs in jobs_list:
            samples = []
            for _ in range(reps if n <= 200 else 1):
                tool.reset(["out"])
                samples.append(tool.repro(jobs))
            label = f"{tag}.{tool.name}.first_run" + (f"[{jobs}]" if tool.name == "slipway" else "")
            record(label, samples, per_stage_ms=median(samples, "wall") * 1000 / n,
                   per_stage_cpu_ms=median(samples, "cpu") * 1000 / n)
        record(f"{tag}.{tool.name}.noop_run", [tool.repro() for _ in range(max(reps, 5))])
        record(f"{tag}.{tool.name}.noop_status", [tool.status() for _ in range(max(reps, 5))])
        samples = []
        for k in range(reps):
            with open(f"{root}/in/{(37 * k + 11) % n:04d}.txt", "a") as f:
                f.write(f"edit {tool.name} {k}\n")
            samples.append(tool.repro())
        record(f"{tag}.{tool.name}.edit_one_leaf", samples)


def sec_chain(work, reps, dvc_exe):
    print("== chain: 100 stages", flush=True)
    root = repo(work, "chain", "chain", n=100)
    for tool in tools(root, dvc_exe):
        samples = []
        for _ in range(reps):
            tool.reset(["chain"])
            samples.append(tool.repro("--jobs=1"))
        record(f"chain.{tool.name}.first_run", samples, per_stage_ms=median(samples, "wall") * 10)
        record(f"chain.{tool.name}.noop_run", [tool.repro() for _ in range(max(reps, 5))])
        samples = []
        for k in range(reps):
            with open(f"{root}/chain_in/050.txt", "a") as f:
                f.write(f"edit {k}\n")
            samples.append(tool.repro())
        record(f"chain.{tool.name}.edit_mid_input", samples)


def sec_par(work, reps, dvc_exe):
    print("== par: 4 independent `sleep 1` stages", flush=True)
    root = repo(work, "par", "par", n=4)
    for tool in tools(root, dvc_exe):
        for jobs in (["--jobs=1", "--jobs=4"] if tool.name == "slipway" else ["--jobs=1"]):
            samples = []
            for _ in range(reps):
                tool.reset(["pout"])
                samples.append(tool.repro(jobs))
            record(f"par.{tool.name}.4x_sleep1" + (f"[{jobs}]" if tool.name == "slipway" else ""), samples)


def sec_data(work, reps, dvc_exe, files, kib):
    print(f"== data: one stage over {files} files x {kib} KiB", flush=True)
    root = repo(work, "data", "data", files=files, kib=kib)
    subprocess.run(f"cat raw/*.bin > /dev/null", shell=True, cwd=root)
    samples = [run(["sh", "-c", "cat raw/*.bin > /dev/null"], root) for _ in range(reps)]
    record("data.cat_raw_read", samples)
    if shutil.which("b3sum"):
        record("data.b3sum", [run(["sh", "-c", "b3sum raw/*.bin > /dev/null"], root) for _ in range(reps)])
    for tool in tools(root, dvc_exe):
        samples = []
        for _ in range(reps):
            tool.reset([])
            samples.append(tool.repro())
        record(f"data.{tool.name}.first_run", samples)
        tool.status()  # settle the stat cache
        record(f"data.{tool.name}.noop_status", [tool.status() for _ in range(max(reps, 5))])
        record(f"data.{tool.name}.noop_run", [tool.repro() for _ in range(max(reps, 5))])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--sections", default="wide,scale,chain,par,data")
    ap.add_argument("--dvc", default=shutil.which("dvc"), help="dvc executable (default: on PATH)")
    ap.add_argument("--data-files", type=int, default=2000)
    ap.add_argument("--data-kib", type=int, default=1024)
    ap.add_argument("--work", default=None, help="scratch directory (default: a temp dir)")
    ap.add_argument("--json", default=None, help="write results here")
    a = ap.parse_args()
    global SLIPWAY
    if not os.path.exists(SLIPWAY):
        subprocess.run(["cargo", "build", "--release", "-p", "slipway"], cwd=ROOT, check=True)
    work = a.work or tempfile.mkdtemp(prefix="slipway-bench-")
    # Benchmark a private copy: a rebuild during the run must not swap the binary under us.
    private = os.path.join(work, "slipway-under-test")
    shutil.copy2(SLIPWAY, private)
    SLIPWAY = private
    print(f"slipway: {SLIPWAY}\ndvc: {a.dvc or 'not found (slipway only)'}\nwork: {work}\n"
          f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}", flush=True)
    sections = a.sections.split(",")
    if "wide" in sections:
        sec_wide(work, a.reps, a.dvc)
    if "scale" in sections:
        sec_wide(work, 1, a.dvc, n=2000, tag="scale2000", dvc_ok=False)
    if "chain" in sections:
        sec_chain(work, a.reps, a.dvc)
    if "par" in sections:
        sec_par(work, a.reps, a.dvc)
    if "data" in sections:
        sec_data(work, a.reps, a.dvc, a.data_files, a.data_kib)

    def ratio(a_key, b_key, what="wall"):
        if a_key in RESULTS and b_key in RESULTS and RESULTS[b_key][what] > 0:
            return RESULTS[a_key][what] / RESULTS[b_key][what]
        return None

    print("\n== ratios")
    for label, a_key, b_key, what in [
        ("per-stage wall, dvc / slipway (wide, --jobs 1)", "wide.dvc.first_run", "wide.slipway.first_run[--jobs=1]", "wall"),
        ("per-stage cpu, dvc / slipway (wide, --jobs 1)", "wide.dvc.first_run", "wide.slipway.first_run[--jobs=1]", "cpu"),
        ("no-op status, dvc / slipway (200 stages)", "wide.dvc.noop_status", "wide.slipway.noop_status", "wall"),
        ("no-op run, dvc / slipway (200 stages)", "wide.dvc.noop_run", "wide.slipway.noop_run", "wall"),
        ("2000 vs 200 stages first run (slipway, --jobs 1)", "scale2000.slipway.first_run[--jobs=1]", "wide.slipway.first_run[--jobs=1]", "wall"),
        ("--jobs 2 / --jobs 1 first run (200 stages)", "wide.slipway.first_run[--jobs=2]", "wide.slipway.first_run[--jobs=1]", "wall"),
        ("slipway first hash / cat (2 GiB)", "data.slipway.first_run", "data.cat_raw_read", "wall"),
        ("slipway first hash / b3sum (2 GiB)", "data.slipway.first_run", "data.b3sum", "wall"),
    ]:
        r = ratio(a_key, b_key, what)
        if r is not None:
            print(f"  {label:55s} {r:8.2f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(RESULTS, f, indent=1)
    if not a.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
