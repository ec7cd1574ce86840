__version__ = "0.0.1"

import os as _os
if _os.environ.get("HVAERL_TEST_GLOBAL_SEED"):
    # tests only: seed the global generators (torch, numpy, random) from HVAERL_TEST_GLOBAL_SEED, so that runs of the test
    # suite with different values expose draws that are not seeded themselves (a seeded test gives the same result for any value)
    import random as _random, numpy as _np, torch as _torch
    _seed = int(_os.environ["HVAERL_TEST_GLOBAL_SEED"])
    _torch.manual_seed(_seed); _np.random.seed(_seed); _random.seed(_seed)
