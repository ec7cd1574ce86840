"""The repository's pages show the tables of figures/ and results/ as they are, and type no result by hand.

README.md, FINDINGS.md and GUIDE.md are rendered from nbs/index.ipynb, nbs/findings.ipynb and nbs/guide.ipynb by
scripts/render_readme.py; a line `<!-- include: PATH -->` or `<!-- include-table: PATH -->` there puts that file's table
into the page, and FINDINGS.md's numbers are computed from results/ and figures/ when it is rendered. A rerun that
changes a result without re-rendering the pages fails here."""

import ast, json, re, runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RENDER = runpy.run_path(str(ROOT / "scripts" / "render_readme.py"), run_name="render_readme")
PAGES = RENDER["PAGES"]


def cells(nb: str) -> list:
    return json.loads((ROOT / nb).read_text())["cells"]


def included_files(nb: str) -> list:
    "The repository files whose tables a page's notebook includes."
    text = "\n".join("".join(c["source"]) for c in cells(nb) if c["cell_type"] == "markdown")
    return re.findall(r"^<!-- include(?:-table)?: (\S+) -->", text, flags=re.M)


@pytest.mark.parametrize("page", PAGES)
def test_page_holds_every_included_table_row(page):
    text = (ROOT / page).read_text()
    for f in included_files(PAGES[page]):
        rows = [l for l in (ROOT / f).read_text().splitlines() if l.startswith("|")]
        assert rows, f"{f} holds no table"
        missing = [r for r in rows if r not in text]
        assert not missing, f"{page} is stale for {f} (run python scripts/render_readme.py): {missing[0]}"


def test_readme_shows_table1_and_is_short():
    assert "figures/table1.md" in included_files(PAGES["README.md"])  # the main result is in the README
    words = len((ROOT / "README.md").read_text().split())
    assert words <= 2000, f"README.md has {words} words: move detail to GUIDE.md or FINDINGS.md"


@pytest.mark.parametrize("page", PAGES)
def test_page_is_rendered_from_its_notebook(page):
    assert RENDER["render"](ROOT / PAGES[page]).rstrip("\n") == (ROOT / page).read_text().rstrip("\n"), (
        f"{page} differs from {PAGES[page]}: run python scripts/render_readme.py"
    )


# Any number in the findings' prose is a typed result unless it is a reference or a setting named beside it
# (Eq. 24, Table 3, Fig. 6, seed 0, L = 2, 3, γ = 0, C = 1, nbs/03_model, z_{l+1}) or the claims' interval level (95%).
NUMBER = re.compile(r"(?<![\w.+{-])\d[\d,]*(?:\.\d+)?(?:e-?\d+)?\s?%?")
REFERENCE = re.compile(
    r"(?:Tables?|Figs?\.|Eq\.|Algorithm|Definition|seeds?|nbs/|\$?L\$? =|γ ?=|C =|vs) ?\d+(?:, \d+)*"
)
CONVENTIONS = {"95%"}


def literal_text(src: str) -> list:
    "The string constants of a code cell (the f-strings' literal parts included): the prose it shows."
    return [n.value for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def typed_numbers(nb: str) -> list:
    "Numbers written into a page's prose, or as non-integer constants into its code, instead of read from a file."
    found = []
    for c in cells(nb):
        src = "".join(c["source"])
        if c["cell_type"] == "code":
            found += [
                str(n.value) for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Constant) and type(n.value) is float
            ]
        texts = [src] if c["cell_type"] == "markdown" else literal_text(src)
        for t in texts:
            t = REFERENCE.sub("", re.sub(r"^<!-- include.*-->$", "", t, flags=re.M))
            found += [m.strip() for m in NUMBER.findall(t) if m.strip() not in CONVENTIONS]
    return found


def test_findings_type_no_number():
    assert typed_numbers(PAGES["FINDINGS.md"]) == []


def test_typed_number_check_sees_a_typed_number(tmp_path):
    nb = json.loads((ROOT / PAGES["FINDINGS.md"]).read_text())
    typed = "HVAE reads 12.5 (Table 1), keeps 8 of 8 units over 3 seeds, a 6e-07 gap, 1,854 words."
    nb["cells"].append({"cell_type": "markdown", "id": "x", "metadata": {}, "source": [typed]})
    nb["cells"].append(
        {"cell_type": "code", "id": "y", "metadata": {}, "source": ['f"{a:.1f} and 75% at seed 0, {12.5}"']}
    )
    (tmp_path / "f.ipynb").write_text(json.dumps(nb))
    assert typed_numbers(str(tmp_path / "f.ipynb")) == ["12.5", "8", "8", "3", "6e-07", "1,854", "12.5", "75%"]
