"""Train the authors' FashionMNIST conv network (as-run wiring) with one method for a time budget, then measure it.

    python scripts/conv_as_run.py --method hvae --minutes 2 --out runs/conv_as_run/hvae --device cuda
    python scripts/conv_as_run.py --method hvae_rl --minutes 2 --out runs/conv_as_run/hvae_rl --device cuda

The network is the one `scripts/dvae_run_FashionMNIST_RLQ.py` in ruyianry/rep_hierarchy_rl builds (nbs/03_model: conv
backbone, 64 channels, z_1 a spatial 8x14x14 map, 64/32/16/8 dense levels above, `wiring="as_run"`), trained on all
60,000 training images, batch 128, Adam 3e-4, no warm-up, no free bits. Training stops at `--minutes` (or
`--epochs`), so what it reaches depends on the machine: `metrics.json` records the epochs and batches done.

Then, as the run notebook measures (nbs/experiments/run.ipynb): KL per level and active units on the 10,000 test
images (`collapse_report`), and the paper's z_L probe (mean of q(z_L|.) from a sampled pass, raw features, linear SVM
C=1, all 60,000 training images -> 10,000 test images). It writes `metrics.json` beside the run's `history.json`.
"""

import argparse, json, time
from pathlib import Path

import torch

import hvaerl
from hvaerl.metrics import collapse_report
from hvaerl.probe import probe_model
from hvaerl.train import TrainConfig, code_commit, train


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--method", required=True, choices=["hvae", "hvae_rl", "lvae", "lvae_rl"])
    p.add_argument("--minutes", type=float, default=2.0, help="training budget (wall clock, training only)")
    p.add_argument("--epochs", type=int, default=1000, help="the paper's budget; the minutes stop it first")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--device", default="cuda")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-root", default=None)
    p.add_argument("--probe-train", type=int, default=None, help="training images for the probe (default: all 60,000)")
    a = p.parse_args()
    commit = code_commit()
    cfg = TrainConfig(
        dataset="fashion_mnist",
        data_root=a.data_root,
        method=a.method,
        backbone="conv",
        latents=(8, 64, 32, 16, 8),
        spatial_levels=1,
        wiring="as_run",
        epochs=a.epochs,
        budget_minutes=a.minutes,
        seed=a.seed,
        device=a.device,
        out_dir=str(a.out),
    )
    train_images, test_images = cfg.load("train"), cfg.load("test")
    result = train(cfg, train_images, test_images, progress=False, tensorboard=False)
    model, history = result.model.eval(), result.history
    t_eval = time.time()
    report = collapse_report(model, test_images)
    probe_images = train_images.head(a.probe_train)
    probe_images.reseed(a.seed)
    probe = probe_model(model, probe_images, test_images, levels=[model.levels], seed=a.seed)
    record = dict(
        method=a.method,
        backbone="conv",
        wiring="as_run",
        latent_shapes=[list(s) for s in model.config.latent_shapes],
        seed=a.seed,
        budget_minutes=a.minutes,
        stopped=result.stopped,
        epochs_done=len(history),
        batches=sum(h["batches"] for h in history),
        train_seconds=history[-1]["seconds"],
        eval_seconds=time.time() - t_eval,
        device=torch.cuda.get_device_name() if cfg.resolved_device().type == "cuda" else "cpu",
        kl_per_level=report["kl_nats"].tolist(),
        active_units=report["active_units"].tolist(),
        kl_top=float(report["kl_nats"].iloc[-1]),
        acc_zL=probe[f"z{model.levels}"],
        probe_protocol="paper",
        probe_train=len(probe_images),
        probe_test=len(test_images),
        eval_images=len(test_images),
        data_source=train_images.source,
        hvaerl_version=hvaerl.__version__,
        commit=commit,
    )
    (a.out / "metrics.json").write_text(json.dumps(record, indent=1))
    print(json.dumps(record))


if __name__ == "__main__":
    main()
