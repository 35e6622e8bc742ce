#!/bin/bash
# Evolution timing (bench/README.md, "Evolution timing"): `afsearch evolve` at population 64 with compiled and
# with interpreted activations, each first with empty program caches (afsearch's and PoCL's), then again with
# the caches those runs filled. Needs `make data` (Fashion-MNIST).
#   AFSEARCH=.build/release/afsearch bash bench/evolution_timing.sh | tee bench/results/evolution-timing-$(date -u +%Y%m%dT%H%MZ).log
set -euo pipefail
B=$(realpath "${AFSEARCH:-.build/release/afsearch}")
W=${WORK:-$(mktemp -d)}
cd "$W"
for mode in interpreted compiled; do
  rm -rf "pc-$mode" "ac-$mode"; mkdir -p "pc-$mode" "ac-$mode"
  for cache in cold warm; do
    for cfg in "single-cgp|--method single --population 64 --generations 3 --final-epochs 1" \
               "single-tree|--method single --representation tree --population 64 --generations 2 --final-epochs 1" \
               "coevo|--population 64 --generations 3 --final-epochs 1"; do
      name=${cfg%%|*}; args=${cfg#*|}
      rm -rf runs
      echo "=== $mode $cache $name  $(uptime | sed 's/.*load/load/')"
      # shellcheck disable=SC2086
      env POCL_CACHE_DIR="$W/pc-$mode" AFSEARCH_CACHE="$W/ac-$mode" AFSEARCH_RUNS="$W/runs" "$B" evolve $args --activations "$mode" 2>&1 \
        | grep -E "^gen|time over" | sed 's/\[best.*\]//'
    done
  done
done
