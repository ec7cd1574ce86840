"""LVAE+RL's two reward passes seed by seed: the quick preset trains each LVAE+RL run of Tables 1 and 4 twice from one
seed, its skip paths through the sampled trajectory (run ids ending `-sampled`) and through the posterior means at and
above each level (`-means`, the authors' pass). Pairs them in results/quick and writes
results/lvae_upper_mean/comparison.md, which FINDINGS includes.

    python scripts/lvae_upper_mean.py
"""

from pathlib import Path
from hvaerl.tables import collect_metrics, _t_interval

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "lvae_upper_mean"
PASSES = ("sampled", "means")
COLUMNS = dict(acc_zL="z_L probe (%)", mi_zL="MINE I(x; z_L) (nats)", kl_top="top KL (nats)", bpd="bits/dim")


def passes(folder: Path) -> tuple:
    "(sampled, means): the LVAE+RL runs under `folder` trained with each reward pass, indexed by the run id without its pass."
    df = collect_metrics(folder)
    df = df[df.method == "lvae_rl"].set_index("run_id")
    by_pass = {p: df[df.index.str.endswith(f"-{p}")].rename(index=lambda r: r.rsplit("-", 1)[0]) for p in PASSES}
    both = sorted(set(by_pass["sampled"].index) & set(by_pass["means"].index))
    return tuple(by_pass[p].loc[both] for p in PASSES)


def main():
    sampled, means = passes(ROOT / "results" / "quick")
    lines = [
        "**LVAE+RL: the reward's skip paths through the sampled trajectory against the posterior means (the authors').** "
        "The quick preset's LVAE+RL runs of Tables 1 and 4 (FashionMNIST, MLP, `wiring=as_run`, 10 epochs), each trained "
        "twice from the same seed: `sampled` decodes each skip path from the trajectory's posterior samples at and above "
        "its level, `means` from the posterior means there, each re-evaluated on the mean path above (the authors' "
        "`generate(use_mode=True)`). Which pass a run that names none trains is the variant rule's pick "
        "(figures/lvae_variant.md). Written by `scripts/lvae_upper_mean.py` from results/quick.",
        "",
        "| run | " + " | ".join(f"{v}: sampled → means" for v in COLUMNS.values()) + " |",
        "|---|" + "---|" * len(COLUMNS),
    ]
    for run in sampled.index:
        cells = [f"{sampled.at[run, k]:.3g} → {means.at[run, k]:.3g}" for k in COLUMNS]
        lines.append(f"| {run} | " + " | ".join(cells) + " |")
    t1 = [r for r in sampled.index if r.count("-") == 2]  # Table 1's runs: fashion_mnist-lvae_rl-s<seed>
    lines += [
        "",
        f"Table 1's {len(t1)} seeds, mean ± std and the paired difference (means − sampled, 95% t-interval, paired by seed):",
        "",
    ]
    lines += ["| quantity | sampled | means | difference | 95% CI | p |", "|---|---|---|---|---|---|"]
    for k, name in COLUMNS.items():
        a, b = sampled.loc[t1, k].astype(float), means.loc[t1, k].astype(float)
        _, diff, _, lo, hi, p = _t_interval(b - a, 0.0)  # paired by seed: the t-test of the differences against 0
        lines.append(
            f"| {name} | {a.mean():.3g} ± {a.std(ddof=1):.2g} | {b.mean():.3g} ± {b.std(ddof=1):.2g} | "
            f"{diff:+.3g} | [{lo:+.3g}, {hi:+.3g}] | {p:.2g} |"
        )
    (OUT / "comparison.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
