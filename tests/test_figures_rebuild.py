"""figures/ is what the committed results make: `hvaerl aggregate --preset quick` rebuilds its tables byte for byte.

The tables are rebuilt from results/quick into a temporary folder and compared with figures/ file by file. Their
provenance names the commit they were made at (the last commit that changed their inputs: the package, the
aggregation notebook, the preset, the runs), so a package change leaves that one line behind until figures/ is rebuilt;
the comparison reads it apart and asserts the rest byte for byte, and that the line names a commit of this history.
"""

import re, subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TABLES_AT = re.compile(r"tables at ([0-9a-f]{7,40}(?:\+uncommitted changes)?)")


def test_committed_tables_rebuild_from_committed_results(tmp_path):
    from hvaerl.pipeline import aggregate, load_preset

    aggregate(load_preset("quick"), ROOT / "results" / "quick", tmp_path)
    committed = sorted(p.name for p in (ROOT / "figures").glob("*.md")) + sorted(
        p.name for p in (ROOT / "figures").glob("*.csv")
    )
    assert committed, "figures/ holds no tables"
    git = ["git", "-C", str(ROOT), "rev-parse", "--is-shallow-repository"]
    shallow = subprocess.run(git, capture_output=True, text=True).stdout.strip() == "true"  # a shallow clone lacks them
    for name in committed:
        rebuilt, ours = (tmp_path / name).read_text(), (ROOT / "figures" / name).read_text()
        at = TABLES_AT.findall(ours)
        for commit in set() if shallow else {c.split("+")[0] for c in at}:  # a commit this history holds
            known = subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", commit + "^{commit}"]).returncode == 0
            assert known, f"figures/{name} names commit {commit}, which this history does not hold"
        assert "+uncommitted changes" not in "".join(at), f"figures/{name} was made from uncommitted inputs"
        assert TABLES_AT.sub("tables at X", rebuilt) == TABLES_AT.sub("tables at X", ours), (
            f"figures/{name} differs from what results/quick makes: run `hvaerl aggregate --preset quick` and commit"
        )
