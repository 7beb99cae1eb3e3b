#!/bin/bash
# The scoring benchmark on a lent GPU machine, which has torch and transformers but not the app's
# other dependencies, nor ../shared. Prepare here, in the repository root (both folders are
# ignored by git; carry them with the call):
#   .whl/  wheels of the missing packages for CPython 3.12 (pip download --no-deps ...: SQLAlchemy,
#          greenlet, platformdirs, tomli_w, pillow, pillow_heif, rawpy, watchdog, Send2Trash,
#          ImageHash, PyWavelets)
#   .dev/  make_random_siglip.py, aesthetic_predictor_v2_5.pth and photos/ from ../shared; and,
#          optionally, old/ = another revision's app/ with this tests/bench/ (compared at bf16:32)
# Then run: bash tests/bench/gpu_bench.sh   (writes its logs to $OUT when that is set)
set -euo pipefail
OUT=${OUT:-/tmp/gpu-bench-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,utilization.gpu --format=csv | tee "$OUT/gpu.txt"
nproc | tee -a "$OUT/gpu.txt"
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)"
t0=$(date +%s)
[ -d /tmp/siglip-full ] || python3 .dev/make_random_siglip.py /tmp/siglip-full
echo "# random so400m written in $(( $(date +%s) - t0 )) s"
nvidia-smi dmon -s u -d 1 > "$OUT/dmon.log" 2>&1 &
dmon=$!
common=(--encoder /tmp/siglip-full --head .dev/aesthetic_predictor_v2_5.pth --photos .dev/photos --drift-images 100)
python3 tests/bench/bench_scoring.py "${common[@]}" --baseline-images "${BASELINE_IMAGES:-48}" \
    ${CONFIGS:+--configs "$CONFIGS"} 2>&1 | grep -v -E "Loading weights|it/s\]" | tee "$OUT/bench.log"
if [ -d .dev/old/app ]; then
    echo "# the same at bf16:32 with the app from .dev/old"
    python3 .dev/old/tests/bench/bench_scoring.py "${common[@]}" --baseline-images 8 --configs bf16:32 2>&1 \
        | grep -v -E "Loading weights|it/s\]" | tee "$OUT/bench-old.log"
fi
kill $dmon || true
