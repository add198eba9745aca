#!/usr/bin/env bash
# GPU benchmark of videollm-core on the first CUDA GPU available: training throughput and MFU of
# the OPT-1.3B LoRA paper config (random weights), streaming latency at 1k/16k units, feature
# extraction, one-GPU launches through the accelerate templates (single GPU, FSDP, DeepSpeed).
# What each figure means: bench/gpu.py's docstring and the "GPU" section of docs/benchmarks.md.
#
#   bash bench/gpu.sh [--out FILE] [--docs] [--wheels DIR]   # a CUDA GPU (sized for ~5 min on one H100)
#   bash bench/gpu.sh --smoke [--out FILE]                   # the same steps, tiny shapes, on CPU (~20 s)
#   bash bench/gpu.sh --fetch-wheels DIR                     # on a machine with PyPI: the wheels a GPU
#                                                            # machine without an index needs (Python 3.12)
# Other options go to bench/gpu.py (--only train stream extract launch, --threads N).
#
# Setup, before the run: the Python is $PYTHON, else .venv/bin/python, else python3. Packages it
# lacks (bench/gpu/wheels.py: mmengine, pydantic, PyAV, editdistance, DeepSpeed) are installed
# from the wheels in DIR (default .whl/) into a temporary folder put on PYTHONPATH (removed at
# the end; $VIDEOLLM_BENCH_SITE names one to keep), and so is videollm-core itself when it is not
# importable (pip, offline). Without a CUDA GPU or with --smoke, nothing is installed from the
# network; otherwise a missing DeepSpeed is tried from PyPI once, and when it still cannot be
# imported the DeepSpeed figures are null with the reason. The JSON (default
# $TMPDIR/videollm-bench-gpu.json) has every figure; the exit code is bench/gpu.py's.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SMOKE=0
WHEELS="$ROOT/.whl"
ARGS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --smoke) SMOKE=1; ARGS+=("$1") ;;
        --wheels) WHEELS="$2"; shift ;;
        --fetch-wheels) FETCH="$2"; shift ;;
        -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) ARGS+=("$1") ;;
    esac
    shift
done
if [ -n "${PYTHON:-}" ]; then PY="$PYTHON"
elif [ -x "$ROOT/.venv/bin/python" ]; then PY="$ROOT/.venv/bin/python"
else PY="$(command -v python3)"; fi
say() { echo "[gpu.sh] $*"; }
if [ -n "${FETCH:-}" ]; then
    exec "$PY" "$ROOT/bench/gpu/wheels.py" fetch "$FETCH"
fi
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
if [ -n "${VIDEOLLM_BENCH_SITE:-}" ]; then SITE="$VIDEOLLM_BENCH_SITE"  # what this script installs goes here
else SITE="$(mktemp -d "${TMPDIR:-/tmp}/videollm-bench-site.XXXXXX")"; trap 'rm -rf "$SITE"' EXIT; fi
export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
say "python: $PY ($("$PY" -c 'import platform; print(platform.python_version())'))"

# 1. packages missing here, from the wheel folder
MISSING="$("$PY" "$ROOT/bench/gpu/wheels.py" missing | tr '\n' ' ')"
if [ -n "${MISSING// /}" ] && compgen -G "$WHEELS/*.whl" >/dev/null; then
    say "missing: $MISSING-> installing $(ls "$WHEELS"/*.whl | wc -l) wheel(s) from $WHEELS into $SITE"
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" "$WHEELS"/*.whl \
        || say "pip could not install the wheels of $WHEELS"
    MISSING="$("$PY" "$ROOT/bench/gpu/wheels.py" missing | tr '\n' ' ')"
fi
[ -n "${MISSING// /}" ] && say "still missing: $MISSING(no wheel for them in $WHEELS; bench/gpu.sh --fetch-wheels DIR makes them)"

# 2. videollm-core itself (a fresh machine has only the source tree)
if ! "$PY" -c "import videollm_core, videollm_plugins" 2>/dev/null; then
    say "installing videollm-core from $ROOT into $SITE (offline, no dependencies)"
    [ -e "$ROOT/build" ] && KEEP_BUILD=1 || KEEP_BUILD=0
    "$PY" -m pip install -q --no-index --no-deps --no-build-isolation --no-cache-dir --upgrade --target "$SITE" "$ROOT" \
        || { say "cannot install videollm-core (pip install -e . first)"; exit 2; }
    [ "$KEEP_BUILD" = 0 ] && rm -rf "$ROOT/build"  # setuptools' in-tree build folder
fi

# 3. DeepSpeed: the wheel folder above, else PyPI once (GPU runs only), else a recorded reason
HAS_CUDA="$("$PY" -c 'import torch; print(int(torch.cuda.is_available()))' 2>/dev/null || echo 0)"
if [ "$SMOKE" = 0 ] && [ "$HAS_CUDA" = 1 ] && ! "$PY" -c "import deepspeed" 2>/dev/null; then
    say "deepspeed is missing and $WHEELS has no wheel of it: trying PyPI once"
    if ! ERR="$(timeout 300 "$PY" -m pip install -q --retries 0 --timeout 15 --no-deps --no-build-isolation --target "$SITE" \
            deepspeed hjson 2>&1)" || ! "$PY" -c "import deepspeed" 2>/dev/null; then
        export GPU_BENCH_DEEPSPEED_NOTE="deepspeed is not installed: no deepspeed wheel in $WHEELS and pip could not install it ($(echo "$ERR" | grep -v '^\s*$' | tail -n 1 | cut -c1-160))"
        say "$GPU_BENCH_DEEPSPEED_NOTE"
    fi
fi
[ "$HAS_CUDA" = 1 ] && command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
"$PY" "$ROOT/bench/gpu.py" "${ARGS[@]}"
exit $?
