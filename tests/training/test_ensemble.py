"""Ensembles (vaetk.training.train_ensemble, ``vaetk sweep --ensemble K``): member k equals the single run of its seed.

Tolerance. The ensemble is not bitwise equal to the single runs: its forward and backward passes are batched
kernels (a batched matrix product instead of K plain ones, convolutions grouped over the members), which add in
another order, so the first step already differs by float32 rounding (relative 1e-7) and Adam amplifies it where a
gradient entry is mostly cancellation (its update is g / sqrt(v), whatever the size of g). Weights (and Adam
state) are compared per tensor with ``max|a - b| <= 5e-5 * max|b|`` (plus 1e-7 absolute), logged losses and final
metrics to a relative 5e-5. Measured on CPU: at most 4e-6 after the 9 steps these tests run (the semi-supervised
case), 7e-6 after 60 steps of the DenseVAE; a real error is orders of magnitude larger (each member using
another member's noise moves the weights by 4e-2 median, 0.3 max, the losses by 0.1 relative). What is not
rounding is compared exactly: epochs, label indices, the noise generator's and the global RNG's states (so every
member drew exactly its single run's random numbers).
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from vaetk.training import parse_experiment, train_ensemble, train_experiment
from vaetk.training._ensemble import EnsembleTrainer, ensemble_configs
from vaetk.training._files import load_checkpoint
from vaetk.training._run import build_model, load_data
from vaetk.training._trainer import Trainer

REL = 5e-5
# These tiny runs may end over-regularised; the warning is the same for the ensemble and the single runs.
pytestmark = pytest.mark.filterwarnings("ignore::vaetk.training._detector.OverRegularizationWarning")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from vaetk.data import generate

    path = tmp_path_factory.mktemp("data") / "tiny.zarr"
    config = {"n": 9, "n_modes": 2, "scheme": "paper", "distribution": {"name": "standard_normal"},
              "split": {"train": 40, "test": 12}}
    generate(config, path, seed=7, n_workers=1)
    return path


def _table(store, **changes):
    table = {
        "name": "tiny", "data": {"path": str(store)},
        "model": {"latent_dim": 2, "architecture": {"name": "small", "channels": [4], "hidden": 8},
                  "prior": {"name": "standard_normal"}},
        "training": {"epochs": 3, "batch_size": 16, "lr": 3e-3, "eval_every": 1, "checkpoint_every": 1,
                     "device": "cpu", "n_threads": 1},
        "schedule": {"kind": "klushyn", "reconstruction_epochs": 1},
        "evaluation": {"metrics": [{"name": "sd"}]},
    }
    for dotted, value in changes.items():
        *path, key = dotted.split("__")
        node = table
        for part in path:
            node = node.setdefault(part, {})
        node[key] = value
    return table


def _config(store, **changes):
    return parse_experiment(_table(store, **changes))


def _assert_tensors_close(a: dict, b: dict, what: str) -> None:
    assert a.keys() == b.keys()
    for key in a:
        x, y = torch.as_tensor(a[key]), torch.as_tensor(b[key])
        if not x.is_floating_point():
            assert torch.equal(x, y), f"{what}: {key}"
            continue
        err = float((x.double() - y.double()).abs().max()) if x.numel() else 0.0
        assert err <= REL * float(y.double().abs().max()) + 1e-7, f"{what}: {key} differs by {err:.3g}"


def _assert_rows_close(a: list, b: list) -> None:
    assert len(a) == len(b)
    for ra, rb in zip(a, b, strict=True):
        assert ra.keys() == rb.keys()
        for key in ra:
            if key == "seconds":
                continue
            assert ra[key] == pytest.approx(rb[key], rel=REL, abs=1e-7), key


def _assert_same_run(ens: Path, single: Path, *, bitwise: bool = False) -> None:
    """Two run directories hold the same run (to rounding): weights, checkpoint, history, summary."""
    a, b = torch.load(ens / "model.pt"), torch.load(single / "model.pt")
    _assert_tensors_close(a, b, "model.pt")
    if bitwise:
        assert all(torch.equal(a[k], b[k]) for k in a)
        ha, hb = (json.loads((d / "history.json").read_text()) for d in (ens, single))
        assert [{k: v for k, v in r.items() if k != "seconds"} for r in ha] == [
            {k: v for k, v in r.items() if k != "seconds"} for r in hb]
    ca, cb = load_checkpoint(ens), load_checkpoint(single)
    assert ca["epoch"] == cb["epoch"] and torch.equal(ca["label_indices"], cb["label_indices"])
    for key in ("noise", "global"):  # the same random numbers were drawn
        assert torch.equal(ca["rng"][key], cb["rng"][key]), key
    _assert_tensors_close(ca["model"], cb["model"], "checkpoint model")
    for i, state in cb["optimizer"]["state"].items():
        _assert_tensors_close(ca["optimizer"]["state"][i], state, f"Adam state {i}")
    assert ca["optimizer"]["param_groups"] == cb["optimizer"]["param_groups"]
    assert ca["schedule"].keys() == cb["schedule"].keys()
    _assert_rows_close(ca["history"], cb["history"])
    sa, sb = (json.loads((d / "summary.json").read_text()) for d in (ens, single))
    assert sa["over_regularized"] == sb["over_regularized"] and sa["label_indices"] == sb["label_indices"]
    for key, value in sb["final"].items():
        assert sa["final"][key] == pytest.approx(value, rel=REL, abs=1e-7), key
    assert {p.name for p in ens.iterdir()} == {p.name for p in single.iterdir()}


CASES = {
    "plain": {},
    "hierarchical": {"model__prior": {"name": "hierarchical"}},  # learnable prior, samples the global RNG
    # learnable prior that checks its parameters (data-dependent control flow, which vmap cannot trace)
    "factorized": {"model__prior": {"name": "factorized_mixture"}},
    # 4 labels in every batch of 16: the members' batches differ in length (each lacks other labels)
    "semi_supervised": {"semi_supervised__n_labels": 4, "semi_supervised__label_seed": 5},
}


@pytest.mark.parametrize("batching", ["vmap", "loop"])
@pytest.mark.parametrize("case", list(CASES))
def test_members_equal_their_single_runs(store, tmp_path, case, batching):
    config = _config(store, **CASES[case])
    seeds = [0, 1, 2] if case == "plain" else [3, 4]
    outs = [tmp_path / f"ens{s}" for s in seeds]
    results = train_ensemble(config, seeds, outs, batching=batching)
    for seed, out, result in zip(seeds, outs, results, strict=True):
        assert not isinstance(result, Exception), result
        single = tmp_path / f"single{seed}"
        train_experiment(replace(config, training=replace(config.training, seed=seed)), single)
        # member by member, the ensemble runs the single run's kernels: bitwise equal on CPU
        _assert_same_run(out, single, bitwise=batching == "loop")
        provenance = json.loads((out / "provenance.json").read_text())
        assert provenance["seed"] == seed
        assert provenance["ensemble"]["size"] == len(seeds) and provenance["ensemble"]["seeds"] == seeds
        assert provenance["ensemble"]["batching"] == batching
        assert "member" in provenance["ensemble"]["note"]
    # the members really differ from each other
    a, b = (torch.load(o / "model.pt") for o in outs[:2])
    assert any(not torch.allclose(a[k], b[k], rtol=1e-3) for k in a if a[k].is_floating_point())


@pytest.mark.parametrize("batching", ["vmap", "loop"])
def test_dense_vae_with_batchnorm(store, tmp_path, batching):
    arch = {"name": "dense_vae", "init_features": 4, "growth_rate": 2, "encoder_blocks": [1],
            "decoder_blocks": [1, 1], "bottleneck_features": 2, "hidden": [8]}
    config = _config(store, model__architecture=arch, training__epochs=2)
    outs = [tmp_path / "ens0", tmp_path / "ens1"]
    assert not any(isinstance(r, Exception) for r in train_ensemble(config, [0, 1], outs, batching=batching))
    for seed, out in enumerate(outs):
        train_experiment(replace(config, training=replace(config.training, seed=seed)), tmp_path / f"single{seed}")
        _assert_same_run(out, tmp_path / f"single{seed}", bitwise=batching == "loop")
    state = torch.load(outs[1] / "model.pt")
    assert any("running_mean" in k for k in state)  # BatchNorm statistics were compared


class _Kill(BaseException):
    """Stands for the process being killed (not an Exception: it stops the whole ensemble)."""


def test_resume_after_interruption(store, tmp_path):
    config = _config(store, training__epochs=4)
    seeds, outs = [0, 1], [tmp_path / "a0", tmp_path / "a1"]

    def kill(trainer, row):  # member 0 checkpoints epoch 2, member 1 only epoch 1: members at different epochs
        if trainer.config.training.seed == 0 and trainer.epoch == 2:
            raise _Kill

    with pytest.raises(_Kill):
        train_ensemble(config, seeds, outs, callbacks=[kill])
    assert [load_checkpoint(o)["epoch"] for o in outs] == [2, 1]
    results = train_ensemble(config, seeds, outs, resume=True)  # member 1 catches up alone, then both together
    assert not any(isinstance(r, Exception) for r in results)
    fresh = [tmp_path / "b0", tmp_path / "b1"]
    train_ensemble(config, seeds, fresh)
    for out, ref in zip(outs, fresh, strict=True):
        _assert_same_run(out, ref, bitwise=True)  # batching "loop" on CPU: the resumed run is exact
        assert len(json.loads((out / "history.json").read_text())) == 4


def test_a_failing_member_does_not_stop_the_others(store):
    config = _config(store)
    x, theta, tx, tt = load_data(config)
    configs = ensemble_configs(config, [0, 1, 2])
    members = [Trainer(c, build_model(c, tuple(x.shape[1:]))[0], x, theta, tx, tt) for c in configs]
    ensemble = None

    def poison(trainer, row):  # after epoch 1, member 1's weights go NaN (in the stacked tensors it trains in)
        if trainer is members[1] and trainer.epoch == 1:
            i = ensemble._stacked.index(1)
            with torch.no_grad():
                for value in ensemble.params.values():
                    value[i] = math.nan

    members[1].callbacks.append(poison)
    ensemble = EnsembleTrainer(members, batching="vmap")  # NaN weights inside the batched kernels
    results = ensemble.fit()
    assert isinstance(results[1], Exception) and "Non-finite loss at epoch 2, step 1" in str(results[1])
    assert len(members[1].history) == 1
    for k in (0, 2):
        single = Trainer(configs[k], build_model(configs[k], tuple(x.shape[1:]))[0], x, theta, tx, tt)
        single.fit()
        _assert_tensors_close(members[k].model.state_dict(), single.model.state_dict(), f"member {k}")
        _assert_rows_close(members[k].history, single.history)
        assert results[k].final["train_rec_per_pixel"] == pytest.approx(
            single.final_metrics()["train_rec_per_pixel"], rel=REL)


def test_sweep_cli_ensemble_evaluate_and_summarize(store, tmp_path):
    from vaetk.cli.__main__ import main
    from vaetk.sweeps import load_outcomes, summarize_sweep
    from vaetk.training import evaluate_run

    exp = tmp_path / "tiny.toml"
    from vaetk.config import dump_toml

    exp.write_text(dump_toml(_table(store, training__epochs=2)))
    out = tmp_path / "sweep"
    args = ["sweep", str(exp), "--seeds", "3", "--ensemble", "2", "--out", str(out), "--no-progress"]
    assert main(args) == 0
    outcomes = load_outcomes(out)
    assert [o.status for o in outcomes] == ["ok"] * 3 and [o.seed for o in outcomes] == [0, 1, 2]
    assert 0.5 <= outcomes[0].result["sd"] <= 1.0
    sizes = [json.loads((out / "trials" / o.trial_id / "provenance.json").read_text()).get("ensemble", {}).get("size")
             for o in outcomes]
    assert sizes == [2, 2, None]  # seeds 0 and 1 in one process; seed 2 alone, as without --ensemble
    assert "ensemble of 2 trials" in (out / "records" / outcomes[1].trial_id / "trial.log").read_text()
    # the ensemble member's trial equals its single run
    single = tmp_path / "single1"
    train_experiment(parse_experiment(json.loads((out / "records" / outcomes[1].trial_id /
                                                  "trial_config.json").read_text())), single)
    _assert_same_run(out / "trials" / outcomes[1].trial_id, single, bitwise=True)  # CPU: loop
    (table,) = summarize_sweep(out, write=False)
    assert table.n_trials == 3 and table.sd.n == 3
    assert main(["summarize", str(out)]) == 0
    report = evaluate_run(out / "trials" / outcomes[0].trial_id, plots=False)
    assert "sd" in json.dumps(report)
    assert main(args) == 0  # a re-run finds every trial finished
    assert all(o.status == "ok" for o in load_outcomes(out))


def test_a_member_whose_run_directory_is_in_use_fails_alone(store, tmp_path):
    """Members lock their run directories as single runs do (another live process holds member 1's)."""
    import os
    import socket

    from vaetk.errors import DataError
    from vaetk.training._files import LOCK

    outs = [tmp_path / "m0", tmp_path / "m1"]
    outs[1].mkdir()
    (outs[1] / LOCK).write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": "x"}))
    results = train_ensemble(_config(store), [0, 1], outs)
    assert not isinstance(results[0], Exception) and (outs[0] / "model.pt").exists()
    assert isinstance(results[1], DataError) and "is in use by" in str(results[1])
    assert not (outs[1] / "model.pt").exists() and (outs[1] / LOCK).exists()  # the other process's lock stays
