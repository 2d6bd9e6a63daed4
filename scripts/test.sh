#!/usr/bin/env bash
# One command: set everything up, then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# The architecture's contracts (pyproject.toml [tool.importlinter]): a new cycle or layer jump fails the run.
.venv/bin/lint-imports --no-cache
exec .venv/bin/python -m pytest "$@"
