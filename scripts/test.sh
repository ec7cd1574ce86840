#!/usr/bin/env bash
# The whole test suite, as CI runs it (make test took 1,184 s on 2 cores with .venv in place, 1,599 s when setup reinstalls it; pytest on every core; the longest test: the paper preset's smoke):
# notebooks and package in sync, notebooks clean, README and the pages rendered, every notebook runs (nbdev-test), pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin
fail=0
echo "== nbdev-export: hvaerl/ must match the notebooks"
$bin/nbdev-export
if ! git diff --exit-code --stat -- hvaerl; then echo "hvaerl/ is out of sync with nbs/: run nbdev-export and commit"; fail=1; fi
if [ -n "$(git status --porcelain --untracked-files=all -- hvaerl)" ]; then git status --short -- hvaerl; echo "untracked files in hvaerl/: run nbdev-export and commit"; fail=1; fi
echo "== hvaerl/help: the cached help of train and diagnose must match their parsers"
$bin/python -c "from hvaerl.cli import write_help_cache; write_help_cache()"
if ! git diff --exit-code --stat -- hvaerl/help; then echo "run: python -c 'from hvaerl.cli import write_help_cache; write_help_cache()' and commit"; fail=1; fi
echo "== ruff format --check: notebooks, tests, scripts and bench formatted (ruff format . rewrites them)"
$bin/ruff format --check . || { echo "run .venv/bin/ruff format . and commit"; fail=1; }
echo "== nbdev-clean: notebooks must carry no outputs or stray metadata"
$bin/nbdev-clean
if ! git diff --exit-code --stat -- nbs; then echo "notebooks carry outputs/metadata: run nbdev-clean and commit"; fail=1; fi
echo "== README.md, FINDINGS.md and GUIDE.md must be rendered from their notebooks (nbs/index, findings, guide)"
$bin/python scripts/render_readme.py
if ! git diff --exit-code --stat -- README.md FINDINGS.md GUIDE.md; then echo "a page is stale: run python scripts/render_readme.py and commit"; fail=1; fi
if [ -n "$(git status --porcelain -- README.md FINDINGS.md GUIDE.md)" ]; then echo "a rendered page is not committed"; fail=1; fi
[ $fail = 0 ] || exit 1
echo "== nbdev-test (every notebook, CPU smoke settings; slow/cuda cells skipped)"
# two notebooks run at once, one torch thread each: more threads than cores slows every notebook down
OMP_NUM_THREADS=1 $bin/nbdev-test --timing
echo "== pytest (one worker per core, one torch thread each: pytest-xdist; the minutes-long tests first)"
# loadgroup: the tests that share a Slurm cluster or a wheel build (xdist_group) stay on one worker
OMP_NUM_THREADS=1 $bin/python -m pytest -q tests -n "$(nproc)" --dist loadgroup --durations=15
