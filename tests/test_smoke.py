"""Every built-in preset's smoke check (`hvaerl reproduce --preset P --smoke`): each distinct configuration of its grid
through the run notebook, one CPU training step and one full evaluation each, on stand-in files in each dataset's real
format, at the real network sizes; and the GPU check's tiny CPU mode. The paper grid's takes the longest (GUIDE.md)."""

import json, subprocess, sys, time
from pathlib import Path
import pytest
from hvaerl.pipeline import PRESETS, REPO, build_grid, load_preset, smoke_grid

HVAERL = str(Path(sys.executable).parent / "hvaerl")
# gpu_table1's smoke is the GPU check's tiny mode (below), with its runs packed onto two CPU slots
SMOKED_HERE = sorted(p.stem for p in PRESETS.glob("*.yaml") if p.stem != "gpu_table1")


def _tracked() -> str:
    "What git sees changed in figures/ and results/: a smoke check must leave both alone."
    return subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "--", "figures", "results"], capture_output=True, text=True
    ).stdout


@pytest.mark.parametrize(
    "preset", [pytest.param(p, marks=pytest.mark.minutes({"paper": 8, "quick": 2}.get(p, 1))) for p in SMOKED_HERE]
)
def test_every_configuration_of_a_builtin_preset_trains_and_evaluates(preset, tmp_path):
    before, t0 = _tracked(), time.perf_counter()
    r = subprocess.run(
        [HVAERL, "reproduce", "--preset", preset, "--smoke"], cwd=tmp_path, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    runs = tmp_path / "runs" / f"{preset}-smoke"
    expected = smoke_grid(build_grid(load_preset(preset)), runs / "standin-data")
    for spec in expected:
        m = json.loads((runs / spec.run_id / "metrics.json").read_text())
        assert m["complete"] and m["data_source"].startswith("STAND-IN FILES"), spec.run_id
        assert (runs / spec.run_id / "figure_data.npz").exists() == spec.figure_data, spec.run_id
    assert _tracked() == before  # nothing written to figures/ or results/
    print(f"{preset}: {len(expected)} configurations in {time.perf_counter() - t0:.0f} s")


@pytest.mark.minutes(2)
def test_gpu_check_runs_in_its_tiny_cpu_mode(tmp_path):
    "scripts/gpu_check.sh --tiny: the GPU check's three steps on the CPU, so a lent GPU's minutes are not spent on a typo."
    before = _tracked()
    r = subprocess.run(
        ["bash", str(REPO / "scripts" / "gpu_check.sh"), "--tiny", str(tmp_path)], capture_output=True, text=True
    )
    log = (tmp_path / "gpu_check.txt").read_text()
    assert r.returncode == 0 and "all steps passed" in log, log[-4000:] + r.stderr[-2000:]
    assert "hvaerl.cli reproduce --preset gpu_table1 --devices cpu --runs-per-device 2" in log
    runs = tmp_path / "runs" / "gpu_table1-smoke"
    metrics = [json.loads(p.read_text()) for p in runs.glob("*/metrics.json")]
    assert {m["method"] for m in metrics} == {"vae", "aae", "biva", "ivae", "hvae", "lvae", "hvae_rl", "lvae_rl"}
    assert all(m["complete"] and m["backbone"] == "conv" and m["wiring"] == "as_run" for m in metrics)
    assert {m["slot"] for m in metrics} == {"cpu#0", "cpu#1"}
    assert (tmp_path / "figures" / "table1.md").exists()  # the aggregation the GPU run ends with
    rows = json.loads((tmp_path / "packing.json").read_text())["rows"]
    assert [row["runs"] for row in rows] == [1, 2] and rows[0]["packing_factor"] == 1.0
    timings = (tmp_path / "step_cost.txt").read_text()  # (d): a step by compile mode, eager first
    heads = [line for line in timings.splitlines() if line.startswith("device")]
    assert [h.endswith("float32") for h in heads] == [True, False, False], timings
    assert heads[1].endswith("compile step") and heads[2].endswith("compile stages"), timings
    assert timings.count("ms/batch") == 3
    curves = [
        [float(v) for v in line.split(":")[1].split()] for line in timings.splitlines() if "loss by batch" in line
    ]
    assert len(curves) == 3 and all(c == pytest.approx(curves[0], rel=1e-5) for c in curves[1:]), timings  # same draws
    assert _tracked() == before
