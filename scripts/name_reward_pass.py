"""Name the reward pass of a preset's LVAE+RL means runs in their run ids, once `as_run` stopped defaulting to it.

Until `hvaerl.methods.AS_RUN_REWARD_PASS` became the variant rule's pick ("sampled"), an LVAE+RL run that named no pass
trained the published script's means, and its folder had no suffix. The preset now names that pass (`upper_mean: true`,
run ids ending `-means`), so the same runs have new ids. This moves each such folder to its new id and re-keys its
fingerprint to the parameters as the preset now gives them; nothing else in the record changes. Only a folder that is
the means pass is moved: its stored `upper_mean` is true, or it stored no settings (schema 1, from the quick preset's
means reruns of 2026-12-02, before schema 2 stored them). A stored configuration is also compared with what the
preset now resolves to (`pipeline.run_done` must accept the moved record). Idempotent.

    .venv/bin/python scripts/name_reward_pass.py results/quick quick
"""

import json, sys
from pathlib import Path
from hvaerl import pipeline
from hvaerl.sources import write_json_atomic

results, preset = Path(sys.argv[1]), pipeline.load_preset(sys.argv[2])
moved = 0
for spec in pipeline.build_grid(preset):
    if not spec.run_id.endswith("-means"):
        continue
    new, old = results / spec.run_id, results / spec.run_id.removesuffix("-means")
    if new.exists() or not (old / "metrics.json").exists():
        continue
    record = json.loads((old / "metrics.json").read_text())
    stored = ((record.get("train_config") or {}).get("hparams") or {}).get("upper_mean")
    if record.get("method") != "lvae_rl" or stored is False:
        sys.exit(f"{old} is not an LVAE+RL means run (upper_mean {stored}): not moved")
    record["fingerprint"] = pipeline.legacy_fingerprint(spec)
    old.rename(new)
    write_json_atomic(new / "metrics.json", record)
    if pipeline.run_done(new, spec) is None:
        sys.exit(f"{new}: its stored settings are not what the preset resolves to now; move it back by hand")
    moved += 1
    print(f"{old.name} -> {new.name} ({pipeline.run_done(new, spec)})")
print(f"{moved} run folder(s) renamed")
