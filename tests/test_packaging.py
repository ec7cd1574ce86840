"Packaging: pip and conda agree on dependencies, and the wheel installs and imports in a fresh venv."
import re, subprocess, sys, tomllib, venv, zipfile
from pathlib import Path
import pytest, yaml

ROOT = Path(__file__).resolve().parents[1]
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
        if isinstance(dep, dict): names |= {_name(p) for p in dep["pip"] if not p.startswith("-e")}
        elif _name(dep) not in ("python", "pip"): names.add(CONDA_TO_PIP.get(_name(dep), _name(dep)))
    return names

def test_environment_yml_matches_pyproject():
    assert conda_names() == pyproject_names(), (
        f"only in environment.yml: {conda_names() - pyproject_names()}; only in pyproject.toml: {pyproject_names() - conda_names()}")

def test_torch_is_a_range_not_a_pin():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for name in ("torch", "torchvision"):
        spec = next(d for d in deps if _name(d) == name)
        assert "==" not in spec and ">=" in spec, spec

def test_wheel_installs_and_imports_in_fresh_venv(tmp_path):
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path / "dist"), str(ROOT)],
                   check=True, capture_output=True)
    wheel = next((tmp_path / "dist").glob("hvaerl-*.whl"))
    modules = {Path(n).stem for n in zipfile.ZipFile(wheel).namelist() if n.startswith("hvaerl/") and n.endswith(".py")}
    exported = {p.stem for p in (ROOT / "hvaerl").glob("*.py")}
    assert exported <= modules, f"missing from the wheel: {exported - modules}"
    venv.create(tmp_path / "v", with_pip=True)
    py = tmp_path / "v" / "bin" / "python"
    # --no-deps: this checks the package itself; its dependencies are the ones tested everywhere else
    subprocess.run([py, "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True, capture_output=True)
    out = subprocess.run([py, "-c", "import hvaerl; print(hvaerl.__version__)"], check=True, capture_output=True, text=True, cwd=tmp_path)
    assert out.stdout.strip() == re.search(r'__version__ = "(.+)"', (ROOT / "hvaerl/__init__.py").read_text()).group(1)
