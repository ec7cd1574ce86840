"""bench/reproduce_cost.py: the README's `make reproduce` time comes from its grouping of runs and its schedule."""

from conftest import repo_module

reproduce_cost = repo_module("bench/reproduce_cost.py")


def test_schedule_is_the_local_executors_pool():
    "Workers take the runs in the grid's order, each the next one when it frees (not longest first)."
    assert reproduce_cost.schedule([3, 3, 2, 2, 2], 2) == 7  # 3+2+2 on one worker, 3+2 on the other
    assert reproduce_cost.schedule([2, 2, 2, 3, 3], 2) == 7  # 2+2+3 and 2+3
    assert reproduce_cost.schedule([5, 1, 1, 1], 1) == 8
    assert reproduce_cost.schedule([5, 1, 1, 1], 4) == 5


def test_kinds_split_what_a_batch_computes_not_seeds_or_discounts():
    from hvaerl.pipeline import build_grid, load_preset

    grid = build_grid(load_preset("quick"))
    kinds = {}
    for s in grid:
        kinds.setdefault(reproduce_cost.kind(s), set()).add(
            (s.dataset, s.method, s.levels, s.params.get("upper_mean"), s.figure_data)
        )
    assert all(len(v) == 1 for v in kinds.values())  # one kind never mixes two computations
    assert len({s.seed for s in grid}) > 1 and len({s.gamma for s in grid}) > 1  # yet seeds and discounts share kinds
    assert len(kinds) < len(grid)
    assert {"fashion_mnist-lvae_rl-L5-means", "fashion_mnist-lvae_rl-L5-sampled"} <= set(kinds)  # the passes apart
