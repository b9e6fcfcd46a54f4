"""Audio decoding: any soundtrack ffmpeg reads to mono float32 at the speech models' sample rate."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from .errors import InputError, ToolError

SAMPLE_RATE = 16000  # every speech model and the aligner work at 16 kHz
# The extensions offered in file pickers; any file ffmpeg decodes is accepted whatever its name.
SUPPORTED_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".mp4", ".mov",
                      ".m4v", ".mkv", ".webm", ".aif", ".aiff", ".wma")
SILENCE_DBFS = -50.0  # a clip whose loudest 50 ms stays under this holds no speech
PEAK_CEILING = 0.99
# Decoded audio shorter than its header's duration by more than this (seconds, fraction) is truncated.
TRUNCATION_TOLERANCE = (0.1, 0.01)
READ_CHUNK_BYTES = 1 << 20

# ffmpeg's own words for a failure -> what to tell the user; the first match wins.
FFMPEG_FAILURES = (
    ("matches no streams", "holds no audio stream"),
    ("does not contain any stream", "holds no audio stream"),
    ("moov atom not found", "is truncated or incomplete (its index, the moov atom, is missing)"),
    ("End of file", "is truncated (it ends before any audio)"),
    ("Invalid data found when processing input", "is corrupt or not audio (ffmpeg cannot decode it)"),
)


def load_audio(path: str | os.PathLike, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Decode `path` to mono float32 at `sample_rate`, DC removed, peaks kept under full scale."""
    return _make_safe_in_place(decode_soundtrack(path, sample_rate))


def decode_soundtrack(path: str | os.PathLike, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Decode the first audio stream of any file ffmpeg reads to mono float32 samples at `sample_rate`.

    wav (16/24/32-bit, float), flac, ogg, opus, mp3, m4a, aac and the soundtracks of mp4, mov, mkv and
    webm all work. What libsndfile reads whole is decoded in this process (so Blender needs no ffmpeg for
    those); anything else, ffmpeg decodes as a subprocess (an argument list) that downmixes, resamples and
    pipes raw PCM, so nothing is written to disk and the peak memory is about 1.3 times the float32 output (64 kB per
    second of audio), whatever the source's rate and channels. Raises InputError naming the file and the
    problem (missing, a folder, empty, not audio, no audio stream, truncated, NaN or infinite samples), and
    ToolError without ffmpeg.
    """
    path = Path(path)
    check_audio_file(path)
    samples = _read_with_libsndfile(path, sample_rate)
    if samples is None:
        samples, log = _run_ffmpeg(path, sample_rate)
        if samples.size == 0:
            raise InputError(path, _failure(log) or "holds no audio samples")
        _check_complete(path, samples.size / sample_rate, log)
    invalid = samples.size - int(np.count_nonzero(np.isfinite(samples)))
    if invalid:
        raise InputError(path, f"holds {invalid} invalid samples (NaN or infinity); re-export the audio")
    return samples


def _read_with_libsndfile(path: Path, sample_rate: int) -> np.ndarray | None:
    """The in-process decoder for what libsndfile reads whole (wav, flac, ogg, mp3...): no ffmpeg needed, as
    in Blender's Python. None when it cannot open the file or reads less than the header declares (ffmpeg
    then decodes it, or says what is wrong)."""
    import soundfile

    try:
        with soundfile.SoundFile(path) as handle:
            declared, rate = handle.frames, handle.samplerate
            samples = handle.read(dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError):
        return None
    if samples.shape[0] == 0 or samples.shape[0] < declared:
        return None
    _check_complete(path, samples.shape[0] / rate, log="")
    mono = samples.mean(axis=1) if samples.shape[1] > 1 else samples[:, 0]
    return resample(mono, rate, sample_rate) if rate != sample_rate else np.ascontiguousarray(mono)


def find_ffmpeg(name: str = "ffmpeg", needed_for: str = "decoding this audio") -> str:
    """The ffmpeg (or ffprobe) executable on PATH; ToolError saying what it is needed for when it is missing."""
    found = shutil.which(name)
    if not found:
        raise ToolError(f"{name} is not installed; it is needed for {needed_for} (apt install ffmpeg)")
    return found


def check_audio_file(path: Path) -> None:
    """Raise InputError unless `path` is a readable, non-empty regular file."""
    if not path.exists():
        raise InputError(path, "audio file not found")
    if path.is_dir():
        raise InputError(path, "is a folder, not an audio file")
    if not path.is_file():
        raise InputError(path, "is not a regular file")
    if path.stat().st_size == 0:
        raise InputError(path, "audio file is empty (0 bytes)")
    try:
        with open(path, "rb"):
            pass
    except OSError as err:
        raise InputError(path, f"cannot be read ({err.strerror})") from None


def _run_ffmpeg(path: Path, sample_rate: int) -> tuple[np.ndarray, str]:
    """Run ffmpeg on `path`; its PCM output as float32 and its log (stderr) as text."""
    command = [find_ffmpeg(), "-nostdin", "-hide_banner", "-nostats", "-i", f"file:{path.resolve()}",
               "-map", "0:a:0", "-ac", "1", "-ar", str(sample_rate), "-f", "f32le", "pipe:1"]
    # The log goes to an anonymous file (no name on disk): a pipe could fill up and stall ffmpeg.
    with tempfile.TemporaryFile() as log_file:
        with subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log_file) as process:
            pcm = _read_all(process.stdout)
        log_file.seek(0)
        log = log_file.read().decode("utf-8", errors="replace")
    samples = np.frombuffer(pcm, dtype=np.float32, count=len(pcm) // 4)  # shares the buffer, writable
    if process.returncode != 0 and samples.size == 0:
        raise InputError(path, _failure(log) or f"cannot decode audio ({_last_line(log)})")
    return samples, log


def _read_all(stream) -> bytearray:
    """All of `stream` in one buffer grown in place (a large realloc remaps pages; nothing is copied twice)."""
    data = bytearray()
    while chunk := stream.read(READ_CHUNK_BYTES):
        data += chunk
    return data


def _failure(log: str) -> str | None:
    for marker, problem in FFMPEG_FAILURES:
        if marker in log:
            return problem
    return None


def _last_line(log: str) -> str:
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    return lines[-1][-200:] if lines else "ffmpeg gave no reason"


def _check_complete(path: Path, decoded_s: float, log: str) -> None:
    """Raise if the file declares more audio than it holds (a cut-off copy or recording)."""
    declared_s = _wav_declared_duration(path)  # ffmpeg sizes a WAV by its bytes, not by its header
    if declared_s is None and "Estimating duration from bitrate" not in log:
        declared_s = _declared_duration(log)
    seconds, fraction = TRUNCATION_TOLERANCE
    if declared_s is not None and decoded_s < declared_s - max(seconds, fraction * declared_s):
        raise InputError(path, f"is truncated: it holds {decoded_s:.2f} s of the {declared_s:.2f} s its header "
                               "declares")


def _declared_duration(log: str) -> float | None:
    found = re.search(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)", log)
    if not found:
        return None
    hours, minutes, seconds = found.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _wav_declared_duration(path: Path) -> float | None:
    """The duration a RIFF WAV's header declares, or None where it declares none (streamed, RF64, other)."""
    with open(path, "rb") as handle:
        if handle.read(12)[8:12] != b"WAVE":
            return None
        byte_rate = None
        while len(header := handle.read(8)) == 8:
            chunk, size = header[:4], int.from_bytes(header[4:], "little")
            if chunk == b"fmt ":
                byte_rate = int.from_bytes(handle.read(16)[8:12], "little")
                handle.seek(size - 16 + (size & 1), os.SEEK_CUR)
            elif chunk == b"data":
                streamed = size in (0, 0xFFFFFFFF)
                return None if streamed or not byte_rate else size / byte_rate
            else:
                handle.seek(size + (size & 1), os.SEEK_CUR)
    return None


def resample(samples: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    import soxr

    return soxr.resample(samples.astype(np.float32), source_rate, target_rate, quality="HQ").astype(np.float32)


def make_safe(samples: np.ndarray) -> np.ndarray:
    """Remove DC and scale down only if peaks exceed the ceiling; never amplify. NaN and infinity become 0."""
    out = np.array(samples, dtype=np.float32)
    out[~np.isfinite(out)] = 0.0
    return _make_safe_in_place(out)


def _make_safe_in_place(out: np.ndarray) -> np.ndarray:
    """make_safe for finite float32 samples, with no temporary the size of the input."""
    if out.size == 0:
        return out
    out -= np.float32(out.mean(dtype=np.float64))
    peak = max(float(out.max()), -float(out.min()))
    if peak > PEAK_CEILING:
        out *= np.float32(PEAK_CEILING / peak)
    return out


def loudest_dbfs(samples: np.ndarray, sample_rate: int, window_s: float = 0.05) -> float:
    """RMS level of the loudest window, in dBFS."""
    hop = max(1, int(window_s * sample_rate))
    usable = samples[: len(samples) // hop * hop]
    if usable.size == 0:
        usable = np.pad(samples, (0, hop - len(samples)))
    rms = np.sqrt(np.mean(usable.reshape(-1, hop).astype(np.float64) ** 2, axis=1))
    return float(20 * np.log10(max(rms.max(), 1e-10)))


def require_speech(samples: np.ndarray, sample_rate: int, source: str | os.PathLike | None) -> None:
    """Raise if the clip is silence only: nothing to animate."""
    level = loudest_dbfs(samples, sample_rate)
    if level < SILENCE_DBFS:
        raise InputError(source, f"audio is silent (loudest passage {level:.0f} dBFS), no speech to animate")


def add_noise_floor(samples: np.ndarray, dbfs: float = -60.0, seed: int = 0) -> np.ndarray:
    """Add faint white noise: digital silence breaks pocketsphinx's feature normalisation."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(samples.shape).astype(np.float32) * np.float32(10 ** (dbfs / 20))
    return samples + noise


def save_wav(path: str | os.PathLike, samples: np.ndarray, sample_rate: int, overwrite: bool = True) -> None:
    """Write 16-bit PCM WAV atomically."""
    import soundfile

    from .fileio import atomic_path

    with atomic_path(path, overwrite) as tmp:
        soundfile.write(tmp, samples, sample_rate, subtype="PCM_16", format="WAV")
