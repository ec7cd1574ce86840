"""The H200 step costs by compile mode as one table: results/gpu_conv/step_cost.txt -> results/gpu_conv/compile_step.md.

    python scripts/gpu_step_table.py                 # the table, from the timings and the FLOP counts kept in results/
    python scripts/gpu_step_table.py --count-flops   # first count each step's arithmetic here (CPU, a few minutes)

`step_cost.txt` holds the timing lines of `scripts/gpu_check.sh --only d` (bench/step_cost.py by `--compile` mode: eager,
each stage, the whole update with and without CUDA graphs) with the host's launches per batch that torch.profiler
counted on the GPU. `flops.json` holds the floating-point operations of one training step (loss, backward, optimizer
update) of each objective on the two conv networks at batch 128, counted by `torch.utils.flop_counter.FlopCounterMode`
(matrix products and convolutions; elementwise work uncounted): the arithmetic that no launch saving removes.
"""

import argparse, copy, json, re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GPU = ROOT / "results" / "gpu_conv"
OBJECTIVES = ("elbo", "rl_fused", "rl_stepwise")
FP32_PEAK_TFLOPS = 67  # H200 SXM, FP32 without tensor cores (NVIDIA's datasheet)
TF32_PEAK_TFLOPS = 495  # H200 SXM, TF32 on the tensor cores, dense (the datasheet's 989 is with sparsity)


def count_flops() -> dict:
    "{network: {objective: GFLOP}} of one training step at batch 128, counted on this CPU."
    import sys
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    sys.path.insert(0, str(ROOT / "bench"))
    from step_cost import architecture  # the networks the GPU check timed
    from hvaerl.methods import adam
    from hvaerl.model import HierarchicalVAE, ModelConfig
    from hvaerl.objectives import train_step

    out = {}
    for net, rgb in (("FashionMNIST", False), ("RGB", True)):
        torch.manual_seed(0)
        arch = architecture("conv", rgb)
        model = HierarchicalVAE(ModelConfig(inference="bottom_up", backbone="conv", wiring="as_run", **arch))
        x = (torch.rand(128, *model.config.image_shape) > 0.5).float()
        model.data_init(x)
        out[net] = {}
        for o in OBJECTIVES:
            m = copy.deepcopy(model)
            with FlopCounterMode(display=False) as fc:
                train_step(m, adam(m, 3e-4)["model"], x, o, 0.9)
            out[net][o] = round(fc.get_total_flops() / 1e9, 1)
            print(net, o, out[net][o], "GFLOP", flush=True)
    return out


def parse(text: str) -> dict:
    "{(network, mode, objective): {ms, launches, first_s}} from step_cost.txt's blocks."
    out, key = {}, None
    for line in text.splitlines():
        if line.startswith("device cuda"):
            net = "RGB" if "(128, 16, 16)" in line else "FashionMNIST"
            mode = re.search(r"compile (\w+)(, no CUDA graphs)?$", line)
            mode = "eager" if not mode else mode[1] + ("_no_graphs" if mode[2] else "")
            mode = f"bf16_{mode}" if "bf16 autocast" in line else mode
            key = (net, mode)
        elif m := re.match(r"\s+(\w+)\s+([\d.]+) ms/batch.*?(?:first batch ([\d.]+) s)?$", line):
            out[(*key, m[1])] = dict(ms=float(m[2]), first_s=float(m[3]) if m[3] else None)
        elif m := re.match(r"\s+(\w+) loss by batch: (.*)$", line):
            out[(*key, m[1])]["losses"] = [float(v) for v in m[2].split()]
        elif m := re.match(r"\s+(\w+) launches per batch: (\d+) kernels, (\d+) CUDA graph replays, (\d+) copies", line):
            out[(*key, m[1])]["launches"] = int(m[2]) + int(m[3]) + int(m[4])
    return out


def loss_gap(eager: dict | None, step: dict | None) -> str:
    "The largest relative difference of the compiled run's loss from eager's, batch by batch (the same batches and draws), or why there is none."
    if not (eager and step and "losses" in eager and "losses" in step):
        return "not recorded"
    return f"{max(abs(c - e) / abs(e) for e, c in zip(eager['losses'], step['losses'])):.1e}"


def table(runs: dict, flops: dict) -> str:
    def cell(r: dict | None) -> str:
        if r is None:
            return "—"
        return f"{r['ms']:.1f} ({'not counted' if r.get('launches') is None else format(r['launches'], ',')})"

    lines = [
        "| network | objective | GFLOP per step | eager: ms (host launches) | whole update, CUDA graphs: ms (host launches) "
        "| faster than eager | TFLOP/s | compile, s | loss vs eager | whole update, no CUDA graphs: ms (launches) "
        "| each stage compiled: ms (launches) | bf16 autocast, eager: ms | bf16 autocast, whole update: ms (loss vs eager) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for net in ("FashionMNIST", "RGB"):
        for o in OBJECTIVES:
            eager, step = runs.get((net, "eager", o)), runs.get((net, "step", o))
            gflop = flops.get(net, {}).get(o)
            speed = f"{eager['ms'] / step['ms']:.2f}x" if eager and step else "—"
            rate = f"{gflop / step['ms']:.0f}" if gflop and step else "—"
            first = f"{step['first_s']:.0f}" if step and step["first_s"] else "—"
            gap = loss_gap(eager, step)
            bf16 = runs.get((net, "bf16_step", o))
            lines.append(
                f"| {net} | {o} | {gflop or '—'} | {cell(eager)} | {cell(step)} | {speed} | {rate} | {first} | {gap} "
                f"| {cell(runs.get((net, 'step_no_graphs', o)))} | {cell(runs.get((net, 'stages', o)))} "
                f"| {cell(runs.get((net, 'bf16_eager', o)))} | {cell(bf16)}"
                f"{'' if bf16 is None else f' ({loss_gap(eager, bf16)})'} |"
            )
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--count-flops", action="store_true", help="count each step's FLOPs here first (flops.json)")
    a = p.parse_args()
    if a.count_flops:
        (GPU / "flops.json").write_text(json.dumps(count_flops(), indent=1) + "\n")
    flops = json.loads((GPU / "flops.json").read_text()) if (GPU / "flops.json").exists() else {}
    text = (
        "# One training step on the H200 by compile mode (`python scripts/gpu_step_table.py`)\n\n"
        "Median ms per batch of 128, float32, from results/gpu_conv/step_cost.txt (`scripts/gpu_check.sh --only d`); "
        "host launches: kernel launches, CUDA graph replays, copies and fills that torch.profiler counted for one batch. "
        f"TFLOP/s: the step's counted arithmetic (flops.json) over its time with CUDA graphs; the H200's FP32 peak "
        f"without tensor cores is {FP32_PEAK_TFLOPS}, its dense TF32 tensor-core peak {TF32_PEAK_TFLOPS} (cuDNN runs float32 "
        "convolutions in TF32 by default). Compile: the first batch's seconds, the compile included (how many compiled "
        "side by side: results/gpu_conv/README.md). Loss vs eager: the largest relative difference of the compiled update's loss from eager's over "
        "the same batches and noise draws (`not recorded`: timed before bench/step_cost.py printed its losses).\n\n"
        + table(parse((GPU / "step_cost.txt").read_text()), flops)
        + "\n"
    )
    (GPU / "compile_step.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
