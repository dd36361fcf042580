#!/usr/bin/env bash
# The demo behind `make demo`: synthetic data -> clip cache -> short architecture search -> subject
# 10-fold cross-validation of the paper's Oulu-CASIA preset -> report. Everything lands in demo-output/.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${DEMO_OUT:-demo-output}
FER3D=.venv/bin/fer3d
mkdir -p "$OUT"
start=$(date +%s)

cache_of() { tail -n 1 | sed 's/^cache: //'; }

echo "== 1/5 synthetic expressive-face sequences (CK+ layout)"
[ -d "$OUT/data" ] || $FER3D synth "$OUT/data" --subjects 16 --seed 0 --difficulty 0.3
[ -d "$OUT/search-data" ] || $FER3D synth "$OUT/search-data" --subjects 6 --seed 1 --difficulty 0.3 --emotions 6

echo "== 2/5 prepare the clip caches (last 10 frames, 40x40 as the CPU profile, raw + CLAHE)"
CACHE=$($FER3D prepare "$OUT/data" --format ckplus --faces none --size 40 -o "$OUT/cache" | tee /dev/stderr | cache_of)
SEARCH_CACHE=$($FER3D prepare "$OUT/search-data" --format ckplus --faces none --size 32 -o "$OUT/cache" | cache_of)

echo "== 3/5 a short architecture search (Optuna TPE, LOSO on 6 subjects, tiny model)"
$FER3D search "$SEARCH_CACHE" --study demo --n-trials 4 --protocol loso --profile tiny --threshold 0 \
  --seed 0 -o "$OUT/search"
$FER3D best demo -o "$OUT/search" --output "$OUT/search/best.json"

echo "== 4/5 subject 10-fold cross-validation of the paper's Oulu-CASIA preset (CPU profile)"
$FER3D evaluate "$CACHE" --preset oulu-paper --profile cpu --protocol kfold --k 10 -o "$OUT/evaluate"

echo "== 5/5 report"
$FER3D report "$OUT/search" "$OUT/evaluate" -o "$OUT/report"
echo "demo finished in $(( $(date +%s) - start )) s; report: $OUT/report/report.html"
