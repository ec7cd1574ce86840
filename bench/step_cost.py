"""Median seconds per training batch of `elbo`, `rl_stepwise` and `rl_fused` (batch 128, L=5), in one run.

    python bench/step_cost.py                        # MLP on CPU, real FashionMNIST batches, the authors' executed wiring
    python bench/step_cost.py --backbone mlp conv    # both backbones (conv: the authors' FashionMNIST network, 8x14x14 z_1)
    python bench/step_cost.py --device cuda --backbone conv
    python bench/step_cost.py --backbone conv --rgb     # the paper's RGB network on 3x32x32 batches
    python bench/step_cost.py --wiring skip             # hvae-oodd's intended wiring (or markov: no skips; nbs/03_model)
    python bench/step_cost.py --device cuda --backbone conv --compile stages   # torch.compile of every stage
    python bench/step_cost.py --device cuda --backbone conv --compile step     # each update whole, as CUDA graphs
    python bench/step_cost.py --device cuda --backbone conv --compile step --in-turn   # one objective after another

The optimizer is the trainer's (`hvaerl.methods.adam`: fused on a GPU) and each update runs as the trainer runs it
(`guarded_update` with the trainer's `UpdateSettings`: `--compile step` compiles the whole update, CUDA graphs on a
GPU; `TrainConfig.compile`). Runs in float32 like the trainer's default; --amp times bf16 autocast of the networks (the trainer's `amp`). It reports
each objective's peak GPU memory and the epochs per hour it implies (469 batches of 128 per FashionMNIST epoch, 390 for
CIFAR's 50,000 images).

Each objective trains its own copy of the same initial model; batches are timed after a warm-up, and the three
objectives are interleaved batch by batch so that load on a shared machine hits them alike; `--in-turn` warms every
objective up first (its first batch's seconds are the compile, under `--compile`), then times them one after another
and prints each objective's line as soon as it is measured: a run cut short by a time limit keeps what it measured.
With `--ready-dir DIR`, several such runs compile side by side and time one at a time: each warms its objectives up
(the compile), waits until no other run that named DIR is still warming up (at most `--ready-wait` seconds from its
start), then times its batches holding DIR/gpu.lock, so no run is timed while another compiles or runs on the GPU.
For reference: the authors' implementation costs about 12x an ELBO batch per RL batch (5 encoder passes,
20 decoder passes, 5 backward passes and 5 optimizer steps). Targets: rl_fused/elbo <= 3, rl_stepwise/rl_fused >= 3.
"""

import argparse, copy, os, statistics, time
from collections import Counter
from contextlib import nullcontext
from pathlib import Path
import torch
from filelock import FileLock
from hvaerl.model import HierarchicalVAE, ModelConfig
from hvaerl.objectives import OBJECTIVES, UpdateSettings, train_step
from hvaerl.methods import adam
from hvaerl.train import COMPILE_MODES, compile_stages


def batches(n: int, batch_size: int, synthetic: bool, like: str = "fashion_mnist"):
    "n batches of real FashionMNIST (dynamically binarized), or same-shape synthetic data if asked (timing only)."
    from hvaerl.data import load_dataset, synthetic_dataset_for_tests

    ds = synthetic_dataset_for_tests(like, n=batch_size * n) if synthetic else load_dataset(like, "fit")
    if hasattr(ds, "reseed"):
        ds.reseed(0)  # the dynamic binarization's draws: the same batches in every run
    idx = torch.randperm(len(ds), generator=torch.Generator().manual_seed(0))[: n * batch_size]
    return [ds.batch(idx[i * batch_size : (i + 1) * batch_size])[0] for i in range(n)], ds.source


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu")
    p.add_argument("--backbone", nargs="+", default=["mlp"], choices=["mlp", "conv"], help="one table per backbone")
    p.add_argument("--inference", default="bottom_up", choices=["bottom_up", "top_down"])
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--batches", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--synthetic", action="store_true")
    p.add_argument(
        "--wiring",
        default="as_run",
        choices=["as_run", "skip", "markov"],
        help="which stages read their neighbours (nbs/03_model)",
    )
    p.add_argument(
        "--rgb",
        action="store_true",
        help="3x32x32 batches (CIFAR-10's shape; synthetic, as CIFAR is not on this "
        "machine) through the paper's RGB hierarchy {128_conv, 64_conv, 256, 128, 64} (conv backbone)",
    )
    p.add_argument(
        "--amp", action="store_true", help="bf16 autocast of the networks (TrainConfig.amp), to time against float32"
    )
    p.add_argument(
        "--compile",
        nargs="?",
        const="stages",
        default="none",
        choices=["none", "stages", "step"],
        help="TrainConfig.compile: every stage, or each whole update (the warm-up batches pay the compile time)",
    )
    p.add_argument(
        "--no-cuda-graphs",
        action="store_true",
        help="with --compile step on a GPU: the compiled update without CUDA graphs (its kernels launched one by one)",
    )
    p.add_argument(
        "--in-turn",
        action="store_true",
        help="warm every objective up, then time them one after another, each line printed when measured",
    )
    p.add_argument(
        "--ready-dir",
        type=Path,
        help="compile beside other runs naming this folder, then time alone (implies --in-turn; see above)",
    )
    p.add_argument(
        "--ready-wait", type=float, default=600, help="with --ready-dir: the longest wait, from start, for the others"
    )
    p.add_argument("--objectives", nargs="+", default=list(OBJECTIVES), choices=list(OBJECTIVES))
    a = p.parse_args()
    a.started = time.monotonic()
    if a.ready_dir:  # announce the warm-up before anything slow, so that runs done sooner wait for this one
        a.ready_dir.mkdir(parents=True, exist_ok=True)
        (a.ready_dir / f"warming.{os.getpid()}").touch()
    dev = torch.device(a.device)
    xs, source = batches(
        a.batches + a.warmup, a.batch_size, a.synthetic or a.rgb, "cifar10" if a.rgb else "fashion_mnist"
    )
    for backbone in a.backbone:
        time_backbone(a, backbone, dev, xs, source)


def architecture(backbone: str, rgb: bool) -> dict:
    "The paper's RGB hierarchy {128_conv, 64_conv, 256, 128, 64}; on FashionMNIST the conv backbone is the authors' script's (z_1 a spatial 8x14x14 map, 64/32/16/8 above), the MLP the text's (128, 64, 32, 16, 8)."
    if rgb:
        return dict(
            image_shape=(3, 32, 32), latents=(128, 64, 256, 128, 64), spatial_levels=2 if backbone == "conv" else 0
        )
    return dict(latents=(8, 64, 32, 16, 8), spatial_levels=1) if backbone == "conv" else {}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def wait_for_turn(a):
    "With --ready-dir: mark this run warm, wait until no live run is still warming up (or --ready-wait has passed), then the lock that times one run at a time; else nothing to hold."
    if not a.ready_dir:
        return nullcontext()
    (a.ready_dir / f"warming.{os.getpid()}").unlink(missing_ok=True)
    while time.monotonic() - a.started < a.ready_wait:
        if not any(_alive(int(m.suffix[1:])) for m in a.ready_dir.glob("warming.*")):
            break
        time.sleep(0.5)
    return FileLock(a.ready_dir / "gpu.lock")


LAUNCHES = {  # the CUDA runtime and driver calls by which the host starts work on the GPU
    "kernels": ("cudaLaunchKernel", "cudaLaunchKernelExC", "cuLaunchKernel", "cuLaunchKernelEx"),
    "graphs": ("cudaGraphLaunch", "cuGraphLaunch"),
    "copies": ("cudaMemcpyAsync", "cudaMemsetAsync", "cuMemcpyAsync", "cuMemsetAsync"),
}


def count_launches(step) -> dict:
    "What the host launches on the GPU in one call of `step`: {kernels, graphs (CUDA graph replays), copies}, from torch.profiler's runtime events."
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        step()
        torch.cuda.synchronize()
    names = [e.name for e in prof.events()]
    out = {k: sum(n in calls for n in names) for k, calls in LAUNCHES.items()}
    known = {c for calls in LAUNCHES.values() for c in calls}
    out["other"] = dict(Counter(n for n in names if "Launch" in n and n not in known))  # a name this list lacks
    return out


def time_backbone(a, backbone: str, dev, xs, source):
    torch.manual_seed(0)
    base = HierarchicalVAE(
        ModelConfig(inference=a.inference, backbone=backbone, wiring=a.wiring, **architecture(backbone, a.rgb))
    )
    if base.wants_data_init:
        base.data_init(xs[0])  # weight norm's data-dependent init, as the trainer does on a fresh run
    objectives = a.objectives
    models = {o: copy.deepcopy(base).to(dev) for o in objectives}
    mode = COMPILE_MODES[a.compile]
    if mode is True:
        for m in models.values():
            compile_stages(m)
    amp = a.amp
    settings = UpdateSettings(
        autocast=dev.type if amp else None,
        check_finite=dev.type != "cuda",
        compiled=mode == "step",
        cuda_graphs=mode == "step" and dev.type == "cuda" and not a.no_cuda_graphs,
    )  # as hvaerl.train's session builds them
    opts = {o: adam(m, 3e-4)["model"] for o, m in models.items()}
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    times = {o: [] for o in objectives}
    peak = {o: 0 for o in objectives}
    losses = {o: [] for o in objectives}

    def one_batch(o, i, keep_loss=True):
        "Batch i through objective o's model: its seconds; its loss kept (read after the clock stops)."
        x = xs[i].to(dev)
        torch.manual_seed(i)  # batch i draws the same noise in every run, interleaved or not, compiled or not
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats(dev)
        sync()
        t0 = time.perf_counter()
        parts = train_step(models[o], opts[o], x, o, 0.9, settings=settings)
        sync()
        took = time.perf_counter() - t0
        if dev.type == "cuda":
            peak[o] = max(peak[o], torch.cuda.max_memory_allocated(dev))
        if keep_loss:
            losses[o].append(parts["loss"].item())
        return took

    c = base.config
    graphs = ", no CUDA graphs" if a.compile == "step" and a.no_cuda_graphs and dev.type == "cuda" else ""
    print(
        f"device {dev} ({torch.get_num_threads()} threads), backbone {backbone}, inference {a.inference}, "
        f"wiring {c.wiring}, latents {c.latent_shapes}, batch {a.batch_size}, L={c.levels}, "
        f"{a.batches} timed batches of {source}, {'bf16 autocast' if amp else 'float32'}"
        f"{'' if a.compile == 'none' else f', compile {a.compile}{graphs}'}",
        flush=True,
    )
    per_epoch = (50_000 if a.rgb else 60_000) // a.batch_size
    med, first = {}, {}

    def report(o):
        med[o] = statistics.median(times[o])
        loss_line = f"    {o} loss by batch: {' '.join(f'{v:.7g}' for v in losses[o])}"
        mem = f", peak GPU memory {peak[o] / 2**30:.2f} GiB" if dev.type == "cuda" else ""
        took = f", first batch {first[o]:.1f} s" if o in first else ""
        print(
            f"  {o:12s} {med[o] * 1000:8.1f} ms/batch (median), {3600 / (med[o] * per_epoch):7.1f} epochs/hour{mem}{took}",
            flush=True,
        )
        print(loss_line, flush=True)  # the same batches and draws in every run: compiled against eager
        if dev.type == "cuda":  # one more batch, profiled: what the host launched for it
            try:
                n = count_launches(lambda: one_batch(o, len(xs) - 1, keep_loss=False))  # no read-back counted
            except Exception as e:  # the timing above stands without it
                print(f"    {o} launches per batch: not counted ({type(e).__name__}: {e})", flush=True)
                return
            other = f", other launch calls {n['other']}" if n["other"] else ""
            print(
                f"    {o} launches per batch: {n['kernels']} kernels, {n['graphs']} CUDA graph replays, "
                f"{n['copies']} copies and fills{other}",
                flush=True,
            )

    if a.in_turn or a.ready_dir:  # every objective warmed up (compiled) first, then each timed and printed in turn
        for o in objectives:
            first[o] = one_batch(o, 0)
            for i in range(1, a.warmup):
                one_batch(o, i)
            print(f"  ({o} warmed up: first batch {first[o]:.1f} s)", flush=True)
        with wait_for_turn(a):  # with --ready-dir: once no other run is compiling, and one run at a time
            for o in objectives:
                times[o] = [one_batch(o, i) for i in range(a.warmup, len(xs))]
                report(o)
    else:  # interleaved batch by batch, so that load on a shared machine hits every objective alike
        for i in range(len(xs)):
            for o in objectives:
                t = one_batch(o, i)
                if i >= a.warmup:
                    times[o].append(t)
        for o in objectives:
            report(o)
    if {"elbo", "rl_fused", "rl_stepwise"} <= set(med):
        print(f"  rl_fused / elbo        = {med['rl_fused'] / med['elbo']:.2f}   (target <= 3)")
        print(f"  rl_stepwise / rl_fused = {med['rl_stepwise'] / med['rl_fused']:.2f}   (target >= 3)")


if __name__ == "__main__":
    main()
