"""Median seconds of the paper's linear probe (SVC's one-vs-one hinge problem, liblinear) on all 60,000 training and
10,000 test images, in one run.

    python bench/probe_cost.py              # 3 repeats on each model's features
    python bench/probe_cost.py --repeats 5

The features are real: the paper's probe features (means of q(z_L|.) from a sampled pass, raw) of two models trained
on FashionMNIST, kept in results/probe_check/ (see nbs/06_probe.ipynb). Target (from the issue that made this the
default probe): under 30 s per probe on 2 cores. Speed lives here, not in the tests.
"""

import argparse, statistics
from pathlib import Path
import numpy as np
import torch
from hvaerl.probe import linear_probe

FEATURES = Path(__file__).resolve().parents[1] / "results" / "probe_check"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    print(f"{torch.get_num_threads()} torch threads; features from {FEATURES}")
    for f in sorted(FEATURES.glob("*.npz")):
        d = np.load(f)
        runs = []
        for k in range(a.repeats):
            np.random.seed(k)  # liblinear's shuffling (LinearSVC takes numpy's global state)
            runs.append(linear_probe(d["train_x"], d["train_y"], d["test_x"], d["test_y"]))
        secs = [r["seconds"] for r in runs]
        print(
            f"{f.stem}: {d['train_x'].shape[0]} -> {d['test_x'].shape[0]} images, {d['train_x'].shape[1]}-d: "
            f"median {statistics.median(secs):.2f} s (min {min(secs):.2f}, max {max(secs):.2f}), accuracy {runs[0]['accuracy']:.2f}%"
        )


if __name__ == "__main__":
    main()
