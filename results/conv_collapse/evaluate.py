"""Evaluate a finished hvaerl run (one torch thread).
python evaluate.py report RUN_DIR OUT_DIR N_TEST          -> kl_trace.csv (TensorBoard) + report.json (KL/AU on first N_TEST test images)
python evaluate.py probe  RUN_DIR OUT_DIR N_TRAIN N_TEST  -> probe.json (paper's z_L probe, first N_TRAIN train -> first N_TEST test)"""

import csv, json, sys, time
import torch

torch.set_num_threads(1)
from hvaerl.train import load_model
from hvaerl.data import load_dataset
from hvaerl.metrics import collapse_report
from hvaerl.data import DatasetHead
from hvaerl.probe import probe_model

mode, run, out = sys.argv[1:4]
n = lambda s: None if s == "all" else int(s)
t0, c0 = time.perf_counter(), time.process_time()
model = load_model(run)
print("latent shapes", model.config.latent_shapes, flush=True)
test_set = load_dataset("fashion_mnist", "test")
if mode == "report":
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ea = EventAccumulator(f"{run}/tb", size_guidance={"scalars": 0})
    ea.Reload()
    L = model.levels
    series = {i: {e.step: e.value for e in ea.Scalars(f"train/kl_level{i}")} for i in range(1, L + 1)}
    elbo = {e.step: e.value for e in ea.Scalars("train/elbo")}
    with open(f"{out}/kl_trace.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["step"] + [f"kl_z{i}" for i in range(1, L + 1)] + ["train_elbo"])
        for s in sorted(series[1]):
            w.writerow([s] + [series[i].get(s, "") for i in range(1, L + 1)] + [elbo.get(s, "")])
    valid = {t: [(e.step, e.value) for e in ea.Scalars(t)] for t in ea.Tags()["scalars"] if t.startswith("valid/")}
    ds = DatasetHead(test_set, n(sys.argv[4]))
    rep = collapse_report(model, ds)
    print(rep.to_string(), flush=True)
    res = dict(
        test_images=len(ds),
        level=[int(v) for v in rep.level],
        dim=[int(v) for v in rep.dim],
        kl_nats=[float(v) for v in rep.kl_nats],
        active_units=[int(v) for v in rep.active_units],
        valid_scalars_tb=valid,
    )
else:
    train_set = load_dataset("fashion_mnist", "train")
    tr, te = DatasetHead(train_set, n(sys.argv[4])), DatasetHead(test_set, n(sys.argv[5]))
    acc = probe_model(model, tr, te, protocol="paper")
    print("probe", acc, flush=True)
    res = dict(
        accuracy_percent=acc,
        n_train=len(tr),
        n_test=len(te),
        protocol="hvaerl.probe.probe_model(protocol='paper'): means of q(z_L|.) from a sampled pass (seeds 0 train / 1 test), raw features, "
        "linear SVM C=1, one-vs-one liblinear hinge; train = first n images of the official 60k train split "
        "(dynamic binarization), test = first n of the 10k test split (static binarization)",
    )
res.update(wall_seconds=time.perf_counter() - t0, cpu_seconds=time.process_time() - c0)
json.dump(res, open(f"{out}/{mode}.json", "w"), indent=1)
