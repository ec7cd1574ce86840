"""User errors of the `hvaerl` command: each exits with status 2 and one line on stderr, no traceback, nothing written.

Every case fails before training starts (most before any data is loaded), so the whole file runs in about a minute."""

import os, subprocess, sys
from pathlib import Path
import pytest, yaml

ROOT = Path(__file__).resolve().parents[1]


def hvaerl(*args, cwd):
    "Run `python -m hvaerl.cli *args` in `cwd`; the completed process (text)."
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(
        [sys.executable, "-m", "hvaerl.cli", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _gpus() -> int:
    "GPUs visible here (an absent one is named differently on a machine with none)."
    import torch

    return torch.cuda.device_count()


def files(folder: Path) -> set:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def assert_one_line_error(r, says: str):
    lines = r.stderr.splitlines()
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert len(lines) == 1 and lines[0].strip(), r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert says in lines[0], lines[0]


def read_only_dir(tmp_path: Path) -> Path:
    "A folder nobody here can write into: chmod 555 for a user; root ignores modes, so /sys (a kernel filesystem) for root."
    if os.geteuid() == 0:
        return Path("/sys/hvaerl-test-out")
    d = tmp_path / "read_only"
    d.mkdir()
    d.chmod(0o555)
    return d / "run"


BAD_TRAIN = {  # flags -> what the one line must say
    "dataset_unknown": (["--dataset", "cifar11"], "--dataset: unknown dataset 'cifar11': use one of fashion_mnist"),
    "dataset_missing": (["--dataset", "cifar10", "--data-root", "{tmp}/no_data"], "add --download"),
    "out_dir_file": (["--out-dir", "{tmp}/a_file"], "is a file: give a folder"),
    "out_dir_read_only": (["--out-dir", "{read_only}"], "give a folder you can write to"),
    "device_cuda": (["--device", "cuda"], "--device cuda: no GPU is visible here"),
    "levels_text": (["--levels", "three"], "--levels: expected an integer or none, got 'three'"),
    "hidden_one": (["--hidden", "64"], "--hidden: hidden (64,) needs one width per level (5)"),
    "batch_size_over_folder": (["--data-folder", "{tmp}/three", "--batch-size", "8"], "are fewer than one batch of 8"),
    "image_size_4096": (["--data-folder", "{tmp}/three", "--image-size", "4096"], "--image-size 4096: the model has"),
    "threads_zero": (["--threads", "0"], "--threads: expected a positive integer, got 0"),
    "max_batches_negative": (
        ["--max-batches-per-epoch", "-1"],
        "--max-batches-per-epoch: max_batches_per_epoch must be a positive",
    ),
    "gamma_text": (["--gamma", "abc"], "--gamma: expected a number, got 'abc'"),
    "sample_lower_typo": (["--sample-lower", "ture"], "--sample-lower: expected true or false, got 'ture'"),
    "image_size_without_folder": (
        ["--image-size", "32"],
        "--image-size: image_size and image_mode apply to a data_folder's images only",
    ),
    "dataset_and_folder": (["--dataset", "mnist", "--data-folder", "{tmp}"], "give one of them"),
    "out_dir_empty": (["--out-dir", ""], "--out-dir is empty: give a folder"),
    "eval_flag_without_evaluate": (["--probe-train", "500"], "--probe-train: sizes the evaluation: add --evaluate"),
    "eval_images_below_mine_batch": (
        ["--evaluate", "--eval-images", "100"],
        "--eval-images 100 is too few for MINE's batches of 256 (they need at least 426 images): give a --mine-batch-size of 60 or less",
    ),
    "eval_images_rounding": (  # 213 pairs hold out 43 + 43, leaving 127 < 128 (212 would fit): refused before training
        ["--evaluate", "--eval-images", "213", "--mine-batch-size", "128"],
        "--eval-images 213 is too few for MINE's batches of 128 (they need at least 214 images)",
    ),
    "probe_test_zero": (["--evaluate", "--probe-test", "0"], "--probe-test must be a positive integer, got 0"),
}


def write_rgb_folder(folder: Path, n: int, size=(28, 28)) -> Path:
    "A flat folder of `n` black RGB PNGs: an image folder as a user's, with nothing in it to learn."
    from PIL import Image

    folder.mkdir()
    for i in range(n):
        Image.new("RGB", size).save(folder / f"{i}.png")
    return folder


@pytest.mark.parametrize("case", list(BAD_TRAIN))
def test_train_user_error_is_one_line(case, tmp_path):
    if case == "device_cuda":
        import torch

        if torch.cuda.is_available():
            pytest.skip("a GPU is visible")
    (tmp_path / "a_file").write_text("not a folder")
    (tmp_path / "no_data").mkdir()
    write_rgb_folder(tmp_path / "three", 3)
    argv, says = BAD_TRAIN[case]
    argv = [a.format(tmp=tmp_path, read_only=read_only_dir(tmp_path)) for a in argv]
    out_dir = Path(argv[argv.index("--out-dir") + 1]) if "--out-dir" in argv else tmp_path / "runs"
    if "--out-dir" not in argv:
        argv += ["--out-dir", str(out_dir)]
    before = files(tmp_path)
    r = hvaerl("train", *argv, cwd=tmp_path)
    assert_one_line_error(r, says)
    assert files(tmp_path) == before, "a file was written"
    assert str(out_dir) == "." or not out_dir.exists() or out_dir.is_file()  # "": nothing written in tmp_path (above)


BAD_REPRODUCE = {
    "jobs_zero": (["--jobs", "0"], "--jobs: expected a positive integer, got 0"),
    "jobs_negative": (["--jobs", "-3"], "--jobs: expected a positive integer, got -3"),
    "preset_unknown": (["--preset", "nope"], "--preset: unknown preset 'nope': use one of"),
    "preset_typo": (["--preset", "{tmp}/typo.yaml", "--dry-run"], "groups[0] (table1): unknown key 'budget_minute'"),
    "preset_string_for_list": (["--preset", "{tmp}/string.yaml", "--dry-run"], "methods expects a list of names"),
    "preset_bad_type": (
        ["--preset", "{tmp}/soon.yaml", "--dry-run"],
        "budget_minutes expects a number or null, got 'soon'",
    ),
    # output folders are checked before any run starts
    "runs_dir_file": (["--runs-dir", "{tmp}/a_file", "--dry-run"], "--runs-dir {tmp}/a_file is a file"),
    "runs_dir_read_only": (["--runs-dir", "{read_only}", "--dry-run"], "give a folder you can write to"),
    "runs_dir_empty": (["--runs-dir", "", "--dry-run"], "--runs-dir is empty"),
    "runs_dir_under_a_file": (["--runs-dir", "{tmp}/a_file/runs", "--dry-run"], "so the folder cannot be created"),
    "figures_dir_file": (["--figures-dir", "{tmp}/a_file", "--dry-run"], "--figures-dir {tmp}/a_file is a file"),
    "figures_dir_read_only": (["--figures-dir", "{read_only}", "--dry-run"], "--figures-dir"),
    "figures_dir_empty": (["--figures-dir", "", "--dry-run"], "--figures-dir is empty"),
    # packing runs onto local devices
    "devices_unknown": (["--devices", "tpu:0", "--dry-run"], "--devices: 'tpu:0' is not a device"),
    "devices_absent_gpu": (
        ["--devices", "cuda:7", "--dry-run"],
        "--devices: cuda:7 is not on this machine" if _gpus() else "--devices cuda:7: no GPU is visible here",
    ),
    "runs_per_device_zero": (["--devices", "cpu", "--runs-per-device", "0"], "--runs-per-device: expected a positive"),
    "runs_per_device_alone": (["--runs-per-device", "2", "--dry-run"], "--runs-per-device needs --devices"),
}


@pytest.mark.parametrize("case", list(BAD_REPRODUCE))
def test_reproduce_user_error_is_one_line(case, tmp_path):
    group = dict(name="table1", methods=["hvae"], epochs=1)
    for name, change in (
        ("typo", dict(budget_minute=0.1)),
        ("string", dict(methods="hvae")),
        ("soon", dict(budget_minutes="soon")),
    ):
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(dict(name=name, groups=[{**group, **change}])))
    (tmp_path / "a_file").write_text("not a folder")
    argv, says = BAD_REPRODUCE[case]
    before = files(tmp_path)
    fill = dict(tmp=tmp_path, read_only=read_only_dir(tmp_path))
    r = hvaerl("reproduce", *[a.format(**fill) for a in argv], cwd=tmp_path)
    assert_one_line_error(r, says.format(**fill))
    assert files(tmp_path) == before, "a file was written"


BAD_AGGREGATE = {
    "preset_unknown": (["--preset", "nope"], "--preset: unknown preset 'nope'"),
    "no_results": (["--preset", "{tmp}/one.yaml", "--results-dir", "{tmp}/empty"], "no complete run of preset 'one'"),
    "figures_dir_file": (
        ["--preset", "quick", "--figures-dir", "{tmp}/a_file"],
        "--figures-dir {tmp}/a_file is a file",
    ),
    "figures_dir_read_only": (["--preset", "quick", "--figures-dir", "{read_only}"], "give a folder you can write to"),
    "figures_dir_empty": (["--preset", "quick", "--figures-dir", ""], "--figures-dir is empty"),
}


@pytest.mark.parametrize("case", list(BAD_AGGREGATE))
def test_aggregate_user_error_is_one_line(case, tmp_path):
    (tmp_path / "a_file").write_text("not a folder")
    (tmp_path / "empty").mkdir()
    (tmp_path / "one.yaml").write_text(yaml.safe_dump(dict(name="one", groups=[dict(name="table1", methods=["hvae"])])))
    argv, says = BAD_AGGREGATE[case]
    fill = dict(tmp=tmp_path, read_only=read_only_dir(tmp_path))
    before = files(tmp_path)
    r = hvaerl("aggregate", *[a.format(**fill) for a in argv], cwd=tmp_path)
    assert_one_line_error(r, says.format(**fill))
    assert files(tmp_path) == before, "a file was written"


def test_no_command_prints_help_and_exits_2(tmp_path):
    r = hvaerl(cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.startswith("usage: hvaerl") and "Traceback" not in r.stderr
    assert files(tmp_path) == set()


def test_version_and_help(tmp_path):
    r = hvaerl("--version", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.startswith("hvaerl ")
    r = hvaerl("train", "--help", cwd=tmp_path)
    assert r.returncode == 0
    # help from the fields' comments, types from the annotations, the valid names listed
    for text in (
        "discount of the Q-value",
        "--hidden INTS|none",
        "--sample-lower true|false",
        "cifar10",
        "hvae_rl",
        "rl_stepwise",
        "--download",
    ):
        assert text in r.stdout, text
    assert "Hparams" not in r.stdout  # methods by their --method names, not internal classes
    for command in ("train", "reproduce", "aggregate", "diagnose"):
        r = hvaerl(command, "--help", cwd=tmp_path)
        assert r.returncode == 0 and f"examples:\n  hvaerl {command}" in r.stdout, command
    r = hvaerl("reproduce", "--help", cwd=tmp_path)
    assert r.returncode == 0 and "quick" in r.stdout and "paper" in r.stdout


def test_help_loads_no_torch(tmp_path):
    "`hvaerl --help`, `reproduce --help` and `aggregate --help` answer without importing torch (about 1.5 s of a 2 s answer)."
    for args in (["--help"], ["reproduce", "--help"], ["aggregate", "--help"]):
        code = f"import sys; from hvaerl import cli; cli.main({args!r}); assert 'torch' not in sys.modules, {args!r}"
        r = subprocess.run(
            [sys.executable, "-c", code],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            # without the tests' global seed, whose set-up imports torch (hvaerl/__init__.py)
            env={**{k: v for k, v in os.environ.items() if k != "HVAERL_TEST_GLOBAL_SEED"}, "PYTHONPATH": str(ROOT)},
            timeout=120,
        )
        assert r.returncode == 0 and "usage" in r.stdout, r.stderr


def test_rgb_folder_defaults_to_a_small_conv_model(tmp_path):
    "28x28 RGB images: the conv backbone at 32 channels (about 5 M parameters), not the MLP (its output layer alone holds 40 M)."
    from hvaerl.train import TrainConfig, model_size

    cfg = TrainConfig(data_folder=str(write_rgb_folder(tmp_path / "rgb", 4)))
    size = model_size(cfg)
    assert (cfg.backbone, cfg.image_shape) == ("conv", (3, 28, 28)) and size["params"] < 10e6, (cfg.backbone, size)
    assert model_size(TrainConfig(data_folder=cfg.data_folder, backbone="mlp"))["params"] > 40e6


def test_train_evaluate_writes_a_run_record(tmp_path):
    "hvaerl train --evaluate: the run's metrics.json is a complete RunRecord of the split it trained on and the sizes asked for."
    from hvaerl.run import RunRecord

    sizes = ["--probe-train", "300", "--probe-test", "None", "--eval-images", "100", "--mine-batch-size", "32"]
    r = hvaerl(
        "train",
        *["--method", "hvae", "--epochs", "1", "--max-batches-per-epoch", "2", "--valid-batches", "1", "--evaluate"],
        *[*sizes, "--mine-steps", "3", "--iw-samples", "2", "--out-dir", tmp_path / "run"],
        cwd=tmp_path,
    )
    if "not found (looked in" in r.stderr:
        pytest.skip("FashionMNIST is not on this machine")
    assert r.returncode == 0, r.stderr
    rec = RunRecord.load(tmp_path / "run")
    assert rec.complete and rec.method == "hvae" and rec.train_split.startswith("fit (")
    # --probe-test None: every test image, not the default's 1000
    assert (rec.probe_train, rec.probe_test, rec.eval_images, rec.eval_config["mine_batch_size"]) == (
        300,
        10000,
        100,
        32,
    )
    assert 0 <= rec.acc_zL <= 100 and len(rec.kl_per_level) == 5
    assert "evaluated: z_L probe" in r.stdout


def test_damaged_or_foreign_checkpoint_is_one_line(tmp_path):
    "A checkpoint changed on disk, or one of a run with other settings: one line naming the folder and --no-resume; the files stay as they were."
    run = tmp_path / "run"
    ok = hvaerl(
        "train",
        "--method",
        "vae",
        "--epochs",
        "1",
        "--max-batches-per-epoch",
        "1",
        "--valid-batches",
        "1",
        "--out-dir",
        run,
        cwd=tmp_path,
    )
    if "not found (looked in" in ok.stderr:
        pytest.skip("FashionMNIST is not on this machine")
    assert ok.returncode == 0, ok.stderr
    other = hvaerl(
        "train", "--method", "hvae", "--epochs", "2", "--out-dir", run, cwd=tmp_path
    )  # another method, same folder
    assert_one_line_error(other, "holds a checkpoint of another run (--method")
    assert "--no-resume" in other.stderr
    ck = run / "ckpt.pt"
    damaged = ck.read_bytes()[: ck.stat().st_size // 2]
    ck.write_bytes(damaged)  # truncated: the checksum beside it no longer matches
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    r = hvaerl("train", "--method", "vae", "--epochs", "2", "--out-dir", run, cwd=tmp_path)
    assert_one_line_error(r, f"checkpoint {ck} does not match its checksum")
    assert "--no-resume" in r.stderr
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before  # nothing lost, nothing overwritten


def test_the_slow_helps_answer_from_a_current_cache(tmp_path):
    "`hvaerl train --help` and `diagnose --help` print the cached text (no torch), which equals what their parsers print."
    from hvaerl.cli import HELP_CACHE, _live_help

    for command in ("train", "diagnose"):
        assert (HELP_CACHE / f"{command}.txt").read_text() == _live_help(command), (
            "stale: run hvaerl.cli.write_help_cache()"
        )
        r = hvaerl(command, "--help", cwd=tmp_path)
        assert r.returncode == 0 and r.stdout == (HELP_CACHE / f"{command}.txt").read_text()
    probe = "import sys; from hvaerl.cli import main; main(['train', '--help']); print('torch' in sys.modules, file=sys.stderr)"
    env = {k: v for k, v in os.environ.items() if k != "HVAERL_TEST_GLOBAL_SEED"}  # its set-up imports torch
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert r.stderr.strip() == "False"
