"""The bad-input catalogue for `mouthpiece animate`, one case per row: every row ends in a correct result
or one clear line on stderr naming the file and the problem, and the user's files are left as they were."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile

from backend.animation import load_json
from backend.cli import main
from backend.fileio import atomic_path
from backend.rig import FACEWAREHOUSE_46

from conftest import REPO

WORDS = "Bob made a map of the moon."

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg decodes the audio")


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-y", "-loglevel", "error", *args], check=True)


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> Path:
    """WORDS spoken by espeak-ng: a 22.05 kHz 16-bit WAV of about 1.4 s."""
    from backend.text import synthesize

    spoken = synthesize(WORDS)
    path = tmp_path_factory.mktemp("speech") / "speech.wav"
    soundfile.write(path, spoken.audio, spoken.sample_rate)
    return path


def run(args: list, capsys) -> tuple[int, list[str]]:
    """`mouthpiece animate ARGS --quiet` in this process: the exit code and the lines on stderr."""
    code = main(["animate", *map(str, args), "--quiet"])
    return code, capsys.readouterr().err.strip().splitlines()


def assert_one_line(code: int, lines: list[str], *expected: str) -> None:
    assert code != 0 and len(lines) == 1, lines
    assert lines[0].startswith("mouthpiece: error: ") and "Traceback" not in lines[0]
    for text in expected:
        assert text in lines[0], lines


def assert_animation(path: Path, duration_s: float | None = None) -> None:
    anim = load_json(path)
    assert anim.channels == list(FACEWAREHOUSE_46) and anim.n_frames > 0
    assert np.isfinite(anim.values).all() and 0 <= anim.values.min() and anim.values.max() <= 1
    if duration_s is not None:
        assert abs(anim.duration_s - duration_s) < 0.15  # raw AAC keeps its encoder delay and padding


def files_in(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


# ---- audio ---------------------------------------------------------------------------------------------------
# Each maker writes one input into `folder` from the spoken WORDS and returns its path.

def converted(name: str, *options: str):
    def make(folder: Path, speech: Path) -> Path:
        ffmpeg("-i", str(speech), *options, str(folder / name))
        return folder / name
    return make


def written(name: str, samples, rate: int = 16000, subtype: str | None = None):
    def make(folder: Path, speech: Path) -> Path:
        soundfile.write(folder / name, samples() if callable(samples) else samples, rate, subtype=subtype)
        return folder / name
    return make


def copied(name: str):
    def make(folder: Path, speech: Path) -> Path:
        shutil.copy(speech, folder / name)
        return folder / name
    return make


def raw(name: str, content: bytes):
    def make(folder: Path, speech: Path) -> Path:
        (folder / name).write_bytes(content)
        return folder / name
    return make


def head(name: str, source, fraction: float):
    """The first `fraction` of the bytes of another input: a cut-off copy."""
    def make(folder: Path, speech: Path) -> Path:
        whole = source(folder, speech).read_bytes()
        (folder / name).write_bytes(whole[: int(len(whole) * fraction)])
        return folder / name
    return make


def folder_named(name: str):
    def make(folder: Path, speech: Path) -> Path:
        (folder / name).mkdir()
        return folder / name
    return make


def fifty_ms(folder: Path, speech: Path) -> Path:
    samples, rate = soundfile.read(speech)
    start = int(0.3 * rate)
    soundfile.write(folder / "short.wav", samples[start:start + rate // 20], rate)
    return folder / "short.wav"


def nan_float_wav(folder: Path, speech: Path) -> Path:
    samples, rate = soundfile.read(speech, dtype="float32")
    samples[1000:1004] = np.nan
    samples[2000] = np.inf
    soundfile.write(folder / "nan.wav", samples, rate, subtype="FLOAT")
    return folder / "nan.wav"


def video_only(folder: Path, speech: Path) -> Path:
    ffmpeg("-f", "lavfi", "-i", "testsrc=duration=1:size=64x64", str(folder / "picture.mp4"))
    return folder / "picture.mp4"


def video_with_sound(folder: Path, speech: Path) -> Path:
    ffmpeg("-f", "lavfi", "-i", "testsrc=duration=1.4:size=64x64", "-i", str(speech), "-c:a", "aac", "-shortest",
           str(folder / "take.mov"))
    return folder / "take.mov"


def noise() -> np.ndarray:
    return (0.3 * np.random.default_rng(0).standard_normal(32000)).astype(np.float32)


# (row, maker, transcript, the problem named on stderr or None for a correct result)
AUDIO_ROWS = [
    ("missing", lambda folder, speech: folder / "nowhere.wav", WORDS, "audio file not found"),
    ("empty", raw("empty.wav", b""), WORDS, "empty (0 bytes)"),
    ("not audio", raw("notes.wav", b"these are not the samples you are looking for\n" * 20), WORDS,
     "corrupt or not audio"),
    ("text file", raw("notes.txt", b"hello\n"), WORDS, "corrupt or not audio"),
    ("truncated wav", head("cut.wav", copied("whole.wav"), 0.5), WORDS, "is truncated"),
    ("truncated flac", head("cut.flac", converted("whole.flac"), 0.4), WORDS, "is truncated"),
    ("truncated m4a", head("cut.m4a", converted("whole.m4a"), 0.5), WORDS, "is truncated"),
    ("a folder", folder_named("takes.wav"), WORDS, "is a folder"),
    ("video without sound", video_only, WORDS, "holds no audio stream"),
    ("float wav with NaN", nan_float_wav, WORDS, "invalid samples (NaN or infinity)"),
    ("pure silence", written("silence.wav", np.zeros(32000, np.float32)), WORDS, "audio is silent"),
    ("pure silence, no transcript", written("silence.wav", np.zeros(32000, np.float32)), None, "audio is silent"),
    ("noise", written("noise.wav", noise), None, None),
    ("speech", copied("speech.wav"), WORDS, None),
    ("speech, no transcript", copied("speech.wav"), None, None),
    ("8 kHz", converted("8k.wav", "-ar", "8000"), WORDS, None),
    ("48 kHz stereo", converted("48k.wav", "-ar", "48000", "-ac", "2"), WORDS, None),
    ("24-bit wav", converted("24bit.wav", "-c:a", "pcm_s24le"), WORDS, None),
    ("float wav", converted("float.wav", "-c:a", "pcm_f32le"), WORDS, None),
    ("mp3", converted("line.mp3"), WORDS, None),
    ("ogg", converted("line.ogg"), WORDS, None),
    ("flac", converted("line.flac"), WORDS, None),
    ("m4a", converted("line.m4a"), WORDS, None),
    ("aac", converted("line.aac"), WORDS, None),
    ("opus", converted("line.opus"), WORDS, None),
    ("webm", converted("line.webm", "-c:a", "libopus"), WORDS, None),
    ("mov with picture", video_with_sound, WORDS, None),
    ("50 ms clip", fifty_ms, None, None),
    ("space in the path", copied("my take 01.wav"), WORDS, None),
    ("quotes in the path", copied("""Bob's "best" take.wav"""), WORDS, None),
    ("unicode in the path", copied("línea_ñandú_台词.wav"), WORDS, None),
    ("colon in the path", copied("take:01.wav"), WORDS, None),
]


@pytest.mark.parametrize("row,make,transcript,problem", AUDIO_ROWS, ids=[r[0] for r in AUDIO_ROWS])
def test_audio_row(tmp_path, speech, capsys, row, make, transcript, problem):
    audio = make(tmp_path, speech)
    out = tmp_path / "out" / "line.json"
    before = files_in(tmp_path)
    code, lines = run(["--audio", audio, *(["--transcript", transcript] if transcript else []), "--out", out],
                      capsys)
    if problem is None:
        assert code == 0, lines
        expected = soundfile.info(speech).duration if transcript else None
        assert_animation(out, expected if row not in ("mov with picture",) else None)
    else:
        assert_one_line(code, lines, str(audio), problem)
        assert not out.exists()
    assert files_in(tmp_path) == before  # the input is untouched and nothing was left beside it


def test_noise_with_a_transcript_is_refused(tmp_path, speech, capsys):
    audio = written("noise.wav", noise)(tmp_path, speech)
    code, lines = run(["--audio", audio, "--transcript", WORDS, "--out", tmp_path / "o.json"], capsys)
    assert_one_line(code, lines, "does not fit")


def test_leading_dash_in_the_audio_path(tmp_path, speech, capsys, monkeypatch):
    shutil.copy(speech, tmp_path / "-take1.wav")
    monkeypatch.chdir(tmp_path)
    code, lines = run(["--audio=-take1.wav", "--transcript", WORDS, "--out=-take1.json"], capsys)
    assert code == 0, lines
    assert_animation(tmp_path / "-take1.json", soundfile.info(speech).duration)


# ---- text and transcripts ------------------------------------------------------------------------------------

TEXT_ROWS = [
    ("empty", [""], "no text"),
    ("blank", ["  \n\t "], "no text"),
    ("punctuation only", ["?!... ,,; --"], "produced no speech"),
    ("control characters only", ["\x00\x01\x1b\x7f"], "no text"),
    ("unknown language", ["hello", "--language", "xx-nowhere"], "unknown espeak-ng voice or language 'xx-nowhere'"),
    ("unknown voice", ["hello", "--voice", "nobody"], "unknown espeak-ng voice or language 'nobody'"),
    ("emoji only", ["😀🎉👍"], None),
    ("emoji in words", ["Bob 😀 made a map."], None),
    ("right-to-left", ["مرحبا بالعالم", "--language", "ar"], None),
    ("CJK", ["你好，世界", "--language", "cmn"], None),
    ("CJK with the English voice", ["你好，世界"], None),
]


@pytest.mark.parametrize("row,args,problem", TEXT_ROWS, ids=[r[0] for r in TEXT_ROWS])
def test_text_row(tmp_path, capsys, row, args, problem):
    out = tmp_path / "line.json"
    code, lines = run(["--text", *args, "--out", out], capsys)
    if problem is None:
        assert code == 0, lines
        assert_animation(out)
    else:
        assert_one_line(code, lines, problem)
        assert list(tmp_path.iterdir()) == []


def test_control_characters_do_not_cut_the_text_short(tmp_path, capsys):
    clean, dirty = tmp_path / "clean.json", tmp_path / "dirty.json"
    assert run(["--text", "Bob made a map.", "--out", clean], capsys)[0] == 0
    assert run(["--text", "Bob\x00 made\x07 a\x1b map.\r\n", "--out", dirty], capsys)[0] == 0
    assert load_json(dirty).duration_s > 0.8 * load_json(clean).duration_s  # a NUL used to end the text


def test_twenty_thousand_characters(tmp_path, capsys):
    text = (WORDS + " ") * (20000 // (len(WORDS) + 1))
    out = tmp_path / "long.json"
    code, lines = run(["--text", text[:20000], "--out", out], capsys)
    assert code == 0, lines
    assert load_json(out).duration_s > 600


TRANSCRIPT_ROWS = [
    ("punctuation only", ["--transcript", "?!"], "no words"),
    ("missing file", ["--transcript-file", "{tmp}/none.txt"], "none.txt: transcript file not found"),
    ("a folder", ["--transcript-file", "{tmp}"], "is a folder, not a transcript file"),
    ("not UTF-8", ["--transcript-file", "{tmp}/latin1.txt"], "latin1.txt: transcript is not UTF-8 text"),
    ("emoji and a NUL", ["--transcript", "Bob 😀 made a\x00 map of the moon."], None),
]


@pytest.mark.parametrize("row,args,problem", TRANSCRIPT_ROWS, ids=[r[0] for r in TRANSCRIPT_ROWS])
def test_transcript_row(tmp_path, speech, capsys, row, args, problem):
    (tmp_path / "latin1.txt").write_bytes("Bob hizo un mapa del año".encode("latin-1"))
    out = tmp_path / "line.json"
    code, lines = run(["--audio", speech, *(a.format(tmp=tmp_path) for a in args), "--out", out], capsys)
    if problem is None:
        assert code == 0, lines
        assert_animation(out, soundfile.info(speech).duration)
    else:
        assert_one_line(code, lines, problem)
        assert not out.exists()


# ---- option ranges -------------------------------------------------------------------------------------------

OPTION_ROWS = [(option, value) for option, values in [
    ("--fps", ["0", "-5", "nan", "inf", "1e7"]),
    ("--strength", ["nan", "inf", "-1", "1e7"]),
    ("--smoothing", ["nan", "-1", "1e6"]),
    ("--offset", ["nan", "inf", "-inf", "1e5", "1e9"]),
    ("--seed", ["-1"]),
] for value in values]


@pytest.mark.parametrize("option,value", OPTION_ROWS, ids=[f"{o}={v}" for o, v in OPTION_ROWS])
def test_out_of_range_option(tmp_path, capsys, option, value):
    out = tmp_path / "line.json"
    code, lines = run(["--text", "Bob made a map.", f"{option}={value}", "--out", out], capsys)
    assert_one_line(code, lines, f"{option[2:]} must be")
    assert list(tmp_path.iterdir()) == []


def test_options_in_range_apply(tmp_path, capsys):
    out = tmp_path / "line.json"
    code, lines = run(["--text", "Bob made a map.", "--fps", "240", "--strength", "1.5", "--smoothing", "0.05",
                       "--offset", "-0.2", "--seed", "7", "--out", out], capsys)
    assert code == 0, lines
    assert load_json(out).fps == 240


# ---- outputs -------------------------------------------------------------------------------------------------

def test_missing_parent_folders_are_created(tmp_path, capsys):
    out = tmp_path / "new" / "deeper" / "line.csv"
    code, lines = run(["--text", "Bob made a map.", "--out", out], capsys)
    assert code == 0, lines
    assert out.read_text().startswith("frame,time_s,")


OUTPUT_ROWS = [
    ("empty --out", [], "", "--out is empty"),
    ("unknown extension", [], "line.txt", "line.txt: unknown output format '.txt'"),
    ("no extension", [], "line", "unknown output format '(no extension)'"),
    ("a folder", [], "existing_folder", "existing_folder: is a folder"),
    ("parent is a file", [], "existing.json/line.json", "existing.json is a file, not a folder"),
    ("under /proc", [], "/proc/mouthpiece/line.json", "/proc does not accept new files"),
    ("existing file", [], "existing.json", "existing.json: already exists; pass --overwrite"),
    ("existing speech", ["--speech-out", "existing.wav"], "new.json", "existing.wav: already exists"),
    ("speech-out is --out", ["--speech-out", "new.json"], "new.json", "name the same file"),
    ("speech-out is --out, spelt apart", ["--speech-out", "./sub/../new.json", "--overwrite"], "new.json",
     "name the same file"),
    ("speech-out is the existing --out", ["--speech-out", "existing.json", "--overwrite"], "existing.json",
     "name the same file"),
    ("speech-out not a wav", ["--speech-out", "speech.mp3"], "new.json", "speech.mp3: unknown output format"),
    ("empty speech-out", ["--speech-out", ""], "new.json", "--speech-out is empty"),
]


@pytest.mark.parametrize("row,extra,out,problem", OUTPUT_ROWS, ids=[r[0] for r in OUTPUT_ROWS])
def test_output_row(tmp_path, capsys, monkeypatch, row, extra, out, problem):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "existing_folder").mkdir()
    (tmp_path / "sub").mkdir()
    (tmp_path / "existing.json").write_text('{"the user": "keeps this"}')
    (tmp_path / "existing.wav").write_bytes(b"RIFF the user's recording")
    before = files_in(tmp_path)
    code, lines = run(["--text", "Bob made a map.", *extra, "--out", out], capsys)
    assert_one_line(code, lines, problem)
    assert files_in(tmp_path) == before  # byte-identical, and no temporary file left behind


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into any folder")
def test_unwritable_folder(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        code, lines = run(["--text", "Bob made a map.", "--out", locked / "line.json"], capsys)
        assert_one_line(code, lines, f"{locked}/line.json: cannot be written", "does not accept new files")
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)


def test_overwrite_replaces_the_file(tmp_path, capsys):
    out = tmp_path / "line.json"
    out.write_text("old")
    code, lines = run(["--text", "Bob made a map.", "--out", out, "--overwrite"], capsys)
    assert code == 0, lines
    assert json.loads(out.read_text())["format"] == "mouthpiece.animation"


def test_racing_writers_of_one_new_file(tmp_path):
    """Writers that all find the file absent, then publish at once: exactly one wins, none leaves a temp."""
    target, writers = tmp_path / "line.json", 4
    barrier, outcomes = threading.Barrier(writers), {}

    def write(name: str) -> None:
        try:
            with atomic_path(target, overwrite=False) as tmp:
                tmp.write_text(name)
                barrier.wait(timeout=30)
            outcomes[name] = "won"
        except FileExistsError:
            outcomes[name] = "lost"

    threads = [threading.Thread(target=write, args=(f"writer {i}",)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [name for name, outcome in outcomes.items() if outcome == "won"]
    assert len(winners) == 1 and len(outcomes) == writers
    assert target.read_text() == winners[0]
    assert [p.name for p in tmp_path.iterdir()] == ["line.json"]


def test_four_processes_writing_one_new_out(tmp_path):
    out = tmp_path / "line.json"
    command = [sys.executable, "-m", "backend.cli", "animate", "--text", "Bob made a map.", "--out", str(out),
               "--quiet"]
    processes = [subprocess.Popen(command, cwd=REPO, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    results = [(p.wait(timeout=300), p.stderr.read().strip().splitlines()) for p in processes]
    for process in processes:
        process.stderr.close()
    assert sorted(code for code, _ in results) == [0, 1, 1, 1]
    for code, lines in results:
        if code:
            assert len(lines) == 1 and lines[0].endswith("line.json: already exists; pass --overwrite to replace it")
    assert_animation(out)
    assert [p.name for p in tmp_path.iterdir()] == ["line.json"]
