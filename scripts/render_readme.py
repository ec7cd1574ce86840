"""Render README.md from nbs/index.ipynb: markdown cells as they are, code cells as fenced Python.

nbdev's own `nbdev-readme` needs Quarto, which cannot be installed offline; this keeps the same contract
(index.ipynb is the source of the README) with no extra tool. Cells flagged `#| hide` are left out. A markdown line
`<!-- include: PATH -->` is replaced by that file of the repository (a table a script wrote under results/ or figures/),
and `<!-- include-table: PATH -->` by the rows of the markdown table in it (its provenance stays in the file, linked), so
the README shows the numbers the file holds, not a copy typed by hand (tests/test_readme.py checks it)."""

import json, re, sys
from pathlib import Path

root = Path(__file__).resolve().parents[1]


def table_rows(path: str) -> str:
    "The markdown table of a file under the repository (its lines that start with '|'), and a link to the file."
    rows = [l for l in (root / path).read_text().splitlines() if l.startswith("|")]
    return "\n".join(rows) + f"\n\n(How these were measured: [`{path}`]({path}).)"


def render(nb_path=root / "nbs" / "index.ipynb") -> str:
    nb = json.loads(Path(nb_path).read_text())
    parts = ["<!-- Generated from nbs/index.ipynb by scripts/render_readme.py: edit the notebook, not this file. -->"]
    for cell in nb["cells"]:
        src = "".join(cell["source"]).strip("\n")
        if not src or src.startswith("#| hide") or src.startswith("#| default_exp"):
            continue
        if cell["cell_type"] == "markdown":
            src = re.sub(r"^<!-- include: (\S+) -->$", lambda m: (root / m[1]).read_text().strip("\n"), src, flags=re.M)
            src = re.sub(r"^<!-- include-table: (\S+) -->$", lambda m: table_rows(m[1]), src, flags=re.M)
        parts.append(src if cell["cell_type"] == "markdown" else f"```python\n{src}\n```")
    return "\n\n".join(parts) + "\n"


if __name__ == "__main__":
    (root / "README.md").write_text(render())
    sys.exit(0)
