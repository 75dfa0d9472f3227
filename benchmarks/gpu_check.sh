#!/usr/bin/env bash
# Every GPU check (issues 14 and 35) in one prepared command, for a session lent a GPU machine: the
# throughput rows that carry the GPU targets first, then the gpu suite, the pair rows and the
# scale table with N = 64. Each step has its own time limit (seconds, from the environment), so
# a call cut short keeps the logs of the steps before; all of it fits one 10-minute device call.
#
#   OUT=/tmp/gpu bash benchmarks/gpu_check.sh      # logs in $OUT (the device tool's folder there)
#
# The device machine's Python lacks gymnasium; carry it as wheels (see the device tool's README):
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 -d .whl \
#       gymnasium==1.4.0 farama-notifications==0.0.6
# and start the device command with
#   python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site;
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-benchmarks/gpu-out}"
mkdir -p "$OUT"
PY="${PY:-python3}"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
"$PY" -c "import torch, gymnasium; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.__version__, torch.cuda.get_device_name())" \
    2>&1 | tee "$OUT/device.log" || { echo "not a usable GPU machine (see $OUT/device.log)"; exit 2; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | tee -a "$OUT/device.log"

step() {  # step NAME SECONDS COMMAND...: run it under its limit, its output in $OUT/NAME.log
    local name=$1 limit=$2
    shift 2
    echo "== $name (limit ${limit} s): $*"
    timeout "$limit" "$@" 2>&1 | tee "$OUT/$name.log"
    echo "== $name: exit ${PIPESTATUS[0]}"
}
if [ "${POPULATION:-0}" != 1 ]; then
# b) 8x8 batched against one by one (target >= 20x on a GPU), with the fused round under
# compile and CUDA graphs; f) launches per pair-round; g) what compiling pays
step throughput-bfg "${LIMIT_BFG:-170}" "$PY" benchmarks/throughput.py --device cuda --only b --only f --only g \
    --no-memory --repeats 3 --compute "compute.compile=auto compute.cuda_graphs=auto" --compute compute.cuda_graphs=true
step gpu-suite "${LIMIT_SUITE:-180}" "$PY" -m pytest -q -m gpu -rs -x tests/arena/engine/test_cuda.py
# a) one pair against the hand-written loop (target >= 1.0 with compile or CUDA graphs)
step throughput-a "${LIMIT_A:-120}" "$PY" benchmarks/throughput.py --device cuda --only a --no-memory --repeats 3 \
    --rounds 50 --compute "compute.compile=auto compute.cuda_graphs=auto" --compute compute.cuda_graphs=true
# the default job with no flags, process start to exit (target <= 15 s), part by part
step default-job "${LIMIT_JOB:-120}" bash -c "TIMEFORMAT='end to end: %R s'; time \"$PY\" -m arena run \
    configs/tournament_ring8.yaml --profile --quiet --out '$OUT/default-job'"
# 64 x 64 on one GPU, and 32 x 32 beside it, with the fused round under CUDA graphs
step scale "${LIMIT_SCALE:-120}" "$PY" benchmarks/scale.py --device cuda --sizes 32 64 --run-matchings 3 \
    --compiled cuda_graphs --plot "$OUT/scale_gpu.png"
fi
# Issue 53's GPU budget (target: the mixture >= 999 modes of 1,000 at KL <= 0.05): the generator
# family's config on the GPU for 7 minutes of play (schedule lengthened so the clock, not the
# schedule, ends it), then its raw mixture, output and members on 25,600 samples. A device call of
# its own: POPULATION=1 OUT=/tmp/gpu bash benchmarks/gpu_check.sh (the steps above are skipped).
# Not yet measured: no device was lent to the sessions that wrote it.
if [ "${POPULATION:-0}" = 1 ]; then
    step population "${LIMIT_POP:-570}" "$PY" benchmarks/timed.py configs/stacked_mnist_family.yaml --seconds 420 \
        --out "$OUT/family" --device cuda --set schedule.matchings=960
fi
