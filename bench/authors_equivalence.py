"""Do hvaerl's conv models compute what the authors' code computes? Their weights in hvaerl's network, same batch, same noise.

    python bench/authors_equivalence.py --authors PATH/TO/rep_hierarchy_rl            # all four models
    python bench/authors_equivalence.py --authors PATH --models fashion_mnist-hvae     # one of them

For each of FashionMNIST and CIFAR-10 and each of HVAE (their `VAE`) and LVAE (their `LVAE`):

1. their model is built from their package (`oodd`, imported from the checkout given) as their scripts build it:
   `CONFIG_deterministic`, `CONFIG_stochastic` and `LIKELIHOOD` read from `scripts/dvae_run_FashionMNIST_RLQ.py` and
   `scripts/dvae_run_CIFAR10_RLQ.py` themselves, `VAE.get_argparser()`'s defaults (ReLU, `skip_stochastic=True`), in
   float64; its first forward pass runs their data-dependent weight-norm init on an initialisation batch;
2. hvaerl's model is built as its trainer builds it, `TrainConfig(method, backbone="conv", dataset)` (the paper
   presets' network: `wiring="as_run"`, `conv_net="authors"`), and *their* weights are loaded into it by a name map
   (`pairs`): every weight-normalised layer's g, v and bias, every parameter of both models covered once;
3. both run one batch with the same noise: hvaerl's `infer(x, eps)`, theirs with `torch.distributions.Normal.rsample`
   patched to return `loc + eps * scale` with the same eps, level by level (bottom-up for `VAE`, top-down for `LVAE`).

Compared, per example (relative difference: max over the batch of |ours - theirs| / max over the batch of |theirs|;
pass: at most 1e-4): log p(x|z); the KL of every level, sampled (log q(z) - log p(z) at the drawn z, what their loss
reads) and analytic (KL[q || p], from the same q and p); and every skip path's log p(x | z^t) as their `train_with_RL`
computes it, `generate(posteriors, decode_from_p=[True]*(t-1) + [False]*(L-t+1), use_mode=True)`, against hvaerl's
`skip_decode` on the same sampled trajectory. Their `LvaeStage` re-infers the posteriors at and above t inside that call
at their modes (`use_mode=True`); hvaerl's LVAE skip paths are decoded the same way, `skip_decode(..., upper_mean=True)`
(`posterior_mean_states`), which is what LVAE+RL's reward reads by default under `as_run`. hvaerl's KL terms are computed here from its trajectory in
float64 (its own `gaussian_kl` works in float32).

Every weight-normalised layer's output is also recorded on both sides in the main pass: where a quantity differs, the
first layer whose output differs names the block. The batch is real FashionMNIST (hvaerl's loader, binarized); CIFAR-10
is not on every machine, so its batch is synthetic 8-bit images (the networks' arithmetic does not care). The compared
images are the first of their init batch (with images the init has not seen, the priors' σ of an init on a few
images reach their clamp at 1e-6 and the KLs 1e14 nats: they match too, but in a regime no training run sees). Writes
`results/authors_equivalence/README.md` (the tables) and `equivalence.json` (or --out).
"""

import argparse, ast, json, sys
from pathlib import Path

import torch
import torch.distributions as D

sys.path.insert(0, str(Path(__file__).resolve().parent))
from authors_step_cost import import_oodd  # noqa: E402

from hvaerl.methods import get_method  # noqa: E402
from hvaerl.train import TrainConfig  # noqa: E402

SCRIPTS = {"fashion_mnist": "dvae_run_FashionMNIST_RLQ.py", "cifar10": "dvae_run_CIFAR10_RLQ.py"}
IMAGE_SHAPES = {"fashion_mnist": (1, 28, 28), "cifar10": (3, 32, 32)}  # their FashionMNISTBinarized, CIFAR10Dequantized
THEIR_CLASS = {"hvae": "VAE", "lvae": "LVAE"}
MODELS = [f"{d}-{m}" for d in SCRIPTS for m in THEIR_CLASS]
TOL = 1e-4


def script_config(authors: Path, dataset: str) -> dict:
    "CONFIG_deterministic, CONFIG_stochastic and LIKELIHOOD as the literals their script assigns (the script itself parses sys.argv and trains on import)."
    tree = ast.parse((authors / "scripts" / SCRIPTS[dataset]).read_text())
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name in ("CONFIG_deterministic", "CONFIG_stochastic", "LIKELIHOOD"):
                found[name] = ast.literal_eval(node.value)
    return found


def build_theirs(oodd, authors: Path, dataset: str, method: str):
    "Their model as their script builds it: `getattr(oodd.models.dvae, args.model)` with its argparser's defaults."
    cfg = script_config(authors, dataset)
    klass = getattr(oodd.models.dvae, THEIR_CLASS[method])
    args, _ = klass.get_argparser().parse_known_args([])
    args.input_shape = IMAGE_SHAPES[dataset]
    args.config_deterministic = cfg["CONFIG_deterministic"]
    args.config_stochastic = cfg["CONFIG_stochastic"]
    args.likelihood_module = cfg["LIKELIHOOD"]
    return klass(**vars(args))


def build_ours(dataset: str, method: str):
    cfg = TrainConfig(method=method, backbone="conv", dataset=dataset)
    return get_method(method).build_model(cfg.model_config(IMAGE_SHAPES[dataset]))


def _block_pairs(name, theirs_block, ours_block):
    "The convolutions of one ResBlockConv2d and its AuthorsBlock."
    for part in ("conv1", "aux_op", "conv2"):
        a, b = getattr(theirs_block, part), getattr(ours_block, part)
        if (a is None) != (b is None):
            raise ValueError(
                f"{name}.{part}: theirs {'has' if a is not None else 'has no'} it, hvaerl's does not agree"
            )
        if a is not None:
            yield f"{name}.{part}", a.conv, b.conv


def pairs(theirs, ours):
    "(their name, their weight-normalised layer, hvaerl's layer) for every layer with weights, stage by stage."
    L = ours.levels
    for i, st in enumerate(theirs.stages):
        enc = ours.x_encoder if i == 0 else ours.enc_stages[i - 1]
        for j, blk in enumerate(st.q_deterministic.layers):
            yield from _block_pairs(f"stages.{i}.q_deterministic.layers.{j}", blk, enc.blocks[j])
        if getattr(st, "q_projection", None) is not None and st.q_projection.transform is not None:
            mine = ours.enc_stages[i].proj if i < L - 1 else ours.top_q_projection
            yield f"stages.{i}.q_projection", st.q_projection.transform.linear, mine.proj
        sto = st.stochastic
        q = sto.in_transform_q
        yield f"stages.{i}.stochastic.in_transform_q", getattr(q, "conv", None) or q.linear, ours.q_heads[i].proj
        if sto.in_transform_p is not None:
            p = sto.in_transform_p
            yield (
                f"stages.{i}.stochastic.in_transform_p",
                getattr(p, "conv", None) or p.linear,
                ours.prior_heads[i].proj,
            )
        if st.p_projection.transform is not None:
            yield f"stages.{i}.p_projection", st.p_projection.transform.linear, ours.gen_stages[i].proj.proj
        for j, blk in enumerate(st.p_deterministic.layers):
            yield from _block_pairs(f"stages.{i}.p_deterministic.layers.{j}", blk, ours.gen_stages[i].blocks[j])
        if hasattr(st, "merge"):
            yield from _block_pairs(f"stages.{i}.merge", st.merge, ours.merges[i])
    yield "likelihood.parameter_net", theirs.likelihood.parameter_net.conv, ours.x_decoder.proj


@torch.no_grad()
def load_their_weights(theirs, ours) -> list:
    "Copy g, v and bias of every paired layer into hvaerl's model; check that both sides' parameters are all covered."
    names, seen_theirs, seen_ours = [], set(), set()
    for name, a, b in pairs(theirs, ours):
        pb = b.parametrizations.weight
        for src, dst in ((a.weight_g, pb.original0), (a.weight_v, pb.original1), (a.bias, b.bias)):
            if src.shape != dst.shape:
                raise ValueError(f"{name}: their {tuple(src.shape)} against hvaerl's {tuple(dst.shape)}")
            dst.copy_(src)
            seen_theirs.add(id(src))
            seen_ours.add(id(dst))
        names.append(name)
    left_theirs = [n for n, p in theirs.named_parameters() if id(p) not in seen_theirs]
    left_ours = [n for n, p in ours.named_parameters() if id(p) not in seen_ours]
    if left_theirs or left_ours:
        raise ValueError(f"parameters without a counterpart: theirs {left_theirs}, hvaerl's {left_ours}")
    return names


class FixedNoise:
    "Patch `Normal.rsample` to return loc + eps * scale with the given eps, in order of the calls."

    def __init__(self, eps: list):
        self.eps, self.original = list(eps), D.Normal.rsample

    def __enter__(self):
        queue = self.eps

        def rsample(dist, sample_shape=()):
            e = queue.pop(0)
            if e.numel() != dist.loc.numel():
                raise ValueError(f"noise of {e.numel()} units for a latent of {tuple(dist.loc.shape)}")
            return dist.loc + e.view_as(dist.loc) * dist.scale

        D.Normal.rsample = rsample
        return self

    def __exit__(self, *exc):
        D.Normal.rsample = self.original
        if not exc[0] and self.eps:
            raise RuntimeError(f"{len(self.eps)} noise tensors left unused: the levels were not drawn once each")


class Recorder:
    "The first output of each paired layer, on both sides, while active."

    def __init__(self, named_pairs):
        self.out, self.order = {}, []  # order: the layers as their pass first runs them
        self.hooks = []
        for name, a, b in named_pairs:
            for side, m in (("theirs", a), ("ours", b)):
                self.hooks.append(m.register_forward_hook(self._hook(name, side)))

    def _hook(self, name, side):
        def hook(m, args, out):
            if (name, side) not in self.out:
                self.out[name, side] = out.detach().clone()
                if side == "theirs":
                    self.order.append(name)

        return hook

    def remove(self):
        for h in self.hooks:
            h.remove()


def rel(ours: torch.Tensor, theirs: torch.Tensor) -> float:
    return float((ours - theirs).abs().max() / theirs.abs().max().clamp_min(1e-300))


def batch(dataset: str, n: int, seed: int) -> tuple:
    if dataset == "fashion_mnist":
        from hvaerl.data import load_dataset

        ds = load_dataset("fashion_mnist", "valid")  # statically binarized: {0, 1}, as their FashionMNISTBinarized
        idx = torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed))[:n]
        return ds.batch(idx)[0].double(), f"{ds.source}: {n} valid images, binarized"
    g = torch.Generator().manual_seed(seed)
    C, H, W = IMAGE_SHAPES[dataset]
    coarse = torch.rand(
        n, C, H // 8, W // 8, generator=g
    )  # smooth colour fields plus pixel noise, clipped: 0 and 255 occur
    x = torch.nn.functional.interpolate(coarse, size=(H, W), mode="bilinear") + 0.15 * torch.randn(
        n, C, H, W, generator=g
    )
    x = (x.clamp(0, 1) * 255).round().double() / 255
    return (
        x,
        f"{n} synthetic 8-bit images in [0, 1] (smooth colour fields plus noise; no CIFAR-10 needed to compare the arithmetic)",
    )


def their_pass(theirs, x, eps, L, top_down):
    "Their forward pass (log p(x|z), KLs) and their skip paths as `train_with_RL` computes them."
    with FixedNoise(eps[::-1] if top_down else eps):
        lik, stage_datas, posteriors = theirs(x, n_posterior_samples=1)
    kl_sampled = [sd.loss.kl_samplewise for sd in stage_datas]
    kl_exact = [D.kl_divergence(sd.q.dist, sd.p.dist).flatten(1).sum(1) for sd in stage_datas]
    skips = []
    for n_p in range(L):  # the path from z_t, t = n_p + 1: the n_p levels below t decoded from their prior modes
        decode_from_p = [True] * n_p + [False] * (L - n_p)
        with FixedNoise([]):  # no draws: every z is a posterior sample of the pass above or a mode
            lk, _ = theirs.generate(
                posteriors=posteriors, x=x, n_prior_samples=x.shape[0], decode_from_p=decode_from_p, use_mode=True
            )
        skips.append(lk.likelihood)
    return lik.likelihood, kl_sampled, kl_exact, skips


def our_pass(ours, x, eps, top_down):
    traj = ours.infer(x, eps=eps)
    ll = ours.log_likelihood(x, ours.decode(traj.x_state)).double()
    q = [D.Normal(m, s) for m, s in zip(traj.q_mu, traj.q_std)]
    p = [D.Normal(m, s) for m, s in zip(traj.p_mu, traj.p_std)]
    kl_sampled = [(qq.log_prob(z) - pp.log_prob(z)).sum(1) for qq, pp, z in zip(q, p, traj.z)]
    kl_exact = [D.kl_divergence(qq, pp).sum(1) for qq, pp in zip(q, p)]
    # their LvaeStage re-infers the levels at and above t at the posterior modes inside `generate`: so does upper_mean
    L = ours.levels
    out = ours.skip_decode(traj, list(range(1, L + 1)), upper_mean=top_down)
    skips = [ours.log_likelihood(x, out[t]).double() for t in range(1, L + 1)]
    return ll, kl_sampled, kl_exact, skips


@torch.no_grad()
def compare(oodd, authors: Path, name: str, n: int, n_init: int, seed: int) -> dict:
    dataset, method = name.split("-")
    top_down = method == "lvae"
    torch.manual_seed(seed)
    theirs = build_theirs(oodd, authors, dataset, method).double()
    ours = build_ours(dataset, method).double()
    x_init, source = batch(dataset, max(n, n_init), seed)
    theirs(x_init)  # their data-dependent init runs inside the first forward pass (their global noise)
    theirs.eval(), ours.eval()
    layer_names = load_their_weights(theirs, ours)
    x = x_init[:n]  # compared on the first images of the init batch, as their first training batch
    L = ours.levels
    g = torch.Generator().manual_seed(seed + 2)
    eps = [torch.randn(n, d, generator=g, dtype=torch.float64) for d in ours.config.latent_dims]

    named = list(pairs(theirs, ours))
    rec = Recorder(named)  # keeps each layer's first output: the main pass's (the skip paths come after it)
    try:
        t_ll, t_kls, t_kle, t_skip = their_pass(theirs, x, eps, L, top_down)
        o_ll, o_kls, o_kle, o_skip = our_pass(ours, x, eps, top_down)
    finally:
        rec.remove()

    rows = [("log p(x|z)", t_ll, o_ll)]
    rows += [(f"KL z{l + 1} (sampled)", t_kls[l], o_kls[l]) for l in range(L)]
    rows += [(f"KL z{l + 1} (analytic)", t_kle[l], o_kle[l]) for l in range(L)]
    rows += [(f"skip log p(x|z^{t + 1})", t_skip[t], o_skip[t]) for t in range(L)]
    quantities = [
        dict(
            quantity=q,
            theirs=float(a.mean()),
            ours=float(b.mean()),
            rel_diff=rel(b.double(), a.double()),
            passed=rel(b.double(), a.double()) <= TOL,
        )
        for q, a, b in rows
    ]
    layers = []
    for lname, _, _ in named:
        a, b = rec.out.get((lname, "theirs")), rec.out.get((lname, "ours"))
        if a is None or b is None:
            why = (
                "run by neither"
                if a is None and b is None
                else "run by theirs only"
                if b is None
                else "run by hvaerl only"
            )
            layers.append(dict(layer=lname, rel_diff=None, passed=None, note=why))
            continue
        r = rel(b, a) if a.shape == b.shape else float("inf")
        layers.append(
            dict(
                layer=lname,
                rel_diff=r,
                passed=r <= TOL,
                note="" if a.shape == b.shape else f"shapes {tuple(a.shape)} / {tuple(b.shape)}",
            )
        )
    by_name = {l["layer"]: l for l in layers}
    first_bad = next((by_name[n] for n in rec.order if by_name[n]["passed"] is False), None)  # in their order
    return dict(
        model=name,
        their_class=THEIR_CLASS[method],
        script=SCRIPTS[dataset],
        parameters_theirs=sum(p.numel() for p in theirs.parameters()),
        parameters_ours=sum(p.numel() for p in ours.parameters()),
        weight_normed_layers_loaded=len(layer_names),
        batch=f"their init batch: {source}; compared: its first {n}",
        quantities=quantities,
        layers=layers,
        first_differing_layer=first_bad,
        all_passed=all(q["passed"] for q in quantities),
    )


def provenance() -> str:
    "hvaerl's commit (marked when hvaerl/ or bench/ has uncommitted changes), torch, the date."
    import datetime, subprocess

    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "hvaerl", "bench"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        commit = f"`{head}`" + (" with uncommitted changes in hvaerl/ or bench/" if dirty else "")
    except OSError:
        commit = "unknown (no git)"
    day = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    return f"hvaerl commit {commit}, torch {torch.__version__}, {day}."


def markdown(results: list, args) -> str:
    lines = [
        "# hvaerl's conv network against the authors' code: their weights, same batch, same noise",
        "",
        "Written by `bench/authors_equivalence.py` (its docstring says how each quantity is computed). Both networks in",
        "float64 on the CPU; relative difference = max over the batch of |ours - theirs| / max over the batch of |theirs|;",
        f"pass: at most {TOL:g}. The theirs/ours columns are batch means. {provenance()}",
        "",
        f"    python bench/authors_equivalence.py --authors PATH/TO/rep_hierarchy_rl --batch {args.batch} --init-batch {args.init_batch} --seed {args.seed}",
        "",
    ]
    for r in results:
        n_layers = sum(l["passed"] is not None for l in r["layers"])
        n_ok = sum(bool(l["passed"]) for l in r["layers"])
        lines += [
            f"## {r['model']} (their `{r['their_class']}`, `scripts/{r['script']}`)",
            "",
            (
                f"Parameters: theirs {r['parameters_theirs']:,}, hvaerl's {r['parameters_ours']:,}; "
                f"{r['weight_normed_layers_loaded']} weight-normalised layers loaded by name. Images: {r['batch']}."
            ),
            f"Layer outputs in the main pass: {n_ok} of {n_layers} agree within {TOL:g}"
            + "".join(f"; `{l['layer']}` {l['note']}" for l in r["layers"] if l["passed"] is None)
            + ".",
            "",
            "| quantity | theirs | ours | relative difference | pass |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {q['quantity'].replace('|', chr(92) + '|')} | {q['theirs']:.6f} | {q['ours']:.6f} | {q['rel_diff']:.2e} | {'yes' if q['passed'] else 'NO'} |"
            for q in r["quantities"]
        ]
        bad = r["first_differing_layer"]
        if bad:
            lines += [
                "",
                f"First layer whose output differs: `{bad['layer']}` (relative difference {bad['rel_diff']:.2e}).",
            ]
        lines.append("")
    lines += [
        "## Not compared here",
        "",
        "* The data-dependent init itself: hvaerl's `data_init` and their first forward pass run the same procedure (v",
        "  redrawn kaiming normal, then each layer's gain and bias set from its output's mean and variance on the batch,",
        "  in the order the data reaches it), but with different random streams and hvaerl's std floor of 1e-6 where",
        "  they add 1e-8 to the variance; the weights compared above are theirs, after their init.",
        "* Gradients and optimizer steps (the forward graphs are the same layer for layer; nothing here differentiates).",
        "* The data: their CIFAR10Dequantized adds U(0, 1) noise to the 8-bit values, (k + u) / 256; hvaerl feeds k / 255.",
        "",
    ]
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--authors", type=Path, required=True, help="a checkout of ruyianry/rep_hierarchy_rl")
    p.add_argument("--models", nargs="+", default=MODELS, choices=MODELS)
    p.add_argument("--batch", type=int, default=4, help="images compared")
    p.add_argument("--init-batch", type=int, default=16, help="images of their data-dependent init")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "results" / "authors_equivalence")
    a = p.parse_args()
    oodd, _ = import_oodd(a.authors)
    results = []
    for name in a.models:
        r = compare(oodd, a.authors, name, a.batch, a.init_batch, a.seed)
        results.append(r)
        print(f"{name}: {'all pass' if r['all_passed'] else 'DIFFERS'}", flush=True)
        for q in r["quantities"]:
            print(
                f"  {q['quantity']:28s} {q['theirs']:14.6f} {q['ours']:14.6f} {q['rel_diff']:9.2e} {'ok' if q['passed'] else 'NO'}"
            )
        if r["first_differing_layer"]:
            print(f"  first differing layer: {r['first_differing_layer']}")
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "equivalence.json").write_text(json.dumps(results, indent=1) + "\n")
    (a.out / "README.md").write_text(markdown(results, a))
    sys.exit(0 if all(r["all_passed"] for r in results) else 1)


if __name__ == "__main__":
    main()
