#!/usr/bin/env bash
# Every test, on a fresh machine: install (apt, Maven, npm ci), start the native stack (twice: the
# second must be a no-op), lint, typecheck, unit and integration tests; then stop the stack and
# check that nothing is left listening, whatever the tests did.
set -euo pipefail
cd "$(dirname "$0")/.."

stop_stack() {
  local status=$?
  bash deploy/local/stack.sh down || status=1
  bash scripts/check-stack-down.sh || status=1
  exit $status
}

npm ci --no-audit --no-fund
bash scripts/install-test-deps.sh
bash scripts/python-venv.sh   # scikit-learn, skl2onnx: fixtures for the ONNX tests
trap stop_stack EXIT
bash deploy/local/stack.sh up
bash deploy/local/stack.sh up
set -a; . .cache/stack/stack.env; set +a
npm run lint
npm run typecheck
npx vitest run --project unit
npx vitest run --project integration
