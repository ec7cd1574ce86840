"""Median seconds per training batch of the authors' own code: their ELBO batch against their RL batch, one run.

    python bench/authors_step_cost.py --authors PATH/TO/rep_hierarchy_rl              # CPU
    python bench/authors_step_cost.py --authors PATH/TO/rep_hierarchy_rl --device cuda

The model is built from their package (`oodd`, imported from the checkout given) exactly as
`scripts/dvae_run_FashionMNIST_RLQ.py` builds it: `oodd.models.dvae.VAE` with that script's `CONFIG_deterministic`
(5 stages x 3 ResBlockConv2d, 64 channels, 5x5 kernels in stage 1, stride 2 in the last block of stages 1-2),
`CONFIG_stochastic` (z_1 GaussianConv2d with 8 channels, then GaussianDense 64/32/16/8), the Bernoulli likelihood, the
argparser's default activation (ReLU), weight norm with its data-dependent init on the first batch, Adam 3e-4,
batch 128, and the script's runtime values (free nats 0, beta 1, one posterior sample, mean sample reduction).

Both batches follow the script's loop bodies, their `Evaluator.update` calls included (each moves its numbers to the
CPU, which is part of what the authors' batch costs on a GPU):
- `elbo`: one forward pass, the ELBO, one backward pass, one optimizer step (their `train()`; the script's comment
  says the ELBO baseline is this function called in place of `train_with_RL()`);
- `rl`: Algorithm 1 as `train_with_RL()` runs it: for each of the L steps, a full forward pass, then one
  `model.generate(decode_from_p=...)` per remaining level, the discounted sum of their losses (gamma 0.9), one
  backward pass and one optimizer step (5 encoder passes, 20 decoder passes, 5 backward passes, 5 steps per batch).

Each objective trains its own copy of the same initial model; the two are interleaved batch by batch and timed after
a warm-up. The batches are real FashionMNIST, binarized by hvaerl's loader (as their `FashionMNISTBinarized` does,
one Bernoulli draw per pixel). Compare with `bench/step_cost.py --backbone conv` on the same machine: it times
hvaerl's network built to the same specification.
"""

import argparse, copy, logging, statistics, sys, time
from pathlib import Path

import torch

# scripts/dvae_run_FashionMNIST_RLQ.py, CONFIG_deterministic and CONFIG_stochastic, written compactly
_BLOCK = dict(block="ResBlockConv2d", out_channels=64, weightnorm=True, gated=False)
CONFIG_DETERMINISTIC = [
    [dict(_BLOCK, kernel_size=k, stride=s) for s in (1, 1, last_stride)]
    for k, last_stride in [(5, 2), (3, 2), (3, 1), (3, 1), (3, 1)]
]
CONFIG_STOCHASTIC = [dict(block="GaussianConv2d", latent_features=8, weightnorm=True)] + [
    dict(block="GaussianDense", latent_features=n, weightnorm=True) for n in (64, 32, 16, 8)
]
LIKELIHOOD = "BernoulliLikelihoodConv2d"


def import_oodd(authors: Path):
    "Their package from a checkout of ruyianry/rep_hierarchy_rl (or anything holding its `oodd/` folder)."
    if not (authors / "oodd" / "models" / "dvae.py").is_file():
        sys.exit(
            f"authors_step_cost: no oodd/models/dvae.py under {authors}; pass --authors a rep_hierarchy_rl checkout"
        )
    sys.path.insert(0, str(authors))
    import oodd.losses, oodd.models.dvae  # noqa: E401
    from oodd.evaluators import Evaluator

    return oodd, Evaluator


def build_model(oodd):
    "Their FashionMNIST model, built through `VAE.get_argparser()`'s defaults as their script does."
    args, _ = oodd.models.dvae.VAE.get_argparser().parse_known_args([])
    args.input_shape = (1, 28, 28)
    args.config_deterministic = CONFIG_DETERMINISTIC
    args.config_stochastic = CONFIG_STOCHASTIC
    args.likelihood_module = LIKELIHOOD
    return oodd.models.dvae.VAE(**vars(args))


def elbo_batch(model, optimizer, criterion, evaluator, x):
    "The body of their `train()` for one batch (free nats 0, beta 1, one sample)."
    likelihood_data, stage_datas, _ = model(x, n_posterior_samples=1)
    kls = [sd.loss.kl_elementwise for sd in stage_datas if sd.loss.kl_elementwise is not None]
    loss, elbo, likelihood, kl = criterion(
        likelihood_data.likelihood, kls, samples=1, free_nats=0, beta=1, sample_reduction=torch.mean
    )
    loss.mean().backward()
    optimizer.step()
    optimizer.zero_grad()
    evaluator.update("Train", "elbo", {"log p(x)": elbo})
    evaluator.update("Train", "likelihoods", {"loss": -loss, "log p(x)": elbo, "log p(x|z)": likelihood})
    klds = {
        f"KL z{i + 1}": k
        for i, k in enumerate(sd.loss.kl_samplewise for sd in stage_datas if sd.loss.kl_samplewise is not None)
    }
    klds["KL(q(z|x), p(z))"] = kl
    evaluator.update("Train", "divergences", klds)


def rl_batch(model, optimizer, criterion, evaluator, x, gamma=0.9):
    "The body of their `train_with_RL()` for one batch: L steps, each a Q-value over the remaining levels."
    L = model.n_latents
    decode_from_p_combinations = [[True] * n + [False] * (L - n) for n in range(L)]
    for step in range(L):
        _, stage_datas, posteriors = model(x, n_posterior_samples=1)
        kls = [sd.loss.kl_elementwise for sd in stage_datas if sd.loss.kl_elementwise is not None]
        q_value = 0.0
        for i, decode_from_p in enumerate(decode_from_p_combinations[step:]):
            selected = kls[: i + step + 1]
            likelihood_data, skip_datas = model.generate(
                posteriors=posteriors, x=x, n_prior_samples=x.size(0), decode_from_p=decode_from_p, use_mode=True
            )
            loss, elbo, likelihood, kl = criterion(
                likelihood_data.likelihood, selected, samples=1, free_nats=0, beta=1, sample_reduction=torch.mean
            )
            q_value += gamma**i * loss.mean()
            evaluator.update("Train", "elbo", {f"log p(x) [{i}]": elbo})
            evaluator.update("Train", "likelihoods", {f"log p(x) [{i}]": elbo, f"log p(x|z) [{i}]": likelihood})
            klds = {
                f"KL z{j + 1}": k
                for j, k in enumerate(sd.loss.kl_samplewise for sd in skip_datas if sd.loss.kl_samplewise is not None)
            }
            klds["KL(q(z|x), p(z))"] = kl
            evaluator.update("Train", f"divergences[{i}]", klds)
        q_value.backward()
        optimizer.step()
        optimizer.zero_grad()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--authors", type=Path, required=True, help="a checkout of ruyianry/rep_hierarchy_rl")
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--batches", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    a = p.parse_args()
    oodd, Evaluator = import_oodd(a.authors)
    from hvaerl.data import load_dataset

    ds = load_dataset("fashion_mnist", "fit")
    n = a.batches + a.warmup
    idx = torch.randperm(len(ds), generator=torch.Generator().manual_seed(0))[: n * a.batch_size]
    xs = [ds.batch(idx[i * a.batch_size : (i + 1) * a.batch_size])[0] for i in range(n)]

    dev = torch.device(a.device)
    torch.manual_seed(0)
    base = build_model(oodd).to(dev)
    with torch.no_grad():
        base(xs[0].to(dev))  # weight norm's data-dependent init runs on the first forward pass, as in their training
    steps = {"elbo": elbo_batch, "rl": rl_batch}
    models = {o: copy.deepcopy(base) for o in steps}
    optimizers = {o: torch.optim.Adam(m.parameters(), lr=3e-4) for o, m in models.items()}
    criterion = oodd.losses.ELBO()
    evaluators = {
        o: Evaluator(primary_metric="log p(x)", logger=logging.getLogger("authors"), use_wandb=False) for o in steps
    }
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    times = {o: [] for o in steps}
    for b, x in enumerate(xs):
        x = x.to(dev)
        for o, step in steps.items():
            models[o].train()
            sync()
            t0 = time.perf_counter()
            step(models[o], optimizers[o], criterion, evaluators[o], x)
            sync()
            if b >= a.warmup:
                times[o].append(time.perf_counter() - t0)
    med = {o: statistics.median(t) for o, t in times.items()}
    n_params = sum(p.numel() for p in base.parameters())
    print(
        f"authors' code (oodd VAE, scripts/dvae_run_FashionMNIST_RLQ.py's network, {n_params:,} parameters), "
        f"device {dev} ({torch.get_num_threads()} threads), batch {a.batch_size}, {a.batches} timed batches of "
        f"{ds.source}, float32"
    )
    per_epoch = 60_000 // a.batch_size
    for o in steps:
        print(f"  {o:5s} {med[o] * 1000:8.1f} ms/batch (median), {3600 / (med[o] * per_epoch):7.1f} epochs/hour")
    print(f"  rl / elbo = {med['rl'] / med['elbo']:.2f}")


if __name__ == "__main__":
    main()
