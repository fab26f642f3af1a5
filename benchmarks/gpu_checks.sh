#!/usr/bin/env bash
# Every check that needs a CUDA GPU, in one run, with a log per step:
#
#   1. the tests that skip without CUDA (every test whose name says cuda),
#      among them a short default fit whose embedding must match the CPU's;
#   2. benchmarks/bench_loss.py --device cuda (with the two-matmul floor,
#      and with no CUDA graphs), benchmarks/bench_loss_graphs.py (the
#      graphs' two choices, each both ways), then
#      benchmarks/bench_class_sums.py (the class sums by the number of
#      classes, sorted, as a dense or a sparse product) and
#      benchmarks/bench_gather.py (the gradient's gather of class rows, by
#      the way torch is asked for it);
#   3. benchmarks/bench_throughput.py --devices cpu cuda on random data
#      (it needs pytorch-metric-learning: carry its wheel where pip cannot
#      reach PyPI, or the step is skipped);
#   4. benchmarks/bench_large_batch.py --device cuda;
#   5. benchmarks/bench_devices.py: the default fit with network="conv" on
#      the glyph images, 3 seeds on the GPU beside 1 on 2 CPU cores (about
#      4 minutes; skipped without benchmarks/.data/glyphs.npz, which
#      benchmarks/install_data.sh makes);
#   6. benchmarks/bench_conv_layout.py --device cuda: the conv network's
#      weights channels first or last (channels last, the default, was
#      measured on the CPU only), and benchmarks/bench_sparse_layout.py
#      --device cuda: sparse rows through the first layer's weight as torch
#      lays it out or through a contiguous copy of its transpose (the
#      embedding's choice, measured on the CPU only);
#   7. on every CPU core of the machine, what was measured on 2 cores only:
#      benchmarks/bench_inference_batch.py (whether 64 rows a call still
#      beat 4,096 for the conv network where many threads share a call),
#      and benchmarks/bench_fit_time.py --without-blas-limit (what the fit's
#      one BLAS thread buys; default fits on the dictionary and the glyph
#      images, skipped without benchmarks/.data/gcide.npz and glyphs.npz).
#
# Run it from the repository root with a Python that has torch with CUDA,
# scikit-learn, scipy, pytest and hypothesis; the package is imported from
# the checkout, not installed. Logs go to $OUT, else ./gpu_checks. It goes
# on after a failed step and exits 1 if any failed, 2 without a GPU.
#
#   PYTHON=python3 bash benchmarks/gpu_checks.sh
set -u
PYTHON=${PYTHON:-python3}
LOGS=${OUT:-gpu_checks}
mkdir -p "$LOGS"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
failed=()

step() {  # step NAME COMMAND...: run, log to $LOGS/NAME.log, time it
    local name=$1
    shift
    echo "== $name: $*"
    local start=$SECONDS
    "$@" 2>&1 | tee "$LOGS/$name.log"
    local status=${PIPESTATUS[0]}
    echo "== $name: exit $status after $((SECONDS - start)) s"
    [ "$status" -eq 0 ] || failed+=("$name")
}

"$PYTHON" - <<'EOF' 2>&1 | tee "$LOGS/environment.log"
import sys

import torch

print(f"Python {sys.version.split()[0]}, torch {torch.__version__}")
if not torch.cuda.is_available():
    sys.exit("no CUDA device: these checks need a GPU")
print(f"{torch.cuda.get_device_name()}, CUDA {torch.version.cuda}")
EOF
[ "${PIPESTATUS[0]}" -eq 0 ] || exit 2

step tests "$PYTHON" -m pytest -q -rs -p no:cacheprovider -k cuda \
    tests/test_data.py tests/test_embedder.py tests/test_large_batch.py \
    tests/test_loss.py tests/test_loss_graphs.py
step bench_loss "$PYTHON" benchmarks/bench_loss.py --device cuda --d 128 \
    --n 4096 16384 65536 262144 1048576
step bench_loss_graphs "$PYTHON" benchmarks/bench_loss_graphs.py --device cuda
step bench_class_sums "$PYTHON" benchmarks/bench_class_sums.py --device cuda
step bench_gather "$PYTHON" benchmarks/bench_gather.py --device cuda
if "$PYTHON" -c "import pytorch_metric_learning" 2>/dev/null; then
    step bench_throughput "$PYTHON" benchmarks/bench_throughput.py \
        --devices cpu cuda --data random
else
    echo "== bench_throughput: skipped, pytorch-metric-learning is not installed"
fi
step bench_large_batch "$PYTHON" benchmarks/bench_large_batch.py --device cuda \
    --batch-sizes 4096 65536 262144 1048576
if [ -f benchmarks/.data/glyphs.npz ]; then
    step bench_devices "$PYTHON" benchmarks/bench_devices.py --dataset glyphs \
        --network conv
else
    echo "== bench_devices: skipped, benchmarks/.data/glyphs.npz is missing"
fi
step conv_layout "$PYTHON" benchmarks/bench_conv_layout.py --device cuda
step sparse_layout "$PYTHON" benchmarks/bench_sparse_layout.py --device cuda
step inference_batch "$PYTHON" benchmarks/bench_inference_batch.py
if [ -f benchmarks/.data/gcide.npz ] && [ -f benchmarks/.data/glyphs.npz ]; then
    step fit_time_blas "$PYTHON" benchmarks/bench_fit_time.py \
        --without-blas-limit --datasets dictionary glyphs --seeds 1
else
    echo "== fit_time_blas: skipped, benchmarks/.data/gcide.npz or glyphs.npz is missing"
fi

if [ ${#failed[@]} -gt 0 ]; then
    echo "failed: ${failed[*]} (logs in $LOGS)"
    exit 1
fi
echo "all steps passed (logs in $LOGS)"
