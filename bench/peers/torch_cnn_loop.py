"""PyTorch peer for `afsearch bench train --arch cnn`: study 2's CNN trained one candidate after another
(as the study's own code does). Same workload as CNNWorkload in Sources/GPUEngine/Bench/CNNBench.swift:
P candidates, N synthetic 1x28x28 images, 10 classes, Adam lr 1e-3, mini-batches of B, E epochs, candidate i
using menu[(i + s) % 4] in slot s (conv1, conv2, fc1000). Prints one JSON object."""
import argparse, json, os, time
import torch
import torch.nn as nn
import torch.nn.functional as F

MENU = {"relu": nn.ReLU, "tanh": nn.Tanh, "leaky_relu": nn.LeakyReLU, "elu": nn.ELU}
NAMES = ["relu", "tanh", "leaky_relu", "elu"]


def network(acts):
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), MENU[acts[0]](), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), MENU[acts[1]](), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.5), nn.Linear(1600, 1000), MENU[acts[2]](), nn.Linear(1000, 10))


def flops_per_image():
    macs = 26 * 26 * 32 * 9 + 11 * 11 * 64 * 32 * 9 + 1600 * 1000 + 1000 * 10
    return 6 * macs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--population", type=int, default=8)
    ap.add_argument("--images", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (default: torch's choice)")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    x = torch.rand(a.images, 1, 28, 28) * 2 - 1
    y = torch.randint(0, 10, (a.images,))
    # Warm-up: one step, so one-time initialisation is not timed.
    m = network(NAMES[:3]); o = torch.optim.Adam(m.parameters(), lr=1e-3)
    F.cross_entropy(m(x[: a.batch]), y[: a.batch]).backward(); o.step()
    start = time.perf_counter()
    for i in range(a.population):
        model = network([NAMES[(i + s) % 4] for s in range(3)])
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        model.train()
        for _ in range(a.epochs):
            perm = torch.randperm(a.images)
            for b in range(0, a.images, a.batch):
                idx = perm[b:b + a.batch]
                loss = F.cross_entropy(model(x[idx]), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
    seconds = time.perf_counter() - start
    rate = a.population * a.images * a.epochs / seconds
    print(json.dumps({"runner": "torch_cnn_loop", "population": a.population, "images": a.images, "batch": a.batch,
                      "epochs": a.epochs, "seconds": seconds, "candidate_images_per_s": rate,
                      "gflops": rate * flops_per_image() / 1e9, "threads": torch.get_num_threads(),
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
