#!/usr/bin/env bash
# Everything a lent GPU machine is asked in one call (its minutes are few): the CUDA tests, the speed
# table, and the CPU default's cross-validations on the GPU with one and with four fold processes.
# Run from the repository root with the machine's own python3 (torch with CUDA); fer3d need not be
# installed (PYTHONPATH). Results land in benchmarks/results/ and, where $OUT is set, are copied there.
# Each stage has its own time limit, so a slow stage cannot take the later ones with it.
set -u
export PYTHONPATH="$PWD/src:$PWD" PYTHONUNBUFFERED=1
OUT="${OUT:-/tmp/gpu_session}"
mkdir -p "$OUT"
log="$OUT/gpu_session.log"
stage() {  # stage <seconds> <command...>
    local limit=$1; shift
    echo "=== $(date +%T) $* (limit ${limit}s)" | tee -a "$log"
    timeout "$limit" "$@" >>"$log" 2>&1
    echo "=== exit $?" | tee -a "$log"
}
nvidia-smi --query-gpu=name,memory.total,clocks.sm,clocks.max.sm,driver_version --format=csv | tee -a "$log"
python3 -c "import torch; print(torch.__version__, torch.cuda.get_device_name(0), 'cudnn', torch.backends.cudnn.version())" | tee -a "$log"
stage 60 python3 -m pytest -q -s -p no:cacheprovider tests/training/test_cuda.py
# the data time (the cross-validations) before the speed table: it is the open question
stage 130 python3 -m benchmarks.bench_training --cv-only --device cuda --precision bf16 --workers 1
stage 80 python3 -m benchmarks.bench_training --cv-only --device cuda --precision bf16 --workers 4
cp benchmarks/results/cv_*cuda*.json "$OUT"/ 2>/dev/null
stage "${SPEED_SECONDS:-300}" python3 -m benchmarks.bench_training --device cuda --quick --skip-cv --seconds 4
cp benchmarks/results/training_cuda.json benchmarks/results/cv_*cuda*.json "$OUT"/ 2>/dev/null
grep -v "it/s\]\|fold/s\]\|s/fold\]" "$log" | tail -60
