#!/usr/bin/env bash
# The layer benchmark on a GPU machine that has JAX with CUDA and no TensorFlow.
#
# Usage: benchmarks/gpu.sh [WHEEL_DIR] [-- ARGS...]
#
#   WHEEL_DIR   (or $KERASIMG_WHEELS) a folder of wheels: keras and the small packages it needs
#               that the machine lacks (namex, optree, h5py, absl-py, rich, ...). Every wheel in
#               it is installed, without the network and without dependency resolution, into
#               $KERASIMG_GPU_SITE (default: $TMPDIR/kerasimg-gpu-site), which is put first on
#               PYTHONPATH; the machine's own Python packages (JAX, CUDA) are left alone.
#               Without WHEEL_DIR, keras must already be importable.
#   ARGS        passed to benchmarks/layers.py (e.g. --batch 256 --repeats 20, or --quick).
#   $PYTHON     the Python with JAX (default: python3).
#
# Runs benchmarks/layers.py under KERAS_BACKEND=jax from this checkout (kerasimg is not
# installed: the script puts the checkout on sys.path) and prints its table: images/s of the
# kerasimg stack beside keras.layers and the one-pass limit, and on a GPU the fraction of the
# device's memory-bandwidth limit. TensorFlow is not needed and not imported.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
WHEELS="${KERASIMG_WHEELS:-}"
if [[ $# -gt 0 && "$1" != "--" ]]; then
    WHEELS="$1"
    shift
fi
if [[ $# -gt 0 && "$1" == "--" ]]; then
    shift
fi
SITE="${KERASIMG_GPU_SITE:-${TMPDIR:-/tmp}/kerasimg-gpu-site}"

fail() {
    echo "benchmarks/gpu.sh: $*" >&2
    exit 2
}

command -v "$PYTHON" >/dev/null 2>&1 || fail "no Python at PYTHON=$PYTHON"
"$PYTHON" -c "import jax" 2>/dev/null || fail "$PYTHON cannot import jax (install JAX with CUDA first)"

if [[ -n "$WHEELS" ]]; then
    [[ -d "$WHEELS" ]] || fail "wheel folder $WHEELS does not exist"
    shopt -s nullglob
    wheels=("$WHEELS"/*.whl)
    shopt -u nullglob
    [[ ${#wheels[@]} -gt 0 ]] || fail "no .whl file in $WHEELS"
    mkdir -p "$SITE"
    echo "installing ${#wheels[@]} wheel(s) from $WHEELS into $SITE"
    if "$PYTHON" -m pip --version >/dev/null 2>&1; then
        "$PYTHON" -m pip install --quiet --no-index --no-deps --disable-pip-version-check \
            --upgrade --target "$SITE" "${wheels[@]}"
    else  # no pip: a wheel is a zip file laid out for site-packages
        "$PYTHON" - "$SITE" "${wheels[@]}" <<'EOF'
import sys, zipfile
for wheel in sys.argv[2:]:
    zipfile.ZipFile(wheel).extractall(sys.argv[1])
EOF
    fi
    export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
fi

export KERAS_BACKEND=jax
"$PYTHON" - <<'EOF' || fail "keras is not importable: pass a wheel folder with keras and its dependencies"
import importlib.util, jax, keras
try:
    tf = "installed (not used)" if importlib.util.find_spec("tensorflow") else "not installed"
except ImportError:
    tf = "not importable"
print(f"python ok: jax {jax.__version__} on {jax.devices()[0]}, keras {keras.__version__}, tensorflow {tf}")
EOF

cd "$ROOT"
exec "$PYTHON" benchmarks/layers.py "$@"
