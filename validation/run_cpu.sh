#!/usr/bin/env bash
# The CPU measurements that ship in validation/data/<cpu>/: the full kernel grid (fp32), the
# measured spec and the model replays of validation/measure/data_runs.py. About 10 minutes on 2 cores.
# Run it on an otherwise idle machine: the log warns when other work competed for the CPUs.
# A hwspecs device needs a TDP; where the OS cannot read it (a VM), give it:
#
#   TDP_W=... TDP_SOURCE="datasheet, table" bash validation/run_cpu.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
"$PY" -c "
import sys
from validation.measure.data_runs import run_all
out, tdp_w, src = sys.argv[1] or None, sys.argv[2], sys.argv[3]
sys.exit(1 if run_all('cpu', out, None, float(tdp_w) if tdp_w else None, src or None) else 0)
" "${1:-}" "${TDP_W:-}" "${TDP_SOURCE:-}"
