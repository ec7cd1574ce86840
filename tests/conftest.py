"""Shared pytest fixtures."""

import importlib.util, os, random, signal
from pathlib import Path
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def repo_module(path: str):
    "A script or benchmark of the repository (`path` from its root, e.g. 'scripts/grid_cost.py') imported as a module: they are files, not a package."
    spec = importlib.util.spec_from_file_location(Path(path).stem, ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _global_seed_from_environment():
    """Tests only: with HVAERL_TEST_GLOBAL_SEED set, seed torch, numpy and random before each test, so that runs with
    different values expose draws a test does not seed itself (scripts/clean_clone_tests.sh sets it per run)."""
    seed = os.environ.get("HVAERL_TEST_GLOBAL_SEED")
    if seed:
        import torch

        torch.manual_seed(int(seed))
        np.random.seed(int(seed))
        random.seed(int(seed))
    yield


def pytest_configure(config):
    """Ctrl-C's default restored where the suite started with SIGINT ignored (run in the background by a non-interactive
    shell: `nohup`, `&`): every program a test starts would inherit the ignored signal, and the tests that interrupt a
    run with SIGINT would see it carry on."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def minutes(item) -> float:
    "A test's `minutes(n)` mark: about n minutes on one core here (a bare mark: 1); unmarked tests take seconds (0)."
    mark = item.get_closest_marker("minutes")
    return 0.0 if mark is None else float(mark.args[0]) if mark.args else 1.0


def pytest_collection_modifyitems(items):
    """The longest tests first, the rest in their usual order: `make test` spreads the suite over every core
    (pytest-xdist), and a minutes-long test handed out last would keep one core busy while the others sit idle."""
    items.sort(key=lambda item: -minutes(item))
