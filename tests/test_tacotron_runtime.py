"""Tacotron lips without torch: the numpy runtime against `Tacotron.infer`, the gate, Griffin-Lim, the text
front end, `mouthpiece animate --model tacotron` and the add-on's text path in Blender 5."""
from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile

from backend import checkpoints
from backend.animation import load_json
from backend.errors import InputError
from backend.runtime.griffin_lim import MelSpec, log_mel, mel_filters, mel_to_audio
from backend.runtime.tacotron import TacotronRuntime, TacotronSpec, tensor_shapes
from backend.text.characters import CHAR_ID, encode_text, model_text

torch = pytest.importorskip("torch")
from training.families.tacotron import Tacotron, TacotronConfig  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BPY5_PYTHON = REPO / ".venv-bpy5" / "bin" / "python"
SMALL = dict(embedding=32, encoder_lstm=16, attention_rnn=32, decoder_rnn=40, landmark_rnn=24, attention_dim=16,
             location_filters=4, location_kernel=7, prenet=(24, 16), postnet_channels=16, postnet_convs=3,
             frames_per_step=2)


def small_model(seed: int = 0, gate_bias: float | None = None, **overrides) -> Tacotron:
    """A randomly initialised small Tacotron in eval mode, with batch-norm statistics that are not the identity."""
    torch.manual_seed(seed)
    model = Tacotron(TacotronConfig(**{**SMALL, **overrides}))
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm1d):
                size = module.num_features
                module.running_mean.copy_(torch.rand(size, generator=generator) - 0.5)
                module.running_var.copy_(0.5 + torch.rand(size, generator=generator))
                module.weight.copy_(0.5 + torch.rand(size, generator=generator))
                module.bias.copy_(0.2 * torch.rand(size, generator=generator) - 0.1)
        if gate_bias is not None:
            model.gate.bias.fill_(gate_bias)
    return model.eval()


def record_of(model: Tacotron) -> dict:
    return {"family": "tacotron", "model": json.loads(json.dumps(dataclasses.asdict(model.config)))}


def runtime_of(model: Tacotron) -> TacotronRuntime:
    tensors = {name: value.numpy() for name, value in model.state_dict().items()}
    return TacotronRuntime(TacotronSpec.from_config(record_of(model)), tensors)


def save_checkpoint(model: Tacotron, folder: Path) -> Path:
    """RUN/model.{safetensors,json} as the trainer's export writes it."""
    tensors = {name: value.detach().cpu().numpy() for name, value in model.state_dict().items()}
    checkpoints.save(folder / "model", checkpoints.Checkpoint(tensors, "tacotron", record_of(model), 7, {}))
    return folder / "model"


IDS = encode_text("bob made a map, didn't he?")


@pytest.mark.parametrize("postnets", [False, True], ids=["no post-nets", "post-nets and landmark pre-net"])
def test_numpy_runtime_equals_torch_infer(postnets):
    model = small_model(prenet_dropout=0.0, mel_postnet=postnets, landmark_postnet=postnets,
                        landmark_prenet=postnets, gate_bias=-30.0)
    expected = model.infer(torch.from_numpy(IDS), max_steps=24)
    got = runtime_of(model).infer(IDS, max_steps=24)
    assert got["mel"].shape == (48, 80) and got["lips"].shape == (48, 60)
    for key in ("mel", "lips", "mel_alignments", "lip_alignments"):
        np.testing.assert_allclose(got[key], expected[key].numpy(), atol=1e-4, err_msg=key)
    assert got["stopped"] is expected["stopped"] is False


def test_without_landmark_feedback_numpy_equals_torch_and_free_running_equals_teacher_forcing():
    model = small_model(prenet_dropout=0.0, gate_bias=-30.0, landmark_input="none")
    expected = model.infer(torch.from_numpy(IDS), max_steps=12)
    got = runtime_of(model).infer(IDS, max_steps=12)
    np.testing.assert_allclose(got["lips"], expected["lips"].numpy(), atol=1e-4)
    ids = torch.from_numpy(IDS)[None]
    with torch.no_grad():
        memory, pad_mask = model.encode(ids, torch.tensor([ids.shape[1]]))
        forced, _ = model.forward_landmarks(memory, pad_mask, torch.randn(1, 24, 60))  # targets are never heard
    np.testing.assert_allclose(forced[0].numpy(), expected["lips"].numpy(), atol=1e-4)


def test_lips_that_hear_the_mel_match_in_numpy_and_torch_and_follow_the_generated_mel():
    model = small_model(prenet_dropout=0.0, gate_bias=-30.0, landmark_input="mel", landmark_prenet=True,
                        mel_postnet=False)
    expected = model.infer(torch.from_numpy(IDS), max_steps=12)
    got = runtime_of(model).infer(IDS, max_steps=12)
    for key in ("mel", "lips", "lip_alignments"):
        np.testing.assert_allclose(got[key], expected[key].numpy(), atol=1e-4, err_msg=key)
    ids = torch.from_numpy(IDS)[None]
    with torch.no_grad():  # teacher forcing on the generated mel (no post-net here) gives the same lips
        memory, pad_mask = model.encode(ids, torch.tensor([ids.shape[1]]))
        forced, _ = model.forward_landmarks(memory, pad_mask, torch.zeros(1, len(got["mel"]), 60),
                                            torch.from_numpy(got["mel"])[None])
    np.testing.assert_allclose(forced[0].numpy(), got["lips"], atol=1e-4)


def test_the_attention_window_keeps_attention_moving_forward_in_numpy_and_torch():
    model = small_model(prenet_dropout=0.0, gate_bias=-30.0)
    expected = model.infer(torch.from_numpy(IDS), max_steps=24, attention_window=2)
    got = runtime_of(model).infer(IDS, max_steps=24, attention_window=2)
    for key in ("mel", "lips", "mel_alignments", "lip_alignments"):
        np.testing.assert_allclose(got[key], expected[key].numpy(), atol=1e-4, err_msg=key)
    for alignments in (got["mel_alignments"], got["lip_alignments"]):
        peaks = alignments.argmax(1)
        assert np.all(np.diff(peaks) >= 0) and np.all(np.diff(peaks) <= 2)
        previous = np.concatenate([[0], peaks[:-1]])
        outside = np.arange(alignments.shape[1])[None] > previous[:, None] + 2
        assert np.all(alignments[outside] == 0.0)


def test_checkpoint_layout_is_the_torch_state_dict():
    model = small_model(landmark_postnet=True)
    shapes = tensor_shapes(record_of(model))
    assert shapes == {name: tuple(value.shape) for name, value in model.state_dict().items()}


def test_prenet_dropout_stays_on_and_is_seeded():
    runtime = runtime_of(small_model(prenet_dropout=0.5, gate_bias=-30.0))
    first, again = runtime.infer(IDS, max_steps=6, seed=0), runtime.infer(IDS, max_steps=6, seed=0)
    other = runtime.infer(IDS, max_steps=6, seed=1)
    np.testing.assert_array_equal(first["mel"], again["mel"])
    assert np.abs(first["mel"][2:] - other["mel"][2:]).max() > 1e-3  # the first step's input is zeros either way


def test_gate_stops_generation():
    stops_at_once = runtime_of(small_model(gate_bias=30.0)).infer(IDS, max_steps=50)
    assert stops_at_once["stopped"] and stops_at_once["mel"].shape == (2, 80) and stops_at_once["lips"].shape == (2, 60)
    never = runtime_of(small_model(gate_bias=-30.0)).infer(IDS, max_steps=50)
    assert not never["stopped"] and len(never["mel"]) == 100 and len(never["mel_alignments"]) == 50
    torch_never = small_model(gate_bias=-30.0).infer(torch.from_numpy(IDS), max_steps=50)
    assert len(torch_never["mel"]) == 100 and not torch_never["stopped"]


def test_a_checkpoint_that_misses_a_tensor_is_named_in_one_line(tmp_path):
    model = small_model()
    tensors = {name: value.numpy() for name, value in model.state_dict().items() if name != "gate.bias"}
    checkpoints.save(tmp_path / "model", checkpoints.Checkpoint(tensors, "tacotron", record_of(model), 1, {}))
    with pytest.raises(InputError) as err:
        TacotronRuntime.from_checkpoint(tmp_path / "model")
    assert str(err.value) == f"{tmp_path / 'model.safetensors'}: lacks the tensor gate.bias that its config calls for"


@pytest.mark.parametrize("rate,n_fft,fmin,fmax", [(16000, 800, 55.0, 7600.0), (22050, 1024, 0.0, 8000.0)])
def test_slaney_mel_filters_equal_librosa(rate, n_fft, fmin, fmax):
    librosa = pytest.importorskip("librosa")
    expected = librosa.filters.mel(sr=rate, n_fft=n_fft, n_mels=80, fmin=fmin, fmax=fmax)
    got = mel_filters(MelSpec(rate, n_fft, 200, 80, fmin, fmax))
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-6, rtol=0)


def chirp(seconds: float, rate: int = 16000) -> np.ndarray:
    """A rising chirp with harmonics and a syllable-like envelope: a spectrum that changes with time."""
    t = np.arange(int(seconds * rate)) / rate
    phase = 2 * np.pi * (150 * t + 250 * t ** 2)
    envelope = 0.5 * (1 - np.cos(2 * np.pi * 2.5 * t))
    return (0.3 * envelope * (np.sin(phase) + 0.5 * np.sin(2 * phase) + 0.25 * np.sin(3 * phase))).astype(np.float32)


def test_log_mel_matches_training():
    from training.dataset import log_mel as training_log_mel

    audio = chirp(1.3)
    np.testing.assert_allclose(log_mel(audio), training_log_mel(audio), atol=1e-3)


def test_griffin_lim_speech_lasts_the_frames_and_keeps_the_spectrum():
    from backend.audio import resample
    from backend.text import synthesize

    spoken = synthesize("Bob made a map of the town.")
    mel = log_mel(resample(spoken.audio, spoken.sample_rate, 16000))
    audio = mel_to_audio(mel)
    assert audio.dtype == np.float32 and audio.shape == (len(mel) * 200,)  # T frames at 80 fps: T / 80 s
    assert np.isfinite(audio).all() and 0.05 < np.abs(audio).max() <= 1.0
    rebuilt = log_mel(audio)[:len(mel)]
    loud = mel > np.percentile(mel, 50)
    assert np.abs(rebuilt - mel)[loud].mean() < 0.3  # natural-log units (librosa's mel_to_audio: 0.28)
    wild = mel_to_audio(np.full((10, 80), 500.0, np.float32))  # an untrained model's mel may be anything
    assert np.isfinite(wild).all() and np.abs(wild).max() <= 1.0


def test_text_is_spelled_out_and_kept_in_the_vocabulary():
    assert model_text("Dr. Smith paid $3.50 (cash); “thanks”!") == \
        "doctor smith paid three dollars and fifty cents cash, thanks!"
    assert model_text("¿Qué tal, Zoë?", "es") == "¿qué tal, zoe?"
    assert all(c in CHAR_ID for c in model_text("In 1990, 42% of #3 & co. — naïve…"))
    assert encode_text("Hi!").tolist() == [CHAR_ID["h"], CHAR_ID["i"], CHAR_ID["!"]]


def tones(seconds_each: float, frequencies=(300, 1400, 700, 2600, 450, 1900, 1000, 3300)) -> np.ndarray:
    """A 'sentence' of steady harmonic tones, one sound after another."""
    t = np.arange(int(seconds_each * 16000)) / 16000
    return np.concatenate([0.2 * (np.sin(2 * np.pi * f * t) + 0.5 * np.sin(4 * np.pi * f * t)) for f in frequencies]
                          ).astype(np.float32)


def test_dtw_warps_the_generated_frames_onto_a_slower_recording():
    from backend.models.tacotron import recording_path

    generated = log_mel(tones(0.25))  # the same sounds, each said for 0.25 s by the model and 0.375 s on record
    recording = tones(0.375)
    n = int(round(len(recording) / 200))
    path = recording_path(recording, generated, MelSpec(), n)
    assert len(path) == n and np.all(np.diff(path) >= 0) and path[0] == 0 and path[-1] == len(generated) - 1
    same_sound = path // 20 == np.arange(n) // 30  # 20 generated and 30 recorded frames a sound
    assert same_sound.mean() > 0.95


@pytest.fixture
def tiny_checkpoint(tmp_path, monkeypatch):
    """A small random Tacotron whose gate never fires, as MOUTHPIECE_TACOTRON."""
    stem = save_checkpoint(small_model(prenet_dropout=0.5, gate_bias=-30.0), tmp_path / "run")
    monkeypatch.setenv("MOUTHPIECE_TACOTRON", str(stem))
    return stem


def test_animate_text_writes_animation_and_speech_of_one_length(tiny_checkpoint, tmp_path, capsys):
    from backend.cli import main
    from backend.models.qlearn import CHANNELS

    out, speech = tmp_path / "out" / "a.json", tmp_path / "out" / "s.wav"
    assert main(["animate", "--text", "Bob made a map.", "--model", "tacotron", "--fps", "80", "--quiet",
                 "--speech-out", str(speech), "--out", str(out)]) == 0
    anim = load_json(out)
    assert anim.kind == "landmarks" and anim.channels == CHANNELS and anim.fps == 80.0
    assert np.isfinite(anim.values).all() and np.abs(anim.values).max() < 0.5  # metres
    info = soundfile.info(str(speech))
    assert info.samplerate == 16000 and abs(info.duration - anim.duration_s) <= 1 / 80
    assert anim.n_frames == 150 * 2  # "bob made a map." gets 15 x 0.25 s of steps at most, 2 frames a step
    assert anim.meta["model"] == "tacotron" and anim.meta["gate_stopped"] is False
    assert anim.meta["speech"] == str(speech) and anim.meta["checkpoint_step"] == 7
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "gate never ended the speech" in warnings[0]
    assert sorted(p.name for p in out.parent.iterdir()) == ["a.json", "s.wav"]


def test_animate_a_recording_keeps_its_timing(tiny_checkpoint, tmp_path, tone_wav):
    from backend.cli import main

    out = tmp_path / "a.json"
    assert main(["animate", "--audio", str(tone_wav), "--transcript", "Bob made a map.", "--model", "tacotron",
                 "--fps", "80", "--quiet", "--out", str(out)]) == 0
    anim = load_json(out)
    assert abs(anim.duration_s - 1.0) <= 1 / 80 and anim.meta["generated_duration_s"] == 3.75
    assert anim.meta["transcript"] == "Bob made a map."


@pytest.mark.parametrize("arguments,message", [
    (["--text", "  "], "mouthpiece: error: no text given to animate"),
    (["--text", "12"], None),
    (["--audio", "REC"], "the tacotron model speaks text: give the words of the recording"),
])
def test_bad_input_is_one_line(tiny_checkpoint, tmp_path, tone_wav, capsys, arguments, message):
    from backend.cli import main

    arguments = [str(tone_wav) if a == "REC" else a for a in arguments]
    out, speech = tmp_path / "a.json", tmp_path / "s.wav"
    speech_out = ["--speech-out", str(speech)] if "--text" in arguments else []
    code = main(["animate", *arguments, "--model", "tacotron", "--language", "es", "--quiet", *speech_out,
                 "--out", str(out)])
    err = capsys.readouterr().err.strip()
    if message is None:  # digits are spelled out in English only: in Spanish nothing is left to say
        message = "nothing in '12' can be spoken"
    assert code == 1 and len(err.splitlines()) == 1 and message in err
    assert not out.exists() and not speech.exists()


BLENDER_SCRIPT = """
import json, sys
import bpy
import blender_addon
from blender_addon import takes
from blender_addon.sound import sound_strips
blender_addon.register()
bpy.ops.wm.read_homefile(use_empty=True)
scene = bpy.context.scene
scene.render.fps = 24
bpy.ops.wm.save_as_mainfile(filepath=sys.argv[-1])
assert bpy.ops.mouthpiece.add_head() == {"FINISHED"}
scene.mouthpiece.model = "tacotron"
assert bpy.ops.mouthpiece.generate(text="Bob made a map.") == {"FINISHED"}
head = scene.mouthpiece.target
action = takes.active_action(head)
strips = sound_strips(scene)
print("RESULT", json.dumps({"torch": "torch" in sys.modules, "strips": len(strips),
                            "sound": bpy.path.abspath(strips[0].sound.filepath),
                            "frames": list(action.frame_range), "model": action.get("mouthpiece_model", "")}))
"""


def blender_command(which: str, script: Path, blend: Path) -> list[str]:
    """Blender 5 as a module, or Debian's Blender 3.4 (which runs the backend in a process of its own)."""
    if which == "bpy5":
        if not BPY5_PYTHON.is_file():
            pytest.skip("no .venv-bpy5 (bpy 5.0.1)")
        return [str(BPY5_PYTHON), str(script), str(blend)]
    if shutil.which("blender") is None:
        pytest.skip("no `blender` executable on PATH")
    return ["blender", "-b", "--factory-startup", "--python-exit-code", "1", "--python", str(script), "--", str(blend)]


@pytest.mark.parametrize("which", ["bpy5", "blender"])
def test_the_addon_speaks_typed_text_with_tacotron(tiny_checkpoint, tmp_path, which):
    """In a real Blender without torch: the take's keys and a sound strip holding the Griffin-Lim speech."""
    script = tmp_path / "generate.py"
    script.write_text(f"import sys\nsys.path.insert(0, {str(REPO)!r})\n" + BLENDER_SCRIPT)
    done = subprocess.run(blender_command(which, script, tmp_path / "scene.blend"), cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    result = json.loads(lines[0][len("RESULT "):])
    assert not result["torch"] and result["strips"] == 1 and result["model"] == "tacotron"
    assert done.stdout.count("Warning: the tacotron gate never ended the speech") == 1
    sound = Path(result["sound"])
    assert sound.is_file() and sound.suffix == ".wav" and sound.parent == tmp_path / "mouthpiece"
    duration = soundfile.info(str(sound)).duration
    first, last = result["frames"]
    assert first == 1 and abs((last - first) / 24 - duration) <= 1 / 24 + 1 / 80


def test_an_nvidia_timed_checkpoint_speaks_at_its_own_rate(tmp_path, monkeypatch):
    """NVIDIA's symbols and timing (22,050 Hz, hop 256, magnitude mel): speech and lips still last alike."""
    from backend.models.tacotron import load
    from backend.text.nvidia_symbols import NVIDIA_SYMBOLS

    model = small_model(symbols="nvidia", n_symbols=len(NVIDIA_SYMBOLS), sample_rate=22050, hop=256, n_fft=1024,
                        fmin=0.0, fmax=8000.0, mel_power=1.0, gate_bias=-30.0)
    monkeypatch.setenv("MOUTHPIECE_TACOTRON", str(save_checkpoint(model, tmp_path)))
    tacotron = load()
    assert tacotron.runtime().text_ids("Hi!").tolist() == [NVIDIA_SYMBOLS.index(c) for c in "hi!"]
    anim, audio = tacotron.speak("Hi there.", "en", lambda fraction, message: None, max_steps=20)
    assert anim.fps == pytest.approx(22050 / 256) and anim.n_frames == 40 and len(audio) == 40 * 256
    assert abs(len(audio) / 22050 - anim.duration_s) <= 1 / anim.fps
