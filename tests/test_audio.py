import numpy as np
import pytest
import soundfile

from backend.audio import SAMPLE_RATE, add_noise_floor, load_audio, require_speech
from backend.errors import InputError


@pytest.mark.parametrize("fmt,suffix", [("WAV", ".wav"), ("FLAC", ".flac"), ("OGG", ".ogg"), ("MP3", ".mp3")])
def test_decodes_every_format_to_mono_16k(tmp_path, fmt, suffix):
    rate = 22050
    t = np.arange(rate) / rate
    stereo = np.stack([0.3 * np.sin(2 * np.pi * 440 * t)] * 2, axis=1).astype(np.float32)
    path = tmp_path / f"clip{suffix}"
    soundfile.write(path, stereo, rate, format=fmt)
    audio = load_audio(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(len(audio) - SAMPLE_RATE) < 0.02 * SAMPLE_RATE  # mp3 pads a little
    assert 0.2 < np.abs(audio).max() <= 0.99
    spectrum = np.abs(np.fft.rfft(audio))
    assert abs(np.argmax(spectrum) * SAMPLE_RATE / len(audio) - 440) < 5


def test_loud_input_is_scaled_under_full_scale(tmp_path):
    path = tmp_path / "loud.wav"
    soundfile.write(path, np.full(8000, 0.5) + np.sin(np.arange(8000)) * 1.0, 16000, subtype="FLOAT")
    audio = load_audio(path)
    assert np.abs(audio).max() <= 0.99 + 1e-6
    assert abs(audio.mean()) < 1e-3


@pytest.mark.parametrize("name,content,problem", [
    ("missing.wav", None, "not found"),
    ("empty.wav", b"", "empty"),
    ("corrupt.wav", b"RIFF\x00\x00garbage-not-audio" * 10, "corrupt or not audio"),
    ("notes.txt", b"hello", "corrupt or not audio"),
])
def test_bad_files_name_the_file_and_the_problem(tmp_path, name, content, problem):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError) as err:
        load_audio(path)
    assert str(path) in str(err.value) and problem in str(err.value)


def test_silence_is_rejected_when_speech_is_needed(tmp_path):
    silent = np.zeros(SAMPLE_RATE, dtype=np.float32)
    with pytest.raises(InputError, match="silent"):
        require_speech(silent, SAMPLE_RATE, "quiet.wav")
    with pytest.raises(InputError, match="silent"):
        require_speech(add_noise_floor(silent), SAMPLE_RATE, "quiet.wav")
    require_speech(0.1 * np.sin(np.arange(SAMPLE_RATE, dtype=np.float32)), SAMPLE_RATE, "tone.wav")
