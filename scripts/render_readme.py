"""Render the repository's pages from their notebooks: README.md from nbs/index.ipynb, FINDINGS.md from
nbs/findings.ipynb, GUIDE.md from nbs/guide.ipynb (`PAGES`).

nbdev's own `nbdev-readme` needs Quarto, which cannot be installed offline; this keeps Quarto's contract for the cells
these pages use, with no extra tool:
- a markdown cell appears as it is; a code cell as fenced Python, not run;
- a code cell flagged `#| hide` is left out; in a page that has `#| echo: false` cells it is run (its imports and
  helpers are what those cells read);
- a code cell flagged `#| echo: false` is run and replaced by what its last expression shows (an IPython `Markdown`,
  or a string), so a page's numbers are computed from the files under results/ and figures/ when it is rendered;
- a markdown line `<!-- include: PATH -->` is replaced by that file of the repository, and
  `<!-- include-table: PATH -->` by the rows of the markdown table in it with a link to the file (its provenance stays
  there); what follows the comment on its line (a link for JupyterLab's readers, who see no comment) is dropped;
- links and images, written relative to the notebook's folder (where JupyterLab resolves them), are made relative to
  the repository root, where the pages live.
Code finds files through `hvaerl.config.REPO` (it runs in this process, from any folder; nbdev-test runs it from nbs/).
tests/test_readme.py checks that every page is rendered
and that its tables are the files'."""

import ast, json, os, re, sys
from pathlib import Path

root = Path(__file__).resolve().parents[1]
PAGES = {"README.md": "nbs/index.ipynb", "FINDINGS.md": "nbs/findings.ipynb", "GUIDE.md": "nbs/guide.ipynb"}


def table_rows(path: str) -> str:
    "The markdown table of a file under the repository (its lines that start with '|'), and a link to the file."
    rows = [l for l in (root / path).read_text().splitlines() if l.startswith("|")]
    return "\n".join(rows) + f"\n\n(How these were measured: [`{path}`]({path}).)"


def flags(src: str) -> set:
    "The cell's `#| ...` directives, e.g. {'hide', 'echo: false'}."
    return {l[3:].strip() for l in src.splitlines() if l.startswith("#| ")}


def shown(value) -> str:
    "The markdown text of a cell's last value: an IPython display object's markdown, or a string."
    if value is None:
        return ""
    md = getattr(value, "_repr_markdown_", None)
    return (md() if md else str(value)).strip("\n")


def run_cell(src: str, env: dict):
    "Run a code cell in env, as Jupyter does: every statement, then the value of a last bare expression."
    tree = ast.parse(src)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, "<cell>", "exec"), env)
    return eval(compile(ast.Expression(last.value), "<cell>", "eval"), env) if last else None


def at_root(markdown: str, nb_path: Path) -> str:
    "A notebook's markdown with its relative links and images (written from the notebook's folder, where JupyterLab resolves them) made relative to the repository root, where the page lives."
    folder = nb_path.parent.resolve().relative_to(root)
    move = lambda t: t if re.match(r"^([a-z]+:|#|/)", t) else os.path.normpath(folder / t)
    markdown = re.sub(r"(!?\[[^\]]*\]\()([^)\s]+)", lambda m: m[1] + move(m[2]), markdown)
    return re.sub(r'(<img[^>]*\bsrc=")([^"]+)', lambda m: m[1] + move(m[2]), markdown)


def render(nb_path=root / PAGES["README.md"]) -> str:
    "The markdown page of one notebook."
    nb_path = Path(nb_path)
    nb = json.loads(nb_path.read_text())
    sources = ["".join(c["source"]).strip("\n") for c in nb["cells"]]
    runs = any("echo: false" in flags(s) for s, c in zip(sources, nb["cells"]) if c["cell_type"] == "code")
    parts = [f"<!-- Generated from {nb_path.relative_to(root)} by scripts/render_readme.py: edit the notebook. -->"]
    env = {"__name__": "__page__"}
    for cell, src in zip(nb["cells"], sources):
        f = flags(src)
        if not src or "default_exp" in " ".join(f):
            continue
        if cell["cell_type"] == "markdown":
            src = at_root(src, nb_path)  # before the includes, whose links are the repository root's already
            # an include line may go on with a link for the notebook's readers (JupyterLab shows no comment): dropped here
            src = re.sub(
                r"^<!-- include: (\S+) -->.*$", lambda m: (root / m[1]).read_text().strip("\n"), src, flags=re.M
            )
            src = re.sub(r"^<!-- include-table: (\S+) -->.*$", lambda m: table_rows(m[1]), src, flags=re.M)
            parts.append(src)
        elif runs and ("hide" in f or "echo: false" in f):
            out = shown(run_cell(src, env))
            if "echo: false" in f and out:
                parts.append(out)
        elif "hide" not in f:
            parts.append(f"```python\n{src}\n```")
    return "\n\n".join(parts) + "\n"


if __name__ == "__main__":
    for page, nb in PAGES.items():
        (root / page).write_text(render(root / nb))
    sys.exit(0)
