#!/usr/bin/env bash
# Fails when anything still listens on the native stack's ports or a stack process is left.
set -uo pipefail
ports="${STACK_KAFKA_PORT:-19092} ${STACK_KAFKA_CONTROLLER_PORT:-19093} ${STACK_PG_PORT:-15432} ${STACK_REDIS_PORT:-16379} ${STACK_REGISTRY_PORT:-18081}"
left=0
for port in $ports; do
  if ss -ltnH "sport = :$port" | grep -q .; then
    echo "still listening on port $port:"; ss -ltnpH "sport = :$port"; left=1
  fi
done
if pgrep -f "$(pwd)/.cache/stack" >/dev/null; then
  echo "stack processes left:"; pgrep -af "$(pwd)/.cache/stack"; left=1
fi
[ $left -eq 0 ] && echo "stack down: nothing listening on $ports"
exit $left
