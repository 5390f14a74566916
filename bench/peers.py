"""The onnxruntime peer and the `taxa bench` runs, set up the same way for
every benchmark."""
import argparse
import json
import os
import statistics
import subprocess
import time


def bench_parser(runs):
    """The options every benchmark takes: --taxa (the binary bench/run.sh
    passes) and --runs (timed runs per measurement, default `runs`)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--taxa", required=True)
    ap.add_argument("--runs", type=int, default=runs)
    return ap


def taxa_bench(taxa, bundle, image, runs, rewrites, threads=None, cpus=None):
    """`taxa bench --json` on a photo after 3 warm-up runs; `rewrites` is
    TAXA_REWRITES (None: unset, taxa's default rewrites); `threads`: pass
    --threads (None: leave taxa's default); `cpus`: run it under taskset -c."""
    env = dict(os.environ)
    env.pop("TAXA_REWRITES", None)
    if rewrites is not None:
        env["TAXA_REWRITES"] = rewrites
    cmd = [taxa, "bench", "--model", bundle, "--image", image, "--runs", str(runs), "--warmup", "3", "--json"]
    if threads is not None:
        cmd += ["--threads", str(threads)]
    if cpus is not None:
        cmd = ["taskset", "-c", cpus] + cmd
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout)


def ort_session(path, threads=1):
    """One intra-op thread (or `threads`), sequential execution: the
    single-core device peer."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def ort_median_ms(sess, x, runs, warmup=5):
    for _ in range(warmup):
        sess.run(None, {"image": x})
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        sess.run(None, {"image": x})
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def ort_latency(path, runs):
    """(median inference ms on a seeded [1,3,224,224] input after 3 warm-up
    runs, session creation ms)."""
    start = time.perf_counter()
    sess = ort_session(path)
    load_ms = (time.perf_counter() - start) * 1000
    import numpy as np  # here, so the training benchmarks run where only torch is installed

    x = np.random.default_rng(1).standard_normal((1, 3, 224, 224), dtype=np.float32)
    return ort_median_ms(sess, x, runs, warmup=3), load_ms
