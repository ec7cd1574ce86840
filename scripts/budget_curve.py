"""Does RL overtake the single-level VAE with training? z_L probe accuracy against epochs (issue 18, item 5).

Each run continues a quick-preset run (its 10-epoch checkpoint in runs/quick/<run>/) to more epochs, resuming rather
than restarting (the trainer replays the same data order and draws, so the curve is one run, not one run per point),
and at each budget scores the paper's probe (mean of q(z_L|.) from a sampled pass, raw features, linear SVM C=1,
all 60,000 -> 10,000 images) and the top level's KL. The 10-epoch point is the quick preset's own metrics.json.

    .venv/bin/python scripts/budget_curve.py --epochs 20 40 80 --methods vae ivae hvae_rl lvae_rl_means lvae_rl_sampled --jobs 2
    .venv/bin/python scripts/budget_curve.py --plot-only      # redraw results/budget/curve.png from the committed JSON

Writes results/budget/<run>/epoch<N>.json and history.json per run, results/budget/curve.csv, curve.png/pdf and
README.md. Interrupted, it resumes: a point already written is not recomputed, a run continues from its checkpoint.
LVAE+RL's runs name their reward pass as the quick preset does (`lvae_rl_means`: run id ending -means, the published
script's; `lvae_rl_sampled`). A run whose quick-preset checkpoint is gone trains again from the start under the quick
preset's parameters (the trainer's data order and draws are functions of the seed, so it is the same run) and scores its
own 10-epoch point, which the curve then uses; its loss at 10 epochs is checked against the quick preset's record.
"""

import argparse, json, shutil, sys, time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "budget"
NAMES = {
    "vae": "VAE",
    "ivae": "IVAE",
    "hvae": "HVAE",
    "lvae": "LVAE",
    "hvae_rl": "HVAE+RL",
    "lvae_rl_means": "LVAE+RL (means reward)",
    "lvae_rl_sampled": "LVAE+RL (sampled reward)",
}


def run_id(method: str, seed: int) -> str:
    "The quick preset's run id: LVAE+RL's names its reward pass."
    if method.startswith("lvae_rl_"):
        return f"fashion_mnist-lvae_rl-s{seed}-{method.removeprefix('lvae_rl_')}"
    return f"fashion_mnist-{method}-s{seed}"


def quick_config(run: str, out_dir: Path) -> dict:
    "The TrainConfig (as saved) the quick preset trains `run` with, writing to out_dir."
    from dataclasses import asdict
    from hvaerl import pipeline

    spec = {s.run_id: s for s in pipeline.build_grid(pipeline.load_preset("quick"))}[run]
    cfg, _ = pipeline.configs_from_parameters(pipeline._notebook_namespace(spec))
    return {**asdict(cfg), "out_dir": str(out_dir)}


def continue_run(run: str, epochs: list, runs_dir: Path, threads: int) -> list:
    "Continue runs_dir/<run> (a copy under runs/budget) to each budget in turn; score the probe at each. Returns the points written."
    import torch

    torch.set_num_threads(threads)
    from hvaerl.data import load_dataset
    from hvaerl.train import TrainConfig, train
    from hvaerl.probe import probe_model
    from hvaerl.metrics import collapse_report
    from hvaerl.sources import write_json_atomic

    src, work, res = runs_dir / "quick" / run, runs_dir / "budget" / run, OUT / run
    res.mkdir(parents=True, exist_ok=True)
    if (work / "config.json").exists():  # started before: continue
        saved = json.loads((work / "config.json").read_text())
    elif (src / "ckpt.pt").exists():  # start from the quick preset's checkpoint, never touching it
        work.mkdir(parents=True, exist_ok=True)
        for f in ("ckpt.pt", "ckpt.pt.sha256", "config.json"):
            shutil.copy2(src / f, work / f)
        saved = json.loads((work / "config.json").read_text())
    else:  # its checkpoint is gone: the same run again from the start, scoring its own 10-epoch point
        work.mkdir(parents=True, exist_ok=True)
        saved = quick_config(run, work)
        epochs = sorted({10, *epochs})
    train_images, test_images = load_dataset(saved["dataset"], "train"), load_dataset(saved["dataset"], "test")
    points = []
    for n in sorted(epochs):
        point = res / f"epoch{n}.json"
        if point.exists():
            points.append(json.loads(point.read_text()))
            continue
        cfg = TrainConfig.from_saved({**saved, "epochs": n, "out_dir": str(work)})
        t0 = time.time()
        result = train(cfg, train_images, test_images, progress=False, tensorboard=False)
        model = result.model.eval()
        train_images.reseed(cfg.seed)  # the run notebook's probe: the same binarization draw of the training images
        probe = probe_model(model, train_images, test_images)
        report = collapse_report(model, test_images.head(5000))
        rec = dict(
            run=run,
            method=cfg.method,
            wiring=cfg.wiring,
            seed=cfg.seed,
            epochs=len(result.history),
            acc_zL=probe[f"z{model.levels}"],
            kl_top=float(report["kl_nats"].iloc[-1]),
            top_active=int(report["active_units"].iloc[-1]),
            train_seconds=result.history[-1]["seconds"],
            wall_seconds=time.time() - t0,
            threads=threads,
            probe="paper (sampled-pass means, raw, SVM C=1, 60000 -> 10000)",
        )
        if n == 10 and (quick := ROOT / "results" / "quick" / run / "history.json").exists():
            same = [h["loss"] for h in json.loads(quick.read_text())] == [h["loss"] for h in result.history]
            rec["same_as_quick_record"] = same  # the trainer is deterministic: the rerun should match it loss for loss
        write_json_atomic(point, rec)
        write_json_atomic(res / "history.json", result.history)
        points.append(rec)
        print(json.dumps(rec), flush=True)
    return points


def ten_epoch_point(run: str) -> dict | None:
    "The quick preset's own 10-epoch result of `run` (results/quick/<run>/metrics.json)."
    f = ROOT / "results" / "quick" / run / "metrics.json"
    if not f.exists():
        return None
    from hvaerl.run import RunRecord
    from hvaerl.tables import run_wiring

    m = RunRecord.load(f).row()
    return dict(
        run=run,
        method=m["method"],
        wiring=run_wiring(m),
        seed=m["seed"],
        epochs=m["epochs_done"],
        acc_zL=m["acc_zL"],
        kl_top=m["kl_top"],
        top_active=m["active_units"][-1],
    )


def plot(methods: list) -> None:
    import pandas as pd, matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = []
    for m in methods:
        for folder in sorted(f for f in OUT.glob(run_id(m, 0).replace("-s0", "-s*")) if f.is_dir()):  # every seed
            if not (folder / "epoch10.json").exists() and (p := ten_epoch_point(folder.name)) is not None:
                rows.append({**p, "method": m})
            rows += [{**json.loads(f.read_text()), "method": m} for f in sorted(folder.glob("epoch*.json"))]
    df = pd.DataFrame(rows).sort_values(["method", "seed", "epochs"])
    df[["method", "wiring", "seed", "epochs", "acc_zL", "kl_top", "top_active"]].to_csv(OUT / "curve.csv", index=False)
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    for i, (m, part) in enumerate(df.groupby("method", sort=False)):
        color, seeds = f"C{i}", sorted(part.seed.unique())
        for s, run in part.groupby("seed"):  # each seed thin; the mean over seeds (where every seed has the point) bold
            for ax, col in ((a, "acc_zL"), (b, "kl_top")):
                ax.plot(
                    run.epochs,
                    run[col],
                    "o-" if len(seeds) == 1 else ".-",
                    color=color,
                    lw=1 if len(seeds) > 1 else 1.5,
                    alpha=0.4 if len(seeds) > 1 else 1,
                    label=None if len(seeds) > 1 else f"{NAMES.get(m, m)} (seed {seeds[0]})",
                )
        if len(seeds) > 1:
            full = part.groupby("epochs").filter(lambda g: g.seed.nunique() == len(seeds)).groupby("epochs")
            label = f"{NAMES.get(m, m)} (mean of {len(seeds)} seeds)"
            a.plot(full.acc_zL.mean().index, full.acc_zL.mean().values, "o-", color=color, lw=2, label=label)
            b.plot(full.kl_top.mean().index, full.kl_top.mean().values, "o-", color=color, lw=2, label=label)
    a.set(
        xscale="log",
        xlabel="epochs (log scale)",
        ylabel="z_L probe accuracy (%, paper's probe)",
        title="Probe accuracy of z_L against training",
    )
    b.set(
        xscale="log",
        yscale="symlog",
        xlabel="epochs (log scale)",
        ylabel="KL of z_L (nats)",
        title="Top-level KL against training",
    )
    for ax in (a, b):
        ax.set_xticks(sorted(df.epochs.unique()))
        ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.grid(alpha=0.3)
    a.legend()
    fig.suptitle(
        "FashionMNIST, MLP, wiring as_run: quick-preset runs continued (each run resumed at each budget; thin lines: single seeds)",
        fontsize=9,
    )
    fig.tight_layout()
    for ext in ("png", "pdf"):
        fig.savefig(OUT / f"curve.{ext}", dpi=130)
    print(df[["method", "seed", "epochs", "acc_zL", "kl_top", "top_active"]].to_string(index=False))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, nargs="+", default=[20, 40, 80], help="budgets (total epochs) to score")
    ap.add_argument(
        "--methods",
        nargs="+",
        default=["vae", "ivae", "hvae_rl", "lvae_rl_means", "lvae_rl_sampled"],
        choices=sorted(NAMES),
    )
    ap.add_argument(
        "--runs-dir",
        type=Path,
        default=ROOT / "runs",
        help="where runs/quick/<run> (the source) and runs/budget/<run> live",
    )
    ap.add_argument("--seeds", type=int, nargs="+", default=[0], help="seeds of the quick preset's runs to continue")
    ap.add_argument("--jobs", type=int, default=2, help="runs side by side")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per run")
    ap.add_argument("--plot-only", action="store_true", help="only redraw the curve from results/budget")
    a = ap.parse_args()
    if any(n <= 10 for n in a.epochs):
        ap.error("--epochs are totals beyond the quick preset's 10, e.g. 20 40 80")
    OUT.mkdir(parents=True, exist_ok=True)
    if not a.plot_only:
        runs = [run_id(m, s) for m in a.methods for s in a.seeds]
        with ProcessPoolExecutor(a.jobs) as pool:
            futures = [pool.submit(continue_run, r, a.epochs, a.runs_dir, a.threads) for r in runs]
            for f in futures:
                f.result()
    plot(list(NAMES))  # every method results/budget holds, not only those continued now


if __name__ == "__main__":
    sys.exit(main())
