#!/usr/bin/env bash
# Prepare, here, what scripts/gpu_check.sh needs on the lent GPU machine, which reaches no registry: wheels (CPython 3.12,
# x86-64) of the packages its image lacks into .whl/, and FashionMNIST's four files into data/ (both ignored by git).
# Then call the device with carry [".whl", "data"] and the command `bash scripts/gpu_check.sh $OUT`.
# The working tree and the carried folders travel together, at most 64 MiB: this prints their total.
set -euo pipefail
cd "$(dirname "$0")/.."
# what the run notebooks, papermill's kernel and nbdev-test need beyond the GPU image's packages (torch, sklearn, pandas,
# matplotlib, seaborn, tqdm, yaml, filelock, psutil, tensorboard are there: see the device tool's KINDS.md)
need=(papermill ipykernel nbdev fastcore submitit)
have="torch|numpy|scipy|scikit_learn|pandas|matplotlib|seaborn|tqdm|PyYAML|pyyaml|filelock|psutil|tensorboard|pillow|six|packaging|attrs|requests|urllib3|idna|certifi|charset_normalizer|click|jinja2|MarkupSafe|markupsafe|pygments|typing_extensions|python_dateutil|tabulate|cloudpickle|anyio|h11|httpx|httpcore|setuptools|wheel|pip|platformdirs|fsspec|networkx|sympy|mpmath|joblib|threadpoolctl|contourpy|cycler|fonttools|kiwisolver|pyparsing|narwhals|tzdata|pytz|nvidia.*|triton|cuda.*"
rm -rf .whl && mkdir -p .whl
python3 -m pip download -q --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform manylinux_2_27_x86_64 --platform manylinux1_x86_64 -d .whl "${need[@]}" 2>&1 | grep -v "^WARNING: Location" || true
# IPython and ipykernel run without their debugger and completer (debugpy, jedi: 10 MB that would not fit the 64 MiB)
skip="debugpy|jedi|parso"
for w in .whl/*.whl; do
    name=$(basename "$w" | cut -d- -f1)
    if echo "$name" | grep -qixE "$have|$skip"; then rm "$w"; fi
done
src=/usr/share/datasets/fashion-mnist  # Debian's dataset-fashion-mnist (scripts/setup.sh installs it)
[ -d "$src" ] || src=$(.venv/bin/python -c "from hvaerl.data import default_data_root; print(default_data_root())")/debian/usr/share/datasets/fashion-mnist
# xz instead of gzip: 4 MB less to carry (gpu_check.sh turns them back into the .gz files hvaerl reads; the checksums
# hvaerl verifies are of the decompressed idx files, so nothing is lost)
rm -rf data/fashion-mnist-xz && mkdir -p data/fashion-mnist-xz
for f in "$src"/*.gz; do zcat "$f" | xz -9e -T2 >"data/fashion-mnist-xz/$(basename "$f" .gz).xz"; done
tree=$(git ls-files -z | du -cb --files0-from=- | tail -1 | cut -f1)
total=$((tree + $(du -sb .whl | cut -f1) + $(du -sb data | cut -f1)))
echo "wheels: $(ls .whl | wc -l) in .whl ($(du -sh .whl | cut -f1)); FashionMNIST in data ($(du -sh data | cut -f1)); with the tracked tree $((total / 1048576)) MiB of the 64 MiB a call carries"
[ "$total" -le $((64 * 1048576)) ] || { echo "over the device call's 64 MiB: carry less"; exit 1; }
