#!/usr/bin/env bash
# Set up and run the nightly job once (bundled sample feeds + embedded warehouse unless configured);
# `talkwatch run` ends with its summary and the contradictions in the warehouse.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/talkwatch run "$@"
