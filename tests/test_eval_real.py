"""`mouthpiece-train eval` on imported real speech: sync classes per phone set, per-language pooling,
the lazy and ground-truth rows' sync scores, and the report's new tables."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHIPPED_GRU = REPO / "assets" / "models" / "cnn_gru" / "model"
UTTERANCES = {"en": "My mother bought a big map and a bamboo lamp.",
              "es": "Mi madre compra mapas para mamá, papá y Pablo."}


def write_utterance(root: Path, language: str, text: str) -> dict:
    """A synthesized utterance with labels from its own timeline, as a real-speech import writes it."""
    import soundfile

    from backend.articulation import ArticulationStyle
    from backend.audio import resample
    from backend.text.synthesis import synthesize
    from training.corpus.labels import make_labels, save_npz

    speech = synthesize(text, language=language)
    audio = resample(speech.audio, speech.sample_rate, 16000)
    duration = len(audio) / 16000
    uid = f"reader_{language}-001"
    (root / "audio").mkdir(parents=True, exist_ok=True)
    (root / "labels").mkdir(parents=True, exist_ok=True)
    soundfile.write(root / "audio" / f"{uid}.wav", audio, 16000, subtype="PCM_16")
    save_npz(root / "labels" / f"{uid}.npz", make_labels(speech.timeline, duration, ArticulationStyle()))
    return {"id": uid, "language": language, "voice": f"test:reader_{language}", "engine": "real",
            "split": "test", "text": text, "duration_s": round(duration, 4), "sample_rate": 16000,
            "audio": f"audio/{uid}.wav", "labels": f"labels/{uid}.npz", "frames": None,
            "speaker": f"reader_{language}", "source": "test", "license": "public-domain",
            "transcript_source": "given", "aligner": "pocketsphinx" if language == "en" else "dtw",
            "confidence": 1.0}


@pytest.fixture(scope="module")
def real_corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("realspeech")
    records = [write_utterance(root, language, text) for language, text in UTTERANCES.items()]
    (root / "manifest.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                                         encoding="utf-8")
    return root


def lazy_predictors():
    from training.evaluate import LAZY, Predictors

    return Predictors(fps=30.0, by_name={LAZY: lambda audio, wav, text, n: np.zeros((n, 46), np.float32)})


def test_sync_phone_classes_per_phone_set():
    from training.eval_metrics import sync_phone_classes

    def split(phone_set, labels):
        classes = sync_phone_classes(phone_set)
        return ([label for label in labels if classes.is_bilabial(label)],
                [label for label in labels if classes.is_open_vowel(label)])

    arpabet = ["P", "B", "M", "AA1", "AE", "AH0", "AO", "AW", "AY", "EH", "IY", "F", "SIL", "N"]
    assert split("arpabet", arpabet) == (["P", "B", "M"], ["AA1", "AE", "AH0", "AO", "AW", "AY"])
    spanish = ["P", "B", "M", "A", "E", "O", "I", "U", "F", "NY", "SIL"]
    assert split("spanish", spanish) == (["P", "B", "M"], ["A", "E", "O"])
    espeak = ["p", "b", "m", "'p", "pf", "A:", "'a", "&", "E", "e:", "o", "O", "V", "@", "aI", "i:", "u", "3:",
              "f", "n", "SIL"]
    assert split("espeak", espeak) == (["p", "b", "m", "'p"],
                                       ["A:", "'a", "&", "E", "e:", "o", "O", "V", "@", "aI"])
    with pytest.raises(ValueError):
        sync_phone_classes("klingon")


def test_lazy_and_ground_truth_sync_per_language(real_corpus):
    from backend import headmodel
    from training.eval_corpus import TRUTH, evaluate_items, select_items
    from training.evaluate import LAZY

    items, available = select_items([real_corpus], "test", 150)
    assert available == 2 and len(items) == 2
    result = evaluate_items(items, lazy_predictors(), headmodel.load(), "test")
    lazy, truth = result.everything[LAZY], result.everything[TRUTH]
    assert lazy["bilabials"] > 0 and lazy["open_vowels"] > 0
    assert (lazy["closure_rate"], lazy["open_rate"], lazy["sync_score"]) == (1.0, 0.0, 0.5)
    assert truth["sync_score"] > 0.8 and truth["weight_mse"] == 0.0
    assert set(result.by_language) == {"en", "es"}
    for language in ("en", "es"):
        assert result.by_language[language][LAZY]["utterances"] == 1
        assert result.by_language[language][TRUTH]["sync_score"] > 0.8
    assert result.label_sources == {"dtw, given transcript": 1, "pocketsphinx, given transcript": 1}


def other_language_manifest(folder: Path) -> Path:
    """A real-speech manifest.tsv with one transcribed Spanish clip (espeak-ng speech with a noise floor)."""
    import soundfile

    from backend.text.synthesis import synthesize

    text = "Pablo me da un mapa bonito."
    speech = synthesize(text, "es")
    audio = speech.audio + np.random.default_rng(0).normal(0, 3e-4, speech.audio.shape).astype(np.float32)
    (folder / "src" / "ana").mkdir(parents=True)
    soundfile.write(folder / "src" / "ana" / "a.wav", audio, speech.sample_rate)
    (folder / "manifest.tsv").write_text("path\tsource\tspeaker\tlanguage\tseconds\ttranscript\tlicense\n"
                                         f"src/ana/a.wav\tsrc\tana\tes\t2.0\t{text}\tCC0-1.0\n", "utf-8")
    return folder / "manifest.tsv"


def test_eval_writes_real_speech_tables(real_corpus, tmp_path, tiny_expert):
    from training.evaluate import main

    if not SHIPPED_GRU.with_suffix(".json").is_file():
        pytest.skip(f"no shipped checkpoint at {SHIPPED_GRU}.json")
    librivox = tmp_path / "librivox"
    librivox.mkdir()
    missing = str(tmp_path / "missing" / "model")
    out = tmp_path / "eval"
    other = other_language_manifest(tmp_path / "other")
    code = main(["--data", str(real_corpus), "--real", str(real_corpus), "--no-phonemes", "--out", str(out),
                 "--gru", str(SHIPPED_GRU), "--causal", missing, "--lstm", missing, "--static", missing,
                 "--librivox", str(librivox), "--max-items", "6", "--languages-manifest", str(other),
                 "--sync-expert", str(tiny_expert)])
    assert code == 0
    report = (out / "cnn_gru_eval.md").read_text("utf-8")
    for heading in ("## Held-out voices, all languages", "## Held-out voices, by language",
                    "## Real speech, held-out speakers", "### By language", "## Real speech (LibriVox"):
        assert heading in report
    assert "| es | CNN+GRU" in report and "| en | Lazy (closed mouth)" in report
    assert "Expert sync" in report
    results = json.loads((out / "cnn_gru_eval.json").read_text("utf-8"))
    shipped = json.loads(SHIPPED_GRU.with_suffix(".json").read_text("utf-8"))["config"]["model"]
    assert results["models"]["CNN+GRU"]["lookahead_ms"] == pytest.approx(1000 * shipped["delay_frames"] / shipped["fps"])
    assert "## Real speech in other languages" in report and results["other_languages"]["languages"] == {"es": 1}
    assert {"Phoneme path (DTW alignment)", "CNN+GRU", "Lazy (closed mouth)"} <= set(results["other_languages"]["all"])
    assert set(results["real_corpus"]["by_language"]) == {"en", "es"}
    assert "CNN+GRU" in results["real_corpus"]["all"] and results["real_speech"] == {}
    assert all(row["expert_sync"] is not None for row in results["held_out_all"].values())
