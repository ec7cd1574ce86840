"""Ops dispatched per training step: what a GPU step costs when it is launch-bound (issue 39).

    python bench/launch_count.py                  # MLP, the FashionMNIST conv network and the RGB one; all three objectives
    python bench/launch_count.py --out results/launch_count/launch_count.md
    python bench/launch_count.py --no-compiled    # eager counts only (the compiled ones compile every graph: 25 min here)

Counts every aten op one training step (loss, backward, optimizer update: `hvaerl.objectives.train_step`) dispatches,
as a `TorchDispatchMode` sees them, after autograd and composite ops are decomposed: the ops that launch a kernel on a
GPU, apart from views and allocations (`empty*`), which launch nothing and are counted on their own, as the compiled
count leaves them out of its kernels too. Counting needs no GPU and does not depend on the batch size (8 here). The optimizer is Adam three ways: a loop over tensors (torch's default on CPU),
`foreach` (torch's default on CUDA: one launch per group of tensors) and `fused`.

The launch cost a count implies is ops x the H200's microseconds per op, calibrated on the measured steps whose
arithmetic is negligible (the MLP's, results/gpu_conv/bench.txt, in the `before` form they ran in): a floor under an
eager step's time, which a step with real arithmetic exceeds. Beside it the measured H200 time of the counted network
in the form it ran: the MLP's from bench.txt (`before`), the conv networks' from the whole-update check
(results/gpu_conv/compile_step.md: the authors' network, eager in today's form, `eager now`), with the host launches
torch.profiler counted there, eager and captured. A step captured whole launches a few graphs: its time is then its
arithmetic, which no count here predicts; for the conv networks it is measured, and set beside the eager time less the
launch cost, which it should roughly equal if the launch cost is right. The calibration is per counted op, not per
kernel: the profiler's host launches are about twice the conv steps' counted ops (an op may launch several kernels,
and copies and fills are launches too).

Three forms of the step:
- **before**: as the measured H200 steps ran (issue 39): Adam `foreach` (torch's CUDA default), each weight-normalised
  weight recomputed at every use. Beside it `loop`, the count on this CPU's default optimizer that the issue quoted.
- **eager now**: what `hvaerl.train` runs on a GPU in eager mode: Adam `fused` (`hvaerl.methods.adam`), each
  weight-normalised weight computed once per update (`guarded_update`'s `parametrize.cached`).
- **compiled**: `TrainConfig.compile="step"` (`UpdateSettings(compiled=True)`): the kernels the step's inductor graphs
  call (generated kernels and extern calls such as matmuls and convolutions, read from the generated code; every graph
  runs once per step, each compiled in a fresh process), and the graphs per step, which is what a GPU launches from the
  host when they are captured as CUDA graphs. Eager glue between graphs (zero_grad to None, rl_stepwise's mean of its
  L losses: 2 ops) is not counted.
"""

import argparse, re, statistics, subprocess, sys
from collections import Counter
from contextlib import nullcontext
from pathlib import Path
from unittest import mock
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from hvaerl.model import HierarchicalVAE, ModelConfig
from hvaerl.objectives import OBJECTIVES, UpdateSettings, train_step

# H200 ms per batch of 128, float32, eager, of the MLP in the `before` form (results/gpu_conv/bench.txt): the launch-bound
# steps the launch cost is calibrated on (bench.txt's conv times are of hvaerl's earlier ResConv stages, not counted here)
MLP_H200_MS = {("mlp", "elbo"): 10.5, ("mlp", "rl_stepwise"): 69.4}
GPU_CHECK_TABLE = Path(__file__).resolve().parents[1] / "results" / "gpu_conv" / "compile_step.md"
NETWORKS = {  # the benchmarks' networks (bench/step_cost.py's `architecture`)
    "mlp": dict(backbone="mlp"),
    "conv": dict(backbone="conv", latents=(8, 64, 32, 16, 8), spatial_levels=1),
    "conv_rgb": dict(backbone="conv", image_shape=(3, 32, 32), latents=(128, 64, 256, 128, 64), spatial_levels=2),
}


def launches_nothing(func) -> bool:
    "A view (it aliases its input's memory) or an allocation: an op no GPU kernel runs for."
    return func.is_view or func.overloadpacket.__name__.startswith(("empty", "new_empty"))


class OpCounter(TorchDispatchMode):
    "Counts the aten ops dispatched while active: those that launch a kernel on a GPU (`ops`) and views and allocations (`silent`)."

    def __init__(self):
        super().__init__()
        self.ops, self.silent = Counter(), Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        (self.silent if launches_nothing(func) else self.ops)[str(func.overloadpacket.__name__)] += 1
        return func(*args, **(kwargs or {}))


def _setup(network: str, optimizer: str, batch: int = 8):
    "A seeded model of `network`, a batch and Adam as `optimizer` ('loop', 'foreach', 'fused')."
    torch.manual_seed(0)
    model = HierarchicalVAE(ModelConfig(inference="bottom_up", wiring="as_run", **NETWORKS[network]))
    shape = model.config.image_shape
    x = (torch.rand(batch, *shape) < 0.5).float() if shape[0] == 1 else torch.rand(batch, *shape)
    if model.wants_data_init:
        model.data_init(x)
    kw = {"loop": dict(foreach=False), "foreach": dict(foreach=True), "fused": dict(fused=True)}[optimizer]
    return model, x, torch.optim.Adam(model.parameters(), 3e-4, **kw)


def count_step(network: str, objective: str, optimizer: str, weight_norm_once: bool = True) -> tuple:
    "(ops that launch, views and allocations) one eager `train_step` of `objective` dispatches on `network` with Adam as `optimizer`; the second step's (the first allocates the optimizer's state). `weight_norm_once=False`: as before `guarded_update` cached the weight-normalised weights."
    model, x, opt = _setup(network, optimizer)
    settings = UpdateSettings(check_finite=False)  # a GPU step defers the check (hvaerl.train)
    uncached = mock.patch("hvaerl.objectives.parametrize.cached", nullcontext)
    with nullcontext() if weight_norm_once else uncached:
        train_step(model, opt, x, objective, 0.9, settings=settings)
        with OpCounter() as c:
            train_step(model, opt, x, objective, 0.9, settings=settings)
    return sum(c.ops.values()), sum(c.silent.values())


KERNEL_CALL = re.compile(
    r"^\s+(?:\w+ = )?(cpp_fused_\w+|triton_\w+\.run|extern_kernels\.\w+|aten\.\w+|torch\.ops\.\w+\.\w+)"
)
NOT_A_KERNEL = re.compile(r"empty|reinterpret|as_strided|view|alias")


def count_compiled(network: str, objective: str) -> tuple:
    "(kernel calls, graphs) of one compiled `train_step` (`UpdateSettings(compiled=True)`), counted in this process's generated code: call it in a fresh process (`_compiled_in_subprocess`)."
    from torch._inductor.codecache import PyCodeCache

    model, x, opt = _setup(network, "loop")  # the CPU's optimizer, compiled with the step
    settings = UpdateSettings(check_finite=False, compiled=True)
    for _ in range(2):  # the first compiles; the second must not add a graph
        before = len(PyCodeCache.modules)
        train_step(model, opt, x, objective, 0.9, settings=settings)
    assert len(PyCodeCache.modules) == before, "the second step compiled again"
    calls = 0
    for module in PyCodeCache.modules:
        source = Path(module.__file__).read_text()
        body = source[source.index("def call(") :].split("\ndef ", 1)[0]
        lines = [KERNEL_CALL.match(line) for line in body.splitlines()]
        calls += sum(1 for m in lines if m and not NOT_A_KERNEL.search(m.group(1)))
    return calls, len(PyCodeCache.modules)


def _compiled_in_subprocess(network: str, objective: str) -> tuple:
    code = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import torch; torch.set_num_threads(1); from launch_count import count_compiled; print(*count_compiled({network!r}, {objective!r}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    return int(out[-2]), int(out[-1])


def measured_conv(path: Path = GPU_CHECK_TABLE) -> dict:
    "{(network, objective): dict(eager_ms, eager_launches, captured_ms, captured_launches)} from the conv networks' H200 check (scripts/gpu_step_table.py's table): ms per batch and the host launches per batch torch.profiler counted, eager and with the whole update captured as CUDA graphs."
    if not path.exists():
        return {}
    out, names = {}, {"FashionMNIST": "conv", "RGB": "conv_rgb"}
    for line in path.read_text().splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) > 4 and cells[0] in names:
            eager, captured = (re.fullmatch(r"([\d.]+) \(([\d,]+)\)", c) for c in cells[3:5])  # "ms (host launches)"
            if eager and captured:
                launches = lambda m: int(m[2].replace(",", ""))
                out[(names[cells[0]], cells[1])] = dict(
                    eager_ms=float(eager[1]),
                    eager_launches=launches(eager),
                    captured_ms=float(captured[1]),
                    captured_launches=launches(captured),
                )
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--networks", nargs="+", default=list(NETWORKS), choices=list(NETWORKS))
    p.add_argument("--objectives", nargs="+", default=list(OBJECTIVES), choices=list(OBJECTIVES))
    p.add_argument("--no-compiled", action="store_true", help="skip the compiled counts (each compiles its graphs)")
    p.add_argument("--out", default=None, help="also write the table (markdown) here")
    a = p.parse_args()
    torch.set_num_threads(1)
    rows = {}
    for net in a.networks:
        for obj in a.objectives:
            (loop, _), (before, _), (now, silent) = (
                count_step(net, obj, "loop", weight_norm_once=False),
                count_step(net, obj, "foreach", weight_norm_once=False),
                count_step(net, obj, "fused"),
            )
            r = dict(loop=loop, before=before, now=now, silent=silent)
            r["kernels"], r["graphs"] = (None, None) if a.no_compiled else _compiled_in_subprocess(net, obj)
            rows[(net, obj)] = r
            print(net, obj, r, flush=True)
    per_op = [ms / rows[k]["before"] * 1000 for k, ms in MLP_H200_MS.items() if k in rows]
    calibration = statistics.median(per_op) if per_op else float("nan")
    conv = measured_conv()
    measured = {k: f"{ms} (before)" for k, ms in MLP_H200_MS.items()}
    measured |= {k: f"{m['eager_ms']} (eager now)" for k, m in conv.items()}
    ms = lambda ops: f"{ops * calibration / 1000:.1f}"
    ratio = lambda a, b: f"{a / b:.1f}x" if b else "—"
    on_gpu = lambda m: (
        f"{m['eager_launches']:,} → {m['captured_launches']:,} ({ratio(m['eager_launches'], m['captured_launches'])})"
    )
    lines = [
        f"# Ops per training step, eager and compiled (torch {torch.__version__}, batch-independent; `bench/launch_count.py`)",
        "",
        "Ops: those that launch a kernel; views and allocations launch none and are counted apart (`views and allocations`, "
        "eager now), as the compiled kernels leave them out too. `loop`: Adam per tensor and weight norm at every use, as "
        "issue 39's counts ran. `before`: as the MLP's measured H200 steps ran (Adam foreach, weight norm at every use). `eager now`: "
        "Adam fused, weight norm once per update (what `hvaerl.train` runs on a GPU). `compiled`: kernels the whole-step "
        'graphs call (`compile="step"`); `graphs`: graphs per step, captured as CUDA graphs on a GPU.',
        "",
        f"Launch cost: ops x {calibration:.2f} µs, the H200's time per op in the measured steps whose arithmetic is "
        f"negligible (the MLP's {len(per_op)}, divided by their `before` counts: "
        + ", ".join(f"{v:.2f}" for v in per_op)
        + "): a floor under an eager step, per counted op (the profiler's host launches, below, are more: an op may "
        "launch several kernels). Measured H200 ms: the counted network in the form it ran (the MLP's "
        "results/gpu_conv/bench.txt; the conv networks' eager column of results/gpu_conv/compile_step.md). Less the "
        "launch cost, the conv steps' eager time leaves their arithmetic, which the whole update captured measures "
        "alone (`captured H200 ms`, compile_step.md): the two agree where the launch cost is right. H200 host "
        "launches: per batch, counted by torch.profiler on the lent H200 (kernel launches, graph replays, copies and "
        "fills), eager and with the whole update captured.",
        "",
        "| network | objective | ops, loop | ops, before | ops, eager now | views and allocations | eager now vs before | vs loop | kernels, compiled | graphs | compiled vs before | vs loop | launch cost ms, before | eager now | measured H200 ms | measured less launch cost | captured H200 ms | H200 host launches, eager → captured |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (net, obj), r in rows.items():
        k = r["kernels"]
        lines.append(
            f"| {net} | {obj} | {r['loop']:,} | {r['before']:,} | {r['now']:,} | {r['silent']:,} | {ratio(r['before'], r['now'])} | "
            f"{ratio(r['loop'], r['now'])} | {f'{k:,}' if k else '—'} | {r['graphs'] or '—'} | {ratio(r['before'], k)} | "
            f"{ratio(r['loop'], k)} | {ms(r['before'])} | {ms(r['now'])} | {measured.get((net, obj), '—')} | "
            + (
                f"{c['eager_ms'] - r['now'] * calibration / 1000:.1f} | {c['captured_ms']} | {on_gpu(c)} |"
                if (c := conv.get((net, obj)))
                else "— | — | — |"
            )
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(text)


if __name__ == "__main__":
    main()
