#!/usr/bin/env bash
# Vigil local dev/CI stack, started natively (no Docker):
#   Kafka 3.9 (KRaft, single node), PostgreSQL (Debian), Redis (Debian) and
#   Apicurio Registry (Confluent-compatible schema registry API).
#
#   bash deploy/local/stack.sh up [--no-registry]   install what is missing, start what is down, wait until ready
#   bash deploy/local/stack.sh down [--purge]       stop everything (--purge: also delete the data dirs)
#   bash deploy/local/stack.sh status               one line per service; exit 0 if all up, 3 otherwise
#   bash deploy/local/stack.sh env                  shell-sourceable connection settings
#
# All runtime state lives in <repo>/.cache/stack, Maven's local repo in <repo>/.cache/m2.
# Ports (env overrides): STACK_KAFKA_PORT=19092 STACK_KAFKA_CONTROLLER_PORT=19093
#   STACK_PG_PORT=15432 STACK_REDIS_PORT=16379 STACK_REGISTRY_PORT=18081
# Other knobs: STACK_SCHEMA_REGISTRY=0 (no registry), STACK_TIMEOUT=120 (seconds per service),
#   STACK_KAFKA_HEAP="-Xms256m -Xmx768m", STACK_REGISTRY_HEAP="-Xms64m -Xmx384m".
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO_ROOT=$(cd -- "$SCRIPT_DIR/../.." && pwd -P)
CACHE_DIR="$REPO_ROOT/.cache"
STACK_DIR="$CACHE_DIR/stack"
M2_DIR="$CACHE_DIR/m2"
ENV_FILE="$STACK_DIR/stack.env"
STATE_FILE="$STACK_DIR/state.env"

# Settings of the last `up` (ports, registry on/off) are the defaults for later commands,
# so `down`/`status`/`env` find the stack even when the overrides are no longer exported.
if [[ -f "$STATE_FILE" ]]; then
  while IFS='=' read -r _k _v; do
    [[ "$_k" =~ ^STACK_[A-Z_]+$ ]] || continue
    [[ -n "${!_k:-}" ]] || printf -v "$_k" '%s' "$_v"
  done <"$STATE_FILE"
  unset _k _v
fi

KAFKA_PORT=${STACK_KAFKA_PORT:-19092}
KAFKA_CONTROLLER_PORT=${STACK_KAFKA_CONTROLLER_PORT:-19093}
PG_PORT=${STACK_PG_PORT:-15432}
REDIS_PORT=${STACK_REDIS_PORT:-16379}
REGISTRY_PORT=${STACK_REGISTRY_PORT:-18081}
REGISTRY_ENABLED=${STACK_SCHEMA_REGISTRY:-1}
TIMEOUT=${STACK_TIMEOUT:-120}
KAFKA_HEAP=${STACK_KAFKA_HEAP:--Xms256m -Xmx768m}
REGISTRY_HEAP=${STACK_REGISTRY_HEAP:--Xms64m -Xmx384m}
HOST=127.0.0.1

KAFKA_DIR="$STACK_DIR/kafka"
KAFKA_LIBS="$KAFKA_DIR/libs"
KAFKA_PID="$KAFKA_DIR/kafka.pid"
KAFKA_OUT="$KAFKA_DIR/logs/kafka.out"
KAFKA_LOG="$KAFKA_DIR/logs/server.log"
PG_DIR="$STACK_DIR/pg"
PG_DATA="$PG_DIR/data"
PG_LOG="$PG_DIR/postgres.log"
REDIS_DIR="$STACK_DIR/redis"
REDIS_PID="$REDIS_DIR/redis.pid"
REDIS_LOG="$REDIS_DIR/redis.log"
REGISTRY_DIR="$STACK_DIR/registry"
REGISTRY_PID="$REGISTRY_DIR/registry.pid"
REGISTRY_LOG="$REGISTRY_DIR/registry.log"
REGISTRY_BASE="http://$HOST:$REGISTRY_PORT/apis/ccompat/v7"
# Marker on our JVMs' command lines: tells this checkout's processes from anything else.
MARKER="-Dvigil.stack.home=$STACK_DIR"

PG_USER=vigil PG_PASSWORD=vigil PG_DB=vigil

# ------------------------------------------------------------------------------ helpers
say()  { printf '[stack] %s\n' "$*"; }
warn() { printf '[stack] WARNING: %s\n' "$*" >&2; }
die()  { printf '[stack] ERROR: %s\n' "$*" >&2; exit 1; }

is_root() { [[ $(id -u) -eq 0 ]]; }
registry_on() { [[ "$REGISTRY_ENABLED" != 0 && "$REGISTRY_ENABLED" != false && "$REGISTRY_ENABLED" != no ]]; }

log_tail() { # file [lines]
  local f=$1 n=${2:-40}
  if [[ -s "$f" ]]; then
    printf -- '----- last %s lines of %s -----\n' "$n" "$f" >&2
    tail -n "$n" -- "$f" >&2 || true
    printf -- '-----\n' >&2
  else
    printf '(log %s is empty or missing)\n' "$f" >&2
  fi
}

pid_alive() { # running and not a zombie (waiting to be reaped by init)
  [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null || return 1
  local stat; stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ "${stat:0:1}" != Z ]]
}
cmdline() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || true; }
read_pid() { [[ -s "$1" ]] && tr -dc '0-9' <"$1" || true; }

port_listening() { # port
  if command -v ss >/dev/null 2>&1; then
    [[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]]
  else
    (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
  fi
}
port_owner() { # port -> "users:((...))" or empty
  command -v ss >/dev/null 2>&1 || return 0
  ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'users:.*' | head -n1 || true
}
need_free_port() { # port what
  if port_listening "$1"; then
    die "port $1 ($2) is already in use by something that is not this checkout's stack: $(port_owner "$1")"
  fi
}

# Wait until "$@" succeeds; fail early if the service's process dies.
wait_for() { # name pidfn logfile[|extra-log] timeout cmd...
  local name=$1 pidfn=$2 logf=${3%%|*} extra="" t=$4
  [[ "$3" == *"|"* ]] && extra=${3#*|}
  shift 4
  local end=$((SECONDS + t))
  while ! "$@" >/dev/null 2>&1; do
    if [[ -n "$pidfn" ]] && ! pid_alive "$($pidfn)"; then
      [[ -n "$extra" && -s "$extra" ]] && log_tail "$extra" 20
      log_tail "$logf"
      die "$name exited during startup (log: $logf)"
    fi
    if ((SECONDS >= end)); then
      [[ -n "$extra" && -s "$extra" ]] && log_tail "$extra" 20
      log_tail "$logf"
      die "$name did not become ready within ${t}s (log: $logf)"
    fi
    sleep 0.5
  done
}

stop_pid() { # pid name [timeout]: TERM, wait, KILL
  local pid=$1 name=$2 t=${3:-30} end
  pid_alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  end=$((SECONDS + t))
  while pid_alive "$pid" && ((SECONDS < end)); do sleep 0.3; done
  if pid_alive "$pid"; then
    warn "$name (pid $pid) did not stop within ${t}s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait_reaped "$pid"
}
wait_reaped() { # pid: our daemons are reparented to init; give it a moment to reap them
  local end=$((SECONDS + 5))
  while [[ -e "/proc/$1" ]] && ((SECONDS < end)); do sleep 0.1; done
}

# Our processes, found via /proc (used when pid files are stale/missing).
find_stray_pids() { # service
  local svc=$1 p exe
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    case $svc in
      kafka|registry)
        [[ "$(cmdline "$p")" == *"$MARKER -Dvigil.stack.service=$svc "* ]] && echo "$p" ;;
      postgres)
        exe=$(readlink "/proc/$p/exe" 2>/dev/null || true)
        [[ "$exe" == */postgres && "$(cmdline "$p")" == *"-D $PG_DATA"* ]] && echo "$p" ;;
      redis)
        # (Debian's redis-server binary is a symlink to redis-check-rdb: match the comm name)
        [[ "$(cat "/proc/$p/comm" 2>/dev/null)" == redis-server && "$(readlink "/proc/$p/cwd" 2>/dev/null)" == "$REDIS_DIR/data" ]] && echo "$p" ;;
    esac
  done 2>/dev/null || true
}

# Serialize up/down (e.g. parallel test workers each calling `up`). Daemons are started with
# fd 9 closed so they do not inherit the lock.
take_lock() {
  mkdir -p "$STACK_DIR"
  exec 9>>"$STACK_DIR/.lock"
  if ! flock -n 9; then
    say "waiting for another stack.sh $1 in this checkout to finish"
    flock -w 900 9 || die "timed out waiting for the lock $STACK_DIR/.lock"
  fi
}

# ------------------------------------------------------------------------------ installs
PG_BIN=""
find_pg_bin() {
  local d
  PG_BIN=""
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V); do
    [[ -x "$d/initdb" && -x "$d/pg_ctl" && -x "$d/postgres" ]] && PG_BIN=$d
  done
  [[ -n "$PG_BIN" ]]
}

apt_install() { # packages...
  is_root || die "missing packages ($*); install them (apt-get install $*) or run as root"
  command -v apt-get >/dev/null 2>&1 || die "missing packages ($*) and no apt-get here"
  local log="$STACK_DIR/apt.log" policy=/usr/sbin/policy-rc.d made_policy=0
  say "installing $* (apt-get, log: $log)"
  # Packages must not start their own system-wide services (port 5432/6379): deny
  # service starts for the duration of the install unless a policy already exists.
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  local rc=0
  (
    export DEBIAN_FRONTEND=noninteractive
    opts=(-y -qq -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold --no-install-recommends)
    if ! compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null; then
      apt-get update -qq
    fi
    apt-get install "${opts[@]}" "$@" || { apt-get update -qq && apt-get install "${opts[@]}" "$@"; }
  ) >>"$log" 2>&1 || rc=$?
  if ((made_policy)); then rm -f "$policy"; trap - EXIT; fi
  if ((rc != 0)); then log_tail "$log"; die "apt-get install $* failed"; fi
}

ensure_tools() {
  local pkgs=()
  command -v java >/dev/null 2>&1 || pkgs+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null 2>&1 || pkgs+=(maven)
  if registry_on && ! command -v curl >/dev/null 2>&1; then pkgs+=(curl); fi
  command -v ss >/dev/null 2>&1 || pkgs+=(iproute2)
  find_pg_bin || pkgs+=(postgresql)
  if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then pkgs+=(redis-server); fi
  ((${#pkgs[@]} == 0)) || apt_install "${pkgs[@]}"
  find_pg_bin || die "PostgreSQL binaries not found under /usr/lib/postgresql/*/bin"
  local jv
  jv=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)
  [[ "${jv:-0}" -ge 17 ]] || die "Java 17+ is required (found: $(java -version 2>&1 | head -n1))"
}

# Resolve the pinned jars from Maven Central into .cache (only when missing / pom changed).
ensure_jars() {
  local pom="$SCRIPT_DIR/pom.xml" stamp="$STACK_DIR/.jars.stamp" want have=""
  want=$(sha256sum "$pom" | cut -d' ' -f1)
  [[ -f "$stamp" ]] && have=$(cat "$stamp")
  if [[ "$want" == "$have" ]] && compgen -G "$KAFKA_LIBS/kafka_2.13-*.jar" >/dev/null &&
     { [[ -f "$REGISTRY_DIR/app/.extracted-from" ]] ||
       compgen -G "$REGISTRY_DIR/dist/apicurio-registry-app-*-all.tar.gz" >/dev/null; }; then
    return 0
  fi
  say "resolving jars from Maven Central (maven repo: $M2_DIR)"
  rm -rf "$KAFKA_LIBS" "$REGISTRY_DIR/dist"
  mkdir -p "$M2_DIR"
  if ! mvn -B -q -f "$pom" -Dstyle.color=never -Dmaven.repo.local="$M2_DIR" -Dstack.dir="$STACK_DIR" \
       dependency:copy-dependencies@kafka-libs dependency:copy@registry-dist >"$STACK_DIR/mvn.log" 2>&1; then
    log_tail "$STACK_DIR/mvn.log"
    die "maven could not resolve the stack's jars (log: $STACK_DIR/mvn.log)"
  fi
  echo "$want" >"$stamp"
}

# Unpack the registry distribution into registry/app (the archive is deleted afterwards;
# Maven's repo keeps a copy).
ensure_registry_app() {
  local tgz stamp="$REGISTRY_DIR/app/.extracted-from"
  tgz=$(compgen -G "$REGISTRY_DIR/dist/apicurio-registry-app-*-all.tar.gz" | head -n1 || true)
  if [[ -f "$stamp" ]] && compgen -G "$REGISTRY_DIR/app/*-runner.jar" >/dev/null &&
     { [[ -z "$tgz" ]] || [[ "$(cat "$stamp")" == "$(basename "$tgz")" ]]; }; then
    rm -rf "$REGISTRY_DIR/dist"
    return 0
  fi
  [[ -n "$tgz" ]] || die "Apicurio distribution missing in $REGISTRY_DIR/dist (delete $STACK_DIR/.jars.stamp and retry)"
  say "unpacking $(basename "$tgz")"
  rm -rf "$REGISTRY_DIR/app" && mkdir -p "$REGISTRY_DIR/app"
  tar -xzf "$tgz" -C "$REGISTRY_DIR/app"
  basename "$tgz" >"$stamp"
  rm -rf "$REGISTRY_DIR/dist"
}

render() { # template output KEY=VALUE...
  local tpl=$1 out=$2 expr=() kv; shift 2
  for kv in "$@"; do expr+=(-e "s#@@${kv%%=*}@@#${kv#*=}#g"); done
  sed "${expr[@]}" "$tpl" >"$out.tmp" && mv -f "$out.tmp" "$out"
}

# ------------------------------------------------------------------------------ kafka
kafka_pid() {
  local pid; pid=$(read_pid "$KAFKA_PID")
  if pid_alive "$pid" && [[ "$(cmdline "$pid")" == *"$MARKER -Dvigil.stack.service=kafka "* ]]; then echo "$pid"; fi
}
kafka_tool() { # class args... (CLI tools, warnings to stderr)
  java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dlog4j.configuration="file:$SCRIPT_DIR/kafka/tools-log4j.properties" -cp "$KAFKA_LIBS/*" "$@"
}
kafka_up() { [[ -n "$(kafka_pid)" ]] && port_listening "$KAFKA_PORT" && port_listening "$KAFKA_CONTROLLER_PORT"; }
kafka_start() {
  if [[ -n "$(kafka_pid)" ]]; then return 0; fi
  need_free_port "$KAFKA_PORT" "kafka"; need_free_port "$KAFKA_CONTROLLER_PORT" "kafka controller"
  mkdir -p "$KAFKA_DIR/data" "$KAFKA_DIR/logs"
  render "$SCRIPT_DIR/kafka/server.properties" "$KAFKA_DIR/server.properties" \
    KAFKA_PORT="$KAFKA_PORT" KAFKA_CONTROLLER_PORT="$KAFKA_CONTROLLER_PORT" KAFKA_DATA_DIR="$KAFKA_DIR/data"
  printf 'request.timeout.ms=3000\ndefault.api.timeout.ms=5000\n' >"$KAFKA_DIR/admin.properties"
  if [[ ! -f "$KAFKA_DIR/data/meta.properties" ]]; then
    local cid
    cid=-
    while [[ "$cid" == -* ]]; do # random base64url UUID; a leading '-' would look like an option
      cid=$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
    done
    say "kafka: formatting storage (cluster id $cid)"
    kafka_tool kafka.tools.StorageTool format -t "$cid" -c "$KAFKA_DIR/server.properties" \
      >"$KAFKA_DIR/logs/format.log" 2>&1 || { log_tail "$KAFKA_DIR/logs/format.log"; die "kafka storage format failed"; }
  fi
  say "kafka: starting"
  rm -f "$KAFKA_PID"
  # shellcheck disable=SC2086
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$KAFKA_PID" \
    java $KAFKA_HEAP "$MARKER" -Dvigil.stack.service=kafka \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$SCRIPT_DIR/kafka/log4j.properties" -Dkafka.logs.dir="$KAFKA_DIR/logs" \
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_DIR/server.properties" \
    >>"$KAFKA_OUT" 2>&1 </dev/null 9>&- &
  local end=$((SECONDS + 10))
  while [[ -z "$(read_pid "$KAFKA_PID")" ]] && ((SECONDS < end)); do sleep 0.1; done
}
kafka_metadata_ok() {
  kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$HOST:$KAFKA_PORT" \
    --command-config "$KAFKA_DIR/admin.properties" --list
}
kafka_wait() {
  # The broker loads every partition before it answers. Topics left by interrupted tests and
  # benchmarks (each run's own prefix, 12 partitions a topic) pile up: give it time for them, and say so.
  local partitions timeout=$TIMEOUT
  partitions=$(find "$KAFKA_DIR/data" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | wc -l)
  if ((partitions > 2000)); then
    timeout=$((TIMEOUT + partitions / 50))
    say "kafka: loading $partitions partitions (topics left by earlier test or benchmark runs), waiting up to ${timeout}s; 'stack.sh down --purge' starts empty"
  fi
  # Each partition keeps files open: near the open-files limit the broker takes its log directory
  # for failed and shuts down mid-run ("Too many open files" in its log; seen at 19,891 of 20,000).
  local open_files; open_files=$(ulimit -n)
  if [[ "$open_files" =~ ^[0-9]+$ ]] && ((partitions * 2 > open_files)); then
    say "kafka: WARNING $partitions partitions against an open-files limit of $open_files: the broker will stop with 'Too many open files' as they grow; 'stack.sh down --purge' starts empty"
  fi
  wait_for kafka kafka_pid "$KAFKA_LOG|$KAFKA_OUT" "$timeout" port_listening "$KAFKA_PORT"
  wait_for kafka kafka_pid "$KAFKA_LOG|$KAFKA_OUT" "$timeout" kafka_metadata_ok
}
kafka_stop() {
  local pid; pid=$(kafka_pid)
  [[ -n "$pid" ]] && { say "kafka: stopping (pid $pid)"; stop_pid "$pid" kafka 45; }
  for pid in $(find_stray_pids kafka); do say "kafka: stopping stray pid $pid"; stop_pid "$pid" kafka 30; done
  rm -f "$KAFKA_PID"
}

# ------------------------------------------------------------------------------ postgres
as_pg() { # run as the postgres OS user when we are root (postgres refuses to run as root)
  if is_root; then (cd "$PG_DIR" && runuser -u postgres -- "$@"); else (cd "$PG_DIR" && "$@"); fi
}
pg_pid() {
  local pid
  [[ -f "$PG_DATA/postmaster.pid" ]] || return 0
  pid=$(head -n1 "$PG_DATA/postmaster.pid" | tr -dc '0-9')
  if pid_alive "$pid" && [[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" == */postgres ]]; then echo "$pid"; fi
}
pg_up() { [[ -n "$(pg_pid)" ]] && port_listening "$PG_PORT"; }
pg_ready() { "$PG_BIN/pg_isready" -q -h "$HOST" -p "$PG_PORT" -t 2; }
pg_prepare_dirs() {
  mkdir -p "$PG_DIR"
  if is_root; then
    id postgres >/dev/null 2>&1 || die "OS user 'postgres' is missing (it comes with the postgresql package)"
    chown postgres:postgres "$PG_DIR"
    [[ -d "$PG_DATA" ]] && chown -R postgres:postgres "$PG_DATA"
    # postgres must be able to reach the data dir: every parent needs o+x (search only).
    local d=$PG_DIR
    while [[ "$d" != / ]]; do
      d=$(dirname "$d")
      if ! runuser -u postgres -- test -x "$d"; then
        say "postgres: granting search permission (o+x) on $d so the postgres user can reach $PG_DIR"
        chmod o+x "$d"
      fi
    done
    runuser -u postgres -- test -w "$PG_DIR" || die "postgres user cannot write to $PG_DIR"
  fi
}
pg_start() {
  if [[ -n "$(pg_pid)" ]]; then return 0; fi
  need_free_port "$PG_PORT" "postgres"
  pg_prepare_dirs
  if [[ ! -f "$PG_DATA/PG_VERSION" ]]; then
    say "postgres: initdb ($PG_BIN)"
    rm -rf "$PG_DATA"
    as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 --no-locale --auth-local=trust --auth-host=scram-sha-256 \
      >"$PG_DIR/initdb.log" 2>&1 || { log_tail "$PG_DIR/initdb.log"; die "initdb failed"; }
    echo "include 'vigil.conf'" | as_pg tee -a "$PG_DATA/postgresql.conf" >/dev/null
  fi
  render "$SCRIPT_DIR/postgres/postgresql.conf" "$PG_DIR/vigil.conf.new" PG_PORT="$PG_PORT"
  cat "$PG_DIR/vigil.conf.new" | as_pg tee "$PG_DATA/vigil.conf" >/dev/null
  cat "$SCRIPT_DIR/postgres/pg_hba.conf" | as_pg tee "$PG_DATA/pg_hba.conf" >/dev/null
  rm -f "$PG_DIR/vigil.conf.new"
  say "postgres: starting"
  as_pg touch "$PG_LOG"
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t "$TIMEOUT" -s start >>"$PG_DIR/pg_ctl.log" 2>&1 </dev/null 9>&- ||
    { log_tail "$PG_LOG"; log_tail "$PG_DIR/pg_ctl.log" 10; die "postgres failed to start (log: $PG_LOG)"; }
}
pg_bootstrap() { # idempotent: role vigil/vigil (superuser), database vigil
  "$PG_BIN/psql" -h "$HOST" -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAtX >>"$PG_DIR/bootstrap.log" 2>&1 <<SQL ||
SELECT format('CREATE ROLE %I LOGIN SUPERUSER', '$PG_USER') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_USER')\gexec
ALTER ROLE "$PG_USER" LOGIN SUPERUSER PASSWORD '$PG_PASSWORD';
SELECT format('CREATE DATABASE %I OWNER %I', '$PG_DB', '$PG_USER') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$PG_DB')\gexec
SQL
    { log_tail "$PG_DIR/bootstrap.log"; die "creating role/database '$PG_DB' failed"; }
}
pg_wait() {
  wait_for postgres pg_pid "$PG_LOG" "$TIMEOUT" pg_ready
  pg_bootstrap
}
pg_stop() {
  local pid; pid=$(pg_pid)
  if [[ -n "$pid" ]]; then
    say "postgres: stopping (pid $pid)"
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 -s stop >>"$PG_DIR/pg_ctl.log" 2>&1 || true
    # pg_ctl returns once postmaster.pid is gone; give the process a moment to exit.
    local end=$((SECONDS + 10))
    while pid_alive "$pid" && ((SECONDS < end)); do sleep 0.2; done
    if pid_alive "$pid"; then
      warn "postgres did not stop in time; killing its process group"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    wait_reaped "$pid"
  fi
  for pid in $(find_stray_pids postgres); do say "postgres: stopping stray pid $pid"; stop_pid "$pid" postgres 20; done
}

# ------------------------------------------------------------------------------ redis
redis_pid() {
  local pid; pid=$(read_pid "$REDIS_PID")
  if pid_alive "$pid" && [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == redis-server ]]; then echo "$pid"; fi
}
redis_up() { [[ -n "$(redis_pid)" ]] && port_listening "$REDIS_PORT"; }
redis_ping() { [[ "$(redis-cli -h "$HOST" -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]; }
redis_start() {
  if [[ -n "$(redis_pid)" ]]; then return 0; fi
  need_free_port "$REDIS_PORT" "redis"
  mkdir -p "$REDIS_DIR/data"
  rm -f "$REDIS_PID"
  render "$SCRIPT_DIR/redis/redis.conf" "$REDIS_DIR/redis.conf" REDIS_PORT="$REDIS_PORT" REDIS_DIR="$REDIS_DIR"
  say "redis: starting"
  redis-server "$REDIS_DIR/redis.conf" >>"$REDIS_DIR/redis.out" 2>&1 </dev/null 9>&- ||
    { log_tail "$REDIS_LOG"; log_tail "$REDIS_DIR/redis.out" 10; die "redis-server failed to start"; }
}
redis_wait() {
  local end=$((SECONDS + 10))
  while [[ -z "$(redis_pid)" ]] && ((SECONDS < end)); do sleep 0.1; done
  wait_for redis redis_pid "$REDIS_LOG" "$TIMEOUT" redis_ping
}
redis_stop() {
  local pid; pid=$(redis_pid)
  if [[ -n "$pid" ]]; then
    say "redis: stopping (pid $pid)"
    redis-cli -h "$HOST" -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    stop_pid "$pid" redis 15
  fi
  for pid in $(find_stray_pids redis); do say "redis: stopping stray pid $pid"; stop_pid "$pid" redis 15; done
  rm -f "$REDIS_PID"
}

# ------------------------------------------------------------------------------ schema registry (Apicurio)
registry_pid() {
  local pid; pid=$(read_pid "$REGISTRY_PID")
  if pid_alive "$pid" && [[ "$(cmdline "$pid")" == *"$MARKER -Dvigil.stack.service=registry "* ]]; then echo "$pid"; fi
}
registry_up() { [[ -n "$(registry_pid)" ]] && port_listening "$REGISTRY_PORT"; }
registry_ok() { curl -fsS -o /dev/null --max-time 3 "$REGISTRY_BASE/subjects"; }
registry_start() {
  if [[ -n "$(registry_pid)" ]]; then return 0; fi
  need_free_port "$REGISTRY_PORT" "schema registry"
  ensure_registry_app
  mkdir -p "$REGISTRY_DIR/config" "$REGISTRY_DIR/data" "$REGISTRY_DIR/tmp"
  cp -f "$SCRIPT_DIR/registry/application.properties" "$REGISTRY_DIR/config/application.properties"
  local jar; jar=$(compgen -G "$REGISTRY_DIR/app/*-runner.jar" | head -n1)
  say "registry: starting ($(basename "$jar"))"
  rm -f "$REGISTRY_PID"
  # Quarkus reads ./config/application.properties, so run from $REGISTRY_DIR.
  # (No subshell around this: it would wait for java while holding our stdout open.)
  # shellcheck disable=SC2086
  setsid bash -c 'echo $$ >"$0"; cd "$1" && shift && exec "$@"' "$REGISTRY_PID" "$REGISTRY_DIR" \
    java $REGISTRY_HEAP "$MARKER" -Dvigil.stack.service=registry \
    -XX:+UseSerialGC -Djava.io.tmpdir="$REGISTRY_DIR/tmp" \
    -Dquarkus.http.host="$HOST" -Dquarkus.http.port="$REGISTRY_PORT" \
    -Dapicurio.datasource.url="jdbc:h2:file:$REGISTRY_DIR/data/registry" \
    -Dapicurio.import.work-dir="$REGISTRY_DIR/tmp" -Dapicurio.storage.snapshot.location="$REGISTRY_DIR/tmp" \
    -jar "$jar" >>"$REGISTRY_LOG" 2>&1 </dev/null 9>&- &
  local end=$((SECONDS + 10))
  while [[ -z "$(read_pid "$REGISTRY_PID")" ]] && ((SECONDS < end)); do sleep 0.1; done
}
registry_wait() { wait_for "schema registry" registry_pid "$REGISTRY_LOG" "$TIMEOUT" registry_ok; }
registry_stop() {
  local pid; pid=$(registry_pid)
  [[ -n "$pid" ]] && { say "registry: stopping (pid $pid)"; stop_pid "$pid" registry 30; }
  for pid in $(find_stray_pids registry); do say "registry: stopping stray pid $pid"; stop_pid "$pid" registry 20; done
  rm -f "$REGISTRY_PID"
}

# ------------------------------------------------------------------------------ commands
env_lines() {
  echo "KAFKA_BROKERS=$HOST:$KAFKA_PORT"
  echo "PG_URL=postgres://$PG_USER:$PG_PASSWORD@$HOST:$PG_PORT/$PG_DB"
  echo "REDIS_URL=redis://$HOST:$REDIS_PORT"
  if registry_on; then echo "SCHEMA_REGISTRY_URL=$REGISTRY_BASE"; fi
}

cmd_up() {
  local t0=$SECONDS
  take_lock up
  if kafka_up && pg_up && redis_up && { ! registry_on || registry_up; }; then
    say "all services already up"
  else
    # Fail before starting anything if a port we need is taken by someone else.
    [[ -n "$(kafka_pid)" ]] || { need_free_port "$KAFKA_PORT" kafka; need_free_port "$KAFKA_CONTROLLER_PORT" "kafka controller"; }
    [[ -n "$(pg_pid)" ]] || need_free_port "$PG_PORT" postgres
    [[ -n "$(redis_pid)" ]] || need_free_port "$REDIS_PORT" redis
    if registry_on && [[ -z "$(registry_pid)" ]]; then need_free_port "$REGISTRY_PORT" "schema registry"; fi
    ensure_tools
    ensure_jars
    # JVMs first (slowest to boot), then postgres and redis while they warm up.
    local started_kafka=0 started_registry=0
    kafka_up || { kafka_start; started_kafka=1; }
    if registry_on && ! registry_up; then registry_start; started_registry=1; fi
    if ! pg_up; then pg_start; pg_wait; fi
    if ! redis_up; then redis_start; redis_wait; fi
    ((started_kafka)) && kafka_wait
    ((started_registry)) && registry_wait
    say "stack up in $((SECONDS - t0))s"
  fi
  {
    echo "STACK_KAFKA_PORT=$KAFKA_PORT"
    echo "STACK_KAFKA_CONTROLLER_PORT=$KAFKA_CONTROLLER_PORT"
    echo "STACK_PG_PORT=$PG_PORT"
    echo "STACK_REDIS_PORT=$REDIS_PORT"
    echo "STACK_REGISTRY_PORT=$REGISTRY_PORT"
    echo "STACK_SCHEMA_REGISTRY=$REGISTRY_ENABLED"
  } >"$STATE_FILE"
  env_lines >"$ENV_FILE.tmp" && mv -f "$ENV_FILE.tmp" "$ENV_FILE"
  say "kafka      $HOST:$KAFKA_PORT (controller $HOST:$KAFKA_CONTROLLER_PORT)"
  say "postgres   $HOST:$PG_PORT  db=$PG_DB user=$PG_USER password=$PG_PASSWORD"
  say "redis      $HOST:$REDIS_PORT"
  if registry_on; then say "registry   $REGISTRY_BASE  (Apicurio, Confluent-compatible API)"
  else say "registry   not started (STACK_SCHEMA_REGISTRY=$REGISTRY_ENABLED)"; fi
  say "env file   $ENV_FILE"
}

cmd_down() {
  local purge=0 arg
  for arg in "$@"; do
    case $arg in --purge) purge=1 ;; *) die "unknown option for down: $arg" ;; esac
  done
  [[ -d "$STACK_DIR" ]] || { say "nothing to stop"; return 0; }
  take_lock down
  find_pg_bin || true
  # Registry and Kafka can stop in parallel with the others; they take the longest.
  registry_stop &
  local rpid=$!
  kafka_stop &
  local kpid=$!
  redis_stop
  if [[ -n "$PG_BIN" ]]; then pg_stop; fi
  wait "$rpid" || true
  wait "$kpid" || true
  rm -f "$ENV_FILE"
  if ((purge)); then
    say "purging data dirs (keeping $M2_DIR, kafka libs and the registry distribution)"
    rm -rf "$KAFKA_DIR/data" "$KAFKA_DIR/logs" "$KAFKA_DIR/server.properties" "$KAFKA_DIR/admin.properties" \
      "$PG_DIR" "$REDIS_DIR" "$REGISTRY_DIR/data" "$REGISTRY_DIR/tmp" "$REGISTRY_DIR/config" "$REGISTRY_DIR"/*.log \
      "$STATE_FILE" "$STACK_DIR/apt.log" "$STACK_DIR/mvn.log"
  fi
  # Verify: none of our processes left, nothing on our ports.
  local left=() svc p bad=0
  for svc in kafka registry postgres redis; do
    for p in $(find_stray_pids "$svc"); do left+=("$svc:$p"); done
  done
  if ((${#left[@]})); then warn "processes still running: ${left[*]}"; bad=1; fi
  ((bad == 0)) || die "could not stop everything"
  for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" "$PG_PORT" "$REDIS_PORT" "$REGISTRY_PORT"; do
    if port_listening "$p"; then warn "port $p is in use by a process that is not this checkout's stack: $(port_owner "$p")"; fi
  done
  say "stack down"
}

cmd_status() {
  local all=0 pid
  status_line() { # name up? addr pid
    if [[ $2 == up ]]; then printf '%-9s up    %-45s pid %s\n' "$1" "$3" "$4"
    else printf '%-9s down  %-45s %s\n' "$1" "$3" "${4:+(pid $4 running but not listening)}"; all=1; fi
  }
  find_pg_bin || true
  pid=$(kafka_pid)
  if kafka_up; then status_line kafka up "$HOST:$KAFKA_PORT (controller :$KAFKA_CONTROLLER_PORT)" "$pid"
  else status_line kafka down "$HOST:$KAFKA_PORT (controller :$KAFKA_CONTROLLER_PORT)" "$pid"; fi
  pid=$(pg_pid)
  if pg_up; then status_line postgres up "$HOST:$PG_PORT" "$pid"; else status_line postgres down "$HOST:$PG_PORT" "$pid"; fi
  pid=$(redis_pid)
  if redis_up; then status_line redis up "$HOST:$REDIS_PORT" "$pid"; else status_line redis down "$HOST:$REDIS_PORT" "$pid"; fi
  if registry_on; then
    pid=$(registry_pid)
    if registry_up; then status_line registry up "$REGISTRY_BASE" "$pid"; else status_line registry down "$REGISTRY_BASE" "$pid"; fi
  else
    printf '%-9s off   (STACK_SCHEMA_REGISTRY=%s)\n' registry "$REGISTRY_ENABLED"
  fi
  return $((all ? 3 : 0))
}

cmd_env() {
  if [[ -f "$ENV_FILE" ]]; then cat "$ENV_FILE"; else env_lines; fi
}

usage() {
  sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

main() {
  local cmd=${1:-}
  [[ $# -gt 0 ]] && shift
  case $cmd in
    up)
      for a in "$@"; do
        case $a in --no-registry) REGISTRY_ENABLED=0 ;; *) die "unknown option for up: $a" ;; esac
      done
      cmd_up ;;
    down) cmd_down "$@" ;;
    status) cmd_status ;;
    env) cmd_env ;;
    -h|--help|help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
