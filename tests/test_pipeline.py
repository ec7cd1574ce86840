"The reproduction pipeline's executors and presets, with a stand-in run notebook (no training)."
import json, os, signal, subprocess, sys, time
from pathlib import Path
import pytest
from hvaerl.pipeline import (RunSpec, build_grid, dry_run_notebook, is_complete, load_preset, run_grid, preset_path)

def test_quick_preset_grid():
    runs = {r.run_id: r for r in build_grid(load_preset("quick"))}
    table1 = [r for r in runs.values() if "table1" in r.groups]
    assert {r.method for r in table1} == {"vae", "aae", "biva", "ivae", "hvae", "hvae_rl", "lvae", "lvae_rl"}
    assert all(r.dataset == "fashion_mnist" and r.seed == 0 for r in table1)
    assert {r.gamma for r in runs.values() if "table4" in r.groups} == {0.0}
    assert {r.levels for r in runs.values() if "fig6" in r.groups} == {2, 3}
    assert {r.dataset for r in runs.values() if "fig2" in r.groups} == {"mnist"}
    # budgets in epochs, not minutes (they reproduce under load), and equal for every FashionMNIST run: with rl_fused, equal
    # epochs are equal numbers of updates, the paper's comparison
    assert all(r.budget_minutes is None for r in runs.values())
    assert len({r.epochs for r in runs.values() if r.dataset == "fashion_mnist"}) == 1
    # full epochs: the run notebook's smoke cap on batches per epoch must be lifted by the preset
    assert all("max_batches_per_epoch" in r.params and r.params["max_batches_per_epoch"] is None for r in runs.values())

def test_paper_preset_grid():
    runs = build_grid(load_preset("paper"))
    table1 = [r for r in runs if "table1" in r.groups]
    assert len(table1) == 5 * 8 * 5
    assert {r.epochs for r in table1 if r.method.endswith("_rl")} == {200}
    assert {r.epochs for r in table1 if not r.method.endswith("_rl")} == {1000}
    assert {(r.levels, r.epochs) for r in runs if "fig6" in r.groups and r.method == "hvae_rl"} == {(1, 1000), (2, 500), (3, 333), (4, 250)}
    assert all(r.params["backbone"] == "conv" and r.params["device"] == "cuda" for r in runs)
    # the RL methods train as Algorithm 1 (L updates per batch), every method for the same number of updates
    assert all(r.params.get("objective") == "rl_stepwise" for r in runs if r.method.endswith("_rl"))
    assert all(r.params.get("merge") == "learned" for r in runs)
    assert all("max_batches_per_epoch" in r.params and r.params["max_batches_per_epoch"] is None for r in runs)

def test_unknown_preset_lists_known():
    with pytest.raises(ValueError, match="quick"): preset_path("nope")

def test_failing_run_is_isolated_and_reported(tmp_path):
    nb = dry_run_notebook(tmp_path / "nb.ipynb")
    runs = [RunSpec("x", "ok", 0), RunSpec("x", "boom", 0), RunSpec("x", "ok", 1)]
    out = {o.run_id: o for o in run_grid(runs, tmp_path / "runs", jobs=2, notebook=nb, progress=False)}
    assert [out[k].status for k in ("x-ok-s0", "x-boom-s0", "x-ok-s1")] == ["done", "failed", "done"]
    assert "exploded on purpose" in out["x-boom-s0"].error and Path(out["x-boom-s0"].notebook).exists()
    assert json.loads((tmp_path / "runs/x-ok-s1/metrics.json").read_text())["seed"] == 1  # others untouched

def test_resume_after_killed_batch(tmp_path):
    "Kill a batch while its second run is in flight; rerunning skips the finished run and completes the rest."
    nb = dry_run_notebook(tmp_path / "nb.ipynb", sleep=4)
    script = (f"from hvaerl.pipeline import RunSpec, run_grid\n"
              f"run_grid([RunSpec('x', 'm', s) for s in range(3)], {str(tmp_path / 'runs')!r}, notebook={str(nb)!r}, progress=False)")
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    deadline = time.time() + 120
    while not is_complete(tmp_path / "runs/x-m-s0") and time.time() < deadline: time.sleep(0.2)
    assert is_complete(tmp_path / "runs/x-m-s0")
    os.killpg(proc.pid, signal.SIGKILL); proc.wait()  # the whole batch dies, kernels included
    assert not is_complete(tmp_path / "runs/x-m-s2")
    first = json.loads((tmp_path / "runs/x-m-s0/metrics.json").read_text())
    quick = dry_run_notebook(tmp_path / "nb.ipynb", sleep=0)
    out = {o.run_id: o.status for o in run_grid([RunSpec("x", "m", s) for s in range(3)], tmp_path / "runs", notebook=quick, progress=False)}
    assert out["x-m-s0"] == "skipped" and out["x-m-s2"] == "done"
    assert json.loads((tmp_path / "runs/x-m-s0/metrics.json").read_text()) == first

def test_slurm_path_through_submitit_local_executor(tmp_path):
    nb = dry_run_notebook(tmp_path / "nb.ipynb")
    runs = [RunSpec("x", "ok", 0), RunSpec("x", "boom", 0)]
    out = {o.run_id: o.status for o in run_grid(runs, tmp_path / "runs", executor="submitit_local", notebook=nb, progress=False)}
    assert out == {"x-ok-s0": "done", "x-boom-s0": "failed"}
    assert (tmp_path / "runs/submitit").is_dir()
