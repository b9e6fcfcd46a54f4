"""Broken copies of the shipped CNN+GRU checkpoint: each is refused at load with one line naming the file."""
from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from backend import checkpoints
from backend.checkpoints import read_tensors_numpy
from backend.errors import InputError
from backend.runtime.cnn_gru import CnnGruRuntime, tensor_shapes

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "assets" / "models" / "cnn_gru" / "model"


def broken_copy(tmp_path: Path, config_edit=None, tensor_edit=None, reseal: bool = True) -> Path:
    """A copy of the shipped checkpoint with its config and/or tensors changed, its hash resealed."""
    stem = tmp_path / "model"
    tensor_path, json_path = checkpoints.paths(stem)
    record = json.loads(checkpoints.paths(SHIPPED)[1].read_text())
    if tensor_edit is None:
        shutil.copyfile(checkpoints.paths(SHIPPED)[0], tensor_path)
    else:
        tensors = load_file(str(checkpoints.paths(SHIPPED)[0]))
        tensor_edit(tensors)
        save_file(tensors, str(tensor_path))
    if config_edit is not None:
        config_edit(record["config"]["model"])
    if reseal:
        record["sha256"] = checkpoints.sha256(tensor_path)
    json_path.write_text(json.dumps(record))
    return stem


def _drop(key):
    return lambda d: d.pop(key)


def _set(key, value):
    return lambda d: d.__setitem__(key, value)


def _poison(name, value):
    def edit(tensors):
        tensors[name] = tensors[name].copy()
        tensors[name].flat[7] = value
    return edit


BROKEN = {
    "one freq layer too many": (dict(config_edit=lambda m: m["freq_channels"].append(32)),
                                "lacks the tensors freq_convs.10.weight, freq_convs.10.bias"),
    "one time layer too few": (dict(config_edit=lambda m: m["time_channels"].pop()),
                               "does not call for: time_convs.6.bias, time_convs.6.weight"),
    "hidden width": (dict(config_edit=_set("hidden", 128)),
                     "'temporal.weight_ih_l0' has shape (1024, 512), but its config calls for (512, 512)"),
    "conv width": (dict(config_edit=lambda m: m["freq_channels"].__setitem__(1, 12)),
                   "'freq_convs.2.weight' has shape (16, 8, 3, 1), but its config calls for (12, 8, 3, 1)"),
    "missing tensor": (dict(tensor_edit=lambda t: t.pop("head.bias")), "lacks the tensor head.bias"),
    "extra tensor": (dict(tensor_edit=lambda t: t.__setitem__("extra.weight", np.zeros(3, np.float32))),
                     "does not call for: extra.weight"),
    "unknown variant": (dict(config_edit=_set("variant", "transformer")),
                        "unknown variant 'transformer' (known: gru, lstm, static)"),
    "variant gru with lstm tensors": (dict(config_edit=_set("variant", "gru")),
                                      "'temporal.weight_ih_l0' has shape (1024, 512), but its config calls for "
                                      "(768, 512)"),
    "missing config field": (dict(config_edit=_drop("n_bins")), "checkpoint config lacks the field 'n_bins'"),
    "config field of the wrong type": (dict(config_edit=_set("hidden", "wide")), "config is not usable"),
    "NaN weight": (dict(tensor_edit=_poison("head.weight", np.nan)), "'head.weight' holds NaN or infinite"),
    "infinite weight": (dict(tensor_edit=_poison("temporal.weight_hh_l0", np.inf)),
                        "'temporal.weight_hh_l0' holds NaN or infinite"),
    "tensors changed after the JSON": (dict(tensor_edit=_poison("head.bias", 0.5), reseal=False),
                                       "do not match their JSON"),
}


def test_the_shipped_checkpoint_passes_its_own_layout():
    runtime = CnnGruRuntime.from_checkpoint(SHIPPED)
    assert set(runtime.t) == set(tensor_shapes(runtime.record["config"]))


@pytest.mark.parametrize("case", BROKEN, ids=list(BROKEN))
def test_a_checkpoint_that_disagrees_with_its_config_is_refused(tmp_path, case):
    edits, message = BROKEN[case]
    stem = broken_copy(tmp_path, **edits)
    with pytest.raises(InputError, match=_escaped(message)) as caught:
        CnnGruRuntime.from_checkpoint(stem)
    assert str(tmp_path) in str(caught.value) and "\n" not in str(caught.value)


def _escaped(text: str) -> str:
    import re

    return re.escape(text)


@pytest.mark.parametrize("keep", [0, 5, 100, 50_000, 3_000_000])
def test_a_truncated_tensor_file_is_named_as_such(tmp_path, keep):
    stem = broken_copy(tmp_path)
    tensor_path = checkpoints.paths(stem)[0]
    tensor_path.write_bytes(tensor_path.read_bytes()[:keep])
    with pytest.raises(InputError, match="safetensors") as caught:
        checkpoints.load(stem)
    assert str(tensor_path) in str(caught.value)
    with pytest.raises(InputError, match="safetensors"):
        read_tensors_numpy(tensor_path)  # the reader Blender's Python uses, too


def test_the_numpy_reader_checks_layout_and_values_like_safetensors(tmp_path, monkeypatch):
    stem = broken_copy(tmp_path, tensor_edit=_poison("head.weight", np.nan))
    monkeypatch.setattr(checkpoints, "read_tensors", read_tensors_numpy)
    with pytest.raises(InputError, match="NaN"):
        CnnGruRuntime.from_checkpoint(stem)
    assert CnnGruRuntime.from_checkpoint(SHIPPED).spec.variant == "lstm"


class _Trap:
    """Unpickling this touches a file: proof that a pickle was opened."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("name", ["model.pt", "model.pkl", "model.safetensors"])
def test_a_pickle_is_refused_and_never_unpickled(tmp_path, name):
    marker = tmp_path / "unpickled"
    trap = tmp_path / name
    trap.write_bytes(pickle.dumps(_Trap(marker)))
    if name.endswith(".safetensors"):  # a pickle under the tensor file's name, with a valid JSON beside it
        record = json.loads(checkpoints.paths(SHIPPED)[1].read_text())
        record["sha256"] = checkpoints.sha256(trap)
        trap.with_suffix(".json").write_text(json.dumps(record))
    with pytest.raises(InputError) as caught:
        CnnGruRuntime.from_checkpoint(trap)
    assert str(tmp_path) in str(caught.value)
    assert not marker.exists()


def run_cli(*args: str, env_checkpoint: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, MOUTHPIECE_CNN_GRU=str(env_checkpoint))
    return subprocess.run([sys.executable, "-m", "backend.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("case", ["hidden width", "NaN weight", "missing config field"])
def test_the_cli_reports_a_broken_checkpoint_in_one_line(tmp_path, case):
    edits, message = BROKEN[case]
    stem = broken_copy(tmp_path, **edits)
    out = tmp_path / "line.json"
    out.write_text("old output")
    result = run_cli("animate", "--text", "Bob made a map.", "--model", "cnn-gru", "--out", str(out),
                     "--overwrite", "--quiet", env_checkpoint=stem)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert str(tmp_path) in lines[0] and message in lines[0]
    assert out.read_text() == "old output"


def test_the_cli_refuses_a_torch_pickle_as_checkpoint(tmp_path):
    marker = tmp_path / "unpickled"
    trap = tmp_path / "weights.pth"
    trap.write_bytes(pickle.dumps(_Trap(marker)))
    result = run_cli("animate", "--text", "Bob made a map.", "--model", "cnn-gru", "--out",
                     str(tmp_path / "line.json"), "--quiet", env_checkpoint=trap)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"mouthpiece: error: {trap}: pickle and torch files are never loaded (they can run code); "
        "give a NAME.safetensors + NAME.json checkpoint"]
    assert not marker.exists() and not (tmp_path / "line.json").exists()
