#!/usr/bin/env bash
# Reruns the published findings (results/) from scratch: study 1's à la carte experiment on the smallest
# datasets of the paper1 suite, study 2's five-method evolution experiment with the FCN on Fashion-MNIST and
# MNIST-5k, and one reduced CNN run per method. `make findings` calls it.
#
#   scripts/findings.sh [--quick] [--results DIR] [--runs DIR] [STEP...]
#
# STEP: study1-baselines, study1, study2-fcn, study2-cnn (default: all four, in that order). study1-baselines
# trains study 1's two fixed networks without early stopping (300 epochs), to show what the rule costs them.
# --quick    tiny sizes (a smoke test of the pipeline, minutes on a laptop; its numbers mean nothing); it writes
#            to a temporary folder unless --results is given.
# --results  where the published folders go (default: results/ of the repository; quick: a temporary folder).
# --runs     where the experiments' stores live (default: runs/ of the repository; quick: inside --results).
#
# Resumable: every step is an experiment with a fixed name under --runs; running the script again after a kill
# keeps every finished cell and continues. Each step appends its wall time to <run folder>/wall-times.tsv and
# the published README.md of the step sums them.
#
# Environment: AFSEARCH (the binary; default .build/release/afsearch, built when missing), AFSEARCH_DEVICE,
# AFSEARCH_DATA (see `make data`), FINDINGS_ALACARTE_DATA / FINDINGS_EVOLUTION_DATA (comma-separated datasets
# that replace the steps' own, e.g. a CSV file for the smoke test), FINDINGS_SUITE_LIMIT (study 1: the first N
# datasets of paper1; default 10).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

quick=0
results=""
runs=""
steps=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --results) results="$2"; shift ;;
    --runs) runs="$2"; shift ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    study1|study1-baselines|study2-fcn|study2-cnn) steps+=("$1") ;;
    *) echo "findings: error: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ ${#steps[@]} -gt 0 ] || steps=(study1-baselines study1 study2-fcn study2-cnn)
if [ -z "$results" ]; then
  if [ $quick = 1 ]; then results="$(mktemp -d "${TMPDIR:-/tmp}/afsearch-findings-quick.XXXXXX")"; else results="$root/results"; fi
fi
if [ -z "$runs" ]; then
  if [ $quick = 1 ]; then runs="$results/runs"; else runs="$root/runs"; fi
fi
mkdir -p "$results" "$runs"

afsearch="${AFSEARCH:-$root/.build/release/afsearch}"
if [ ! -x "$afsearch" ]; then
  echo "findings: building $afsearch (swift build -c release)"
  (cd "$root" && swift build -c release)
fi

commit="$(git -C "$root" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
if [ "$commit" != unknown ] && ! git -C "$root" diff --quiet HEAD -- Sources Package.swift 2>/dev/null; then
  commit="$commit (with uncommitted changes in Sources/)"
fi
# The device the experiments train on: the one `afsearch devices` marks as default (or AFSEARCH_DEVICE's).
device="$("$afsearch" devices --json | python3 -c '
import json, os, sys
d = json.load(sys.stdin)
devs = d["devices"]
want = os.environ.get("AFSEARCH_DEVICE") or ""
pick = None
if want.isdigit() and int(want) < len(devs):
    pick = devs[int(want)]
elif want:
    pick = next((x for x in devs if want.lower() in x["name"].lower()), None)
pick = pick or devs[d["defaultIndex"]]
print("%s (%s, %d compute units, %s, driver %s)" % (pick["name"], pick["kind"], pick["computeUnits"],
                                                   pick["deviceVersion"], pick["driverVersion"]))
' 2>/dev/null || echo unknown)"
cpu="$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)"

# run_step NAME RUN_FOLDER FILES... -- COMMAND...: runs COMMAND (resumable), then publishes FILES of the run
# folder into $results/NAME with a README.md that holds the command, commit, device and wall time.
run_step() {
  local name="$1" folder="$2"; shift 2
  local files=()
  while [ "$1" != "--" ]; do files+=("$1"); shift; done
  shift
  local started ended
  echo "findings: $name: $*"
  started=$(date +%s)
  "$afsearch" "$@"
  ended=$(date +%s)
  mkdir -p "$folder"
  printf '%s\t%s\t%s\n' "$(date -u +%Y-%m-%dT%H:%MZ)" "$((ended - started))" "$commit" >> "$folder/wall-times.tsv"
  local out="$results/$name"
  mkdir -p "$out"
  for f in "${files[@]}"; do cp "$folder/$f" "$out/$f"; done
  local total invocations
  total=$(awk -F'\t' '{s += $2} END {print s}' "$folder/wall-times.tsv")
  invocations=$(wc -l < "$folder/wall-times.tsv")
  {
    echo "# $name"
    echo
    echo "- command: \`afsearch $*\`"
    echo "- afsearch commit: $commit"
    echo "- device: $device; CPU: ${cpu:-unknown}, $(nproc) cores"
    echo "- wall time: ${total} s over ${invocations} invocation(s) of the command (resumed runs add up), finished $(date -u +%Y-%m-%d)"
    echo "- regenerate: \`scripts/findings.sh $([ $quick = 1 ] && echo '--quick ')$name\` (resumes from runs/)"
    echo
    echo "Files: $(printf '%s, ' "${files[@]}" | sed 's/, $//')."
    echo
    for f in "${files[@]}"; do
      case "$f" in
        *.md) echo "## $f"; echo; cat "$folder/$f"; echo ;;
      esac
    done
  } > "$out/README.md"
  echo "findings: $name published in $out (${total} s)"
}

for step in "${steps[@]}"; do
  case "$step" in
    study1)
      name=study1-alacarte
      if [ $quick = 1 ]; then
        sizes=(--datasets "${FINDINGS_ALACARTE_DATA:-keel/iris}" --depth 3 --replicates 2 --trials 4 --population 4 --epochs 5)
      else
        data=()
        if [ -n "${FINDINGS_ALACARTE_DATA:-}" ]; then data=(--datasets "$FINDINGS_ALACARTE_DATA"); else
          data=(--suite paper1 --suite-limit "${FINDINGS_SUITE_LIMIT:-10}"); fi
        sizes=("${data[@]}" --depth 5,10 --replicates 8 --trials 128 --population 64 --epochs 300)
      fi
      run_step "$name" "$runs/$name" table.md table.csv table.tex functions.md functions.csv report.html -- \
        experiment alacarte "${sizes[@]}" --patience 10 --objective validation --runs "$runs" --study "$name" --quiet
      ;;
    study1-baselines)
      name=study1-baselines
      if [ $quick = 1 ]; then
        sizes=(--datasets "${FINDINGS_ALACARTE_DATA:-keel/iris}" --depth 3 --replicates 2 --epochs 5)
      else
        data=()
        if [ -n "${FINDINGS_ALACARTE_DATA:-}" ]; then data=(--datasets "$FINDINGS_ALACARTE_DATA"); else
          data=(--suite paper1 --suite-limit "${FINDINGS_SUITE_LIMIT:-10}"); fi
        sizes=("${data[@]}" --depth 5,10 --replicates 8 --epochs 300)
      fi
      run_step "$name" "$runs/$name" table.md table.csv -- \
        experiment alacarte "${sizes[@]}" --methods standard,standard-softmax --patience 0 --objective validation \
        --runs "$runs" --study "$name" --quiet
      ;;
    study2-fcn)
      name=study2-fcn
      if [ $quick = 1 ]; then
        sizes=(--datasets "${FINDINGS_EVOLUTION_DATA:-mnist-5k}" --replicates 2 --generations 1 --population 2
               --train-rows 60 --validation-rows 30 --test-rows 30 --final-epochs 2 --rounds 200)
      else
        sizes=(--datasets "${FINDINGS_EVOLUTION_DATA:-fashion-mnist,mnist-5k}" --replicates 5 --generations 10
               --population 4 --train-rows 3000 --validation-rows 1000 --test-rows 1000 --final-epochs 30)
      fi
      run_step "$name" "$runs/$name" experiment-evolution.md experiment-evolution.csv experiment-evolution.tex report.html -- \
        experiment evolution "${sizes[@]}" --budget equal --runs "$runs" --study "$name" --quiet
      ;;
    study2-cnn)
      name=study2-cnn
      if [ $quick = 1 ]; then
        sizes=(--replicates 1 --generations 1 --population 2 --train-rows 20 --validation-rows 10 --test-rows 20 --final-epochs 1)
      else
        sizes=(--replicates 1 --generations 3 --population 4 --train-rows 300 --validation-rows 200 --test-rows 500 --final-epochs 5)
      fi
      run_step "$name" "$runs/$name" experiment-evolution.md experiment-evolution.csv experiment-evolution.tex report.html -- \
        experiment evolution --arch cnn --datasets "${FINDINGS_EVOLUTION_DATA:-mnist-5k}" "${sizes[@]}" --budget equal \
        --runs "$runs" --study "$name" --quiet
      ;;
  esac
done
echo "findings: done; results in $results"
