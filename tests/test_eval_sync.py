"""`mouthpiece-train eval-sync`: every model and the baseline rows scored by the expert into a report."""
from __future__ import annotations

import json

import numpy as np

from backend.api import AnimateOptions, animate_text
from backend.post import PostOptions
from training.eval_sync import main


def spoken_corpus(root):
    (root / "labels").mkdir(parents=True)
    lines = []
    for number, text in enumerate(("Bob made a map of the moon.", "We saw five fat fish.")):
        uid = f"u{number}"
        anim = animate_text(text, AnimateOptions(fps=100.0, post=PostOptions(blinks=False)),
                            speech_out=root / f"{uid}.wav")
        np.savez(root / "labels" / f"{uid}.npz", weights=anim.values, fps=np.float32(100.0))
        lines.append({"id": uid, "language": "en", "voice": "espeak:en-us", "engine": "espeak", "split": "test",
                      "text": text, "duration_s": anim.duration_s, "sample_rate": 16000, "audio": f"{uid}.wav",
                      "labels": f"labels/{uid}.npz", "frames": None})
    (root / "manifest.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))


def test_report_has_every_row_for_held_out_takes(tiny_expert, tmp_path):
    spoken_corpus(tmp_path / "corpus")
    out = tmp_path / "report"
    assert main(["--data", str(tmp_path / "corpus"), "--models", "phonemes", "--librivox", "",
                 "--expert", str(tiny_expert), "--out", str(out)]) == 0
    results = json.loads((out / "sync_eval.json").read_text())
    rows = results["held_out"]
    assert set(rows) == {"phonemes", "reference labels", "reference labels, 5 frames late", "closed mouth"}
    for row in rows.values():
        assert row["takes"] == 2 and np.isfinite(row["confidence"]) and np.isfinite(row["expert"])
    readme = (out / "README.md").read_text()
    assert "| phonemes | 2 |" in readme and "closed mouth" in readme
