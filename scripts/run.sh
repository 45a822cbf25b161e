#!/usr/bin/env bash
# Install everything into .venv and start the Space on http://127.0.0.1:7860 (local store in ./data).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_venv requirements.txt requirements-demo.txt
exec .venv/bin/python app.py "$@"
