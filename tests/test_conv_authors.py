"""The conv backbone under `wiring="as_run"` is the authors' network block for block (nbs/03_model,
`conv_net="authors"`): its parameter counts, for the four models hvaerl's TrainConfig builds, are those of the same
models built from their code (ruyianry/rep_hierarchy_rl's scripts, hvae-oodd's `VAE` and `LVAE`). Counted on the
meta device: no memory, a few seconds. `bench/authors_equivalence.py` checks the numbers the two networks compute."""

import pytest
import torch

from hvaerl.methods import get_method
from hvaerl.train import TrainConfig

# sum(p.numel() for p in model.parameters()) of the authors' models, built as their scripts build them
AUTHORS_PARAMETERS = {
    ("fashion_mnist", "hvae"): 5_340_258,  # scripts/dvae_run_FashionMNIST_RLQ.py, model VAE
    ("fashion_mnist", "lvae"): 5_472_098,  # the same with model LVAE
    ("cifar10", "hvae"): 60_169_928,  # scripts/dvae_run_CIFAR10_RLQ.py, model VAE
    ("cifar10", "lvae"): 67_700_936,  # the same with model LVAE
}
IMAGE_SHAPES = {"fashion_mnist": (1, 28, 28), "cifar10": (3, 32, 32)}


def build(dataset, method, **kw):
    cfg = TrainConfig(method=method, backbone="conv", dataset=dataset, **kw)
    with torch.device("meta"):
        return get_method(method).build_model(cfg.model_config(IMAGE_SHAPES[dataset]))


@pytest.mark.parametrize("dataset,method", list(AUTHORS_PARAMETERS))
def test_parameter_count_is_the_authors(dataset, method):
    model = build(dataset, method)
    assert model.config.wiring == "as_run" and model.config.conv_net == "authors"
    assert sum(p.numel() for p in model.parameters()) == AUTHORS_PARAMETERS[dataset, method]


@pytest.mark.parametrize("dataset,method", [("fashion_mnist", "hvae_rl"), ("cifar10", "lvae_rl")])
def test_rl_methods_train_the_same_network(dataset, method):
    # the RL methods change the objective, not the network
    base = method.removesuffix("_rl")
    assert sum(p.numel() for p in build(dataset, method).parameters()) == AUTHORS_PARAMETERS[dataset, base]
