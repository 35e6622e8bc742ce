#!/usr/bin/env bash
# The one-shot device check, run inside the folder `make gpu-check` builds (dist/gpu-check/): it needs nothing
# but bash, coreutils and an OpenCL driver (NVIDIA, AMD, or PoCL), no network, no Swift, no Python.
#
#   ./run.sh [--out DIR] [--device N|NAME] [--budget SECONDS]
#
# Runs, one after another, each under a time limit: devices, selftest, bench gemm, bench gemm --tune for the
# MLP and for the CNN (the trainers' GEMM variants; each winner is cached for the steps after it), bench train at P = 256,
# 1024 and 4096, the CNN bench, an evolve of population 1024 (GPU) for 3 generations, and bench alacarte (full
# batch and mini-batches of 128)
# (no PyTorch peer on a bare machine). On a CPU device (PoCL) the same steps run at smaller sizes, so the
# whole check stays within 8 minutes there too; each step's line in the results says what it ran.
# Writes DIR/gpu-check.json (every step: command, exit status, seconds, output) and DIR/gpu-check.md
# (the same for people), DIR defaulting to ./results-<UTC time>. A failing step is recorded and the check
# goes on; the exit status is the number of failed steps (0: all passed).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/results-$(date -u +%Y%m%dT%H%M%SZ)"
device="${AFSEARCH_DEVICE:-}"
budget=480
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift ;;
    --device) device="$2"; shift ;;
    --budget) budget="$2"; shift ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu-check: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$out" || exit 2
[ -n "$device" ] && export AFSEARCH_DEVICE="$device"

# Libraries shipped beside the binary (the OpenCL ICD loader, zlib, SQLite) come first.
export LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# The ICD loader finds drivers through /etc/OpenCL/vendors. Containers often have the driver library but
# not its .icd file: then use the templates whose library the dynamic linker can find.
if [ -z "${OCL_ICD_VENDORS:-}" ] && ! ls /etc/OpenCL/vendors/*.icd >/dev/null 2>&1; then
  vendors="$out/icd"; mkdir -p "$vendors"
  for icd in "$here"/icd/*.icd; do
    lib="$(cat "$icd")"
    if ldconfig -p 2>/dev/null | grep -q "$lib" || ls /usr/lib*/"$lib" /usr/lib/*/"$lib" >/dev/null 2>&1; then
      cp "$icd" "$vendors/"
    fi
  done
  export OCL_ICD_VENDORS="$vendors"
  echo "gpu-check: no /etc/OpenCL/vendors; using $(ls "$vendors" | tr '\n' ' ')"
fi
export AFSEARCH_CACHE="$out/cache" AFSEARCH_RUNS="$out/runs" AFSEARCH_DATA="$here/data"
afsearch="$here/bin/afsearch"

json_string() { # stdin → a JSON string literal
  printf '"'
  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/\t/\\t/g' -e 's/\r//g' | tr -d '\000-\010\013\014\016-\037' | awk 'NR > 1 { printf "\\n" } { printf "%s", $0 }'
  printf '"'
}

started=$(date +%s)
failed=0
first=1
json="$out/gpu-check.json"
md="$out/steps.md.part"
printf '{\n  "started": "%s",\n  "steps": [\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$json"
: > "$md"

# step NAME LIMIT_SECONDS [--json] ARGS...: runs `afsearch ARGS`, records it in both files.
step() {
  local name="$1" limit="$2"; shift 2
  local is_json=0
  if [ "$1" = "--json" ]; then is_json=1; shift; fi
  local left=$(( budget - ($(date +%s) - started) ))
  if [ "$left" -lt 10 ]; then
    echo "gpu-check: $name skipped: the ${budget} s budget is spent"
    record "$name" "skipped" 0 "afsearch $*" "the ${budget} s budget was spent before this step" 0
    return
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  echo "gpu-check: $name (≤ ${limit} s): afsearch $*"
  local t0 t1 status
  t0=$(date +%s.%N)
  timeout --kill-after=10 "$limit" "$afsearch" "$@" > "$out/$name.out" 2> "$out/$name.err"
  status=$?
  t1=$(date +%s.%N)
  local seconds; seconds=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
  [ $status -ne 0 ] && failed=$((failed + 1))
  local body
  if [ $is_json = 1 ] && [ $status -eq 0 ] && [ -s "$out/$name.out" ]; then body="$(cat "$out/$name.out")"; else
    body="$(cat "$out/$name.out" "$out/$name.err" | json_string)"; is_json=0; fi
  record "$name" "$status" "$seconds" "afsearch $*" "$body" "$is_json"
  echo "gpu-check: $name: exit $status in ${seconds} s"
}

record() { # name status seconds command body body-is-json
  [ $first = 1 ] || printf ',\n' >> "$json"
  first=0
  printf '    {"name": "%s", "status": "%s", "seconds": %s, "command": %s, "output": %s}' \
    "$1" "$2" "$3" "$(printf '%s' "$4" | json_string)" "$([ "$6" = 1 ] && printf '%s' "$5" || printf '%s' "$5" | json_string)" >> "$json"
  {
    echo "## $1"
    echo
    echo "\`$4\` — exit $2, $3 s"
    echo
    echo '```'
    if [ -f "$out/$1.out" ]; then cat "$out/$1.out" "$out/$1.err" 2>/dev/null | head -c 20000; else printf '%s\n' "$5"; fi
    echo '```'
    echo
  } >> "$md"
}

step devices 30 --json devices --json
# A GPU gets the issue's sizes; a CPU device (PoCL) smaller ones, so the check ends within its budget.
# afsearch picks the first GPU when no device is named; GPU_CHECK_SIZES=gpu|cpu overrides the guess.
sizes="${GPU_CHECK_SIZES:-}"
if [ -z "$sizes" ]; then
  if [ -z "$device" ] && grep -q '"kind" *: *"gpu"' "$out/devices.out" 2>/dev/null; then sizes=gpu; else sizes=cpu; fi
fi
if [ "$sizes" = gpu ]; then
  gpu=1; train_epochs=50; gemm_flags=(); tune_flags=(--tune-population 1024 --tune-epochs 2); cnn_tune_flags=(--tune-population 64 --tune-epochs 1); cnn_population=256; evolve_population=1024; evolve_rows=4000; alacarte_population=1024; alacarte_trials=2048
else
  gpu=0; train_epochs=2; gemm_flags=(--quick); tune_flags=(--tune-budget 3 --tune-population 16 --tune-samples 200 --tune-epochs 1); cnn_tune_flags=(--tune-budget 2 --tune-population 2 --tune-samples 128 --tune-epochs 1); cnn_population=8; evolve_population=16; evolve_rows=1000; alacarte_population=64; alacarte_trials=128
fi
echo "gpu-check: $([ $gpu = 1 ] && echo 'GPU sizes' || echo 'no GPU device: CPU sizes')"

step selftest 60 selftest
step gemm 120 --json bench gemm --json "${gemm_flags[@]}"
# The trainer's GEMM variants on study 1's workload; the winner goes into the tuning cache, so the train
# steps below run the tuned GEMMs.
step gemm-tune 150 --json bench gemm --tune --json "${tune_flags[@]}"
step gemm-tune-cnn 150 --json bench gemm --tune --tune-network cnn --json "${cnn_tune_flags[@]}"
for p in 256 1024 4096; do
  step "train-p$p" 120 --json bench train --json --peak none --population "$p" --epochs "$train_epochs"
done
step cnn 120 --json bench train --json --peak none --arch cnn --population "$cnn_population" --images 1024 --batch 128
step evolve 180 --json evolve --json --quiet --dataset mnist-5k --population "$evolve_population" --generations 3 \
  --train-rows "$evolve_rows" --validation-rows 500 --test-rows 1000 --final-epochs 3 --study gpu-check-evolve
step alacarte 120 --json bench alacarte --json --datasets sklearn/digits --trials "$alacarte_trials" \
  --population "$alacarte_population" --peer-trials 0
step alacarte-batch 120 --json bench alacarte --json --datasets sklearn/digits --batch 128 --trials "$alacarte_trials" \
  --population "$alacarte_population" --peer-trials 0

printf '\n  ],\n  "gpu": %s,\n  "failed": %s,\n  "seconds": %s\n}\n' "$gpu" "$failed" "$(( $(date +%s) - started ))" >> "$json"

# The summary: numbers picked from the steps' JSON (compact or pretty-printed) with grep, no jq or Python.
field() { # file key → the first number stored under "key"
  grep -o "\"$2\" *: *[-0-9.eE+]*" "$out/$1.out" 2>/dev/null | head -1 | sed 's/.*: *//'
}
ratio() { awk -v a="$1" -v b="$2" -v s="${3:-1}" 'BEGIN { if (a == "" || b == "" || b == 0) print "–"; else printf "%.3g", s * a / b }'; }
fmt() { awk -v a="$1" 'BEGIN { if (a == "") print "–"; else printf "%.4g", a }'; }
peak=$(field gemm peakGFLOPs)
# The measured FMA peak: the "gflops" inside bench gemm's "fmaPeak" object.
fma=$(grep -o '"fmaPeak" *: *{[^}]*}' "$out/gemm.out" 2>/dev/null | grep -o '"gflops" *: *[-0-9.eE+]*' | head -1 | sed 's/.*: *//')
name=$(grep -o '"name" *: *"[^"]*"' "$out/devices.out" 2>/dev/null | head -1 | sed 's/.*: *"//; s/"$//')
# The vendor's FP32 peak (GFLOP/s, boost clock, non-tensor) for the GPUs this check expects; else unknown.
case "$name" in
  *H200*) vendor=67000 ;; *H100*PCIe*) vendor=51200 ;; *H100*) vendor=67000 ;; *A100*) vendor=19500 ;;
  *L40S*) vendor=91600 ;; *MI300X*) vendor=163400 ;; *) vendor="" ;;
esac
{
  echo "# afsearch device check"
  echo
  echo "Started $(date -u -d "@$started" +%Y-%m-%dT%H:%M:%SZ) on $(hostname), $(nproc) CPU cores; afsearch $("$afsearch" --version 2>/dev/null); device ${name:-unknown}."
  echo "Sizes: $([ $gpu = 1 ] && echo 'GPU' || echo 'CPU (no GPU device found; the steps run smaller)'). Finished in $(( $(date +%s) - started )) s; $failed step(s) failed."
  echo
  echo "| step | result | GFLOP/s | share of measured GEMM peak | share of vendor FP32 peak |"
  echo "|---|---|---:|---:|---:|"
  echo "| bench gemm | the plain batched GEMM's best tile | $(fmt "$peak") | 1 | $(ratio "$peak" "$vendor") |"
  echo "| bench gemm (FMA peak) | independent fma chains, the arithmetic ceiling measured | $(fmt "$fma") | $(ratio "$fma" "$peak") | $(ratio "$fma" "$vendor") |"
  g=$(field gemm-tune winnerGFLOPs)
  echo "| bench gemm --tune | the trainer's three GEMMs at the tuned variant, P=$(field gemm-tune population) | $(fmt "$g") | $(ratio "$g" "$peak") | $(ratio "$g" "$vendor") |"
  g=$(field gemm-tune-cnn winnerGFLOPs)
  echo "| bench gemm --tune --tune-network cnn | the CNN's convolutions and Linear layers at the tuned variant, P=$(field gemm-tune-cnn population) | $(fmt "$g") | $(ratio "$g" "$peak") | $(ratio "$g" "$vendor") |"
  for p in 256 1024 4096; do
    g=$(field "train-p$p" gflops)
    echo "| bench train P=$p | $(fmt "$(field "train-p$p" candidateEpochsPerSecond)") candidate-epochs/s | $(fmt "$g") | $(ratio "$g" "$peak") | $(ratio "$g" "$vendor") |"
  done
  g=$(field cnn gflops)
  echo "| CNN bench | $(fmt "$(field cnn candidateImagesPerSecond)") candidate-images/s | $(fmt "$g") | $(ratio "$g" "$peak") | $(ratio "$g" "$vendor") |"
  echo "| evolve | final test accuracy $(fmt "$(field evolve testAccuracy)"), $(grep -o '"name": "evolve", "status": "[^"]*", "seconds": [0-9.]*' "$json" | sed 's/.*: //') s | | | |"
  echo "| bench alacarte (digits) | $(field alacarte trials) trials in $(fmt "$(field alacarte wallSeconds)") s, slot utilisation $(ratio "$(field alacarte candidateEpochs)" "$(field alacarte slotEpochs)") | | | |"
  echo "| bench alacarte (digits, --batch 128) | $(field alacarte-batch trials) trials in $(fmt "$(field alacarte-batch wallSeconds)") s, slot utilisation $(ratio "$(field alacarte-batch candidateEpochs)" "$(field alacarte-batch slotEpochs)") | | | |"
  echo
  if [ -n "$vendor" ]; then echo "Vendor FP32 peak (non-tensor, boost clock): $vendor GFLOP/s."; else echo "Vendor FP32 peak: not known to this script for this device."; fi
  echo
  cat "$md"
} > "$out/gpu-check.md"
rm -f "$md"
rm -rf "$out/cache" "$out/runs"
echo "gpu-check: $failed failed step(s); results in $out/gpu-check.json and $out/gpu-check.md"
exit "$failed"
