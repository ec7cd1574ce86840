"""The README shows the tables of figures/ and results/ as they are: every table it includes is the file's, row for row.

README.md is rendered from nbs/index.ipynb by scripts/render_readme.py; a line `<!-- include: PATH -->` or
`<!-- include-table: PATH -->` there puts that file's table into the README. A rerun that changes a table without
re-rendering the README fails here."""

import json, re, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def included_files() -> list:
    "The repository files whose tables nbs/index.ipynb includes."
    nb = json.loads((ROOT / "nbs" / "index.ipynb").read_text())
    text = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    return re.findall(r"^<!-- include(?:-table)?: (\S+) -->$", text, flags=re.M)


def test_readme_holds_every_included_table_row():
    readme = (ROOT / "README.md").read_text()
    files = included_files()
    assert "figures/table1.md" in files, files  # the main result is in the README
    for f in files:
        rows = [l for l in (ROOT / f).read_text().splitlines() if l.startswith("|")]
        assert rows, f"{f} holds no table"
        missing = [r for r in rows if r not in readme]
        assert not missing, f"README.md is stale for {f} (run python scripts/render_readme.py): {missing[0]}"


def test_readme_is_rendered_from_the_index():
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            "import runpy; print(runpy.run_path('scripts/render_readme.py', run_name='x')['render']())",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.rstrip("\n") == (ROOT / "README.md").read_text().rstrip("\n"), (
        "README.md differs from nbs/index.ipynb: run python scripts/render_readme.py"
    )
