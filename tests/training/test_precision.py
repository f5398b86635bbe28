"""Training arithmetic switches (``training.precision``, ``training.compile``): recorded, and within their stated
tolerances of plain float32 training."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vaetk.errors import ConfigError
from vaetk.training import load_experiment
from vaetk.training._run import train_experiment

from .test_runs import store, write_experiment  # noqa: F401 - the module-scoped tiny store fixture


def _train(tmp_path, store, name: str, epochs: int = 6, **training: str):  # noqa: F811
    folder = tmp_path / name
    folder.mkdir()
    extra = "".join(f"{key} = {value}\n" for key, value in training.items())
    path = write_experiment(folder, store, epochs=epochs, **{'n_threads = 1\n': f'n_threads = 1\n{extra}'})
    result = train_experiment(load_experiment(path), folder / "run")
    return result, folder / "run"


def _curve(result, key: str = "train_loss_per_pixel") -> np.ndarray:
    return np.array([row[key] for row in result.history])


def test_tf32_on_a_cpu_is_float32_and_both_are_recorded(tmp_path, store):  # noqa: F811
    plain, plain_dir = _train(tmp_path, store, "float32")
    tf32, tf32_dir = _train(tmp_path, store, "tf32", precision='"tf32"')
    np.testing.assert_array_equal(_curve(tf32), _curve(plain))  # TF32 only changes CUDA matrix units
    for run_dir, precision in ((plain_dir, "float32"), (tf32_dir, "tf32")):
        provenance = json.loads((run_dir / "provenance.json").read_text())
        assert (provenance["precision"], provenance["compile"], provenance["torch_threads"]) == (precision, False, 1)


def test_bf16_autocast_trains_within_its_stated_tolerance(tmp_path, store):  # noqa: F811
    """bfloat16 keeps 8 mantissa bits: forward activations carry relative errors of about 4e-3, so the loss curve
    of the same seed drifts, but the run must land where float32 lands. Tolerance: the final per-pixel training
    loss within 0.05 nats per pixel of float32's (measured here: 6e-4), every epoch finite."""
    plain, _ = _train(tmp_path, store, "float32")
    bf16, _ = _train(tmp_path, store, "bf16", precision='"bf16"')
    assert np.isfinite(_curve(bf16)).all()
    assert not np.array_equal(_curve(bf16), _curve(plain))  # autocast really ran
    assert abs(bf16.final["train_loss_per_pixel"] - plain.final["train_loss_per_pixel"]) < 0.05


def test_an_unknown_precision_is_refused_at_parse_time(tmp_path, store):  # noqa: F811
    path = write_experiment(tmp_path, store, **{'n_threads = 1\n': 'n_threads = 1\nprecision = "fp16"\n'})
    with pytest.raises(ConfigError, match="precision.*'float32', 'tf32', 'bf16'"):
        load_experiment(path)


@pytest.mark.slow
# torch's own warnings while tracing (its inductor import, dynamo probing .grad): not vaetk's to fix
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:The .grad attribute of a Tensor that is not a leaf:UserWarning")
def test_compiled_training_equals_eager_training(tmp_path, store):  # noqa: F811
    """torch.compile fuses kernels and may reorder float32 reductions: same curve to 1e-4 relative."""
    eager, _ = _train(tmp_path, store, "eager", epochs=3)
    compiled, run_dir = _train(tmp_path, store, "compiled", epochs=3, compile="true")
    np.testing.assert_allclose(_curve(compiled), _curve(eager), rtol=1e-4)
    assert json.loads((run_dir / "provenance.json").read_text())["compile"] is True
