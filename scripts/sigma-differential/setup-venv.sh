#!/usr/bin/env bash
# Creates (or reuses) the Python environment of the Sigma differential test: .cache/venv-sigma with
# pySigma and its SQLite backend, pinned with their dependencies in requirements.txt. Idempotent:
# rebuilt from scratch only when it is missing, unfinished (no stamp: an interrupted install) or
# requirements.txt changed. Safe to run from several processes at once (flock). Prints the
# interpreter's path on stdout; everything else goes to stderr.
#
#   python="$(bash scripts/sigma-differential/setup-venv.sh)"
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$root/.cache/venv-sigma"

python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
  echo "sigma-differential: need Python >= 3.11 as '$python' (set PYTHON to another interpreter)" >&2
  exit 1
fi

mkdir -p "$root/.cache"
exec 9>"$root/.cache/venv-sigma.lock"
flock 9

stamp="$venv/.requirements.sha256"
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
if [[ ! -x "$venv/bin/python" || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  echo "sigma-differential: creating $venv" >&2
  rm -rf "$venv"
  "$python" -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt" >&2
  "$venv/bin/python" -m pip check >&2
  echo "$want" > "$stamp"
fi
echo "$venv/bin/python"
