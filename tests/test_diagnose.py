"""`hvaerl train --data-folder` on a folder of real PNG files (train, resume, diagnose), `hvaerl diagnose` on every kind of
model, and each bad input of both: one line on stderr, exit status 2, nothing written."""

import json, os
from pathlib import Path
import pytest, torch
from test_cli import hvaerl, assert_one_line_error, files

SMALL_DIAGNOSIS = [
    "--probe-train",
    "300",
    "--probe-test",
    "100",
    "--eval-images",
    "500",
    "--mine-steps",
    "20",
    "--images",
    "4",
]


@pytest.fixture(scope="module")
def fashion_test():
    from hvaerl.data import load_dataset
    from hvaerl.sources import DatasetNotFoundError

    try:
        return load_dataset("fashion_mnist", "test", binarize=None)
    except DatasetNotFoundError:
        pytest.skip("FashionMNIST is not on this machine (make setup)")


def write_pngs(
    root: Path, fashion_test, per_class: int = 60, classes=((0, "tshirt"), (1, "trouser"), (7, "sneaker"))
) -> Path:
    "Real FashionMNIST test images as 8-bit grayscale PNG files, one subfolder per class (ImageFolder's layout)."
    from PIL import Image

    for c, name in classes:
        (root / name).mkdir(parents=True)
        for k, i in enumerate(torch.nonzero(fashion_test.targets == c)[:per_class, 0].tolist()):
            Image.fromarray(fashion_test.images[i, 0].numpy(), mode="L").save(root / name / f"{k:03d}.png")
    return root


def test_folder_trains_resumes_and_diagnoses(fashion_test, tmp_path):
    folder = write_pngs(tmp_path / "clothes", fashion_test)
    argv = [
        "--data-folder",
        folder,
        "--method",
        "hvae_rl",
        "--latents",
        "16,8,4",
        "--batch-size",
        "32",
        "--out-dir",
        tmp_path / "run",
    ]
    r = hvaerl("train", *argv, "--epochs", "1", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (cfg["dataset"], cfg["image_mode"], cfg["data_folder"]) == ("image_folder", "L", str(folder))
    prov = json.loads((tmp_path / "run" / "provenance.json").read_text())
    assert (
        len(prov["data_hash"]) == 64 and prov["data_hash"] in prov["train_data"] and "3 classes" in prov["train_data"]
    )
    r = hvaerl("train", *argv, "--epochs", "2", cwd=tmp_path)  # resumes after epoch 1
    assert r.returncode == 0 and "resuming" in r.stdout, r.stdout + r.stderr
    assert len(json.loads((tmp_path / "run" / "history.json").read_text())) == 2
    r = hvaerl("diagnose", tmp_path / "run", *SMALL_DIAGNOSIS, "--probe-test", "18", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "run" / "diagnosis"
    assert {"report.md", "table.csv", "levels.png", "traversal.png", "kl.png"} <= {p.name for p in out.iterdir()}
    assert "z3" in r.stdout and prov["data_hash"] in (out / "report.md").read_text()
    # a moved folder is found again with --data-folder; resuming from it is allowed (same content)

    moved = folder.rename(tmp_path / "moved clothes")
    assert_one_line_error(
        hvaerl("diagnose", tmp_path / "run", *SMALL_DIAGNOSIS, cwd=tmp_path), "moved? give --data-folder DIR"
    )
    r = hvaerl(
        "diagnose", tmp_path / "run", *SMALL_DIAGNOSIS, "--data-folder", moved, "--out", tmp_path / "d2", cwd=tmp_path
    )
    assert r.returncode == 0, r.stderr
    # a changed folder is a different run: resuming and diagnosing refuse, in one line, before anything is written
    (moved / "trouser" / "000.png").unlink()
    before = files(tmp_path)
    assert_one_line_error(
        hvaerl("train", *argv[:1], moved, *argv[2:], "--epochs", "3", cwd=tmp_path), "are not those this run started on"
    )
    assert_one_line_error(
        hvaerl("diagnose", tmp_path / "run", "--data-folder", moved, cwd=tmp_path),
        "changed since the run trained on it",
    )
    assert files(tmp_path) == before


def test_tiny_folder_trains_and_diagnoses(fashion_test, tmp_path):
    "Nine images: one held out, too few for MINE (its '—', and the report says why), a probe scored on one image; the table still has every level."
    folder = write_pngs(tmp_path / "few", fashion_test, per_class=3)
    r = hvaerl(
        "train",
        "--data-folder",
        folder,
        "--latents",
        "8,4",
        "--batch-size",
        "4",
        "--epochs",
        "1",
        "--out-dir",
        tmp_path / "run",
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    r = hvaerl("diagnose", tmp_path / "run", *SMALL_DIAGNOSIS, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    import pandas as pd

    table = pd.read_csv(tmp_path / "run" / "diagnosis" / "table.csv")
    assert list(table.level) == [1, 2] and table.mi_nats.isna().all() and set(table.probe_paper) <= {0.0, 100.0}
    report = (tmp_path / "run" / "diagnosis" / "report.md").read_text()
    assert "MINE '—': 1 test images are too few for its two held-out parts" in report  # every '—' says why
    assert "† probes scored on 1 test images" in report and "note: † probes scored on 1" in r.stdout


BAD_FOLDERS = {  # what to break -> what the one line must say
    "empty": "has no image files",
    "truncated": "trouser/001.png: cannot be read as an image (image file is truncated)",
    "unreadable": "trouser/001.png: cannot be read as an image",
    "mixed_modes": "mixes 120 grayscale and 1 colour images",
    "fewer_than_a_batch": "are fewer than one batch of 128",
}


@pytest.mark.parametrize("case", list(BAD_FOLDERS))
def test_bad_folder_is_one_line_before_training(case, fashion_test, tmp_path):
    from PIL import Image

    folder = tmp_path / "imgs"
    if case == "empty":
        folder.mkdir()
    else:
        write_pngs(
            folder,
            fashion_test,
            per_class=40 if case != "fewer_than_a_batch" else 20,
            classes=((0, "tshirt"), (1, "trouser"), (7, "sneaker"))[: 3 if case != "fewer_than_a_batch" else 2],
        )
    f = folder / "trouser" / "001.png"
    if case == "truncated":
        f.write_bytes(f.read_bytes()[:200])
    if case == "unreadable":
        f.write_bytes(b"these bytes are not a PNG")
    if case == "mixed_modes":
        Image.open(f).convert("RGB").save(folder / "trouser" / "colour.png")
    before = files(tmp_path)
    r = hvaerl("train", "--data-folder", folder, "--out-dir", tmp_path / "run", cwd=tmp_path)
    assert_one_line_error(r, BAD_FOLDERS[case])
    assert files(tmp_path) == before  # nothing written: no run folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    "Small runs of a hierarchy, the one-level VAE, the AAE and BIVA on real FashionMNIST (a few batches each)."
    from hvaerl.data import load_dataset
    from hvaerl.sources import DatasetNotFoundError
    from hvaerl.testing import small_config
    from hvaerl.train import train

    try:
        fit, valid = load_dataset("fashion_mnist", "fit"), load_dataset("fashion_mnist", "valid")
    except DatasetNotFoundError:
        pytest.skip("FashionMNIST is not on this machine (make setup)")
    home = tmp_path_factory.mktemp("runs")
    for m in ("hvae", "vae", "aae", "biva"):
        train(
            small_config(m, out_dir=home / m, epochs=1, max_batches_per_epoch=6),
            fit,
            valid,
            progress=False,
            tensorboard=False,
        )
    return home


@pytest.mark.parametrize("method,levels", [("hvae", 3), ("vae", 1), ("aae", 1), ("biva", 3)])
def test_diagnose_reports_every_level_of_any_model(method, levels, trained, tmp_path):
    r = hvaerl("diagnose", trained / method, *SMALL_DIAGNOSIS, "--out", tmp_path / "d", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    import pandas as pd

    table = pd.read_csv(tmp_path / "d" / "table.csv")
    assert list(table.level) == list(range(1, levels + 1))
    assert table.probe_paper.between(5, 100).all()  # every level is probed, also a one-level model's
    if method == "aae":
        assert table.verdict.tolist() == ["n/a (deterministic code)"] and table.kl_nats.isna().all()
    else:
        assert (table.def1_kl_nats >= 0).all()
        assert set(table.verdict) <= {"collapsed", "not collapsed", "not collapsed by KL, but no active unit"}
        assert not ((table.active_units == 0) & (table.verdict == "not collapsed")).any()  # no unit active: said


def test_the_report_states_the_settings_it_used(trained, tmp_path):
    "report.md names the sizes given (not 'Default sizes'), MINE's batch as drawn, measures MINE wherever `train --evaluate` would (hvaerl.mine.mine_fits), and its folder is readable as the umask allows."
    from hvaerl.mine import mine_fits

    sizes = [
        "--probe-train",
        "300",
        "--probe-test",
        "100",
        "--eval-images",
        "100",
        "--mine-steps",
        "5",
        "--mine-batch-size",
        "8",
    ]
    r = hvaerl("diagnose", trained / "hvae", *sizes, "--images", "4", "--out", tmp_path / "d", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    report = (tmp_path / "d" / "report.md").read_text()
    assert "MINE 5 steps of 8 pairs per level" in report and "Default sizes" not in report
    assert (
        "Sizes as given (--probe-train 300, --probe-test 100, --eval-images 100, --mine-steps 5, --mine-batch-size 8)"
        in report
    )
    import pandas as pd

    assert mine_fits(100, 8) and pd.read_csv(tmp_path / "d" / "table.csv").mi_nats.notna().all()
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "d").stat().st_mode & 0o777 == 0o777 & ~umask


def test_diagnose_bad_input_is_one_line_and_writes_nothing(trained, tmp_path):
    import shutil

    (tmp_path / "no_ckpt").mkdir()
    shutil.copytree(trained / "hvae", tmp_path / "damaged")
    ck = tmp_path / "damaged" / "ckpt.pt"
    ck.write_bytes(ck.read_bytes()[:-100])
    cases = {
        tmp_path / "no_ckpt": "has no checkpoint (ckpt.pt)",
        tmp_path / "damaged": "does not match its checksum",
        tmp_path / "missing": "is not a folder",
    }
    for run_dir, says in cases.items():
        before = files(tmp_path)
        assert_one_line_error(hvaerl("diagnose", run_dir, cwd=tmp_path), says)
        assert files(tmp_path) == before
    assert_one_line_error(hvaerl("diagnose", trained / "hvae", "--probe-train", "0", cwd=tmp_path), "--probe-train")
    # the report's folder is checked before any of the work
    (tmp_path / "a_file").write_text("not a folder")
    for out, says in [(tmp_path / "a_file", "--out"), ("", "--out is empty"), ("/sys/hvaerl-report", "--out")]:
        if out == "/sys/hvaerl-report" and os.geteuid() != 0:
            continue  # /sys is read-only for root; a user's read-only folder is covered by test_cli
        before = files(tmp_path)
        assert_one_line_error(hvaerl("diagnose", trained / "hvae", "--out", out, cwd=tmp_path), says)
        assert files(tmp_path) == before


@pytest.mark.minutes
def test_diagnose_of_quick_preset_runs_agrees_with_their_metrics(tmp_path):
    "The quick preset's HVAE and HVAE+RL (seed 0), run through the real run notebook at small sizes, then diagnosed as they measured themselves (--full): every number metrics.json also holds is the same."
    from hvaerl.data import load_dataset
    from hvaerl.sources import DatasetNotFoundError
    from hvaerl.diagnose import DiagnoseConfig, diagnose
    from hvaerl.pipeline import build_grid, load_preset, run_grid

    try:
        load_dataset("fashion_mnist", "test")
    except DatasetNotFoundError:
        pytest.skip("FashionMNIST is not on this machine (make setup)")
    specs = [
        s
        for s in build_grid(load_preset("quick"))
        if s.dataset == "fashion_mnist"
        and s.method in ("hvae", "hvae_rl")
        and s.seed == 0
        and s.levels is None
        and s.gamma is None
    ]
    assert len(specs) == 2
    for s in specs:  # the preset's runs, cut to seconds
        s.epochs = 1
        s.params = {
            **s.params,
            **dict(
                max_batches_per_epoch=30,
                probe_train=2000,
                probe_test=500,
                eval_images=500,
                mine_steps=100,
                iw_samples=2,
                tsne_images=100,
                probe_full=False,
            ),
        }
    outcomes = run_grid(specs, tmp_path / "runs", jobs=2, progress=False)
    assert [o.status for o in outcomes] == ["done", "done"], [o.error for o in outcomes]
    for s in specs:
        d = diagnose(tmp_path / "runs" / s.run_id, DiagnoseConfig(full=True), progress=False)
        a = d.agreement
        assert len(a) == 2 * 5 + 3 and a["same protocol"].all(), a
        assert (a["metrics.json"] == a["diagnosis"]).all(), a[a["metrics.json"] != a["diagnosis"]]
    r = hvaerl(
        "diagnose", tmp_path / "runs" / specs[0].run_id, "--mine-steps", "50", cwd=tmp_path
    )  # the defaults' sizes, from the shell
    assert r.returncode == 0 and "z5" in r.stdout and "report:" in r.stdout, r.stderr


def test_a_diagnosis_outdated_by_more_training_is_marked_stale_and_rebuilt(trained, tmp_path):
    import shutil
    from hvaerl.data import load_dataset
    from hvaerl.testing import small_config
    from hvaerl.train import train

    run = tmp_path / "hvae"
    shutil.copytree(trained / "hvae", run)
    r = hvaerl("diagnose", run, *SMALL_DIAGNOSIS, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    report = run / "diagnosis" / "report.md"
    # 100 test images are too few for a probe to trust: said in the printed table and in the report
    assert "note: † probes scored on 100 test images" in r.stdout and " †" in r.stdout
    assert "- † probes scored on 100 test images" in report.read_text()
    assert not report.read_text().startswith("**Stale**") and not (run / "diagnosis" / "STALE.md").exists()
    fit, valid = load_dataset("fashion_mnist", "fit"), load_dataset("fashion_mnist", "valid")
    train(
        small_config("hvae", out_dir=run, epochs=2, max_batches_per_epoch=6),
        fit,
        valid,
        progress=False,
        tensorboard=False,
    )
    assert report.read_text().startswith("**Stale**: this diagnosis predates the checkpoint of epoch 2")
    assert (run / "diagnosis" / "STALE.md").exists()
    assert hvaerl("diagnose", run, *SMALL_DIAGNOSIS, cwd=tmp_path).returncode == 0  # rebuilt on request
    assert not report.read_text().startswith("**Stale**") and not (run / "diagnosis" / "STALE.md").exists()
