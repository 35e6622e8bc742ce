#!/usr/bin/env bash
# Scaling with devices, simulated on one multi-core CPU: a 512-trial à la carte study run by one worker pinned
# to one core, then by two workers pinned to a core each (taskset via `afsearch workers --pin-cores`,
# POCL_MAX_PTHREAD_COUNT=1 so that each PoCL device uses its one core). On real GPUs, list the devices instead:
#   afsearch workers --devices all -- alacarte … --storage postgresql://…
# Usage: bench/workers-scaling.sh [afsearch binary] [storage URL prefix]; prints one JSON object.
set -euo pipefail
afsearch=${1:-.build/release/afsearch}
storage=${2:-sqlite:}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$work/data.csv" <<'PY'
import random, sys
random.seed(1)
with open(sys.argv[1], "w") as f:
    f.write("a,b,c,d,label\n")
    for _ in range(300):
        k = random.randrange(3)
        f.write(",".join(f"{random.gauss(k, 1.0):.4f}" for _ in range(4)) + f",c{k}\n")
PY
run() {  # devices-list study-name
  local store="$storage"
  [[ "$store" == sqlite: ]] && store="sqlite:$work/$2/study.sqlite"
  local start end
  start=$(date +%s.%N)
  POCL_MAX_PTHREAD_COUNT=1 "$afsearch" workers --devices "$1" --pin-cores -- alacarte --dataset "$work/data.csv" \
    --trials 512 --population 4 --epochs 100 --patience 0 --depth 4 --study "$2" --storage "$store" --quiet \
    --runs "$work/runs" > "$work/$2.log" 2>&1
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}
# The first run compiles the menu's OpenCL program; warm the program cache so neither timed run pays it.
POCL_MAX_PTHREAD_COUNT=1 "$afsearch" alacarte --dataset "$work/data.csv" --trials 4 --population 4 --epochs 2 --depth 4 \
  --study warm --storage "sqlite:$work/warm/study.sqlite" --quiet --runs "$work/runs" > /dev/null 2>&1
# Alternating rounds (one, two, one, two, …): this machine's speed drifts, so each ratio is of neighbours.
rounds=${ROUNDS:-2}
results=""
for round in $(seq 1 "$rounds"); do
  one=$(run 0 "scaling-one-$round-$$")
  two=$(run 0,0 "scaling-two-$round-$$")
  results+="${results:+, }{\"oneWorkerSeconds\": $one, \"twoWorkersSeconds\": $two, \"speedup\": $(echo "scale=3; $one / $two" | bc)}"
done
printf '{"trials": 512, "cores": %s, "commit": "%s", "rounds": [%s]}\n' "$(nproc)" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "$results"
