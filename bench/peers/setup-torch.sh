#!/usr/bin/env bash
# Installs PyTorch from PyPI into bench/.venv (created when missing) for the PyTorch peers, and prints its version.
# Idempotent: a venv whose torch already imports and trains a step is left as it is.
#
#   bash bench/peers/setup-torch.sh          # then: bench/.venv/bin/python bench/peers/torch_loop.py ...
#
# PyPI's only Linux x86_64 torch wheel is the CUDA build: its libraries (libtorch_cpu.so included) link the CUDA
# runtime, so `import torch` needs those .so files even on a machine without a GPU. A plain `pip install torch`
# also brings triton, cuda-bindings and cuSOLVER, which CPU work never loads. So: torch with --no-deps, then its
# own requirements (read from the installed wheel's metadata, so its pins are kept) less those three.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=bench/.venv
PY=$VENV/bin/python
say() { echo "[setup-torch] $*" >&2; }
fail() { say "FAILED: $*"; exit 1; }

# PyPI's torch (PyPI forbids local versions such as +cpu), and one Adam step on a tiny MLP, without the GPU.
check='import importlib.metadata, torch
assert "+" not in importlib.metadata.version("torch"), "not PyPI torch: " + importlib.metadata.version("torch")
net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
loss = torch.nn.functional.cross_entropy(net(torch.randn(16, 4)), torch.randint(0, 3, (16,)))
loss.backward(); opt.step()
assert torch.isfinite(loss)
print(torch.__version__)'

if [ ! -x "$PY" ]; then
  SYS_PY=$(command -v /usr/bin/python3 || command -v python3) || fail "no python3 to create $VENV with"
  say "creating $VENV with $SYS_PY"
  "$SYS_PY" -m venv "$VENV" || fail "'$SYS_PY -m venv $VENV' failed (Debian: apt-get install python3-venv)"
fi

if version=$("$PY" -c "$check" 2>/dev/null); then
  echo "torch $version ($VENV)"
  exit 0
fi

PIP=("$PY" -m pip install -q --disable-pip-version-check)
say "pip install --no-deps torch (PyPI)"
"${PIP[@]}" --no-deps --upgrade torch || fail "pip could not install torch"
# pip's configured find-links may hold a local '+cpu' build, which pip takes when PyPI cannot be reached.
dist=$("$PY" -c 'import importlib.metadata as m; print(m.version("torch"))')
case "$dist" in *+*) fail "pip chose torch $dist, a local build, not PyPI's wheel";; esac

mapfile -t reqs < <("$PY" - <<'PY'
import importlib.metadata as md
import re

UNUSED_ON_CPU = {"triton", "cuda-bindings"}
for req in md.requires("torch") or []:
    spec, _, marker = req.partition(";")
    if "extra ==" in marker:
        continue
    name = re.match(r"[A-Za-z0-9._-]+", spec).group(0).lower()
    if name in UNUSED_ON_CPU:
        continue
    if name == "cuda-toolkit":  # keep the libraries libtorch links; cuSOLVER is loaded only for CUDA linear algebra
        spec = re.sub(r"\[([^\]]*)\]",
                      lambda m: "[" + ",".join(e for e in m.group(1).split(",") if e.strip() != "cusolver") + "]", spec)
    print(spec.strip())
PY
)
say "pip install ${#reqs[@]} requirements of torch $dist (without triton, cuda-bindings, cuSOLVER) and numpy"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# pip then warns that torch's requirements on the three left out are unmet: expected, so those lines are dropped.
"${PIP[@]}" "${reqs[@]}" numpy >"$log" 2>&1 || { cat "$log" >&2; fail "pip could not install torch's requirements"; }
grep -v "requires \(triton\|cuda-bindings\)\|dependency resolver\|dependency conflicts" "$log" >&2 || true
version=$("$PY" -c "$check") || fail "torch $dist is installed in $VENV but 'import torch' or a training step fails (see above)"
echo "torch $version ($VENV, $(du -sh "$VENV" | cut -f1))"
