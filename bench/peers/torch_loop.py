#!/usr/bin/env python3
"""PyTorch peer for `afsearch bench train`: the study-1 workload, one candidate after another.

This is how the studies' own code trains a population: a fresh nn.Module and torch.optim.Adam per candidate,
full-batch steps, training accuracy read back every epoch (study 1's early-stopping rule needs it; no
candidate stops early here so every run does the same work).

Workload (defaults): P=64 candidates, L=5 Linear layers 20→64→64→64→64→10, n=1000 samples, d=20 features,
10 classes, Adam lr 1e-3, 50 epochs; candidate i uses activation i mod 8 of
relu, tanh, sigmoid, elu, silu, gelu, softplus, mish in every hidden layer; logits go into cross-entropy.
FLOPs per candidate-epoch are counted as 6·n·W, W = weights + biases of one network (forward 2·n·W,
backward 4·n·W), the same count afsearch bench uses.

Prints one JSON line. Run with PyPI's torch (bash bench/peers/setup-torch.sh): bench/.venv/bin/python bench/peers/torch_loop.py [--population P] ...
"""
import argparse
import json
import os
import time

import torch

ACTIVATIONS = ["relu", "tanh", "sigmoid", "elu", "silu", "gelu", "softplus", "mish"]


def activation(name):
    return {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid, "elu": torch.nn.ELU,
            "silu": torch.nn.SiLU, "gelu": torch.nn.GELU, "softplus": torch.nn.Softplus, "mish": torch.nn.Mish}[name]()


def widths_for(layers, features, hidden, classes):
    return [features] + [hidden] * (layers - 1) + [classes]


def make_net(widths, act):
    mods = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        mods.append(torch.nn.Linear(a, b))
        if i < len(widths) - 2:
            mods.append(activation(act))
    return torch.nn.Sequential(*mods)


def synthetic_data(n, d, classes, seed):
    """Gaussian features; labels from a random linear teacher plus noise (learnable, not separable)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    teacher = torch.randn(d, classes, generator=g)
    y = torch.argmax(x @ teacher + 0.5 * torch.randn(n, classes, generator=g), dim=1)
    return x, y


def train_candidate(widths, act, x, y, epochs, lr):
    net = make_net(widths, act)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    acc = 0.0
    for _ in range(epochs):
        logits = net(x)
        loss = loss_fn(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        acc = (logits.argmax(dim=1) == y).float().mean().item()
    return acc


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--population", type=int, default=64)
    p.add_argument("--layers", type=int, default=5, help="Linear layers (hidden = layers - 1)")
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--features", type=int, default=20)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0,
                   help="intra-op threads; 0 (default) times a short warm-up with 1 thread and with every CPU "
                        "and keeps the faster (on a busy 2-core machine OpenMP's 2 threads can be far slower)")
    a = p.parse_args()

    torch.manual_seed(a.seed)
    widths = widths_for(a.layers, a.features, a.hidden, a.classes)
    weights = sum(i * o + o for i, o in zip(widths[:-1], widths[1:]))
    x, y = synthetic_data(a.samples, a.features, a.classes, a.seed)
    choices = [a.threads] if a.threads > 0 else sorted({1, os.cpu_count() or 1})
    warmup = {}
    for threads in choices:  # warm-up: allocator, thread pool, and the thread count
        torch.set_num_threads(threads)
        t0 = time.perf_counter()
        train_candidate(widths, "relu", x, y, 10, a.lr)
        warmup[threads] = time.perf_counter() - t0
    torch.set_num_threads(min(warmup, key=warmup.get))
    torch.manual_seed(a.seed)

    start = time.perf_counter()
    accuracies = [train_candidate(widths, ACTIVATIONS[i % len(ACTIVATIONS)], x, y, a.epochs, a.lr)
                  for i in range(a.population)]
    seconds = time.perf_counter() - start

    cand_epochs = a.population * a.epochs
    print(json.dumps({
        "peer": "torch_loop", "P": a.population, "L": a.layers, "n": a.samples, "epochs": a.epochs,
        "seconds": round(seconds, 4),
        "candidate_epochs_per_s": round(cand_epochs / seconds, 2),
        "gflops": round(6.0 * a.samples * weights * cand_epochs / seconds / 1e9, 3),
        "weights_per_candidate": weights,
        "mean_train_accuracy": round(sum(accuracies) / len(accuracies), 4),
        "torch": torch.__version__, "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
    }))


if __name__ == "__main__":
    main()
