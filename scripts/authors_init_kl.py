"""KL per level at initialisation: the authors' FashionMNIST network (their code) beside hvaerl's conv backbone.

    python scripts/authors_init_kl.py --authors PATH/TO/rep_hierarchy_rl [--images 64]

Both networks initialise their weight-normalised layers from the same batch of real FashionMNIST images (theirs
inside their first forward pass, hvaerl's by `data_init`), then report the mean KL[q || p] per level, z_1 first,
of one sampled pass over those images. A check of the initialisation's scale, not of training: one draw each.
"""

import argparse, sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from authors_step_cost import build_model, import_oodd  # noqa: E402

from hvaerl.data import load_dataset  # noqa: E402
from hvaerl.model import HierarchicalVAE, ModelConfig  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--authors", type=Path, required=True, help="a checkout of ruyianry/rep_hierarchy_rl")
    p.add_argument("--images", type=int, default=64)
    a = p.parse_args()
    oodd, _ = import_oodd(a.authors)
    x = load_dataset("fashion_mnist", "fit").batch(torch.arange(a.images))[0]
    torch.manual_seed(0)
    theirs = build_model(oodd)
    with torch.no_grad():
        theirs(x)  # their data-dependent init runs in the first forward pass
        _, stage_datas, _ = theirs(x)
    print("authors' code      ", [round(float(s.loss.kl_samplewise.mean()), 1) for s in stage_datas])
    for wiring in ("as_run", "skip"):
        torch.manual_seed(0)
        ours = HierarchicalVAE(
            ModelConfig(backbone="conv", latents=(8, 64, 32, 16, 8), spatial_levels=1, wiring=wiring)
        )
        ours.data_init(x)
        with torch.no_grad():
            kl = ours.infer(x).kl.mean(1)
        print(f"hvaerl, {wiring:8s}   ", [round(float(k), 1) for k in kl])


if __name__ == "__main__":
    main()
