"""Real-speech import: each layout users have, labels from the corpus label function, resume, bad files."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile

from backend.rig import CHANNEL_INDEX
from backend.text import synthesize
from training.corpus.labels import load_labels
from training.corpus.manifest import read_manifest, read_splits
from training.speech.build import SpeechImportOptions, import_speech
from training.speech.labelling import clean_transcript
from training.speech.layouts import detect_layout, read_layout

LINE = "Bob made a map of the big pond."


def spoken(path: Path, text: str = LINE, voice: str = "en-us", rate: int = 16000) -> Path:
    """espeak-ng speech with a little noise under its digital silence, written at `rate`."""
    speech = synthesize(text, "en" if voice.startswith("en") else voice.split("-")[0], voice=voice)
    audio = speech.audio + np.random.default_rng(0).normal(0, 3e-4, speech.audio.shape).astype(np.float32)
    if rate != speech.sample_rate:
        from backend.audio import resample

        audio = resample(audio, speech.sample_rate, rate)
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, audio, rate)
    return path


def test_manifest_layout(tmp_path):
    spoken(tmp_path / "src" / "ann" / "a1.flac")
    (tmp_path / "manifest.tsv").write_text(
        "path\tsource\tspeaker\tlanguage\tseconds\ttranscript\tlicense\torigin\temotion\n"
        f"src/ann/a1.flac\tsrc\tann\ten\t2.0\t{LINE} \"quoted\"\tCC0-1.0\tx:y\t\n", "utf-8")
    assert detect_layout(tmp_path) == "manifest"
    [item] = read_layout(tmp_path)
    assert (item.id, item.speaker, item.language, item.license) == ("src-ann-a1", "ann", "en", "CC0-1.0")
    assert item.transcript == f'{LINE} "quoted"' and item.audio == tmp_path / "src/ann/a1.flac"


def test_ljspeech_layout(tmp_path):
    spoken(tmp_path / "wavs" / "LJ001-0001.wav", rate=22050)
    (tmp_path / "metadata.csv").write_text("LJ001-0001|Bob made 2 maps.|Bob made two maps.\n", "utf-8")
    [item] = read_layout(tmp_path)
    assert detect_layout(tmp_path) == "ljspeech"
    assert (item.speaker, item.transcript) == ("LJ", "Bob made two maps.")


def test_librispeech_layout(tmp_path):
    chapter = tmp_path / "19" / "198"
    spoken(chapter / "19-198-0001.flac")
    (chapter / "19-198.trans.txt").write_text("19-198-0001 BOB MADE A MAP OF THE BIG POND\n", "utf-8")
    [item] = read_layout(tmp_path)
    assert detect_layout(tmp_path) == "librispeech"
    assert (item.speaker, item.transcript, item.audio.name) == ("19", "bob made a map of the big pond",
                                                                 "19-198-0001.flac")


def test_commonvoice_layout(tmp_path):
    spoken(tmp_path / "clips" / "common_voice_es_1.wav")
    header = "client_id\tpath\tsentence\tup_votes\tdown_votes\tage\tgender\taccents\tlocale\n"
    row = "abcdef0123456789\tcommon_voice_es_1.wav\tHola, ¿qué tal?\t2\t0\t\t\t\tes\n"
    (tmp_path / "validated.tsv").write_text(header + row, "utf-8")
    (tmp_path / "train.tsv").write_text(header + row, "utf-8")  # listed twice, imported once
    assert detect_layout(tmp_path) == "commonvoice"
    [item] = read_layout(tmp_path)
    assert (item.speaker, item.language, item.transcript) == ("abcdef01", "es", "Hola, ¿qué tal?")


def test_folder_layout(tmp_path):
    spoken(tmp_path / "kim" / "one.wav")
    (tmp_path / "kim" / "one.txt").write_text(LINE + "\n", "utf-8")
    spoken(tmp_path / "kim" / "two.wav")
    items = read_layout(tmp_path)
    assert detect_layout(tmp_path) == "folder"
    assert [(i.id, i.speaker, i.transcript) for i in items] == [("folder-kim-one", "kim", LINE),
                                                                ("folder-kim-two", "kim", "")]


def test_spontaneous_markup_is_cleaned():
    assert clean_transcript("<hes-um> so <cutoff-wh> [laughter] what <unk> now") == "um so what now"


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """A folder of four speakers: transcribed 16 kHz FLAC, 22.05 kHz WAV, untranscribed speech, a broken file."""
    root = tmp_path_factory.mktemp("speech")
    for speaker, name in (("ann", "a"), ("bob", "b"), ("cyd", "c")):
        spoken(root / speaker / f"{name}.flac")
        (root / speaker / f"{name}.txt").write_text(LINE + "\n", "utf-8")
    spoken(root / "dee" / "d.wav", rate=22050)
    (root / "dee" / "d.txt").write_text(LINE + "\n", "utf-8")
    spoken(root / "eve" / "heard.flac", text="The man walked to the market in the morning.")
    (root / "eve" / "broken.wav").write_bytes(b"RIFF\x00\x00not audio at all")
    out = root.parent / (root.name + "-corpus")
    options = SpeechImportOptions(out=out, workers=1, progress=False, min_confidence=0.0)
    summary = import_speech(read_layout(root), options, str(root))
    return root, out, summary


def test_import_labels_every_good_recording_and_names_the_bad_one(imported):
    root, out, summary = imported
    records = {r["id"]: r for r in read_manifest(out, strict=True)}
    assert sorted(records) == ["folder-ann-a", "folder-bob-b", "folder-cyd-c", "folder-dee-d", "folder-eve-heard"]
    skipped = [json.loads(line) for line in (out / "skipped.jsonl").read_text("utf-8").splitlines()]
    assert [s["id"] for s in skipped] == ["folder-eve-broken"] and "broken.wav" in skipped[0]["audio"]
    assert summary["skipped_this_run"] == 1 and summary["utterances"] == 5
    heard = records["folder-eve-heard"]
    assert heard["transcript_source"] == "recognized" and 0.0 <= heard["confidence"] <= 1.0
    assert records["folder-ann-a"]["transcript_source"] == "given" and records["folder-ann-a"]["aligner"] == "pocketsphinx"


def test_imported_audio_is_referenced_or_decoded_once(imported):
    root, out, _ = imported
    records = {r["id"]: r for r in read_manifest(out)}
    assert records["folder-ann-a"]["audio"] == str((root / "ann" / "a.flac").resolve())
    copy = out / records["folder-dee-d"]["audio"]
    assert copy.parent == out / "audio" and soundfile.info(str(copy)).samplerate == 16000


def test_imported_labels_close_the_lips_on_bilabials(imported):
    _, out, _ = imported
    labels = load_labels(out / "labels" / "folder-ann-a.npz")
    phones = [str(p) for p in labels["phones"]]
    assert {"B", "M", "P"} & set(phones) and str(labels["phone_set"]) == "arpabet"
    weights, fps = labels["weights"], float(labels["fps"])
    assert weights.shape[1] == 46 and labels["landmarks3d"].shape[1:] == (68, 3)
    close = CHANNEL_INDEX["MouthClose"] if "MouthClose" in CHANNEL_INDEX else CHANNEL_INDEX["JawOpen"]
    start, end = labels["phone_times"][phones.index("M")]
    jaw = weights[:, CHANNEL_INDEX["JawOpen"]]
    during_m = jaw[int(start * fps):int(end * fps) + 1].min()
    assert during_m < 0.5 * jaw.max(), (close, during_m, jaw.max())


def test_splits_hold_speakers_out(imported):
    _, out, _ = imported
    splits = read_splits(out)
    assert sorted(v for vs in splits.values() for v in vs) == [f"folder:{s}" for s in ("ann", "bob", "cyd", "dee", "eve")]
    for record in read_manifest(out):
        assert record["voice"] in splits[record["split"]]


def test_a_second_run_resumes_without_relabelling(imported):
    root, out, _ = imported
    before = {p.name: p.stat().st_mtime_ns for p in (out / "labels").iterdir()}
    summary = import_speech(read_layout(root), SpeechImportOptions(out=out, workers=1, progress=False,
                                                                   min_confidence=0.0), str(root))
    assert summary["attempted"] == 1 and summary["utterances"] == 5  # only the broken file is tried again
    assert {p.name: p.stat().st_mtime_ns for p in (out / "labels").iterdir()} == before


def test_real_and_synthetic_utterances_mix_in_one_dataset(imported, tmp_path):
    from tiny_corpus import write_tiny_corpus
    from training.dataset import CorpusDataset

    _, out, _ = imported
    synthetic = write_tiny_corpus(tmp_path / "tiny")
    mixed = CorpusDataset([synthetic, out], None, "spectrogram", crop_s=1.0)
    voices = {r["voice"] for r in mixed.records}
    assert any(v.startswith("tone:") for v in voices) and any(v.startswith("folder:") for v in voices)
    item = mixed[len(mixed) - 1]
    assert item["x"].shape[1:] == (1, 128, 32) and item["y"].shape[1] == 46


def test_cli_names_a_missing_folder(tmp_path):
    result = subprocess.run([str(Path(__file__).resolve().parents[1] / ".venv/bin/mouthpiece-train"),
                             "import-speech", "--root", str(tmp_path / "nope"), "--out", str(tmp_path / "o")],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "nope: not a folder" in result.stderr
