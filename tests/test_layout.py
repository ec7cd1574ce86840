"""What the house must not hold: settings passed through hidden globals, code among the results."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_no_context_variables_in_the_package():
    "A setting reaches the code that reads it as an argument (the trainer's `UpdateSettings`), not through a ContextVar."
    hits = [f.name for f in (ROOT / "hvaerl").glob("*.py") if "ContextVar" in f.read_text()]
    assert not hits, hits


def test_no_code_under_results():
    "results/ holds data (metrics, tables, figures, presets); the code that made them lives in hvaerl/, scripts/ or bench/."
    code = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "results").rglob("*.py"))
    assert not code, code
