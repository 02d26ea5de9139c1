#!/usr/bin/env bash
# Vigil's main job, on a fresh machine: install what is missing, start the stack and the five
# services, replay the real OpenSSH sample through syslog TCP, and print the alerts as they arrive.
set -euo pipefail
cd "$(dirname "$0")/.."
# npm packages and the stack (apt, Maven, then the servers) install side by side.
npm_log=.cache/npm-ci.log
mkdir -p .cache
npm_pid=
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund >"$npm_log" 2>&1 &
  npm_pid=$!
fi
bash deploy/local/stack.sh up
# where the stack listens, for main-job.ts (which would otherwise bring it up again)
set -a; . .cache/stack/stack.env; set +a
if [ -n "$npm_pid" ] && ! wait "$npm_pid"; then
  cat "$npm_log" >&2
  exit 1
fi
exec node --import tsx scripts/main-job.ts
