"""The synthetic corpus: labels aligned with the audio, closed lips on P/B/M, disjoint splits by voice,
a killed build resumed to a consistent manifest, rendered frames, and the report."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

from backend.headmodel import inner_lip_gap
from training.corpus import manifest as mf
from training.corpus.build import BuildOptions, build, plan
from training.corpus.cli import main as corpus_main
from training.corpus.labels import label_frames
from training.corpus.voices import assign_splits, catalogue

REPO = Path(__file__).resolve().parents[1]
VOICES = ("espeak:en-us", "flite:slt", "espeak:es", "espeak:es-419+f2")  # two per language


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    assert corpus_main(["--out", str(root), "--minutes", "0.4", "--languages", "en,es",
                        "--voices", ",".join(VOICES), "--workers", "1", "--quiet"]) == 0
    return root


def records_of(root: Path) -> list[dict]:
    return [json.loads(line) for line in (root / mf.MANIFEST).read_text("utf-8").splitlines()]


def test_manifest_lists_every_file_with_the_contract_fields(corpus):
    records = records_of(corpus)
    assert len(records) >= 4
    assert {r["language"] for r in records} == {"en", "es"}
    assert {r["voice"] for r in records} == set(VOICES)
    for record in records:
        assert set(mf.RECORD_KEYS) <= set(record)
        assert record["sample_rate"] == 16000 and record["frames"] is None
        assert (corpus / record["audio"]).is_file() and (corpus / record["labels"]).is_file()
    config = json.loads((corpus / mf.CONFIG).read_text())
    assert config["seed"] == 0 and config["label_fps"] == 100.0 and config["languages"] == ["en", "es"]


def test_labels_align_with_audio_length(corpus):
    for record in records_of(corpus):
        audio, rate = soundfile.read(corpus / record["audio"])
        duration = len(audio) / rate
        assert rate == 16000 and duration == pytest.approx(record["duration_s"], abs=1e-3)
        with np.load(corpus / record["labels"]) as labels:
            frames = label_frames(duration)
            assert float(labels["fps"]) == 100.0
            assert labels["weights"].shape == (frames, 46) and labels["weights"].dtype == np.float32
            assert labels["weights"].min() >= 0 and labels["weights"].max() <= 1
            assert labels["landmarks3d"].shape == (frames, 68, 3)
            assert labels["landmarks2d"].shape == (frames, 68, 2)
            times = labels["phone_times"]
            assert times.shape == (len(labels["phones"]), 2)
            assert times[0, 0] == 0 and times[-1, 1] == pytest.approx(duration, abs=1e-4)
            assert np.all(times[1:, 0] == pytest.approx(times[:-1, 1], abs=1e-4))
            assert str(labels["phone_set"]) == ("arpabet" if record["language"] == "en" else "spanish")


def test_bilabials_close_the_lips_and_vowels_open_them(corpus):
    closed, opened = [], []
    for record in records_of(corpus):
        with np.load(corpus / record["labels"]) as labels:
            gap = inner_lip_gap(labels["landmarks3d"])
            for phone, (start, end) in zip(labels["phones"], labels["phone_times"]):
                centre = int(round((start + end) / 2 * 100))
                if phone in ("P", "B", "M"):
                    closed.append(gap[max(0, centre - 1):centre + 2].min() / gap.max())
                elif phone in ("AA", "A"):
                    opened.append(gap[centre] / gap.max())
    assert closed and max(closed) < 0.15
    assert opened and np.median(opened) > 0.4


def test_splits_are_disjoint_by_voice(corpus):
    splits = json.loads((corpus / mf.SPLITS).read_text())
    sets = [set(splits[name]) for name in mf.SPLIT_NAMES]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert set().union(*sets) == set(VOICES)
    for record in records_of(corpus):
        assert record["voice"] in splits[record["split"]]


def test_catalogue_has_enough_voices_and_splits_cover_them():
    voices = catalogue(("en", "es"))
    assert sum(v.language == "en" for v in voices) >= 12 and sum(v.language == "es" for v in voices) >= 4
    assert {v.engine for v in voices} == {"espeak", "festival", "flite"}
    splits = assign_splits(voices, seed=3)
    assert all(splits[name] for name in mf.SPLIT_NAMES)
    assert sorted(sum(splits.values(), [])) == sorted(v.id for v in voices)


def test_plan_is_deterministic_by_seed_and_extends_as_a_prefix(tmp_path):
    voices = catalogue(("en", "es"), per_language=2)
    splits = assign_splits(voices, 0)
    short = plan(BuildOptions(tmp_path, 0.5), voices, splits)
    long = plan(BuildOptions(tmp_path, 1.0), voices, splits)
    other = plan(BuildOptions(tmp_path, 0.5, seed=1), voices, splits)
    assert long[: len(short)] == short and len(long) > len(short)
    assert [u.text for u in other] != [u.text for u in short]


def test_killed_build_resumes_to_a_consistent_manifest(tmp_path):
    root = tmp_path / "killed"
    args = ["--out", str(root), "--minutes", "1.5", "--languages", "en",
            "--voices", "festival:kal_diphone,flite:awb", "--workers", "1", "--quiet"]
    command = [sys.executable, "-m", "training.cli", "corpus", *args]
    process = subprocess.Popen(command, cwd=REPO, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(mf.read_manifest(root)) < 3 and process.poll() is None:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    before = mf.read_manifest(root)
    assert len(before) >= 3
    with open(root / mf.MANIFEST, "a", encoding="utf-8") as handle:
        handle.write('{"id": "u999999-en", "language": "en", "voi')  # a line torn by the kill
    summary = build(BuildOptions(root, 1.5, ("en",), voices=("festival:kal_diphone", "flite:awb"),
                                 workers=1, progress=False))
    records = records_of(root)
    ids = [r["id"] for r in records]
    voices = catalogue(("en",), ids=("festival:kal_diphone", "flite:awb"))
    planned = [u.id for u in plan(BuildOptions(root, 1.5, ("en",)), voices, assign_splits(voices, 0))]
    assert ids == sorted(set(ids)) == planned
    assert summary["built"] == len(planned) - len(before) and summary["built"] > 0
    assert all(mf.record_is_complete(root, r) for r in records)
    assert {r["id"]: r["text"] for r in before} == {r["id"]: r["text"] for r in records if r["id"] in
                                                    {b["id"] for b in before}}


def test_a_resume_with_other_options_is_refused(corpus, capsys):
    code = corpus_main(["--out", str(corpus), "--minutes", "0.4", "--voices", ",".join(VOICES), "--seed", "7"])
    assert code == 1
    assert "seed" in capsys.readouterr().err


def test_render_writes_face_frames_and_mouth_crops(tmp_path):
    root = tmp_path / "rendered"
    assert corpus_main(["--out", str(root), "--minutes", "0.02", "--languages", "en", "--voices", "espeak:en-us",
                        "--workers", "1", "--render", "--quiet"]) == 0
    record = records_of(root)[0]
    assert record["frames"] == f"frames/{record['id']}.npz"
    with np.load(root / record["frames"]) as frames:
        count = int(np.ceil(record["duration_s"] * 25 - 1e-9))
        assert float(frames["fps"]) == 25.0
        assert frames["face"].shape == (count, 256, 256, 3) and frames["face"].dtype == np.uint8
        assert frames["mouth"].shape == (count, 96, 96, 3) and frames["mouth"].dtype == np.uint8
        with np.load(root / record["labels"]) as labels:
            gap = inner_lip_gap(labels["landmarks3d"])[::4][:count]
        # The mouth crop changes most where the lips move: open frames differ from the most closed one.
        mouth = frames["mouth"].astype(np.float32)
        change = np.abs(mouth - mouth[int(np.argmin(gap))]).mean(axis=(1, 2, 3))
        assert np.corrcoef(change, gap)[0, 1] > 0.5


def test_report_counts_every_phone_and_writes_plots(corpus, tmp_path):
    assert corpus_main(["report", str(corpus), "--out", str(tmp_path / "report")]) == 0
    summary = json.loads((tmp_path / "report" / "report.json").read_text())
    assert summary["utterances"] == len(records_of(corpus))
    assert sum(summary["minutes"]["split"].values()) == pytest.approx(summary["hours"] * 60, rel=1e-6)
    assert summary["phone_coverage"]["en"]["phones"]["M"]["count"] > 0
    for name in ("minutes_per_voice.png", "phone_coverage.png"):
        assert (tmp_path / "report" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_options_are_clear_errors(tmp_path, capsys):
    assert corpus_main(["--out", str(tmp_path / "c"), "--minutes", "1", "--languages", "fr"]) == 1
    assert "unsupported language 'fr'" in capsys.readouterr().err
    assert corpus_main(["--out", str(tmp_path / "c"), "--minutes", "1", "--voices", "espeak:xx"]) == 1
    assert "unknown voice(s) espeak:xx" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()
