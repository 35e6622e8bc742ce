#!/usr/bin/env bash
# Runs `afsearch bench train` and the two peers (PyTorch loop, JAX vmap) on the same study-1 workload, one
# after another in one go, and prints the ratios. Results: bench/results/run-<UTC time>.json.
#
#   bash bench/run.sh                      # P=64, L=5, n=1000, 50 epochs
#   P=256 L=10 EPOCHS=20 bash bench/run.sh
#   AFSEARCH=.build-x/release/afsearch bash bench/run.sh   # use this binary (default: builds .build/release)
#
# Peers: PyTorch from PyPI and JAX, both with pip into bench/.venv (git-ignored; PyTorch by
# bench/peers/setup-torch.sh). A peer that cannot be installed is skipped with a message.
set -uo pipefail
cd "$(dirname "$0")/.."
P=${P:-64} L=${L:-5} N=${N:-1000} EPOCHS=${EPOCHS:-50}
AFSEARCH=${AFSEARCH:-.build/release/afsearch}
SYS_PY=/usr/bin/python3
VENV=bench/.venv
OUT=bench/results
mkdir -p "$OUT"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
say() { echo "[bench] $*" >&2; }

if [ ! -x "$AFSEARCH" ]; then
  say "building afsearch (release)"
  swift build -c release >&2 || { say "swift build failed"; exit 1; }
  AFSEARCH=.build/release/afsearch
fi

# --- peers' environments -------------------------------------------------------------------------------
have_torch=0
bash bench/peers/setup-torch.sh >&2 && have_torch=1
[ $have_torch = 1 ] || say "skipping the PyTorch peer: bench/peers/setup-torch.sh could not install torch into $VENV"

have_jax=0
if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV"
  $SYS_PY -m venv "$VENV" >&2 || python3 -m venv "$VENV" >&2
fi
if [ -x "$VENV/bin/python" ]; then
  "$VENV/bin/python" -c "import jax" 2>/dev/null || { say "pip install jax jaxlib into $VENV"; "$VENV/bin/pip" install -q jax jaxlib >&2; }
  "$VENV/bin/python" -c "import jax" 2>/dev/null && have_jax=1
fi
[ $have_jax = 1 ] || say "skipping the JAX peer: could not create $VENV with jax (pip install jax jaxlib)"
# safetensors for /usr/bin/python3 when it has Debian's torch (the PyTorch interop tests use that, not the benchmark)
if $SYS_PY -c "import torch" 2>/dev/null && ! PYTHONPATH=$VENV/torch-extras $SYS_PY -c "import safetensors" 2>/dev/null && [ -x "$VENV/bin/pip" ]; then
  "$VENV/bin/pip" install -q --no-deps --target "$VENV/torch-extras" safetensors >&2 || true
fi

# --- the three runs, one after another ------------------------------------------------------------------
say "afsearch bench train P=$P L=$L n=$N epochs=$EPOCHS"
"$AFSEARCH" bench train --json --population "$P" --depth "$L" --samples "$N" --epochs "$EPOCHS" > "$TMP/afsearch.json" \
  || { say "afsearch bench train failed"; exit 1; }
if [ $have_torch = 1 ]; then
  say "PyTorch peer"
  "$VENV/bin/python" bench/peers/torch_loop.py --population "$P" --layers "$L" --samples "$N" --epochs "$EPOCHS" > "$TMP/torch.json" || rm -f "$TMP/torch.json"
fi
if [ $have_jax = 1 ]; then
  say "JAX peer (vmap, lax.switch over activations)"
  "$VENV/bin/python" bench/peers/jax_vmap.py --population "$P" --layers "$L" --samples "$N" --epochs "$EPOCHS" > "$TMP/jax.json" || rm -f "$TMP/jax.json"
  say "JAX peer (vmap per activation group)"
  "$VENV/bin/python" bench/peers/jax_vmap.py --group-by-activation --population "$P" --layers "$L" --samples "$N" --epochs "$EPOCHS" > "$TMP/jax_grouped.json" || rm -f "$TMP/jax_grouped.json"
fi

$SYS_PY - "$TMP" "$OUT/run-$STAMP.json" "$P" "$L" "$N" "$EPOCHS" <<'PY'
import json, os, sys, platform
tmp, out = sys.argv[1], sys.argv[2]
def load(name):
    path = os.path.join(tmp, name)
    return json.load(open(path)) if os.path.exists(path) else None
af = load("afsearch.json")
run = af["runs"][0]["result"]
peers = {k: v for k, v in (("torch_loop", load("torch.json")), ("jax_vmap", load("jax.json")),
                           ("jax_vmap_grouped", load("jax_grouped.json"))) if v}
peak = af.get("gemmPeak") or {}
print(f"device: {af['device']}   workload: P={sys.argv[3]} L={sys.argv[4]} n={sys.argv[5]} epochs={sys.argv[6]}")
if peak:
    print(f"measured GEMM peak: {peak['peakGFLOPs']:.1f} GFLOP/s" +
          (f" (theoretical estimate {peak['theoreticalEstimateGFLOPs']:.0f})" if peak.get("theoreticalEstimateGFLOPs") else ""))
print(f"{'runner':<18}{'cand-epochs/s':>14}{'GFLOP/s':>10}{'afsearch ×':>12}")
rate = run["candidateEpochsPerSecond"]
share = af["runs"][0].get("shareOfGEMMPeak")
print(f"{'afsearch':<18}{rate:>14.1f}{run['gflops']:>10.2f}{'1.00':>12}" + (f"   {100*share:.0f}% of GEMM peak" if share else ""))
for name, p in peers.items():
    print(f"{name:<18}{p['candidate_epochs_per_s']:>14.1f}{p['gflops']:>10.2f}{rate / p['candidate_epochs_per_s']:>12.2f}")
record = {"afsearch": af, "peers": peers, "host": platform.node(), "cpus": os.cpu_count(),
          "ratios": {k: rate / v["candidate_epochs_per_s"] for k, v in peers.items()}}
json.dump(record, open(out, "w"), indent=1)
print(f"saved {out}")
PY
