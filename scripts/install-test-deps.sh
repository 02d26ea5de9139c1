#!/usr/bin/env bash
# Installs the real log shippers that test/e2e/shippers.test.ts runs against Kafka, when missing:
#   kcat                              apt-get install (a plain CLI)
#   rsyslog + rsyslog-kafka (omkafka) unpacked into .cache/shippers/root
#   syslog-ng-core + -mod-rdkafka     unpacked into .cache/shippers/root
# Debian's rsyslog and syslog-ng-core conflict (both provide system-log-daemon), and installing
# either would replace the machine's own log daemon and enable a system service. So only their
# shared libraries come from apt-get install; the daemons themselves are unpacked (dpkg-deb -x) into
# the checkout, where the test runs them with its own config, module dir and work dir.
# Idempotent; silent when everything is present. Installing needs root.
set -euo pipefail

REPO_ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)
SHIPPERS_DIR="$REPO_ROOT/.cache/shippers"
ROOT="$SHIPPERS_DIR/root"
LOG="$SHIPPERS_DIR/apt.log"
ARCH_LIB=/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)

# Unpacked packages: name -> a file (glob) it must provide, under $ROOT.
declare -A UNPACKED=(
  [rsyslog]=usr/sbin/rsyslogd
  [rsyslog-kafka]=${ARCH_LIB#/}/rsyslog/omkafka.so
  [syslog-ng-core]=usr/sbin/syslog-ng
  [syslog-ng-mod-rdkafka]='usr/lib/syslog-ng/*/libkafka.so'
)
# The daemons the unpacked packages depend on among themselves: never apt-installed.
SKIP_DEPS='^(rsyslog|syslog-ng-core)$'

say() { printf '[test-deps] %s\n' "$*"; }
die() { printf '[test-deps] ERROR: %s\n' "$*" >&2; exit 1; }

# The unpacked daemons run from $ROOT: rsyslogd with -M for its modules, syslog-ng with
# LD_LIBRARY_PATH for libsyslog-ng and --module-path for its modules (the test does the same).
verify() {
  command -v kcat >/dev/null 2>&1 || die "kcat is missing"
  local out
  out=$("$ROOT/usr/sbin/rsyslogd" -v 2>&1) || die "the unpacked rsyslogd does not run (missing library?): ${out##*$'\n'}"
  out=$(LD_LIBRARY_PATH="$ROOT/usr/lib/syslog-ng" "$ROOT/usr/sbin/syslog-ng" -V 2>&1) \
    || die "the unpacked syslog-ng does not run (missing library?): ${out##*$'\n'}"
}

mkdir -p "$SHIPPERS_DIR"

missing_unpacked=()
for pkg in "${!UNPACKED[@]}"; do
  compgen -G "$ROOT/${UNPACKED[$pkg]}" >/dev/null || missing_unpacked+=("$pkg")
done
need_kcat=0
command -v kcat >/dev/null 2>&1 || need_kcat=1

if ((${#missing_unpacked[@]} == 0 && need_kcat == 0)); then
  verify
  exit 0
fi

[[ $(id -u) -eq 0 ]] || die "missing: ${missing_unpacked[*]} $( ((need_kcat)) && echo kcat); run as root (apt-get)"
command -v apt-get >/dev/null 2>&1 || die "no apt-get here"

# No package may start (or restart) a system-wide service while we install: policy-rc.d denies
# every invoke-rc.d / deb-systemd-invoke start, as deploy/local/stack.sh does for its packages.
POLICY=/usr/sbin/policy-rc.d
made_policy=0
cleanup() { if ((made_policy)); then rm -f "$POLICY"; fi; }
trap cleanup EXIT
if [[ ! -e $POLICY ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$POLICY" && chmod 755 "$POLICY" && made_policy=1
fi

export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-y -qq --no-install-recommends --no-remove -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
if ! compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null; then
  apt-get update -qq >>"$LOG" 2>&1 || die "apt-get update failed (log: $LOG)"
fi

# The runtime libraries of the unpacked packages: their Depends (first alternative, no versions).
deps_of() {
  apt-cache show --no-all-versions "$@" 2>>"$LOG" | sed -n 's/^Depends: //p' | tr ',' '\n' \
    | sed -E 's/\|.*//; s/\(.*\)//; s/:any//; s/^ +//; s/ +$//' | grep -Ev "$SKIP_DEPS" | sort -u
}
apt_pkgs=()
((need_kcat)) && apt_pkgs+=(kcat)
if ((${#missing_unpacked[@]} > 0)); then
  mapfile -t libs < <(deps_of "${missing_unpacked[@]}")
  ((${#libs[@]} > 0)) || die "could not read the dependencies of ${missing_unpacked[*]} (apt-get update?)"
  apt_pkgs+=("${libs[@]}")
fi
if ((${#apt_pkgs[@]} > 0)); then
  say "apt-get install ${apt_pkgs[*]} (log: $LOG)"
  apt-get install "${APT_OPTS[@]}" "${apt_pkgs[@]}" >>"$LOG" 2>&1 \
    || { apt-get update -qq >>"$LOG" 2>&1 && apt-get install "${APT_OPTS[@]}" "${apt_pkgs[@]}" >>"$LOG" 2>&1; } \
    || { tail -n 30 "$LOG" >&2; die "apt-get install failed (log: $LOG)"; }
fi

if ((${#missing_unpacked[@]} > 0)); then
  say "unpacking ${missing_unpacked[*]} into $ROOT"
  debs="$SHIPPERS_DIR/debs"
  rm -rf "$debs" && mkdir -p "$debs" "$ROOT"
  (cd "$debs" && apt-get download -qq "${missing_unpacked[@]}") >>"$LOG" 2>&1 \
    || { tail -n 30 "$LOG" >&2; die "apt-get download failed (log: $LOG)"; }
  for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$ROOT"; done
  rm -rf "$debs"
  for pkg in "${missing_unpacked[@]}"; do
    compgen -G "$ROOT/${UNPACKED[$pkg]}" >/dev/null || die "$pkg did not provide ${UNPACKED[$pkg]}"
  done
fi

verify
say "kcat at $(command -v kcat); rsyslogd and syslog-ng in $ROOT/usr/sbin"

# kustomize for test/deploy/k8s-manifests.test.ts: kubectl's own when it is v4.5 or newer (the
# overlays use components and replacements, which Debian's kubectl 1.20 with kustomize v2.0.3 lacks);
# else built from the Go module proxy into .cache/bin (v5.5.0 needs Go >= 1.22.7, bookworm's is 1.19).
kustomize_ok() {
  local v a b
  v=$(kubectl version --client -o json 2>/dev/null | sed -n 's/.*"kustomizeVersion": *"v\([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
  [[ -n $v ]] || return 1
  read -r a b <<<"$v"
  (( a > 4 || (a == 4 && b >= 5) ))
}
if ! kustomize_ok && [[ ! -x "$REPO_ROOT/.cache/bin/kustomize" ]]; then
  command -v go >/dev/null 2>&1 || PATH="/usr/local/go/bin:$PATH"
  command -v go >/dev/null 2>&1 || apt-get install -y -qq golang-go >>"$LOG" 2>&1 || die "apt-get install golang-go failed (log: $LOG)"
  if go version | grep -Eq 'go1\.(2[3-9]|[3-9][0-9])'; then version=v5@v5.5.0; else version=v4@v4.5.7; fi
  say "building kustomize $version into $REPO_ROOT/.cache/bin"
  GOBIN="$REPO_ROOT/.cache/bin" go install "sigs.k8s.io/kustomize/kustomize/$version" >>"$LOG" 2>&1 || die "go install kustomize failed (log: $LOG)"
fi
