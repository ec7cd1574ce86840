"""Shared pytest fixtures."""

import os, random
import numpy as np
import pytest


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
