"""Every image and relative link in the notebooks' markdown resolves from the notebook's own folder, where JupyterLab
resolves it (the pages rendered at the repository root get them rewritten by scripts/render_readme.py)."""

import json, re
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "nbs").rglob("*.ipynb"))
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|<img[^>]*\bsrc=\"([^\"]+)\"")


def relative_links(nb: Path) -> list:
    "(cell index, target) of every markdown link and image in `nb` that is not a URL or an anchor."
    out = []
    for i, cell in enumerate(json.loads(nb.read_text())["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        for m in LINK.finditer("".join(cell["source"])):
            target = m[1] or m[2]
            if not re.match(r"^([a-z]+:|#)", target):
                out.append((i, target.split("#")[0]))
    return out


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[str(p.relative_to(ROOT / "nbs")) for p in NOTEBOOKS])
def test_notebook_links_resolve_from_its_folder(nb):
    broken = [(i, t) for i, t in relative_links(nb) if not (nb.parent / t).exists()]
    assert not broken, (
        f"{nb.relative_to(ROOT)}: cell, link that does not resolve from {nb.parent.relative_to(ROOT)}/: {broken}"
    )


def test_the_front_notebook_links_its_figure_and_pages():
    links = {t for _, t in relative_links(ROOT / "nbs" / "index.ipynb")}
    assert {"../figures/fig6.png", "../FINDINGS.md", "../GUIDE.md", "../figures/table1.md"} <= links
