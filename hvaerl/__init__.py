__version__ = "0.0.1"

import os as _os
if _os.environ.get("HVAERL_TEST_GLOBAL_SEED"):
    # tests only: seed the global generators (torch, numpy, random) from HVAERL_TEST_GLOBAL_SEED, so that runs of the test
    # suite with different values expose draws that are not seeded themselves (a seeded test gives the same result for any value).
    # Each generator only where it is installed: `import hvaerl` must work in any environment (e.g. a wheel with --no-deps).
    import importlib as _importlib, random as _random
    _seed = int(_os.environ["HVAERL_TEST_GLOBAL_SEED"])
    _random.seed(_seed)
    for _name, _call in (("numpy", lambda m: m.random.seed(_seed)), ("torch", lambda m: m.manual_seed(_seed))):
        try: _call(_importlib.import_module(_name))
        except ImportError: pass
