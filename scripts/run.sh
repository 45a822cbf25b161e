#!/usr/bin/env bash
# Install everything into .venv and start the Space on http://127.0.0.1:7860 (local store in ./data).
#
# Without Hub settings (HF_ENDPOINT, REQUESTS_DATASET) it first starts the bundled local Hub on
# http://127.0.0.1:7861 (python -m localhub) with sample adapters and sample data, and points the app and its
# evaluator at it: submit a sample adapter, watch it evaluated and on the board, offline. LOCALHUB=0 skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_venv requirements.txt requirements-demo.txt requirements-samples.txt
if [ -z "${HF_ENDPOINT:-}${REQUESTS_DATASET:-}" ] && [ "${LOCALHUB:-1}" != "0" ]; then
  # the Code challenge runs generated programs in bubblewrap, JavaScript with node and C++ with g++
  install_system_packages bwrap:bubblewrap node:nodejs g++:g++ \
    || echo "Could not install bubblewrap / nodejs / g++: the Code sample will fail and say what is missing."
  start_local_hub "${LOCALHUB_PORT:-7861}" "$PWD/data/localhub"
fi
.venv/bin/python app.py "$@"
