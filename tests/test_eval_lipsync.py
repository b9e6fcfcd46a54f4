"""`mouthpiece-train eval-lipsync`: copy-input, a generator and the real frames in Table 4.1's shape."""
from __future__ import annotations

import dataclasses
import json

import numpy as np

from test_faces_set import tiny_corpus
from training.eval_lipsync import COPY, REAL, main
from training.faces_set import FacesArgs, build


def test_table_has_each_row_and_measure(tmp_path, tiny_expert):
    import torch

    from backend import checkpoints
    from training.families.lipsync_gen import FAMILY, LipsyncGenConfig

    tiny_corpus(tmp_path / "corpus")
    build(FacesArgs([str(tmp_path / "corpus")], str(tmp_path / "faces"), identities=2, full_faces=True))
    manifest = tmp_path / "faces" / "manifest.jsonl"
    lines = [json.loads(line) for line in manifest.read_text().splitlines()]
    for line in lines:
        line["split"] = "test"  # three held-out clips
    manifest.write_text("".join(json.dumps(line) + "\n" for line in lines))
    torch.manual_seed(0)
    config = LipsyncGenConfig(width=0.0625, references=3, expert_width=0.125, expert_embedding=16)
    tensors = {k: v.detach().numpy() for k, v in FAMILY.build(config).eval().state_dict().items()}
    checkpoints.save(tmp_path / "gen", checkpoints.Checkpoint(tensors, FAMILY.name, {"model": dataclasses.asdict(config)}))
    out = tmp_path / "report"
    assert main(["--faces", str(tmp_path / "faces"), "--generators", f"tiny={tmp_path / 'gen'}",
                 "--expert", str(tiny_expert), "--out", str(out)]) == 0
    rows = json.loads((out / "lipsync_eval.json").read_text())["rows"]
    assert set(rows) == {COPY, REAL, "tiny"} and rows["tiny"]["clips"] == 3
    assert np.isfinite(rows["tiny"]["psnr"]) and 0 < rows["tiny"]["ssim"] <= 1
    assert np.isfinite(rows[COPY]["dub_expert"]) and rows[REAL]["psnr"] is None
    assert "| tiny | 3 |" in (out / "README.md").read_text()
