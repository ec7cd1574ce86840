"Packaging: pip and conda agree on dependencies, and the wheel installs and imports in a fresh venv."

import json, os, re, subprocess, sys, tomllib, venv, zipfile
from pathlib import Path
import pytest, yaml

ROOT = Path(__file__).resolve().parents[1]
# the wheel tests on one pytest-xdist worker: they share one build (two builds at once would share the source tree's build/)
pytestmark = pytest.mark.xdist_group("wheel")
CONDA_TO_PIP = {"pytorch": "torch", "python-build": "build"}  # same package, different names on conda-forge


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[ ;]", req.strip(), maxsplit=1)[0].lower()


def pyproject_names() -> set:
    proj = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = proj["dependencies"] + [r for extra in proj["optional-dependencies"].values() for r in extra]
    return {_name(r) for r in reqs}


def conda_names() -> set:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    names = set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            names |= {_name(p) for p in dep["pip"] if not p.startswith("-e")}
        elif _name(dep) not in ("python", "pip"):
            names.add(CONDA_TO_PIP.get(_name(dep), _name(dep)))
    return names


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    "The package's wheel, built once from this checkout."
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)], check=True, capture_output=True
    )
    return next(dist.glob("hvaerl-*.whl"))


def test_environment_yml_matches_pyproject():
    assert conda_names() == pyproject_names(), (
        f"only in environment.yml: {conda_names() - pyproject_names()}; only in pyproject.toml: {pyproject_names() - conda_names()}"
    )


def test_torch_is_a_range_not_a_pin():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for name in ("torch", "torchvision"):
        spec = next(d for d in deps if _name(d) == name)
        assert "==" not in spec and ">=" in spec, spec


def test_wheel_installs_and_imports_in_fresh_venv(wheel, tmp_path):
    modules = {Path(n).stem for n in zipfile.ZipFile(wheel).namelist() if n.startswith("hvaerl/") and n.endswith(".py")}
    exported = {p.stem for p in (ROOT / "hvaerl").glob("*.py")}
    assert exported <= modules, f"missing from the wheel: {exported - modules}"
    venv.create(tmp_path / "v", with_pip=True)
    py = tmp_path / "v" / "bin" / "python"
    # --no-deps: this checks the package itself; its dependencies are the ones tested everywhere else
    subprocess.run([py, "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True, capture_output=True)
    out = subprocess.run(
        [py, "-c", "import hvaerl; print(hvaerl.__version__)"], check=True, capture_output=True, text=True, cwd=tmp_path
    )
    assert out.stdout.strip() == re.search(r'__version__ = "(.+)"', (ROOT / "hvaerl/__init__.py").read_text()).group(1)


@pytest.mark.minutes(3)
def test_wheel_reproduces_outside_the_repository(wheel, tmp_path):
    "pip install of the wheel alone (presets and run notebooks ship inside it): from a folder outside the clone, a dry run of the"
    "default preset and a one-run real preset both work, with every output under that folder."
    names = zipfile.ZipFile(wheel).namelist()
    assert {
        "hvaerl/presets/quick.yaml",
        "hvaerl/presets/paper.yaml",
        "hvaerl/experiments/run.ipynb",
        "hvaerl/experiments/aggregate.ipynb",
    } <= set(names)
    venv.create(tmp_path / "v", with_pip=True)
    py, bin_ = tmp_path / "v" / "bin" / "python", tmp_path / "v" / "bin"
    subprocess.run([py, "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True, capture_output=True)
    # the dependencies (torch, papermill, ipykernel...) come from this environment's site-packages, appended after the
    # new venv's own, which holds the wheel's hvaerl (the clone's editable install is a finder that a .pth line does not load)
    import site, sysconfig

    (Path(sysconfig.get_path("purelib", vars={"base": str(tmp_path / "v")})) / "deps.pth").write_text(
        site.getsitepackages()[0] + "\n"
    )
    work = tmp_path / "elsewhere"
    work.mkdir()
    where = subprocess.run(
        [py, "-c", "import hvaerl.pipeline as p; print(p.IN_CLONE, p.RUN_NOTEBOOK)"],
        cwd=work,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.startswith("False") and str(tmp_path / "v") in where.stdout
    env = {
        "PATH": f"{bin_}:/usr/bin:/bin",
        "HOME": str(Path.home()),
        "OMP_NUM_THREADS": "1",
        **{k: os.environ[k] for k in ("HVAERL_DATA_ROOT",) if k in os.environ},
    }  # where the data is, if not the default
    dry = subprocess.run([bin_ / "hvaerl", "reproduce", "--dry-run"], cwd=work, capture_output=True, text=True, env=env)
    assert dry.returncode == 0, dry.stdout[-2000:] + dry.stderr[-2000:]
    (work / "tiny.yaml").write_text(
        "name: tiny\ndescription: one real run outside the clone\nseeds: [0]\n"
        "run: {device: cpu, backbone: mlp, max_batches_per_epoch: 2, probe_train: 300, probe_test: 200, eval_images: 300,\n"
        "      iw_samples: 2, mine_steps: 5, mine_batch_size: 64, tsne_images: 50}\n"
        "groups:\n  - {name: table1, datasets: [fashion_mnist], methods: [vae], epochs: 1}\n"
    )
    real = subprocess.run(
        [bin_ / "hvaerl", "reproduce", "--preset", "tiny.yaml"], cwd=work, capture_output=True, text=True, env=env
    )
    assert real.returncode == 0, real.stdout[-3000:] + real.stderr[-3000:]
    assert json.loads((work / "runs/tiny/fashion_mnist-vae-s0/metrics.json").read_text())["complete"]
    assert (work / "runs/tiny/figures/table1.csv").exists()  # a custom preset: its tables beside its runs
