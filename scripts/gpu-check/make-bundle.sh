#!/usr/bin/env bash
# Builds the self-contained device check (`make gpu-check`): dist/gpu-check/ and dist/gpu-check.tar.xz, to
# carry to a bare Linux GPU machine that has only its vendor driver (no Swift, no network, no Python).
#
#   bin/afsearch      release build with the Swift standard library and Foundation linked statically
#   lib/              the OpenCL ICD loader, zlib and SQLite it links against (glibc and libstdc++ are the
#                     machine's: a vendor driver needs the system's own)
#   icd/              ICD files for NVIDIA and AMD, used when the machine lacks /etc/OpenCL/vendors
#   data/             MNIST-5k and sklearn's digits (evolve and bench alacarte)
#   run.sh            the check itself (scripts/gpu-check/run.sh)
#
# On the GPU machine: tar xJf gpu-check.tar.xz && gpu-check/run.sh   (results in gpu-check/results-<time>/)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
dist="$root/dist"
bundle="$dist/gpu-check"
data_root="${AFSEARCH_DATA:-$HOME/.cache/afsearch/data}"

echo "gpu-check: building afsearch with the static Swift standard library (.build-static)"
(cd "$root" && swift build -c release --static-swift-stdlib --scratch-path "$root/.build-static" --product afsearch)
binary="$root/.build-static/release/afsearch"

rm -rf "$bundle" "$dist/gpu-check.tar.xz"
mkdir -p "$bundle/bin" "$bundle/lib" "$bundle/icd" "$bundle/data/mnist-5k" "$bundle/data/sklearn"
cp "$binary" "$bundle/bin/afsearch"
strip "$bundle/bin/afsearch" 2>/dev/null || true

# Shared libraries beyond the C/C++ runtime that every Linux has.
missing=0
while read -r name path; do
  case "$name" in
    libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|ld-linux*|libgcc_s.so*|libstdc++.so*|linux-vdso*) ;;
    libswift*|libFoundation*|lib_Foundation*|libdispatch*|libBlocksRuntime*)
      echo "gpu-check: error: $name is linked dynamically; the static Swift standard library did not apply" >&2; missing=1 ;;
    *) cp -L "$path" "$bundle/lib/" ;;
  esac
done < <(ldd "$binary" | awk '/=>/ { print $1, $3 }')
[ $missing = 0 ] || exit 1

printf 'libnvidia-opencl.so.1\n' > "$bundle/icd/nvidia.icd"
printf 'libamdocl64.so\n' > "$bundle/icd/amdocl64.icd"

for f in mnist-5k/mnist_5k.csv.gz sklearn/digits.csv.gz; do
  [ -f "$data_root/$f" ] || { echo "gpu-check: $data_root/$f is missing; run 'make data' first" >&2; exit 1; }
  cp "$data_root/$f" "$bundle/data/$f"
done
cp "$root/scripts/gpu-check/run.sh" "$bundle/run.sh"
chmod +x "$bundle/run.sh" "$bundle/bin/afsearch"
cat > "$bundle/README.txt" <<EOF
afsearch device check, built $(date -u +%Y-%m-%dT%H:%MZ) from commit $(git -C "$root" rev-parse --short=12 HEAD 2>/dev/null || echo unknown).
Run: ./run.sh [--out DIR] [--device N|NAME] [--budget SECONDS]   (./run.sh --help)
It writes gpu-check.json and gpu-check.md into DIR (default ./results-<UTC time>).
EOF

echo "gpu-check: packing $dist/gpu-check.tar.xz"
tar -C "$dist" -cf - gpu-check | xz -T0 -6 > "$dist/gpu-check.tar.xz"
echo "gpu-check: $(du -sh "$bundle" | cut -f1) in $bundle, $(du -sh "$dist/gpu-check.tar.xz" | cut -f1) packed"
