#!/usr/bin/env python3
"""PyTorch peer for `afsearch bench alacarte`: study 1's random search, one trial after another.

Measures how fast the study's own way of working gets through trials: each trial is a fresh nn.Module and
torch.optim.Adam, trained full batch on a CSV data set with study 1's early stopping, one after another.
afsearch runs the same trials as a population on the device; the benchmark compares trials/s and
candidate-epochs/s (epochs summed over trials, since early stopping makes trials differ in length).

Protocol (PAPERS.md, study 1): L Linear layers in→64, (L−2)×(64→64), 64→classes, each followed by its own
activation drawn uniformly from the 48-entry menu (the last layer's included), output into CrossEntropyLoss;
Adam lr 1e-3, one full-batch step per epoch (or, with --batch, mini-batches in a fresh shuffle each epoch), at most
300 epochs; after each step an eval-mode accuracy pass over
the validation set; stop when training accuracy (from the step's logits) improved by less than 0.001 over the
previous epoch for 10 epochs in a row, or at once when the loss is NaN/inf (diverged). A trial's score is its
validation accuracy after its last completed epoch; the best score is reported as a sanity check.
With --functions (what `afsearch bench alacarte` passes), the trials train the functions afsearch drew, in its
trial order, instead of the peer's own draws, so both sides' epochs and divergences are over the same networks.

Input CSVs: a header line, then feature columns (already standardised) and an integer label 0..C−1 last.
Prints one JSON line on stdout; progress on stderr.

    bash bench/peers/setup-torch.sh
    bench/.venv/bin/python bench/peers/alacarte_torch.py --train train.csv --validation validation.csv --trials 128
"""
import argparse
import csv
import json
import os
import random
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Elementwise(nn.Module):
    """A tensor function used as a layer, as the study's menu does with torch.abs, torch.cos, ..."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def _generalized_swish(x):
    return x * torch.sigmoid(torch.exp(-x))


def _sigmoid_derivative(x):
    return torch.exp(-x) * torch.sigmoid(x) ** 2


def _cloglogm(x):
    return 1 - 2 * torch.exp(-0.7 * torch.exp(x))


def _gumbel_softmax(x):
    return F.gumbel_softmax(x, tau=1, dim=1)


STANDARD = {
    "ELU": nn.ELU, "Hardshrink": nn.Hardshrink, "Hardtanh": nn.Hardtanh, "LeakyReLU": nn.LeakyReLU,
    "LogSigmoid": nn.LogSigmoid, "PReLU": nn.PReLU, "ReLU": nn.ReLU, "ReLU6": nn.ReLU6, "RReLU": nn.RReLU,
    "SELU": nn.SELU, "CELU": nn.CELU, "GELU": nn.GELU, "Sigmoid": nn.Sigmoid, "Softplus": nn.Softplus,
    "Softshrink": nn.Softshrink, "Softsign": nn.Softsign, "Tanh": nn.Tanh, "Tanhshrink": nn.Tanhshrink,
    "Softmin": lambda: nn.Softmin(dim=1), "Softmax": lambda: nn.Softmax(dim=1),
    "LogSoftmax": lambda: nn.LogSoftmax(dim=1),
}
TENSOR_FUNCTIONS = ["abs", "acos", "angle", "asin", "atan", "ceil", "cos", "cosh", "digamma", "erf", "erfc", "exp",
                    "floor", "frac", "log", "log10", "neg", "round", "sin", "sinh", "tan", "trunc"]
FUNCTIONS = {"GumbelSoftmax": _gumbel_softmax, "GeneralizedSwish": _generalized_swish,
             "SigmoidDerivative": _sigmoid_derivative, "CLogLogM": _cloglogm, "Mish": F.mish}

# name → factory of a fresh module (PReLU's slope is a parameter, so every use needs its own module).
MENU = dict(STANDARD)
MENU.update({name.capitalize(): (lambda fn=getattr(torch, name): Elementwise(fn)) for name in TENSOR_FUNCTIONS})
MENU.update({name: (lambda fn=fn: Elementwise(fn)) for name, fn in FUNCTIONS.items()})
assert len(MENU) == 48, len(MENU)
NAMES = sorted(MENU)


def read_csv(path):
    """Features (float32, n×d) and labels (int64, n) from a CSV with a header line and the label last."""
    with open(path, newline="") as f:
        rows = [row for row in list(csv.reader(f))[1:] if row]
    if not rows:
        sys.exit(f"{path}: no data rows")
    x = torch.tensor([[float(v) for v in row[:-1]] for row in rows], dtype=torch.float32)
    y = torch.tensor([int(row[-1]) for row in rows], dtype=torch.int64)
    return x, y


def network(widths, activations):
    mods = []
    for (a, b), name in zip(zip(widths[:-1], widths[1:]), activations):
        mods += [nn.Linear(a, b), MENU[name]()]
    return nn.Sequential(*mods)


def accuracy(logits, y):
    return (logits.argmax(dim=1) == y).float().mean().item()


def run_trial(widths, activations, data, lr, max_epochs, min_delta, patience, batch=None):
    """Trains one network with study 1's rule; returns (epochs run, diverged, last validation accuracy).
    With `batch`, each epoch steps through the rows in a fresh shuffle, batch rows at a time, and its training
    accuracy is the share of rows each step's logits got right (as afsearch reports a mini-batch epoch)."""
    x, y, vx, vy = data
    n = x.shape[0]
    net = network(widths, activations)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    previous, stale, score = None, 0, 0.0
    for epoch in range(1, max_epochs + 1):
        net.train()
        if batch is None or batch >= n:
            steps = [(x, y)]
        else:
            order = torch.randperm(n)
            steps = [(x[order[i:i + batch]], y[order[i:i + batch]]) for i in range(0, n, batch)]
        hits = 0.0
        for bx, by in steps:
            logits = net(bx)
            loss = loss_fn(logits, by)
            if not torch.isfinite(loss):
                return epoch, True, score
            opt.zero_grad()
            loss.backward()
            opt.step()
            hits += (logits.argmax(dim=1) == by).sum().item()
        train_accuracy = hits / n
        net.eval()
        with torch.no_grad():
            score = accuracy(net(vx), vy)
        stale = stale + 1 if previous is not None and train_accuracy - previous < min_delta else 0
        previous = train_accuracy
        if stale >= patience:
            break
    return epoch, False, score


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--train", required=True, help="CSV: header, standardised features, integer label last")
    p.add_argument("--validation", required=True, help="CSV in the same layout")
    p.add_argument("--trials", type=int, default=128)
    p.add_argument("--layers", type=int, default=5, help="Linear layers, each followed by an activation")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--max-epochs", type=int, default=300)
    p.add_argument("--min-delta", type=float, default=1e-3)
    p.add_argument("--patience", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=0, help="mini-batch rows (0, the default: full batch, study 1's protocol)")
    p.add_argument("--functions", help="JSON: a list of trials, each a list of menu names (one per layer); "
                                       "trains these, the first --trials of them, instead of drawing")
    p.add_argument("--threads", type=int, default=0,
                   help="torch.set_num_threads; 0 (default) times a warm-up with 1 thread and with every CPU on this "
                        "data set's shape and keeps the faster (small layers can run slower on more threads)")
    a = p.parse_args()
    if a.layers < 2 or a.max_epochs < 1:
        p.error("--layers must be at least 2 and --max-epochs at least 1")

    planned = None
    if a.functions:
        with open(a.functions) as f:
            planned = json.load(f)[:a.trials]
        unknown = sorted({n for t in planned for n in t if n not in MENU} | {str(len(t)) + " layers" for t in planned if len(t) != a.layers})
        if unknown:
            sys.exit(f"{a.functions}: not in the menu or not {a.layers} per trial: {', '.join(unknown)}")
        a.trials = len(planned)

    x, y = read_csv(a.train)
    vx, vy = read_csv(a.validation)
    if vx.shape[1] != x.shape[1]:
        sys.exit(f"{a.validation}: {vx.shape[1]} features, {a.train} has {x.shape[1]}")
    classes = int(max(y.max(), vy.max())) + 1
    widths = [x.shape[1]] + [a.hidden] * (a.layers - 1) + [classes]
    data = (x, y, vx, vy)
    rng = random.Random(a.seed)
    torch.manual_seed(a.seed)

    # Warm-up (untimed): thread pool and allocator, so the first trial does not pay for them; without --threads,
    # also the thread count: 30 epochs of a ReLU network (patience off) with each choice, twice in turn, the
    # faster best time wins.
    choices = [a.threads] if a.threads > 0 else sorted({1, os.cpu_count() or 1})
    warmup = {}
    for _ in range(2 if len(choices) > 1 else 1):
        for threads in choices:
            torch.set_num_threads(threads)
            t0 = time.perf_counter()
            run_trial(widths, ["ReLU"] * a.layers, data, a.lr, 30, a.min_delta, a.max_epochs + 1, a.batch or None)
            warmup[threads] = min(warmup.get(threads, float("inf")), time.perf_counter() - t0)
    torch.set_num_threads(min(warmup, key=warmup.get))
    if len(choices) > 1:
        print("[alacarte_torch] thread warm-up (30 epochs): "
              + ", ".join(f"{t} thread{'s' if t > 1 else ''} {s:.3f} s" for t, s in sorted(warmup.items()))
              + f"; using {torch.get_num_threads()}", file=sys.stderr)
    torch.manual_seed(a.seed)

    epochs, diverged, best = [], 0, 0.0
    start = time.perf_counter()
    for trial in range(1, a.trials + 1):
        activations = planned[trial - 1] if planned is not None else [rng.choice(NAMES) for _ in range(a.layers)]
        n, bad, score = run_trial(widths, activations, data, a.lr, a.max_epochs, a.min_delta, a.patience, a.batch or None)
        epochs.append(n)
        diverged += bad
        best = max(best, score)
        if trial % 10 == 0 or trial == a.trials:
            print(f"[alacarte_torch] {trial}/{a.trials} trials, {sum(epochs)} epochs, {diverged} diverged, "
                  f"{time.perf_counter() - start:.1f} s", file=sys.stderr)
    seconds = time.perf_counter() - start

    print(json.dumps({
        "peer": "alacarte_torch", "trials": a.trials, "candidate_epochs": sum(epochs),
        "wall_seconds": round(seconds, 4),
        "trials_per_second": round(a.trials / seconds, 3),
        "candidate_epochs_per_second": round(sum(epochs) / seconds, 2),
        "median_epochs": statistics.median(epochs), "mean_epochs": round(statistics.mean(epochs), 2),
        "diverged": diverged, "best_validation_accuracy": round(best, 4),
        "train_rows": x.shape[0], "validation_rows": vx.shape[0], "features": x.shape[1], "classes": classes,
        "layers": a.layers, "hidden": a.hidden, "seed": a.seed, "batch": a.batch or None, "replayed": planned is not None,
        "torch_version": torch.__version__, "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
        "thread_warmup_seconds": {str(t): round(s, 4) for t, s in sorted(warmup.items())},
    }))


if __name__ == "__main__":
    main()
