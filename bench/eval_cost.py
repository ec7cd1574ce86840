"""Seconds of each part of a run's evaluation (the run notebook's "Evaluate" and "Figure data" sections), on a trained run.

    python bench/eval_cost.py runs/quick/fashion_mnist-hvae_rl-s0            # the quick preset's evaluation settings
    python bench/eval_cost.py RUN_DIR --threads 1 --mine-steps 1000 --iw-samples 16 --eval-images 5000
    python bench/eval_cost.py RUN_DIR --no-full-scaled            # the quick preset's Table 3 runs (full z, paper's protocol only)
    python bench/eval_cost.py RUN_DIR --no-full --no-full-scaled  # every other run of the quick preset

Times, in one process and in order: loading the splits, the paper's probe (sampled-pass encodings of the 60k training
and 10k test images, then the SVMs on z_L and on the full z), the scaled probe (the same with mean encodings,
standardized), KL per level and active units, bits/dim (ELBO and the importance-weighted bound), MINE on z_L, and the
figure arrays of Figs. 1, 2 and 5. Each part prints the number it produces, so a cheaper setting can be checked for a
changed digit. One thread by default: the quick preset runs two runs side by side with one thread each.
"""

import argparse, json, time
from pathlib import Path
import numpy as np
import torch
from hvaerl.data import load_dataset
from hvaerl.train import load_model
from hvaerl.probe import encode, linear_probe
from hvaerl.metrics import collapse_report, density, skip_path_report
from hvaerl.mine import model_mi
from hvaerl.figures import figure_data


class Clock:
    "Named wall-clock parts, printed as they finish."

    def __init__(self):
        self.parts = {}

    def __call__(self, name, fn, *args, **kw):
        t0 = time.perf_counter()
        out = fn(*args, **kw)
        s = time.perf_counter() - t0
        self.parts[name] = self.parts.get(name, 0.0) + s
        print(f"{name:<34} {s:7.1f} s", flush=True)
        return out


def probe(clock, model, train_set, test_set, paper: bool, seed: int, full: bool = True):
    "One protocol's encodings and its z_L and (when `full`) full-z SVMs, timed apart, as the run notebook draws them; returns (acc z_L, acc full z)."
    tag = "paper" if paper else "scaled"
    L, levels = model.levels, list(range(1, model.levels + 1))
    train_set.reseed(seed)
    levels = levels if full else [L]
    f_tr, y_tr = clock(f"{tag}: encode train", encode, model, train_set, levels, sample=paper, seed=2 * seed)
    f_te, y_te = clock(f"{tag}: encode test", encode, model, test_set, levels, sample=paper, seed=2 * seed + 1)
    top = clock(f"{tag}: SVM z_L", linear_probe, f_tr[L], y_tr, f_te[L], y_te, scale=not paper)["accuracy"]
    cat = lambda f: np.concatenate([f[l] for l in levels], 1)
    full = (
        clock(f"{tag}: SVM full z", linear_probe, cat(f_tr), y_tr, cat(f_te), y_te, scale=not paper)["accuracy"]
        if full and L > 1
        else float("nan")
    )
    print(f"  {tag} probe: z_L {top:.2f}%, full z {full:.2f}%")
    return top, full


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", type=Path)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--eval-images", type=int, default=5000)
    p.add_argument("--iw-samples", type=int, default=16)
    p.add_argument("--mine-steps", type=int, default=1000)
    p.add_argument("--mine-batch-size", type=int, default=256)
    p.add_argument("--tsne-images", type=int, default=2000)
    p.add_argument(
        "--no-full",
        action="store_true",
        help="no full-z probe under the paper's protocol (EvalConfig.probe_full=False)",
    )
    p.add_argument(
        "--no-full-scaled",
        action="store_true",
        help="no full-z probe under the standardized protocol (probe_full_scaled=False)",
    )
    p.add_argument(
        "--skip",
        nargs="*",
        default=[],
        choices=["scaled", "density", "mine", "skip_path", "figures"],
        help="parts not to run",
    )
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    clock = Clock()
    model = load_model(a.run_dir / "ckpt.pt").eval()
    run = json.loads((a.run_dir / "config.json").read_text())
    dataset, seed = run["dataset"], run["seed"]
    train_set = clock("load train split", load_dataset, dataset, "train")
    test_set = clock("load test split", load_dataset, dataset, "test")
    probe(clock, model, train_set, test_set, paper=True, seed=seed, full=not a.no_full)
    if "scaled" not in a.skip:
        probe(clock, model, train_set, test_set, paper=False, seed=seed, full=not a.no_full_scaled)
    eval_set = test_set.head(a.eval_images)
    rep = clock("KL per level + active units", collapse_report, model, eval_set)
    print(f"  KL per level {np.round(rep.kl_nats.values, 3).tolist()}, active {rep.active_units.tolist()}")
    if "density" not in a.skip:
        d = clock(f"bits/dim (ELBO, IW K={a.iw_samples})", density, model, eval_set, k=a.iw_samples)
        print(f"  bits/dim ELBO {d['elbo_bpd']:.4f}, IW {d['iw_bpd']:.4f}")
    if "mine" not in a.skip:
        mi = clock(
            f"MINE ({a.mine_steps} steps)",
            model_mi,
            model,
            eval_set,
            n=None,
            steps=a.mine_steps,
            batch_size=a.mine_batch_size,
            seed=seed,
        ).mi
        print(f"  MINE I(x, z_L) {mi:.3f} nats")
    if "skip_path" not in a.skip:
        sp = clock("skip path per level (Fig. 1)", skip_path_report, model, eval_set)
        print(f"  log p(x|z_l) {np.round(sp.skip_loglik_nats.values, 1).tolist()}")
    if "figures" not in a.skip:
        clock("figure arrays (Figs. 1, 2, 5)", figure_data, model, test_set, test_set, n_tsne=a.tsne_images, seed=seed)
    total = sum(clock.parts.values())
    print(f"{'total':<34} {total:7.1f} s")


if __name__ == "__main__":
    main()
