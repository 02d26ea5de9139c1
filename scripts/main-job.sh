#!/usr/bin/env bash
# Vigil's main job, on a fresh machine: install what is missing, start the stack and the five
# services, replay the real OpenSSH sample through syslog TCP, and print the alerts as they arrive.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
bash deploy/local/stack.sh up
exec node --import tsx scripts/main-job.ts
