"""Merge the run's checkpoint history, report.json and probe.json into metrics.json."""

import json, subprocess, sys, os
from hvaerl.train import load_checkpoint
from hvaerl.model import ModelConfig

run, out, start, end, cpu_ticks = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
ck = load_checkpoint(run)
h = ck["history"]
rep, probe = json.load(open(f"{out}/report.json")), json.load(open(f"{out}/probe.json"))
utime, stime = map(int, cpu_ticks.split())
tck = os.sysconf("SC_CLK_TCK")
full = (
    len(__import__("hvaerl.data", fromlist=["x"]).load_dataset("fashion_mnist", "fit"))
    // ck["train_config"]["batch_size"]
)
batches = sum(e["batches"] for e in h)
m = dict(
    command="nice -n 19 env OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 /work/main/.venv/bin/hvaerl train --method hvae --backbone conv "
    "--latents 8,64,32,16,8 --spatial-levels 1 --epochs 1000 --budget-minutes 55 --out-dir /tmp/conv_collapse/hvae_conv_spatial --log-every 20",
    git_commit=subprocess.run(
        ["git", "-C", "/work/main", "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip(),
    git_dirty_tracked=bool(
        subprocess.run(
            ["git", "-C", "/work/main", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True
        ).stdout.strip()
    ),
    latent_shapes=[list(s) for s in ModelConfig(**ck["model_config"]).latent_shapes],
    stopped=ck.get("stopped"),
    epochs_started=len(h),
    epochs_completed=sum(e["batches"] == full for e in h),
    batches_per_full_epoch=full,
    batches_per_epoch=[e["batches"] for e in h],
    batches_total=batches,
    train_seconds_counted_by_budget=h[-1]["seconds"],
    seconds_per_batch=h[-1]["seconds"] / batches,
    wall_minutes_process=(end - start) / 60,
    cpu_minutes_process=(utime + stime) / tck / 60,
    cpu_minutes_user=utime / tck / 60,
    cpu_minutes_system=stime / tck / 60,
    torch_threads=1,
    cpu_note="2-core machine shared with other work; training process niced (19), one torch thread (~100% of one core when uncontended)",
    final_test=dict(
        test_images=rep["test_images"],
        latent_dims=rep["dim"],
        kl_per_level_nats=rep["kl_nats"],
        active_units=rep["active_units"],
        kl_note="hvaerl.metrics.collapse_report: mean KL per level (one-sample estimate below the top for bottom-up inference; analytic at top as in training), active units = Cov_x(E_q[z]) > 0.01 over the test images",
    ),
    probe_zL=dict(
        accuracy_percent=probe["accuracy_percent"],
        n_train=probe["n_train"],
        n_test=probe["n_test"],
        protocol=probe["protocol"],
        subset_reason="encoding 60k images with the conv net on one (shared) thread was estimated at >15 min",
    ),
    history_per_epoch=[
        dict(
            epoch=e["epoch"],
            batches=e["batches"],
            seconds=e["seconds"],
            valid_elbo=e.get("valid_elbo"),
            valid_kl=e.get("valid_kl"),
            valid_active_units=e.get("valid_active_units"),
        )
        for e in h
    ],
    eval_seconds=dict(report=rep["wall_seconds"], probe=probe["wall_seconds"]),
    train_config=ck["train_config"],
    model_config=ck["model_config"],
)
json.dump(m, open(f"{out}/metrics.json", "w"), indent=1)
print(
    json.dumps(
        {
            k: m[k]
            for k in (
                "epochs_completed",
                "batches_total",
                "seconds_per_batch",
                "wall_minutes_process",
                "cpu_minutes_process",
                "final_test",
                "probe_zL",
            )
        },
        indent=1,
    )
)
