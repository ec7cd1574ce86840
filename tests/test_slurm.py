"""`hvaerl reproduce --executor slurm` against a real one-node Slurm cluster started on this machine
(scripts/slurm_local.sh: Debian's slurmctld, slurmd and munge; no accounting database). Skipped, with the reason, only
where that cluster cannot run (not root and Slurm not installed)."""

import json, os, signal, subprocess, sys, time
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
# every test of this file on one pytest-xdist worker, so that the cluster (a module fixture) starts once, not once per worker
pytestmark = [pytest.mark.xdist_group("slurm"), pytest.mark.minutes]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    "The running cluster's SLURM_CONF, set in this process's environment (the Slurm commands and subprocesses read it)."
    folder = tmp_path_factory.mktemp("slurm")
    start = subprocess.run(
        ["bash", ROOT / "scripts/slurm_local.sh", "start", folder], capture_output=True, text=True, timeout=600
    )
    if start.returncode == 3:
        pytest.skip(f"no local Slurm cluster here: {start.stderr.strip()}")
    assert start.returncode == 0, start.stderr
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(folder / "slurm.conf")
    yield folder
    subprocess.run(["bash", ROOT / "scripts/slurm_local.sh", "stop", folder], timeout=120)
    os.environ.pop("SLURM_CONF") if old is None else os.environ.__setitem__("SLURM_CONF", old)


def queued() -> list:
    "Every job id in the cluster's queue, one line per array task."
    return subprocess.run(["squeue", "-h", "-r", "-o", "%i"], capture_output=True, text=True).stdout.split()


def wait_until(check, timeout: float = 60, every: float = 0.5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if value := check():
            return value
        time.sleep(every)
    return None


def env():
    return {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }


def hvaerl(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "hvaerl.cli", *map(str, args)],
        cwd=cwd,
        env=env(),
        capture_output=True,
        text=True,
        timeout=600,
    )


TINY = """name: tiny
seeds: [0, 1]
run: {device: cpu, backbone: mlp, max_batches_per_epoch: 2, probe_train: 200, probe_test: 100, eval_images: 400, iw_samples: 2, mine_steps: 10, mine_batch_size: 32, tsne_images: 50}
groups:
  - {name: table1, methods: [vae, hvae], epochs: 1}
"""


def test_a_small_preset_runs_on_the_cluster_and_writes_its_tables(cluster, tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY)
    r = hvaerl(
        "reproduce",
        "--preset",
        tmp_path / "tiny.yaml",
        "--executor",
        "slurm",
        "--runs-dir",
        tmp_path / "runs",
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    # a CPU preset asks for no GPU, its threads as CPUs and its largest run's memory: the defaults fit a CPU partition
    assert "one Slurm array, at most 4 at a time; each asks for gpus 0, cpus 1, mem_gb 3" in r.stdout
    assert "4 trained, 0 already complete (skipped), 0 failed" in r.stdout
    runs = [json.loads(p.read_text()) for p in (tmp_path / "runs").glob("*/metrics.json")]
    assert len(runs) == 4 and all(m["complete"] for m in runs)
    assert (tmp_path / "runs" / "figures" / "table1.md").is_file()
    assert "KeyboardInterrupt caught in kernel" not in r.stdout + r.stderr
    again = hvaerl(
        "reproduce",
        "--preset",
        tmp_path / "tiny.yaml",
        "--executor",
        "slurm",
        "--runs-dir",
        tmp_path / "runs",
        "--skip-aggregate",
        cwd=tmp_path,
    )
    assert again.returncode == 0 and "0 trained, 4 already complete (skipped), 0 failed" in again.stdout
    assert not queued()


def tiny_resources(parallelism: int) -> dict:
    "What each stand-in task asks the cluster for (`hvaerl.pipeline.slurm_resources`' keys): one CPU, no GPU."
    return dict(partition=None, account=None, qos=None, constraint=None, gpus=0, cpus=1, mem_gb=1, time_min=10,
                array_parallelism=parallelism, extra={})  # fmt: skip


def start_batch(runs_dir: Path, notebook: Path, n: int, parallelism: int) -> subprocess.Popen:
    "`grid_script` in a process of its own, its output captured."
    cmd = [sys.executable, "-c", grid_script(runs_dir, notebook, n, parallelism)]
    return subprocess.Popen(cmd, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def grid_script(runs_dir: Path, notebook: Path, n: int, parallelism: int) -> str:
    "A batch of n stand-in runs (`dry_run_notebook`) submitted to the cluster as one array."
    slurm = tiny_resources(parallelism)
    return (
        "import json\nfrom hvaerl.pipeline import RunSpec, run_grid\n"
        f"out = run_grid([RunSpec('x', 'm', s) for s in range({n})], {str(runs_dir)!r}, executor='slurm', "
        f"notebook={str(notebook)!r}, slurm={slurm!r}, progress=False)\n"
        "print(json.dumps({o.run_id: [o.status, o.error, o.notebook] for o in out}))"
    )


def run_batch(runs_dir, notebook, n, parallelism):
    from hvaerl.pipeline import RunSpec, run_grid

    slurm = tiny_resources(parallelism)
    return {
        o.run_id: o
        for o in run_grid(
            [RunSpec("x", "m", s) for s in range(n)],
            runs_dir,
            executor="slurm",
            notebook=notebook,
            slurm=slurm,
            progress=False,
        )
    }


def test_sigint_cancels_every_task_and_a_rerun_trains_only_what_was_left(cluster, tmp_path):
    from hvaerl.pipeline import dry_run_notebook

    slow = dry_run_notebook(tmp_path / "slow.ipynb", sleep=20)  # a window of 20 s per task for the SIGINT below
    batch = start_batch(tmp_path / "runs", slow, 3, 1)
    assert wait_until(lambda: (tmp_path / "runs/x-m-s0/metrics.json").exists(), 180), "the first task never finished"
    job = json.loads((tmp_path / "runs" / "slurm_job.json").read_text())["job"]
    assert wait_until(lambda: f"{job}_1" in queued(), 60)  # the second is queued or running (one at a time)
    batch.send_signal(signal.SIGINT)
    out, err = batch.communicate(timeout=120)  # its scancel waits up to 30 s for the queue to empty
    assert "cancelled Slurm job" in err and batch.returncode != 0, err[-2000:]
    assert wait_until(lambda: not queued(), 30)  # nothing of it is queued within 30 s
    assert not (tmp_path / "runs" / "slurm_job.json").exists()
    fast = dry_run_notebook(tmp_path / "fast.ipynb", sleep=0)
    out = run_batch(tmp_path / "runs", fast, 3, 2)
    assert {k: o.status for k, o in out.items()} == {"x-m-s0": "skipped", "x-m-s1": "done", "x-m-s2": "done"}


def test_a_cancelled_task_is_reported_with_its_log_and_a_rerun_completes_it(cluster, tmp_path):
    from hvaerl.pipeline import dry_run_notebook

    slow = dry_run_notebook(tmp_path / "slow.ipynb", sleep=15)
    batch = start_batch(tmp_path / "runs", slow, 2, 2)
    assert wait_until(lambda: (tmp_path / "runs" / "slurm_job.json").exists(), 60), "the array never reached the queue"
    task = f"{json.loads((tmp_path / 'runs' / 'slurm_job.json').read_text())['job']}_1"  # this batch's, not an earlier one's
    assert wait_until(lambda: task in queued(), 30)
    subprocess.run(["scancel", task], check=True)
    out, err = batch.communicate(timeout=180)
    outcomes = json.loads(out.strip().splitlines()[-1])
    status, error, log = outcomes["x-m-s1"]
    assert status == "failed" and "ended without a result" in error and Path(log).name.endswith(".err")
    assert outcomes["x-m-s0"][0] == "done"
    fast = dry_run_notebook(tmp_path / "fast.ipynb", sleep=0)
    assert {k: o.status for k, o in run_batch(tmp_path / "runs", fast, 2, 2).items()} == {
        "x-m-s0": "skipped",
        "x-m-s1": "done",
    }


def test_a_rerun_while_the_earlier_array_is_queued_refuses_naming_it(cluster, tmp_path):
    from hvaerl.config import UsageError
    from hvaerl.pipeline import dry_run_notebook

    slow = dry_run_notebook(tmp_path / "slow.ipynb", sleep=20)
    batch = start_batch(tmp_path / "runs", slow, 2, 2)
    assert wait_until(lambda: (tmp_path / "runs" / "slurm_job.json").exists(), 60)
    job = json.loads((tmp_path / "runs" / "slurm_job.json").read_text())["job"]
    with pytest.raises(UsageError, match=f"Slurm job {job} of an earlier batch .* is still queued or running"):
        run_batch(tmp_path / "runs", slow, 2, 2)
    batch.send_signal(signal.SIGINT)
    batch.communicate(timeout=120)
    assert wait_until(lambda: not queued(), 30)


def test_a_batch_no_node_can_start_ends_in_one_line_naming_the_reason(cluster, tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY)
    t0 = time.time()
    r = hvaerl(
        "reproduce",
        "--preset",
        tmp_path / "tiny.yaml",
        "--executor",
        "slurm",
        "--runs-dir",
        tmp_path / "runs",
        "--cpus",
        "64",
        cwd=tmp_path,
    )
    last = r.stderr.strip().splitlines()[-1]
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert "Slurm cannot start job" in last and "PartitionConfig" in last and "--cpus" in last, last
    assert time.time() - t0 < 90 and not queued()
    r = hvaerl(
        "reproduce",
        "--preset",
        tmp_path / "tiny.yaml",
        "--executor",
        "slurm",
        "--runs-dir",
        tmp_path / "runs",
        "--mem-gb",
        "100000",
        cwd=tmp_path,
    )
    assert r.returncode == 2 and "sbatch refused the batch" in r.stderr.strip().splitlines()[-1]


def test_every_sbatch_setting_is_a_flag_and_a_preset_key_checked_in_one_line(tmp_path):
    r = hvaerl("reproduce", "--help", cwd=tmp_path)
    for f in (
        "--account",
        "--qos",
        "--constraint",
        "--cpus",
        "--mem-gb",
        "--gpus",
        "--sbatch",
        "--time-min",
        "--array-parallelism",
    ):
        assert f in r.stdout, f
    ok = tmp_path / "ok.yaml"
    ok.write_text(TINY + "slurm: {gpus: 0, account: x, extra: {mail-type: END}}\n")
    assert hvaerl("reproduce", "--preset", ok, "--dry-run", "--runs-dir", tmp_path / "r", cwd=tmp_path).returncode == 0
    for bad, says in [
        ("slurm: {gpus: -1}", "gpus must be 0 (none) or more"),
        ("slurm: {acount: x}", "unknown key 'acount' (did you mean 'account'?)"),
        ("slurm: {extra: {array: 3}}", "sbatch --array is hvaerl's to set"),
        ("slurm: {cpus: 0}", "cpus must be positive"),
    ]:
        p = tmp_path / "bad.yaml"
        p.write_text(TINY + bad + "\n")
        r = hvaerl("reproduce", "--preset", p, "--dry-run", cwd=tmp_path)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and says in r.stderr, (bad, r.stderr)
    r = hvaerl("reproduce", "--preset", ok, "--executor", "slurm", "--sbatch", "bad option", cwd=tmp_path)
    assert (
        r.returncode == 2 and "--sbatch: 'bad option' is not an sbatch option name" in r.stderr.strip().splitlines()[-1]
    )
