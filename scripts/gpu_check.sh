#!/usr/bin/env bash
# The prepared check of a lent GPU, as one call of at most 9 minutes, run from the repository root:
#   bash scripts/gpu_check.sh OUT_DIR            on the GPU machine (prepare it first: scripts/gpu_bundle.sh, below)
#   bash scripts/gpu_check.sh --tiny OUT_DIR     the same three steps on the CPU, a handful of batches (make test runs it)
# (a) the notebooks' `#| cuda` cells (nbdev-test --flags cuda), the interrupted-and-resumed GPU run among them;
# (b) Table 1's eight FashionMNIST methods on the authors' conv network (presets/gpu_table1.yaml: backbone conv, wiring
#     as_run, seed 0, a fixed budget in epochs), all eight packed onto the one GPU, evaluated the paper's way:
#     results/gpu_table1/ and figures/gpu_table1/ (tiny mode: `--smoke`, on CPU slots, into runs/ only);
# (c) the packing factor: bench/packing.py, 1, 2, 4 and 8 conv runs side by side (epochs per hour alone vs together);
# (d) one step's cost by TrainConfig.compile: bench/step_cost.py, eager, per stage and the whole update compiled (CUDA
#     graphs; on FashionMNIST also in bf16 autocast), the three objectives on the FashionMNIST conv network and the RGB
#     one (tiny mode: the MLP's ELBO), within D_SECONDS (default 480): eager alone first, then each compiled
#     objective in its own process, compiling side by side and timed one at a time, so a run that fails or runs out
#     of time costs only its own line.
# `--only d` runs step (d) alone (a second device call when the first used its minutes).
# Writes OUT_DIR/gpu_check.txt (every command and what it printed), OUT_DIR/packing.json and, on the GPU,
# OUT_DIR/gpu_table1.tgz (results/gpu_table1, figures/gpu_table1 and the executed run notebooks) to commit.
# The GPU image lacks papermill, Jupyter's kernel and nbdev: `bash scripts/gpu_bundle.sh` here puts their wheels in
# .whl/ and FashionMNIST's files in data/, and the device call carries [".whl", "data"]; this script installs them.
set -uo pipefail
tiny=0
only=abcd
if [ "${1:-}" = --tiny ]; then tiny=1; shift; fi
if [ "${1:-}" = --only ]; then only=$2; shift 2; fi
run_part() { [[ $only == *$1* ]]; }
out=$(mkdir -p "${1:?usage: gpu_check.sh [--tiny] OUT_DIR}" && cd "$1" && pwd)
cd "$(dirname "$0")/.."
py=${PYTHON:-python3}
[ -x .venv/bin/python ] && [ -z "${PYTHON:-}" ] && py=.venv/bin/python
export PYTHONUNBUFFERED=1
log=$out/gpu_check.txt
: >"$log"
if [ -d .whl ] && ! $py -c "import papermill, ipykernel, nbdev" 2>/dev/null; then  # the GPU image: carried wheels
    $py -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site PATH=/tmp/site/bin:$PATH
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}  # hvaerl from this working tree (installed or not)
if [ -d data/fashion-mnist-xz ] && [ -z "${HVAERL_DATA_ROOT:-}" ]; then  # carried by scripts/gpu_bundle.sh
    $py - <<'PY' || exit 1
import gzip, lzma, pathlib
dest = pathlib.Path("data/debian/usr/share/datasets/fashion-mnist")  # where hvaerl looks under its data root
dest.mkdir(parents=True, exist_ok=True)
for f in pathlib.Path("data/fashion-mnist-xz").glob("*.xz"):
    (dest / f"{f.stem}.gz").write_bytes(gzip.compress(lzma.decompress(f.read_bytes()), 1))
PY
    export HVAERL_DATA_ROOT=$PWD/data
fi
step() {  # one command: its line and its output go to the log; it may run `limit` seconds (on the GPU; 4x in tiny mode)
    local limit=$(($1 * (tiny ? 4 : 1)))
    shift
    echo "\$ $*" | tee -a "$log"
    timeout "$limit" "$@" 2>&1 | grep --line-buffered -v -e Warning -e "WeightNorm.apply" -e "warnings.warn(" -e "_warn_once(" | tee -a "$log"
    local rc=${PIPESTATUS[0]}
    echo "(exit $rc)" | tee -a "$log"
    return "$rc"
}
fail=0
if [ $tiny = 1 ]; then
    echo "tiny mode: CPU, a handful of batches; nothing written to results/ or figures/" | tee -a "$log"
    devices=(--devices cpu --runs-per-device 2 --smoke --runs-dir "$out/runs/gpu_table1")
    cuda_flags=""  # the cuda cells need a GPU: run the notebooks that hold them without them (a check of the command)
    packing=(--device cpu --backbone mlp --runs 1 2 --batches 2 --warmup 1)
    timing=("--device cpu --backbone mlp --batch-size 8 --batches 2 --warmup 1")
    objectives_d=elbo
else
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee -a "$log"
    devices=(--devices cuda --runs-per-device 8)
    cuda_flags="--flags cuda"
    packing=(--device cuda --backbone conv --runs 1 2 4 8 --batches 30)
    timing=("--device cuda --backbone conv --batches 10 --warmup 3" "--device cuda --backbone conv --rgb --batches 10 --warmup 3")
    objectives_d="elbo rl_fused rl_stepwise"
fi
$py -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'GPUs', torch.cuda.device_count())" | tee -a "$log"
# (a) every notebook with a `#| cuda` cell
if run_part a; then
    for nb in $(grep -l '#| cuda' nbs/*.ipynb); do
        step 120 $py -m nbdev.test "$nb" $cuda_flags || fail=1
    done
fi
# (b) Table 1 on the conv network, packed onto the GPU (or two CPU slots)
if run_part b; then
    step 300 $py -m hvaerl.cli reproduce --preset gpu_table1 "${devices[@]}" || fail=1
    if [ $tiny = 1 ]; then  # a smoke skips the aggregation that the GPU run ends with: check it on the smoke's runs
        step 120 $py -m hvaerl.cli aggregate --preset gpu_table1 --results-dir "$out/runs/gpu_table1-smoke" \
            --figures-dir "$out/figures" || fail=1
    fi
fi
# (c) the packing factor
if run_part c; then
    step 90 $py bench/packing.py "${packing[@]}" --json "$out/packing.json" || fail=1
fi
# (d) one step by compile mode: eager first, alone; then every compiled form compiling side by side (the warm-up
#     batches pay the compile) and timed one at a time (bench/step_cost.py --ready-dir), all within D_SECONDS
if run_part d; then
    end=$((SECONDS + ${D_SECONDS:-480} * (tiny ? 4 : 1)))
    for net in "${timing[@]}"; do
        # shellcheck disable=SC2086  # $net is a list of flags
        step 60 "$py" bench/step_cost.py $net --objectives $objectives_d --compile none || fail=1
    done
    # shellcheck disable=SC2086
    [ $tiny = 1 ] || step 60 "$py" bench/step_cost.py ${timing[0]} --objectives $objectives_d --compile none --amp || fail=1
    jobs_d=()  # "flags" of each compiled run, in the order the log lists them
    for net in "${timing[@]}"; do
        for o in $objectives_d; do jobs_d+=("$net --objectives $o --compile step"); done
    done
    if [ $tiny = 0 ]; then  # captured, the step is arithmetic (results/gpu_conv/compile_step.md): bf16 on tensor cores
        for o in $objectives_d; do jobs_d+=("${timing[0]} --objectives $o --compile step --amp"); done
    fi  # (without CUDA graphs, --no-cuda-graphs: measured once, slower than eager; results/gpu_conv)
    for net in "${timing[@]}"; do jobs_d+=("$net --objectives $objectives_d --compile stages"); done
    ready=$out/step_d  # each run's output lands under OUT as it is printed: a call cut short keeps what was measured
    mkdir -p "$ready"
    left=$((end - SECONDS < 120 ? 120 : end - SECONDS))  # the eager runs overran: the compiled ones still get 2 minutes
    echo "\$ ${#jobs_d[@]} compiled runs side by side, timed one at a time, within ${left} s" | tee -a "$log"
    export TORCHINDUCTOR_COMPILE_THREADS=${TORCHINDUCTOR_COMPILE_THREADS:-2}  # a few compile workers per run, not 16 each
    for i in "${!jobs_d[@]}"; do
        # shellcheck disable=SC2086  # a list of flags
        timeout "$left" "$py" bench/step_cost.py ${jobs_d[$i]} --ready-dir "$ready" --ready-wait $((left > 180 ? left - 90 : left / 2)) \
            >"$ready/out.$i" 2>&1 &
    done
    wait
    for i in "${!jobs_d[@]}"; do
        rc=$(grep -c "ms/batch" "$ready/out.$i")
        echo "\$ $py bench/step_cost.py ${jobs_d[$i]} --ready-dir DIR" | tee -a "$log"
        grep -v -e Warning -e "WeightNorm.apply" -e "warnings.warn(" -e "_warn_once(" "$ready/out.$i" | tee -a "$log"
        [ "$rc" -gt 0 ] || { echo "(no timing: failed or out of time)" | tee -a "$log"; fail=1; }
    done
    rm -rf "$ready"
    grep -E "^(device |  (elbo|rl_)|    [a-z_]+ (launches|loss by batch))" "$log" >"$out/step_cost.txt"  # the timings alone, for results/gpu_conv
fi
if [ $tiny = 0 ] && run_part b; then  # what comes back from the device: at most 8 files, so the preset's results and table as one archive
    mkdir -p results/gpu_table1 && cp "$out/packing.json" results/gpu_table1/  # scripts/grid_cost.py reads it there
    tar -czf "$out/gpu_table1.tgz" results/gpu_table1 figures/gpu_table1 runs/gpu_table1/*/run.ipynb 2>>"$log"
fi
echo "gpu_check: $([ $fail = 0 ] && echo all steps passed || echo SOME STEPS FAILED)" | tee -a "$log"
exit $fail
