#!/usr/bin/env bash
# One command: set everything up, then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# The browser tests drive a real headless Chromium: Debian's package, installed here when missing (root only).
if ! command -v chromium-headless-shell >/dev/null && ! command -v chromium >/dev/null \
   && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium-headless-shell >/dev/null
fi
# The architecture's contracts (pyproject.toml [tool.importlinter]): a new cycle or layer jump fails the run.
.venv/bin/lint-imports --no-cache
exec .venv/bin/python -m pytest "$@"
