"""Ops dispatched per training step: what a GPU step costs when it is launch-bound (issue 39).

    python bench/launch_count.py                  # MLP, the FashionMNIST conv network and the RGB one; all three objectives
    python bench/launch_count.py --out results/launch_count/launch_count.md

Counts every aten op one training step (loss, backward, optimizer update: `hvaerl.objectives.train_step`) dispatches,
as a `TorchDispatchMode` sees them: the kernels a GPU would launch, after autograd and composite ops are decomposed
(views included, which launch nothing: the count is an upper bound on launches). Counting needs no GPU and does not
depend on the batch size (8 here). The optimizer is Adam three ways: a loop over tensors (torch's default on CPU),
`foreach` (torch's default on CUDA: one launch per group of tensors) and `fused`.

The H200 time a count implies is ops x the microseconds per op that the measured H200 steps
(results/gpu_conv/bench.txt) give when divided by their own counts here (`CALIBRATION`, the foreach optimizer they ran
with on CUDA); `measured` is that H200 time where there is one. A step captured whole (one CUDA graph per batch)
launches once: its time is then its arithmetic, which no count here predicts.
"""

import argparse, copy, statistics
from collections import Counter
from pathlib import Path
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from hvaerl.model import HierarchicalVAE, ModelConfig
from hvaerl.objectives import OBJECTIVES, UpdateSettings, train_step

# H200 ms per batch of 128, float32, eager (results/gpu_conv/bench.txt): the times the counts are calibrated on
MEASURED_H200_MS = {
    ("mlp", "elbo"): 10.5,
    ("mlp", "rl_stepwise"): 69.4,
    ("conv", "elbo"): 26.9,
    ("conv", "rl_stepwise"): 195.5,
    ("conv_rgb", "elbo"): 83.3,
    ("conv_rgb", "rl_stepwise"): 859.7,
}
NETWORKS = {  # the benchmarks' networks (bench/step_cost.py's `architecture`)
    "mlp": dict(backbone="mlp"),
    "conv": dict(backbone="conv", latents=(8, 64, 32, 16, 8), spatial_levels=1),
    "conv_rgb": dict(backbone="conv", image_shape=(3, 32, 32), latents=(128, 64, 256, 128, 64), spatial_levels=2),
}


class OpCounter(TorchDispatchMode):
    "Counts the aten ops dispatched while active (each one a kernel launch on a GPU, views aside)."

    def __init__(self):
        super().__init__()
        self.ops = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops[str(func.overloadpacket.__name__)] += 1
        return func(*args, **(kwargs or {}))


def count_step(network: str, objective: str, optimizer: str, batch: int = 8) -> int:
    "Ops one `train_step` of `objective` dispatches on `network` with Adam as `optimizer` ('loop', 'foreach', 'fused'); the second step's (the first allocates the optimizer's state)."
    torch.manual_seed(0)
    model = HierarchicalVAE(ModelConfig(inference="bottom_up", wiring="as_run", **NETWORKS[network]))
    shape = model.config.image_shape
    x = (torch.rand(batch, *shape) < 0.5).float() if shape[0] == 1 else torch.rand(batch, *shape)
    if model.wants_data_init:
        model.data_init(x)
    kw = {"loop": dict(foreach=False), "foreach": dict(foreach=True), "fused": dict(fused=True)}[optimizer]
    opt = torch.optim.Adam(model.parameters(), 3e-4, **kw)
    settings = UpdateSettings(check_finite=False)  # a GPU step defers the check (hvaerl.train)
    train_step(model, opt, x, objective, 0.9, settings=settings)
    with OpCounter() as c:
        train_step(model, opt, x, objective, 0.9, settings=settings)
    return sum(c.ops.values())


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--networks", nargs="+", default=list(NETWORKS), choices=list(NETWORKS))
    p.add_argument("--out", default=None, help="also write the table (markdown) here")
    a = p.parse_args()
    torch.set_num_threads(1)
    rows = {}
    for net in a.networks:
        for obj in OBJECTIVES:
            rows[(net, obj)] = {o: count_step(net, obj, o) for o in ("loop", "foreach", "fused")}
            print(net, obj, rows[(net, obj)], flush=True)
    per_op = [ms / rows[k]["foreach"] * 1000 for k, ms in MEASURED_H200_MS.items() if k in rows]
    calibration = statistics.median(per_op) if per_op else float("nan")
    lines = [
        f"# Ops dispatched per training step (torch {torch.__version__}, batch-independent; `bench/launch_count.py`)",
        "",
        f"Calibration: {calibration:.2f} µs per op on the H200 (median of {len(per_op)} measured steps / their foreach counts: "
        + ", ".join(f"{v:.2f}" for v in per_op)
        + ").",
        "",
        "| network | objective | ops, Adam loop | ops, Adam foreach | ops, Adam fused | implied H200 ms (foreach) | implied H200 ms (fused) | measured H200 ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for (net, obj), r in rows.items():
        measured = MEASURED_H200_MS.get((net, obj))
        lines.append(
            f"| {net} | {obj} | {r['loop']:,} | {r['foreach']:,} | {r['fused']:,} | {r['foreach'] * calibration / 1000:.1f} | "
            f"{r['fused'] * calibration / 1000:.1f} | {measured if measured else '—'} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(text)


if __name__ == "__main__":
    main()
