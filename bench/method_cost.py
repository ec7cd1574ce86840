"""Median seconds per training batch of every method of the registry (batch 128, the quick preset's MLP, wiring as_run).

    python bench/method_cost.py                  # one thread, real FashionMNIST batches
    python bench/method_cost.py --threads 2

The methods are interleaved batch by batch, so load on a shared machine hits them alike; multiplied by 469 batches it
gives each method's seconds per FashionMNIST epoch, from which a preset's training time follows.
"""

import argparse, statistics, time
import torch
from hvaerl.data import load_dataset
from hvaerl.methods import METHODS, get_method


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batches", type=int, default=15)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--methods", nargs="+", default=list(METHODS))
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    ds = load_dataset("fashion_mnist", "train")
    idx = torch.randperm(len(ds), generator=torch.Generator().manual_seed(0))
    xs = [ds.batch(idx[i * 128 : (i + 1) * 128])[0] for i in range(a.batches + a.warmup)]
    runs = {}
    for name in a.methods:
        torch.manual_seed(0)
        m = get_method(name)
        inference, latents = m.resolve(None, None, None, (1, 28, 28))
        model = m.build_model(m.model_config((1, 28, 28), latents, inference=inference))
        runs[name] = (m, model, m.optimizers(model, 3e-4), m.hparams())  # the method's default hyperparameters
    times = {n: [] for n in runs}
    for i, x in enumerate(xs):
        for n, (m, model, opts, hp) in runs.items():
            t0 = time.perf_counter()
            m.train_batch(model, opts, x, hp)
            if i >= a.warmup:
                times[n].append(time.perf_counter() - t0)
    print(f"{torch.get_num_threads()} thread(s), batch 128, {a.batches} timed batches of real FashionMNIST")
    for n, t in times.items():
        med = statistics.median(t)
        print(f"  {n:8s} {med * 1000:7.1f} ms/batch  {med * 469:6.1f} s/epoch")


if __name__ == "__main__":
    main()
