"""The packing factor: how much more training N runs side by side on one device get done than one run alone.

    python bench/packing.py --device cuda --runs 1 2 4 8          # the authors' FashionMNIST conv network, ELBO
    python bench/packing.py --device cuda --objective rl_stepwise  # Algorithm 1's batches
    python bench/packing.py --device cpu --backbone mlp --runs 1 2 --batches 3 --warmup 1   # a check of the script

Each run is its own process with its own model, optimiser and (on a GPU) CUDA context, as `hvaerl reproduce --devices
cuda --runs-per-device N` starts them. After their warm-up batches the N processes start timing together (a barrier) and
each times the same number of training batches of 128 real FashionMNIST images. Reported per N: the median batch time
of each run, the throughput of all N together in batches per second, and the packing factor: that throughput over the
throughput of one run alone (N = 1 must come first). Epochs per hour of one run follow from 469 batches per epoch.
"""

import argparse, json, statistics, sys, time
from pathlib import Path
import torch
import torch.multiprocessing as mp

sys.path.insert(0, str(Path(__file__).parent))
from step_cost import architecture, batches  # noqa: E402  (bench/ is a folder of scripts, not a package)


def one_run(rank: int, a, barrier, results) -> None:
    "One training process: its own model and optimiser, warm-up, then timed batches started with the others."
    from hvaerl.model import HierarchicalVAE, ModelConfig
    from hvaerl.objectives import train_step

    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    xs, _ = batches(a.batches + a.warmup, a.batch_size, False)
    torch.manual_seed(rank)
    model = HierarchicalVAE(ModelConfig(backbone=a.backbone, wiring="as_run", **architecture(a.backbone, False)))
    if model.wants_data_init:
        model.data_init(xs[0])
    model = model.to(dev)
    opt = torch.optim.Adam(model.parameters(), 3e-4)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    times = []
    for i, x in enumerate(xs):
        if i == a.warmup:
            sync()
            barrier.wait()  # every run starts timing at once
            start = time.perf_counter()
        x = x.to(dev)
        t0 = time.perf_counter()
        train_step(model, opt, x, a.objective, 0.9)
        sync()
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
    results[rank] = dict(median_s=statistics.median(times), wall_s=time.perf_counter() - start, batches=len(times))


def measure(a, n: int) -> dict:
    "N runs side by side: each one's median batch time, and their throughput together (batches per second)."
    ctx = mp.get_context("spawn")  # CUDA cannot be used in a forked child
    barrier, results = ctx.Barrier(n), ctx.Manager().dict()
    procs = [ctx.Process(target=one_run, args=(r, a, barrier, results)) for r in range(n)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    if any(p.exitcode for p in procs) or len(results) != n:
        raise SystemExit(f"packing: a run of {n} failed (exit codes {[p.exitcode for p in procs]})")
    rs = [results[r] for r in range(n)]
    throughput = sum(r["batches"] for r in rs) / max(r["wall_s"] for r in rs)
    return dict(runs=n, median_batch_ms=[round(r["median_s"] * 1000, 1) for r in rs], batches_per_s=throughput)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu")
    p.add_argument("--backbone", default="conv", choices=["mlp", "conv"])
    p.add_argument("--objective", default="elbo", choices=["elbo", "rl_fused", "rl_stepwise"])
    p.add_argument("--runs", type=int, nargs="+", default=[1, 2, 4, 8], help="numbers of runs side by side; 1 first")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--batches", type=int, default=30, help="timed batches per run")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=1, help="CPU threads of each run")
    p.add_argument("--json", type=Path, default=None, help="also write the rows here")
    a = p.parse_args()
    if a.runs[0] != 1:
        p.error("--runs must start with 1: the packing factor is measured against one run alone")
    print(
        f"packing on {a.device}: backbone {a.backbone}, objective {a.objective}, batch {a.batch_size}, "
        f"{a.batches} timed batches per run after {a.warmup} warm-up, {a.threads} CPU thread(s) per run"
    )
    rows, alone = [], None
    for n in a.runs:
        row = measure(a, n)
        alone = alone or row["batches_per_s"]
        row.update(
            packing_factor=row["batches_per_s"] / alone, epochs_per_hour_each=3600 * row["batches_per_s"] / n / 469
        )
        rows.append(row)
        print(
            f"  {n} run(s): {row['batches_per_s']:7.2f} batches/s together, packing factor {row['packing_factor']:.2f}, "
            f"{row['epochs_per_hour_each']:.1f} epochs/hour each (median batch ms {row['median_batch_ms']})",
            flush=True,
        )
    if a.json:
        a.json.write_text(
            json.dumps(dict(device=a.device, backbone=a.backbone, objective=a.objective, rows=rows), indent=1)
        )


if __name__ == "__main__":
    main()
