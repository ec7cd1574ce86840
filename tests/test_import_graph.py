"""The package's import graph: no circles, and every hvaerl module imports only modules of earlier notebooks.

A module's place is its notebook's name in `nbs/` (`00_sources` < `00a_config` < `01_data` < ... < `16_diagnose`), the
order nbdev exports them in and a reader reads them in. Imports inside functions count too: a lazy import is still a
dependency, only a later one."""

import ast, re
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "hvaerl"


def modules() -> dict:
    "{module name: its notebook's stem} of every exported module."
    out = {}
    for f in PKG.glob("*.py"):
        m = re.search(r"File to edit: \.\./nbs/(\S+)\.ipynb", f.read_text())
        if m:
            out[f.stem] = m.group(1)
    return out


def imports(name: str) -> set:
    "The hvaerl modules that module `name` imports, anywhere in its code."
    out = set()
    for node in ast.walk(ast.parse((PKG / f"{name}.py").read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:  # from .train import X / from . import figures
                out |= {node.module} if node.module else {a.name for a in node.names}
            elif node.module == "hvaerl":  # from hvaerl import figures
                out |= {a.name for a in node.names}
            elif node.module and node.module.startswith("hvaerl."):
                out.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            out |= {a.name.split(".")[1] for a in node.names if a.name.startswith("hvaerl.")}
    return out & set(modules()) - {name}


def test_every_module_is_found():
    assert {"config", "sources", "data", "model", "train", "methods", "pipeline", "cli", "diagnose"} <= set(modules())


def test_imports_only_go_down():
    order = modules()
    upward = [f"{m} ({order[m]}) imports {i} ({order[i]})" for m in order for i in imports(m) if order[i] > order[m]]
    assert not upward, "imports of a later notebook's module:\n" + "\n".join(upward)


def test_no_circles():
    graph = {m: imports(m) for m in modules()}
    state, cycles = {}, []

    def visit(m, path):
        state[m] = "open"
        for n in sorted(graph[m]):
            if state.get(n) == "open":
                cycles.append(" -> ".join(path[path.index(n) :] + [n]))
            elif n not in state:
                visit(n, path + [n])
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycles, "import circles:\n" + "\n".join(cycles)


def test_the_check_sees_an_upward_import(tmp_path, monkeypatch):
    "The check itself: a module of an early notebook importing a later one is reported."
    fake = tmp_path / "hvaerl"
    fake.mkdir()
    (fake / "low.py").write_text("# File to edit: ../nbs/01_low.ipynb\nfrom .high import x\n")
    (fake / "high.py").write_text("# File to edit: ../nbs/02_high.ipynb\nfrom .low import y\n")
    monkeypatch.setattr(__import__(__name__), "PKG", fake)
    order = modules()
    assert order == {"low": "01_low", "high": "02_high"} and imports("low") == {"high"}
    try:
        test_imports_only_go_down()
    except AssertionError as e:
        assert "low (01_low) imports high (02_high)" in str(e)
    else:
        raise AssertionError("the upward import was not reported")
    try:
        test_no_circles()
    except AssertionError as e:
        assert "import circles" in str(e)
    else:
        raise AssertionError("the circle was not reported")
