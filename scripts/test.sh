#!/usr/bin/env bash
# Install what the tests need (Debian chromium for browser tests, node, g++ and bubblewrap for the Code suite,
# PostgreSQL for the SQL store's tests, the Python packages into .venv) and run the whole suite. Extra arguments
# go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
install_system_packages chromium:chromium node:nodejs g++:g++ bwrap:bubblewrap
install_system_packages pg_ctlcluster:postgresql  # the server binaries live in /usr/lib/postgresql/<version>/bin
ensure_venv requirements-test.txt requirements-demo.txt requirements-test-nodeps.txt
set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
if [ $status -eq 5 ]; then
  echo "pytest collected no tests: failing on purpose" >&2
  exit 1
fi
exit $status
