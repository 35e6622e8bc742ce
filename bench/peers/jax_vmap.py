#!/usr/bin/env python3
"""JAX peer for `afsearch bench train`: the study-1 workload with the whole population under vmap.

Weights carry a leading population axis; one jitted full-batch Adam step (written out, PyTorch's update rule)
is vmapped over the candidates. Each candidate's activation is chosen by `lax.switch` on its index, which under
vmap evaluates every branch and selects (what a population with mixed activations costs in JAX). With
`--group-by-activation` the population is instead split into one vmapped group per activation, which avoids
the select at the price of one launch per group.

Workload and FLOP count as bench/peers/torch_loop.py (6·n·W per candidate-epoch, W = weights + biases).
Prints one JSON line. Run in the bench venv:  bench/.venv/bin/python bench/peers/jax_vmap.py [--population P] ...
"""
import argparse
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

ACTIVATIONS = ["relu", "tanh", "sigmoid", "elu", "silu", "gelu", "softplus", "mish"]
FUNCTIONS = {
    "relu": jax.nn.relu, "tanh": jnp.tanh, "sigmoid": jax.nn.sigmoid, "elu": jax.nn.elu, "silu": jax.nn.silu,
    # PyTorch's nn.GELU default is the exact erf form, not the tanh approximation.
    "gelu": lambda v: jax.nn.gelu(v, approximate=False),
    "softplus": jax.nn.softplus, "mish": lambda v: v * jnp.tanh(jax.nn.softplus(v)),
}
BRANCHES = [FUNCTIONS[n] for n in ACTIVATIONS]


def init_params(key, widths):
    """nn.Linear's default: weights and biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)); weights stored in×out."""
    params = []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        key, kw, kb = jax.random.split(key, 3)
        bound = 1.0 / np.sqrt(fan_in)
        params.append((jax.random.uniform(kw, (fan_in, fan_out), minval=-bound, maxval=bound),
                       jax.random.uniform(kb, (fan_out,), minval=-bound, maxval=bound)))
    return params


def forward(params, act_index, x):
    for i, (w, b) in enumerate(params):
        x = x @ w + b
        if i < len(params) - 1:
            x = jax.lax.switch(act_index, BRANCHES, x)
    return x


def loss_and_logits(params, act_index, x, y):
    logits = forward(params, act_index, x)
    logp = jax.nn.log_softmax(logits)
    return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1)), logits


def adam_step(params, m, v, t, act_index, x, y, lr, b1=0.9, b2=0.999, eps=1e-8):
    (loss, logits), grads = jax.value_and_grad(loss_and_logits, has_aux=True)(params, act_index, x, y)
    m = jax.tree_util.tree_map(lambda m_, g: b1 * m_ + (1 - b1) * g, m, grads)
    v = jax.tree_util.tree_map(lambda v_, g: b2 * v_ + (1 - b2) * g * g, v, grads)
    step = lr / (1 - b1 ** t)
    denom_scale = 1.0 / jnp.sqrt(1 - b2 ** t)
    params = jax.tree_util.tree_map(lambda p, m_, v_: p - step * m_ / (jnp.sqrt(v_) * denom_scale + eps), params, m, v)
    acc = jnp.mean(jnp.argmax(logits, axis=1) == y)
    return params, m, v, loss, acc


def make_population_step(lr):
    # x, y, t shared; params, m, v and the activation index per candidate.
    step = jax.vmap(lambda p, m, v, a, t, x, y: adam_step(p, m, v, t, a, x, y, lr),
                    in_axes=(0, 0, 0, 0, None, None, None))
    return jax.jit(step)


def synthetic_data(n, d, classes, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(np.float32)
    teacher = rng.standard_normal((d, classes)).astype(np.float32)
    y = np.argmax(x @ teacher + 0.5 * rng.standard_normal((n, classes)), axis=1).astype(np.int32)
    return jnp.asarray(x), jnp.asarray(y)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--population", type=int, default=64)
    p.add_argument("--layers", type=int, default=5)
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--features", type=int, default=20)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--group-by-activation", action="store_true")
    a = p.parse_args()

    widths = [a.features] + [a.hidden] * (a.layers - 1) + [a.classes]
    weights = sum(i * o + o for i, o in zip(widths[:-1], widths[1:]))
    x, y = synthetic_data(a.samples, a.features, a.classes, a.seed)
    acts = np.array([i % len(ACTIVATIONS) for i in range(a.population)], dtype=np.int32)
    groups = ([np.nonzero(acts == k)[0] for k in range(len(ACTIVATIONS)) if np.any(acts == k)]
              if a.group_by_activation else [np.arange(a.population)])
    step = make_population_step(a.lr)

    def fresh_state(key, members):
        keys = jax.random.split(key, len(members))
        params = jax.vmap(lambda k: init_params(k, widths))(keys)
        zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
        return [params, zeros, zeros, jnp.asarray(acts[members])]

    def run(epochs, key):
        states = [fresh_state(jax.random.fold_in(key, g), members) for g, members in enumerate(groups)]
        accs = []
        for t in range(1, epochs + 1):
            for s in states:
                s[0], s[1], s[2], loss, acc = step(s[0], s[1], s[2], s[3], jnp.float32(t), x, y)
                accs.append(acc)
        jax.block_until_ready([s[0] for s in states])
        return float(jnp.mean(jnp.concatenate(accs[-len(states):])))

    key = jax.random.PRNGKey(a.seed)
    run(2, key)  # compile (one executable per group size) outside the timing
    start = time.perf_counter()
    mean_acc = run(a.epochs, key)
    seconds = time.perf_counter() - start

    cand_epochs = a.population * a.epochs
    print(json.dumps({
        "peer": "jax_vmap_grouped" if a.group_by_activation else "jax_vmap", "P": a.population, "L": a.layers,
        "n": a.samples, "epochs": a.epochs, "seconds": round(seconds, 4),
        "candidate_epochs_per_s": round(cand_epochs / seconds, 2),
        "gflops": round(6.0 * a.samples * weights * cand_epochs / seconds / 1e9, 3),
        "weights_per_candidate": weights, "mean_train_accuracy": round(mean_acc, 4),
        "jax": jax.__version__, "backend": jax.default_backend(), "cpus": os.cpu_count(),
    }))


if __name__ == "__main__":
    main()
