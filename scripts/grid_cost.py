"""What the paper preset's grid costs in GPU-hours, from the step costs measured on a lent H200 (results/gpu_conv).

    python scripts/grid_cost.py            # writes results/grid_cost/grid_cost.md and .json (the README shows the .md)

Training only (evaluation adds minutes per run). Measured on the H200 (batch 128, float32): the conv HVAE's ELBO and
Algorithm 1 (rl_stepwise) batches on FashionMNIST and on the RGB network (results/gpu_conv/step_cost.txt: the network
the paper preset trains), and the authors' own ELBO and RL batches on FashionMNIST (results/gpu_conv/bench.txt). Everything else is an estimate, marked `~` in the table: the other methods at the
HVAE's cost of their objective, Algorithm 1 at L levels as L/5 of its L=5 cost, the authors' code on RGB at their
FashionMNIST cost times hvaerl's RGB/FashionMNIST ratio, and the packing factor (runs sharing one GPU), taken as 1 until
bench/packing.py has measured it (results/gpu_table1/packing.json, written by scripts/gpu_check.sh).

Beside it, the same grid with each update compiled whole (`TrainConfig.compile="step"`): measured where the GPU check
timed it (a `compile step` block in results/gpu_conv/step_cost.txt, with CUDA graphs), else predicted from the op counts of
results/launch_count (`≈`): the eager time scaled by the compiled step's kernels over the eager step's ops, which
assumes the step stays launch-bound; measured on the H200 (results/gpu_conv/compile_step.md), a captured step is bound
by its arithmetic and took 2.3x to 3.1x what the rule predicts from the measured eager times, so `≈` is a lower bound. The paper preset
trains eager until the GPU check has shown the compiled step equal to eager on a GPU.
"""

import json, math, re
from collections import defaultdict
from pathlib import Path
from hvaerl.data import DATASETS
from hvaerl.pipeline import build_grid, load_preset

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "grid_cost"


def measured_ms(compile_mode: str | None = None) -> dict:
    "Median ms per batch measured on the H200: {(network, objective): ms}, network 'gray' (FashionMNIST) or 'rgb'; eager, or the blocks of one `--compile` mode (with CUDA graphs). results/gpu_conv/step_cost.txt (the network the paper preset trains, the authors' block for block) overrides bench.txt (hvaerl's earlier ResConv stages), which keeps the authors' own code's times."
    out = {}
    for name in ("bench.txt", "step_cost.txt"):
        f = ROOT / "results" / "gpu_conv" / name
        text = f.read_text() if f.exists() else ""
        for block in re.split(r"(?=^device cuda)", text, flags=re.M):
            head = block.splitlines()[0] if block else ""
            compiled = "compiled" in head or "compile " in head
            if "backbone conv" not in head or "float32" not in head or "no CUDA graphs" in head:
                continue
            if (compile_mode is None and compiled) or (compile_mode and f"compile {compile_mode}" not in head):
                continue
            net = "rgb" if "(3, 32, 32)" in head or "(128, 16, 16)" in head else "gray"
            for obj, ms in re.findall(r"^\s+(elbo|rl_stepwise|rl_fused)\s+([\d.]+) ms/batch", block, flags=re.M):
                out[(net, obj)] = float(ms)
        if compile_mode is None and name == "bench.txt":
            authors = re.search(r"authors' code.*?elbo\s+([\d.]+) ms/batch.*?rl\s+([\d.]+) ms/batch", text, flags=re.S)
            out[("gray", "authors_elbo")], out[("gray", "authors_rl")] = float(authors[1]), float(authors[2])
    return out


def compiled_ms(eager: dict) -> tuple:
    "({(network, objective): ms} of the whole update compiled, {key: measured?}): measured where the GPU check timed it, else the eager ms times the compiled step's kernels over the eager step's ops (results/launch_count)."
    measured = measured_ms("step")
    table = (ROOT / "results" / "launch_count" / "launch_count.md").read_text().splitlines()
    header = next(i for i, line in enumerate(table) if line.startswith("| network"))
    cols = [c.strip() for c in table[header].strip("|").split("|")]
    counts = {}
    for line in table[header + 2 :]:
        if not line.startswith("|"):
            break
        row = dict(zip(cols, (c.strip().replace(",", "") for c in line.strip("|").split("|"))))
        net = {"conv": "gray"}.get(row["network"])  # the RGB network's steps are compute-bound: ops do not predict them
        if net and row["kernels, compiled"] not in ("—", ""):
            counts[(net, row["objective"])] = int(row["kernels, compiled"]) / int(row["ops, before"])
    out, is_measured = {}, {}
    for key, ms in eager.items():
        if key in measured:
            out[key], is_measured[key] = measured[key], True
        elif key in counts:
            out[key], is_measured[key] = ms * counts[key], False
    return out, is_measured


def packing_factor() -> tuple:
    "(factor, measured?) for runs sharing one GPU: the best of bench/packing.py's rows once measured, else 1."
    f = ROOT / "results" / "gpu_table1" / "packing.json"
    if f.exists():
        rows = json.loads(f.read_text())["rows"]
        best = max(rows, key=lambda r: r["packing_factor"])
        return best["packing_factor"], f"measured: {best['runs']} runs per GPU"
    return 1.0, "not yet measured: taken as 1"


def run_hours(r, ms: dict, compiled: dict) -> tuple:
    "(hvaerl GPU-hours, authors' code GPU-hours, estimated?, hvaerl GPU-hours with the update compiled whole) of one run's training."
    net = "gray" if DATASETS[r.dataset].image_shape[0] == 1 else "rgb"
    batches = math.ceil(DATASETS[r.dataset].n_train / 128) * r.epochs
    rl = r.params.get("objective") == "rl_stepwise"
    L = r.levels or 5
    step = ms[(net, "rl_stepwise")] * L / 5 if rl else ms[(net, "elbo")]
    theirs = ms[("gray", "authors_rl" if rl else "authors_elbo")] * (L / 5 if rl else 1)
    if net == "rgb":
        obj = "rl_stepwise" if rl else "elbo"
        theirs *= ms[("rgb", obj)] / ms[("gray", obj)]
    estimated = r.method not in ("hvae", "hvae_rl") or L != 5  # measured: the HVAE's two objectives at L = 5
    key = (net, "rl_stepwise" if rl else "elbo")
    fast = compiled.get(key, ms[key]) * (L / 5 if rl else 1)
    return batches * step / 3.6e6, batches * theirs / 3.6e6, estimated, batches * fast / 3.6e6


def main():
    ms, (pack, pack_note) = measured_ms(), packing_factor()
    compiled, compiled_measured = compiled_ms(ms)
    preset = load_preset("paper")
    rows = defaultdict(lambda: dict(runs=0, epochs=set(), hours=0.0, theirs=0.0, fast=0.0, estimated=False))
    longest = 0.0
    for r in build_grid(preset):
        h, t, est, fast = run_hours(r, ms, compiled)
        row = rows[(r.dataset, r.method)]
        row["runs"] += 1
        row["epochs"].add(r.epochs)
        row["hours"] += h
        row["theirs"] += t
        row["fast"] += fast
        row["estimated"] |= est
        longest = max(longest, h)
    total, theirs = sum(r["hours"] for r in rows.values()), sum(r["theirs"] for r in rows.values())
    fast = sum(r["fast"] for r in rows.values())
    fast_mark = "" if compiled_measured and all(compiled_measured.values()) else "≈"
    par = preset.get("slurm", {}).get("array_parallelism", 16)
    lines = [
        "| dataset | method | runs | epochs per run | GPU-hours (hvaerl) | GPU-hours (authors' code) | GPU-hours (hvaerl, update compiled whole) |",
        "|---|---|---|---|---|---|---|",
    ]
    for (ds, m), r in rows.items():
        mark = "~" if r["estimated"] else ""
        ep = "/".join(str(e) for e in sorted(r["epochs"], reverse=True))
        lines.append(
            f"| {ds} | {m} | {r['runs']} | {ep} | {mark}{r['hours']:,.0f} | ~{r['theirs']:,.0f} | {fast_mark}{r['fast']:,.0f} |"
        )
    lines.append(
        f"| **total** | | {sum(r['runs'] for r in rows.values())} | | **~{total:,.0f}** | **~{theirs:,.0f}** | **{fast_mark}{fast:,.0f}** |"
    )
    wall = [
        ("one GPU", total / pack),
        ("one 8-GPU node (`--devices cuda`)", total / 8 / pack),
        (f"a Slurm cluster, {par} jobs at once (the preset's `array_parallelism`)", max(total / par, longest)),
    ]
    lines += ["", f"Packing factor {pack:.2f} ({pack_note}). Wall-clock time of the whole grid, training only:", ""]
    lines += ["| where | hvaerl | authors' code |", "|---|---|---|"]
    for name, hours in wall:
        lines.append(f"| {name} | ~{hours / 24:,.0f} days | ~{hours * theirs / total / 24:,.0f} days |")
    lines += [
        "",
        f"Step costs (ms per batch of 128, H200, float32, `results/gpu_conv`): conv FashionMNIST ELBO {ms[('gray', 'elbo')]}, "
        f"Algorithm 1 {ms[('gray', 'rl_stepwise')]}; conv RGB ELBO {ms[('rgb', 'elbo')]}, Algorithm 1 {ms[('rgb', 'rl_stepwise')]}; "
        f"the authors' code on FashionMNIST: ELBO {ms[('gray', 'authors_elbo')]}, RL {ms[('gray', 'authors_rl')]}. "
        f"The longest single run: {longest:,.0f} GPU-hours. `~`: estimated (scripts/grid_cost.py says how).",
        "",
        'The update compiled whole (`compile="step"`), ms per batch: '
        + "; ".join(
            f"{'FashionMNIST' if n == 'gray' else 'RGB'} {o} {v:.1f} ({'measured' if compiled_measured[(n, o)] else 'predicted from op counts'})"
            for (n, o), v in sorted(compiled.items())
        )
        + ". `≈`: predicted from results/launch_count (the eager time scaled by kernels over ops), where the GPU check "
        "has not timed it. The paper preset trains eager until a GPU check has shown the compiled update equal to eager "
        "on a GPU (results/gpu_conv/compile_step.md).",
    ]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "grid_cost.md").write_text("\n".join(lines) + "\n")
    table = [dict(dataset=d, method=m, runs=r["runs"], epochs=sorted(r["epochs"]), gpu_hours=r["hours"],
                  authors_gpu_hours=r["theirs"], estimated=r["estimated"], compiled_gpu_hours=r["fast"])
             for (d, m), r in rows.items()]  # fmt: skip
    summary = dict(total_gpu_hours=total, authors_total_gpu_hours=theirs, packing_factor=pack, packing=pack_note,
                   compiled_total_gpu_hours=fast, compiled_measured={f"{n}/{o}": v for (n, o), v in compiled_measured.items()})  # fmt: skip
    (OUT / "grid_cost.json").write_text(json.dumps(dict(rows=table, **summary), indent=1) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
