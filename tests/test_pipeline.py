"The reproduction pipeline's executors and presets, with a stand-in run notebook (no training)."

import dataclasses, json, os, signal, subprocess, sys, time
from pathlib import Path
import pytest
from hvaerl.pipeline import RunSpec, build_grid, dry_run_notebook, is_complete, load_preset, run_grid, preset_path


def test_quick_preset_grid():
    runs = {r.run_id: r for r in build_grid(load_preset("quick"))}
    table1 = [r for r in runs.values() if "table1" in r.groups]
    assert {r.method for r in table1} == {"vae", "aae", "biva", "ivae", "hvae", "hvae_rl", "lvae", "lvae_rl"}
    # Tables 1 and 4 over the paper's five seeds (the claims table tests them, paired by seed); Fig. 6's L = 2, 3 over
    # three (its claims need an interval), Fig. 2 one
    assert all(r.dataset == "fashion_mnist" for r in table1)
    assert all({r.seed for r in table1 if r.method == m} == set(range(5)) for m in {r.method for r in table1})
    # LVAE+RL both ways in Tables 1 and 4, each pass named (the script's means and the sampled trajectory, by suffix);
    # Fig. 6 names none: it trains as_run's default, the variant rule's pick
    for value, suffix in ((True, "means"), (False, "sampled")):
        named = {r.run_id for r in runs.values() if r.params.get("upper_mean") is value}
        assert named == {f"fashion_mnist-lvae_rl-s{s}{g}-{suffix}" for s in range(5) for g in ("", "-g0")}
    assert all("upper_mean" not in r.params for r in runs.values() if "fig6" in r.groups)
    table4 = [r for r in runs.values() if "table4" in r.groups]
    assert {r.gamma for r in table4} == {0.0} and {(r.run_id.split("-")[1], r.seed) for r in table4} == {
        (m, s) for m in ("hvae_rl", "lvae_rl") for s in range(5)
    }
    assert len(table4) == 15  # LVAE+RL's g0 both ways
    assert {r.seed for r in runs.values() if "fig6" in r.groups} == {0, 1, 2}
    assert {r.seed for r in runs.values() if "fig2" in r.groups} == {0}
    # the full-z probe (two minutes of SVM a run) only where Table 3 reports it: Table 1's four hierarchies
    full = {r.run_id for r in runs.values() if {**r.params}.get("probe_full", True)}
    assert full == {f"fashion_mnist-{m}-s{s}" for m in ("hvae", "hvae_rl", "lvae") for s in range(5)} | {
        f"fashion_mnist-lvae_rl-s{s}-{p}" for s in range(5) for p in ("means", "sampled")
    }
    assert not any(r.params.get("probe_full_scaled", True) for r in runs.values())
    assert {r.levels for r in runs.values() if "fig6" in r.groups} == {2, 3}
    assert {r.dataset for r in runs.values() if "fig2" in r.groups} == {"mnist"}
    # the preset declares which runs save the arrays Figs. 1, 2 and 5 draw: seed 0 of HVAE and HVAE+RL at their own L and discount
    assert {r.run_id for r in runs.values() if r.figure_data} == {
        f"{d}-{m}-s0" for d in ("fashion_mnist", "mnist") for m in ("hvae", "hvae_rl")
    }
    # budgets in epochs, not minutes (they reproduce under load), and equal for every FashionMNIST run: with rl_fused, equal
    # epochs are equal numbers of updates, the paper's comparison
    assert all(r.budget_minutes is None for r in runs.values())
    assert len({r.epochs for r in runs.values() if r.dataset == "fashion_mnist"}) == 1
    # full epochs: the run notebook's smoke cap on batches per epoch must be lifted by the preset
    assert all("max_batches_per_epoch" in r.params and r.params["max_batches_per_epoch"] is None for r in runs.values())


def test_wiring_preset_grid():
    "The wiring ablation: four hierarchies under each wiring, seed 0, into its own figures folder (figures/ is the quick preset's)."
    preset = load_preset("wiring")
    runs = build_grid(preset)
    assert {(r.method, r.params.get("wiring", "as_run")) for r in runs} == {
        (m, w) for m in ("hvae", "hvae_rl", "lvae", "lvae_rl") for w in ("as_run", "skip", "markov")
    }
    assert {r.seed for r in runs} == {0} and preset["figures"] == "figures/wiring"


def test_kl_estimate_preset_grid():
    "The KL-estimate comparison: its analytic runs are the quick preset's Table 1 runs (same id and fingerprint, so they are not trained twice); its sampled runs are named after the estimate."
    from hvaerl.methods import AS_RUN_REWARD_PASS
    from hvaerl.pipeline import run_fingerprint

    runs, quick = build_grid(load_preset("kl_estimate")), {r.run_id: r for r in build_grid(load_preset("quick"))}
    analytic = [r for r in runs if "kl_estimate" not in r.params]
    sampled = [r for r in runs if r.params.get("kl_estimate") == "sampled"]
    assert len(analytic) == len(sampled) == 4 * 3 and len(runs) == 24
    # the quick preset names LVAE+RL's reward pass; kl_estimate's trains as_run's default, the sampled pass
    twin = lambda r: quick[f"{r.run_id}-{AS_RUN_REWARD_PASS}" if r.method == "lvae_rl" else r.run_id]
    assert all(run_fingerprint(r) == run_fingerprint(twin(r)) for r in analytic)
    assert all(r.run_id.endswith("-klsampled") and r.run_id not in quick for r in sampled)


def test_paper_preset_grid():
    preset = load_preset("paper")
    runs = build_grid(preset)
    table1 = [r for r in runs if "table1" in r.groups]
    assert len(table1) == 5 * 8 * 5
    # budgets as the authors' scripts ran them (args.epoch = 2000 // L): the RL methods and their ELBO baseline
    by_script = {"hvae", "lvae", "hvae_rl", "lvae_rl"}
    assert {r.epochs for r in table1 if r.method in by_script} == {400}
    assert {r.epochs for r in table1 if r.method not in by_script} == {1000}
    assert {(r.levels, r.epochs) for r in runs if "fig6" in r.groups and r.method == "hvae_rl"} == {
        (1, 2000),
        (2, 1000),
        (3, 666),
        (4, 500),
    }
    # the paper's text one setting away: 1000 epochs, 1000/L for the RL methods
    text = build_grid({**preset, "budgets": "text"})
    assert {r.epochs for r in text if "table1" in r.groups and r.method.endswith("_rl")} == {200}
    assert {r.epochs for r in text if "table1" in r.groups and not r.method.endswith("_rl")} == {1000}
    assert {(r.levels, r.epochs) for r in text if "fig6" in r.groups and r.method == "hvae_rl"} == {
        (1, 1000),
        (2, 500),
        (3, 333),
        (4, 250),
    }
    assert all(r.params["backbone"] == "conv" and r.params["device"] == "cuda" for r in runs)
    # the RL methods train as Algorithm 1 (L updates per batch), every method for the same number of updates
    assert all(r.params.get("objective") == "rl_stepwise" for r in runs if r.method.endswith("_rl"))
    assert all(r.params.get("merge") == "learned" for r in runs)
    assert all("max_batches_per_epoch" in r.params and r.params["max_batches_per_epoch"] is None for r in runs)


def test_unknown_preset_lists_known():
    with pytest.raises(ValueError, match="quick"):
        preset_path("nope")


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
    script = (
        f"from hvaerl.pipeline import RunSpec, run_grid\n"
        f"run_grid([RunSpec('x', 'm', s) for s in range(3)], {str(tmp_path / 'runs')!r}, notebook={str(nb)!r}, progress=False)"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    deadline = time.time() + 120
    while not is_complete(tmp_path / "runs/x-m-s0") and time.time() < deadline:
        time.sleep(0.2)
    assert is_complete(tmp_path / "runs/x-m-s0")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()  # the whole batch dies, kernels included
    assert not is_complete(tmp_path / "runs/x-m-s2")
    first = json.loads((tmp_path / "runs/x-m-s0/metrics.json").read_text())
    quick = dry_run_notebook(tmp_path / "nb.ipynb", sleep=0)
    out = {
        o.run_id: o.status
        for o in run_grid([RunSpec("x", "m", s) for s in range(3)], tmp_path / "runs", notebook=quick, progress=False)
    }
    assert out["x-m-s0"] == "skipped" and out["x-m-s2"] == "done"
    assert json.loads((tmp_path / "runs/x-m-s0/metrics.json").read_text()) == first


def test_slurm_path_through_submitit_local_executor(tmp_path):
    nb = dry_run_notebook(tmp_path / "nb.ipynb")
    runs = [RunSpec("x", "ok", 0), RunSpec("x", "boom", 0)]
    out = {
        o.run_id: o.status
        for o in run_grid(runs, tmp_path / "runs", executor="submitit_local", notebook=nb, progress=False)
    }
    assert out == {"x-ok-s0": "done", "x-boom-s0": "failed"}
    assert (tmp_path / "runs/submitit").is_dir()


def test_kill9_of_a_batch_leaves_no_process_and_a_rerun_completes_each_run_once(tmp_path):
    "kill -9 of the batch's own process (not its group): its workers and their kernels die within 10 s; a rerun trains each run once."
    import psutil

    nb = dry_run_notebook(tmp_path / "nb.ipynb", sleep=30)
    script = (
        f"from hvaerl.pipeline import RunSpec, run_grid\n"
        f"run_grid([RunSpec('x', 'm', s) for s in range(2)], {str(tmp_path / 'runs')!r}, jobs=2, notebook={str(nb)!r}, progress=False)"
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.time() + 120
    while (
        time.time() < deadline
        and len([c for c in psutil.Process(proc.pid).children(recursive=True) if "ipykernel" in " ".join(c.cmdline())])
        < 2
    ):
        time.sleep(0.2)
    family = psutil.Process(proc.pid).children(recursive=True)
    assert sum("ipykernel" in " ".join(c.cmdline()) for c in family) == 2  # both runs are in flight, each in its kernel
    proc.kill()
    proc.wait()
    gone, alive = psutil.wait_procs(family, timeout=10)
    assert not alive, [p.cmdline() for p in alive]
    assert not any(is_complete(tmp_path / f"runs/x-m-s{s}") for s in range(2))
    quick = dry_run_notebook(tmp_path / "nb.ipynb", sleep=0)
    out = run_grid([RunSpec("x", "m", s) for s in range(2)], tmp_path / "runs", jobs=2, notebook=quick, progress=False)
    assert sorted(o.status for o in out) == ["done", "done"]
    assert not list(
        (tmp_path / "runs").glob("*.stale-*")
    )  # the killed folders had the same parameters: resumed in place


def test_only_runs_whose_parameters_changed_are_retrained(tmp_path):
    nb = dry_run_notebook(tmp_path / "nb.ipynb")
    runs = [RunSpec("x", "m", s, epochs=3) for s in range(3)]
    assert [o.status for o in run_grid(runs, tmp_path / "runs", notebook=nb, progress=False)] == ["done"] * 3
    # one run trains longer (it continues in its folder), one changes its model (a new run), one is as it was
    changed = [
        RunSpec("x", "m", 0, epochs=3),
        RunSpec("x", "m", 1, epochs=5),
        RunSpec("x", "m", 2, epochs=3, params={"lr": 0.001}),
    ]
    out = {o.run_id: o.status for o in run_grid(changed, tmp_path / "runs", notebook=nb, progress=False)}
    assert out == {"x-m-s0": "skipped", "x-m-s1": "done", "x-m-s2": "done"}
    assert len(list((tmp_path / "runs/x-m-s1").glob("metrics.*.json"))) == 1  # the shorter run's result kept beside it
    assert not list((tmp_path / "runs").glob("x-m-s1.stale-*"))
    stale = list(
        (tmp_path / "runs").glob("x-m-s2.stale-*")
    )  # another model: the old run is kept aside, not overwritten
    assert len(stale) == 1 and is_complete(stale[0])
    # rerunning changes nothing more
    assert {o.status for o in run_grid(changed, tmp_path / "runs", notebook=nb, progress=False)} == {"skipped"}


def test_a_locked_run_is_not_trained_twice(tmp_path):
    from filelock import FileLock

    nb = dry_run_notebook(tmp_path / "nb.ipynb")
    (tmp_path / "runs/.locks").mkdir(parents=True)
    with FileLock(tmp_path / "runs/.locks/x-m-s0.lock"):  # another process holds this run
        out = run_grid([RunSpec("x", "m", 0)], tmp_path / "runs", notebook=nb, progress=False)
    assert out[0].status == "failed" and "another process is running it" in out[0].error
    assert not is_complete(tmp_path / "runs/x-m-s0")


def test_runs_packed_onto_cpu_slots_are_pinned_as_asked(tmp_path):
    "`--devices cpu --runs-per-device 2`: two runs side by side, each in its own slot with half the cores and no GPU in sight."
    preset = tmp_path / "two.yaml"
    preset.write_text(
        "name: two\nseeds: [0]\nrun: {device: auto, backbone: mlp}\n"
        "groups:\n  - {name: table1, datasets: [fashion_mnist], methods: [vae, aae], epochs: 1}\n"
    )
    args = ["reproduce", "--preset", str(preset), "--smoke", "--devices", "cpu", "--runs-per-device", "2"]
    r = subprocess.run(
        [str(Path(sys.executable).parent / "hvaerl"), *args], cwd=tmp_path, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "2 at a time on cpu (2 per device)" in r.stdout
    runs, threads = tmp_path / "runs" / "two-smoke", max(1, (os.cpu_count() or 1) // 2)
    metrics = {m: json.loads((runs / f"fashion_mnist-{m}-s0" / "metrics.json").read_text()) for m in ("vae", "aae")}
    assert all(m["complete"] and m["device"] == "cpu" and m["threads"] == threads for m in metrics.values())
    assert {m["slot"] for m in metrics.values()} == {"cpu#0", "cpu#1"}  # one run in each slot, at once
    spec = json.loads((runs / "fashion_mnist-vae-s0" / "run_spec.json").read_text())
    assert spec["placement"]["slot"] == metrics["vae"]["slot"] and spec["placement"]["threads"] == str(threads)


def test_device_options_are_checked_before_any_work(tmp_path):
    import torch

    hv = str(Path(sys.executable).parent / "hvaerl")
    for args, says in [
        (["--devices", "tpu"], "not a device"),
        (["--devices", "cuda:99"], "not on this machine" if torch.cuda.device_count() else "no GPU is visible here"),
        (["--runs-per-device", "2"], "needs --devices"),
        (["--devices", "cpu", "--executor", "slurm"], "--executor local"),
        (["--devices", "cpu", "--jobs", "2"], "--runs-per-device instead"),
        (["--preset", "paper", "--devices", "cpu"], "ask for device cuda"),
    ]:
        r = subprocess.run([hv, "reproduce", *args], cwd=tmp_path, capture_output=True, text=True)
        assert r.returncode == 2 and says in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)
    assert not (tmp_path / "runs").exists()  # nothing started


def test_a_changed_default_reruns_the_runs_it_changes(tmp_path, monkeypatch):
    "A default that enters training (RL's discount) changes: reproduce no longer counts the run made under the old one as done."
    from dataclasses import fields
    from hvaerl import pipeline as pl
    from hvaerl.methods import RLHparams

    nb = dry_run_notebook(tmp_path / "nb.ipynb")
    runs = [RunSpec("fashion_mnist", m, 0, epochs=1) for m in ("hvae_rl", "vae")]
    assert [o.status for o in run_grid(runs, tmp_path / "runs", notebook=nb, progress=False)] == ["done"] * 2
    assert {o.status for o in run_grid(runs, tmp_path / "runs", notebook=nb, progress=False)} == {"skipped"}
    before = pl.resolved_settings(runs[0])
    cfg, _ = pl.configs_from_parameters(pl._notebook_namespace(runs[0]))
    (tmp_path / "runs" / runs[0].run_id / "config.json").write_text(
        json.dumps(dataclasses.asdict(cfg))
    )  # as train() does
    names = [f.name for f in fields(RLHparams) if f.default is not dataclasses.MISSING]
    defaults = dict(zip(names, RLHparams.__init__.__defaults__))
    monkeypatch.setattr(RLHparams.__init__, "__defaults__", tuple({**defaults, "gamma": 0.5}.values()))
    assert pl.resolved_settings(runs[0])["train"]["hparams"]["gamma"] == 0.5 != before["train"]["hparams"]["gamma"]
    out = {o.run_id: o.status for o in run_grid(runs, tmp_path / "runs", notebook=nb, progress=False)}
    assert out == {"fashion_mnist-hvae_rl-s0": "done", "fashion_mnist-vae-s0": "skipped"}  # the VAE has no discount
    # its checkpoint was trained with the old discount: set aside whole (kept), not resumed under the new one
    assert len(list((tmp_path / "runs").glob("fashion_mnist-hvae_rl-s0.stale-*"))) == 1


def test_a_run_recorded_before_resolved_fingerprints_is_judged_by_its_stored_settings(tmp_path, monkeypatch):
    "A record with the old fingerprint (the parameters' hash): done while its stored resolved config equals today's, not once a default moved; without a stored config, its parameters decide."
    from dataclasses import asdict, fields
    from hvaerl import pipeline as pl
    from hvaerl.methods import RLHparams

    spec = RunSpec("fashion_mnist", "lvae_rl", 0, epochs=1)
    cfg, ev = pl.configs_from_parameters(pl._notebook_namespace(spec))
    folder = tmp_path / spec.run_id
    folder.mkdir()
    record = dict(
        complete=True, fingerprint=pl.legacy_fingerprint(spec), train_config=asdict(cfg), eval_config=asdict(ev)
    )
    (folder / "metrics.json").write_text(json.dumps(record))
    assert pl.run_done(folder, spec) == "settings"
    stored_before_upper_mean = {
        **record["train_config"],
        "hparams": {"gamma": 0.9, "objective": "rl_fused", "sample_lower": False},
    }
    (folder / "metrics.json").write_text(json.dumps({**record, "train_config": stored_before_upper_mean}))
    assert pl.run_done(folder, spec) == "settings"  # it decoded the sampled trajectory, as_run's default pass now
    means = dataclasses.replace(spec, params={"upper_mean": True})  # the script's pass, named: not what it trained
    record_means = {**record, "fingerprint": pl.legacy_fingerprint(means), "train_config": stored_before_upper_mean}
    (folder / "metrics.json").write_text(json.dumps(record_means))
    assert pl.run_done(folder, means) is None
    (folder / "metrics.json").write_text(json.dumps({k: v for k, v in record.items() if k != "train_config"}))
    assert pl.run_done(folder, spec) == "parameters"
    (folder / "metrics.json").write_text(json.dumps(record))
    names = [f.name for f in fields(RLHparams) if f.default is not dataclasses.MISSING]
    defaults = dict(zip(names, RLHparams.__init__.__defaults__))
    monkeypatch.setattr(RLHparams.__init__, "__defaults__", tuple({**defaults, "sample_lower": True}.values()))
    assert pl.run_done(folder, spec) is None
