"""What `make reproduce` costs on this machine, from one epoch of each kind of run it trains (issue 36, item 2).

    python bench/reproduce_cost.py                         # measure every kind of the quick preset's runs, then predict
    python bench/reproduce_cost.py --predict-only          # the prediction again from results/reproduce_cost/kinds.json

The quick preset's 86 runs come in a handful of kinds (dataset, method, L, LVAE+RL's reward pass, whether the run saves
the figures' arrays); seeds and the discount do not change what a run computes per batch. For each kind this runs its
seed-0 run through the run notebook exactly as `hvaerl reproduce` does (papermill, a fresh kernel, the preset's
evaluation: probes on 60,000 -> 10,000 images, MINE, the importance-weighted bound), but for one epoch, into a
temporary folder. A run of E epochs then costs its one-epoch wall time plus (E - 1) of its epochs; the preset's local
executor hands the runs, in the grid's order, to `jobs` workers (one per core), each taking the next run when it frees,
and that schedule gives the predicted wall time of `make reproduce` (without its one-off set-up and the seconds of
`hvaerl aggregate`).

The kinds are measured one at a time, so each has a core to itself. Writes results/reproduce_cost/kinds.json (one
entry per kind, kept as it goes: an interrupted measurement resumes), README.md (the table) and prediction.json.
"""

import argparse, heapq, json, os, sys, tempfile, time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "reproduce_cost"


# Parameters that change only a run's evaluation, not its training: runs of one kind that differ in them are priced with
# the kind's first run's evaluation (the quick preset's Table 4 runs skip the full-z probe its Table 1 runs make, so
# they are priced high: one more reason the prediction is an upper bound)
EVALUATION_ONLY = {"probe_full", "probe_full_scaled", "tsne_images"}


def kind(spec) -> str:
    "What a run computes per batch: everything but its seed and discount."
    parts = [spec.dataset, spec.method, f"L{spec.levels or 5}"]
    if spec.params.get("upper_mean") is not None:
        parts.append("means" if spec.params["upper_mean"] else "sampled")
    if spec.figure_data:
        parts.append("figure-data")
    return "-".join(parts)


def measure(spec) -> dict:
    "Run `spec` for one epoch through the run notebook, as the preset would, in a temporary folder."
    from hvaerl.pipeline import execute_run
    from hvaerl.run import RunRecord

    with tempfile.TemporaryDirectory() as runs_dir:
        one = replace(spec, epochs=1)
        t0 = time.perf_counter()
        outcome = execute_run(one, runs_dir)
        wall = time.perf_counter() - t0
        if outcome.status != "done":
            raise RuntimeError(f"{spec.run_id}: {outcome.status} {outcome.error}")
        m = RunRecord.load(Path(runs_dir) / one.run_id / "metrics.json").row()
    return dict(
        run=spec.run_id,
        wall_seconds=wall,
        train_seconds=m["train_seconds"],
        eval_seconds=m["eval_seconds"],
        overhead_seconds=wall - m["train_seconds"] - m["eval_seconds"],
    )


def step_profile(batches: int = 5) -> dict:
    "Why the runs cost what they do: the share of an HVAE+RL training step (the quick preset's MLP, batch 128, one thread) spent in matrix products, and the rate one thread multiplies matrices at."
    import torch
    from torch.profiler import profile
    from hvaerl.data import load_dataset
    from hvaerl.methods import adam
    from hvaerl.model import HierarchicalVAE, ModelConfig
    from hvaerl.objectives import train_step

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = HierarchicalVAE(ModelConfig(inference="bottom_up", backbone="mlp", wiring="as_run"))
    x, _ = load_dataset("fashion_mnist", "train").batch(torch.arange(128))
    opt = adam(model, 3e-4)["model"]
    for _ in range(2):
        train_step(model, opt, x, "rl_fused", 0.9)
    with profile() as prof:
        for _ in range(batches):
            train_step(model, opt, x, "rl_fused", 0.9)
    ops = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in ops)
    matmul = sum(e.self_cpu_time_total for e in ops if e.key in ("aten::mm", "aten::addmm", "aten::bmm"))
    a, b = torch.randn(128, 784), torch.randn(784, 512)
    t0 = time.perf_counter()
    for _ in range(100):
        a @ b
    gflops = 2 * 128 * 784 * 512 * 100 / (time.perf_counter() - t0) / 1e9
    return dict(matmul_share=matmul / total, gemm_gflops_one_thread=gflops)


def schedule(costs: list, jobs: int) -> float:
    "Wall time of the local executor's pool: `jobs` workers take the runs in order, each the next one when it frees."
    free = [0.0] * jobs
    for c in costs:
        heapq.heappush(free, heapq.heappop(free) + c)
    return max(free)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="quick")
    ap.add_argument("--predict-only", action="store_true", help="no measuring: predict from kinds.json")
    ap.add_argument("--target-hours", type=float, default=3.0, help="report the fewest cores that finish within it")
    ap.add_argument("--conditions", default=None, help="what else ran while measuring (default: on an idle machine)")
    a = ap.parse_args()
    from hvaerl import pipeline

    preset = pipeline.load_preset(a.preset)
    if threads := preset.get("threads_per_run"):  # as `hvaerl reproduce` sets them: the kernels inherit them
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
    grid = pipeline.build_grid(preset)
    OUT.mkdir(parents=True, exist_ok=True)
    store = OUT / "kinds.json"
    kinds = json.loads(store.read_text()) if store.exists() else {}
    first, params = {}, {}
    for s in grid:
        first.setdefault(kind(s), s)
        trains = {k: v for k, v in s.params.items() if k not in EVALUATION_ONLY}
        params.setdefault(kind(s), set()).add(json.dumps(trains, sort_keys=True, default=str))
    mixed = [k for k, v in params.items() if len(v) > 1]
    if mixed:  # e.g. the wiring or KL-estimate presets: runs of one kind would train differently
        sys.exit(f"kinds {', '.join(mixed)} hold runs with different parameters: extend kind() to tell them apart")
    if not a.predict_only:
        import torch

        for k, s in first.items():
            if k in kinds:
                continue
            print(f"{k}: one epoch of {s.run_id} ...", flush=True)
            measured_on = a.conditions or "on an idle machine"  # kept with the measurement, for later predictions
            kinds[k] = {**measure(s), "cpu": os.cpu_count(), "torch": torch.__version__, "conditions": measured_on}
            store.write_text(json.dumps(kinds, indent=1))
            print(f"  {json.dumps(kinds[k])}", flush=True)
        (OUT / "step_profile.json").write_text(json.dumps(step_profile(), indent=1) + "\n")
    missing = [k for k in first if k not in kinds]
    if missing:
        sys.exit(f"not measured yet: {', '.join(missing)}; run without --predict-only")
    conditions = a.conditions or "; ".join(sorted({m.get("conditions", "on an idle machine") for m in kinds.values()}))
    costs, fastest, rows = [], [], {}
    for s in grid:
        m = kinds[kind(s)]
        c = m["wall_seconds"] + (s.epochs - 1) * m["train_seconds"]
        costs.append(c)
        # beside it: the run's own record, at its fastest epoch (the least disturbed of its epochs), plus the measured rest
        h = ROOT / "results" / a.preset / s.run_id / "history.json"
        seconds = [e["seconds"] for e in json.loads(h.read_text())] if h.exists() else []
        epoch = min(b - e for e, b in zip([0.0] + seconds, seconds)) if seconds else m["train_seconds"]
        fastest.append(m["eval_seconds"] + m["overhead_seconds"] + s.epochs * epoch)
        r = rows.setdefault(kind(s), dict(runs=0, epochs=s.epochs, seconds=0.0, **m))
        r["runs"] += 1
        r["seconds"] += c
    jobs = pipeline.preset_jobs(preset)
    wall, cpu, wall_fastest = schedule(costs, jobs), sum(costs), schedule(fastest, jobs)
    # the fewest cores (one run each) whose schedule of the measured costs ends within the target
    cores_for_target = next((n for n in range(1, len(grid) + 1) if schedule(costs, n) <= a.target_hours * 3600), None)
    lines = [
        "# What `make reproduce` costs here, predicted from one epoch of each kind of run (`bench/reproduce_cost.py`)",
        "",
        f"Preset `{a.preset}`: {len(grid)} runs, {len(first)} kinds, {jobs} at a time (one per core of {os.cpu_count()}). "
        f"Predicted: **{wall / 3600:.2f} h** of wall time ({cpu / 3600:.2f} CPU-hours of runs), without the one-off set-up "
        "and the seconds of `hvaerl aggregate`. Each kind ran once, for one epoch, through the run notebook with the "
        "preset's evaluation; a run of E epochs costs its one-epoch wall time plus E - 1 epochs. "
        f"Measured {conditions}. With each run's training at the fastest epoch its own record "
        f"(results/{a.preset}/<run>/history.json) shows, and the measured evaluation: {wall_fastest / 3600:.2f} h. "
        f"Within {a.target_hours:g} h it needs {cores_for_target} cores, one run on each.",
        "",
        "| kind | runs | epochs | one epoch, s | evaluation, s | kernel and notebook, s | all its runs, CPU-min |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for k, r in sorted(rows.items(), key=lambda kv: -kv[1]["seconds"]):
        lines.append(
            f"| {k} | {r['runs']} | {r['epochs']} | {r['train_seconds']:.1f} | {r['eval_seconds']:.1f} | "
            f"{r['overhead_seconds']:.1f} | {r['seconds'] / 60:.1f} |"
        )
    prediction = dict(
        preset=a.preset,
        runs=len(grid),
        kinds=len(first),
        jobs=jobs,
        wall_hours=wall / 3600,
        cpu_hours=cpu / 3600,
        wall_hours_fastest_recorded_epochs=wall_fastest / 3600,
        target_hours=a.target_hours,
        cores_for_target=cores_for_target,
        conditions=conditions,
    )
    if (OUT / "step_profile.json").exists():
        prof = json.loads((OUT / "step_profile.json").read_text())
        prediction.update(prof)
        lines += [
            "",
            f"Why it costs this: {prof['matmul_share']:.0%} of an HVAE+RL step's time (the MLP, batch 128, one thread, "
            f"`torch.profiler`) is matrix products, which one thread here multiplies at {prof['gemm_gflops_one_thread']:.0f} "
            "GFLOP/s (128x784 by 784x512, float32): the steps are arithmetic, so more cores (`jobs` follows them), not "
            "less overhead, is what shortens the run.",
        ]
    m = json.loads((OUT / "measured.json").read_text()) if (OUT / "measured.json").exists() else {}
    # a whole `make reproduce` timed from scratch (scripts/time_reproduce.sh), as the README states it
    if m.get("finished"):
        lines += [
            "",
            f"Measured: `make reproduce` from a fresh clone, set-up included, took **{m['wall_hours']:.2f} h** here "
            f"({m['start'][:10]}, commit {m['commit']}, `scripts/time_reproduce.sh`: measured.json) against the "
            f"{wall / 3600:.2f} h predicted above; its processes kept {m['busy_share']:.0%} of the {m['cores']} cores busy.",
        ]
    (OUT / "README.md").write_text("\n".join(lines) + "\n")
    (OUT / "prediction.json").write_text(json.dumps(prediction, indent=1) + "\n")  # what the README's sentence reads
    print("\n".join(lines))


if __name__ == "__main__":
    main()
