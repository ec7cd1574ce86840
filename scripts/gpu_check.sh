#!/usr/bin/env bash
# The GPU checks of a lent machine, in the developers' brief's order, as one script (run from the repository root):
#   bash scripts/gpu_check.sh OUT_DIR AUTHORS_CHECKOUT [TRAIN_MINUTES]
# 1. bench/step_cost.py on cuda: MLP and conv (FashionMNIST), conv on RGB batches, bf16 autocast;
# 2. the authors' own ELBO and RL batches on the same GPU (bench/authors_step_cost.py, their `oodd` package);
# 3. the authors' FashionMNIST conv network (as-run wiring) trained with the ELBO (hvae) and with RL (hvae_rl) for
#    TRAIN_MINUTES each, side by side on the GPU, then top KL and the paper's z_L probe (scripts/conv_as_run.py);
# 4. bench/step_cost.py with torch.compile, last and under a time limit, as compiling can take minutes.
# Writes OUT_DIR/bench.txt (every command and what it printed) and OUT_DIR/conv_runs.tgz (each run's metrics.json,
# history.json, config.json and log; not the checkpoints).
set -u
out=${1:?OUT_DIR}
authors=${2:?a checkout of ruyianry/rep_hierarchy_rl}
minutes=${3:-2}
py=${PYTHON:-python3}
export PYTHONUNBUFFERED=1
log=$out/bench.txt
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee -a "$log"
$py -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" | tee -a "$log"
step() {  # one timed command: its line and its output go to the log; it may run `limit` seconds
    local limit=$1
    shift
    echo "\$ $*" | tee -a "$log"
    timeout "$limit" "$@" 2>&1 | grep -v -e Warning -e "WeightNorm.apply" | tee -a "$log"
    echo "(exit ${PIPESTATUS[0]})" | tee -a "$log"
}
step 120 $py bench/step_cost.py --device cuda --backbone mlp conv
step 90 $py bench/step_cost.py --device cuda --backbone conv --rgb
step 120 $py bench/step_cost.py --device cuda --backbone mlp conv --amp
step 90 $py bench/authors_step_cost.py --authors "$authors" --device cuda
runs=$(mktemp -d)
for m in hvae hvae_rl; do  # each run is far from filling the GPU, so the two share it
    timeout $((minutes * 60 + 240)) $py scripts/conv_as_run.py --method $m --minutes "$minutes" --out "$runs/$m" \
        >"$runs/$m.log" 2>&1 &
done
wait
for m in hvae hvae_rl; do echo "$m: $(tail -1 "$runs/$m.log")" | tee -a "$log"; done
tar -czf "$out/conv_runs.tgz" -C "$runs" --exclude ckpt.pt --exclude tb .
step 150 $py bench/step_cost.py --device cuda --backbone mlp conv --compile
