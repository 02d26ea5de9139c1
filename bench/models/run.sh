#!/usr/bin/env bash
# The models benchmark in one command: prepares the labeled sets' feature matrices (the Zeek and
# honeynet sets through Vigil's featurizer, which needs Redis: REDIS_URL, else the local stack is
# started), runs every Vigil candidate (accuracy.ts) and the scikit-learn peers (sklearn_peers.py)
# on them, times scoring side by side (throughput.ts), times the TypeScript kernels beside onnxruntime
# on Vigil's own features (scoring-throughput.ts), prints the tables and writes
# bench/models/REPORT.md. Optional arguments name the sets to run (default: all).
#
#   bash bench/models/run.sh [dataset ...]
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

bash scripts/python-venv.sh
export BENCH_PYTHON="$root/.cache/venv/bin/python"

npx tsx bench/models/prepare.ts "$@"
npx tsx bench/models/accuracy.ts "$@"
"$BENCH_PYTHON" bench/models/sklearn_peers.py "$@"
npx tsx bench/models/throughput.ts "$@"
npx tsx bench/models/scoring-throughput.ts
npx tsx bench/models/report.ts
