"""The whole update compiled (`TrainConfig.compile="step"`, inductor on this CPU) trains to the same result as eager.

Each objective on each backbone: two copies of one seeded model, 20 updates each on the same seeded batches, one eager
and one through `guarded_update`'s compiled path (the loss with its backward, then the optimizer's update, as graphs).
Losses and parameters must agree to float tolerance: the graphs draw their noise as eager draws it
(`fallback_random`), so nothing but the order of float operations differs. The parameters are float64 here: in
float32 that order alone flips Adam's first updates on gradients near zero (each moves by the learning rate, whatever
the gradient's size), so the two runs would part by a few learning rates for reasons that are not the graphs'. The
likelihoods and KL terms stay float32 (nbs/03_model), so the losses agree to float32's precision. Small networks
(L = 2) keep the compile short; the code path is the one a full-size run takes. The baselines (AAE's three phases,
BIVA, IVAE) are checked through the trainer, against eager's losses.
"""

import copy
import pytest
import torch
from hvaerl.model import HierarchicalVAE, ModelConfig
from hvaerl.objectives import UpdateSettings, train_step

NETWORKS = {
    "mlp": dict(backbone="mlp", latents=(8, 4), hidden=(64, 32)),
    "conv": dict(backbone="conv", latents=(4, 8), spatial_levels=1),
}


@pytest.fixture
def float64_parameters():
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


def _pair(network: str, inference: str):
    torch.manual_seed(0)
    model = HierarchicalVAE(ModelConfig(inference=inference, wiring="as_run", **NETWORKS[network]))
    if model.wants_data_init:  # the conv network's weight-norm layers start from the data
        model.data_init((torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(1)) < 0.5).double())
    twin = copy.deepcopy(model)
    return model, twin, torch.optim.Adam(model.parameters(), 1e-3), torch.optim.Adam(twin.parameters(), 1e-3)


@pytest.mark.usefixtures("float64_parameters")
# inductor compiles the conv graphs for minutes
@pytest.mark.parametrize("network", ["mlp", pytest.param("conv", marks=pytest.mark.minutes(4))])
@pytest.mark.parametrize("objective", ["elbo", "rl_fused", "rl_stepwise"])
def test_compiled_step_trains_as_eager(network, objective):
    inference = "top_down" if objective == "rl_fused" else "bottom_up"  # the ladder's reward path too
    eager, compiled, opt_e, opt_c = _pair(network, inference)
    batches = torch.Generator().manual_seed(2)
    for step in range(20):
        x = (torch.rand(8, 1, 28, 28, generator=batches) < 0.5).double()
        torch.manual_seed(100 + step)  # the trajectories' noise: the same draws for both
        a = train_step(eager, opt_e, x, objective, 0.9, settings=UpdateSettings())
        torch.manual_seed(100 + step)
        b = train_step(compiled, opt_c, x, objective, 0.9, settings=UpdateSettings(compiled=True))
        torch.testing.assert_close(b["loss"], a["loss"], rtol=1e-5, atol=1e-4, msg=lambda m: f"step {step}: {m}")
    for (name, p), q in zip(eager.named_parameters(), compiled.parameters()):
        torch.testing.assert_close(q, p, rtol=1e-6, atol=1e-7, msg=lambda m: f"{name} after 20 steps: {m}")
    moved = max(
        (p - q).abs().max().item() for p, q in zip(eager.parameters(), _pair(network, inference)[0].parameters())
    )
    assert moved > 1e-3  # the 20 updates changed the parameters: the comparison is not of two untrained copies


def test_trainer_compiled_step_checkpoints_and_resumes(tmp_path):
    "`TrainConfig(compile='step')` through the trainer: an epoch checkpoints, a longer budget resumes from it, and the losses follow eager's (float32: to 1e-3)."
    from hvaerl.data import synthetic_dataset_for_tests
    from hvaerl.train import TrainConfig, train

    data = synthetic_dataset_for_tests("fashion_mnist", n=96)  # shapes only: the comparison is compiled against eager
    kw = dict(
        method="hvae_rl", latents=(8, 4), hidden=(64, 32), batch_size=16, max_batches_per_epoch=3, valid_batches=1
    )
    runs = {}
    for mode in ("none", "step"):
        out = tmp_path / mode
        train(
            TrainConfig(**kw, epochs=1, compile=mode, out_dir=str(out)), data, data, progress=False, tensorboard=False
        )
        assert (out / "ckpt.pt").exists()
        runs[mode] = train(
            TrainConfig(**kw, epochs=2, compile=mode, out_dir=str(out)), data, data, progress=False, tensorboard=False
        )
    eager, compiled = runs["none"], runs["step"]
    assert [h["epoch"] for h in compiled.history] == [1, 2]  # the second call resumed the first epoch, not retrained it
    for a, b in zip(eager.history, compiled.history):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-3), (a, b)


@pytest.mark.parametrize("method", ["aae", "biva", "ivae"])
def test_baselines_train_compiled_as_eager(tmp_path, method):
    "The baselines' updates (AAE's three phases, BIVA's and IVAE's losses) go through the same `guarded_update`: compiled whole, two epochs of three batches follow eager's losses (float32: to 1e-4)."
    from hvaerl.data import synthetic_dataset_for_tests
    from hvaerl.train import TrainConfig, train

    data = synthetic_dataset_for_tests("fashion_mnist", n=96)  # shapes only: the comparison is compiled against eager
    one_level = method == "aae"
    kw = dict(
        method=method,
        latents=(8,) if one_level else (8, 4),
        hidden=(64,) if one_level else (64, 32),
        batch_size=16,
        max_batches_per_epoch=3,
        valid_batches=1,
        epochs=2,
    )
    losses = {}
    for mode in ("none", "step"):
        result = train(
            TrainConfig(**kw, compile=mode, out_dir=str(tmp_path / mode)), data, data, progress=False, tensorboard=False
        )
        losses[mode] = [h["loss"] for h in result.history]
    assert len(losses["step"]) == 2
    assert losses["step"] == pytest.approx(losses["none"], rel=1e-4)
