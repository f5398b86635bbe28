"""Optional TensorBoard logging (the tensorboard package is a test dependency, so this always runs in CI)."""

from __future__ import annotations

from vaetk.cli.__main__ import main

from .test_runs import store, write_experiment  # noqa: F401 - the module-scoped tiny store fixture


def test_tensorboard_logs_every_epoch_of_a_cli_run(tmp_path, store):  # noqa: F811
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    exp = write_experiment(tmp_path, store, epochs=3)
    run = tmp_path / "run"
    assert main(["train", str(exp), "--out", str(run), "--tensorboard", "--no-progress"]) == 0
    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"train_rec_per_pixel", "train_reg_per_pixel", "beta", "lr"} <= tags
    assert [e.step for e in events.Scalars("train_rec_per_pixel")] == [1, 2, 3]


def test_off_by_default(tmp_path, store):  # noqa: F811
    exp = write_experiment(tmp_path, store, epochs=1)
    assert main(["train", str(exp), "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    assert not (tmp_path / "run" / "tensorboard").exists()
