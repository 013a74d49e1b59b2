#!/usr/bin/env bash
# The CUDA measurements on one NVIDIA H200, for a 15-minute device lease: the full kernel grid
# (bf16, with fp32 probes), the measured spec, and the model replays of validation/measure/data_runs.py.
# About 4 minutes of work; nothing new starts after BUDGET_S (480 s); killed at 570 s.
#
#   OUT=/some/folder bash validation/run_h200.sh        # from any directory
#
# Leaves in $OUT: <device>/kernels-full.csv and .json, <device>/<device>-measured.yaml,
# replays.tgz (the replay-*.csv/.json files), bench.log and nvidia-smi.txt: six files, inside
# the device tool's eight. Unpack replays.tgz into the same <device>/ folder, and copy that
# folder to validation/data/ to commit it. Only torch, numpy, pandas, pyyaml, tqdm and
# transformers are needed (the machine's own python3).
set -euo pipefail
: "${OUT:?set OUT to the folder the results go to}"
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
BUDGET_S="${BUDGET_S:-480}"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1

nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1 || true
status=0
timeout --kill-after=20 570 "$PY" -c "
import sys
from validation.measure.data_runs import run_all
sys.exit(1 if run_all('cuda', sys.argv[1], float(sys.argv[2]), None, None) else 0)
" "$OUT" "$BUDGET_S" 2>&1 | tee "$OUT/bench.log" || status=$?
(cd "$OUT" && ls -d ./*/replay-* >/dev/null 2>&1 && tar czf replays.tgz ./*/replay-* \
    && rm -f ./*/replay-*) || true
exit "$status"
