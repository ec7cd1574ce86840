"""The paper grid's smoke check: every distinct configuration of presets/paper.yaml, two CPU training steps and one full
evaluation each, on stand-in files in each dataset's real format. Slow (about 40-80 minutes on 2 cores): run with
`pytest -m slow tests/test_smoke.py`; `make test` skips it."""

import json, subprocess, sys
from pathlib import Path
import pytest
from hvaerl.pipeline import REPO, build_grid, load_preset, smoke_grid


@pytest.mark.slow
def test_every_configuration_of_the_paper_grid_trains_and_evaluates(tmp_path):
    tracked = lambda: (
        subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "figures", "results"],
            capture_output=True,
            text=True,
        ).stdout
    )
    before = tracked()
    r = subprocess.run(
        [str(Path(sys.executable).parent / "hvaerl"), "reproduce", "--preset", "paper", "--smoke"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    runs = tmp_path / "runs" / "paper-smoke"
    expected = smoke_grid(build_grid(load_preset("paper")), runs / "standin-data")
    for spec in expected:
        m = json.loads((runs / spec.run_id / "metrics.json").read_text())
        assert m["complete"] and m["data_source"].startswith("STAND-IN FILES"), spec.run_id
    assert tracked() == before  # nothing written to figures/ or results/
