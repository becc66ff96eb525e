#!/usr/bin/env bash
# Set up and run the nightly job once (bundled sample feeds + embedded warehouse unless configured),
# then show the contradictions in the warehouse.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
.venv/bin/talkwatch run "$@"
echo
.venv/bin/talkwatch contradictions
