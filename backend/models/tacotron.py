"""Tacotron lips (Han, Zhao & Lam): typed text -> speech and 20 lip-landmark offsets in one pass.

The model's mel decoder and landmark decoder step together, so the Griffin-Lim speech of its mel and the
lips are in sync by construction. The output is a landmark animation at the model's 80 fps (`lip00_x` ...
`lip19_z`, offsets in metres from the neutral lips), solved onto any head's shape keys that carries the
`mouthpiece_landmarks` property. Given a recording of the same line (audio with its transcript), the
generated mel is warped onto the recording's by DTW and the lips follow, so they keep the recording's
timing. Inference is the numpy runtime (backend/runtime/tacotron.py).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..animation import Animation
from ..audio import load_audio, require_speech, save_wav
from ..errors import InputError
from ..features import frame_count
from . import ModelInfo
from .qlearn import CHANNELS
from .shipped import ShippedCheckpoint, ShippedModel

SHIPPED = ShippedCheckpoint(
    ModelInfo(name="tacotron", kind="landmarks", inputs=("text", "audio"),
              description="Tacotron lips (Han et al.): characters -> Tacotron 2 -> speech (Griffin-Lim) and 20 lip "
                          "landmarks at 80 fps; audio needs its transcript, numpy runtime"),
    folder="tacotron", env="MOUTHPIECE_TACOTRON", train_command="mouthpiece-train tacotron")
MM_PER_METRE = 1000.0
SECONDS_PER_CHARACTER = 0.25  # the longest speech a text may give: 4 times slower than a slow talker
MIN_SECONDS = 2.0
CEPSTRA = 13  # DTW features: mel cepstra without c0, so loudness and voice matter less than the sounds


def _load_runtime(stem: Path):
    from ..runtime.tacotron import TacotronRuntime

    return TacotronRuntime.from_checkpoint(stem)


class TacotronModel(ShippedModel):
    load_runtime = staticmethod(_load_runtime)

    def describe(self, record: dict) -> str:
        model = record["config"].get("model", {})
        return f"{model.get('stage', '?')} stage, {model.get('frames_per_step', '?')} frames a step"

    def generate(self, text: str, language: str, progress, max_steps: int | None = None) -> dict:
        """The runtime's output for `text` (mel, lips, stopped), at most `max_steps` decoder steps (by default
        the checkpoint's limit, or less for a short text: an undertrained gate must not run on for a minute)."""
        from ..text.characters import model_text

        characters = model_text(text or "", language)
        if not characters:
            raise InputError(None, "no text given to animate" if not (text or "").strip()
                             else f"nothing in {text!r} can be spoken (no letters)")
        runtime = self.runtime()
        progress(0.1, f"running {self.info.name}")
        return runtime.infer(runtime.text_ids(characters), max_steps or step_limit(len(characters), runtime.spec))

    def speak(self, text: str, language: str, progress, max_steps: int | None = None) -> tuple[Animation, np.ndarray]:
        """(the lips at the model's fps, the Griffin-Lim speech at its sample rate): they last equally long."""
        from ..runtime.griffin_lim import mel_to_audio

        result = self.generate(text, language, progress, max_steps)
        spec = self.runtime().spec
        progress(0.5, "Griffin-Lim speech")
        audio = mel_to_audio(result["mel"], spec.mel)
        anim = self._animation(result["lips"], result, "text", len(audio) / spec.mel.sample_rate)
        anim.meta.update(text=text, language=language)
        return anim, audio

    def animate_text(self, text, options, speech_out, progress) -> Animation:
        anim, audio = self.speak(text, options.language, progress)
        if speech_out:
            save_wav(speech_out, audio, self.runtime().spec.mel.sample_rate)
            anim.meta["speech"] = str(speech_out)
        progress(1.0, "done")
        return anim

    def animate_audio(self, path, options, progress) -> Animation:
        if not (options.transcript and options.transcript.strip()):
            raise InputError(path, "the tacotron model speaks text: give the words of the recording "
                                   "(--transcript), or animate --text")
        spec = self.runtime().spec
        progress(0.0, "decoding audio")
        audio = load_audio(path, spec.mel.sample_rate)
        require_speech(audio, spec.mel.sample_rate, path)
        result = self.generate(options.transcript, options.language, progress)
        progress(0.7, "aligning to the recording")
        n_frames = frame_count(len(audio), spec.mel.sample_rate, spec.fps)
        matched = recording_path(audio, result["mel"], spec.mel, n_frames)
        anim = self._animation(result["lips"][matched], result, str(path), len(audio) / spec.mel.sample_rate)
        anim.meta.update(transcript=options.transcript, language=options.language,
                         generated_duration_s=round(len(result["mel"]) / spec.fps, 3))
        progress(1.0, "done")
        return anim

    def _animation(self, lips_mm: np.ndarray, result: dict, source: str, duration_s: float) -> Animation:
        runtime = self.runtime()
        anim = Animation(fps=runtime.spec.fps, channels=CHANNELS, values=lips_mm / MM_PER_METRE, kind="landmarks",
                         meta={"model": self.info.name, "source": source, "duration_s": round(duration_s, 3),
                               "landmark_space": "offsets", "gate_stopped": bool(result["stopped"]),
                               "checkpoint_step": runtime.record.get("step")})
        if not result["stopped"]:
            anim.meta["warning"] = (f"the {self.info.name} gate never ended the speech: it was cut at "
                                    f"{len(result['mel']) / runtime.spec.fps:.1f} s (an undertrained checkpoint?)")
        return anim


def step_limit(n_characters: int, spec) -> int:
    """Decoder steps for SECONDS_PER_CHARACTER per character (MIN_SECONDS at least), within the checkpoint's
    own limit."""
    seconds = max(MIN_SECONDS, n_characters * SECONDS_PER_CHARACTER)
    return min(spec.max_decoder_steps, int(np.ceil(seconds * spec.fps / spec.frames_per_step)))


def dtw_features(log_mel: np.ndarray) -> np.ndarray:
    """Mean- and variance-normalised mel cepstra (c1 up) of (T, n_mels) log-mel frames."""
    from ..dtw_align import dct_matrix, normalised

    cepstra = log_mel @ dct_matrix(CEPSTRA + 1, log_mel.shape[1]).T
    return normalised(cepstra[:, 1:], np.ones(len(log_mel), bool))


def recording_path(audio: np.ndarray, generated_mel: np.ndarray, mel_spec, n_frames: int) -> np.ndarray:
    """For each of the recording's `n_frames` frames, the generated frame it matches (DTW on the mels)."""
    from ..dtw_align import DtwOptions, warp_path
    from ..runtime.griffin_lim import log_mel

    recording = log_mel(audio, mel_spec)[:n_frames]
    return warp_path(dtw_features(recording), dtw_features(generated_mel), DtwOptions())


def load() -> TacotronModel:
    return TacotronModel(SHIPPED)
