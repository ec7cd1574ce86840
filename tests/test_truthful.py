"""What hvaerl writes and says is true (issue 38): images in every mode are trained on as they are, or converted with a
note, never changed in silence; each refusal is one line naming the flags a user types; one trainer per run folder.

Each folder case writes real image files in their real modes (16-bit PNG, RGBA, palette, CMYK JPEG, GIF) and asserts
what `hvaerl train` trained on (the pixel values and classes its config loads), the note it printed and its exit code."""

import os, signal, subprocess, sys, time
from pathlib import Path
import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
ENV = {
    **os.environ,
    "OMP_NUM_THREADS": "1",
    "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
}
SMALL = ["--epochs", "1", "--max-batches-per-epoch", "1", "--batch-size", "8", "--latents", "4,2", "--hidden", "16,16"]


def hvaerl(*args, cwd, **kw):
    "Run `python -m hvaerl.cli *args`; the completed process (text)."
    cmd = [sys.executable, "-m", "hvaerl.cli", *map(str, args)]
    return subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=300, **kw)


def gray_levels(seed: int, n: int = 16) -> list:
    "n real-looking 8-bit grayscale pictures (a seeded gradient with noise), every level of 0..255 present overall."
    rng = np.random.default_rng(seed)
    base = np.linspace(0, 255, 28 * 28).reshape(28, 28)
    return [np.clip(base + rng.normal(0, 30, (28, 28)), 0, 255).round().astype(np.uint8) for _ in range(n)]


def write_folder(root: Path, kind: str) -> dict:
    "A two-class folder whose images are of `kind`; what training must see: {'levels': 8-bit values per file, 'classes'}."
    pics = {"a": gray_levels(0), "b": gray_levels(1)}
    expected = {}
    for c, imgs in pics.items():
        (root / c).mkdir(parents=True)
        for i, g in enumerate(imgs):
            f = root / c / f"{i:02d}"
            if kind == "16bit":
                Image.fromarray(g.astype(np.uint16) * 257).save(f.with_suffix(".png"))  # v * 257: 8-bit v exactly
                expected[f.with_suffix(".png")] = g
            elif kind == "rgba":
                rgb = np.dstack([g, 255 - g, g // 2])
                Image.fromarray(np.dstack([rgb, np.full_like(g, 9)]), "RGBA").save(f.with_suffix(".png"))
                expected[f.with_suffix(".png")] = rgb
            elif kind == "palette":
                img = Image.fromarray(np.dstack([g, 255 - g, g // 2])).convert("P")
                img.save(f.with_suffix(".png"))
                expected[f.with_suffix(".png")] = np.asarray(img.convert("RGB"))
            elif kind == "cmyk":
                Image.fromarray(np.dstack([g, 255 - g, g // 2])).convert("CMYK").save(f.with_suffix(".jpg"))
                expected[f.with_suffix(".jpg")] = np.asarray(Image.open(f.with_suffix(".jpg")).convert("RGB"))
            elif kind in ("gif", "empty_class", "plain"):  # plain: 8-bit grayscale PNGs, nothing to convert
                path = f.with_suffix(".gif" if kind == "gif" and i % 2 else ".png")
                Image.fromarray(g).save(path)
                expected[path] = g
    if kind == "empty_class":
        (root / "c_empty").mkdir()
    return dict(classes=["a", "b"], pixels=expected)


# (kind, extra flags, a note that must be printed): every case trains (exit 0) on the images as they are
FOLDER_CASES = [
    ("16bit", [], "16-bit grayscale: scaled to 8 bits (value / 257), not clipped"),
    ("rgba", [], "with an alpha channel: the alpha is dropped, the colours kept as stored"),
    ("palette", [], "palette images: converted through their palette"),
    ("cmyk", [], "CMYK: converted to RGB by PIL (no colour profile)"),
    ("gif", ["--image-mode", "L"], None),  # half the images are GIFs: all of them train
    ("empty_class", [], "class folder c_empty holds no image: skipped, not a class"),
]


@pytest.mark.parametrize("kind,flags,note", FOLDER_CASES, ids=[c[0] for c in FOLDER_CASES])
def test_an_image_folder_trains_on_what_it_holds(kind, flags, note, tmp_path):
    from hvaerl.cli import config_from_args, train_parser

    info = write_folder(tmp_path / "imgs", kind)
    argv = ["--data-folder", tmp_path / "imgs", "--out-dir", tmp_path / "run", *flags, *SMALL]
    r = hvaerl("train", *argv, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    notes = [l for l in r.stderr.splitlines() if l.startswith("note: ")]
    if note:
        assert any(note in l for l in notes), notes
    assert "Traceback" not in r.stderr
    # what it trained on: the config it ran loads these images (hvaerl.train.TrainConfig.load)
    cfg = config_from_args(train_parser().parse_args(list(map(str, argv))))
    fit, valid = cfg.load("fit"), cfg.load("valid")
    files = sorted(info["pixels"])  # the folder's files in hvaerl.data.folder_files' order, which the splits index
    assert len(fit) + len(valid) == len(files) and fit.classes == info["classes"]
    for ds in (fit, valid):
        want = np.stack([info["pixels"][files[i]] for i in ds.indices.tolist()])
        got = ds.images.numpy()
        got = got[:, 0] if got.shape[1] == 1 else got.transpose(0, 2, 3, 1)
        np.testing.assert_array_equal(got, want)  # pixel for pixel: 16-bit levels scaled, not clipped; alpha dropped


def one_line(r, says: str, code: int = 2):
    lines = r.stderr.strip().splitlines()
    assert r.returncode == code, (r.returncode, r.stderr[-2000:])
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert says in lines[0], lines[0]
    return lines[0]


def test_messages_say_what_happened_and_name_the_flags(tmp_path):
    write_folder(tmp_path / "imgs", "plain")  # 32 images: 3 held out
    folder = ["--data-folder", tmp_path / "imgs"]
    line = one_line(
        hvaerl("train", *folder, "--evaluate", "--eval-images", "20", "--out-dir", tmp_path / "e", cwd=tmp_path),
        "--eval-images 20",
    )
    assert "--mine-batch-size" in line and "mine_batch_size" not in line
    line = one_line(
        hvaerl("train", "--batch-size", "100000000", "--out-dir", tmp_path / "b", cwd=tmp_path),
        "--batch-size 100000000",
    )
    assert "--backbone conv" not in line and "--batch-size" in line.split("give")[-1]
    one_line(
        hvaerl("reproduce", "--devices", "cuda", "--dry-run", cwd=tmp_path), "--devices cuda: no GPU is visible here"
    )
    assert (
        hvaerl("train", *folder, *SMALL, "--method", "hvae_rl", "--out-dir", tmp_path / "r", cwd=tmp_path).returncode
        == 0
    )
    one_line(
        hvaerl("train", *folder, *SMALL, "--method", "hvae", "--out-dir", tmp_path / "r", cwd=tmp_path),
        "--method hvae_rl there, hvae now",
    )
    one_line(
        hvaerl(
            "train", *folder, *SMALL, "--method", "hvae_rl", "--gamma", "0.5", "--out-dir", tmp_path / "r", cwd=tmp_path
        ),
        "--gamma 0.9 there, 0.5 now",
    )
    (tmp_path / "imgs" / "a" / "00.png").unlink()  # another set of images under the same name
    line = one_line(
        hvaerl(
            "train", *folder, *SMALL, "--method", "hvae_rl", "--epochs", "2", "--out-dir", tmp_path / "r", cwd=tmp_path
        ),
        "are not those this run started on",
    )


def _start(args, cwd):
    return subprocess.Popen(
        [sys.executable, "-m", "hvaerl.cli", *map(str, args)],
        cwd=cwd,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigint_before_the_first_epoch_says_nothing_was_checkpointed(tmp_path):
    p = _start(["train", "--epochs", "2", "--out-dir", tmp_path / "run"], tmp_path)  # FashionMNIST: minutes an epoch
    deadline = time.time() + 120
    while not (tmp_path / "run" / "config.json").exists() and time.time() < deadline:  # training has begun
        time.sleep(0.2)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=240)  # a loaded machine: the signal waits for the op it lands in
    assert p.returncode == 130, err[-2000:]
    assert "interrupted: no epoch had finished, nothing is checkpointed" in err and "Traceback" not in err, err[-2000:]
    assert not (tmp_path / "run" / "ckpt.pt").exists()


def test_two_trainers_into_one_folder_exactly_one_trains(tmp_path):
    write_folder(tmp_path / "imgs", "plain")
    argv = [
        "train",
        "--data-folder",
        tmp_path / "imgs",
        "--out-dir",
        tmp_path / "run",
        "--epochs",
        "30",
        "--batch-size",
        "8",
    ]
    first = _start(argv, tmp_path)
    deadline = time.time() + 120
    while not (tmp_path / "run" / "config.json").exists() and time.time() < deadline:
        time.sleep(0.2)
    second = hvaerl(*argv, cwd=tmp_path)
    one_line(second, f"--out-dir {tmp_path / 'run'}: another process is training into this folder")
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err[-2000:]
    assert len(list((tmp_path / "run" / "tb").glob("events.*"))) == 1  # one trainer wrote


def test_check_modes_say_where_their_runs_go_and_refuse_what_they_ignore(tmp_path):
    r = hvaerl("reproduce", "--preset", "quick", "--smoke", "--figures-dir", tmp_path / "f", cwd=tmp_path)
    one_line(r, "--figures-dir: --smoke writes no tables or figures: leave --figures-dir out")
    assert not (tmp_path / "f").exists()
    preset = tmp_path / "tiny.yaml"
    preset.write_text("name: tiny\nseeds: [0]\ngroups:\n  - {name: table1, methods: [vae], epochs: 1}\n")
    r = hvaerl("reproduce", "--preset", preset, "--dry-run", "--runs-dir", tmp_path / "X", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"--dry-run: its runs go to {tmp_path / 'X-dry-run'}, apart from {tmp_path / 'X'}'s real runs" in r.stdout
    assert (tmp_path / "X-dry-run").is_dir() and not (tmp_path / "X").exists()


def test_a_record_is_strict_json_true_to_its_run(tmp_path):
    "metrics.json of `hvaerl train --evaluate`: strict JSON (what was not measured is null), L and discount as trained, every field of its declared type, accuracies without float noise; the provenance tells the two splits apart."
    import json
    from dataclasses import fields
    from hvaerl.run import RunRecord

    write_folder(tmp_path / "imgs", "plain")  # 3 held-out images: too few for MINE, which is then not measured
    argv = ["--data-folder", tmp_path / "imgs", "--out-dir", tmp_path / "run", "--method", "hvae_rl", *SMALL]
    r = hvaerl("train", *argv, "--evaluate", "--probe-train", "20", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    text = (tmp_path / "run" / "metrics.json").read_text()
    m = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
    assert m["mi_zL"] is None and m["complete"] is True
    assert (
        (m["levels"], m["gamma"])
        == (len(m["train_config"]["latents"]), m["train_config"]["hparams"]["gamma"])
        == (2, 0.9)
    )
    types = {
        "str | None": str,
        "int | None": int,
        "float | None": float,
        "float": float,
        "dict | None": dict,
        "list | None": list,
    }
    for f in fields(RunRecord):
        want = types.get(str(f.type).replace("typing.", ""))
        if want and m.get(f.name) is not None:
            assert isinstance(m[f.name], (int, float) if want is float else want), (f.name, m[f.name])
    for k in ("acc_zL", "acc_full", "acc_zL_scaled"):
        assert m[k] is None or m[k] == round(m[k], 10), (k, m[k])
    assert RunRecord.load(tmp_path / "run").mi_zL != RunRecord.load(tmp_path / "run").mi_zL  # null reads back as NaN
    prov = json.loads((tmp_path / "run" / "provenance.json").read_text())
    assert prov["train_data"] != prov["valid_data"] and "fit split, 29 images" in prov["train_data"]


def test_every_committed_record_is_strict_json():
    "Each metrics.json under results/ parses with a strict parser (a bare NaN is not JSON): what was not measured is null."
    import json

    records = sorted((ROOT / "results").rglob("metrics.json"))
    assert len(records) >= 80
    for f in records:
        json.loads(
            f.read_text(), parse_constant=lambda c: pytest.fail(f"{f}: {c} is not JSON (scripts/strict_records.py)")
        )
