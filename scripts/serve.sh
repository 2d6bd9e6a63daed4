#!/usr/bin/env bash
# One command: set everything up, then start the gateway on the embedded defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/hallmark serve "$@"
