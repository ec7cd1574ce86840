"""LVAE+RL's reward pass before and after it became the authors' (issue 29): the quick preset's eight LVAE+RL runs with
the skip paths through the sampled trajectory (results/lvae_upper_mean/sampled/, the runs made before) against the
same runs through the posterior means at and above each level (results/quick/, rerun with
results/lvae_upper_mean/preset.yaml). Writes results/lvae_upper_mean/comparison.md; the README includes it.

    python scripts/lvae_upper_mean.py
"""

import math
from pathlib import Path
import numpy as np
import pandas as pd
from scipy import stats
from hvaerl.tables import collect_metrics

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "lvae_upper_mean"
COLUMNS = dict(acc_zL="z_L probe (%)", mi_zL="MINE I(x; z_L) (nats)", kl_top="top KL (nats)", bpd="bits/dim")


def runs(folder: Path) -> pd.DataFrame:
    "The LVAE+RL runs under `folder`, by run id."
    df = collect_metrics(folder)
    return df[df.method == "lvae_rl"].set_index("run_id").sort_index()


def main():
    before, after = runs(OUT / "sampled"), runs(ROOT / "results" / "quick")
    assert list(before.index) == list(after.index), (list(before.index), list(after.index))
    lines = [
        "**LVAE+RL: the reward's skip paths through the sampled trajectory against the posterior means (the authors').** "
        "The quick preset's LVAE+RL runs (FashionMNIST, MLP, `wiring=as_run`, 10 epochs), each trained twice from the same "
        "seed: `sampled` decodes each skip path from the trajectory's posterior samples at and above its level (hvaerl's "
        "reward before), `means` from the posterior means there, each re-evaluated on the mean path above (the authors' "
        "`generate(use_mode=True)`; now the default under `as_run`). Written by `scripts/lvae_upper_mean.py`; the `means` "
        "runs ran with the code of commit 6042417 (recorded as 8ab3c1e plus its then uncommitted changes, or a later "
        "commit that changed no training code).",
        "",
        "| run | " + " | ".join(f"{v}: sampled → means" for v in COLUMNS.values()) + " |",
        "|---|" + "---|" * len(COLUMNS),
    ]
    for run in before.index:
        cells = [f"{before.at[run, k]:.3g} → {after.at[run, k]:.3g}" for k in COLUMNS]
        lines.append(f"| {run} | " + " | ".join(cells) + " |")
    t1 = [r for r in before.index if r.count("-") == 2]  # Table 1's runs: fashion_mnist-lvae_rl-s<seed>
    lines += [
        "",
        f"Table 1's {len(t1)} seeds, mean ± std and the paired difference (means − sampled, 95% t-interval, paired by seed):",
        "",
    ]
    lines += ["| quantity | sampled | means | difference | 95% CI | p |", "|---|---|---|---|---|---|"]
    for k, name in COLUMNS.items():
        a, b = before.loc[t1, k].astype(float).to_numpy(), after.loc[t1, k].astype(float).to_numpy()
        d = b - a
        half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
        p = stats.ttest_rel(b, a).pvalue
        lines.append(
            f"| {name} | {a.mean():.3g} ± {a.std(ddof=1):.2g} | {b.mean():.3g} ± {b.std(ddof=1):.2g} | "
            f"{d.mean():+.3g} | [{d.mean() - half:+.3g}, {d.mean() + half:+.3g}] | {p:.2g} |"
        )
    (OUT / "comparison.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
