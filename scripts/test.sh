#!/usr/bin/env bash
# Set up and run the whole test suite (what CI runs): unit, warehouse, end-to-end, Airflow, corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
# The report test renders in Debian's headless chromium; install it where we may.
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "· installing chromium for the browser test" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
        || echo "· chromium could not be installed; the browser test will be skipped" >&2
fi
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
