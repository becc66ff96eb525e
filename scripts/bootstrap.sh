#!/usr/bin/env bash
# Create .venv (if needed) and install talkwatch from the hash-pinned lock file.
# Idempotent: a second call only checks that the lock is already satisfied.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "· creating .venv with $($PY --version)" >&2
    "$PY" -m venv .venv
fi
stamp=.venv/.talkwatch-lock.sha256
want=$(sha256sum requirements-pip.lock requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "· installing dependencies from requirements.lock (hash-checked)" >&2
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-pip.lock
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
    echo "$want" > "$stamp"
fi
