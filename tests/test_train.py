"""The trainer under a real Ctrl-C: a SIGINT that arrives while an epoch's checkpoint is being written waits for the
write, so no epoch is reported done that a resume does not have (its own process: signals reach the main thread only)."""

import subprocess, sys, textwrap

SCRIPT = textwrap.dedent(
    """
    import os, signal, sys, torch
    from unittest import mock
    from hvaerl.data import synthetic_dataset_for_tests
    from hvaerl.testing import small_config
    from hvaerl.train import load_checkpoint, train

    train_set, valid_set = synthetic_dataset_for_tests(n=256), synthetic_dataset_for_tests(n=64, split="valid")
    out, real_save, saves = sys.argv[1], torch.save, []

    def save_interrupted(*args, **kwargs):
        saves.append(1)
        if len(saves) == int(sys.argv[2]):  # Ctrl-C arrives inside this epoch's checkpoint write
            os.kill(os.getpid(), signal.SIGINT)
        return real_save(*args, **kwargs)

    with mock.patch("torch.save", save_interrupted):
        try:
            train(small_config(out_dir=out, epochs=3), train_set, valid_set, progress=True, tensorboard=False)
        except KeyboardInterrupt:
            print("INTERRUPTED", flush=True)
    print("CHECKPOINT", load_checkpoint(out)["epoch"], len(load_checkpoint(out)["history"]))
    """
)


def test_ctrl_c_inside_a_checkpoint_write_keeps_the_reported_epoch(tmp_path):
    for interrupted_epoch in (1, 2):
        out = tmp_path / f"run{interrupted_epoch}"
        r = subprocess.run(
            [sys.executable, "-c", SCRIPT, str(out), str(interrupted_epoch)],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert r.returncode == 0 and "INTERRUPTED" in r.stdout, r.stdout + r.stderr[-2000:]
        reported = [int(line.split()[1].rstrip(":")) for line in r.stdout.splitlines() if line.startswith("epoch ")]
        assert reported == list(range(1, interrupted_epoch + 1))  # the interrupted epoch is reported: it was saved
        assert f"CHECKPOINT {interrupted_epoch} {interrupted_epoch}" in r.stdout  # ... and a resume has it, history too
