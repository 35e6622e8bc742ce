#!/usr/bin/env python3
"""Vendor GEMM peer for `afsearch bench alacarte --bound`: PyTorch's BLAS on exactly a study's matrix products.

The device bound of `bench alacarte --bound` prices a study-1 candidate-epoch's GEMMs at a GEMM rate. afsearch
measures its own (`bench gemm`'s tile sweep); this script measures what the BLAS behind PyTorch's CPU wheel
(oneDNN/MKL) reaches on the same products, so that the bound is not only afsearch's own kernels' word.

Per candidate-epoch of a network with layer widths w0 → w1 → ... → wL over n training and m validation rows (what
AlaCarteBound counts, 2 (n + m) W + 2 n W + 2 n (W − W1) FLOP):
  forward   [n × a]·[a × b] and [m × a]·[a × b] for every layer a → b,
  weights   [a × n]·[n × b] (Xᵀ·dZ) for every layer,
  data      [n × b]·[b × a] (dZ·Wᵀ) for every layer but the first.
Every product writes into a preallocated tensor (torch.mm(..., out=)); the transposes are views, as in autograd.
The whole sequence is timed many times a round, best round of five, with 1 thread and with every CPU
(--threads N: only N). Prints one JSON line on stdout.

    bench/.venv/bin/python bench/peers/torch_gemm.py --widths 64,64,64,64,64,10 --train 1006 --validation 252
"""
import argparse
import json
import os
import time

import torch


def products(widths, n, m):
    """The epoch's products as (left, right, out) tensors; their FLOPs."""
    g = torch.Generator().manual_seed(0)
    ops, flops = [], 0
    acts = [torch.randn(n, a, generator=g) for a in widths[:-1]]
    vals = [torch.randn(m, a, generator=g) for a in widths[:-1]]
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        w = torch.randn(a, b, generator=g)
        dz = torch.randn(n, b, generator=g)
        ops.append((acts[i], w, torch.empty(n, b)))
        ops.append((vals[i], w, torch.empty(m, b)))
        ops.append((acts[i].t(), dz, torch.empty(a, b)))
        flops += 2 * (n + m) * a * b + 2 * n * a * b
        if i > 0:
            ops.append((dz, w.t(), torch.empty(n, a)))
            flops += 2 * n * a * b
    return ops, flops


def timed(ops, flops, threads):
    torch.set_num_threads(threads)
    for _ in range(5):
        for x, y, out in ops:
            torch.mm(x, y, out=out)
    # About 0.2 s a round.
    start = time.perf_counter()
    for x, y, out in ops:
        torch.mm(x, y, out=out)
    once = max(time.perf_counter() - start, 1e-6)
    repeats = max(3, int(0.2 / once))
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeats):
            for x, y, out in ops:
                torch.mm(x, y, out=out)
        best = min(best, (time.perf_counter() - start) / repeats)
    return flops / best / 1e9, best


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--widths", required=True, help="layer widths, inputs first (e.g. 64,64,64,64,64,10)")
    parser.add_argument("--train", type=int, required=True, help="training rows n")
    parser.add_argument("--validation", type=int, default=0, help="validation rows m")
    parser.add_argument("--threads", type=int, default=0, help="0: the faster of 1 thread and every CPU")
    args = parser.parse_args()
    widths = [int(w) for w in args.widths.split(",")]
    if len(widths) < 2 or min(widths) < 1 or args.train < 1 or args.validation < 0:
        parser.error("--widths needs two positive widths or more, --train a positive row count")
    ops, flops = products(widths, args.train, args.validation)
    counts = [args.threads] if args.threads > 0 else sorted({1, os.cpu_count() or 1})
    runs = {t: timed(ops, flops, t) for t in counts}
    threads = max(runs, key=lambda t: runs[t][0])
    gflops, seconds = runs[threads]
    print(json.dumps({
        "torch_version": torch.__version__, "threads": threads, "gflops": gflops, "mflop": flops / 1e6,
        "seconds": seconds, "gflops_by_threads": {str(t): r[0] for t, r in runs.items()},
    }))


if __name__ == "__main__":
    main()
