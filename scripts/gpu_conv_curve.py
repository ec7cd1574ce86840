"""results/gpu_conv/curve.png from its two runs' history.json: validation KL and active units per level, per epoch.

python scripts/gpu_conv_curve.py
"""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

here = Path(__file__).resolve().parents[1] / "results" / "gpu_conv"
fig, axes = plt.subplots(2, 2, figsize=(10, 6), sharex="col", constrained_layout=True)
for col, method in enumerate(["hvae", "hvae_rl"]):
    history = json.loads((here / method / "history.json").read_text())
    epochs = [h["epoch"] for h in history]
    for level in range(5):
        kl = [h["valid_kl"][level] for h in history]
        active = [h["valid_active_units"][level] for h in history]
        axes[0, col].plot(epochs, kl, marker=".", label=f"z{level + 1}")
        axes[1, col].plot(epochs, active, marker=".", label=f"z{level + 1}")
    axes[0, col].set(title=f"{method}, conv, as_run (H200, {history[-1]['seconds'] / 60:.0f} min)", yscale="log")
    axes[0, col].set_ylabel("validation KL (nats/image)")
    axes[1, col].set(xlabel="epoch", yscale="symlog", ylabel="active units")
    axes[0, col].legend(fontsize=8)
fig.savefig(here / "curve.png", dpi=120)
