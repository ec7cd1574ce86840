"""scripts/gpu_step_table.py and scripts/grid_cost.py: the GPU check's timing lines become the tables' numbers."""

import re
from conftest import ROOT, repo_module

gpu_step_table, grid_cost = repo_module("scripts/gpu_step_table.py"), repo_module("scripts/grid_cost.py")

HEAD = "device cuda (16 threads), backbone conv, inference bottom_up, wiring as_run, latents ((8, 14, 14), (64,), (32,), (16,), (8,)), batch 128, L=5, 10 timed batches of x, float32"
LINES = f"""{HEAD}
  elbo             31.4 ms/batch (median),   245.0 epochs/hour, peak GPU memory 0.93 GiB
    elbo loss by batch: 500 400 300
    elbo launches per batch: 1838 kernels, 0 CUDA graph replays, 51 copies and fills
{HEAD}, compile step
  elbo             14.8 ms/batch (median),   519.0 epochs/hour, peak GPU memory 0.65 GiB, first batch 60.1 s
    elbo loss by batch: 500 400.04 300
    elbo launches per batch: not counted (RuntimeError: no CUPTI)
{HEAD}, compile step, no CUDA graphs
  elbo             38.6 ms/batch (median),   199.1 epochs/hour, peak GPU memory 0.70 GiB, first batch 65.2 s
"""


def test_timing_lines_parse_by_network_mode_and_objective():
    runs = gpu_step_table.parse(LINES)
    assert runs[("FashionMNIST", "eager", "elbo")] == dict(ms=31.4, first_s=None, losses=[500, 400, 300], launches=1889)
    assert runs[("FashionMNIST", "step", "elbo")] == dict(ms=14.8, first_s=60.1, losses=[500, 400.04, 300])
    assert runs[("FashionMNIST", "step_no_graphs", "elbo")]["ms"] == 38.6


def test_table_compares_losses_and_survives_an_uncounted_run():
    "A run whose launches were not counted still gets its row; the loss gap is the largest relative one (1e-4 here)."
    text = gpu_step_table.table(gpu_step_table.parse(LINES), {"FashionMNIST": {"elbo": 664.2}})
    row = next(line for line in text.splitlines() if line.startswith("| FashionMNIST | elbo"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[3:10] == ["31.4 (1,889)", "14.8 (not counted)", "2.12x", "45", "60", "1.0e-04", "38.6 (not counted)"]


def test_grid_cost_reads_the_committed_h200_times():
    "The eager and captured times it prices the grid with are the committed step_cost.txt's (not bench.txt's older network's), both networks, all three objectives."
    text = (ROOT / "results" / "gpu_conv" / "step_cost.txt").read_text()
    eager, step = grid_cost.measured_ms(), grid_cost.measured_ms("step")
    first_eager = re.search(r"float32\n  elbo\s+([\d.]+) ms/batch", text)
    assert eager[("gray", "elbo")] == float(first_eager[1])
    assert set(step) == {(n, o) for n in ("gray", "rgb") for o in ("elbo", "rl_fused", "rl_stepwise")}
    assert ("gray", "authors_rl") in eager  # the authors' own code, timed in bench.txt


def test_launch_count_reads_the_h200_check_of_the_network_it_counts():
    "bench/launch_count's measured conv times and launches are compile_step.md's, which are step_cost.txt's: the authors' network it counts, not bench.txt's earlier one."
    launch_count = repo_module("bench/launch_count.py")
    runs = gpu_step_table.parse((ROOT / "results" / "gpu_conv" / "step_cost.txt").read_text())
    measured = launch_count.measured_conv()
    names = {"FashionMNIST": "conv", "RGB": "conv_rgb"}
    assert set(measured) == {(n, o) for n in names.values() for o in ("elbo", "rl_fused", "rl_stepwise")}
    for network, name in names.items():
        for objective in ("elbo", "rl_fused", "rl_stepwise"):
            eager, step = runs[(network, "eager", objective)], runs[(network, "step", objective)]
            assert measured[(name, objective)] == dict(
                eager_ms=eager["ms"],
                eager_launches=eager["launches"],
                captured_ms=step["ms"],
                captured_launches=step["launches"],
            )
