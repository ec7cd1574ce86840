"""The run notebook itself: no parameter is shadowed by a name its cells bind, and methods without a skip-generative
path (AAE, BIVA) complete with and without figure data (one training step each, on stand-in FashionMNIST files)."""

import ast
import nbformat
import numpy as np
import pytest
from hvaerl.data import write_standin_files
from hvaerl.pipeline import RUN_NOTEBOOK, SMOKE_IMAGES, SMOKE_RUN, RunSpec, run_grid, run_parameters
from hvaerl.run import RunRecord


def _bound_names(source: str) -> set:
    "Names a cell binds at its top level: imports, assignments, definitions, loop targets."
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def test_no_cell_rebinds_a_parameter():
    "A cell that binds a parameter's name (as `from hvaerl.figures import figure_data` did) silently replaces what papermill set."
    params = set(run_parameters())
    cells = nbformat.read(str(RUN_NOTEBOOK), 4).cells
    code = [c for c in cells if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])]
    rebound = {n for c in code for n in _bound_names(c.source) if n in params}
    assert not rebound, f"run.ipynb rebinds its parameters {sorted(rebound)}"
    # the check itself sees the bug it guards against
    assert "figure_data" in _bound_names("from hvaerl.figures import figure_data")


@pytest.fixture(scope="module")
def standins(tmp_path_factory):
    return write_standin_files(tmp_path_factory.mktemp("standins") / "data", ["fashion_mnist"], n=SMOKE_IMAGES)


def test_methods_without_a_skip_path_complete_with_and_without_figure_data(tmp_path, standins):
    specs = [
        RunSpec("fashion_mnist", m, s, epochs=1, groups=["table1"], params={**SMOKE_RUN, "data_root": str(standins)},
                figure_data=fig)
        for m in ("aae", "biva") for s, fig in ((0, False), (1, True))
    ]  # fmt: skip
    outcomes = run_grid(specs, tmp_path / "runs", jobs=2, progress=False)
    assert [o.status for o in outcomes] == ["done"] * 4, [(o.run_id, o.error) for o in outcomes]
    for spec in specs:
        folder = tmp_path / "runs" / spec.run_id
        m = RunRecord.load(folder)
        assert m.complete and m.skip_loglik_per_level is None  # no skip path: no per-level skip report
        saved = folder / "figure_data.npz"
        assert saved.exists() == spec.figure_data, spec.run_id  # only where the preset asks
        if spec.figure_data:
            with np.load(saved) as z:
                assert {"tsne", "recon_inputs"} <= set(z.files) and not {"recon", "traversal"} & set(z.files)
