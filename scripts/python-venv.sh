#!/usr/bin/env bash
# Creates (or reuses) the Python virtualenv that test fixtures and peer benchmarks use: .cache/venv.
# Python is for fixtures and benchmarks only, never product code. Idempotent: the venv is rebuilt
# only when the pinned requirements below change (their hash is stamped into the venv). Safe to
# run from several processes at once (flock).
#
#   bash scripts/python-venv.sh && .cache/venv/bin/python <script>
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.cache/venv"

# Pinned from PyPI for CPython 3.11, transitive dependencies included, so every run installs the
# same set. Checked together: `pip check` passes, and the models that
# test/fixtures/onnx/make_sklearn_models.py exports with skl2onnx reproduce scikit-learn's own
# outputs under onnxruntime (packages/models/test/unit/onnx-member.test.ts).
pip_version='26.3'
requirements='coloredlogs==15.0.1
flatbuffers==25.12.19
humanfriendly==10.0
joblib==1.5.2
ml_dtypes==0.6.0
mpmath==1.3.0
numpy==2.3.5
onnx==1.19.1
onnxruntime==1.23.2
packaging==26.3
protobuf==7.36.2
scikit-learn==1.7.2
scipy==1.16.3
skl2onnx==1.20.0
sympy==1.14.0
threadpoolctl==3.6.0
typing_extensions==4.16.0'

python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
  echo "python-venv: need Python >= 3.11 as '$python' (set PYTHON to another interpreter)" >&2
  exit 1
fi

mkdir -p "$root/.cache"
exec 9>"$root/.cache/venv.lock"
flock 9

want="$(printf 'pip==%s\n%s\n' "$pip_version" "$requirements" | sha256sum | cut -d' ' -f1)"
stamp="$venv/.requirements.sha256"
if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi

echo "python-venv: creating $venv" >&2
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "pip==$pip_version"
printf '%s\n' "$requirements" > "$venv/requirements.txt"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$venv/requirements.txt"
"$venv/bin/python" -m pip check >&2
printf '%s\n' "$want" > "$stamp"
