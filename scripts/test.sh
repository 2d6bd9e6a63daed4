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
# The scale-out tests start a real PostgreSQL 15 and Redis themselves (tests/gateway/conftest.py): Debian's packages,
# installed here when missing (root only); the packaged cluster is not used and need not run.
if { [ ! -x /usr/lib/postgresql/15/bin/initdb ] || ! command -v redis-server >/dev/null; } \
   && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15 redis-server >/dev/null
fi
# The architecture's contracts (pyproject.toml [tool.importlinter]): a new cycle or layer jump fails the run.
.venv/bin/lint-imports --no-cache
.venv/bin/python -m pytest "$@"
# A whole run (no arguments) then runs the database tests once more against PostgreSQL.
if [ $# -eq 0 ]; then
  HALLMARK_TEST_DATABASE=postgresql exec .venv/bin/python -m pytest \
    tests/gateway/test_jobs.py tests/gateway/test_audit.py tests/gateway/test_audit_proofs.py \
    tests/gateway/test_audit_prompts.py tests/gateway/test_registry_index.py tests/gateway/test_works.py \
    tests/gateway/test_review.py
fi
