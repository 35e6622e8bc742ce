"""JAX peer for `afsearch bench train --arch cnn`: study 2's CNN for the whole population under `vmap`
(weights stacked on a leading candidate axis, the data batch shared), jit-compiled train step, Adam written
out as torch.optim.Adam. Per-candidate activations per slot via lax.switch on the candidate's index (under
vmap this evaluates every branch and selects). Same workload as bench/peers/torch_cnn_loop.py."""
import argparse, json, time
import jax
import jax.numpy as jnp
from jax import lax

ACTS = [jax.nn.relu, jnp.tanh, lambda v: jax.nn.leaky_relu(v, 0.01), jax.nn.elu]


def act(i, v):
    return lax.switch(i, ACTS, v)


def init(key):
    ks = jax.random.split(key, 8)
    def u(k, shape, fan_in):
        b = 1.0 / jnp.sqrt(fan_in)
        return jax.random.uniform(k, shape, jnp.float32, -b, b)
    return {"c1w": u(ks[0], (3, 3, 1, 32), 9), "c1b": u(ks[1], (32,), 9),
            "c2w": u(ks[2], (3, 3, 32, 64), 288), "c2b": u(ks[3], (64,), 288),
            "f1w": u(ks[4], (1600, 1000), 1600), "f1b": u(ks[5], (1000,), 1600),
            "f2w": u(ks[6], (1000, 10), 1000), "f2b": u(ks[7], (10,), 1000)}


def forward(p, acts, x, key):
    dn = ("NHWC", "HWIO", "NHWC")
    h = lax.conv_general_dilated(x, p["c1w"], (1, 1), "VALID", dimension_numbers=dn) + p["c1b"]
    h = act(acts[0], h)
    h = lax.reduce_window(h, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
    h = lax.conv_general_dilated(h, p["c2w"], (1, 1), "VALID", dimension_numbers=dn) + p["c2b"]
    h = act(acts[1], h)
    h = lax.reduce_window(h, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
    h = h.reshape(h.shape[0], -1)
    keep = jax.random.bernoulli(key, 0.5, h.shape)
    h = jnp.where(keep, h * 2.0, 0.0)
    h = act(acts[2], h @ p["f1w"] + p["f1b"])
    return h @ p["f2w"] + p["f2b"]


def loss(p, acts, x, y, key):
    logits = forward(p, acts, x, key)
    return jnp.mean(jax.nn.logsumexp(logits, axis=1) - jnp.take_along_axis(logits, y[:, None], axis=1)[:, 0])


def adam(p, g, m, v, t, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    m = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, m, g)
    v = jax.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, v, g)
    step = lr / (1 - b1 ** t)
    c2 = jnp.sqrt(1 - b2 ** t)
    p = jax.tree_util.tree_map(lambda p, m, v: p - step * m / (jnp.sqrt(v) / c2 + eps), p, m, v)
    return p, m, v


def step_one(p, m, v, acts, x, y, key, t):
    g = jax.grad(loss)(p, acts, x, y, key)
    return adam(p, g, m, v, t)


step = jax.jit(jax.vmap(step_one, in_axes=(0, 0, 0, 0, None, None, 0, None)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--population", type=int, default=8)
    ap.add_argument("--images", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=1)
    a = ap.parse_args()
    P = a.population
    key = jax.random.PRNGKey(1)
    x = jax.random.uniform(key, (a.images, 28, 28, 1), jnp.float32, -1, 1)
    y = jax.random.randint(key, (a.images,), 0, 10)
    params = jax.vmap(init)(jax.random.split(key, P))
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    m, v = zeros, zeros
    acts = jnp.array([[(i + s) % 4 for s in range(3)] for i in range(P)], jnp.int32)
    keys = jax.random.split(key, P)
    # Warm-up: compile the step for the full and the last (smaller) batch shapes.
    sizes = {min(a.batch, a.images - b) for b in range(0, a.images, a.batch)}
    for n in sizes:
        jax.block_until_ready(step(params, m, v, acts, x[:n], y[:n], keys, 1.0))
    start = time.perf_counter()
    t = 0
    for e in range(a.epochs):
        perm = jax.random.permutation(jax.random.fold_in(key, e), a.images)
        for b in range(0, a.images, a.batch):
            idx = perm[b:b + a.batch]
            t += 1
            keys = jax.vmap(lambda k: jax.random.fold_in(k, t))(keys)
            params, m, v = step(params, m, v, acts, x[idx], y[idx], keys, float(t))
    jax.block_until_ready(params)
    seconds = time.perf_counter() - start
    rate = P * a.images * a.epochs / seconds
    macs = 26 * 26 * 32 * 9 + 11 * 11 * 64 * 32 * 9 + 1600 * 1000 + 1000 * 10
    print(json.dumps({"runner": "jax_cnn_vmap", "population": P, "images": a.images, "batch": a.batch, "epochs": a.epochs,
                      "seconds": seconds, "candidate_images_per_s": rate, "gflops": rate * 6 * macs / 1e9,
                      "jax": jax.__version__}))


if __name__ == "__main__":
    main()
