#!/usr/bin/env bash
# Time `make reproduce` from scratch on this machine (issue 36): a fresh clone of HEAD (no .venv: setup installs it), an
# empty data root (setup decompresses and verifies the data into it), the clock read before and after. Writes
# results/reproduce_cost/measured.json, which the README reads. Leave the machine otherwise idle while it runs.
#
#   bash scripts/time_reproduce.sh WORKDIR            # measure; WORKDIR: where the clone, data and logs go
#   bash scripts/time_reproduce.sh WORKDIR            # again, after an interruption: resumes in the same clone
#   bash scripts/time_reproduce.sh --record WORKDIR   # only write measured.json from WORKDIR
#
# `make reproduce` resumes where it stopped (finished runs are kept, a run resumes from its last epoch's checkpoint), so
# a measurement cut short (a machine lent for less time than the run takes) continues in a second sitting; the
# measured time is the sum of the sittings, each from its start to its end or, when it was killed, its last heartbeat
# (written every 20 s). WORKDIR holds clone/, data/, clock.txt ("start <ISO> <epoch>", then "rc <code> end <ISO>
# <epoch>" per sitting), and per sitting N: heartbeat-N and log-N.txt (make's output).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
if [ "${1:-}" = "--record" ]; then
  work=${2:?usage: time_reproduce.sh --record WORKDIR}
else
  work=${1:?usage: time_reproduce.sh WORKDIR}
  mkdir -p "$work/data"
  [ -d "$work/clone" ] || git clone -q "$repo" "$work/clone"
  n=$(($(grep -c '^start' "$work/clock.txt" 2>/dev/null || true) + 1))
  echo "start $(date -u +%FT%TZ) $(date +%s)" >>"$work/clock.txt"
  (while true; do date +%s >"$work/heartbeat-$n"; sleep 20; done) &
  beat=$!
  trap 'kill $beat 2>/dev/null' EXIT # the heartbeat stops with this script, however it ends
  rc=0
  (cd "$work/clone" && HVAERL_DATA_ROOT="$work/data" make reproduce) >"$work/log-$n.txt" 2>&1 || rc=$?
  echo "rc $rc end $(date -u +%FT%TZ) $(date +%s)" >>"$work/clock.txt"
fi
"$repo/.venv/bin/python" - "$work" "$repo/results/reproduce_cost/measured.json" <<'PY'
import io, json, os, subprocess, sys
from pathlib import Path
import numpy as np

work, out = Path(sys.argv[1]), Path(sys.argv[2])
sittings = []  # (start ISO, start, end, exit code or None when killed)
for line in (work / "clock.txt").read_text().splitlines():
    f = line.split()
    if f[0] == "start":
        n = len(sittings) + 1
        beat = work / f"heartbeat-{n}"
        sittings.append([f[1], int(f[2]), int(beat.read_text()) if beat.exists() else int(f[2]), None])
    elif f[0] == "rc":
        sittings[-1][2:] = [int(f[4]), int(f[1])]
clone = work / "clone"
commit = subprocess.run(["git", "-C", str(clone), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout
runs = {p.parent.name: json.loads(p.read_text()) for p in (clone / "runs" / "quick").glob("*/metrics.json")}
wall = sum(end - start for _, start, end, _ in sittings)
run_seconds = sum(m["train_seconds"] + m["eval_seconds"] for m in runs.values() if m.get("complete"))
record = {
    "command": "make reproduce (setup, every run of the quick preset, hvaerl aggregate) in a fresh clone with an empty "
    "HVAERL_DATA_ROOT: scripts/time_reproduce.sh",
    "commit": commit.strip(),
    "start": sittings[0][0],
    "sittings": [dict(start=s[0], seconds=s[2] - s[1], exit_code=s[3]) for s in sittings],
    "finished": sittings[-1][3] == 0,  # the last sitting ran to its end, and make reproduce succeeded
    "wall_seconds": wall,
    "wall_hours": round(wall / 3600, 3),
    "cores": os.cpu_count(),
    # the runs' own training and evaluation seconds (one thread each), summed, against the cores' time: how busy the
    # schedule kept the machine (the rest: set-up, kernels starting, the tables, a core idle at the end)
    "run_seconds": round(run_seconds),
    "busy_share": round(run_seconds / (max(wall, 1) * os.cpu_count()), 3),
    "runs_complete": sum(bool(m.get("complete")) for m in runs.values()),
}
# the same numbers as the runs committed at the clone's commit (its results/quick, which make reproduce then rewrites
# with the fresh runs: read from git)? Every number both records hold
# (times, threads and the schema aside), each to 1e-6 relative: float32's precision (a mean over batches may round its
# last float32 digit differently)
numeric = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
numbers = lambda v: [v] if numeric(v) else v if isinstance(v, list) and v and all(map(numeric, v)) else None
close = lambda a, b: abs(a - b) <= 1e-6 * max(1.0, abs(a), abs(b))
at_commit = lambda path: subprocess.run(["git", "-C", str(clone), "show", f"HEAD:{path}"], capture_output=True).stdout
compared, differ = 0, {}
for run, ours in runs.items():
    committed = at_commit(f"results/quick/{run}/metrics.json")
    if not (ours.get("complete") and committed):
        continue
    theirs, compared = json.loads(committed), compared + 1
    keys = [k for k, v in ours.items() if numbers(v) and numbers(theirs.get(k)) and "seconds" not in k]
    keys = [k for k in keys if k not in ("threads", "schema")]
    bad = [
        k
        for k in keys
        if len(numbers(theirs[k])) != len(numbers(ours[k])) or not all(map(close, numbers(ours[k]), numbers(theirs[k])))
    ]
    if bad:
        differ[run] = bad
record["runs_compared_with_results_quick"] = compared
record["runs_whose_measures_differ"] = differ  # {run: [measure, ...]}
# and the arrays the figures draw (figure_data.npz), to the same tolerance: a figure is reproduced when they are
figures, figures_differ = 0, {}
for saved in sorted((clone / "runs" / "quick").glob("*/figure_data.npz")):
    committed = at_commit(f"results/quick/{saved.parent.name}/{saved.name}")
    if not (runs.get(saved.parent.name, {}).get("complete") and committed):
        continue
    ours, theirs, figures = np.load(saved), np.load(io.BytesIO(committed)), figures + 1
    same = lambda k: ours[k].shape == theirs[k].shape and np.allclose(ours[k], theirs[k], rtol=1e-6, atol=1e-6)
    bad = [k for k in sorted(set(ours.files) | set(theirs.files)) if k not in ours.files or k not in theirs.files or not same(k)]
    if bad:
        figures_differ[saved.parent.name] = bad
record["figure_data_compared"] = figures
record["figure_data_that_differs"] = figures_differ  # {run: [array, ...]}
out.write_text(json.dumps(record, indent=1) + "\n")
print(json.dumps(record, indent=1))
PY
