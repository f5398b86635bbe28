#!/usr/bin/env bash
# The one prepared GPU check: build vaetk with its CUDA module, run the CUDA tests against the CPU results, then
# time the accelerator paths (benchmarks/device_check.py) and write device_check.json + device_check.md.
#
#   benchmarks/device_check.sh [OUT_DIR] [CASES]   on a machine with a CUDA GPU (about 6 minutes)
#   benchmarks/device_check.sh --cpu-only [OUT_DIR] the CPU-only parts, seconds long (what CI runs)
#
# Python: $PYTHON, else .venv/bin/python, else python3. Missing dependencies can be put as wheels in .whl/
# (a machine without a package index); they are installed first.
set -uo pipefail
cd "$(dirname "$0")/.."
cpu_only=0
if [ "${1:-}" = "--cpu-only" ]; then cpu_only=1; shift; fi
out=${1:-${OUT:-device_check_out}}
cases=${2:-solve,dense_vae,ensemble,knn,processes,profile}
mkdir -p "$out"
python=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
status=0

if [ "$cpu_only" = 1 ]; then
  exec "$python" benchmarks/device_check.py --device cpu --quick --out "$out"
fi

echo "== GPU"; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || exit 1
if compgen -G ".whl/*.whl" >/dev/null; then
  "$python" -m pip install -q --no-index --no-deps --no-compile .whl/*.whl || exit 1
fi

echo "== build with VAETK_CUDA=ON"
start=$(date +%s)
CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) "$python" -m pip install -q --no-index --no-deps --no-build-isolation -e . \
  -Ccmake.define.VAETK_CUDA=ON -Ccmake.define.VAETK_CUDA_ARCHITECTURES=native -Cbuild-dir=build/device \
  >"$out/build.log" 2>&1 || { echo "CUDA build failed (see build.log)"; tail -30 "$out/build.log"; exit 1; }
echo "built in $(( $(date +%s) - start )) s"

echo "== CUDA tests (pytest -m cuda): the device paths against the CPU results"
"$python" -m pytest -q -m cuda -p no:cacheprovider tests/numerics 2>&1 | tee "$out/cuda_tests.log" | tail -15
[ "${PIPESTATUS[0]}" = 0 ] || status=1

echo "== timings"
PYTHONUNBUFFERED=1 "$python" benchmarks/device_check.py --device cuda --cases "$cases" --out "$out" || status=1

echo "== section 5.3 at paper scale, end to end (--smoke: 1 seed per study, 2 epochs, 128 samples), ensembles of 4"
start=$(date +%s)
"$python" -m vaetk.cli reproduce 5.3 --scale paper --smoke --seeds 4 --ensemble 4 --out "$(mktemp -d)" \
  --no-progress >"$out/reproduce.log" 2>&1 || { status=1; tail -20 "$out/reproduce.log"; }
echo "reproduce 5.3 paper smoke: $(( $(date +%s) - start )) s, exit ${status}"; tail -12 "$out/reproduce.log"
exit $status
